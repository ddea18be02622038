import type { Envelope } from "../domain/envelope";
import { divisionOfOrg, levelOf, LEVELS, type Level } from "../domain/divisions";
import { indexKey, parseIndexKey, type Database } from "../store/database";
import type { AnySublevel, BatchOp } from "./index-observer";

/**
 * Secondary indexes over the log and the counters behind the statistics. Every
 * posting list is ordered by leaf index, so filters combine by a merge join
 * instead of a scan of the log.
 *
 * Postings are stored in blocks: each indexed batch of records writes, for every
 * term it contains, one key holding all of that batch's postings of the term. A
 * batch of 5,000 events thus writes a few thousand keys instead of ~55,000 (most
 * terms — a province, a type, a dataset — recur across the batch), which is most
 * of what indexing used to cost in LevelDB writes and compactions.
 *
 * `plist`: `<dimension>|<value>|<16-hex index of the block's first posting>` →
 * block. A block is a run of 12-byte entries in ascending index order: u32 LE
 * offset of the leaf index from the block's first one, f64 LE occurredAt in epoch
 * milliseconds (so a time range filters postings without reading the records).
 * Blocks of one term cover disjoint index ranges, in key order.
 *
 * | dimension | value                | posting for every event whose …                  |
 * |-----------|----------------------|--------------------------------------------------|
 * | `j`       | division prefix      | actor or recipient lies in that division subtree |
 * | `o`       | org                  | actor or recipient is that organisation          |
 * | `r`       | org                  | recipient is that organisation                   |
 * | `d`       | dataset              | dataset                                           |
 * | `t`       | type                 | event type                                        |
 * | `s`       | subjectRef           | data subject (pseudonym)                          |
 * | `u`       | submitter key id     | submitted with that key                           |
 * | `x`       | (empty)              | every event (for queries without an equality filter) |
 *
 * `idx`: `!watermark` → number of log records indexed so far; `!rebuilding` while
 * posting lists are rebuilt. (Before blocks, `idx` also held one key per posting;
 * `needsPostingRebuild` finds such a database.)
 *
 * `stats`: `<day>|<actor org>|<type>` → count, day being the date of occurredAt
 * as written by the submitter (its own UTC offset).
 */

export type Dimension = "j" | "o" | "r" | "d" | "t" | "s" | "u" | "x";

export interface Posting {
  dimension: Dimension;
  value: string;
}

const WATERMARK = "!watermark";
/** Present while posting lists are being rebuilt. Sorts before WATERMARK, which old postings follow. */
const REBUILDING = "!rebuilding";

const PREFIX_DIGITS: Record<Exclude<Level, "grid">, number> = { province: 2, city: 4, county: 6, township: 9, village: 12 };

/** The division prefixes an org is found under: its own level and every level above. */
export function jurisdictionPrefixes(org: string): string[] {
  const division = divisionOfOrg(org);
  const level = levelOf(division);
  const prefixes: string[] = [];
  for (const l of LEVELS) {
    if (l === "grid") break;
    prefixes.push(division.slice(0, PREFIX_DIGITS[l]));
    if (l === level) break;
  }
  if (level === "grid") prefixes.push(division);
  return prefixes;
}

/** The prefix that selects a division's whole subtree in the `j` index. */
export function subtreePrefix(division: string): string {
  const level = levelOf(division);
  return level === "grid" ? division : division.slice(0, PREFIX_DIGITS[level]);
}

export function postingsOf(envelope: Envelope): Posting[] {
  const { event, submitter } = envelope;
  const orgs = [event.actor.org, ...(event.recipient ? [event.recipient.org] : [])];
  const postings: Posting[] = [];
  for (const prefix of new Set(orgs.flatMap(jurisdictionPrefixes))) postings.push({ dimension: "j", value: prefix });
  for (const org of new Set(orgs)) postings.push({ dimension: "o", value: org });
  if (event.recipient) postings.push({ dimension: "r", value: event.recipient.org });
  postings.push({ dimension: "d", value: event.dataset });
  postings.push({ dimension: "t", value: event.type });
  if (event.subjectRef) postings.push({ dimension: "s", value: event.subjectRef });
  postings.push({ dimension: "u", value: submitter });
  postings.push({ dimension: "x", value: "" });
  return postings;
}

export function dayOf(occurredAt: string): string {
  return occurredAt.slice(0, 10);
}

function termOf(p: Posting): string {
  return `${p.dimension}|${p.value}|`;
}

const ENTRY_BYTES = 12;

/** Encodes ascending (index, time) pairs as one block (see the layout above). */
export function encodeBlock(indices: readonly number[], times: readonly number[]): Uint8Array {
  const block = Buffer.allocUnsafe(indices.length * ENTRY_BYTES);
  const first = indices[0]!;
  for (let i = 0; i < indices.length; i++) {
    block.writeUInt32LE(indices[i]! - first, i * ENTRY_BYTES);
    block.writeDoubleLE(times[i]!, i * ENTRY_BYTES + 4);
  }
  return block;
}

