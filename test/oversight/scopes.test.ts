/**
 * Every read is checked: on one real gateway seeded with a multi-county world
 * (two cities, three counties of Zhejiang plus a Shanghai county; townships,
 * villages, grids; shares across counties), each key — regulators bound to a
 * grid, a village, a township, a county, a city and the province, auditors bound
 * to datasets and/or departments, submitters, a citizen portal — gets from every
 * endpoint exactly what its scope allows, compared with expectations computed
 * here from the seeded events (test/support/oversight-world.ts), not from the
 * server's code. In particular a county regulator cannot read another county's
 * events by any endpoint.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { makeTempDir, removeDir, waitFor, type ApiResponse } from "../support/gateway-harness";
import {
  ALL_ORGS,
  DATASETS,
  ORG,
  REGISTRY,
  SUBJECTS,
  TYPES,
  expectedStatistics,
  generateEvents,
  mapLimit,
  matches,
  newestFirst,
  orgInside,
  pick,
  prng,
  queryString,
  startOversightGateway,
  storedForm,
  submitAll,
  visible,
  walkEvents,
  type EventFilter,
  type OversightGateway,
  type Scope,
  type Seeded,
} from "../support/oversight-world";

/** The negative list of this file: two rules that some seeded events violate. */
const POLICY = {
  version: 1,
  negativeList: [
    { id: "SC-SA-SHARE", description: "social assistance data is not shared", severity: "warning", eventTypes: ["share"], datasets: ["social-assistance"] },
    { id: "SC-ID-EXPORT", description: "no export of ID numbers", severity: "critical", eventTypes: ["export"], fields: ["id-number"] },
  ],
};

/** The same rules, evaluated here on a seeded event. */
function expectedRules(s: Seeded): string[] {
  const rules: string[] = [];
  if (s.event.type === "share" && s.event.dataset === "social-assistance") rules.push("SC-SA-SHARE");
  if (s.event.type === "export" && s.event.fields.includes("id-number")) rules.push("SC-ID-EXPORT");
  return rules;
}

const FROM_DAY = "2026-11-20";
const TO_DAY = "2026-11-25";
const EVENT_COUNT = 160;

const A1 = "330102000000";
const A2 = "330103000000";

interface Key {
  name: string;
  key: string;
  scope: Scope;
}

/** Filters tried with every key: every dimension, inside and outside each scope, and combinations. */
const FILTERS: EventFilter[] = [
  {},
  ...["330000000000", "330100000000", A1, "330102003000", "330102003004", "330102003004-G01", A2, "330103001002-G01", "330200000000", "310000000000"].map((division) => ({ division })),
  ...ALL_ORGS.map((org) => ({ org })),
  ...[ORG.a1Civil, ORG.a1Village, ORG.a2Civil, ORG.hangzhouData, ORG.province, ORG.a2Grid].map((org) => ({ org, subtree: "true" })),
  ...DATASETS.map((dataset) => ({ dataset })),
  ...TYPES.map((type) => ({ type })),
  ...SUBJECTS.slice(0, 6).map((subject) => ({ subject })),
  ...[ORG.a1Civil, ORG.a2Civil, ORG.a2Grid, ORG.a1Grid1, ORG.b1Civil, ORG.shanghaiBank].map((recipient) => ({ recipient })),
  { from: "2026-11-22T00:00:00+08:00", to: "2026-11-23T12:00:00Z" },
  { from: "2026-11-24T00:00:00Z" },
  { to: "2026-11-21T06:00:00+08:00" },
  { division: A2, type: "share" },
  { org: ORG.a2Civil, dataset: "social-assistance" },
  { subject: SUBJECTS[0]!, division: A1 },
  { recipient: ORG.a2Civil, from: "2026-11-21T00:00:00Z", to: "2026-11-25T00:00:00Z" },
  { division: "330100000000", type: "access", dataset: "health-records" },
];

