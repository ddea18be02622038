/**
 * The negative list and early warning through a whole running gateway, over HTTP:
 * a policy file (POLICY_FILE) with one rule of each kind of condition (dataset,
 * fields and recipient orgs; forbidden purposes; recipient level; recipient
 * outside the actor's county; allowed purposes) and both thresholds. Each
 * violating event is stored (index, receipt) and flagged, with one alert per rule
 * for the right regulators only; events that narrowly miss a rule are not;
 * the distinct-subjects-per-operator-hour threshold and an export spike raise
 * exactly one alert each. Hot reload: a new rule judges later events; an invalid
 * rewrite keeps the old policy and raises a `policy` alert. Webhooks: a local
 * receiver gets every alert signed (X-Ledger-Signature = HMAC-SHA256 of the body),
 * failing twice first. Restart on the same DATA_DIR: every alert still listed,
 * acknowledgements kept, a pending delivery resumed, nothing duplicated.
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { makeTempDir, removeDir, waitFor, waitForReceipt, type TestEvent } from "../support/gateway-harness";
import { ORG, orgInside, queryString, startOversightGateway, submitAll, type OversightGateway } from "../support/oversight-world";

const SECRET = "e2e-webhook-secret-0123456789abcdef";
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const CST_MS = 8 * HOUR_MS;

/** The local (+08:00) day `daysAgo` days before now, and an occurredAt on it. */
const localDay = (daysAgo: number) => new Date(Date.now() + CST_MS - daysAgo * DAY_MS).toISOString().slice(0, 10);
const onDay = (daysAgo: number, hh: number, mm: number) => `${localDay(daysAgo)}T${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}:00+08:00`;
/** The local clock hour `hoursAgo` hours before now, and an occurredAt in it. */
const localHour = (hoursAgo: number) => new Date(Date.now() + CST_MS - hoursAgo * HOUR_MS).toISOString().slice(0, 13);
const inHour = (hour: string, minute: number) => `${hour}:${String(minute).padStart(2, "0")}:00+08:00`;

function policyDocument(url: string, extraRules: object[] = []) {
  return {
    version: 1,
    description: "oversight e2e policy",
    timeZone: "+08:00",
    negativeList: [
      {
        id: "E-HR-COMMERCIAL",
        description: "household ID numbers never reach commercial organisations",
        severity: "critical",
        eventTypes: ["share", "export"],
        datasets: ["household-registry*"],
        fields: ["id-number", "id-card-*"],
        recipient: { orgs: ["*:commercial-*"] },
      },
      {
        id: "E-HE-MARKETING",
        description: "health records are not for marketing",
        severity: "critical",
        eventTypes: ["share", "use", "export"],
        datasets: ["health-*"],
        purposes: { forbidden: ["*marketing*", "*广告*"] },
      },
      { id: "E-GRID-ID", description: "grids do not receive ID numbers", severity: "warning", eventTypes: ["share"], fields: ["id-number"], recipient: { levels: ["grid"] } },
      {
        id: "E-SA-COUNTY",
        description: "social assistance data stays in the actor's county",
        severity: "warning",
        eventTypes: ["share", "export"],
        datasets: ["social-assistance*"],
        recipient: { outsideActorJurisdiction: "county" },
      },
      {
        id: "E-RE-PURPOSE",
        description: "real-estate registry only for statutory purposes",
        severity: "warning",
        eventTypes: ["access"],
        datasets: ["real-estate-registry"],
        purposes: { allowed: ["judicial enforcement*", "tax assessment*"] },
      },
      ...extraRules,
    ],
    thresholds: {
      distinctSubjectsPerOperatorPerHour: { limit: 5, severity: "warning", eventTypes: ["access"] },
      exportVolume: { factor: 3, baselineDays: 3, minCount: 4, severity: "critical" },
    },
    webhooks: [{ url, secret: SECRET }],
  };
}

const NEW_RULE = { id: "E-NEW-PHONE-EXPORT", description: "no export of phone numbers", severity: "info", eventTypes: ["export"], fields: ["phone"] };

