import type { Envelope } from "../domain/envelope";
import { divisionOfOrg, levelOf, LEVELS, type Level } from "../domain/divisions";
import { indexKey, parseIndexKey, type Database } from "../store/database";
import type { BatchOp } from "./index-observer";

/**
 * Secondary indexes over the log and the counters behind the statistics, in
 * sublevels `idx` and `stats`. Every posting list is ordered by leaf index, so
 * filters combine by a merge join instead of a scan of the log.
 *
 * | key in `idx`                 | meaning                                            |
 * |------------------------------|----------------------------------------------------|
 * | `!watermark`                 | number of log records indexed so far              |
 * | `j|<division prefix>|<idx>`  | actor or recipient lies in that division subtree  |
 * | `o|<org>|<idx>`              | actor or recipient is that organisation           |
 * | `r|<org>|<idx>`              | recipient is that organisation                    |
 * | `d|<dataset>|<idx>`          | dataset                                            |
 * | `t|<type>|<idx>`             | event type                                         |
 * | `s|<subjectRef>|<idx>`       | data subject (pseudonym)                           |
 * | `u|<submitter key id>|<idx>` | submitted with that key                            |
 * | `x||<idx>`                   | every event (for queries without an equality filter) |
 *
 * Each posting's value is the event's occurredAt in epoch milliseconds, so a
 * time range filters postings without reading the records.
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

export function postingKey(p: Posting, index: number): string {
  return `${p.dimension}|${p.value}|${indexKey(index)}`;
}

export class EventIndex {
  readonly postings;
  readonly counters;

  constructor(db: Database) {
    this.postings = db.sublevel<string, string>("idx", { valueEncoding: "utf8" });
    this.counters = db.sublevel<string, string>("stats", { valueEncoding: "utf8" });
  }

  async watermark(): Promise<number> {
    const value = await this.postings.get(WATERMARK);
    return value === undefined ? 0 : Number(value);
  }

  watermarkOp(size: number): BatchOp {
    return { type: "put", sublevel: this.postings, key: WATERMARK, value: String(size) };
  }

  /** Posting operations for one envelope. */
  postingOps(envelope: Envelope, ops: BatchOp[]): void {
    const time = String(Date.parse(envelope.event.occurredAt));
    for (const p of postingsOf(envelope)) ops.push({ type: "put", sublevel: this.postings, key: postingKey(p, envelope.index), value: time });
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
  openList(p: Posting, before: number) {
    const prefix = `${p.dimension}|${p.value}|`;
    return new PostingCursor(
      this.postings.iterator({ gte: prefix, lt: prefix + indexKey(before), reverse: true }) as unknown as EntryIterator,
      prefix,
    );
  }
}

interface EntryIterator {
  seek(target: string): void;
  next(): Promise<[string, string] | undefined>;
  close(): Promise<void>;
}

/** A posting list (or a union of some), read newest first, able to jump down to an index. */
export interface IndexCursor {
  /** Moves to the newest posting at or below `index`. */
  seek(index: number): void;
  next(): Promise<{ index: number; time: number } | undefined>;
  close(): Promise<void>;
}

export class PostingCursor implements IndexCursor {
  constructor(
    private readonly iterator: EntryIterator,
    private readonly prefix: string,
  ) {}

  seek(index: number): void {
    this.iterator.seek(this.prefix + indexKey(index));
  }

  async next(): Promise<{ index: number; time: number } | undefined> {
    const entry = await this.iterator.next();
    if (!entry) return undefined;
    const [key, value] = entry;
    return { index: parseIndexKey(key.slice(this.prefix.length)), time: Number(value) };
  }

  close(): Promise<void> {
    return this.iterator.close();
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
