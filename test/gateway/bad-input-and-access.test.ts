/**
 * Bad input and access control on a real gateway: each kind of bad request gets its
 * 4xx with a JSON error body and stores nothing; keys, roles and jurisdictions decide
 * who may write and read what; `ledger keys` manages keys over HTTP.
 */
import { expect } from "chai";
import {
  makeEvent,
  makeEvents,
  runCli,
  startTestGateway,
  stopAndRemove,
  waitForReceipt,
  type ApiResponse,
  type TestGateway,
} from "../support/gateway-harness";

const BODY_LIMIT = 400_000;

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).to.equal(status);
  expect(response.headers.get("content-type") ?? "").to.match(/^application\/json/);
  expect(response.body, response.text).to.be.an("object");
  expect(response.body.error, response.text).to.be.an("object");
  expect(response.body.error.code, response.text).to.equal(code);
  expect(response.body.error.message).to.be.a("string").and.not.equal("");
}

describe("gateway: bad input and access control", function () {
  this.timeout(120_000);

  let g: TestGateway;
  /** A submitter bound to another county (330103), and one more in 330102. */
  let outsideSubmitter: string;
  let secondSubmitter: string;
  let secondSubmitterId: string;

  before(async () => {
    g = await startTestGateway({ env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
    const outside = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "county 330103 system", role: "submitter", jurisdiction: "330103000000" } });
    expect(outside.status, outside.text).to.equal(201);
    outsideSubmitter = outside.body.key;
    const second = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "another 330102 system", role: "submitter", jurisdiction: "330102000000" } });
    expect(second.status, second.text).to.equal(201);
    secondSubmitter = second.body.key;
    secondSubmitterId = second.body.record.id;
    // One stored event, so that "nothing stored" is measured against a non-empty log.
    expect((await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: makeEvent() })).status).to.equal(201);
  });

  after(async () => {
    await stopAndRemove(g);
  });

  /** Sends a request that must be refused with `status`/`code` and must not change the log. */
  async function refused(status: number, code: string, send: () => Promise<ApiResponse>): Promise<ApiResponse> {
    const size = g.gateway.log.size;
    const response = await send();
    expectError(response, status, code);
    expect(g.gateway.log.size, "log size after a refused request").to.equal(size);
    return response;
  }

  const postRaw = (body: string | Uint8Array, contentType?: string, key = g.keys.submitter.key) =>
    g.api("POST", "/v1/events", { key, body, headers: contentType ? { "content-type": contentType } : {} });
  const postJson = (json: unknown, key = g.keys.submitter.key) => g.api("POST", "/v1/events", { key, json });

  describe("malformed requests", () => {
    it("refuses a body that is not valid JSON (400)", async () => {
      await refused(400, "BAD_REQUEST", () => postRaw('{"type": "access", ', "application/json"));
      await refused(400, "BAD_REQUEST", () => postRaw("{'type': 'access'}", "application/json"));
    });

    it("refuses a non-JSON content type (415), also when the body is valid JSON", async () => {
      const body = JSON.stringify(makeEvent());
      await refused(415, "UNSUPPORTED_MEDIA_TYPE", () => postRaw(body, "text/plain"));
      await refused(415, "UNSUPPORTED_MEDIA_TYPE", () => postRaw(body, "application/x-www-form-urlencoded"));
      await refused(415, "UNSUPPORTED_MEDIA_TYPE", () => postRaw(new TextEncoder().encode(body)));
      await refused(415, "UNSUPPORTED_MEDIA_TYPE", () => postRaw(body, "application/json; charset=iso-8859-1"));
      await refused(415, "UNSUPPORTED_MEDIA_TYPE", () => postRaw(body, "application/json; charset=utf-16"));
    });

    it("refuses a body over BODY_LIMIT_BYTES (413), even a valid event padded with whitespace", async () => {
      const padded = JSON.stringify(makeEvent()) + " ".repeat(BODY_LIMIT + 1_000);
      const response = await refused(413, "PAYLOAD_TOO_LARGE", () => postRaw(padded, "application/json"));
      expect(response.body.error.message).to.include(String(BODY_LIMIT));
      // Just under the limit is accepted.
      const fits = JSON.stringify(makeEvent()) + " ".repeat(BODY_LIMIT - 2_000);
      expect((await postRaw(fits, "application/json")).status).to.equal(201);
    });

    it("refuses bodies that are neither an event nor { events: [...] } (400)", async () => {
      for (const body of [[makeEvent()], "an event", 42, null, true]) {
        await refused(400, "BAD_REQUEST", () => postJson(body));
      }
      await refused(400, "BAD_REQUEST", () => postJson({ events: [] }));
      await refused(400, "BAD_REQUEST", () => postJson({ events: {} }));
      await refused(400, "BAD_REQUEST", () => postJson({ events: makeEvent() }));
      await refused(400, "BAD_REQUEST", () => postJson({ events: [makeEvent()], extra: 1 }));
    });

    it("refuses more than 1,000 events in one request (400), though each is valid", async () => {
      const response = await refused(400, "BAD_REQUEST", () => postJson({ events: makeEvents(1001) }));
      expect(response.body.error.message).to.include("1000");
      // Exactly 1,000 is accepted.
      const thousand = await postJson({ events: makeEvents(1000) });
      expect(thousand.status, thousand.text).to.equal(201);
      expect(thousand.body.events).to.have.length(1000);
    });
  });

  describe("invalid events (400 VALIDATION_FAILED, details naming each field)", () => {
    const without = (key: string) => {
      const event = makeEvent() as Record<string, unknown>;
      delete event[key];
      return event;
    };
    const cases: { name: string; event: () => unknown; path: string; message?: RegExp }[] = [
      { name: "an unknown field", event: () => ({ ...makeEvent(), extra: 1 }), path: "extra", message: /unknown field/ },
      { name: "an unknown field in actor", event: () => makeEvent({ actor: { department: "x" } as never }), path: "actor.department", message: /unknown field/ },
      { name: "an unknown field in recipient", event: () => makeEvent({ type: "share", recipient: { org: "330102000000:a", name: "x" } as never }), path: "recipient.name", message: /unknown field/ },
      { name: "fields as a string", event: () => makeEvent({ fields: "name" as never }), path: "fields" },
      { name: "an empty fields array", event: () => makeEvent({ fields: [] }), path: "fields" },
      { name: "a number as occurredAt", event: () => makeEvent({ occurredAt: 1764122400000 as never }), path: "occurredAt" },
      { name: "actor as a string", event: () => ({ ...makeEvent(), actor: "op-7731" }), path: "actor" },
      { name: "an unknown event type", event: () => makeEvent({ type: "read" }), path: "type" },
      { name: "a nested attribute value", event: () => makeEvent({ attributes: { a: { b: 1 } } as never }), path: "attributes.a" },
      { name: "a fractional attribute", event: () => makeEvent({ attributes: { score: 1.5 } }), path: "attributes.score" },
      { name: "a missing purpose", event: () => without("purpose"), path: "purpose" },
      { name: "a missing requestId", event: () => without("requestId"), path: "requestId" },
      { name: "a missing actor", event: () => without("actor"), path: "actor" },
      { name: "a missing dataset", event: () => without("dataset"), path: "dataset" },
      { name: "a share without recipient", event: () => makeEvent({ type: "share" }), path: "recipient", message: /recipient/ },
      { name: "an org id without department", event: () => makeEvent({ actor: { org: "330102003004" } }), path: "actor.org" },
      { name: "an org id with a short division", event: () => makeEvent({ actor: { org: "330102:civil-affairs" } }), path: "actor.org" },
      { name: "an org id with an upper-case department", event: () => makeEvent({ actor: { org: "330102003004:Civil" } }), path: "actor.org" },
      { name: "a malformed recipient org", event: () => makeEvent({ type: "share", recipient: { org: "data bureau" } }), path: "recipient.org" },
      { name: "occurredAt without an offset", event: () => makeEvent({ occurredAt: "2026-11-26T10:00:00" }), path: "occurredAt" },
      { name: "occurredAt with a space", event: () => makeEvent({ occurredAt: "2026-11-26 10:00:00+08:00" }), path: "occurredAt" },
      { name: "an impossible occurredAt", event: () => makeEvent({ occurredAt: "2026-13-40T10:00:00Z" }), path: "occurredAt" },
      { name: "a date without time", event: () => makeEvent({ occurredAt: "2026-11-26" }), path: "occurredAt" },
      { name: "a control character in purpose", event: () => makeEvent({ purpose: "line\nbreak" }), path: "purpose" },
      { name: "an empty operator", event: () => makeEvent({ actor: { operator: "" } }), path: "actor.operator" },
      { name: "a space in requestId", event: () => makeEvent({ requestId: "req 1" }), path: "requestId" },
      { name: "an over-long purpose", event: () => makeEvent({ purpose: "x".repeat(513) }), path: "purpose" },
    ];

    for (const c of cases) {
      it(`refuses ${c.name} (path "${c.path}")`, async () => {
        const response = await refused(400, "VALIDATION_FAILED", () => postJson(c.event()));
        const details = response.body.error.details as { path: string; message: string }[];
        expect(details, response.text).to.be.an("array").that.is.not.empty;
        const hit = details.find((d) => d.path === c.path);
        expect(hit, `no detail at path "${c.path}": ${response.text}`).to.not.equal(undefined);
        expect(hit!.message).to.be.a("string").and.not.equal("");
        if (c.message) expect(hit!.message).to.match(c.message);
      });
    }

    it("refuses a batch with one invalid event, naming events[i], and stores none of it", async () => {
      const events = makeEvents(3);
      delete (events[1] as Record<string, unknown>).purpose;
      (events[2] as Record<string, unknown>).occurredAt = "yesterday";
      const response = await refused(400, "VALIDATION_FAILED", () => postJson({ events }));
      const paths = (response.body.error.details as { path: string }[]).map((d) => d.path);
      expect(paths).to.include.members(["events[1].purpose", "events[2].occurredAt"]);
      expect(paths.some((p) => p.startsWith("events[0]"))).to.equal(false);
      // The valid first event was not stored either: sending it alone creates it.
      expect((await postJson(events[0])).body.created).to.equal(true);
    });
  });

  describe("bad index parameters", () => {
    for (const bad of ["abc", "-1", "1.5", "01", "1e3", "0x10", "99999999999999999999", "9007199254740993", "%20"]) {
      it(`refuses /v1/events/${bad} and /v1/receipts/${bad} (400)`, async () => {
        expectError(await g.api("GET", `/v1/events/${bad}`, { key: g.keys.auditor.key }), 400, "BAD_REQUEST");
        expectError(await g.api("GET", `/v1/receipts/${bad}`, { key: g.keys.auditor.key }), 400, "BAD_REQUEST");
      });
    }

    it("answers 404 for an index beyond the log, and 400 for bad checkpoint query parameters", async () => {
      expectError(await g.api("GET", "/v1/events/123456789", { key: g.keys.auditor.key }), 404, "NOT_FOUND");
      expectError(await g.api("GET", "/v1/receipts/123456789", { key: g.keys.auditor.key }), 404, "NOT_FOUND");
      expectError(await g.api("GET", "/v1/checkpoints?limit=0", { key: g.keys.auditor.key }), 400, "BAD_REQUEST");
      expectError(await g.api("GET", "/v1/checkpoints?limit=1001", { key: g.keys.auditor.key }), 400, "BAD_REQUEST");
      expectError(await g.api("GET", "/v1/checkpoints?before=abc", { key: g.keys.auditor.key }), 400, "BAD_REQUEST");
      expectError(await g.api("GET", "/v1/nothing-here", { key: g.keys.auditor.key }), 404, "NOT_FOUND");
    });
  });

  describe("authentication (401)", () => {
    it("needs no key for /healthz, the OpenAPI document and the log list only", async () => {
      expect((await g.api("GET", "/healthz")).status).to.equal(200);
      const openapi = await g.api("GET", "/v1/openapi.json");
      expect(openapi.status).to.equal(200);
      expect(openapi.body.openapi).to.match(/^3\./);
      const logList = await g.api("GET", "/v1/log-list");
      expect(logList.status).to.equal(200);
      expect(logList.body).to.deep.include({ version: 1 });
      expect(logList.body.logs.map((l: { logId: string }) => l.logId)).to.deep.equal([g.gateway.logId]);
      expectError(await g.api("GET", "/v1/status"), 401, "UNAUTHENTICATED");
    });

    it("refuses a missing, malformed or unknown key, and stores nothing", async () => {
      const event = makeEvent();
      const { submitter } = g.keys;
      const tampered = submitter.key.slice(0, -1) + (submitter.key.endsWith("A") ? "B" : "A");
      const unknown = "pl_0123456789ab_" + "A".repeat(43);
      const headers: (Record<string, string> | undefined)[] = [
        undefined,
        { authorization: `Basic ${Buffer.from("user:pass").toString("base64")}` },
        { authorization: "Bearer" },
        { authorization: "Bearer " },
        { authorization: `Bearer ${submitter.key} extra` },
        { authorization: `bearer-${submitter.key}` },
        { authorization: "Bearer not-a-key" },
        { authorization: `Bearer ${unknown}` },
        { authorization: `Bearer ${tampered}` },
        { authorization: `Bearer ${submitter.key.toUpperCase()}` },
      ];
      for (const h of headers) {
        await refused(401, "UNAUTHENTICATED", () => g.api("POST", "/v1/events", { json: event, headers: h }));
      }
      // The unknown-key answer does not say whether the id exists.
      const unknownAnswer = await g.api("GET", "/v1/status", { headers: { authorization: `Bearer ${unknown}` } });
      const tamperedAnswer = await g.api("GET", "/v1/status", { headers: { authorization: `Bearer ${tampered}` } });
      expect(unknownAnswer.body).to.deep.equal(tamperedAnswer.body);
      expect((await postJson(event)).status).to.equal(201); // the real key works
    });

    it("refuses a revoked key (DELETE /v1/keys/:id), which worked before", async () => {
      const created = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "short-lived", role: "submitter", jurisdiction: "330102000000" } });
      expect(created.status).to.equal(201);
      expect((await postJson(makeEvent(), created.body.key)).status).to.equal(201);
      const revoked = await g.api("DELETE", `/v1/keys/${created.body.record.id}`, { key: g.keys.admin.key });
      expect(revoked.status).to.equal(200);
      expect(revoked.body.revokedAt).to.be.a("string");
      const response = await refused(401, "UNAUTHENTICATED", () => postJson(makeEvent(), created.body.key));
      expect(response.body.error.message).to.match(/revoked/);
      expectError(await g.api("DELETE", "/v1/keys/000000000000", { key: g.keys.admin.key }), 404, "NOT_FOUND");
    });
  });

  describe("roles and jurisdictions (403, or 404 for what a key may not see)", () => {
    it("lets only submitters post events", async () => {
      for (const key of [g.keys.auditor.key, g.keys.regulator.key, g.keys.admin.key]) {
        await refused(403, "FORBIDDEN", () => postJson(makeEvent(), key));
        await refused(403, "FORBIDDEN", () => postJson({ events: makeEvents(2) }, key));
      }
    });

    it("lets only admins list, create and revoke keys", async () => {
      for (const key of [g.keys.submitter.key, g.keys.auditor.key, g.keys.regulator.key]) {
        expectError(await g.api("GET", "/v1/keys", { key }), 403, "FORBIDDEN");
        expectError(await g.api("POST", "/v1/keys", { key, json: { name: "mine", role: "admin" } }), 403, "FORBIDDEN");
        expectError(await g.api("DELETE", `/v1/keys/${g.keys.admin.record.id}`, { key }), 403, "FORBIDDEN");
      }
      // The admin key still works: nothing was revoked or created by the refused calls.
      const list = await g.api("GET", "/v1/keys", { key: g.keys.admin.key });
      expect(list.status).to.equal(200);
      expect(list.body.keys.find((k: { id: string }) => k.id === g.keys.admin.record.id).revokedAt).to.equal(undefined);
      expect(list.body.keys.some((k: { name: string }) => k.name === "mine")).to.equal(false);
      for (const k of list.body.keys) expect(k).to.not.have.property("hash");
    });

    it("keeps checkpoints and status from submitters", async () => {
      expectError(await g.api("GET", "/v1/checkpoints", { key: g.keys.submitter.key }), 403, "FORBIDDEN");
      expectError(await g.api("GET", "/v1/status", { key: g.keys.submitter.key }), 403, "FORBIDDEN");
      expect((await g.api("GET", "/v1/status", { key: g.keys.regulator.key })).status).to.equal(200);
    });

    it("refuses a submitter posting for an org outside its jurisdiction, even inside a batch", async () => {
      const outside = makeEvent({ actor: { org: "330103001002:health" } });
      const response = await refused(403, "FORBIDDEN", () => postJson(outside));
      expect(response.body.error.message).to.include("330103001002:health");
      await refused(403, "FORBIDDEN", () => postJson({ events: [makeEvent(), outside] }));
      // Inside it, down to a grid of a village, is fine.
      expect((await postJson(makeEvent({ actor: { org: "330102003004-G12:grid-office" } }))).status).to.equal(201);
      // The other county's own key may post it.
      expect((await postJson(outside, outsideSubmitter)).status).to.equal(201);
      await refused(403, "FORBIDDEN", () => postJson(makeEvent(), outsideSubmitter));
    });

    it("shows a regulator only events of its jurisdiction (404 outside, as for an absent event)", async () => {
      const outsideOnly = await postJson(makeEvent({ actor: { org: "330103001002:health" } }), outsideSubmitter);
      const sharedIn = await postJson(
        makeEvent({ type: "share", actor: { org: "330103001002:health" }, recipient: { org: "330102003004:civil-affairs" } }),
        outsideSubmitter,
      );
      const inside = await postJson(makeEvent());
      for (const r of [outsideOnly, sharedIn, inside]) expect(r.status, r.text).to.equal(201);
      const read = (index: number, key = g.keys.regulator.key) => g.api("GET", `/v1/events/${index}`, { key });

      const hidden = await read(outsideOnly.body.index);
      expectError(hidden, 404, "NOT_FOUND");
      const absent = await read(987654);
      expect(hidden.body.error.message.replace(String(outsideOnly.body.index), "N")).to.equal(absent.body.error.message.replace("987654", "N"));
      expect((await read(inside.body.index)).status).to.equal(200);
      expect((await read(sharedIn.body.index)).status).to.equal(200); // the recipient is inside

      // Receipts follow the same rule.
      await waitForReceipt(g.url, g.keys.auditor.key, Math.max(outsideOnly.body.index, inside.body.index));
      expectError(await g.api("GET", `/v1/receipts/${outsideOnly.body.index}`, { key: g.keys.regulator.key }), 404, "NOT_FOUND");
      expect((await g.api("GET", `/v1/receipts/${inside.body.index}`, { key: g.keys.regulator.key })).status).to.equal(200);
      // An auditor reads everything.
      expect((await read(outsideOnly.body.index, g.keys.auditor.key)).status).to.equal(200);
    });

    it("lets a submitter read only its own events", async () => {
      const mine = await postJson(makeEvent());
      const theirs = await postJson(makeEvent(), secondSubmitter);
      expect((await g.api("GET", `/v1/events/${mine.body.index}`, { key: g.keys.submitter.key })).status).to.equal(200);
      expectError(await g.api("GET", `/v1/events/${theirs.body.index}`, { key: g.keys.submitter.key }), 404, "NOT_FOUND");
      expectError(await g.api("GET", `/v1/events/${mine.body.index}`, { key: secondSubmitter }), 404, "NOT_FOUND");
      const own = await g.api("GET", `/v1/events/${theirs.body.index}`, { key: secondSubmitter });
      expect(own.status).to.equal(200);
      expect(own.body.envelope.submitter).to.equal(secondSubmitterId);
      await waitForReceipt(g.url, g.keys.auditor.key, theirs.body.index);
      expectError(await g.api("GET", `/v1/receipts/${theirs.body.index}`, { key: g.keys.submitter.key }), 404, "NOT_FOUND");
    });
  });

  describe("`ledger keys` against the running gateway (--url, --key)", () => {
    it("creates a key that works, lists it, revokes it, after which it is refused", async () => {
      const base = ["--url", g.url, "--key", g.keys.admin.key];
      const create = await runCli(["keys", "create", "--role", "auditor", "--name", "cli auditor", ...base]);
      expect(create.code, create.stderr).to.equal(0);
      const match = /created auditor key ([0-9a-f]{12});[^\n]*\n(pl_[0-9a-f]{12}_[A-Za-z0-9_-]{43})\s*$/.exec(create.stdout);
      expect(match, create.stdout).to.not.equal(null);
      const [, id, key] = match!;
      expect(key).to.include(`pl_${id}_`);
      expect((await g.api("GET", "/v1/checkpoints", { key })).status).to.equal(200);

      const [listed, forbidden, invalid] = await Promise.all([
        runCli(["keys", "list", ...base]),
        runCli(["keys", "list", "--url", g.url, "--key", g.keys.submitter.key]),
        runCli(["keys", "create", "--role", "regulator", "--name", "no jurisdiction", ...base]),
      ]);
      expect(listed.code, listed.stderr).to.equal(0);
      const line = listed.stdout.split("\n").find((l) => l.startsWith(id!));
      expect(line, listed.stdout).to.match(/auditor\s+-\s+active\s+cli auditor/);
      expect(listed.stdout).to.not.include("pl_"); // never the secrets
      expect(forbidden.code).to.equal(1);
      expect(forbidden.stderr).to.match(/refused \(403 FORBIDDEN\)/);
      expect(invalid.code).to.equal(1);
      expect(invalid.stderr).to.match(/400 VALIDATION_FAILED/);

      const revoke = await runCli(["keys", "revoke", id!, ...base]);
      expect(revoke.code, revoke.stderr).to.equal(0);
      expect(revoke.stdout).to.include(`revoked key ${id}`);
      const refusedAfter = await g.api("GET", "/v1/checkpoints", { key });
      expectError(refusedAfter, 401, "UNAUTHENTICATED");

      const listedAgain = await runCli(["keys", "list", ...base]);
      expect(listedAgain.stdout.split("\n").find((l) => l.startsWith(id!))).to.match(/revoked \d{4}-/);
    });
  });
});