/** Posting operations for consecutive envelopes: one block per term they contain. */
export function postingBlocks(envelopes: readonly Envelope[]): { key: string; value: Uint8Array }[] {
  const terms = new Map<string, { indices: number[]; times: number[] }>();
  const add = (term: string, index: number, time: number) => {
    const list = terms.get(term);
    if (list) {
      list.indices.push(index);
      list.times.push(time);
    } else {
      terms.set(term, { indices: [index], times: [time] });
    }
  };
  for (const { index, event, submitter } of envelopes) {
    const time = Date.parse(event.occurredAt);
    // The terms of postingsOf(envelope), in its order; those from organisations come memoised.
    for (const term of orgTerms(event.actor.org, event.recipient?.org)) add(term, index, time);
    add(`d|${event.dataset}|`, index, time);
    add(`t|${event.type}|`, index, time);
    if (event.subjectRef) add(`s|${event.subjectRef}|`, index, time);
    add(`u|${submitter}|`, index, time);
    add("x||", index, time);
  }
  return [...terms].map(([term, { indices, times }]) => ({ key: term + indexKey(indices[0]!), value: encodeBlock(indices, times) }));
}

const orgTermCache = new Map<string, string[]>();

/**
 * The terms an event gets from its actor and recipient (jurisdiction prefixes, orgs,
 * recipient), as postingsOf gives them. Memoised: few organisations, many events, and
 * working out a division's level is most of the cost.
 */
function orgTerms(actor: string, recipient: string | undefined): string[] {
  const key = recipient === undefined ? actor : `${actor} ${recipient}`;
  let terms = orgTermCache.get(key);
  if (!terms) {
    const sample = { index: 0, submitter: "", event: { actor: { org: actor }, ...(recipient === undefined ? {} : { recipient: { org: recipient } }) } } as unknown as Envelope;
    terms = postingsOf(sample)
      .filter((p) => p.dimension === "j" || p.dimension === "o" || p.dimension === "r")
      .map(termOf);
    if (orgTermCache.size >= 10_000) orgTermCache.clear();
    orgTermCache.set(key, terms);
  }
  return terms;
}

export class EventIndex {
  /** The watermark (and, in databases from before posting blocks, old postings). */
  private readonly idx;
  private readonly blocks;
  readonly counters;

  constructor(db: Database) {
    this.idx = db.sublevel<string, string>("idx", { valueEncoding: "utf8" });
    this.blocks = db.sublevel<string, Uint8Array>("plist", { valueEncoding: "view" });
    this.counters = db.sublevel<string, string>("stats", { valueEncoding: "utf8" });
  }

  /** Writes a batch of operations (this index's and its observers') atomically. */
  write(ops: BatchOp[]): Promise<void> {
    return this.idx.db.batch(ops as never);
  }

  async watermark(): Promise<number> {
    const value = await this.idx.get(WATERMARK);
    return value === undefined ? 0 : Number(value);
  }

  watermarkOp(size: number): BatchOp {
    return { type: "put", sublevel: this.idx, key: WATERMARK, value: String(size) };
  }

  /** Posting operations for consecutive envelopes (one indexed batch). */
  postingOps(envelopes: readonly Envelope[], ops: BatchOp[]): void {
    for (const { key, value } of postingBlocks(envelopes)) ops.push({ type: "put", sublevel: this.blocks as AnySublevel, key, value });
  }

  /**
   * True for a database indexed before posting blocks existed (records are indexed
   * but no block is stored), or whose rebuild was interrupted. Its postings must be
   * rebuilt from the log; the watermark, counters and observers' state stay as they are.
   */
  async needsPostingRebuild(): Promise<boolean> {
    if ((await this.idx.get(REBUILDING)) !== undefined) return true;
    if ((await this.watermark()) === 0) return false;
    for await (const _ of this.blocks.keys({ limit: 1 })) return false;
    return true;
  }

  /** Marks a rebuild as started (so an interrupted one starts over) and drops every posting, old layout or new. */
  async beginPostingRebuild(): Promise<void> {
    await this.idx.put(REBUILDING, "1");
    await this.blocks.clear();
    await this.idx.clear({ gt: WATERMARK });
  }

  async endPostingRebuild(): Promise<void> {
    await this.idx.del(REBUILDING);
  }

  /** Writes blocks for already-indexed envelopes, without moving the watermark (a rebuild). */
  async writePostings(envelopes: readonly Envelope[]): Promise<void> {
    const ops: BatchOp[] = [];
    this.postingOps(envelopes, ops);
    await this.write(ops);
  }

  counterKey(envelope: Envelope): string {
    return `${dayOf(envelope.event.occurredAt)}|${envelope.event.actor.org}|${envelope.event.type}`;
  }

  async readCounters(keys: string[]): Promise<number[]> {
    const values = await this.counters.getMany(keys);
    return values.map((v) => (v === undefined ? 0 : Number(v)));
  }

