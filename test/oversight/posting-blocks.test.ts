/**
 * Posting lists stored in blocks (server/query/event-index.ts), on a real LevelDB:
 *
 * - Against a reference built in memory from up to 3,000 synthetic envelopes, indexed
 *   in random consecutive batches of 1 … 700 records (so blocks of one entry and of
 *   hundreds exist side by side): walking any list (dataset, type, org, recipient,
 *   division prefix, subject, submitter, the all-list) below any `before` yields
 *   exactly the reference postings, newest first, with their occurredAt times; random
 *   sequences of seek (down and up, inside the current block and across blocks, onto
 *   block edges) and next, on one list or on a union of lists, always answer the
 *   newest reference posting at or below the last seek; and `intersect` of 2–3 lists
 *   (some of them unions) and `UnionCursor` of 2–3 lists equal the reference
 *   intersection and union.
 * - Edge cases: an absent term, `before` = 0, `before` inside a block, on a block's
 *   first index and beyond the last index, terms held only in one-entry blocks, a
 *   seek back up after a list is exhausted.
 * - Migration: a database in the old one-key-per-posting layout (posting keys in
 *   `idx`, a watermark, no block) gets its lists rebuilt from the log when an
 *   EventIndexer starts — the old keys dropped, the watermark and the statistics
 *   counters untouched, each list exactly the postings of the records below the
 *   watermark (across the rebuild's 5,000-record chunks), and records past the
 *   watermark indexed afterwards exactly once.
 *
 * The seed is random per run and part of the suite's title; POSTING_SEED=<seed>
 * repeats a run.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import type { Envelope } from "../../server/domain/envelope";
import type { StoredEvent } from "../../server/domain/event-schema";
import { EVENT_TYPES } from "../../server/domain/event-schema";
import { EventLog } from "../../server/log/event-log";
import { EventIndex, PostingCursor, UnionCursor, postingsOf, subtreePrefix, type BlockIterator, type Dimension, type IndexCursor, type Posting } from "../../server/query/event-index";
import { EventIndexer } from "../../server/query/event-indexer";
import { intersect } from "../../server/query/event-query";
import type { BatchOp } from "../../server/query/index-observer";
import { indexKey, openDatabase, openStores, type Database, type OpenStores } from "../../server/store/database";
import { seededRandom, type Random } from "../support/seeded-random";

const SEED = Number(process.env.POSTING_SEED ?? Date.now() % 1_000_000);

// ---------------------------------------------------------------------------------
// A synthetic world: divisions at every level, skewed so that some orgs, prefixes and
// datasets are rare (their blocks hold one posting), others are in almost every block.

const DIVISIONS: [string, number][] = [
  ["330102003004", 30],
  ["330102003004-G01", 15],
  ["330102004001", 12],
  ["330103001002", 10],
  ["330102003000", 8],
  ["330102000000", 6],
  ["330100000000", 5],
  ["330000000000", 4],
  ["330203002001", 4],
  ["330102003004-G02", 3],
  ["310101002003", 2],
  ["310000000000", 0.4],
];
const DEPARTMENTS = ["civil-affairs", "health", "police"];
const DATASETS: [string, number][] = [
  ["census", 40],
  ["health-records", 30],
  ["benefits", 20],
  ["vehicles", 9.5],
  ["rare-registry", 0.5],
];
const SUBMITTERS = ["0123456789ab", "ba9876543210", "aaaaaaaaaaaa"];
const BASE_MS = Date.parse("2026-01-01T00:00:00Z");
const OFFSETS = ["Z", "+08:00", "-05:30"];

function weighted<T>(random: Random, choices: [T, number][]): T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0);
  let r = random() * total;
  for (const [value, w] of choices) if ((r -= w) < 0) return value;
  return choices[choices.length - 1]![0];
}

const pick = <T>(random: Random, values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
const between = (random: Random, low: number, high: number) => low + Math.floor(random() * (high - low + 1));

const randomOrg = (random: Random) => `${weighted(random, DIVISIONS)}:${pick(random, DEPARTMENTS)}`;

/** An RFC 3339 time with one of several UTC offsets, and its epoch milliseconds. */
function randomTime(random: Random): { text: string; ms: number } {
  const ms = BASE_MS + Math.floor(random() * 400 * 86_400_000);
  const offset = pick(random, OFFSETS);
  if (offset === "Z") return { text: new Date(ms).toISOString(), ms };
  const sign = offset[0] === "+" ? 1 : -1;
  const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  return { text: new Date(ms + minutes * 60_000).toISOString().replace("Z", offset), ms };
}