let counter = 0;
/** An event with quiet defaults (no subject, no recipient, a dataset no rule names, an old day); `o` overrides. */
type Overrides = Omit<Partial<TestEvent>, "actor"> & { actor?: Partial<TestEvent["actor"]> };

function ev(o: Overrides = {}): TestEvent {
  counter += 1;
  const { actor, ...rest } = o;
  return {
    type: "access",
    actor: { org: ORG.a1Civil, system: "e2e-sys", operator: `op-nl-${counter}`, ...actor },
    dataset: "grid-inspections",
    purpose: "routine check",
    legalBasis: "Regulation 12",
    fields: ["name"],
    // Well before the thresholds' horizons (48 h, baseline + 1 day): only the negative list judges it.
    occurredAt: "2026-11-10T10:00:00+08:00",
    requestId: `e2e.${counter}.rq`,
    ...rest,
  };
}

interface Case {
  label: string;
  event: TestEvent;
  rules: string[];
  index?: number;
}

/** One violating event per rule (one violating two), and events that narrowly miss each. */
function negativeListCases(): Case[] {
  const c = (label: string, rules: string[], event: TestEvent): Case => ({ label, event, rules });
  return [
    c("ID numbers shared to a commercial bank", ["E-HR-COMMERCIAL"], ev({ type: "share", dataset: "household-registry", fields: ["name", "id-number"], recipient: { org: ORG.shanghaiBank } })),
    c("household registry to the bank without ID numbers", [], ev({ type: "share", dataset: "household-registry", fields: ["name", "address"], recipient: { org: ORG.shanghaiBank } })),
    c("ID numbers to a market regulator (not commercial)", [], ev({ type: "share", dataset: "household-registry", fields: ["id-number"], recipient: { org: ORG.shanghaiMarket } })),
    c("ID numbers of health records to the bank", [], ev({ type: "share", dataset: "health-records", fields: ["id-number"], recipient: { org: ORG.shanghaiBank } })),
    c("health records used for marketing", ["E-HE-MARKETING"], ev({ type: "use", dataset: "health-records", purpose: "  Targeted MARKETING   campaign " })),
    c("health records used for an epidemic follow-up", [], ev({ type: "use", dataset: "health-records", purpose: "epidemic follow-up" })),
    c("household registry used for marketing", [], ev({ type: "use", dataset: "household-registry", purpose: "marketing" })),
    c("health records accessed for marketing (type not listed)", [], ev({ type: "access", dataset: "health-records", purpose: "marketing" })),
    c("ID numbers shared to a grid", ["E-GRID-ID"], ev({ type: "share", fields: ["id-number"], recipient: { org: ORG.a1Grid1 } })),
    c("ID numbers shared to a village", [], ev({ type: "share", fields: ["id-number"], recipient: { org: ORG.a1Village } })),
    c("names shared to a grid", [], ev({ type: "share", fields: ["name"], recipient: { org: ORG.a1Grid2 } })),
    c("social assistance shared to another county", ["E-SA-COUNTY"], ev({ type: "share", dataset: "social-assistance", recipient: { org: ORG.a2Civil } })),
    c("social assistance shared inside the county", [], ev({ type: "share", dataset: "social-assistance", recipient: { org: ORG.a1Township } })),
    c("social assistance from a township to its county's grid", [], ev({ type: "share", dataset: "social-assistance", actor: { org: ORG.a1Township }, recipient: { org: ORG.a1Grid1 } })),
    c("real estate accessed for mortgage marketing", ["E-RE-PURPOSE"], ev({ type: "access", dataset: "real-estate-registry", purpose: "mortgage marketing" })),
    c("real estate accessed for judicial enforcement", [], ev({ type: "access", dataset: "real-estate-registry", purpose: "  Judicial   Enforcement of ruling 2026-17 " })),
    c("real estate accessed for a tax assessment", [], ev({ type: "access", dataset: "real-estate-registry", purpose: "tax assessment" })),
    c(
      "ID numbers of social assistance shared to another county's grid",
      ["E-GRID-ID", "E-SA-COUNTY"],
      ev({ type: "share", dataset: "social-assistance", fields: ["id-number"], recipient: { org: ORG.a2Grid } }),
    ),
  ];
}

interface Hook {
  status: number;
  deliveryId: string;
  signature: string;
  body: string;
}

