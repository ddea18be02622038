/**
 * Access, on real gateways (HTTP, LevelDB, a real Anvil):
 *
 * - missing, malformed, unknown, wrong-secret and revoked keys get 401 on every
 *   /v1 route, and a key of the wrong role 403, before any input is looked at;
 * - nobody reads outside their scope through any endpoint: for each key (county
 *   regulators, submitters, auditors bound to a dataset or an organisation), every
 *   read endpoint is probed with inputs aimed at the events it must not see (their
 *   indices, orgs, divisions, datasets, subjects, alerts, audits) and no answer
 *   carries anything of those events; "not yours" answers exactly like "absent";
 * - API keys are compared in constant time: every path through
 *   KeyStore.authenticate — valid, wrong secret, unknown id, malformed, revoked —
 *   makes exactly one timingSafeEqual over two 32-byte SHA-256 digests (shown
 *   structurally, without timing measurements);
 * - neither an API key, nor the anchoring key, nor the subject secret, nor a clear
 *   subject id ever appears in the gateway's output at LOG_LEVEL=trace, through
 *   key management, errors, citizens' reports and a chain outage;
 * - requests are rate-limited per key (429 with Retry-After; other keys unaffected);
 * - every answer, errors included, carries helmet's security headers; no CORS grant.
 */
import { expect } from "chai";
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { makeEvent, makeTempDir, removeDir, request, ROOT, sleep, startTestGateway, stopAndRemove, waitFor, waitForReceipt, type ApiResponse, type TestGateway } from "../support/gateway-harness";
import { externalChainEnv, startTestChain, type TestChain } from "../support/chain-harness";
import { spawnGateway, type ChildGateway } from "../support/child-gateway";

type Role = "admin" | "submitter" | "auditor" | "regulator" | "citizen-portal";

