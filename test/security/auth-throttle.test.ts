/**
 * Failed authentications are throttled (issue 16, item 5), against a real gateway
 * over real HTTP. Clients come from distinct loopback addresses (127.0.0.2, …: Linux
 * routes all of 127/8 to lo), since the gateway counts failures per TCP peer:
 *
 * - a flood of wrong secrets for a real key id from one address gets AUTH_FAILURE_LIMIT
 *   401s, then 429 with Retry-After — also with a different X-Forwarded-For on every
 *   request, which the gateway does not trust — while another key from another address
 *   gets 200 every time, and the targeted key's holder still authenticates;
 * - that address is then refused whatever key it presents, on both HTTP paths;
 * - the key id's further failures from a fresh address get 429, its correct secret 200;
 * - one `auth` alert is raised for the key id, for admins only, without the secret.
 *
 * And the throttle's tables stay bounded and expire (unit level, injected clock).
 */
import { expect } from "chai";
import { request as httpRequest } from "node:http";
import { AuthThrottle, clientAddressKey } from "../../server/api/auth-throttle";
import { makeEvent, startTestGateway, stopAndRemove, waitFor, type TestGateway } from "../support/gateway-harness";

const LIMIT = 20;

interface Answer {
  status: number;
  retryAfter?: string;
  body: any;
}

/** One request from `localAddress`, on a connection of its own. */
function requestFrom(url: string, localAddress: string, method: string, route: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(route, url), { method, headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) }, localAddress, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, body: parsed });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${route} from ${localAddress} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The same key id with another secret of the right form. */
function wrongSecretFor(key: string, n: number): string {
  const [, id] = /^pl_([0-9a-f]{12})_/.exec(key)!;
  return `pl_${id}_${`wrong${n}`.padEnd(43, "x")}`;
}

function expectThrottled(answer: Answer, what: string): void {
  expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).to.equal(429);
  expect(answer.body?.error?.code, what).to.equal("RATE_LIMITED");
  expect(Number(answer.retryAfter), `${what}: Retry-After`).to.be.within(1, 600);
  expect(answer.body.error.details.retryAfterSeconds, what).to.equal(Number(answer.retryAfter));
}

