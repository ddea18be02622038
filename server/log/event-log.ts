import { EventEmitter } from "node:events";
import { AppError } from "../errors";
import { canonicalJson, envelopeUtf8Writer, type Envelope } from "../domain/envelope";
import type { StoredEvent } from "../domain/event-schema";
import { indexKey, parseIndexKey, putAll, SYNCED, SYNCED_BATCH, UNSYNCED_BATCH, type Database, type Put, type RecordsDatabase, type Stores } from "../store/database";

/**
 * The append-only event log: one record per leaf index (the canonical envelope,
 * i.e. the exact leaf bytes) in the records database, and an idempotency index on
 * (submitter, requestId) → index in the gateway's database. A repeated requestId is a
 * retry when its event's canonical JSON is the stored one's; the stored record is read
 * only then, so a new event costs no fingerprint.
 *
 * The records are the truth; the idempotency index is derived from them. A batch's
 * records are written and synced first, then its index entries, unsynced, with the
 * number of records they cover (`idem-size`). What a crash loses of the index is
 * rebuilt from the records when the log opens.
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

/**
 * A record to write: leaf index key → leaf bytes. Records are written as an array batch,
 * not with putAll's chained batch: classic-level frees a chained batch's native copy of
 * its keys and values only when the batch object is garbage-collected, and a batch of
 * records holds some 450 KB (the memory run's peak RSS grew with it).
 */
interface RecordPut {
  type: "put";
  key: string;
  value: Uint8Array;
}

/** The log's sublevels in the gateway's database. */
function indexSublevels(db: Database) {
  return {
    idempotency: db.sublevel<string, string>("idem", { valueEncoding: "utf8" }),
    /** "size" → how many records the idempotency index covers. */
    indexedSize: db.sublevel<string, string>("idem-size", { valueEncoding: "utf8" }),
    /** Records as gateways stored them before they had their own database; moved on open. */
    legacyRecords: db.sublevel<string, Uint8Array>("log", { valueEncoding: "view" }),
  };
}

interface PreparedBatch {
  requests: QueuedAppend[];
  recordPuts: RecordPut[];
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
  /** Told about long work when opening: moving records of an older layout, rebuilding the index. */
  onProgress?: (message: string) => void;
}

export class EventLog extends EventEmitter {
  private readonly records: RecordsDatabase;
  private readonly db: Database;
  private readonly idempotency: ReturnType<typeof indexSublevels>["idempotency"];
  private readonly indexedSize: ReturnType<typeof indexSublevels>["indexedSize"];
  private readonly logId: string;
  private readonly now: () => Date;
  private readonly sync: boolean;
  private queue: QueuedAppend[] = [];
  private writing = false;
  /** Records durably stored: the log's size. */
  private nextIndex = 0;
  /** The next index to hand out; beyond nextIndex while a batch is being written. */
  private assigned = 0;
  /**
   * Idempotency entries of records being written or written, until the index has them.
   * Replaced by a new map once they are written, not emptied: a batch being prepared
   * keeps the map it began with, which has every entry its read of the index could miss.
   */
  private unindexed = new Map<string, IdempotencyEntry>();

  private constructor(stores: Stores, options: EventLogOptions) {
    super();
    this.records = stores.records;
    this.db = stores.db;
    ({ idempotency: this.idempotency, indexedSize: this.indexedSize } = indexSublevels(stores.db));
    this.logId = options.logId;
    this.now = options.now ?? (() => new Date());
    this.sync = options.sync ?? true;
  }

  static async open(stores: Stores, options: EventLogOptions): Promise<EventLog> {
    await moveLegacyRecords(stores, options.onProgress);
    const log = new EventLog(stores, options);
    for await (const key of log.records.keys({ reverse: true, limit: 1 })) {
      log.nextIndex = parseIndexKey(key) + 1;
    }
    log.assigned = log.nextIndex;
    await log.indexUnindexedRecords(options.onProgress);
    return log;
  }