/** Every /v1 route, the roles allowed to call it, and a request that passes authorisation without changing anything. */
const ROUTES: { method: string; path: string; roles: Role[]; body?: unknown }[] = [
  { method: "POST", path: "/v1/events", roles: ["submitter"], body: { not: "an event" } },
  { method: "GET", path: "/v1/events", roles: ["admin", "auditor", "regulator", "submitter"] },
  { method: "GET", path: "/v1/events/0", roles: ["admin", "auditor", "regulator", "submitter"] },
  { method: "GET", path: "/v1/receipts/0", roles: ["admin", "auditor", "regulator", "submitter"] },
  { method: "POST", path: "/v1/verify", roles: ["admin", "auditor", "regulator", "submitter", "citizen-portal"], body: { not: "a receipt" } },
  { method: "GET", path: "/v1/checkpoints", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/checkpoints/latest", roles: ["admin", "auditor", "regulator", "submitter"] },
  { method: "GET", path: "/v1/stats", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/stats/anchoring", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/subjects/accesses?subject=nobody", roles: ["admin", "citizen-portal"] },
  { method: "POST", path: "/v1/subjects/accesses", roles: ["admin", "citizen-portal"], body: { subject: "nobody" } },
  { method: "GET", path: "/v1/orgs", roles: ["admin", "auditor", "regulator", "submitter"] },
  { method: "PUT", path: "/v1/orgs", roles: ["admin"], body: { unknown: 1 } },
  { method: "DELETE", path: "/v1/orgs/999999999999:nobody", roles: ["admin"] },
  { method: "GET", path: "/v1/status", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/keys", roles: ["admin"] },
  { method: "POST", path: "/v1/keys", roles: ["admin"], body: { unknown: 1 } },
  { method: "DELETE", path: "/v1/keys/000000000000", roles: ["admin"] },
  { method: "GET", path: "/v1/alerts", roles: ["admin", "auditor", "regulator", "submitter"] },
  { method: "POST", path: "/v1/alerts/ffffffffffffffff/ack", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/policy", roles: ["admin", "auditor", "regulator"] },
  { method: "POST", path: "/v1/audit", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/audit/latest", roles: ["admin", "auditor", "regulator"] },
  { method: "GET", path: "/v1/audit/00000000-0000-0000-0000-000000000000", roles: ["admin", "auditor", "regulator"] },
];

function expectError(answer: ApiResponse, status: number, code: string, context: string): void {
  expect(answer.status, `${context}: ${answer.text.slice(0, 300)}`).to.equal(status);
  expect(answer.headers.get("content-type") ?? "", context).to.match(/^application\/json/);
  expect(answer.body?.error?.code, `${context}: ${answer.text.slice(0, 300)}`).to.equal(code);
}

describe("security: access", function () {
  this.timeout(240_000);

  let chain: TestChain;
  before(async () => {
    chain = await startTestChain();
  });
  after(async () => {
    await chain?.stop();
  });

  describe("keys, roles and scopes on one gateway", () => {
    let g: TestGateway;
    const keys = {} as Record<string, { key: string; id: string; role: Role }>;
    /** Stored events by name, with the markers (requestId, purpose) that must not leak. */
    const events = {} as Record<string, { index: number; requestId: string; purpose: string }>;
    let receipts: Record<string, any> = {};

    before(async () => {
      const log = await chain.registerLog();
      g = await startTestGateway({ env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), POLICY_FILE: path.join(ROOT, "config", "policy.example.json") } });
      const demo = g.keys;
      Object.assign(keys, {
        admin: { key: demo.admin.key, id: demo.admin.record.id, role: "admin" },
        submitter: { key: demo.submitter.key, id: demo.submitter.record.id, role: "submitter" },
        auditor: { key: demo.auditor.key, id: demo.auditor.record.id, role: "auditor" },
        regulatorA: { key: demo.regulator.key, id: demo.regulator.record.id, role: "regulator" },
      });
      const create = async (name: string, body: Record<string, unknown>) => {
        const answer = await g.api("POST", "/v1/keys", { key: demo.admin.key, json: { name, ...body } });
        expect(answer.status, answer.text).to.equal(201);
        keys[name] = { key: answer.body.key, id: answer.body.record.id, role: body.role as Role };
      };
      await create("submitter2", { role: "submitter", jurisdiction: "330102000000" });
      await create("submitterB", { role: "submitter", jurisdiction: "330103000000" });
      await create("regulatorB", { role: "regulator", jurisdiction: "330103000000" });
      await create("auditorHealth", { role: "auditor", datasets: ["health-records"] });
      await create("auditorHospital", { role: "auditor", orgs: ["330103002002:hospital"] });
      await create("citizen", { role: "citizen-portal" });

      const submit = async (name: string, submitter: string, overrides: Parameters<typeof makeEvent>[0]) => {
        const purpose = `purpose of ${name}${overrides?.purpose ?? ""}`;
        const event = makeEvent({ ...overrides, purpose, requestId: `acc-${name}-${process.pid}` });
        const answer = await g.api("POST", "/v1/events", { key: keys[submitter]!.key, json: event });
        expect(answer.status, answer.text).to.equal(201);
        events[name] = { index: answer.body.index, requestId: event.requestId, purpose };
      };
      await submit("a1", "submitter", { subject: "person-a" });
      await submit("a2", "submitter", { actor: { org: "330102003004:health" }, dataset: "health-records", type: "use", purpose: " for marketing", subject: "person-a" });
      await submit("ab", "submitter", { type: "share", recipient: { org: "330103002002:hospital" }, subject: "person-a" });
      await submit("a3", "submitter2", { actor: { org: "330102003005:police" }, dataset: "traffic-records", subject: "person-c" });
      await submit("b1", "submitterB", { actor: { org: "330103001001:health" }, dataset: "health-records", type: "use", purpose: " for marketing", subject: "person-b" });
      await submit("b2", "submitterB", { actor: { org: "330103001001:civil-affairs" }, dataset: "records-b-only", subject: "person-b" });
      for (const name of Object.keys(events)) receipts[name] = await waitForReceipt(g.url, keys.admin!.key, events[name]!.index);
      await waitFor("every event indexed, with its alerts", async () => {
        const status = (await g.api("GET", "/v1/status", { key: keys.admin!.key })).body;
        const alerts = (await g.api("GET", "/v1/alerts?kind=negative-list", { key: keys.admin!.key })).body.alerts;
        return status.indexedEvents === 6 && alerts.length >= 2 ? true : undefined;
      });
    });

    after(async () => {
      await stopAndRemove(g);
    });

    it("answers 401 to a missing, malformed, unknown, wrong-secret or revoked key on every route", async () => {
      const revoked = await g.api("POST", "/v1/keys", { key: keys.admin!.key, json: { name: "to revoke", role: "admin" } });
      expect((await g.api("DELETE", `/v1/keys/${revoked.body.record.id}`, { key: keys.admin!.key })).status).to.equal(200);
      const admin = keys.admin!.key;
      const [, id, secret] = /^pl_([0-9a-f]{12})_(.+)$/.exec(admin)!;
      const flipped = secret!.slice(0, -1) + (secret!.endsWith("A") ? "B" : "A");
      const headers: [string, Record<string, string>][] = [
        ["no Authorization", {}],
        ["empty", { authorization: "" }],
        ["Basic", { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString("base64")}` }],
        ["Bearer alone", { authorization: "Bearer" }],
        ["Bearer and a space", { authorization: "Bearer " }],
        ["two keys", { authorization: `Bearer ${admin} ${admin}` }],
        ["lower-case scheme", { authorization: `bearer ${admin}` }],
        ["not a key", { authorization: "Bearer hello" }],
        ["a very long value", { authorization: `Bearer ${"x".repeat(8_000)}` }],
        ["unknown id", { authorization: `Bearer pl_000000000000_${secret}` }],
        ["wrong secret (one character)", { authorization: `Bearer pl_${id}_${flipped}` }],
        ["truncated key", { authorization: `Bearer ${admin.slice(0, -1)}` }],
        ["key with a suffix", { authorization: `Bearer ${admin}x` }],
        ["revoked key", { authorization: `Bearer ${revoked.body.key}` }],
      ];
      for (const route of ROUTES) {
        for (const [name, h] of headers) {
          const answer = await request(g.url, route.method, route.path, { headers: h, json: route.body });
          expectError(answer, 401, "UNAUTHENTICATED", `${route.method} ${route.path} with ${name}`);
          if (name === "revoked key") expect(answer.body.error.message).to.match(/revoked/);
        }
      }
      // An unknown id and a wrong secret are answered alike: no oracle for which key ids exist.
      const unknown = await request(g.url, "GET", "/v1/status", { headers: headers.find(([n]) => n === "unknown id")![1] });
      const wrong = await request(g.url, "GET", "/v1/status", { headers: headers.find(([n]) => n.startsWith("wrong secret"))![1] });
      expect(unknown.body).to.deep.equal(wrong.body);
    });

    it("answers 403 to a key of the wrong role on every route, before looking at the input", async () => {
      const byRole: Record<Role, string> = { admin: keys.admin!.key, submitter: keys.submitter!.key, auditor: keys.auditor!.key, regulator: keys.regulatorA!.key, "citizen-portal": keys.citizen!.key };
      for (const route of ROUTES) {
        for (const role of Object.keys(byRole) as Role[]) {
          const answer = await request(g.url, route.method, route.path, { key: byRole[role], json: route.body });
          const context = `${route.method} ${route.path} as ${role}`;
          if (route.roles.includes(role)) expect(answer.status, `${context}: ${answer.text.slice(0, 200)}`).to.not.be.oneOf([401, 403]);
          else expectError(answer, 403, "FORBIDDEN", context);
        }
      }
    });

    /** Who must see which events (computed here from the seeded world, not from the server). */
    const VISIBLE: Record<string, string[]> = {
      regulatorA: ["a1", "a2", "ab", "a3"],
      regulatorB: ["b1", "b2", "ab"],
      submitter: ["a1", "a2", "ab"],
      submitter2: ["a3"],
      submitterB: ["b1", "b2"],
      auditorHealth: ["a2", "b1"],
      auditorHospital: ["ab"],
    };

    for (const [holder, visible] of Object.entries(VISIBLE)) {
      it(`shows ${holder} only its events through every read endpoint (${visible.join(", ")})`, async () => {
        const key = keys[holder]!.key;
        const hidden = Object.keys(events).filter((name) => !visible.includes(name));
        const answers: { probe: string; answer: ApiResponse }[] = [];
        const probe = async (method: string, route: string, json?: unknown) => {
          const answer = await request(g.url, method, route, { key, json });
          expect(answer.status, `${method} ${route}: ${answer.text.slice(0, 300)}`).to.be.below(500);
          answers.push({ probe: `${method} ${route}`, answer });
          return answer;
        };

        // Each event by index: 200 exactly when visible; "not yours" answered like "absent".
        const absent = await probe("GET", "/v1/events/999999");
        for (const [name, e] of Object.entries(events)) {
          const one = await probe("GET", `/v1/events/${e.index}`);
          const receipt = await probe("GET", `/v1/receipts/${e.index}`);
          if (visible.includes(name)) {
            expect(one.status, `${name}: ${one.text.slice(0, 200)}`).to.equal(200);
            expect(receipt.status).to.equal(200);
          } else {
            expect(one.status, `${name} must be hidden`).to.equal(absent.status === 403 ? 403 : 404);
            expect(one.body.error.code).to.equal(absent.body.error.code);
            expect(one.body.error.message.replace(String(e.index), "N")).to.equal(absent.body.error.message.replace("999999", "N"));
            expect(receipt.status).to.equal(one.status);
          }
        }

        // Queries aimed at the hidden events: their orgs, divisions, datasets, subjects, recipients, cursors.
        const listed = await probe("GET", "/v1/events?limit=500");
        if (listed.status === 200) {
          expect(listed.body.events.map((r: any) => r.index).sort()).to.deep.equal(visible.map((n) => events[n]!.index).sort());
        }
        for (const query of [
          "org=330103001001:civil-affairs", "org=330103001001:health", "org=330103001001:health&subtree=true", "division=330103000000", "division=330103001001",
          "org=330102003004:civil-affairs&subtree=true", "division=330102000000", "division=330100000000", "dataset=records-b-only", "dataset=health-records",
          "dataset=traffic-records", "subject=person-a", "subject=person-b", "subject=person-c", "recipient=330103002002:hospital", "type=use", "type=share",
          `cursor=${Object.keys(events).length}`, "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
        ]) {
          await probe("GET", `/v1/events?${query}`);
        }
        await probe("GET", "/v1/stats");
        await probe("GET", "/v1/stats?division=330103000000");
        await probe("GET", "/v1/stats?division=330100000000");
        await probe("GET", "/v1/stats/anchoring");
        await probe("GET", "/v1/checkpoints");
        await probe("GET", "/v1/checkpoints/latest");
        await probe("GET", "/v1/status");
        await probe("GET", "/v1/policy");
        await probe("GET", "/v1/subjects/accesses?subject=person-b");
        await probe("POST", "/v1/subjects/accesses", { subject: "person-a" });

        // Alerts: listing, by event, acknowledging one about a hidden event, and the flags on visible events.
        const alerts = await probe("GET", "/v1/alerts?limit=500");
        const allAlerts = (await request(g.url, "GET", "/v1/alerts?limit=500", { key: keys.admin!.key })).body.alerts as any[];
        if (alerts.status === 200) {
          const visibleIndices = new Set(visible.map((n) => events[n]!.index));
          for (const alert of alerts.body.alerts) if (alert.eventIndex !== undefined) expect(visibleIndices.has(alert.eventIndex), `alert ${alert.id} about event ${alert.eventIndex}`).to.equal(true);
        }
        for (const name of hidden) {
          await probe("GET", `/v1/alerts?eventIndex=${events[name]!.index}`);
          for (const alert of allAlerts.filter((a) => a.eventIndex === events[name]!.index)) {
            const ack = await probe("POST", `/v1/alerts/${alert.id}/ack`);
            expect(ack.status, `ack of a hidden alert: ${ack.text.slice(0, 200)}`).to.be.oneOf([403, 404]);
          }
        }

        // A full audit, and verifying receipts of hidden events that someone else handed over.
        const audit = await probe("POST", "/v1/audit");
        if (audit.status === 202) {
          await waitFor("the audit", async () => ((await probe("GET", `/v1/audit/${audit.body.job.id}`)).body.job.state === "running" ? undefined : true), 60_000, 200);
          await probe("GET", "/v1/audit/latest");
        }
        for (const name of hidden) await probe("POST", "/v1/verify", receipts[name]);

        // Nothing of a hidden event in any answer.
        for (const name of hidden) {
          const { requestId, purpose } = events[name]!;
          for (const { probe: what, answer } of answers) {
            expect(answer.text.includes(requestId) || answer.text.includes(purpose), `${what} shows ${holder} something of ${name}: ${answer.text.slice(0, 500)}`).to.equal(false);
          }
        }
        // The anchoring alert and the nothing-leaks check are not vacuous: the admin sees every marker.
        const everything = await request(g.url, "GET", "/v1/events?limit=500", { key: keys.admin!.key });
        for (const name of hidden) expect(everything.text).to.include(events[name]!.requestId);
      });
    }

    it("refuses a submitter recording events for another jurisdiction (403), even inside a batch", async () => {
      const size = g.gateway.log.size;
      const answer = await g.api("POST", "/v1/events", { key: keys.submitter!.key, json: { events: [makeEvent(), makeEvent({ actor: { org: "330103001001:health" } })] } });
      expectError(answer, 403, "FORBIDDEN", "batch with a foreign actor");
      expect(g.gateway.log.size).to.equal(size);
    });

    it("compares keys in constant time: one timingSafeEqual over two 32-byte digests on every path", async () => {
      const calls: { a: number; b: number }[] = [];
      const original = crypto.timingSafeEqual;
      (crypto as { timingSafeEqual: typeof original }).timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
        calls.push({ a: a.byteLength, b: b.byteLength });
        return original(a, b);
      };
      const admin = keys.admin!.key;
      const [, id, secret] = /^pl_([0-9a-f]{12})_(.+)$/.exec(admin)!;
      const revoked = await g.api("POST", "/v1/keys", { key: admin, json: { name: "revoked for timing", role: "auditor" } });
      await g.api("DELETE", `/v1/keys/${revoked.body.record.id}`, { key: admin });
      const presented: [string, string][] = [
        ["valid", admin],
        ["wrong last character", `pl_${id}_${secret!.slice(0, -1)}${secret!.endsWith("A") ? "B" : "A"}`],
        ["wrong first character", `pl_${id}_${secret!.startsWith("A") ? "B" : "A"}${secret!.slice(1)}`],
        ["unknown id", `pl_ffffffffffff_${secret}`],
        ["malformed", "not-a-key"],
        ["empty", ""],
        ["very long", "x".repeat(100_000)],
        ["revoked", revoked.body.key],
      ];
      try {
        for (const [name, value] of presented) {
          calls.length = 0;
          let outcome = "accepted";
          try {
            g.gateway.keys.authenticate(value);
          } catch (error) {
            outcome = (error as { code?: string }).code ?? String(error);
          }
          expect(calls, `${name}: one comparison of two SHA-256 digests`).to.deep.equal([{ a: 32, b: 32 }]);
          expect(outcome, name).to.equal(name === "valid" ? "accepted" : "UNAUTHENTICATED");
        }
      } finally {
        (crypto as { timingSafeEqual: typeof original }).timingSafeEqual = original;
      }
      // Only digests are stored: neither database holds a key in the clear.
      for await (const [, value] of g.gateway.stores.db.iterator()) expect(value).to.not.include(secret);
      for await (const value of g.gateway.stores.records.values()) expect(Buffer.from(value).toString("utf8")).to.not.include(secret);
      // And no answer hands a stored digest out.
      const listedKeys = await g.api("GET", "/v1/keys", { key: admin });
      expect(listedKeys.text).to.not.match(/"hash"/);
      expect(listedKeys.text).to.not.include(crypto.createHash("sha256").update(admin).digest("hex"));
    });

    it("sends helmet's security headers on every answer, errors included, and grants no CORS", async () => {
      const probes: [string, string, Record<string, string>, string?][] = [
        ["GET", "/healthz", {}],
        ["GET", "/v1/openapi.json", {}],
        ["GET", "/v1/status", { authorization: `Bearer ${keys.admin!.key}` }],
        ["GET", "/v1/status", {}],
        ["GET", "/v1/events/0", { authorization: `Bearer ${keys.citizen!.key}` }],
        ["GET", "/v1/events/99999", { authorization: `Bearer ${keys.admin!.key}` }],
        ["GET", "/nowhere", {}],
        ["POST", "/v1/events", { authorization: `Bearer ${keys.submitter!.key}`, "content-type": "application/json" }, "{bad json"],
        ["POST", "/v1/events", { authorization: `Bearer ${keys.submitter!.key}`, "content-type": "text/plain" }, "x"],
        ["OPTIONS", "/v1/events", { origin: "https://evil.example", "access-control-request-method": "POST" }],
        ["GET", "/v1/status", { authorization: `Bearer ${keys.admin!.key}`, origin: "https://evil.example" }],
      ];
      for (const [method, route, headers, body] of probes) {
        const answer = await request(g.url, method, route, { headers, body });
        const h = answer.headers;
        const context = `${method} ${route} (${answer.status})`;
        expect(h.get("content-security-policy"), context).to.be.a("string").and.match(/default-src/);
        expect(h.get("x-content-type-options"), context).to.equal("nosniff");
        expect(h.get("x-frame-options"), context).to.equal("SAMEORIGIN");
        expect(h.get("strict-transport-security"), context).to.match(/max-age=\d+/);
        expect(h.get("referrer-policy"), context).to.equal("no-referrer");
        expect(h.get("cross-origin-opener-policy"), context).to.equal("same-origin");
        expect(h.get("cross-origin-resource-policy"), context).to.equal("same-origin");
        expect(h.get("x-permitted-cross-domain-policies"), context).to.equal("none");
        expect(h.get("x-powered-by"), context).to.equal(null);
        expect(h.get("access-control-allow-origin"), context).to.equal(null);
        expect(h.get("access-control-allow-credentials"), context).to.equal(null);
      }
    });
  });

  describe("rate limiting", () => {
    let g: TestGateway;
    before(async () => {
      const log = await chain.registerLog();
      g = await startTestGateway({ env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), RATE_LIMIT_PER_SECOND: "5", RATE_LIMIT_BURST: "10" } });
    });
    after(async () => {
      await stopAndRemove(g);
    });

    it("answers 429 with Retry-After to one key past its burst, while other keys go on, and lets it in again later", async () => {
      const a = g.keys.auditor.key;
      const b = g.keys.admin.key;
      const answers = await Promise.all(Array.from({ length: 40 }, () => g.api("GET", "/v1/status", { key: a })));
      const limited = answers.filter((x) => x.status === 429);
      const passed = answers.filter((x) => x.status === 200);
      expect(passed.length, "the burst passes").to.be.at.least(10);
      expect(limited.length, "beyond the burst (and what refilled meanwhile), 429").to.be.at.least(15);
      expect(passed.length + limited.length).to.equal(40);
      for (const x of limited) {
        expectError(x, 429, "RATE_LIMITED", "over the limit");
        expect(Number(x.headers.get("retry-after")), "Retry-After in whole seconds").to.be.at.least(1);
      }
      // Another key is not slowed down by the first one's flood.
      expect((await g.api("GET", "/v1/status", { key: b })).status).to.equal(200);
      // The limited key gets in again once its bucket refills.
      await sleep(Number(limited[0]!.headers.get("retry-after")) * 1000 + 300);
      expect((await g.api("GET", "/v1/status", { key: a })).status).to.equal(200);
      // Refused requests store nothing: a flood of events past the limit.
      const size = g.gateway.log.size;
      const posts = await Promise.all(Array.from({ length: 30 }, () => g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: makeEvent() })));
      const stored = posts.filter((p) => p.status === 201).length;
      expect(posts.filter((p) => p.status === 429).length).to.be.at.least(10);
      expect(g.gateway.log.size - size).to.equal(stored);
    });
  });

  describe("secrets never reach the logs (a child process at LOG_LEVEL=trace)", () => {
    let dataDir: string;
    let child: ChildGateway | undefined;
    after(async () => {
      await child?.kill();
      removeDir(dataDir);
    });

    it("writes no API key, anchoring key, subject secret or clear subject id, whatever happens", async () => {
      const log = await chain.registerLog();
      dataDir = makeTempDir("ledger-logs-");
      child = await spawnGateway({ dataDir, env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), LOG_LEVEL: "trace", ANCHOR_MAX_BACKOFF_MS: "500" } });
      const g = child;
      const admin = g.keys.admin.key;
      const secrets: string[] = [admin, g.keys.submitter.key, g.keys.auditor.key, g.keys.regulator.key];
      const subjects = ["110101199003074578", "330102198512120023", "张三-身份证-330102", "subject with spaces"];

      // Key management: create, use, revoke.
      const created = await g.api("POST", "/v1/keys", { key: admin, json: { name: "citizen portal", role: "citizen-portal" } });
      const citizen = created.body.key as string;
      const extra = await g.api("POST", "/v1/keys", { key: admin, json: { name: "short-lived", role: "auditor" } });
      secrets.push(citizen, extra.body.key);
      await g.api("GET", "/v1/status", { key: extra.body.key });
      await g.api("DELETE", `/v1/keys/${extra.body.record.id}`, { key: admin });
      await g.api("GET", "/v1/status", { key: extra.body.key });
      // Wrong keys presented (each a secret of its own kind).
      const wrong = `pl_${g.keys.admin.record.id}_${"Q".repeat(43)}`;
      secrets.push(wrong);
      await g.api("GET", "/v1/status", { key: wrong });
      await g.api("GET", "/v1/status", { headers: { authorization: `Basic ${Buffer.from(`u:${admin}`).toString("base64")}` } });
      // Events with subjects, good and bad, and the citizens' report by query and by body.
      for (const subject of subjects) {
        await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: makeEvent({ subject }) });
        await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: makeEvent({ subject, purpose: "\u0000bad" }) });
        await g.api("GET", `/v1/subjects/accesses?subject=${encodeURIComponent(subject)}`, { key: citizen });
        await g.api("POST", "/v1/subjects/accesses", { key: citizen, json: { subject } });
        await g.api("POST", "/v1/subjects/accesses", { key: citizen, json: { subject, extra: 1 } });
        await g.api("GET", `/v1/events?subject=${encodeURIComponent(subject)}`, { key: g.keys.auditor.key });
        await g.api("GET", `/v1/events?subject=${encodeURIComponent(subject)}&limit=x`, { key: g.keys.auditor.key });
      }
      const receipt = await waitForReceipt(g.url, g.keys.auditor.key, 3);
      await g.api("POST", "/v1/verify", { key: g.keys.auditor.key, json: receipt });
      await g.api("POST", "/v1/verify", { key: g.keys.auditor.key, json: { ...receipt, inclusionProof: [] } });
      // The chain goes away for a while: anchoring errors are logged.
      await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: makeEvent({ subject: subjects[0] }) });
      await chain.rpc("evm_setAutomine", [false]);
      await chain.ledger.pause().catch(() => undefined);
      await chain.rpc("evm_mine");
      await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: makeEvent({ subject: subjects[1] }) });
      await waitFor("an anchoring problem", async () => ((await g.api("GET", "/v1/status", { key: admin })).body.anchoring.lastError ? true : undefined));
      await chain.rpc("evm_setAutomine", [true]);
      await (await chain.ledger.unpause()).wait();
      await waitFor("anchoring again", async () => {
        const a = (await g.api("GET", "/v1/status", { key: admin })).body.anchoring;
        return a.anchoredSize === a.logSize ? true : undefined;
      });
      await g.stop();

      const output = g.output();
      const anchorKey = externalChainEnv(chain.rpcUrl, chain.contract, log).ANCHOR_PRIVATE_KEY!;
      const subjectSecret = readFileSync(path.join(dataDir, "subject-secret"), "utf8").trim();
      expect(output.split("\n").filter((l) => l.includes('"msg":"request"')).length, "trace logging is on (request lines)").to.be.at.least(40);
      expect(output, "the anchoring problem is logged").to.match(/EnforcedPause/);
      const forbidden: [string, string][] = [
        ...secrets.map((s): [string, string] => ["an API key", s]),
        ...secrets.map((s): [string, string] => ["an API key's secret part", s.slice(-43)]),
        ["the anchoring key", anchorKey.slice(2).toLowerCase()],
        ["the subject secret", subjectSecret.toLowerCase()],
        ...subjects.map((s): [string, string] => ["a clear subject id", s]),
        ...subjects.map((s): [string, string] => ["a clear subject id (URL-encoded)", encodeURIComponent(s)]),
      ];
      const lower = output.toLowerCase();
      for (const [what, value] of forbidden) {
        expect(lower.includes(value.toLowerCase()), `${what} appears in the output`).to.equal(false);
      }
      console.log(`      logs: ${output.split("\n").length} lines at trace level checked for ${forbidden.length} secrets`);
    });
  });
});
