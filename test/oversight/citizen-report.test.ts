/**
 * The citizens' access report on a real gateway: GET /v1/subjects/accesses?subject=…
 * and POST {subject} with a citizen-portal key list exactly the events about that
 * person (expected here from the submitted events), newest first, 100 a page with
 * a cursor: who (actor org and its registry name), to whom (recipient and name),
 * which fields, when, why (purpose) and on what legal basis, each with its
 * receipt — pending while no checkpoint covers the event, then a receipt that
 * verifies (independently per RFC 9162 + the contract's rootAt, with
 * verifyReceipt + ledgerReader, and with POST /v1/verify). Other people's events
 * never appear; other roles get 403; a missing, empty or oversize subject 400;
 * the raw subject id is in no answer, log line or file.
 *
 * Anchoring is made deterministic: CHECKPOINT_MAX_EVENTS=300 and a one-hour age
 * limit, so the first 280 events wait, and 20 more trigger the checkpoint.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Contract, JsonRpcProvider } from "ethers";
import { ledgerReader } from "../../server/chain/ledger-reader";
import { verifyReceipt } from "../../server/receipts/verify-receipt";
import {
  independentLeafHash,
  independentRootFromInclusion,
  makeTempDir,
  removeDir,
  waitFor,
  type TestEvent,
  trustOf,
} from "../support/gateway-harness";
import {
  ORG_NAMES,
  REGISTRY,
  SUBJECTS,
  filesUnder,
  generateEvents,
  independentSubjectRef,
  queryString,
  startOversightGateway,
  submitAll,
  type OversightGateway,
} from "../support/oversight-world";

/** The person whose report is read; and people whose ids look like theirs. */
const PERSON = "33010219900101123X";
const LOOK_ALIKES = ["33010219900101123x", "33010219900101123X ", "330102199001011230"];
const OTHERS = [...SUBJECTS.slice(0, 4), ...LOOK_ALIKES];
const PERSON_EVENTS = 230;
/** Departments the registry of this file leaves out: their report lines carry no orgName. */
const UNNAMED = ["330103001002-G01:grid-office", "310101000000:commercial-bank"];
const NAMES: Record<string, string> = Object.fromEntries(Object.entries(ORG_NAMES).filter(([id]) => !UNNAMED.includes(id)));
const PAGE = 100;

interface Sent {
  index: number;
  event: TestEvent;
}

/** The report line the README promises for an event, from the event as submitted. */
function expectedLine(s: Sent) {
  const e = s.event;
  const named = (org: string) => (NAMES[org] === undefined ? { org } : { org, orgName: NAMES[org] });
  return {
    index: s.index,
    type: e.type,
    occurredAt: e.occurredAt,
    actor: { ...named(e.actor.org), system: e.actor.system },
    ...(e.recipient ? { recipient: named(e.recipient.org) } : {}),
    dataset: e.dataset,
    fields: e.fields,
    purpose: e.purpose,
    legalBasis: e.legalBasis,
  };
}