  /** Puts the idempotency entries of records stored after the index's last write. */
  private async indexUnindexedRecords(onProgress?: (message: string) => void): Promise<void> {
    const stored = await this.indexedSize.get("size");
    const from = stored === undefined ? 0 : Number(stored);
    if (from >= this.nextIndex) return;
    const total = this.nextIndex - from;
    if (total > REINDEX_CHUNK) onProgress?.(`rebuilding the idempotency index of ${total} records`);
    for (let start = from; start < this.nextIndex; start += REINDEX_CHUNK) {
      const end = Math.min(this.nextIndex, start + REINDEX_CHUNK);
      const ops: IndexPut[] = [];
      for (const [key, value] of (await this.records.iterator({ gte: indexKey(start), lt: indexKey(end) }).all()) as [string, Uint8Array][]) {
        const index = parseIndexKey(key);
        let envelope: Envelope;
        try {
          envelope = toRecord(index, value).envelope;
        } catch (error) {
          throw new Error(`cannot rebuild the idempotency index: the record at index ${index} is not an envelope`, { cause: error });
        }
        ops.push(this.indexPut(idempotencyKey({ submitter: envelope.submitter, event: envelope.event }), index));
      }
      ops.push(this.indexedSizePut(end));
      await putAll(this.db, ops, UNSYNCED_BATCH);
    }
  }

  private indexPut(key: string, index: number): IndexPut {
    return { sublevel: this.idempotency, key, value: `{"index":${index}}` };
  }

  /** The index covers records [0, size). */
  private indexedSizePut(size: number): IndexPut {
    return { sublevel: this.indexedSize, key: "size", value: String(size) };
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
        previous = Promise.resolve(true);
        for (const request of requests) request.reject(new Error("an earlier write to the log failed; nothing from this request was stored"));
        continue;
      }
      previous = this.commit(batch);
    }
    this.writing = false;
  }

  /** Decides each submission's outcome and index, and the operations that store the new ones. */
  private async prepare(requests: QueuedAppend[]): Promise<PreparedBatch> {
    const keys = requests.flatMap((r) => r.submissions.map((s) => idempotencyKey(s)));
    // Entries of records being written may be invisible to this read: `unindexed` has them.
    const unindexed = this.unindexed;
    const storedByKey = await this.storedEntries(keys);

    const receivedAt = this.now().toISOString();
    const writers = new Map<string, ReturnType<typeof envelopeUtf8Writer>>();
    const envelopeOf = (submitter: string, eventUtf8: Uint8Array, index: number) => {
      let write = writers.get(submitter);
      if (!write) writers.set(submitter, (write = envelopeUtf8Writer({ log: this.logId, receivedAt, submitter })));
      return write(eventUtf8, index);
    };
    const recordPuts: RecordPut[] = [];
    const outcomes: (() => void)[] = [];
    const seenInBatch = new Map<string, IdempotencyEntry>();
    let next = this.assigned;

    for (const request of requests) {
      const results: AppendedEvent[] = [];
      const requestPuts: RecordPut[] = [];
      const requestSeen = new Map<string, IdempotencyEntry>();
      let conflict: AppError | undefined;
      let index = next;
      for (const submission of request.submissions) {
        const key = idempotencyKey(submission);
        const eventUtf8 = "eventUtf8" in submission ? submission.eventUtf8 : Buffer.from(canonicalJson(submission.event), "utf8");
        const existing = requestSeen.get(key) ?? seenInBatch.get(key) ?? unindexed.get(key) ?? storedByKey.get(key);
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
        requestPuts.push({ type: "put", key: indexKey(index), value: leaf });
        results.push({ index, created: true });
        index += 1;
      }
      if (conflict) {
        const error = conflict;
        outcomes.push(() => request.reject(error));
        continue;
      }
      next = index;
      recordPuts.push(...requestPuts);
      for (const [key, entry] of requestSeen) seenInBatch.set(key, entry);
      outcomes.push(() => request.resolve(results));
    }
    this.assigned = next;
    return { requests, recordPuts, outcomes, entries: seenInBatch, size: next };
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
      // Written and synced before its idempotency entry, so it is there.
      if (leaves[i] === undefined) throw new Error(`the log has an idempotency entry for index ${index} but no record there`);
      eventUtf8At.set(index, Buffer.from(canonicalJson(toRecord(index, leaves[i]!).envelope.event), "utf8"));
    });
    for (const [key, index] of found) entries.set(key, { index, eventUtf8: eventUtf8At.get(index)! });
    return entries;
  }

  /**
   * Writes a prepared batch's records (synced), then their idempotency entries, then
   * answers its requests. Resolves to whether the records were stored.
   */
  private async commit(batch: PreparedBatch): Promise<boolean> {
    if (batch.recordPuts.length === 0) {
      for (const settle of batch.outcomes) settle();
      return true;
    }
    for (const [key, entry] of batch.entries) this.unindexed.set(key, entry);
    try {
      await this.records.batch(batch.recordPuts, this.sync ? SYNCED_BATCH : UNSYNCED_BATCH);
    } catch (error) {
      for (const key of batch.entries.keys()) this.unindexed.delete(key);
      for (const request of batch.requests) request.reject(error);
      return false;
    }
    this.nextIndex = batch.size;
    await this.writeIndex();
    for (const settle of batch.outcomes) settle();
    this.emit("appended", this.nextIndex);
    return true;
  }

  /**
   * Writes the unindexed entries and the size they bring the index to. Unsynced: a crash
   * loses only what open() rebuilds from the synced records. When the write fails the
   * records are stored all the same; their entries stay in memory for the next write.
   */
  private async writeIndex(): Promise<void> {
    const ops: IndexPut[] = [];
    for (const [key, { index }] of this.unindexed) ops.push(this.indexPut(key, index));
    ops.push(this.indexedSizePut(this.nextIndex));
    try {
      await putAll(this.db, ops, UNSYNCED_BATCH);
      this.unindexed = new Map();
    } catch (error) {
      this.emit("indexWriteFailed", error);
    }
  }

  async get(index: number): Promise<StoredRecord | undefined> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.nextIndex) return undefined;
    const value = await this.records.get(indexKey(index));
    if (value === undefined) return undefined;
    return toRecord(index, value);
  }

  /** Records [from, to) that are stored, in index order (a gap means a missing record). */
  async read(from: number, to: number): Promise<StoredRecord[]> {
    // One call for the whole range: iterating entry by entry costs a promise per record.
    const entries = (await this.records.iterator({ gte: indexKey(from), lt: indexKey(to) }).all()) as [string, Uint8Array][];
    return entries.map(([key, value]) => toRecord(parseIndexKey(key), value));
  }

  /** Leaf bytes of records [from, to), in order; for folding into the tree. */
  async readLeaves(from: number, to: number): Promise<Uint8Array[]> {
    return this.records.values({ gte: indexKey(from), lt: indexKey(to) }).all();
  }
}

