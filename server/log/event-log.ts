import { EventEmitter } from "node:events";
import { AppError } from "../errors";
import { canonicalJson, envelopeUtf8Writer, type Envelope } from "../domain/envelope";
import type { StoredEvent } from "../domain/event-schema";
import { indexKey, parseIndexKey, SYNCED_BATCH, type Database } from "../store/database";

/**
 * The append-only event log: one record per leaf index (the canonical envelope,
 * i.e. the exact leaf bytes) and an idempotency index on (submitter, requestId) → index.
 * A repeated requestId is a retry when its event's canonical JSON is the stored one's;
 * the stored record is read only then, so a new event costs no fingerprint.
 *
 * Appends are group-committed: every request that arrives while a synced batch
 * is being written joins the next batch, so many concurrent clients share one
 * fsync, and an append resolves only once its batch is durable.
 */

/** An event to append: as an object, or already serialised (server/ingest/prepared-events.ts). */
export type Submission = EventSubmission | SerialisedSubmission;

export interface EventSubmission {
  submitter: string;
  event: StoredEvent;
}

export interface SerialisedSubmission {
  submitter: string;
  requestId: string;
  /** RFC 8785 JSON of the stored event, UTF-8. */
  eventUtf8: Uint8Array;
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

/** Where an event with a given (submitter, requestId) is, and what it is. */
interface IdempotencyEntry {
  index: number;
  /** RFC 8785 JSON of its stored event, UTF-8. */
  eventUtf8: Uint8Array;
}

/** An operation of the log's batch, on one of its two sublevels. */
interface PutOp {
  type: "put";
  sublevel: LogSublevel;
  key: string;
  value: string | Uint8Array;
  valueEncoding?: "view";
}

type LogSublevel = ReturnType<typeof logSublevels>["records"];

/** The log's two sublevels: records by index, and the idempotency index. */
function logSublevels(db: Database) {
  return {
    records: db.sublevel<string, string>("log", { valueEncoding: "utf8" }),
    idempotency: db.sublevel<string, string>("idem", { valueEncoding: "utf8" }),
  };
}

interface PreparedBatch {
  requests: QueuedAppend[];
  logOps: PutOp[];
  idemOps: PutOp[];
  /** Answers each request (resolve or reject), once the batch is stored. */
  outcomes: (() => void)[];
  /** The new idempotency entries. */
  entries: Map<string, IdempotencyEntry>;
  /** The log's size once the batch is stored. */
  size: number;
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
  private readonly records: LogSublevel;
  private readonly idempotency: LogSublevel;
  private readonly logId: string;
  private readonly now: () => Date;
  private readonly sync: boolean;
  private queue: QueuedAppend[] = [];
  private writing = false;
  /** Records durably stored: the log's size. */
  private nextIndex = 0;
  /** The next index to hand out; beyond nextIndex while a batch is being written. */
  private assigned = 0;
  /** Idempotency entries of the batch being written, until the next batch is written. */
  private unwritten = new Map<string, IdempotencyEntry>();

  private constructor(db: Database, options: EventLogOptions) {
    super();
    ({ records: this.records, idempotency: this.idempotency } = logSublevels(db));
    this.logId = options.logId;
    this.now = options.now ?? (() => new Date());
    this.sync = options.sync ?? true;
  }