describe("oversight: the citizens' access report", function () {
  this.timeout(120_000);

  let dir: string;
  let g: OversightGateway;
  let portal: string;
  let submitter: string;
  let logFile: string;
  const sent: Sent[] = [];
  const keys: Record<string, string> = {};

  const report = (subject: string | undefined, cursor?: string, key = portal) =>
    g.api("GET", `/v1/subjects/accesses${queryString({ subject, cursor })}`, { key });
  const reportPost = (body: unknown, key = portal) => g.api("POST", "/v1/subjects/accesses", { key, json: body });
  const about = (subject: string) => sent.filter((s) => s.event.subject === subject).sort((a, b) => b.index - a.index);

  /** Every page of a person's report (GET, or POST when `post`), checking the page size and order. */
  async function wholeReport(subject: string, post = false): Promise<{ lines: any[]; pages: number }> {
    const lines: any[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const r = post ? await reportPost({ subject, ...(cursor ? { cursor } : {}) }) : await report(subject, cursor);
      expect(r.status, r.text).to.equal(200);
      pages += 1;
      expect(r.body.accesses.length).to.be.at.most(PAGE);
      lines.push(...r.body.accesses);
      if (r.body.next === null) break;
      expect(r.body.accesses.length, "a page before the last is full").to.equal(PAGE);
      cursor = r.body.next;
      if (pages > 20) throw new Error("report did not end");
    }
    for (let i = 1; i < lines.length; i++) expect(lines[i].index).to.be.below(lines[i - 1].index);
    return { lines, pages };
  }

  before(async () => {
    dir = makeTempDir("oversight-citizen-");
    const orgsFile = path.join(dir, "orgs.json");
    // The registry names all but two departments (their lines carry no orgName).
    writeFileSync(orgsFile, JSON.stringify({ ...REGISTRY, orgs: REGISTRY.orgs.filter((o) => !UNNAMED.includes(o.id)) }));
    const dataDir = path.join(dir, "data");
    logFile = path.join(dataDir, "gateway.log");
    g = await startOversightGateway({ dataDir, logFile, record: true, env: { ORGS_FILE: orgsFile, CHECKPOINT_MAX_EVENTS: "300", CHECKPOINT_MAX_AGE_MS: "3600000" } });
    portal = (await g.createKey({ name: "citizen portal", role: "citizen-portal" })).key;
    submitter = (await g.createKey({ name: "submitter anywhere", role: "submitter" })).key;
    keys.regulator = (await g.createKey({ name: "regulator province", role: "regulator", jurisdiction: "330000000000" })).key;
    keys.auditor = g.keys.auditor.key;
    keys.submitter = submitter;
    keys.boundAuditor = (await g.createKey({ name: "auditor", role: "auditor", datasets: ["health-records"] })).key;

    // 230 events about the person, 45 about others (look-alike ids included), 5 about nobody: 280, all waiting.
    const mine = generateEvents(PERSON_EVENTS, 5150, "cz-p").map((e) => ({ ...e, subject: PERSON }));
    const others = generateEvents(45, 6160, "cz-o").map((e, i) => ({ ...e, subject: OTHERS[i % OTHERS.length]! }));
    const nobody = generateEvents(5, 7170, "cz-n").map(({ subject: _s, ...e }) => e);
    // Interleaved, in three requests.
    const all: TestEvent[] = [];
    for (let i = 0; i < PERSON_EVENTS; i++) {
      all.push(mine[i]!);
      if (i % 5 === 0 && others[i / 5]) all.push(others[i / 5]!);
      if (i % 50 === 0 && nobody[i / 50]) all.push(nobody[i / 50]!);
    }
    expect(all).to.have.length(280);
    for (const part of [all.slice(0, 100), all.slice(100, 200), all.slice(200)]) {
      const indices = await submitAll(g, submitter, part);
      part.forEach((event, i) => sent.push({ index: indices[i]!, event }));
    }
    await g.gateway.indexer.caughtUp(280);
  });

  after(async () => {
    if (g) await g.stop();
    removeDir(dir);
  });

  it("lists exactly the person's events, newest first, in pages of 100 with a cursor (GET), each pending before any checkpoint", async () => {
    const { lines, pages } = await wholeReport(PERSON);
    expect(pages).to.equal(3);
    const want = about(PERSON);
    expect(want).to.have.length(PERSON_EVENTS);
    expect(lines.map(({ receipt: _r, ...line }) => line)).to.deep.equal(want.map(expectedLine));
    for (const line of lines) expect(line.receipt, `event ${line.index}`).to.deep.equal({ status: "pending" });
    // The gateway agrees these are waiting.
    expect((await g.api("GET", `/v1/receipts/${want[0]!.index}`, { key: g.keys.admin.key })).status).to.equal(202);
    // Shares and collections both appear, with recipients where there are some, names where the registry has them.
    expect(lines.some((l) => l.recipient?.orgName)).to.equal(true);
    expect(lines.some((l) => l.recipient && l.recipient.orgName === undefined)).to.equal(true);
    expect(lines.some((l) => l.actor.orgName === undefined)).to.equal(true);
    expect(new Set(lines.map((l) => l.type)).size).to.equal(7);
  });

  it("POST {subject, cursor} answers the same pages", async () => {
    const get = await wholeReport(PERSON);
    const post = await wholeReport(PERSON, true);
    expect(post.lines).to.deep.equal(get.lines);
    expect(post.pages).to.equal(get.pages);
  });

  it("other people's events never appear, look-alike ids included; each person gets exactly theirs", async () => {
    const { lines } = await wholeReport(PERSON);
    const mine = new Set(about(PERSON).map((s) => s.index));
    for (const line of lines) expect(mine.has(line.index)).to.equal(true);
    for (const other of OTHERS) {
      const theirs = await wholeReport(other);
      expect(theirs.lines.map((l) => l.index), JSON.stringify(other)).to.deep.equal(about(other).map((s) => s.index));
      expect(theirs.lines.length, JSON.stringify(other)).to.be.greaterThan(0);
      for (const l of theirs.lines) expect(mine.has(l.index)).to.equal(false);
    }
    const nobody = await report("110101200001010000");
    expect(nobody.status).to.equal(200);
    expect(nobody.body).to.deep.equal({ accesses: [], next: null });
  });

  it("once anchored, every line carries a receipt that verifies: independently, with verifyReceipt, and with POST /v1/verify", async () => {
    await submitAll(g, submitter, generateEvents(20, 8180, "cz-fill").map(({ subject: _s, ...e }) => e));
    await waitFor("the 300-event checkpoint", async () => {
      const latest = await g.api("GET", "/v1/checkpoints/latest", { key: g.keys.admin.key });
      return latest.status === 200 && latest.body.treeSize === 300 ? true : undefined;
    }, 30_000);
    const { lines } = await wholeReport(PERSON);
    expect(lines).to.have.length(PERSON_EVENTS);
    const ref = independentSubjectRef(g.dataDir, PERSON);
    const provider = new JsonRpcProvider(g.gateway.chain.rpcUrl, undefined, { staticNetwork: true });
    try {
      const contract = new Contract(g.gateway.chain.contract, ["function rootAt(bytes32 logId, uint256 treeSize) view returns (bytes32)"], provider);
      const onChain = String(await contract.rootAt(g.gateway.logId, 300)).toLowerCase();
      for (const line of lines) {
        const receipt = line.receipt;
        expect(receipt.entry.index).to.equal(line.index);
        expect(receipt.entry.envelope.event.subjectRef).to.equal(ref);
        expect(receipt.entry.envelope.event).to.not.have.property("subject");
        expect(receipt.checkpoint.treeSize).to.equal(300);
        const leafHash = independentLeafHash(receipt.entry.envelope);
        expect(receipt.entry.leafHash).to.equal(leafHash);
        expect(independentRootFromInclusion(line.index, 300, leafHash, receipt.inclusionProof), `proof of ${line.index}`).to.equal(receipt.checkpoint.rootHash);
        expect(receipt.checkpoint.rootHash).to.equal(onChain);
      }
      const reader = ledgerReader(provider);
      for (const line of lines.filter((_, i) => i % 23 === 0)) {
        const verified = await verifyReceipt(line.receipt, trustOf(g.gateway), reader);
        expect(verified.receipt.entry.index).to.equal(line.index);
      }
    } finally {
      provider.destroy();
    }
    for (const line of lines.slice(0, 3)) {
      const r = await g.api("POST", "/v1/verify", { key: keys.auditor!, json: line.receipt });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.include({ valid: true, index: line.index, treeSize: 300 });
    }
    // A line altered after the fact no longer verifies.
    const altered = JSON.parse(JSON.stringify(lines[0].receipt));
    altered.entry.envelope.event.purpose = "something else";
    const refused = await g.api("POST", "/v1/verify", { key: keys.auditor!, json: altered });
    expect(refused.body.valid).to.equal(false);
  });

  it("a walk in progress is not disturbed by new events about the person", async () => {
    const first = await report(PERSON);
    const [late] = await submitAll(g, submitter, [{ ...generateEvents(1, 9190, "cz-late")[0]!, subject: PERSON }]);
    await g.gateway.indexer.caughtUp(late! + 1);
    const lines = [...first.body.accesses];
    let cursor = first.body.next as string | null;
    for (let i = 0; cursor !== null && i < 10; i++) {
      const r = await report(PERSON, cursor);
      lines.push(...r.body.accesses);
      cursor = r.body.next;
    }
    expect(lines.map((l) => l.index)).to.deep.equal(about(PERSON).map((s) => s.index));
    const fresh = await report(PERSON);
    expect(fresh.body.accesses[0].index).to.equal(late);
    expect(fresh.body.accesses[0].receipt).to.deep.equal({ status: "pending" });
  });

  it("regulators, auditors and submitters get 403", async () => {
    for (const [name, key] of Object.entries(keys)) {
      const get = await report(PERSON, undefined, key);
      expect(get.status, `${name} GET: ${get.text}`).to.equal(403);
      expect(get.body.error.code).to.equal("FORBIDDEN");
      const post = await reportPost({ subject: PERSON }, key);
      expect(post.status, `${name} POST: ${post.text}`).to.equal(403);
    }
    expect((await g.api("GET", `/v1/subjects/accesses?subject=${PERSON}`, {})).status).to.equal(401);
  });

  it("a missing, empty, oversize, repeated or non-string subject, or a bad cursor, is refused with 400", async () => {
    const refused = [
      await g.api("GET", "/v1/subjects/accesses", { key: portal }),
      await report(""),
      await report("9".repeat(257)),
      await g.api("GET", `/v1/subjects/accesses?subject=${PERSON}&subject=${SUBJECTS[0]}`, { key: portal }),
      await report(PERSON, "not-a-cursor"),
      await reportPost({}),
      await reportPost({ subject: "" }),
      await reportPost({ subject: "9".repeat(257) }),
      await reportPost({ subject: 12345 }),
      await reportPost({ subject: [PERSON] }),
      await reportPost({ subject: PERSON, cursor: -1 }),
    ];
    for (const r of refused) {
      expect(r.status, r.text).to.equal(400);
      expect(r.body.error.code).to.match(/VALIDATION_FAILED|BAD_REQUEST/);
      expect(r.text).to.not.include(PERSON);
    }
    // 256 characters is still a subject id.
    const longest = await report("9".repeat(256));
    expect(longest.status, longest.text).to.equal(200);
    expect(longest.body.accesses).to.deep.equal([]);
  });

  it("the raw subject id is in no answer, no log line and no file of the data directory", async () => {
    expect(g.answers.length).to.be.greaterThan(20);
    const leaking = g.answers.filter((text) => [PERSON, ...OTHERS].some((subject) => text.includes(subject)));
    expect(leaking, "answers holding a raw subject id").to.deep.equal([]);
    await g.stop();
    const log = readFileSync(logFile, "utf8");
    expect(log).to.include("/v1/subjects/accesses");
    const needles = [PERSON, ...OTHERS.map((s) => s.trim())].map((subject) => Buffer.from(subject, "utf8"));
    const holding = filesUnder(g.dataDir).filter((file) => {
      const bytes = readFileSync(file);
      return needles.some((needle) => bytes.includes(needle));
    });
    expect(holding, "files holding a raw subject id").to.deep.equal([]);
  });
});