  counterOp(key: string, value: number): BatchOp {
    return { type: "put", sublevel: this.counters, key, value: String(value) };
  }

  /** Counters for days in [fromDay, toDay], inclusive. */
  async *countersBetween(fromDay: string, toDay: string): AsyncGenerator<{ day: string; org: string; type: string; count: number }> {
    for await (const [key, value] of this.counters.iterator({ gte: `${fromDay}|`, lt: `${toDay}|~` })) {
      const [day, org, type] = key.split("|") as [string, string, string];
      yield { day, org, type, count: Number(value) };
    }
  }

  /**
   * A posting list read newest first, starting below `before` (exclusive). The
   * iterator can seek, which is what the merge join needs.
   */
  openList(p: Posting, before: number): IndexCursor {
    const term = termOf(p);
    // Blocks are keyed by their first index: the one holding `before - 1` starts below `before`.
    return new PostingCursor(this.blocks.iterator({ gte: term, lt: term + indexKey(before), reverse: true }) as unknown as BlockIterator, term, before);
  }
}

export interface BlockIterator {
  seek(target: string): void;
  next(): Promise<[string, Uint8Array] | undefined>;
  close(): Promise<void>;
}

/** A posting list (or a union of some), read newest first, able to jump down to an index. */
export interface IndexCursor {
  /** Moves to the newest posting at or below `index`. */
  seek(index: number): void;
  next(): Promise<{ index: number; time: number } | undefined>;
  close(): Promise<void>;
}

/**
 * One term's posting list, newest first, over its blocks: reads a block from a
 * reverse iterator and walks it down. A seek that lands in the current block is a
 * binary search in memory; any other seek moves the iterator.
 */
export class PostingCursor implements IndexCursor {
  private block?: DataView;
  private first = 0;
  /** Next entry of the block to consider, walking down; -1 when the block is done. */
  private position = -1;
  /** Every index in [first, ceiling] is in the current block, if in the list at all. */
  private ceiling = 0;
  /** The same bound for the block the iterator yields next. */
  private nextCeiling: number;
  /** Postings above this are skipped (the list's upper bound, then the last seek). */
  private highest: number;

  constructor(
    private readonly iterator: BlockIterator,
    private readonly term: string,
    before: number,
  ) {
    this.highest = before - 1;
    this.nextCeiling = before - 1;
  }

  seek(index: number): void {
    this.highest = index;
    if (this.block && index >= this.first && index <= this.ceiling) {
      this.position = this.lastAtOrBelow(index);
    } else {
      this.block = undefined;
      this.nextCeiling = index;
      this.iterator.seek(this.term + indexKey(index));
    }
  }

  async next(): Promise<{ index: number; time: number } | undefined> {
    for (;;) {
      if (this.block) {
        while (this.position >= 0) {
          const offset = this.position * ENTRY_BYTES;
          this.position -= 1;
          const index = this.first + this.block.getUint32(offset, true);
          if (index <= this.highest) return { index, time: this.block.getFloat64(offset + 4, true) };
        }
        this.block = undefined;
        this.nextCeiling = this.first - 1;
      }
      const entry = await this.iterator.next();
      if (!entry) return undefined;
      const [key, value] = entry;
      this.block = new DataView(value.buffer, value.byteOffset, value.byteLength);
      this.first = parseIndexKey(key.slice(this.term.length));
      this.ceiling = this.nextCeiling;
      this.position = this.lastAtOrBelow(this.highest);
    }
  }

  close(): Promise<void> {
    return this.iterator.close();
  }

  /** Position of the last entry of the block at or below `index` (-1 if none). */
  private lastAtOrBelow(index: number): number {
    const block = this.block!;
    let low = 0;
    let high = block.byteLength / ENTRY_BYTES; // first entry above `index` lies in [low, high]
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.first + block.getUint32(middle * ENTRY_BYTES, true) <= index) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }
}

/**
 * Postings that are in any of several lists (an auditor bound to several
 * datasets or organisations), newest first, each index once.
 */
export class UnionCursor implements IndexCursor {
  private heads: ({ index: number; time: number } | undefined | null)[];

  constructor(private readonly lists: IndexCursor[]) {
    this.heads = lists.map(() => null);
  }

  seek(index: number): void {
    this.lists.forEach((list, i) => {
      list.seek(index);
      this.heads[i] = null;
    });
  }

  async next(): Promise<{ index: number; time: number } | undefined> {
    await Promise.all(this.lists.map(async (list, i) => this.heads[i] === null && (this.heads[i] = await list.next())));
    let newest: { index: number; time: number } | undefined;
    for (const head of this.heads) if (head && (!newest || head.index > newest.index)) newest = head;
    if (!newest) return undefined;
    this.heads = this.heads.map((head) => (head && head.index === newest!.index ? null : head));
    return newest;
  }

  async close(): Promise<void> {
    await Promise.all(this.lists.map((list) => list.close()));
  }
}