function randomEvent(random: Random, i: number): StoredEvent {
  const type = pick(random, EVENT_TYPES);
  const event: StoredEvent = {
    type,
    actor: { org: randomOrg(random), system: "registry", operator: `op-${between(random, 1, 9)}` },
    dataset: weighted(random, DATASETS),
    purpose: "casework",
    legalBasis: "statute",
    fields: ["name"],
    occurredAt: randomTime(random).text,
    requestId: `req-${i}`,
  };
  if (type === "share" || random() < 0.25) event.recipient = { org: randomOrg(random) };
  if (random() < 0.6) event.subjectRef = `0x${between(random, 0, 39).toString(16).padStart(64, "0")}`;
  return event;
}

function randomEnvelope(random: Random, index: number): Envelope {
  return { v: 1, log: "posting-blocks-test", index, receivedAt: "2026-01-01T00:00:00.000Z", submitter: pick(random, SUBMITTERS), event: randomEvent(random, index) };
}

// ---------------------------------------------------------------------------------
// The reference: every term's postings, ascending, computed independently of blocks.

type Entry = [index: number, time: number];

const termKey = (p: Posting) => `${p.dimension}|${p.value}`;
const posting = (key: string): Posting => {
  const bar = key.indexOf("|");
  return { dimension: key.slice(0, bar) as Dimension, value: key.slice(bar + 1) };
};

class Reference {
  readonly lists = new Map<string, number[]>();
  readonly times: number[] = [];

  add(envelope: Envelope): void {
    this.times[envelope.index] = Date.parse(envelope.event.occurredAt);
    for (const p of postingsOf(envelope)) {
      const key = termKey(p);
      let list = this.lists.get(key);
      if (!list) this.lists.set(key, (list = []));
      if (list[list.length - 1] !== envelope.index) list.push(envelope.index);
    }
  }

  list(p: Posting): number[] {
    return this.lists.get(termKey(p)) ?? [];
  }

  /** The list below `before`, newest first, with times. */
  below(indices: readonly number[], before: number): Entry[] {
    const out: Entry[] = [];
    for (let k = lastAtOrBelow(indices, before - 1); k >= 0; k--) out.push([indices[k]!, this.times[indices[k]!]!]);
    return out;
  }
}

/** Position of the last element ≤ value in an ascending array, -1 if none. */
function lastAtOrBelow(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

function unionOf(lists: readonly number[][]): number[] {
  return [...new Set(lists.flat())].sort((a, b) => a - b);
}

function intersectionOf(lists: readonly number[][]): number[] {
  const [first, ...rest] = lists;
  const sets = rest.map((l) => new Set(l));
  return (first ?? []).filter((i) => sets.every((s) => s.has(i)));
}

/**
 * Exact equality of two arrays, element by element. (Not chai's deep.equal on whole
 * lists: hardhat-chai-matchers overrides it and formats both sides on every call,
 * which costs milliseconds per thousand entries.) A difference fails with the
 * entries around the first one.
 */
function expectSame<T>(got: readonly T[], want: readonly T[], message: string): void {
  const n = Math.max(got.length, want.length);
  for (let k = 0; k < n; k++) {
    if (JSON.stringify(got[k]) === JSON.stringify(want[k])) continue;
    const window = (list: readonly T[]) => list.slice(Math.max(0, k - 3), k + 4);
    expect(window(got), `${message}: first difference at position ${k} (lengths ${got.length} and ${want.length})`).to.deep.equal(window(want));
    expect.fail(`${message}: position ${k}: ${JSON.stringify(got[k])} instead of ${JSON.stringify(want[k])}`);
  }
}

/** Every posting left in the cursor, which is closed afterwards. */
async function drain(cursor: IndexCursor): Promise<Entry[]> {
  const out: Entry[] = [];
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) out.push([e.index, e.time]);
  } finally {
    await cursor.close();
  }
  return out;
}

