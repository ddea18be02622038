/**
 * GET /v1/events on a real gateway: every filter of the README (org exact and
 * with its subtree, division at each of the six levels, dataset, type, subject
 * by raw id, recipient, from/to on occurredAt) and combinations of two or three,
 * each compared with the same filter applied here to the seeded events; cursor
 * pagination newest first with no duplicates or gaps for several limits, also
 * while events arrive; 400 with details for bad filters and unknown parameters;
 * answers come from the secondary indexes (one record read per event answered,
 * no log scan); and the raw subject id appears in no answer, no log line and no
 * file under DATA_DIR (raw bytes and the decoded LevelDB).
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Level } from "level";
import { makeTempDir, removeDir, waitFor } from "../support/gateway-harness";
import {
  ALL_ORGS,
  DATASETS,
  ORG,
  SUBJECTS,
  TYPES,
  divisionOf,
  filesUnder,
  generateEvents,
  independentSubjectRef,
  levelOf,
  matches,
  newestFirst,
  queryString,
  startOversightGateway,
  storedForm,
  submitAll,
  walkEvents,
  type EventFilter,
  type OversightGateway,
  type Seeded,
} from "../support/oversight-world";

const EVENT_COUNT = 260;

/** The six levels, each with a division of the world. */
const DIVISION_AT: Record<string, string[]> = {
  province: ["330000000000", "310000000000"],
  city: ["330100000000", "330200000000"],
  county: ["330102000000", "330103000000", "330203000000"],
  township: ["330102003000", "330103001000", "330203002000"],
  village: ["330102003004", "330102004001", "330203002001"],
  grid: ["330102003004-G01", "330102003004-G02", "330103001002-G01"],
};

/** Events whose occurredAt sit on the bounds of the time windows below, written with different offsets. */
const BOUNDARY_TIMES = ["2026-11-22T08:00:00+08:00", "2026-11-22T00:00:00Z", "2026-11-23T23:59:59.999Z", "2026-11-24T07:59:59+08:00", "2026-11-21T16:00:00-08:00"];

const TIME_WINDOWS: EventFilter[] = [
  { from: "2026-11-22T00:00:00Z", to: "2026-11-23T23:59:59.999Z" },
  { from: "2026-11-22T08:00:00+08:00" },
  { to: "2026-11-22T00:00:00Z" },
  { from: "2026-11-22T00:00:00.001Z", to: "2026-11-24T00:00:00+08:00" },
  { from: "2026-11-22T00:00:00Z", to: "2026-11-22T00:00:00Z" },
  { from: "2026-11-20T00:00:00-12:00", to: "2026-11-21T12:00:00+14:00" },
  { from: "2027-01-01T00:00:00Z" },
];