describe("oversight: negative list, thresholds, hot reload, webhooks and restart, end to end", function () {
  this.timeout(120_000);

  let dir: string;
  let dataDir: string;
  let policyFile: string;
  let g: OversightGateway;
  let receiver: http.Server;
  let hookUrl: string;
  /** "flaky": the first delivery's first two requests fail with 500, the rest succeed; "down": every request fails with 503; "up": 200. */
  let hookMode: "flaky" | "down" | "up" = "flaky";
  let firstDelivery: string | undefined;
  const hooks: Hook[] = [];
  let submitter: string;
  const regulators: Record<string, { key: string; jurisdiction: string }> = {};
  const cases = negativeListCases();
  let burstIndices: number[] = [];
  let spikeIndices: number[] = [];

  const admin = () => g.keys.admin.key;
  const listAlerts = async (key: string, query: Record<string, string> = {}) => {
    const all: any[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const r = await g.api("GET", `/v1/alerts${queryString({ ...query, limit: "20", cursor })}`, { key });
      expect(r.status, r.text).to.equal(200);
      all.push(...r.body.alerts);
      if (r.body.next === null) return all;
      cursor = r.body.next;
    }
    throw new Error("alert listing did not end");
  };
  const writePolicy = (document: unknown) => {
    // Replace the file at once (an editor's save), so a reload never reads half of it.
    const temp = `${policyFile}.tmp`;
    writeFileSync(temp, typeof document === "string" ? document : JSON.stringify(document, null, 2));
    renameSync(temp, policyFile);
  };
  const flagsOf = async (index: number, key = admin()) => {
    const r = await g.api("GET", `/v1/events/${index}`, { key });
    expect(r.status, r.text).to.equal(200);
    return (r.body.flags as { ruleId: string }[]).map((f) => f.ruleId).sort();
  };
  const start = () =>
    startOversightGateway({ dataDir, env: { POLICY_FILE: policyFile, POLICY_POLL_MS: "100" } });

  before(async () => {
    dir = makeTempDir("oversight-alerts-");
    dataDir = path.join(dir, "data");
    policyFile = path.join(dir, "policy.json");
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const deliveryId = String(req.headers["x-ledger-delivery"]);
        firstDelivery ??= deliveryId;
        const failFirst = hookMode === "flaky" && deliveryId === firstDelivery && hooks.filter((h) => h.deliveryId === deliveryId).length < 2;
        const status = hookMode === "down" ? 503 : failFirst ? 500 : 200;
        hooks.push({ status, deliveryId, signature: String(req.headers["x-ledger-signature"]), body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ledger/alerts`;
    writePolicy(policyDocument(hookUrl));
    g = await start();
    submitter = (await g.createKey({ name: "submitter anywhere", role: "submitter" })).key;
    for (const [name, jurisdiction] of [["A1", "330102000000"], ["A2", "330103000000"], ["Ningbo", "330200000000"], ["Shanghai", "310000000000"], ["grid", "330102003004-G01"]] as const) {
      regulators[name] = { key: (await g.createKey({ name: `regulator ${name}`, role: "regulator", jurisdiction })).key, jurisdiction };
    }
  });

  after(async () => {
    if (g) await g.stop();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    receiver?.closeAllConnections();
    removeDir(dir);
  });

  it("each violating event is stored with an index and a receipt, and flagged with the rules it violates; near misses are not", async () => {
    const indices = await submitAll(g, submitter, cases.map((c) => c.event));
    cases.forEach((c, i) => (c.index = indices[i]));
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    for (const c of cases) {
      expect(await flagsOf(c.index!), c.label).to.deep.equal([...c.rules].sort());
    }
    for (const c of cases.filter((x) => x.rules.length > 0)) {
      const receipt = await waitForReceipt(g.url, admin(), c.index!);
      expect(receipt.entry.index).to.equal(c.index);
      expect(receipt.entry.envelope.event.requestId).to.equal(c.event.requestId);
    }
  });

  it("one negative-list alert per violated rule, with the event's facts", async () => {
    const alerts = await listAlerts(admin(), { kind: "negative-list" });
    const expected = cases.flatMap((c) => c.rules.map((ruleId) => `${ruleId}@${c.index}`)).sort();
    expect(alerts.map((a) => `${a.ruleId}@${a.eventIndex}`).sort()).to.deep.equal(expected);
    for (const a of alerts) {
      const c = cases.find((x) => x.index === a.eventIndex)!;
      expect(a.actorOrg).to.equal(c.event.actor.org);
      expect(a.recipientOrg).to.equal(c.event.recipient?.org);
      expect(a.dataset).to.equal(c.event.dataset);
      const rules = policyDocument(hookUrl).negativeList as { id: string; severity: string }[];
      expect(a.severity).to.equal(rules.find((r) => r.id === a.ruleId)!.severity);
      expect(a.message).to.include(a.ruleId);
      expect(a.acknowledgedAt).to.equal(undefined);
    }
    // ?eventIndex= finds the alerts of one event.
    const two = cases.find((c) => c.rules.length === 2)!;
    const ofTwo = await g.api("GET", `/v1/alerts?eventIndex=${two.index}`, { key: admin() });
    expect(ofTwo.body.alerts.map((a: { ruleId: string }) => a.ruleId).sort()).to.deep.equal([...two.rules].sort());
  });

  it("each regulator lists (and sees flagged) only the alerts whose actor or recipient lies in its jurisdiction", async () => {
    const all = await listAlerts(admin(), { kind: "negative-list" });
    for (const [name, r] of Object.entries(regulators)) {
      const mine = await listAlerts(r.key, { kind: "negative-list" });
      const expected = all.filter((a) => orgInside(a.actorOrg, r.jurisdiction) || (a.recipientOrg && orgInside(a.recipientOrg, r.jurisdiction))).map((a) => a.id).sort();
      expect(mine.map((a) => a.id).sort(), name).to.deep.equal(expected);
    }
    // Concretely: the share to another county is A1's and A2's, not Ningbo's; the bank share is A1's and Shanghai's.
    const sa = cases.find((c) => c.rules.join() === "E-SA-COUNTY")!;
    expect(await flagsOf(sa.index!, regulators.A2!.key)).to.deep.equal(["E-SA-COUNTY"]);
    expect((await g.api("GET", `/v1/events/${sa.index}`, { key: regulators.Ningbo!.key })).status).to.equal(404);
    const bank = cases.find((c) => c.rules.join() === "E-HR-COMMERCIAL")!;
    expect(await flagsOf(bank.index!, regulators.Shanghai!.key)).to.deep.equal(["E-HR-COMMERCIAL"]);
    expect((await listAlerts(regulators.Ningbo!.key, { kind: "negative-list" })).length).to.equal(0);
  });

  it("an operator touching more than `limit` distinct subjects in one hour raises exactly one threshold alert; at the limit, repeats, other hours and other types raise none", async () => {
    const hour = localHour(2);
    const earlier = localHour(3);
    const burst = (subject: string, minute: number, o: Overrides = {}) =>
      ev({ actor: { org: ORG.a1Grid1, operator: "op-burst" }, subject, occurredAt: inHour(hour, minute), recipient: { org: ORG.a2Civil }, dataset: "household-registry", ...o });
    const events: TestEvent[] = [
      // Another hour: 3 subjects (counted apart).
      ...[1, 2, 3].map((n) => burst(`subj-early-${n}`, 5 + n, { occurredAt: inHour(earlier, 10 + n) })),
      // Not counted: `use` is not among the threshold's event types.
      ...[1, 2, 3, 4, 5, 6].map((n) => burst(`subj-use-${n}`, n, { type: "use" })),
      // This hour: 8 distinct subjects with repeats in between → above 5 at the 6th distinct one.
      ...[1, 2, 3, 1, 2, 4, 5, 5, 6, 7, 8].map((n, i) => burst(`subj-burst-${n}`, 10 + i)),
      // A calm operator exactly at the limit.
      ...[1, 2, 3, 4, 5, 5, 4].map((n, i) => ev({ actor: { org: ORG.a1Grid1, operator: "op-calm" }, subject: `subj-calm-${n}`, occurredAt: inHour(hour, 30 + i) })),
    ];
    burstIndices = await submitAll(g, submitter, events);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    const thresholds = (await listAlerts(admin(), { kind: "threshold" })).filter((a) => a.ruleId === "distinctSubjectsPerOperatorPerHour");
    expect(thresholds, JSON.stringify(thresholds)).to.have.length(1);
    const [alert] = thresholds;
    // The 6th distinct subject of the hour is the 9th event of the burst (after 3 + 6 others).
    expect(alert.eventIndex).to.equal(burstIndices[3 + 6 + 8]);
    expect(alert.actorOrg).to.equal(ORG.a1Grid1);
    expect(alert.message).to.include("op-burst");
    // About the operator, not the recipient: A1 and the grid regulator see it, A2 (the events' recipient) does not.
    for (const [name, visibleTo] of [["A1", true], ["grid", true], ["A2", false], ["Ningbo", false]] as const) {
      const ids = (await listAlerts(regulators[name]!.key, { kind: "threshold" })).map((a) => a.id);
      expect(ids.includes(alert.id), name).to.equal(visibleTo);
    }
  });

  it("an export spike (above factor × the baseline and at least minCount) raises exactly one alert; a department at factor × its baseline raises none", async () => {
    const exp = (org: string, daysAgo: number, n: number) =>
      ev({ type: "export", actor: { org, operator: "op-export" }, dataset: "statistics-extract", fields: ["income"], occurredAt: onDay(daysAgo, 9, n) });
    const events: TestEvent[] = [
      // Baselines first (the observer reads them when the spike day reaches minCount).
      ...[3, 2, 1].map((d) => exp(ORG.b1Civil, d, 0)),
      ...[3, 2, 1].flatMap((d) => [exp(ORG.a2Civil, d, 0), exp(ORG.a2Civil, d, 1)]),
      // Today: 6 exports each. Ningbo's 4th is above 3 × 1 → alert; A2's 6 are not above 3 × 2.
      ...[0, 1, 2, 3, 4, 5].map((n) => exp(ORG.b1Civil, 0, 10 + n)),
      ...[0, 1, 2, 3, 4, 5].map((n) => exp(ORG.a2Civil, 0, 10 + n)),
    ];
    spikeIndices = await submitAll(g, submitter, events);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    const spikes = (await listAlerts(admin(), { kind: "threshold" })).filter((a) => a.ruleId === "exportVolume");
    expect(spikes, JSON.stringify(spikes)).to.have.length(1);
    expect(spikes[0].actorOrg).to.equal(ORG.b1Civil);
    expect(spikes[0].eventIndex).to.equal(spikeIndices[3 + 6 + 3]);
    expect(spikes[0].severity).to.equal("critical");
    expect((await listAlerts(regulators.Ningbo!.key, { kind: "threshold" })).map((a) => a.id)).to.deep.equal([spikes[0].id]);
    expect((await listAlerts(regulators.A2!.key, { kind: "threshold" })).map((a) => a.id)).to.not.include(spikes[0].id);
  });

  it("hot reload: a rule added to the policy file judges the events that follow it, not those before", async () => {
    const phoneExport = () => ev({ type: "export", fields: ["phone"], dataset: "contact-list", actor: { org: ORG.a2Civil } });
    const [before] = await submitAll(g, submitter, [phoneExport()]);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    expect(await flagsOf(before!)).to.deep.equal([]);

    writePolicy(policyDocument(hookUrl, [NEW_RULE]));
    await waitFor("the new policy in force", async () => {
      const r = await g.api("GET", "/v1/policy", { key: admin() });
      return r.body.status.rules === 6 ? true : undefined;
    }, 15_000);
    const [after] = await submitAll(g, submitter, [phoneExport()]);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    expect(await flagsOf(after!)).to.deep.equal(["E-NEW-PHONE-EXPORT"]);
    expect(await flagsOf(before!)).to.deep.equal([]);
    expect((await flagsOf(after!, regulators.A2!.key))).to.deep.equal(["E-NEW-PHONE-EXPORT"]);
    // GET /v1/policy shows the rules, never the webhook secret.
    const shown = await g.api("GET", "/v1/policy", { key: regulators.A1!.key });
    expect(shown.status).to.equal(200);
    expect(shown.text).to.not.include(SECRET);
    expect(shown.body.policy.negativeList.map((r: { id: string }) => r.id)).to.include("E-NEW-PHONE-EXPORT");
  });

  it("hot reload: an invalid rewrite keeps the previous policy in force and raises one `policy` alert", async () => {
    writePolicy({ version: 1, negativeList: [{ id: "bad id!", description: "x", severity: "fatal" }] });
    const policyAlert = await waitFor("a policy alert", async () => {
      const list = await listAlerts(admin(), { kind: "policy" });
      return list.length > 0 ? list : undefined;
    }, 15_000);
    expect(policyAlert).to.have.length(1);
    expect(policyAlert[0].severity).to.equal("warning");
    const status = (await g.api("GET", "/v1/policy", { key: admin() })).body.status;
    expect(status.rules).to.equal(6);
    expect(status.error.issues.map((i: { path: string }) => i.path)).to.include.members(["negativeList[0].id", "negativeList[0].severity"]);
    // The old policy still judges: a phone export is flagged by the rule added before.
    const [later] = await submitAll(g, submitter, [ev({ type: "export", fields: ["phone"], dataset: "contact-list" })]);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    expect(await flagsOf(later!)).to.deep.equal(["E-NEW-PHONE-EXPORT"]);
    // A system alert: regulators see it, submitters do not.
    expect((await listAlerts(regulators.Ningbo!.key, { kind: "policy" })).map((a) => a.id)).to.deep.equal([policyAlert[0].id]);
    expect((await listAlerts(submitter, { kind: "policy" })).length).to.equal(0);
    // Back to a valid file (the gateway refuses to boot on an invalid one).
    writePolicy(policyDocument(hookUrl, [NEW_RULE]));
    await waitFor("the policy error cleared", async () => ((await g.api("GET", "/v1/policy", { key: admin() })).body.status.error === undefined ? true : undefined), 15_000);
    expect((await listAlerts(admin(), { kind: "policy" })).length, "restoring the same valid policy raises nothing").to.equal(1);
  });

  it("the webhook receives every alert once, signed with HMAC-SHA256 of the body, after failing twice first", async () => {
    const alerts = await listAlerts(admin());
    const delivered = await waitFor("every alert delivered", () => {
      const ok = hooks.filter((h) => h.status === 200);
      return ok.length >= alerts.length ? ok : undefined;
    }, 30_000);
    expect(delivered.map((h) => h.deliveryId).sort(), "one successful delivery per alert").to.deep.equal(alerts.map((a) => `${a.id}-0`).sort());
    for (const h of hooks) {
      expect(h.signature, h.deliveryId).to.equal("sha256=" + createHmac("sha256", SECRET).update(h.body, "utf8").digest("hex"));
      const sent = JSON.parse(h.body).alert;
      expect(`${sent.id}-0`).to.equal(h.deliveryId);
    }
    for (const h of delivered) expect(JSON.parse(h.body).alert, h.deliveryId).to.deep.equal(alerts.find((a) => `${a.id}-0` === h.deliveryId));
    // The first delivery failed twice, then succeeded on its third attempt (the outbox agrees); no other failed.
    const first = hooks[0]!;
    expect(first.deliveryId).to.equal(firstDelivery);
    expect(hooks.filter((h) => h.deliveryId === first.deliveryId).map((h) => h.status)).to.deep.equal([500, 500, 200]);
    expect(hooks.filter((h) => h.status !== 200)).to.have.length(2);
    const [record] = await g.gateway.alerts.store.outbox.forAlert(first.deliveryId.replace(/-0$/, ""));
    expect(record).to.deep.include({ status: "delivered", attempts: 3 });
  });

  it("restart on the same DATA_DIR: alerts listed as before, acknowledgements kept, the pending delivery resumed, nothing duplicated", async () => {
    // Acknowledge two alerts: one as a regulator, one as the admin.
    const a1Alerts = await listAlerts(regulators.A1!.key, { kind: "negative-list" });
    const ackA1 = await g.api("POST", `/v1/alerts/${a1Alerts[0].id}/ack`, { key: regulators.A1!.key });
    expect(ackA1.status, ackA1.text).to.equal(200);
    const threshold = (await listAlerts(admin(), { kind: "threshold" }))[0];
    expect((await g.api("POST", `/v1/alerts/${threshold.id}/ack`, { key: admin() })).status).to.equal(200);

    // The receiver goes down; a new alert's delivery fails and stays pending.
    hookMode = "down";
    const [pendingEvent] = await submitAll(g, submitter, [ev({ type: "share", dataset: "social-assistance", recipient: { org: ORG.b1Civil } })]);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    const [pendingAlert] = (await g.api("GET", `/v1/alerts?eventIndex=${pendingEvent}`, { key: admin() })).body.alerts;
    expect(pendingAlert.ruleId).to.equal("E-SA-COUNTY");
    await waitFor("a failed attempt", () => (hooks.some((h) => h.deliveryId === `${pendingAlert.id}-0` && h.status === 503) ? true : undefined), 15_000);
    const beforeStop = await listAlerts(admin());
    const [pendingRecord] = await g.gateway.alerts.store.outbox.forAlert(pendingAlert.id);
    expect(pendingRecord!.status).to.equal("pending");
    await g.stop();

    hookMode = "up";
    g = await start();
    const afterRestart = await listAlerts(admin());
    expect(afterRestart, "every alert, with its acknowledgement").to.deep.equal(beforeStop);
    const ids = afterRestart.map((a) => a.id);
    expect(new Set(ids).size).to.equal(ids.length);
    const facts = afterRestart.filter((a) => a.eventIndex !== undefined).map((a) => `${a.kind}/${a.ruleId}@${a.eventIndex}`);
    expect(new Set(facts).size, "no alert raised twice for one event and rule").to.equal(facts.length);
    expect(afterRestart.find((a) => a.id === a1Alerts[0].id).acknowledgedBy).to.be.a("string");
    expect(afterRestart.find((a) => a.id === threshold.id).acknowledgedAt).to.be.a("string");
    expect((await listAlerts(regulators.A1!.key, { acknowledged: "true" })).map((a) => a.id)).to.include(a1Alerts[0].id);

    // The pending delivery resumes and succeeds; delivered ones are not sent again.
    await waitFor("the pending delivery after restart", () => (hooks.some((h) => h.deliveryId === `${pendingAlert.id}-0` && h.status === 200) ? true : undefined), 20_000);
    const okCounts = new Map<string, number>();
    for (const h of hooks.filter((x) => x.status === 200)) okCounts.set(h.deliveryId, (okCounts.get(h.deliveryId) ?? 0) + 1);
    for (const [id, n] of okCounts) expect(n, `successful deliveries of ${id}`).to.equal(1);
    const resumed = hooks.filter((h) => h.deliveryId === `${pendingAlert.id}-0` && h.status === 200);
    expect(resumed[0]!.signature).to.equal("sha256=" + createHmac("sha256", SECRET).update(resumed[0]!.body, "utf8").digest("hex"));

    // Thresholds remember their state: more distinct subjects for op-burst in the same hour raise nothing new.
    const hour = localHour(2);
    const more = [9, 10, 11].map((n) => ev({ actor: { org: ORG.a1Grid1, operator: "op-burst" }, subject: `subj-burst-${n}`, occurredAt: inHour(hour, 40 + n) }));
    // A new violation gets a new id, above every earlier one.
    const [fresh] = await submitAll(g, submitter, [...more, ev({ type: "use", dataset: "health-records", purpose: "advertising and marketing" })]).then((x) => x.slice(-1));
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    const final = await listAlerts(admin());
    expect(final.filter((a) => a.ruleId === "distinctSubjectsPerOperatorPerHour")).to.have.length(1);
    const added = final.filter((a) => !ids.includes(a.id));
    expect(added.map((a) => `${a.ruleId}@${a.eventIndex}`)).to.deep.equal([`E-HE-MARKETING@${fresh}`]);
    expect(added[0].id > ids.sort().at(-1)!).to.equal(true);
    // The earlier events kept their flags.
    for (const c of cases) expect(await flagsOf(c.index!), c.label).to.deep.equal([...c.rules].sort());
    void burstIndices;
  });
});