/** An idempotency index operation in the gateway's database. */
type IndexPut = Put<string>;

const REINDEX_CHUNK = 10_000;
const MOVE_CHUNK = 10_000;

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
 * Stores of an older layout are upgraded first (EventLog.open, or upgradeRecordsLayout).
 */
export async function* rawLogRecords(stores: Stores): AsyncGenerator<{ key: string; value: Uint8Array }> {
  for await (const [key, value] of stores.records.iterator()) yield { key, value };
}

/**
 * Moves the records of a data directory of an older layout into the records database
 * (EventLog.open does the same): for tools that read a stopped gateway's stores without
 * opening its log. Nothing to do, and one empty read, for stores of this layout.
 */
export function upgradeRecordsLayout(stores: Stores, onProgress?: (message: string) => void): Promise<void> {
  return moveLegacyRecords(stores, onProgress);
}

/**
 * Moves records that gateways stored in the `log` sublevel of their one database into
 * the records database, in chunks: each is written there (synced), then deleted here, so
 * a crash in between leaves copies that the next move overwrites with the same bytes.
 * The old layout wrote each record and its idempotency entry atomically, so the index
 * covers all of them: the last chunk's deletion records that.
 */
async function moveLegacyRecords(stores: Stores, onProgress?: (message: string) => void): Promise<void> {
  const { legacyRecords, indexedSize } = indexSublevels(stores.db);
  let moved = 0;
  for (;;) {
    const chunk = (await legacyRecords.iterator({ limit: MOVE_CHUNK + 1 }).all()) as [string, Uint8Array][];
    if (chunk.length === 0) return;
    const moving = chunk.slice(0, MOVE_CHUNK);
    await stores.records.batch(
      moving.map(([key, value]) => ({ type: "put" as const, key, value })),
      SYNCED_BATCH,
    );
    const done = stores.db.batch();
    for (const [key] of moving) done.del(key, { sublevel: legacyRecords });
    if (chunk.length <= MOVE_CHUNK) done.put("size", String(parseIndexKey(moving.at(-1)![0]) + 1), { sublevel: indexedSize });
    await done.write(SYNCED);
    moved += moving.length;
    onProgress?.(`moved ${moved} records to their own database`);
  }
}