  static async open(db: Database, options: EventLogOptions): Promise<EventLog> {
    const log = new EventLog(db, options);
    for await (const key of log.records.keys({ reverse: true, limit: 1 })) {
      log.nextIndex = parseIndexKey(key) + 1;
    }
    log.assigned = log.nextIndex;
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

  /**
   * The group-commit loop. Batches are written one at a time, in order, but the next
   * batch is prepared (idempotency lookups, canonical JSON, index assignment) while
   * the previous one is being written and synced, so the fsync is not idle time.
   */
  private async writeQueued(): Promise<void> {
    let previous: Promise<boolean> = Promise.resolve(true);
    for (;;) {
      if (this.queue.length === 0) {
        await previous; // requests arriving meanwhile are taken below
        if (this.queue.length === 0) break;
      }
      const requests = this.queue;
      this.queue = [];
      let batch: PreparedBatch;
      try {
        batch = await this.prepare(requests);
      } catch (error) {
        for (const request of requests) request.reject(error);
        continue;
      }
      if (!(await previous)) {
        // Its indices follow records that were not stored: nothing of it may be written.
        this.assigned = this.nextIndex;
        this.unwritten = new Map();
        previous = Promise.resolve(true);
        for (const request of requests) request.reject(new Error("an earlier write to the log failed; nothing from this request was stored"));
        continue;
      }
      previous = this.commit(batch);
    }
    this.unwritten = new Map();
    this.writing = false;
  }

  /** Decides each submission's outcome and index, and the operations that store the new ones. */
  private async prepare(requests: QueuedAppend[]): Promise<PreparedBatch> {
    const keys = requests.flatMap((r) => r.submissions.map((s) => idempotencyKey(s)));
    // Entries of the batch being written may be invisible to this read: `unwritten` has them.
    const unwritten = this.unwritten;
    const storedByKey = await this.storedEntries(keys);

    const receivedAt = this.now().toISOString();
    const writers = new Map<string, ReturnType<typeof envelopeUtf8Writer>>();
    const envelopeOf = (submitter: string, eventUtf8: Uint8Array, index: number) => {
      let write = writers.get(submitter);
      if (!write) writers.set(submitter, (write = envelopeUtf8Writer({ log: this.logId, receivedAt, submitter })));
      return write(eventUtf8, index);
    };
    const logOps: PutOp[] = [];
    const idemOps: PutOp[] = [];
    const outcomes: (() => void)[] = [];
    const seenInBatch = new Map<string, IdempotencyEntry>();
    let next = this.assigned;

    for (const request of requests) {
      const results: AppendedEvent[] = [];
      const requestOps: typeof logOps = [];
      const requestIdemOps: typeof idemOps = [];
      const requestSeen = new Map<string, IdempotencyEntry>();
      let conflict: AppError | undefined;
      let index = next;
      for (const submission of request.submissions) {
        const key = idempotencyKey(submission);
        const eventUtf8 = "eventUtf8" in submission ? submission.eventUtf8 : Buffer.from(canonicalJson(submission.event), "utf8");
        const existing = requestSeen.get(key) ?? seenInBatch.get(key) ?? unwritten.get(key) ?? storedByKey.get(key);
        if (existing) {
          if (Buffer.compare(existing.eventUtf8, eventUtf8) !== 0) {
            conflict = conflictError(submission, existing.index);
            break;
          }
          results.push({ index: existing.index, created: false });
          continue;
        }
        const entry = { index, eventUtf8 };
        requestSeen.set(key, entry);
        const leaf = envelopeOf(submission.submitter, eventUtf8, index);
        requestOps.push({ type: "put", sublevel: this.records, key: indexKey(index), value: leaf, valueEncoding: "view" });
        requestIdemOps.push({ type: "put", sublevel: this.idempotency, key, value: `{"index":${index}}` });
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
    this.assigned = next;
    return { requests, logOps, idemOps, outcomes, entries: seenInBatch, size: next };
  }

  /**
   * The stored entries of these idempotency keys, with their events' JSON read back from
   * the records (one read for all of them; only retries and reused requestIds have any).
   * Entries written before fingerprints were dropped also hold an `fp`; it is not needed.
   */
  private async storedEntries(keys: string[]): Promise<Map<string, IdempotencyEntry>> {
    const found = new Map<string, number>();
    (await this.idempotency.getMany(keys)).forEach((value, i) => value !== undefined && found.set(keys[i]!, (JSON.parse(value) as { index: number }).index));
    const entries = new Map<string, IdempotencyEntry>();
    if (found.size === 0) return entries;
    const indices = [...new Set(found.values())];
    const leaves = await this.records.getMany(indices.map(indexKey));
    const eventUtf8At = new Map<number, Uint8Array>();
    indices.forEach((index, i) => {
      // Written in the same batch as its idempotency entry, so it is there.
      if (leaves[i] === undefined) throw new Error(`the log has an idempotency entry for index ${index} but no record there`);
      eventUtf8At.set(index, Buffer.from(canonicalJson((JSON.parse(leaves[i]!) as Envelope).event), "utf8"));
    });
    for (const [key, index] of found) entries.set(key, { index, eventUtf8: eventUtf8At.get(index)! });
    return entries;
  }

  /** Writes a prepared batch (synced), then answers its requests. Resolves to whether it was stored. */
  private async commit(batch: PreparedBatch): Promise<boolean> {
    this.unwritten = batch.entries;
    if (batch.logOps.length > 0) {
      try {
        await this.records.db.batch(batch.logOps.concat(batch.idemOps), this.sync ? SYNCED_BATCH : {});
      } catch (error) {
        for (const request of batch.requests) request.reject(error);
        return false;
      }
      this.nextIndex = batch.size;
    }
    for (const settle of batch.outcomes) settle();
    if (batch.logOps.length > 0) this.emit("appended", this.nextIndex);
    return true;
  }

  async get(index: number): Promise<StoredRecord | undefined> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.nextIndex) return undefined;
    const value = await this.records.get(indexKey(index), AS_BYTES);
    if (value === undefined) return undefined;
    return toRecord(index, value as unknown as Uint8Array);
  }

  /** Records [from, to) that are stored, in index order (a gap means a missing record). */
  async read(from: number, to: number): Promise<StoredRecord[]> {
    // One call for the whole range: iterating entry by entry costs a promise per record.
    const entries = (await this.records.iterator({ gte: indexKey(from), lt: indexKey(to), ...AS_BYTES }).all()) as unknown as [string, Uint8Array][];
    return entries.map(([key, value]) => toRecord(parseIndexKey(key), value));
  }

  /** Leaf bytes of records [from, to), in order; for folding into the tree. */
  async readLeaves(from: number, to: number): Promise<Uint8Array[]> {
    return (await this.records.values({ gte: indexKey(from), lt: indexKey(to), ...AS_BYTES }).all()) as unknown as Uint8Array[];
  }
}

/** Per-call encoding: records are read as bytes (the leaf), decoded once for the envelope. */
const AS_BYTES = { valueEncoding: "view" } as const;

function toRecord(index: number, value: Uint8Array): StoredRecord {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return { index, envelope: JSON.parse(bytes.toString("utf8")) as Envelope, bytes };
}

function requestIdOf(submission: Submission): string {
  return "eventUtf8" in submission ? submission.requestId : submission.event.requestId;
}

function idempotencyKey(submission: Submission): string {
  return `${submission.submitter}\u0000${requestIdOf(submission)}`;
}

function conflictError(submission: Submission, index: number): AppError {
  const requestId = requestIdOf(submission);
  return new AppError({
    code: "CONFLICT",
    message: `requestId ${JSON.stringify(requestId)} was already used for a different event (index ${index}); nothing from this request was stored`,
    details: { requestId, index },
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
