/**
 * The alert observer on a real LevelDB, fed the way the event indexer feeds it:
 * negative-list alerts per violated rule, the two behavioural thresholds
 * crossing exactly once, state that survives batches, restarts and aborted
 * batches, and pruning of old counters.
 */
import { expect } from "chai";
import type { BatchOp } from "../../server/query/index-observer";
import { ADMIN, event, Harness, policy, record, records } from "./helpers";

const HOUSEHOLD_TO_COMMERCIAL = { id: "NL-HR-001", description: "ID numbers to a commercial org", severity: "critical", fields: ["id-number"], recipient: { orgs: ["*:commercial-*"] } };
const NO_MARKETING = { id: "NL-HE-001", description: "no marketing", severity: "warning", purposes: { forbidden: ["*marketing*"] } };

/** One subject access by an operator at a local (+08:00) time on 2024-05-01. */
function touch(subject: string, time = "09:10", operator = "op-1", org = "330102003004:civil-affairs") {
  return event({ type: "access", actor: { org, operator }, subjectRef: `0x${subject.padStart(64, "0")}`, occurredAt: `2024-05-01T${time}:00+08:00`, recipient: undefined });
}

function exportOn(day: string, org = "330102000000:statistics") {
  return event({ type: "export", actor: { org }, dataset: "population-stats", occurredAt: `${day}T10:00:00+08:00`, recipient: undefined });
}

