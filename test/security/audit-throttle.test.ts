/**
 * Audits cannot keep the gateway busy (issue 16, item 4), against a real gateway
 * over real HTTP:
 *
 * - a key may start one audit per AUDIT_MIN_INTERVAL_MS (here its default, 10 min):
 *   the next gets 429 with Retry-After and a JSON error; admins included; other
 *   keys start their own;
 * - while submissions keep the gateway busy, a running audit waits for ingest (as
 *   indexing does), a second POST answers with that running job, and the audit
 *   completes, intact, once ingest is quiet.
 *
 * No timings are asserted: only the order of what happened.
 */
import { expect } from "chai";
import { makeEvent, makeEvents, startTestGateway, stopAndRemove, waitFor, type TestGateway } from "../support/gateway-harness";

describe("security: audits run at most one at a time, one per key per interval, after ingest", function () {
  this.timeout(180_000);
  let g: TestGateway | undefined;

  const createKey = async (role: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const created = await g!.api("POST", "/v1/keys", { key: g!.keys.admin.key, json: { name: `${role} ${Math.random()}`, role, ...extra } });
    expect(created.status, created.text).to.equal(201);
    return created.body.key as string;
  };

  const finished = (key: string, id: string) =>
    waitFor(
      `audit ${id}`,
      async () => {
        const answer = await g!.api("GET", `/v1/audit/${id}`, { key });
        return answer.body.job.state === "running" ? undefined : answer.body.job;
      },
      60_000,
      50,
    );

  before(async () => {
    // Derived work waits up to a minute for a busy ingest; any CPU use counts as busy.
    // The interval is the default's (the harness's TEST_LIMITS set it small for other suites).
    g = await startTestGateway({ env: { AUDIT_MIN_INTERVAL_MS: "600000", DERIVED_MAX_DEFER_MS: "60000", DERIVED_BUSY_CORES: "0.01", RATE_LIMIT_PER_SECOND: "100000", RATE_LIMIT_BURST: "100000" } });
    const stored = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(100) } });
    expect(stored.status, stored.text).to.equal(201);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
  });
  after(async () => stopAndRemove(g));

  it("when a key starts a second audit within the interval, then it gets 429 with Retry-After, admins included, while other keys start their own", async () => {
    for (const key of [await createKey("auditor"), await createKey("admin"), await createKey("regulator", { jurisdiction: "330102000000" })]) {
      const first = await g!.api("POST", "/v1/audit", { key });
      expect(first.status, first.text).to.equal(202);
      expect(first.body.started).to.equal(true);
      expect((await finished(key, first.body.job.id)).state).to.equal("done");

      const again = await g!.api("POST", "/v1/audit", { key });
      expect(again.status, again.text).to.equal(429);
      expect(again.body.error.code).to.equal("RATE_LIMITED");
      const retryAfter = Number(again.headers.get("retry-after"));
      expect(retryAfter).to.be.within(1, 600);
      expect(again.body.error.details).to.deep.equal({ retryAfterSeconds: retryAfter });
      expect(again.body.error.message).to.match(/less than 600 s ago/);
    }
  });

  it("when submissions keep the gateway busy, then a running audit waits for them, a second POST gets the running job, and it completes once ingest is quiet", async () => {
    const { submitter } = g!.keys;
    const starter = await createKey("auditor");
    const other = await createKey("regulator", { jurisdiction: "330102000000" });
    let ingesting = true;
    let acknowledged = 0;
    // Four clients posting single events back to back: submissions overlap, so ingest stays busy.
    const clients = Array.from({ length: 4 }, async () => {
      while (ingesting) {
        const answer = await g!.api("POST", "/v1/events", { key: submitter.key, json: makeEvent() });
        expect(answer.status, answer.text).to.equal(201);
        acknowledged += 1;
      }
    });
    try {
      await waitFor("ingest under way", () => (acknowledged >= 20 ? true : undefined));
      const started = await g!.api("POST", "/v1/audit", { key: starter });
      expect(started.status, started.text).to.equal(202);
      expect(started.body.started).to.equal(true);
      const id = started.body.job.id as string;

      const target = acknowledged + 200;
      await waitFor("200 more events acknowledged", () => (acknowledged >= target ? true : undefined), 60_000, 20);
      const second = await g!.api("POST", "/v1/audit", { key: other });
      expect(second.status, second.text).to.equal(202);
      expect(second.body).to.deep.include({ started: false });
      expect(second.body.job.id, "the running job").to.equal(id);
      const during = (await g!.api("GET", `/v1/audit/${id}`, { key: starter })).body.job;
      expect(during.state, "the audit waits while ingest is busy").to.equal("running");
      expect(during.processed).to.equal(0);
      ingesting = false;
      await Promise.all(clients);

      const job = await finished(starter, id);
      expect(job.state).to.equal("done");
      expect(job.report).to.include({ ok: true });
      expect(job.report.treeSize).to.be.at.least(100);
      console.log(`      ${acknowledged} events acknowledged while the audit waited; then it checked ${job.report.eventsChecked} events`);
      // The other key did not start an audit: it may still start its own.
      const own = await g!.api("POST", "/v1/audit", { key: other });
      expect(own.status, own.text).to.equal(202);
      expect(own.body.started).to.equal(true);
      await finished(other, own.body.job.id);
    } finally {
      ingesting = false;
      await Promise.allSettled(clients);
    }
  });
});
