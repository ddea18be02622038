import { EventEmitter } from "node:events";
import { AppError } from "../errors";
import { canonicalJson, envelopeJson, fingerprintOfJson, type Envelope } from "../domain/envelope";
import type { StoredEvent } from "../domain/event-schema";
import { indexKey, parseIndexKey, type Database } from "../store/database";

/**
 * The append-only event log: one record per leaf index (the canonical envelope,
 * i.e. the exact leaf bytes) and an idempotency index on (submitter, requestId).
 *
 * Appends are group-committed: every request that arrives while a synced batch
 * is being written joins the next batch, so many concurrent clients share one
 * fsync, and an append resolves only once its batch is durable.
 */

export interface Submission {
  submitter: string;
  event: StoredEvent;
}

export interface AppendedEvent {
  index: number;
  /** False when an identical event with this requestId was already stored. */
  created: boolean;
}

export interface StoredRecord {
  index: number;
  envelope: Envelope;
  /** The leaf bytes: RFC 8785 canonical JSON of the envelope. */
  bytes: Buffer;
}

interface IdempotencyEntry {
  index: number;
  fp: string;
}

interface QueuedAppend {
  submissions: Submission[];
  resolve: (results: AppendedEvent[]) => void;
  reject: (error: unknown) => void;
}

export interface EventLogOptions {
  logId: string;
  /** Injected for tests; defaults to the wall clock. */
  now?: () => Date;
  /** fsync every batch (default true): an acknowledged event survives a crash. */
  sync?: boolean;
}

export class EventLog extends EventEmitter {
  private readonly records;
  private readonly idempotency;
  private readonly logId: string;
  private readonly now: () => Date;
  private readonly sync: boolean;
  private queue: QueuedAppend[] = [];
  private writing = false;
  private nextIndex = 0;

  private constructor(db: Database, options: EventLogOptions) {
    super();
    this.records = db.sublevel<string, string>("log", { valueEncoding: "utf8" });
    this.idempotency = db.sublevel<string, string>("idem", { valueEncoding: "utf8" });
    this.logId = options.logId;
    this.now = options.now ?? (() => new Date());
    this.sync = options.sync ?? true;
  }

  static async open(db: Database, options: EventLogOptions): Promise<EventLog> {
    const log = new EventLog(db, options);
    for await (const key of log.records.keys({ reverse: true, limit: 1 })) {
      log.nextIndex = parseIndexKey(key) + 1;
    }
    return log;
  }

  /** Number of records; the next record gets this index. */
  get size(): number {
    return this.nextIndex;
  }