describe("oversight: every endpoint respects each key's scope", function () {
  this.timeout(120_000);

  let g: OversightGateway;
  let dir: string;
  const seeded: Seeded[] = [];
  const keys: Record<string, Key> = {};
  /** Expected negative-list alerts: rule and event. */
  const expectedAlerts: { ruleId: string; eventIndex: number }[] = [];
  /** Alert id → { event index, rule }, as listed to the admin. */
  const alerts = new Map<string, { eventIndex: number; ruleId: string }>();

  const scoped = () => Object.values(keys).filter((k) => k.scope.role !== "citizen-portal");
  const regulators = () => Object.values(keys).filter((k) => k.scope.role === "regulator");
  const byIndex = new Map<number, Seeded>();
  const expectedFor = (scope: Scope, filter: EventFilter = {}) => newestFirst(seeded.filter((s) => visible(scope, s) && matches(filter, s)));

  before(async () => {
    dir = makeTempDir("oversight-scopes-");
    const policyFile = path.join(dir, "policy.json");
    const orgsFile = path.join(dir, "orgs.json");
    writeFileSync(policyFile, JSON.stringify(POLICY));
    writeFileSync(orgsFile, JSON.stringify(REGISTRY));
    g = await startOversightGateway({ env: { POLICY_FILE: policyFile, ORGS_FILE: orgsFile } });

    keys.admin = { name: "admin", key: g.keys.admin.key, scope: { role: "admin" } };
    const make = async (name: string, scope: Scope, params: { role: string; jurisdiction?: string; datasets?: string[]; orgs?: string[] }) => {
      const made = await g.createKey({ name, ...params });
      keys[name] = { name, key: made.key, scope: scope.role === "submitter" ? { role: "submitter", id: made.id } : scope };
      return made.id;
    };
    for (const [name, jurisdiction] of [
      ["regulator A1 county", A1],
      ["regulator A2 county", A2],
      ["regulator grid G01", "330102003004-G01"],
      ["regulator village", "330102003004"],
      ["regulator A2 township", "330103001000"],
      ["regulator Hangzhou city", "330100000000"],
      ["regulator Ningbo city", "330200000000"],
      ["regulator province", "330000000000"],
    ] as const) {
      await make(name, { role: "regulator", jurisdiction }, { role: "regulator", jurisdiction });
    }
    keys["auditor unbound"] = { name: "auditor unbound", key: g.keys.auditor.key, scope: { role: "auditor" } };
    const auditors: [string, { datasets?: string[]; orgs?: string[] }][] = [
      ["auditor of two datasets", { datasets: ["health-records", "social-assistance"] }],
      ["auditor of one dataset", { datasets: ["household-registry"] }],
      ["auditor of two departments", { orgs: [ORG.a2Civil, ORG.a1Grid1] }],
      ["auditor of a dataset and departments", { datasets: ["social-assistance"], orgs: [ORG.a1Civil, ORG.a2Civil] }],
    ];
    for (const [name, binding] of auditors) await make(name, { role: "auditor", ...binding }, { role: "auditor", ...binding });
    const submitters: [string, string | undefined][] = [
      ["submitter A1", A1],
      ["submitter A2", A2],
      ["submitter Zhejiang", "330000000000"],
      ["submitter anywhere", undefined],
    ];
    for (const [name, jurisdiction] of submitters) await make(name, { role: "submitter", id: "" }, { role: "submitter", jurisdiction });
    keys.portal = { name: "portal", key: (await g.createKey({ name: "citizen portal", role: "citizen-portal" })).key, scope: { role: "citizen-portal" } };

    // Each event goes through a submitter allowed to record its actor, chosen at random among those.
    const events = generateEvents(EVENT_COUNT, 20261126, "sc");
    const rng = prng(7);
    const bySubmitter = new Map<string, typeof events>();
    for (const event of events) {
      const able = submitters.filter(([, j]) => j === undefined || orgInside(event.actor.org, j)).map(([name]) => name);
      const name = pick(rng, able);
      bySubmitter.set(name, [...(bySubmitter.get(name) ?? []), event]);
    }
    for (const [name, list] of bySubmitter) {
      // Two requests per submitter, so submitters interleave in the log.
      const half = Math.ceil(list.length / 2);
      for (const part of [list.slice(0, half), list.slice(half)]) {
        const indices = await submitAll(g, keys[name]!.key, part);
        part.forEach((event, i) => seeded.push({ index: indices[i]!, event, submitter: (keys[name]!.scope as { id: string }).id }));
      }
    }
    for (const s of seeded) byIndex.set(s.index, s);
    await g.gateway.indexer.caughtUp(EVENT_COUNT);
    await waitFor("a checkpoint covering every seeded event", async () => {
      const latest = await g.api("GET", "/v1/checkpoints/latest", { key: g.keys.admin.key });
      return latest.status === 200 && latest.body.treeSize >= EVENT_COUNT ? true : undefined;
    }, 30_000);

    for (const s of seeded) for (const ruleId of expectedRules(s)) expectedAlerts.push({ ruleId, eventIndex: s.index });
    const listed = await listAlerts(g.keys.admin.key);
    for (const a of listed) if (a.kind === "negative-list") alerts.set(a.id, { eventIndex: a.eventIndex, ruleId: a.ruleId });
  });

  after(async () => {
    if (g) {
      await g.stop();
      removeDir(g.dataDir);
    }
    removeDir(dir);
  });

  async function listAlerts(key: string, query: Record<string, string> = {}): Promise<any[]> {
    const found: any[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await g.api("GET", `/v1/alerts${queryString({ ...query, limit: "7", cursor })}`, { key });
      expect(r.status, r.text).to.equal(200);
      found.push(...r.body.alerts);
      if (r.body.next === null) return found;
      cursor = r.body.next;
    }
    throw new Error("alert listing did not end");
  }

  it("the seeded world has the cases the scopes must separate", () => {
    expect(seeded).to.have.length(EVENT_COUNT);
    const crossA1toA2 = seeded.filter((s) => orgInside(s.event.actor.org, A1) && s.event.recipient && orgInside(s.event.recipient.org, A2));
    const crossA2toA1 = seeded.filter((s) => orgInside(s.event.actor.org, A2) && s.event.recipient && orgInside(s.event.recipient.org, A1));
    expect(crossA1toA2.length + crossA2toA1.length, "shares across the two counties").to.be.greaterThan(1);
    for (const k of scoped()) {
      const n = expectedFor(k.scope).length;
      expect(n, `${k.name} sees some events`).to.be.greaterThan(0);
      if (k.scope.role !== "admin" && !(k.scope.role === "auditor" && !k.scope.datasets && !k.scope.orgs)) {
        expect(n, `${k.name} does not see every event`).to.be.lessThan(EVENT_COUNT);
      }
    }
    expect(expectedAlerts.length, "events violating the negative list").to.be.greaterThan(3);
    expect(alerts.size, "negative-list alerts listed to the admin").to.equal(expectedAlerts.length);
    expect([...alerts.values()].map((a) => `${a.ruleId}@${a.eventIndex}`).sort()).to.deep.equal(expectedAlerts.map((a) => `${a.ruleId}@${a.eventIndex}`).sort());
  });

  it("GET /v1/events without filters lists exactly each key's events, newest first, as stored (subject pseudonymised)", async () => {
    for (const k of scoped()) {
      const walk = await walkEvents(g, k.key, {}, 23);
      expect(walk.indices, k.name).to.deep.equal(expectedFor(k.scope));
      for (const r of walk.records) expect(r.envelope.event, `${k.name} event ${r.index}`).to.deep.equal(storedForm(g.dataDir, byIndex.get(r.index)!.event));
    }
  });

  it("GET /v1/events with every filter — other counties' divisions and orgs included — answers only events in scope", async () => {
    await mapLimit(scoped(), 4, async (k) => {
      for (const filter of FILTERS) {
        const r = await g.api("GET", `/v1/events${queryString({ ...filter, limit: "500" })}`, { key: k.key });
        expect(r.status, `${k.name} ${JSON.stringify(filter)}: ${r.text}`).to.equal(200);
        expect(r.body.next, `${k.name} ${JSON.stringify(filter)} fits one page`).to.equal(null);
        const got = (r.body.events as { index: number }[]).map((e) => e.index);
        expect(got, `${k.name} ${JSON.stringify(filter)}`).to.deep.equal(expectedFor(k.scope, filter));
      }
    });
  });

  it("a county regulator asking for another county by division= or org= gets nothing of that county that it may not see", async () => {
    const a1 = keys["regulator A1 county"]!;
    for (const filter of [{ division: A2 }, { division: "330103001002-G01" }, { org: ORG.a2Police }, { org: ORG.a2Civil, subtree: "true" }, { division: "330200000000" }]) {
      const walk = await walkEvents(g, a1.key, filter, 5);
      for (const r of walk.records) {
        const { actor, recipient } = r.envelope.event;
        expect(orgInside(actor.org, A1) || (recipient && orgInside(recipient.org, A1)), `event ${r.index} for ${JSON.stringify(filter)}`).to.equal(true);
      }
      expect(walk.indices).to.deep.equal(expectedFor(a1.scope, filter));
    }
    // Events purely inside the other county (actor and recipient there) exist and never show.
    const a2only = seeded.filter((s) => orgInside(s.event.actor.org, A2) && (!s.event.recipient || orgInside(s.event.recipient.org, A2)));
    expect(a2only.length).to.be.greaterThan(3);
    const walk = await walkEvents(g, a1.key, { division: A2 }, 500);
    for (const s of a2only) expect(walk.indices).to.not.include(s.index);
  });

  it("shares whose recipient lies inside the jurisdiction are visible, by list, by index and by receipt", async () => {
    const a2 = keys["regulator A2 county"]!;
    const incoming = seeded.filter((s) => !orgInside(s.event.actor.org, A2) && s.event.recipient && orgInside(s.event.recipient.org, A2));
    expect(incoming.length, "events received in A2 from outside").to.be.greaterThan(0);
    const all = await walkEvents(g, a2.key, {}, 500);
    for (const s of incoming) {
      expect(all.indices).to.include(s.index);
      expect((await g.api("GET", `/v1/events/${s.index}`, { key: a2.key })).status).to.equal(200);
      const receipt = await g.api("GET", `/v1/receipts/${s.index}`, { key: a2.key });
      expect(receipt.status, receipt.text).to.equal(200);
      expect(receipt.body.entry.index).to.equal(s.index);
    }
  });

  it("GET /v1/events/:index and GET /v1/receipts/:index answer 200 inside the scope and 404 outside, as for an absent event", async () => {
    const indices = seeded.map((s) => s.index);
    await mapLimit(scoped(), 4, async (k) => {
      // Every event for regulators; every other one (receipts: every fourth) for the other keys.
      const regulator = k.scope.role === "regulator";
      await mapLimit(regulator ? indices : indices.filter((i) => i % 2 === 0), 4, async (i) => {
        const event = await g.api("GET", `/v1/events/${i}`, { key: k.key });
        const receipt = regulator || i % 4 === 0 ? await g.api("GET", `/v1/receipts/${i}`, { key: k.key }) : undefined;
        if (visible(k.scope, byIndex.get(i)!)) {
          expect(event.status, `${k.name} GET /v1/events/${i}: ${event.text}`).to.equal(200);
          expect(event.body.envelope.event).to.deep.equal(storedForm(g.dataDir, byIndex.get(i)!.event));
          if (receipt) {
            expect(receipt.status, `${k.name} GET /v1/receipts/${i}: ${receipt.text}`).to.equal(200);
            expect(receipt.body.entry.index).to.equal(i);
          }
        } else {
          expect(event.status, `${k.name} GET /v1/events/${i}: ${event.text}`).to.equal(404);
          expect(event.body.error.code).to.equal("NOT_FOUND");
          expect(event.text).to.not.include(byIndex.get(i)!.event.requestId);
          if (receipt) {
            expect(receipt.status, `${k.name} GET /v1/receipts/${i}: ${receipt.text}`).to.equal(404);
            expect(receipt.text).to.not.include(byIndex.get(i)!.event.requestId);
          }
        }
      });
      const absent = await g.api("GET", `/v1/events/${EVENT_COUNT + 1000}`, { key: k.key });
      expect(absent.status).to.equal(404);
      expect(absent.body.error.code).to.equal("NOT_FOUND");
    });
  });

  it("GET /v1/events/:index shows the flags a key may see: the rules its events violate", async () => {
    for (const k of [keys["regulator A1 county"]!, keys["regulator A2 county"]!, keys["auditor of two datasets"]!]) {
      for (const s of seeded.filter((x) => visible(k.scope, x))) {
        const r = await g.api("GET", `/v1/events/${s.index}`, { key: k.key });
        expect(r.status).to.equal(200);
        expect((r.body.flags as { ruleId: string }[]).map((f) => f.ruleId).sort(), `${k.name} flags of ${s.index}`).to.deep.equal(expectedRules(s).sort());
      }
    }
  });

  it("GET /v1/alerts lists exactly the alerts about events in scope; ?eventIndex= of an outside event is empty", async () => {
    const expectedIds = (scope: Scope) =>
      [...alerts.entries()].filter(([, a]) => visible(scope, byIndex.get(a.eventIndex)!)).map(([id]) => id).sort();
    for (const k of scoped()) {
      const listed = await listAlerts(k.key);
      const negative = listed.filter((a) => a.kind === "negative-list").map((a) => a.id as string).sort();
      expect(negative, k.name).to.deep.equal(expectedIds(k.scope));
      // Alerts about the gateway itself (anchoring, policy) carry no event; submitters never see them.
      for (const a of listed.filter((x) => x.kind !== "negative-list")) {
        expect(a.actorOrg, `${k.name} sees only event-less system alerts beside its own`).to.equal(undefined);
        expect(k.scope.role).to.not.equal("submitter");
      }
    }
    for (const k of regulators()) {
      for (const [, a] of alerts) {
        if (visible(k.scope, byIndex.get(a.eventIndex)!)) continue;
        const r = await g.api("GET", `/v1/alerts?eventIndex=${a.eventIndex}`, { key: k.key });
        expect(r.status).to.equal(200);
        expect(r.body.alerts, `${k.name} alerts of outside event ${a.eventIndex}`).to.deep.equal([]);
      }
    }
  });

  it("POST /v1/alerts/:id/ack: 404 for another county's alert (and it stays unacknowledged), 200 for its own, 403 for submitters and the portal", async () => {
    const a1 = keys["regulator A1 county"]!;
    const outside = [...alerts.entries()].filter(([, a]) => !visible(a1.scope, byIndex.get(a.eventIndex)!));
    const inside = [...alerts.entries()].filter(([, a]) => visible(a1.scope, byIndex.get(a.eventIndex)!));
    expect(outside.length).to.be.greaterThan(0);
    expect(inside.length).to.be.greaterThan(0);
    for (const [id] of outside) {
      const r = await g.api("POST", `/v1/alerts/${id}/ack`, { key: a1.key });
      expect(r.status, r.text).to.equal(404);
      expect(r.text).to.not.include("eventIndex");
    }
    const stillOpen = await listAlerts(g.keys.admin.key, { acknowledged: "false" });
    for (const [id] of outside) expect(stillOpen.map((a) => a.id), `alert ${id} still open`).to.include(id);

    const [ownId] = inside[0]!;
    const ack = await g.api("POST", `/v1/alerts/${ownId}/ack`, { key: a1.key });
    expect(ack.status, ack.text).to.equal(200);
    expect(ack.body.acknowledgedAt).to.be.a("string");

    for (const k of [...Object.values(keys).filter((x) => x.scope.role === "submitter"), keys.portal!]) {
      const r = await g.api("POST", `/v1/alerts/${ownId}/ack`, { key: k.key });
      expect(r.status, `${k.name}: ${r.text}`).to.equal(403);
    }
    // Another regulator that cannot see A1's alert cannot acknowledge it either.
    const ningbo = keys["regulator Ningbo city"]!;
    if (!visible(ningbo.scope, byIndex.get(inside[0]![1].eventIndex)!)) {
      expect((await g.api("POST", `/v1/alerts/${ownId}/ack`, { key: ningbo.key })).status).to.equal(404);
    }
  });

  it("GET /v1/stats counts only the actors in scope (also with division= of another county → zero); 403 for dataset-bound auditors, submitters and the portal", async () => {
    const range = { from: FROM_DAY, to: TO_DAY };
    for (const k of scoped()) {
      const r = await g.api("GET", `/v1/stats${queryString(range)}`, { key: k.key });
      const s = k.scope;
      if (s.role === "submitter" || (s.role === "auditor" && s.datasets)) {
        expect(r.status, `${k.name}: ${r.text}`).to.equal(403);
        continue;
      }
      expect(r.status, `${k.name}: ${r.text}`).to.equal(200);
      const keep = (x: Seeded) =>
        s.role === "regulator" ? orgInside(x.event.actor.org, s.jurisdiction) : s.role === "auditor" && s.orgs ? s.orgs.includes(x.event.actor.org) : true;
      const expected = expectedStatistics(seeded, keep, FROM_DAY, TO_DAY);
      const { total, byLevel, byDepartment, byType, byDay } = r.body;
      expect({ total, byLevel, byDepartment, byType, byDay }, k.name).to.deep.equal(expected);

      if (s.role === "regulator") {
        for (const division of [A1, A2, "330102003004-G01", "330200000000"]) {
          const d = await g.api("GET", `/v1/stats${queryString({ ...range, division })}`, { key: k.key });
          expect(d.status).to.equal(200);
          const both = expectedStatistics(seeded, (x) => keep(x) && orgInside(x.event.actor.org, division), FROM_DAY, TO_DAY);
          expect(d.body.total, `${k.name} stats of ${division}`).to.equal(both.total);
          expect(d.body.byDepartment, `${k.name} stats of ${division}`).to.deep.equal(both.byDepartment);
        }
      }
    }
    const a1 = keys["regulator A1 county"]!;
    const other = await g.api("GET", `/v1/stats${queryString({ ...range, division: A2 })}`, { key: a1.key });
    expect(other.body.total).to.equal(0);
    expect(other.body.byDepartment).to.deep.equal({});
    expect((await g.api("GET", `/v1/stats${queryString(range)}`, { key: keys.portal!.key })).status).to.equal(403);
  });

  it("GET and POST /v1/subjects/accesses are refused (403) to regulators, auditors and submitters", async () => {
    for (const k of scoped().filter((x) => x.scope.role !== "admin")) {
      const get = await g.api("GET", `/v1/subjects/accesses?subject=${SUBJECTS[0]}`, { key: k.key });
      expect(get.status, `${k.name}: ${get.text}`).to.equal(403);
      const post = await g.api("POST", "/v1/subjects/accesses", { key: k.key, json: { subject: SUBJECTS[0] } });
      expect(post.status, `${k.name}: ${post.text}`).to.equal(403);
      expect(get.text + post.text).to.not.include(SUBJECTS[0]!);
    }
  });

  it("a submitter reads only what it submitted, everywhere", async () => {
    for (const k of Object.values(keys).filter((x) => x.scope.role === "submitter")) {
      const own = expectedFor(k.scope);
      expect(own.length, k.name).to.be.greaterThan(0);
      const listed = await walkEvents(g, k.key, { division: "330000000000" }, 500);
      expect(listed.indices).to.deep.equal(expectedFor(k.scope, { division: "330000000000" }));
      const mine = await listAlerts(k.key);
      for (const a of mine) expect(own, `${k.name} alert ${a.id}`).to.include(a.eventIndex);
      expect((await g.api("GET", "/v1/checkpoints", { key: k.key })).status).to.equal(403);
      expect((await g.api("GET", "/v1/status", { key: k.key })).status).to.equal(403);
    }
  });

  it("the citizen-portal key can use only the subject report", async () => {
    const portal = keys.portal!.key;
    const report = await g.api("GET", `/v1/subjects/accesses?subject=${SUBJECTS[1]}`, { key: portal });
    expect(report.status, report.text).to.equal(200);
    const refused: [string, string, unknown?][] = [
      ["GET", "/v1/events"],
      ["GET", `/v1/events?subject=${SUBJECTS[1]}`],
      ["GET", "/v1/events/0"],
      ["GET", "/v1/receipts/0"],
      ["GET", "/v1/checkpoints"],
      ["GET", "/v1/checkpoints/latest"],
      ["GET", `/v1/stats?from=${FROM_DAY}&to=${TO_DAY}`],
      ["GET", "/v1/stats/anchoring"],
      ["GET", "/v1/alerts"],
      ["POST", `/v1/alerts/${[...alerts.keys()][0]}/ack`],
      ["GET", "/v1/policy"],
      ["GET", "/v1/orgs"],
      ["PUT", "/v1/orgs", REGISTRY],
      ["GET", "/v1/status"],
      ["GET", "/v1/keys"],
      ["POST", "/v1/audit"],
      ["GET", "/v1/audit/latest"],
      ["POST", "/v1/events", generateEvents(1, 1, "portal")[0]],
    ];
    for (const [method, route, json] of refused) {
      const r = await g.api(method, route, { key: portal, ...(json === undefined ? {} : { json }) });
      expect(r.status, `${method} ${route}: ${r.text}`).to.equal(403);
      expect(r.body.error.code).to.equal("FORBIDDEN");
    }
  });

  it("no answer of any read endpoint to the A1, grid or province regulator carries an event outside its scope", async () => {
    for (const name of ["regulator A1 county", "regulator grid G01", "regulator province"]) {
      const k = keys[name]!;
      const outside = seeded.filter((s) => !visible(k.scope, s));
      expect(outside.length, name).to.be.greaterThan(0);
      const answers: ApiResponse[] = [];
      const get = async (route: string) => answers.push(await g.api("GET", route, { key: k.key }));
      await get("/v1/events?limit=500");
      for (const filter of FILTERS) await get(`/v1/events${queryString({ ...filter, limit: "500" })}`);
      for (const s of seeded) {
        await get(`/v1/events/${s.index}`);
        await get(`/v1/receipts/${s.index}`);
        await get(`/v1/alerts?eventIndex=${s.index}`);
      }
      for (const route of [
        "/v1/alerts?limit=500",
        `/v1/stats?from=${FROM_DAY}&to=${TO_DAY}`,
        `/v1/stats?from=${FROM_DAY}&to=${TO_DAY}&division=${A2}`,
        "/v1/stats/anchoring",
        "/v1/checkpoints",
        "/v1/checkpoints/latest",
        "/v1/status",
        "/v1/policy",
        `/v1/subjects/accesses?subject=${SUBJECTS[0]}`,
      ]) {
        await get(route);
      }
      // A full audit (regulators may run one): its job and report name no event outside the scope.
      const audit = await g.api("POST", "/v1/audit", { key: k.key });
      expect(audit.status, audit.text).to.equal(202);
      answers.push(audit);
      const done = await waitFor("the audit", async () => {
        const job = await g.api("GET", `/v1/audit/${audit.body.job.id}`, { key: k.key });
        return job.body?.job?.state === "running" ? undefined : job;
      }, 30_000);
      expect(done.body.job.state, done.text).to.equal("done");
      expect(done.body.job.report.ok).to.equal(true);
      answers.push(done, await g.api("GET", "/v1/audit/latest", { key: k.key }));
      const carried = answers.flatMap((a) => outside.filter((s) => a.text.includes(s.event.requestId)).map((s) => s.index));
      expect(carried, `${name}: outside events carried by an answer`).to.deep.equal([]);
      for (const a of answers) {
        if (a.status === 200 && Array.isArray(a.body?.alerts)) {
          for (const alert of a.body.alerts) if (alert.eventIndex !== undefined) expect(visible(k.scope, byIndex.get(alert.eventIndex)!), `${name} alert ${alert.id}`).to.equal(true);
        }
        if (a.status === 200 && a.body?.byDepartment) {
          for (const org of Object.keys(a.body.byDepartment)) expect(orgInside(org, (k.scope as { jurisdiction: string }).jurisdiction), `${name} stats department ${org}`).to.equal(true);
        }
      }
    }
  });
});
