/**
 * The alert store: who sees which alerts, acknowledgement, filters and cursor
 * pagination, durability of direct writes.
 */
import { expect } from "chai";
import { AppError } from "../../server/errors";
import type { Principal } from "../../server/auth/key-store";
import type { Alert } from "../../server/alerts/alert-store";
import {
  ADMIN,
  AUDITOR,
  AUDITOR_HEALTH,
  CITIZEN_PORTAL,
  event,
  Harness,
  OTHER_SUBMITTER,
  policy,
  record,
  REGULATOR_330102,
  REGULATOR_330110,
  SUBMITTER,
} from "./helpers";

const NO_MARKETING = { id: "NL-MKT", description: "no marketing", severity: "warning", purposes: { forbidden: ["*marketing*"] } };

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(AppError);
    return (error as AppError).code;
  }
  return undefined;
}

describe("alert store", () => {
  let h: Harness;
  afterEach(async () => h?.close());

  describe("scoping", () => {
    let byEvent: Map<number | string, Alert>;

    beforeEach(async () => {
      h = await Harness.open(policy({ negativeList: [NO_MARKETING] }));
      await h.feed([
        // Inside Shangcheng (330102).
        record(0, event({ purpose: "marketing", actor: { org: "330102003004:civil-affairs" }, recipient: { org: "330102000000:commerce" } })),
        // Inside Yuhang (330110), health data.
        record(1, event({ purpose: "marketing", dataset: "health-records", actor: { org: "330110001000:health" }, recipient: { org: "330110000000:commerce" } })),
        // From Yuhang to Shangcheng, submitted by another key.
        record(2, event({ purpose: "marketing", actor: { org: "330110000000:health" }, recipient: { org: "330102000000:commercial-x" } }), { submitter: "submitterkey2" }),
      ]);
      const anchoring = await h.store.create({ kind: "anchoring", severity: "critical", ruleId: "diverged", message: "anchoring diverged: …" });
      const policyAlert = await h.store.create({ kind: "policy", severity: "warning", message: "policy refused" });
      byEvent = new Map<number | string, Alert>((await h.allAlerts()).map((a) => [a.eventIndex ?? a.kind, a]));
      expect(byEvent.get("anchoring")).to.deep.equal(anchoring);
      expect(byEvent.get("policy")).to.deep.equal(policyAlert);
    });

    const visible = async (principal: Principal) =>
      (await h.store.list(principal, { limit: 100 })).alerts.map((a) => a.eventIndex ?? a.kind).reverse();

    const TABLE: [string, Principal, (number | string)[]][] = [
      ["an admin sees everything", ADMIN, [0, 1, 2, "anchoring", "policy"]],
      ["a Shangcheng regulator sees its county's alerts (as actor or recipient) and system alerts", REGULATOR_330102, [0, 2, "anchoring", "policy"]],
      ["a Yuhang regulator does not see Shangcheng's alerts", REGULATOR_330110, [1, 2, "anchoring", "policy"]],
      ["an unbound auditor sees everything", AUDITOR, [0, 1, 2, "anchoring", "policy"]],
      ["an auditor bound to health-records sees those and system alerts", AUDITOR_HEALTH, [1, "anchoring", "policy"]],
      ["a submitter sees alerts on what it submitted, no system alerts", SUBMITTER, [0, 1]],
      ["another submitter sees its own", OTHER_SUBMITTER, [2]],
      ["the citizen portal sees none", CITIZEN_PORTAL, []],
    ];
    for (const [name, principal, expected] of TABLE) {
      it(name, async () => {
        expect(await visible(principal)).to.deep.equal(expected);
      });
    }

    it("scopes an event's flags the same way", async () => {
      expect(await h.store.flagsFor(0, REGULATOR_330110)).to.deep.equal([]);
      expect(await h.store.flagsFor(0, REGULATOR_330102)).to.have.length(1);
    });

    it("lets a regulator acknowledge only alerts it sees; others are not found", async () => {
      const shangcheng = byEvent.get(0)!;
      expect(await codeOf(h.store.acknowledge(shangcheng.id, REGULATOR_330110))).to.equal("NOT_FOUND");
      const acked = await h.store.acknowledge(shangcheng.id, REGULATOR_330102);
      expect(acked).to.include({ id: shangcheng.id, acknowledgedBy: REGULATOR_330102.id });
      expect(Date.parse(acked.acknowledgedAt!)).to.be.a("number").and.not.NaN;
      expect(await h.store.get(shangcheng.id)).to.deep.equal(acked);
    });

    it("refuses acknowledgement by submitters and the citizen portal", async () => {
      const alert = byEvent.get(0)!;
      expect(await codeOf(h.store.acknowledge(alert.id, SUBMITTER))).to.equal("FORBIDDEN");
      expect(await codeOf(h.store.acknowledge(alert.id, CITIZEN_PORTAL))).to.equal("FORBIDDEN");
      expect(await codeOf(h.store.acknowledge("0000000000000999", ADMIN))).to.equal("NOT_FOUND");
      expect(await codeOf(h.store.acknowledge("../x", ADMIN))).to.equal("NOT_FOUND");
    });

    it("keeps the first acknowledgement, also when two arrive at once", async () => {
      const alert = byEvent.get("anchoring")!;
      const [first, second] = await Promise.all([h.store.acknowledge(alert.id, AUDITOR), h.store.acknowledge(alert.id, ADMIN)]);
      expect(second).to.deep.equal(first);
      expect(first.acknowledgedBy).to.equal(AUDITOR.id);
      expect((await h.store.acknowledge(alert.id, REGULATOR_330102)).acknowledgedBy).to.equal(AUDITOR.id);
    });

    it("filters by kind, severity, acknowledgement and event, and keeps it all across a reopen", async () => {
      await h.store.acknowledge(byEvent.get(1)!.id, ADMIN);
      await h.reopen();
      const ids = async (query: Parameters<typeof h.store.list>[1]) => (await h.store.list(ADMIN, query)).alerts.map((a) => a.eventIndex ?? a.kind).reverse();
      expect(await ids({ limit: 50, kind: "negative-list" })).to.deep.equal([0, 1, 2]);
      expect(await ids({ limit: 50, kind: "anchoring" })).to.deep.equal(["anchoring"]);
      expect(await ids({ limit: 50, severity: "critical" })).to.deep.equal(["anchoring"]);
      expect(await ids({ limit: 50, acknowledged: true })).to.deep.equal([1]);
      expect(await ids({ limit: 50, acknowledged: false })).to.deep.equal([0, 2, "anchoring", "policy"]);
      expect(await ids({ limit: 50, eventIndex: 2 })).to.deep.equal([2]);
      expect(await ids({ limit: 50, eventIndex: 9 })).to.deep.equal([]);
      expect((await h.store.get(byEvent.get(1)!.id))?.acknowledgedBy).to.equal(ADMIN.id);
    });
  });

  describe("pagination", () => {
    beforeEach(async () => {
      h = await Harness.open(
        policy({ negativeList: [NO_MARKETING, { id: "NL-ALL", description: "every share", severity: "info", eventTypes: ["share"], datasets: ["*"] }] }),
      );
      // 12 events, 2 alerts each, and a system alert in between.
      await h.feed(Array.from({ length: 6 }, (_, i) => record(i, event({ purpose: "marketing" }))));
      await h.store.create({ kind: "policy", severity: "info", message: "between" });
      await h.feed(Array.from({ length: 6 }, (_, i) => record(6 + i, event({ purpose: "marketing" }))));
    });

    it("walks all alerts newest first with the cursor, without repeats", async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await h.store.list(ADMIN, { limit: 10, cursor });
        seen.push(...page.alerts.map((a) => a.id));
        cursor = page.next ?? undefined;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).to.equal(3);
      expect(seen).to.have.length(25);
      expect(new Set(seen).size).to.equal(25);
      expect([...seen].sort().reverse()).to.deep.equal(seen);
    });

    it("pages a filtered listing and an event's alerts", async () => {
      const first = await h.store.list(ADMIN, { limit: 4, severity: "info" });
      expect(first.alerts.map((a) => a.severity)).to.deep.equal(["info", "info", "info", "info"]);
      const second = await h.store.list(ADMIN, { limit: 4, severity: "info", cursor: first.next! });
      expect(second.alerts[0]!.id < first.alerts[3]!.id).to.equal(true);

      const byEvent = await h.store.list(ADMIN, { limit: 1, eventIndex: 3 });
      expect(byEvent.alerts.map((a) => a.ruleId)).to.deep.equal(["NL-ALL"]);
      const rest = await h.store.list(ADMIN, { limit: 1, eventIndex: 3, cursor: byEvent.next! });
      expect(rest.alerts.map((a) => a.ruleId)).to.deep.equal(["NL-MKT"]);
      const end = await h.store.list(ADMIN, { limit: 1, eventIndex: 3, cursor: rest.next! });
      expect(end).to.deep.equal({ alerts: [], next: null });
    });

    it("refuses a malformed cursor", async () => {
      expect(await codeOf(h.store.list(ADMIN, { limit: 10, cursor: "a|zz" }))).to.equal("BAD_REQUEST");
    });
  });
});