describe("security: failed authentications are throttled", function () {
  this.timeout(120_000);
  let g: TestGateway | undefined;

  before(async () => {
    g = await startTestGateway({ env: { AUTH_FAILURE_LIMIT: String(LIMIT), AUTH_FAILURE_WINDOW_MS: "600000", RATE_LIMIT_PER_SECOND: "100000", RATE_LIMIT_BURST: "100000" } });
  });
  after(async () => stopAndRemove(g));

  it("when one address floods wrong secrets for a real key id, then it gets 429s while other keys and the key's holder keep getting 200", async () => {
    const { url, keys } = g!;
    const target = keys.regulator.key;
    const attacker = "127.0.0.2";
    const floodSize = 300;
    const flood: Answer[] = [];
    const legitimate: Answer[] = [];
    const holder: Answer[] = [];
    let sent = 0;
    // Four flooding connections at a time; after each failure, one legitimate request of another key (and now and then of the targeted key) from 127.0.0.1.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (sent < floodSize) {
          const n = sent++;
          const forwarded = `203.0.113.${n % 250}`;
          flood.push(await requestFrom(url, attacker, "GET", "/v1/status", { authorization: `Bearer ${wrongSecretFor(target, n)}`, "x-forwarded-for": forwarded }));
          legitimate.push(await requestFrom(url, "127.0.0.1", "GET", "/v1/status", { authorization: `Bearer ${keys.auditor.key}` }));
          if (n % 10 === 0) holder.push(await requestFrom(url, "127.0.0.1", "GET", "/v1/status", { authorization: `Bearer ${target}` }));
        }
      }),
    );
    const statuses = flood.map((a) => a.status);
    expect(statuses.filter((s) => s === 401), "failures before the throttle").to.have.length(LIMIT);
    expect(statuses.filter((s) => s === 429), "failures refused").to.have.length(floodSize - LIMIT);
    for (const answer of flood.filter((a) => a.status === 429)) expectThrottled(answer, "a flood request");
    expect(legitimate.map((a) => a.status), "another key from another address").to.deep.equal(legitimate.map(() => 200));
    expect(holder.map((a) => a.status), "the targeted key with its correct secret").to.deep.equal(holder.map(() => 200));
    console.log(`      flood: ${statuses.filter((s) => s === 401).length} × 401 then ${statuses.filter((s) => s === 429).length} × 429; ${legitimate.length} requests of another key and ${holder.length} of the targeted key, all 200`);
  });

  it("when the address is throttled, then it is refused before its key is looked at, whatever key, on both HTTP paths", async () => {
    const { url, keys } = g!;
    expectThrottled(await requestFrom(url, "127.0.0.2", "GET", "/v1/status", { authorization: `Bearer ${keys.auditor.key}` }), "a valid key from the throttled address");
    expectThrottled(await requestFrom(url, "127.0.0.2", "GET", "/v1/status", {}), "no key from the throttled address");
    const size = g!.gateway.log.size;
    const post = await requestFrom(url, "127.0.0.2", "POST", "/v1/events", { authorization: `Bearer ${keys.submitter.key}` }, JSON.stringify(makeEvent()));
    expectThrottled(post, "POST /v1/events from the throttled address");
    expect(g!.gateway.log.size).to.equal(size);
    expect((await requestFrom(url, "127.0.0.1", "POST", "/v1/events", { authorization: `Bearer ${keys.submitter.key}` }, JSON.stringify(makeEvent()))).status).to.equal(201);
  });

  it("when the key id is throttled, then its failures from a fresh address get 429 but its correct secret still authenticates", async () => {
    const { url, keys } = g!;
    expectThrottled(await requestFrom(url, "127.0.0.3", "GET", "/v1/status", { authorization: `Bearer ${wrongSecretFor(keys.regulator.key, 9999)}` }), "a wrong secret for the throttled key id");
    expect((await requestFrom(url, "127.0.0.3", "GET", "/v1/status", { authorization: `Bearer ${keys.regulator.key}` })).status).to.equal(200);
    // Another key id from that address is not throttled by the first one's failures.
    expect((await requestFrom(url, "127.0.0.3", "GET", "/v1/status", { authorization: `Bearer ${wrongSecretFor(keys.auditor.key, 1)}` })).status).to.equal(401);
  });

  it("raises one auth alert for the key id, for admins only, naming neither the secret nor the address", async () => {
    const { keys } = g!;
    const [, targetId] = /^pl_([0-9a-f]{12})_/.exec(keys.regulator.key)!;
    const alerts = await waitFor("the auth alert", async () => {
      const answer = await g!.api("GET", "/v1/alerts?kind=auth", { key: keys.admin.key });
      return answer.body.alerts.length > 0 ? (answer.body.alerts as any[]) : undefined;
    });
    expect(alerts, "once per key id per window, not per failure").to.have.length(1);
    expect(alerts[0]).to.include({ kind: "auth", ruleId: "repeated-failures", severity: "warning" });
    expect(alerts[0].message).to.include(targetId).and.include(`${LIMIT} failed authentications`);
    const text = JSON.stringify(alerts);
    expect(text).to.not.include("wrong");
    expect(text).to.not.include("127.0.0.2");
    expect((await g!.api("GET", "/v1/alerts?kind=auth", { key: keys.regulator.key })).body.alerts).to.deep.equal([]);
    expect((await g!.api("GET", "/v1/alerts?kind=auth", { key: keys.auditor.key })).body.alerts).to.deep.equal([]);
  });
});

describe("security: the failed-authentication throttle's tables", () => {
  it("stay within maxTracked, forget expired windows, and report a key id once per window", () => {
    let now = 0;
    const reports: string[] = [];
    const throttle = new AuthThrottle({ maxFailures: 3, windowMs: 1000, maxTracked: 100, now: () => now, onRepeatedFailures: (r) => reports.push(`${r.keyId}:${r.addresses}`) });
    for (let i = 0; i < 5000; i++) throttle.failed(`10.0.${i >> 8}.${i & 255}`, `id${i}`);
    expect(throttle.tracked).to.deep.equal({ addresses: 100, keyIds: 100 });
    for (let i = 0; i < 10; i++) throttle.failed(`10.9.0.${i}`, "target");
    expect(reports).to.deep.equal(["target:3"]);
    expect(throttle.keyIdWait("target")).to.equal(1);
    expect(throttle.addressWait("10.9.0.0")).to.equal(0);
    now = 1000;
    expect(throttle.keyIdWait("target"), "the window is over").to.equal(0);
    for (let i = 0; i < 3; i++) throttle.failed("10.9.9.9", "target");
    expect(reports).to.deep.equal(["target:3", "target:1"]);
    expect(throttle.addressWait("10.9.9.9")).to.equal(1);
  });

  it("counts IPv4-mapped addresses as IPv4 and IPv6 by /64", () => {
    expect(clientAddressKey("::ffff:127.0.0.2")).to.equal("127.0.0.2");
    expect(clientAddressKey("2001:db8:1:2:aaaa::1")).to.equal(clientAddressKey("2001:db8:1:2::ffff"));
    expect(clientAddressKey("2001:db8:1:2::1")).to.not.equal(clientAddressKey("2001:db8:1:3::1"));
    expect(clientAddressKey("::1")).to.equal("0:0:0:0::/64");
    expect(clientAddressKey(undefined)).to.equal("unknown");
  });
});