describe("oversight: event queries, pagination and the subject id", function () {
  this.timeout(120_000);

  let g: OversightGateway;
  let submitter: string;
  let auditor: string;
  let regulator: string;
  let logFile: string;
  const seeded: Seeded[] = [];

  const expected = (filter: EventFilter, among = seeded) => newestFirst(among.filter((s) => matches(filter, s)));
  const get = (query: Record<string, string | undefined>, key = g.keys.admin.key) => g.api("GET", `/v1/events${queryString(query)}`, { key });

  async function expectFilter(filter: EventFilter, key = g.keys.admin.key, scopeFilter: (s: Seeded) => boolean = () => true): Promise<number[]> {
    const r = await get({ ...filter, limit: "500" }, key);
    expect(r.status, `${JSON.stringify(filter)}: ${r.text}`).to.equal(200);
    expect(r.body.next, `${JSON.stringify(filter)} in one page`).to.equal(null);
    const got = (r.body.events as { index: number }[]).map((e) => e.index);
    expect(got, JSON.stringify(filter)).to.deep.equal(expected(filter, seeded.filter(scopeFilter)));
    return got;
  }

  before(async () => {
    const dataDir = makeTempDir("oversight-queries-");
    logFile = path.join(dataDir, "gateway.log");
    g = await startOversightGateway({ dataDir, logFile, record: true });
    const sub = await g.createKey({ name: "submitter anywhere", role: "submitter" });
    submitter = sub.key;
    auditor = (await g.createKey({ name: "auditor of two datasets", role: "auditor", datasets: ["health-records", "grid-inspections"] })).key;
    regulator = (await g.createKey({ name: "regulator Hangzhou", role: "regulator", jurisdiction: "330100000000" })).key;

    const events = generateEvents(EVENT_COUNT - BOUNDARY_TIMES.length, 424242, "q");
    // A few events on the time windows' bounds (same instant written with different offsets).
    BOUNDARY_TIMES.forEach((occurredAt, i) => events.splice(40 * (i + 1), 0, { ...generateEvents(1, 900 + i, `qb${i}`)[0]!, occurredAt }));
    // Three requests, so the log holds several batches.
    for (const part of [events.slice(0, 100), events.slice(100, 180), events.slice(180)]) {
      const indices = await submitAll(g, submitter, part);
      part.forEach((event, i) => seeded.push({ index: indices[i]!, event, submitter: sub.id }));
    }
    await g.gateway.indexer.caughtUp(EVENT_COUNT);
  });

  after(async () => {
    if (g) {
      await g.stop();
      removeDir(g.dataDir);
    }
  });

  it("org: the actor or the recipient is exactly that organisation (subtree=false alike)", async () => {
    for (const org of ALL_ORGS) {
      const got = await expectFilter({ org });
      expect(got.length, org).to.be.greaterThan(0);
    }
    await expectFilter({ org: ORG.a1Civil, subtree: "false" });
    await expectFilter({ org: "330104000000:civil-affairs" });
  });

  it("org with subtree=true: every actor or recipient in the organisation's division and below", async () => {
    for (const org of ALL_ORGS) await expectFilter({ org, subtree: "true" });
    // The subtree of a county department is larger than the department alone.
    const county = await expectFilter({ org: ORG.a1Civil, subtree: "true" });
    const exact = await expectFilter({ org: ORG.a1Civil });
    expect(county.length).to.be.greaterThan(exact.length);
  });

  it("division at each of the six levels, grid included", async () => {
    for (const [level, divisions] of Object.entries(DIVISION_AT)) {
      for (const division of divisions) {
        expect(levelOf(division), division).to.equal(level);
        const got = await expectFilter({ division });
        expect(got.length, `${level} ${division}`).to.be.greaterThan(0);
      }
    }
    await expectFilter({ division: "330104000000" });
    await expectFilter({ division: "330102003004-G99" });
  });

  it("dataset, type, recipient", async () => {
    for (const dataset of [...DATASETS, "no-such-dataset"]) await expectFilter({ dataset });
    for (const type of TYPES) expect((await expectFilter({ type })).length, type).to.be.greaterThan(0);
    for (const recipient of ALL_ORGS) await expectFilter({ recipient });
  });

  it("subject by raw id: pseudonymised server-side, answering that person's events with subjectRef only", async () => {
    for (const subject of SUBJECTS) {
      const r = await get({ subject, limit: "500" });
      expect(r.status).to.equal(200);
      const events = r.body.events as { index: number; envelope: any }[];
      expect(events.map((e) => e.index), subject).to.deep.equal(expected({ subject }));
      expect(events.length).to.be.greaterThan(0);
      const ref = independentSubjectRef(g.dataDir, subject);
      for (const e of events) {
        expect(e.envelope.event.subjectRef).to.equal(ref);
        expect(e.envelope.event).to.not.have.property("subject");
      }
    }
    await expectFilter({ subject: "330102199001011235" });
    await expectFilter({ subject: SUBJECTS[0]!.toLowerCase() + " " });
  });

  it("from/to select on the instant of occurredAt, both bounds inclusive, whatever the offsets", async () => {
    for (const window of TIME_WINDOWS) await expectFilter(window);
    // A bound equal to an event's instant, written with another offset, includes it:
    // 2026-11-22T08:00:00+08:00, 2026-11-22T00:00:00Z and 2026-11-21T16:00:00-08:00 are one instant.
    const onBound = await expectFilter({ from: "2026-11-22T00:00:00Z", to: "2026-11-22T00:00:00Z" });
    expect(onBound.length, "three events on the same instant, written +08:00, Z and -08:00").to.equal(3);
  });

  it("combinations of two and three filters", async () => {
    const combos: EventFilter[] = [
      { division: "330100000000", type: "share" },
      { dataset: "social-assistance", type: "share" },
      { org: ORG.a2Civil, subtree: "true", dataset: "health-records" },
      { subject: SUBJECTS[0]!, type: "access" },
      { subject: SUBJECTS[2]!, from: "2026-11-22T00:00:00Z", to: "2026-11-24T00:00:00Z" },
      { recipient: ORG.a2Civil, division: "330102000000" },
      { division: "330102003004-G01", from: "2026-11-21T00:00:00+08:00" },
      { division: "330000000000", type: "export", dataset: "household-registry" },
      { org: ORG.hangzhouData, recipient: ORG.b1Civil, to: "2026-11-25T00:00:00Z" },
      { dataset: "grid-inspections", subject: SUBJECTS[4]!, division: "330200000000" },
      { type: "collect", from: "2026-11-21T00:00:00Z", to: "2026-11-23T00:00:00Z" },
    ];
    let nonEmpty = 0;
    for (const filter of combos) if ((await expectFilter(filter)).length > 0) nonEmpty += 1;
    expect(nonEmpty, "combinations that select something").to.be.greaterThan(combos.length / 2);
    // The same combinations through scoped keys: scope ∧ filter.
    const hangzhou = (s: Seeded) => [s.event.actor.org, s.event.recipient?.org].some((o) => o !== undefined && divisionOf(o).startsWith("3301"));
    const auditorScope = (s: Seeded) => ["health-records", "grid-inspections"].includes(s.event.dataset);
    for (const filter of combos) {
      await expectFilter(filter, regulator, hangzhou);
      await expectFilter(filter, auditor, auditorScope);
    }
  });

  it("cursor pagination walks every result once, newest first, for several limits and filters", async () => {
    const cases: [EventFilter, number[]][] = [
      [{}, [4, 13, 52, 130, 500]],
      [{ division: "330102000000" }, [1, 3, 10]],
      [{ from: "2026-11-22T00:00:00Z", to: "2026-11-24T00:00:00Z" }, [2, 9]],
      [{ type: "share", division: "330000000000" }, [5]],
    ];
    for (const [filter, limits] of cases) {
      const want = expected(filter);
      for (const limit of limits) {
        const walk = await walkEvents(g, g.keys.admin.key, filter as Record<string, string>, limit);
        expect(walk.indices, `${JSON.stringify(filter)} limit ${limit}`).to.deep.equal(want);
        expect(walk.pages, `${JSON.stringify(filter)} limit ${limit}`).to.be.at.least(Math.ceil(want.length / limit));
        expect(walk.pages).to.be.at.most(Math.ceil(want.length / limit) + 1);
      }
    }
    // Without a limit: 50 per page.
    const first = await get({});
    expect(first.body.events).to.have.length(50);
    expect(first.body.events[0].index).to.equal(EVENT_COUNT - 1);
    expect(first.body.next).to.be.a("string");
  });

  it("a walk in progress is not disturbed by events that arrive meanwhile", async () => {
    const want = expected({});
    const seen: number[] = [];
    let r = await get({ limit: "40" });
    seen.push(...r.body.events.map((e: { index: number }) => e.index));
    // New events (later indexes) arrive between pages.
    const late = generateEvents(5, 77, "late");
    const lateIndices = await submitAll(g, submitter, late);
    await g.gateway.indexer.caughtUp(EVENT_COUNT + 5);
    for (let page = 0; r.body.next !== null && page < 20; page++) {
      r = await get({ limit: "40", cursor: r.body.next });
      expect(r.status).to.equal(200);
      seen.push(...r.body.events.map((e: { index: number }) => e.index));
    }
    expect(seen).to.deep.equal(want);
    // They are there for a new walk, first.
    const fresh = await walkEvents(g, g.keys.admin.key, {}, 100);
    expect(fresh.indices.slice(0, 5)).to.deep.equal([...lateIndices].reverse());
    late.forEach((event, i) => seeded.push({ index: lateIndices[i]!, event, submitter: "" }));
  });

  it("invalid filters answer 400 with details naming the parameter; unknown or repeated parameters too", async () => {
    const bad: [Record<string, string>, string][] = [
      [{ org: "civil-affairs" }, "org"],
      [{ org: "33010200000:civil-affairs" }, "org"],
      [{ subtree: "yes", org: ORG.a1Civil }, "subtree"],
      [{ division: "3301020000" }, "division"],
      [{ division: "330102003004-X01" }, "division"],
      [{ dataset: "" }, "dataset"],
      [{ dataset: "d".repeat(129) }, "dataset"],
      [{ type: "steal" }, "type"],
      [{ subject: "" }, "subject"],
      [{ subject: "s".repeat(257) }, "subject"],
      [{ recipient: "somebody" }, "recipient"],
      [{ from: "yesterday" }, "from"],
      [{ from: "2026-11-22" }, "from"],
      [{ to: "2026-13-01T00:00:00Z" }, "to"],
      [{ to: "2026-11-22T10:00:00" }, "to"],
      [{ cursor: "abc" }, "cursor"],
      [{ cursor: "-1" }, "cursor"],
      [{ limit: "ten" }, "limit"],
    ];
    for (const [query, parameter] of bad) {
      const r = await get(query);
      expect(r.status, `${JSON.stringify(query)}: ${r.text}`).to.equal(400);
      expect(r.body.error.code).to.equal("VALIDATION_FAILED");
      expect(r.body.error.details, JSON.stringify(query)).to.be.an("array").that.is.not.empty;
      expect(r.body.error.details.map((d: { path: string }) => d.path), JSON.stringify(query)).to.include(parameter);
    }
    for (const query of [{ limit: "0" }, { limit: "501" }, { from: "2026-11-24T00:00:00Z", to: "2026-11-23T00:00:00Z" }]) {
      const r = await get(query);
      expect(r.status, `${JSON.stringify(query)}: ${r.text}`).to.equal(400);
      expect(r.body.error.message).to.be.a("string").and.not.equal("");
    }
    const unknown = await get({ actor: ORG.a1Civil });
    expect(unknown.status, unknown.text).to.equal(400);
    expect(JSON.stringify(unknown.body.error.details)).to.include("actor");
    const repeated = await g.api("GET", `/v1/events?org=${ORG.a1Civil}&org=${ORG.a2Civil}`, { key: g.keys.admin.key });
    expect(repeated.status, repeated.text).to.equal(400);
    expect(repeated.body.error.details.map((d: { path: string }) => d.path)).to.include("org");
  });

  it("answers from the secondary indexes: no log scan, one record read per event answered", async () => {
    // Let the anchorer settle first: while events wait for a checkpoint it reads the oldest one's arrival time.
    await waitFor("every event anchored", () => (g.gateway.anchorer.status().pendingEvents === 0 ? true : undefined), 30_000);
    const log = g.gateway.log as unknown as { scan: (...a: unknown[]) => unknown; get: (...a: unknown[]) => unknown };
    const original = { scan: log.scan, get: log.get };
    let scans = 0;
    let gets = 0;
    log.scan = (...a: unknown[]) => (scans++, original.scan.apply(g.gateway.log, a));
    log.get = (...a: unknown[]) => (gets++, original.get.apply(g.gateway.log, a));
    try {
      for (const [filter, key] of [
        [{ subject: SUBJECTS[3]!, type: "access" }, g.keys.admin.key],
        [{ division: "330102003004-G01", from: "2026-11-22T00:00:00Z" }, g.keys.admin.key],
        [{ dataset: "real-estate-registry", limit: "3" }, g.keys.admin.key],
        [{ type: "share" }, regulator],
      ] as [Record<string, string>, string][]) {
        scans = 0;
        gets = 0;
        const r = await get(filter, key);
        expect(r.status).to.equal(200);
        expect(scans, `log scans for ${JSON.stringify(filter)}`).to.equal(0);
        expect(gets, `records read for ${JSON.stringify(filter)}`).to.equal(r.body.events.length);
      }
    } finally {
      log.scan = original.scan;
      log.get = original.get;
    }
  });

  it("every answered envelope is the submitted event with only the subject replaced by its subjectRef", async () => {
    const walk = await walkEvents(g, g.keys.admin.key, {}, 500);
    const bySeed = new Map(seeded.map((s) => [s.index, s]));
    for (const r of walk.records) expect(r.envelope.event).to.deep.equal(storedForm(g.dataDir, bySeed.get(r.index)!.event));
  });

  it("the raw subject id is in no answer, no log line and no file under DATA_DIR (raw bytes and decoded LevelDB)", async () => {
    // Every answer this gateway gave in this file.
    expect(g.answers.length).to.be.greaterThan(100);
    const leaking = g.answers.filter((text) => SUBJECTS.some((subject) => text.includes(subject)));
    expect(leaking, "answers holding a raw subject id").to.deep.equal([]);
    // Also the receipts, fetched now that the events are anchored.
    for (const s of seeded.filter((x) => x.event.subject).slice(0, 20)) {
      const receipt = await g.api("GET", `/v1/receipts/${s.index}`, { key: g.keys.admin.key });
      expect([200, 202]).to.include(receipt.status);
      expect(receipt.text).to.not.include(s.event.subject!);
    }
    await g.stop();

    const log = readFileSync(logFile, "utf8");
    expect(log, "the trace log has request lines").to.include("/v1/events");
    const files = filesUnder(g.dataDir);
    for (const database of ["db", "records"]) expect(files.some((f) => f.includes(`${path.sep}${database}${path.sep}`)), database).to.equal(true);
    expect(files.map((f) => path.basename(f))).to.include.members(["keys.json", "subject-secret", "gateway.log"]);
    const needles = SUBJECTS.map((subject) => Buffer.from(subject, "utf8"));
    const holding = files.filter((file) => {
      const bytes = readFileSync(file);
      return needles.some((needle) => bytes.includes(needle));
    });
    expect(holding, "files holding a raw subject id").to.deep.equal([]);

    // LevelDB compresses its tables: read every key and value of both databases decoded, too.
    let entries = 0;
    let refsFound = 0;
    const ref = Buffer.from(independentSubjectRef(g.dataDir, SUBJECTS[0]!), "utf8");
    const offending: string[] = [];
    for (const database of ["db", "records"]) {
      const db = new Level<Buffer, Buffer>(path.join(g.dataDir, database), { keyEncoding: "buffer", valueEncoding: "buffer" });
      await db.open();
      try {
        for await (const [key, value] of db.iterator()) {
          entries += 1;
          if (needles.some((needle) => key.includes(needle) || value.includes(needle))) offending.push(`${database}: ${key.toString("utf8").slice(0, 80)}`);
          if (key.includes(ref) || value.includes(ref)) refsFound += 1;
        }
      } finally {
        await db.close();
      }
    }
    expect(offending, "LevelDB entries holding a raw subject id").to.deep.equal([]);
    expect(entries).to.be.greaterThan(EVENT_COUNT);
    // The search does find what is there: the subject's pseudonym, in its events and its index postings.
    expect(refsFound, "entries holding the subjectRef").to.be.greaterThan(2);
  });
});