describe("alert observer", () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe("negative list", () => {
    beforeEach(async () => {
      h = await Harness.open(policy({ negativeList: [HOUSEHOLD_TO_COMMERCIAL, NO_MARKETING] }));
    });

    it("raises one alert per violated rule, tied to the event, and leaves clean events unflagged", async () => {
      await h.feed(
        records(0, [
          event({ fields: ["id-number"], recipient: { org: "330102000000:commercial-bank" }, purpose: "credit marketing" }),
          event({ fields: ["name"], recipient: { org: "330102000000:civil-affairs" } }),
          event({ fields: ["id-number"], recipient: { org: "330106000000:commercial-insurer" }, dataset: "household-registry" }),
        ]),
      );
      const alerts = await h.allAlerts();
      expect(alerts.map((a) => [a.eventIndex, a.ruleId, a.kind, a.severity])).to.deep.equal([
        [0, "NL-HR-001", "negative-list", "critical"],
        [0, "NL-HE-001", "negative-list", "warning"],
        [2, "NL-HR-001", "negative-list", "critical"],
      ]);
      expect(alerts[0]).to.include({ actorOrg: "330102003004:civil-affairs", recipientOrg: "330102000000:commercial-bank", dataset: "household-registry", submitter: "submitterkey1" });
      expect((await h.store.flagsFor(0)).map((a) => a.ruleId)).to.deep.equal(["NL-HR-001", "NL-HE-001"]);
      expect(await h.store.flagsFor(1)).to.deep.equal([]);
      expect((await h.store.flagsFor(2)).map((a) => a.ruleId)).to.deep.equal(["NL-HR-001"]);
    });

    it("applies the policy in force when the batch is observed", async () => {
      await h.feed([record(0, event({ purpose: "marketing" }))]);
      h.current = policy({});
      await h.feed([record(1, event({ purpose: "marketing" }))]);
      expect((await h.allAlerts()).map((a) => a.eventIndex)).to.deep.equal([0]);
    });

    it("keeps alerts across closing and reopening the database, with increasing ids", async () => {
      await h.feed([record(0, event({ purpose: "marketing" }))]);
      const before = await h.allAlerts();
      await h.reopen();
      expect(await h.allAlerts()).to.deep.equal(before);
      await h.feed([record(1, event({ purpose: "marketing" }))]);
      const after = await h.allAlerts();
      expect(after).to.have.length(2);
      expect(after[1]!.id > after[0]!.id).to.equal(true);
    });
  });

  describe("distinct subjects per operator per hour", () => {
    beforeEach(async () => {
      h = await Harness.open(policy({ thresholds: { distinctSubjectsPerOperatorPerHour: { limit: 3, severity: "critical" } } }));
    });

    it("alerts once, on the event that crosses the limit, however the events are batched", async () => {
      // Distinct subjects: a, b, (a again), c, d ← crosses (4 > 3), e, f.
      const events = ["a", "b", "a", "c", "d", "e", "f"].map((s) => touch(s));
      await h.feed(records(0, events.slice(0, 1)));
      await h.feed(records(1, events.slice(1, 3)));
      await h.feed(records(3, events.slice(3, 5)));
      await h.feed(records(5, events.slice(5)));
      const alerts = await h.allAlerts();
      expect(alerts).to.have.length(1);
      expect(alerts[0]).to.include({ kind: "threshold", ruleId: "distinctSubjectsPerOperatorPerHour", severity: "critical", eventIndex: 4, actorOrg: "330102003004:civil-affairs" });
      expect(alerts[0]!.message).to.include("op-1").and.include("more than 3 distinct data subjects").and.include("2024-05-01T09");
    });

    it("counts operators and clock hours (+08:00) separately", async () => {
      await h.feed(
        records(0, [
          // op-1: three subjects before 10:00 and three from 10:00: never above 3 in one hour.
          touch("a", "09:10"), touch("b", "09:30"), touch("c", "09:59"),
          touch("d", "10:00"), touch("e", "10:20"), touch("f", "10:40"),
          // op-2 in the same org and op-1 of another org: three each.
          touch("a", "09:10", "op-2"), touch("b", "09:11", "op-2"), touch("c", "09:12", "op-2"),
          touch("x", "09:10", "op-1", "330110000000:health"), touch("y", "09:10", "op-1", "330110000000:health"), touch("z", "09:10", "op-1", "330110000000:health"),
        ]),
      );
      expect(await h.allAlerts()).to.deep.equal([]);
      await h.feed([record(12, touch("g", "10:50")), record(13, touch("d", "09:05", "op-2"))]);
      const alerts = await h.allAlerts();
      expect(alerts.map((a) => a.eventIndex)).to.deep.equal([12, 13]);
    });

    it("ties the alert to the operator's organisation, not to the recipient of the crossing event", async () => {
      await h.feed(records(0, [touch("a"), touch("b"), touch("c"), { ...touch("d"), type: "share", recipient: { org: "330110000000:health" } }]));
      const [alert] = await h.allAlerts();
      expect(alert).to.include({ eventIndex: 3, actorOrg: "330102003004:civil-affairs" });
      expect(alert).not.to.have.property("recipientOrg");
    });

    it("ignores events without a subject", async () => {
      await h.feed(records(0, [1, 2, 3, 4, 5].map(() => event({ type: "access", recipient: undefined }))));
      expect(await h.allAlerts()).to.deep.equal([]);
    });

    it("continues counting after a restart and does not alert again for the same operator-hour", async () => {
      await h.feed(records(0, [touch("a"), touch("b"), touch("c")]));
      await h.reopen();
      await h.feed([record(3, touch("a")), record(4, touch("d"))]);
      expect((await h.allAlerts()).map((a) => a.eventIndex)).to.deep.equal([4]);
      await h.reopen();
      await h.feed(records(5, [touch("e"), touch("f"), touch("g"), touch("h"), touch("i")]));
      expect(await h.allAlerts()).to.have.length(1);
    });

    it("forgets a batch that failed to write (aborted) and counts it again when it is retried", async () => {
      await h.feed(records(0, [touch("a"), touch("b")]));
      const batch = records(2, [touch("c"), touch("d")]);
      const lost: BatchOp[] = [];
      await h.observer.observe(batch, lost);
      expect(lost.some((op) => op.type === "put" && op.key.startsWith("a|"))).to.equal(true);
      h.observer.aborted(); // the indexer could not write `lost`
      await h.feed(batch);
      const alerts = await h.allAlerts();
      expect(alerts).to.have.length(1);
      expect(alerts[0]!.eventIndex).to.equal(3);
    });

    it("without the reset on aborted(), the retried batch would be miscounted (the cache is the state)", async () => {
      await h.feed(records(0, [touch("a"), touch("b")]));
      const batch = records(2, [touch("c"), touch("d")]);
      await h.observer.observe(batch, []);
      // No aborted(): the cache still believes c and d are counted and the alert raised.
      await h.feed(batch);
      expect(await h.allAlerts()).to.deep.equal([]);
    });

    it("prunes counters of old hours and skips events too late to count", async () => {
      await h.feed(records(0, [touch("a"), touch("b"), touch("c")]));
      const keysBefore = await stateKeys(h);
      expect(keysBefore.some((k) => k.startsWith("h|2024-05-01T09|"))).to.equal(true);
      // Three days later (receivedAt), the 09:00 hour of May 1st is beyond the 48 h retention.
      const later = { receivedAt: "2024-05-04T02:00:00.000Z" };
      await h.feed([record(3, touch("d", "09:20"), later), record(4, touch("e", "09:20"), later)]);
      expect(await stateKeys(h)).to.deep.equal([]);
      expect(await h.allAlerts()).to.deep.equal([]);
    });
  });

  describe("export volume against the department's baseline", () => {
    beforeEach(async () => {
      h = await Harness.open(policy({ thresholds: { exportVolume: { factor: 2, baselineDays: 3, minCount: 5, severity: "warning" } } }));
    });

    const receivedAt = "2024-05-10T04:00:00.000Z";
    const days = (day: string, n: number, org?: string) => Array.from({ length: n }, () => exportOn(day, org));

    it("alerts once when a day's exports exceed factor × the average of the previous days", async () => {
      // Baseline: 2 exports a day on May 7–9 (average 2, so the limit is 4); minCount 5.
      await h.feed(records(0, [...days("2024-05-07", 2), ...days("2024-05-08", 2), ...days("2024-05-09", 2)], { receivedAt }));
      expect(await h.allAlerts()).to.deep.equal([]);
      await h.feed(records(6, days("2024-05-10", 4), { receivedAt }));
      expect(await h.allAlerts()).to.deep.equal([]);
      await h.feed(records(10, days("2024-05-10", 3), { receivedAt }));
      const alerts = await h.allAlerts();
      expect(alerts).to.have.length(1);
      expect(alerts[0]).to.include({ kind: "threshold", ruleId: "exportVolume", severity: "warning", eventIndex: 10, actorOrg: "330102000000:statistics" });
      expect(alerts[0]!.message).to.include("5 exports on 2024-05-10").and.include("average of 2");
    });

    it("does not alert below minCount, within the factor, or for other event types", async () => {
      await h.feed(
        records(
          0,
          [
            ...days("2024-05-10", 4, "330102000000:new-dept"), // no history, but below minCount
            ...days("2024-05-07", 4, "330102000000:busy"),
            ...days("2024-05-08", 4, "330102000000:busy"),
            ...days("2024-05-09", 4, "330102000000:busy"),
            ...days("2024-05-10", 8, "330102000000:busy"), // 8 is not above 2 × 4
            ...Array.from({ length: 8 }, () => event({ type: "share", actor: { org: "330102000000:sharer" }, occurredAt: "2024-05-10T10:00:00+08:00" })),
          ],
          { receivedAt },
        ),
      );
      expect(await h.allAlerts()).to.deep.equal([]);
      // A department without history alerts once it reaches minCount; busy alerts on its ninth.
      await h.feed([record(100, exportOn("2024-05-10", "330102000000:new-dept"), { receivedAt }), record(101, exportOn("2024-05-10", "330102000000:busy"), { receivedAt })]);
      expect((await h.allAlerts()).map((a) => [a.eventIndex, a.actorOrg])).to.deep.equal([
        [100, "330102000000:new-dept"],
        [101, "330102000000:busy"],
      ]);
    });

    it("keeps the day's count across a restart", async () => {
      await h.feed(records(0, days("2024-05-10", 4), { receivedAt }));
      await h.reopen();
      await h.feed(records(4, days("2024-05-10", 1), { receivedAt }));
      expect((await h.allAlerts()).map((a) => a.eventIndex)).to.deep.equal([4]);
    });
  });

  it("reads the thresholds and the negative list from the same batch in log order", async () => {
    h = await Harness.open(policy({ negativeList: [NO_MARKETING], thresholds: { distinctSubjectsPerOperatorPerHour: { limit: 1 } } }));
    await h.feed(records(0, [touch("a"), { ...touch("b"), purpose: "marketing" }]));
    const alerts = await h.store.list(ADMIN, { limit: 10 });
    expect(alerts.alerts.map((a) => [a.eventIndex, a.kind]).reverse()).to.deep.equal([
      [1, "negative-list"],
      [1, "threshold"],
    ]);
  });
});

async function stateKeys(h: Harness): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of h.observer.state.keys()) keys.push(key);
  return keys;
}