  /**
   * Appends the submissions of one request, all or nothing. A submission whose
   * (submitter, requestId) is already stored with the same event returns the
   * stored index; with a different event the whole request fails with CONFLICT.
   */
  append(submissions: Submission[]): Promise<AppendedEvent[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ submissions, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.writeQueued());
      }
    });
  }

  private async writeQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const requests = this.queue;
      this.queue = [];
      try {
        await this.writeBatch(requests);
      } catch (error) {
        for (const request of requests) request.reject(error);
      }
    }
    this.writing = false;
  }

  private async writeBatch(requests: QueuedAppend[]): Promise<void> {
    const keys = requests.flatMap((r) => r.submissions.map((s) => idempotencyKey(s)));
    const stored = await this.idempotency.getMany(keys);
    const storedByKey = new Map<string, IdempotencyEntry>();
    keys.forEach((key, i) => stored[i] !== undefined && storedByKey.set(key, JSON.parse(stored[i]!)));

    const receivedAt = this.now().toISOString();
    const logOps: { type: "put"; key: string; value: string }[] = [];
    const idemOps: { type: "put"; key: string; value: string }[] = [];
    const outcomes: (() => void)[] = [];
    const seenInBatch = new Map<string, IdempotencyEntry>();
    let next = this.nextIndex;

    for (const request of requests) {
      const results: AppendedEvent[] = [];
      const requestOps: typeof logOps = [];
      const requestIdemOps: typeof idemOps = [];
      const requestSeen = new Map<string, IdempotencyEntry>();
      let conflict: AppError | undefined;
      let index = next;
      for (const submission of request.submissions) {
        const key = idempotencyKey(submission);
        const eventJson = canonicalJson(submission.event);
        const fp = fingerprintOfJson(eventJson);
        const existing = requestSeen.get(key) ?? seenInBatch.get(key) ?? storedByKey.get(key);
        if (existing) {
          if (existing.fp !== fp) {
            conflict = conflictError(submission, existing.index);
            break;
          }
          results.push({ index: existing.index, created: false });
          continue;
        }
        const entry = { index, fp };
        requestSeen.set(key, entry);
        const leaf = envelopeJson(eventJson, { log: this.logId, index, receivedAt, submitter: submission.submitter });
        requestOps.push({ type: "put", key: indexKey(index), value: leaf });
        requestIdemOps.push({ type: "put", key, value: JSON.stringify(entry) });
        results.push({ index, created: true });
        index += 1;
      }
      if (conflict) {
        const error = conflict;
        outcomes.push(() => request.reject(error));
        continue;
      }
      next = index;
      logOps.push(...requestOps);
      idemOps.push(...requestIdemOps);
      for (const [key, entry] of requestSeen) seenInBatch.set(key, entry);
      outcomes.push(() => request.resolve(results));
    }

    if (logOps.length > 0) {
      await this.records.db.batch(
        [
          ...logOps.map((op) => ({ ...op, sublevel: this.records })),
          ...idemOps.map((op) => ({ ...op, sublevel: this.idempotency })),
        ],
        { sync: this.sync },
      );
      this.nextIndex = next;
    }
    for (const settle of outcomes) settle();
    if (logOps.length > 0) this.emit("appended", this.nextIndex);
  }

  async get(index: number): Promise<StoredRecord | undefined> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.nextIndex) return undefined;
    const value = await this.records.get(indexKey(index));
    if (value === undefined) return undefined;
    return toRecord(index, value);
  }

  /** Leaf bytes of records [from, to), in order; for folding into the tree. */
  async readLeaves(from: number, to: number): Promise<Buffer[]> {
    const leaves: Buffer[] = [];
    for await (const value of this.records.values({ gte: indexKey(from), lt: indexKey(to) })) {
      leaves.push(Buffer.from(value, "utf8"));
    }
    return leaves;
  }

  /** Every record from `from` on, in index order; for audits and index rebuilds. */
  async *scan(from = 0): AsyncGenerator<StoredRecord> {
    for await (const [key, value] of this.records.iterator({ gte: indexKey(from) })) {
      yield toRecord(parseIndexKey(key), value);
    }
  }
}

function toRecord(index: number, value: string): StoredRecord {
  return { index, envelope: JSON.parse(value) as Envelope, bytes: Buffer.from(value, "utf8") };
}

function idempotencyKey(submission: Submission): string {
  return `${submission.submitter}\u0000${submission.event.requestId}`;
}

function conflictError(submission: Submission, index: number): AppError {
  return new AppError({
    code: "CONFLICT",
    message: `requestId ${JSON.stringify(submission.event.requestId)} was already used for a different event (index ${index}); nothing from this request was stored`,
    details: { requestId: submission.event.requestId, index },
  });
}

/**
 * Every stored record as it is on disk — key and bytes, unparsed — for audits,
 * which must see records the log itself would refuse (not JSON, wrong index).
 */
export async function* rawLogRecords(db: Database): AsyncGenerator<{ key: string; value: Uint8Array }> {
  const records = db.sublevel<string, Uint8Array>("log", { keyEncoding: "utf8", valueEncoding: "view" });
  for await (const [key, value] of records.iterator({ keyEncoding: "utf8", valueEncoding: "view" })) {
    yield { key, value };
  }
}