async function drainGenerator(gen: AsyncGenerator<{ index: number; time: number }>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of gen) out.push([e.index, e.time]);
  return out;
}

/** Counts the seeks a PostingCursor answers by moving its LevelDB iterator (the rest stay in its block). */
class SeekCounter {
  calls = 0;
  iteratorSeeks = 0;

  watch(cursor: IndexCursor): IndexCursor {
    if (!(cursor instanceof PostingCursor)) return cursor;
    const iterator = (cursor as unknown as { iterator: BlockIterator }).iterator;
    const seekIterator = iterator.seek.bind(iterator);
    iterator.seek = (target: string) => {
      this.iteratorSeeks += 1;
      seekIterator(target);
    };
    const seekCursor = cursor.seek.bind(cursor);
    cursor.seek = (index: number) => {
      this.calls += 1;
      seekCursor(index);
    };
    return cursor;
  }

  get inBlock(): number {
    return this.calls - this.iteratorSeeks;
  }
}

const utf8Sublevel = (db: Database, name: string) => db.sublevel<string, string>(name, { valueEncoding: "utf8" });
type Sublevel = ReturnType<typeof utf8Sublevel>;

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "posting-blocks-test-"));
}

function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

// ---------------------------------------------------------------------------------

describe(`event index: posting lists in blocks (seed ${SEED}; POSTING_SEED=${SEED} repeats it)`, function () {
  this.timeout(60_000);

  describe("against a reference, over blocks of 1 … 700 postings", function () {
    const N = 3_000;
    let random = seededRandom(SEED);
    const reference = new Reference();
    /** First index of each indexed batch (= of each block holding that batch's postings). */
    const batchStarts: number[] = [];
    let dir: string;
    let db: Database;
    let index: EventIndex;
    let terms: Posting[];

    const at = (what: string) => `seed ${SEED}: ${what}`;

    before(async function () {
      dir = tempDir();
      db = await openDatabase(dir);
      index = new EventIndex(db);
      // Batch sizes: mostly single records, some of 2–20, a few of 21–700, one of 700. Large
      // batches hold at most half the records (and the 700), so that every seed leaves many
      // small ones: seed 764874 once drew large batches for nearly all and only 13 single ones.
      const sizes: number[] = [];
      let inLarge = 0;
      for (let from = 0; from < N; ) {
        const r = random();
        let size = r < 0.7 ? 1 : r < 0.88 ? between(random, 2, 20) : between(random, 21, 700);
        if (size > 20 && inLarge + size > N / 2) size = between(random, 2, 20);
        if (from >= 1_000 && !sizes.includes(700)) size = 700;
        if (size > 20) inLarge += size;
        sizes.push((size = Math.min(size, N - from)));
        batchStarts.push(from);
        from += size;
      }
      const envelopes = Array.from({ length: N }, (_, i) => randomEnvelope(random, i));
      // A dataset with one posting in each of a dozen batches, some single, some large:
      // its every block holds one entry.
      const batches = new Set<number>();
      while (batches.size < 12) batches.add(Math.floor(random() * batchStarts.length));
      for (const b of batches) envelopes[batchStarts[b]! + Math.floor(random() * sizes[b]!)]!.event.dataset = "sparse-registry";
      envelopes.forEach((e) => reference.add(e));
      for (const [b, from] of batchStarts.entries()) {
        const ops: BatchOp[] = [];
        index.postingOps(envelopes.slice(from, from + sizes[b]!), ops);
        await index.write(ops);
      }
      terms = [...reference.lists.keys()].map(posting);
      terms.push({ dimension: "d", value: "no-such-dataset" }, { dimension: "j", value: "44" });
    });

    after(async function () {
      await db?.close();
      removeDir(dir);
    });

    it("was built as intended: many one-record batches, some of hundreds, terms in one-entry blocks only", function () {
      const sizes = batchStarts.map((s, k) => (batchStarts[k + 1] ?? N) - s);
      expect(sizes.filter((s) => s === 1).length, at("batches of 1")).to.be.greaterThan(20);
      expect(Math.max(...sizes), at("largest batch")).to.equal(700);
      const sparse = reference.list({ dimension: "d", value: "sparse-registry" });
      expect(new Set(sparse.map((i) => lastAtOrBelow(batchStarts, i))).size, at("batches holding sparse-registry")).to.equal(12);
      expect(sparse.length, at("sparse-registry postings")).to.equal(12);
      for (const p of [
        { dimension: "x", value: "" },
        { dimension: "d", value: "census" },
        { dimension: "t", value: "share" },
        { dimension: "j", value: "33" },
        { dimension: "j", value: subtreePrefix("330102003004-G01") },
        { dimension: "o", value: "330102003004:health" },
      ] as Posting[]) {
        expect(reference.list(p).length, at(termKey(p))).to.be.greaterThan(0);
      }
    });

    /** Befores worth trying: anywhere, on block edges, 0, the end and past it. */
    function randomBefore(): number {
      const r = random();
      if (r < 0.05) return 0;
      if (r < 0.1) return N;
      if (r < 0.15) return N + between(random, 1, 10_000);
      if (r < 0.4) return pick(random, batchStarts) + between(random, -1, 1);
      return between(random, 0, N);
    }

    function randomTerm(): Posting {
      const r = random();
      if (r < 0.15) return { dimension: "x", value: "" };
      if (r < 0.3) return { dimension: "j", value: pick(random, ["33", "3301", "330102", "330102003", "330102003004", "330102003004-G01", "31", "310101002003"]) };
      if (r < 0.35) return { dimension: "d", value: "sparse-registry" };
      return pick(random, terms);
    }

    it("walks every list below many befores exactly as the reference, times included", async function () {
      random = seededRandom(SEED + 1);
      let postings = 0;
      const walk = async (p: Posting, before: number) => {
        const got = await drain(index.openList(p, before));
        const want = reference.below(reference.list(p), before);
        expectSame(got, want, at(`${termKey(p)} before ${before}`));
        postings += got.length;
      };
      for (const p of terms) await walk(p, N);
      for (let k = 0; k < 400; k++) await walk(randomTerm(), randomBefore());
      expect(postings, at("postings compared")).to.be.greaterThan(50_000);
    });

    it("answers random seek/next sequences (down and up, in and across blocks) on lists and unions", async function () {
      random = seededRandom(SEED + 2);
      const counter = new SeekCounter();
      let upward = 0;
      let seeksThenNext = 0;
      for (let run = 0; run < 500; run++) {
        const before = randomBefore();
        const union = random() < 0.25;
        const ps = union ? Array.from({ length: between(random, 2, 3) }, randomTerm) : [randomTerm()];
        const list = union ? unionOf(ps.map((p) => reference.list(p))) : reference.list(ps[0]!);
        const cursor = union ? new UnionCursor(ps.map((p) => counter.watch(index.openList(p, before)))) : counter.watch(index.openList(ps[0]!, before));
        let highest = before - 1;
        let last: number | undefined;
        const trace: string[] = [];
        try {
          for (let step = 0; step < 40; step++) {
            if (before > 0 && random() < 0.5) {
              const target = seekTarget(list, before, last);
              if (last !== undefined && target > last) upward += 1;
              cursor.seek(target);
              highest = target;
              trace.push(`seek(${target})`);
            }
            const got = await cursor.next();
            const k = lastAtOrBelow(list, highest);
            const want = k < 0 ? undefined : { index: list[k]!, time: reference.times[list[k]!]! };
            trace.push(`next → ${got?.index}`);
            if (trace.length > 1 && trace[trace.length - 2]!.startsWith("seek")) seeksThenNext += 1;
            expectSame([got], [want], at(`${ps.map(termKey).join(" ∪ ")} before ${before}: ${trace.join(", ")}`));
            if (want) {
              highest = want.index - 1;
              last = want.index;
            }
          }
        } finally {
          await cursor.close();
        }
      }
      // The runs did exercise both ways a seek is answered, and seeks back up.
      expect(counter.inBlock, at("seeks answered inside the current block")).to.be.greaterThan(500);
      expect(counter.iteratorSeeks, at("seeks that moved the iterator")).to.be.greaterThan(500);
      expect(upward, at("upward seeks")).to.be.greaterThan(500);
      expect(seeksThenNext, at("nexts right after a seek")).to.be.greaterThan(3_000);
    });

    /** A target below `before`: random, near the last posting, onto a posting or a block edge. */
    function seekTarget(list: readonly number[], before: number, last: number | undefined): number {
      const clamp = (i: number) => Math.max(0, Math.min(before - 1, i));
      const r = random();
      if (r < 0.25) return between(random, 0, before - 1);
      if (r < 0.55 && last !== undefined) return clamp(last + between(random, -25, 25));
      if (r < 0.7 && list.length > 0) return clamp(pick(random, list) + (random() < 0.5 ? 0 : between(random, -1, 1)));
      if (r < 0.85) {
        const k = Math.floor(random() * batchStarts.length);
        return clamp(pick(random, [batchStarts[k]!, batchStarts[k]! - 1, (batchStarts[k + 1] ?? N) - 1]));
      }
      return clamp(last === undefined ? before - 1 : last);
    }

    it("intersect() and UnionCursor over 2–3 lists (unions among them) equal the reference", async function () {
      random = seededRandom(SEED + 3);
      let matched = 0;
      for (let run = 0; run < 300; run++) {
        const before = randomBefore();
        const clauses: Posting[][] = Array.from({ length: between(random, 2, 3) }, () =>
          random() < 0.2 ? Array.from({ length: between(random, 2, 3) }, randomTerm) : [randomTerm()],
        );
        const label = clauses.map((c) => c.map(termKey).join(" ∪ ")).join(" ∩ ") + ` before ${before}`;

        const cursors = clauses.map((c) => (c.length === 1 ? index.openList(c[0]!, before) : new UnionCursor(c.map((p) => index.openList(p, before)))));
        try {
          const got = await drainGenerator(intersect(cursors));
          const want = reference.below(intersectionOf(clauses.map((c) => unionOf(c.map((p) => reference.list(p))))), before);
          expectSame(got, want, at(`intersect ${label}`));
          matched += got.length;
        } finally {
          await Promise.all(cursors.map((c) => c.close()));
        }

        const ps = clauses.flat().slice(0, 3);
        const union = new UnionCursor(ps.map((p) => index.openList(p, before)));
        try {
          const want = reference.below(unionOf(ps.map((p) => reference.list(p))), before);
          expectSame(await drain(union), want, at(`union ${ps.map(termKey).join(" ∪ ")} before ${before}`));
        } finally {
          await union.close();
        }
      }
      expect(matched, at("postings in intersections")).to.be.greaterThan(5_000);
    });
  });

  describe("edge cases", function () {
    // Indices 0 … 11 in batches {0} {1–5} {6} {7} {8–11}: blocks of one entry and of several.
    const BATCHES = [1, 5, 1, 1, 4];
    const SOLO = [0, 6, 7]; // dataset "solo": only in one-entry blocks of one-record batches
    const LONE = 3; // dataset "lone": one entry inside a five-record batch
    const SHARES = [2, 4, 9, 10];
    const times = Array.from({ length: 12 }, (_, i) => BASE_MS + (i * 7_919 % 13) * 3_600_000 + i);
    let dir: string;
    let db: Database;
    let index: EventIndex;

    const x: Posting = { dimension: "x", value: "" };
    const solo: Posting = { dimension: "d", value: "solo" };
    const lone: Posting = { dimension: "d", value: "lone" };
    const share: Posting = { dimension: "t", value: "share" };
    const absent: Posting = { dimension: "d", value: "absent" };
    const entries = (indices: number[]): Entry[] => indices.map((i) => [i, times[i]!]);
    const list = (p: Posting, before: number) => drain(index.openList(p, before));

    before(async function () {
      dir = tempDir();
      db = await openDatabase(dir);
      index = new EventIndex(db);
      const envelopes: Envelope[] = times.map((ms, i) => ({
        v: 1,
        log: "edge",
        index: i,
        receivedAt: "2026-01-01T00:00:00.000Z",
        submitter: SUBMITTERS[0]!,
        event: {
          type: SHARES.includes(i) ? "share" : "access",
          actor: { org: "330102003004:civil-affairs", system: "s", operator: "o" },
          dataset: SOLO.includes(i) ? "solo" : i === LONE ? "lone" : "common",
          purpose: "p",
          legalBasis: "l",
          fields: ["f"],
          occurredAt: new Date(ms).toISOString(),
          requestId: `r${i}`,
        },
      }));
      let from = 0;
      for (const size of BATCHES) {
        const ops: BatchOp[] = [];
        index.postingOps(envelopes.slice(from, from + size), ops);
        await index.write(ops);
        from += size;
      }
      // Neighbours of "d|solo|" in key order ("d|solo2|" sorts just before it, "d|soloé|"
      // after all its blocks) must never leak into its list.
      for (const neighbour of ["solo2", "soloé"]) {
        const ops: BatchOp[] = [];
        index.postingOps([{ ...envelopes[11]!, index: 40, event: { ...envelopes[11]!.event, dataset: neighbour } }], ops);
        await index.write(ops.filter((op) => op.key.startsWith(`d|${neighbour}|`)));
      }
    });

    after(async function () {
      await db?.close();
      removeDir(dir);
    });

    it("an absent term is an empty list, before or after a seek", async function () {
      expect(await list(absent, 12)).to.deep.equal([]);
      const cursor = index.openList(absent, 1_000);
      cursor.seek(5);
      expect(await cursor.next()).to.equal(undefined);
      await cursor.close();
      const both = [index.openList(x, 12), index.openList(absent, 12)];
      expect(await drainGenerator(intersect(both))).to.deep.equal([]);
      await Promise.all(both.map((c) => c.close()));
      expect(await drainGenerator(intersect([]))).to.deep.equal([]);
    });

    it("before = 0 is an empty list for every term", async function () {
      for (const p of [x, solo, lone, share, absent]) expect(await list(p, 0), termKey(p)).to.deep.equal([]);
      expect(await drain(new UnionCursor([index.openList(x, 0), index.openList(solo, 0)]))).to.deep.equal([]);
    });

    it("before inside a block, on a block's first index, just past it, at and beyond the end", async function () {
      const below = (indices: number[], before: number) => entries(indices.filter((i) => i < before).reverse());
      const all = Array.from({ length: 12 }, (_, i) => i);
      for (const before of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 40, 1_000, 2 ** 40]) {
        expect(await list(x, before), `x before ${before}`).to.deep.equal(below(all, before));
        expect(await list(share, before), `share before ${before}`).to.deep.equal(below(SHARES, before));
        expect(await list(solo, before), `solo before ${before}`).to.deep.equal(below(SOLO, before));
        expect(await list(lone, before), `lone before ${before}`).to.deep.equal(below([LONE], before));
      }
    });

    it("a term only in one-entry blocks seeks onto, between and back up across them, even after running out", async function () {
      const cursor = index.openList(solo, 12);
      const step = async (seek: number | undefined, want: number | undefined) => {
        if (seek !== undefined) cursor.seek(seek);
        expect(await cursor.next(), `seek ${seek}`).to.deep.equal(want === undefined ? undefined : { index: want, time: times[want] });
      };
      await step(undefined, 7);
      await step(6, 6);
      await step(5, 0);
      await step(7, 7); // up again
      await step(11, 7);
      await step(undefined, 6);
      await step(undefined, 0);
      await step(undefined, undefined);
      await step(undefined, undefined);
      await step(6, 6); // up again after the list ran out
      await step(0, 0);
      await step(11, 7);
      await cursor.close();

      const l = index.openList(lone, 12);
      l.seek(2);
      expect(await l.next()).to.equal(undefined);
      l.seek(5);
      expect(await l.next()).to.deep.equal({ index: 3, time: times[3] });
      l.seek(3);
      expect(await l.next()).to.deep.equal({ index: 3, time: times[3] });
      await l.close();
    });

    it("a seek inside a multi-entry block goes down and up without reading LevelDB again", async function () {
      const counter = new SeekCounter();
      const cursor = counter.watch(index.openList(x, 12));
      expect((await cursor.next())?.index).to.equal(11);
      for (const [target, want] of [[9, 9], [11, 11], [8, 8], [10, 10]]) {
        cursor.seek(target!);
        expect((await cursor.next())?.index, `seek ${target}`).to.equal(want);
      }
      expect(counter.iteratorSeeks).to.equal(0);
      cursor.seek(7);
      expect((await cursor.next())?.index).to.equal(7);
      expect(counter.iteratorSeeks).to.equal(1);
      expect(await drain(cursor)).to.deep.equal(entries([6, 5, 4, 3, 2, 1, 0]));
    });
  });

  describe("migration from the one-key-per-posting layout", function () {
    const random = seededRandom(SEED + 4);
    const silent = pino({ level: "silent" });
    const N = 5_000 + 737; // the rebuild writes blocks per 5,000 records: two chunks
    const MORE = 311;
    let dir: string;
    let stores: OpenStores;
    let db: Database;
    let log: EventLog;
    let idx: Sublevel;
    let stats: Sublevel;
    let plist: Sublevel;
    let statsAtN: [string, string][];

    const readAll = async (sublevel: Sublevel) => {
      const out: [string, string][] = [];
      for await (const [k, v] of sublevel.iterator()) out.push([k, v]);
      return out;
    };
    const at = (what: string) => `seed ${SEED}: ${what}`;

    async function records(upTo: number): Promise<Envelope[]> {
      return (await log.read(0, upTo)).map((r) => r.envelope);
    }

    /** Rewrites the index as a database from before blocks: old posting keys, no block. */
    async function makeOldLayout(indexedUpTo: number): Promise<void> {
      await plist.clear();
      const ops: { type: "put"; key: string; value: string }[] = [];
      for (const envelope of await records(indexedUpTo)) {
        const ms = String(Date.parse(envelope.event.occurredAt));
        for (const p of postingsOf(envelope)) ops.push({ type: "put", key: `${p.dimension}|${p.value}|${indexKey(envelope.index)}`, value: ms });
      }
      await idx.batch(ops);
      await idx.put("!watermark", String(indexedUpTo));
      await stats.clear();
      await stats.batch(statsAtN.map(([key, value]) => ({ type: "put" as const, key, value })));
    }

    async function expectListsOf(index: EventIndex, envelopes: Envelope[], what: string): Promise<void> {
      const reference = new Reference();
      envelopes.forEach((e) => reference.add(e));
      let compared = 0;
      for (const [key, indices] of reference.lists) {
        const p = posting(key);
        for (const before of [envelopes.length, envelopes.length + 1_000]) {
          expectSame(await drain(index.openList(p, before)), reference.below(indices, before), at(`${what}: ${key} before ${before}`));
        }
        compared += indices.length;
      }
      for (const before of [1, 4_999, 5_000, 5_001, 5_500]) {
        const p: Posting = { dimension: "x", value: "" };
        expectSame(await drain(index.openList(p, before)), reference.below(reference.list(p), before), at(`${what}: x before ${before}`));
      }
      expect(compared, at(`${what}: postings compared`)).to.be.greaterThan(envelopes.length * 8);
    }

    before(async function () {
      dir = tempDir();
      stores = await openStores(dir);
      db = stores.db;
      idx = utf8Sublevel(db, "idx");
      stats = utf8Sublevel(db, "stats");
      plist = utf8Sublevel(db, "plist");
      log = await EventLog.open(stores, { logId: "posting-blocks-migration", sync: false });
      for (let from = 0; from < N; from += 1_000) {
        const submissions = [];
        for (let i = from; i < Math.min(N, from + 1_000); i++) submissions.push({ submitter: pick(random, SUBMITTERS), event: randomEvent(random, i) });
        await log.append(submissions);
      }
      expect(log.size).to.equal(N);
      // Indexed the ordinary way first, for a watermark and counters as the gateway leaves them.
      const index = new EventIndex(db);
      expect(await index.needsPostingRebuild(), "an empty index needs no rebuild").to.equal(false);
      const indexer = new EventIndexer(log, index, [], silent);
      await indexer.start();
      await indexer.caughtUp(N);
      await indexer.stop();
      expect(await index.needsPostingRebuild(), "an index with blocks needs no rebuild").to.equal(false);
      statsAtN = await readAll(stats);
      expect(statsAtN.length).to.be.greaterThan(100);
    });

    after(async function () {
      await stores?.close();
      removeDir(dir);
    });

    it("rebuilds the blocks of the records below the watermark, drops the old keys, keeps watermark and counters", async function () {
      await makeOldLayout(N);
      const index = new EventIndex(db);
      expect(await index.needsPostingRebuild(), "the old layout needs a rebuild").to.equal(true);
      expect((await readAll(idx)).length).to.be.greaterThan(N * 8);

      const indexer = new EventIndexer(log, index, [], silent);
      await indexer.start();
      try {
        expect(await index.needsPostingRebuild()).to.equal(false);
        expect(await readAll(idx), "idx holds only the watermark").to.deep.equal([["!watermark", String(N)]]);
        expect(await index.watermark()).to.equal(N);
        expect(indexer.size).to.equal(N);
        expectSame(await readAll(stats), statsAtN, "counters untouched");
        await expectListsOf(index, await records(N), "rebuilt");
      } finally {
        await indexer.stop();
      }
    });

    it("a rebuild interrupted after its first blocks were written starts over on the next start", async function () {
      await makeOldLayout(N);
      // The process dies part-way: the rebuild began and wrote the blocks of the first 5,000 records only.
      const interrupted = new EventIndex(db);
      await interrupted.beginPostingRebuild();
      await interrupted.writePostings((await records(N)).slice(0, 5_000));
      const index = new EventIndex(db);
      expect(await index.needsPostingRebuild(), "blocks exist, but the rebuild did not finish").to.equal(true);

      const indexer = new EventIndexer(log, index, [], silent);
      await indexer.start();
      try {
        expect(await index.needsPostingRebuild()).to.equal(false);
        expect(await readAll(idx)).to.deep.equal([["!watermark", String(N)]]);
        expectSame(await readAll(stats), statsAtN, "counters untouched");
        await expectListsOf(index, await records(N), "rebuilt after an interruption");
      } finally {
        await indexer.stop();
      }
    });

    it("with records past the watermark, rebuilds only those below it and indexes the rest once", async function () {
      const submissions = [];
      for (let i = N; i < N + MORE; i++) submissions.push({ submitter: pick(random, SUBMITTERS), event: randomEvent(random, i) });
      await log.append(submissions);
      await makeOldLayout(N);
      const index = new EventIndex(db);
      expect(await index.needsPostingRebuild()).to.equal(true);

      const indexer = new EventIndexer(log, index, [], silent);
      await indexer.start();
      try {
        await indexer.caughtUp(N + MORE);
        expect(await readAll(idx)).to.deep.equal([["!watermark", String(N + MORE)]]);
        const all = await records(N + MORE);
        // Counters: those of the first N records as they were, plus the new records once.
        const expected = new Map(statsAtN);
        for (const envelope of all.slice(N)) {
          const key = index.counterKey(envelope);
          expected.set(key, String(Number(expected.get(key) ?? 0) + 1));
        }
        expectSame(await readAll(stats), [...expected].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), "counters: the old ones plus the new records");
        await expectListsOf(index, all, "rebuilt, then indexed past the watermark");
      } finally {
        await indexer.stop();
      }
    });
  });
});
