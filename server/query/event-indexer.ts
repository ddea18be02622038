import type { Logger } from "pino";
import type { EventLog, StoredRecord } from "../log/event-log";
import type { DerivedWorkTurns } from "../log/ingest-priority";
import type { EventIndex } from "./event-index";
import type { BatchOp, IndexObserver } from "./index-observer";
import { WakeableSleep } from "../util/wakeable-sleep";

const CHUNK = 5_000;
const GATHER_MS = 25;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows the log and keeps the secondary indexes, the statistics counters and
 * every observer's derived state up to date. Each chunk of records becomes one
 * atomic, synced batch that also moves the watermark, so after a crash the
 * indexer resumes exactly where the last durable batch ended.
 */
export class EventIndexer {
  private running = false;
  private loop?: Promise<void>;
  private readonly pause = new WakeableSleep();
  private indexed = 0;
  private waiters: { size: number; resolve: () => void }[] = [];
  private readonly onAppended = () => this.pause.wake();
  lastError?: string;

  constructor(
    private readonly log: EventLog,
    private readonly index: EventIndex,
    private readonly observers: IndexObserver[],
    private readonly logger: Logger,
    private readonly idleMs = 1_000,
    /** Makes way for ingest (server/log/ingest-priority.ts); without it, indexing never waits. */
    private readonly turns?: DerivedWorkTurns,
  ) {}

  /** Records indexed so far; queries see exactly these. */
  get size(): number {
    return this.indexed;
  }

  async start(): Promise<void> {
    this.indexed = await this.index.watermark();
    if (await this.index.needsPostingRebuild()) await this.rebuildPostings();
    this.running = true;
    this.log.on("appended", this.onAppended);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.log.off("appended", this.onAppended);
    this.pause.wake();
    await this.loop;
  }

  /** Resolves once every record below `size` is indexed (tests, read-your-writes). */
  caughtUp(size = this.log.size, timeoutMs = 30_000): Promise<void> {
    if (this.indexed >= size) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`indexing did not reach ${size} within ${timeoutMs} ms (at ${this.indexed})`)), timeoutMs);
      this.waiters.push({ size, resolve: () => (clearTimeout(timer), resolve()) });
      this.pause.wake();
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        while (this.running && this.indexed < this.log.size) {
          // Under a stream of small appends, gather a few before indexing: each batch has a
          // fixed cost (reads, one LevelDB write), so fewer, larger batches keep up better.
          if (this.log.size - this.indexed < CHUNK && this.waiters.length === 0) await delay(GATHER_MS);
          // A reader waiting for its own writes does not wait for ingest to pause.
          if (this.waiters.length === 0) await this.turns?.take(() => this.log.size - this.indexed, () => !this.running);
          await this.indexChunk();
        }
        this.turns?.caughtUp();
        this.lastError = undefined;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.logger.error({ err: error }, "indexing failed; will retry");
      }
      if (this.running) await this.pause.sleep(this.lastError ? this.idleMs * 5 : this.idleMs);
    }
  }


  private async indexChunk(): Promise<void> {
    const from = this.indexed;
    const to = Math.min(this.log.size, from + CHUNK);
    const records = await this.log.read(from, to);
    // Keys are unique and in [from, to): a full count means no gap.
    if (records.length !== to - from) {
      const missing = records.findIndex((r, i) => r.index !== from + i);
      throw new Error(`log record ${from + (missing === -1 ? records.length : missing)} is missing`);
    }
    const ops: BatchOp[] = [];
    this.index.postingOps(records.map((r) => r.envelope), ops);
    await this.countOps(records, ops);
    try {
      for (const observer of this.observers) await observer.observe(records, ops);
      ops.push(this.index.watermarkOp(to));
      // Not synced: everything here derives from the log and moves atomically with the
      // watermark, so a batch lost to a power cut is simply indexed again. The next synced
      // write (the log's own) makes it durable in LevelDB's ordered write-ahead log anyway.
      await this.index.write(ops);
    } catch (error) {
      for (const observer of this.observers) observer.aborted?.();
      throw error;
    }
    this.indexed = to;
    for (const observer of this.observers) observer.committed?.();
    this.waiters = this.waiters.filter((w) => (w.size <= to ? (w.resolve(), false) : true));
  }

  /**
   * A database indexed before posting blocks: writes blocks for the records already
   * indexed, from the log. Only postings: counters and observers' state are kept.
   */
  private async rebuildPostings(): Promise<void> {
    this.logger.warn({ records: this.indexed }, "rebuilding the posting lists in the block layout; queries wait for it");
    await this.index.beginPostingRebuild();
    for (let from = 0; from < this.indexed; from += CHUNK) {
      const records = await this.log.read(from, Math.min(this.indexed, from + CHUNK));
      await this.index.writePostings(records.map((r) => r.envelope));
      if ((from / CHUNK) % 20 === 19) this.logger.warn({ rebuilt: from + records.length, of: this.indexed }, "rebuilding posting lists");
    }
    await this.index.endPostingRebuild();
    this.logger.warn({ records: this.indexed }, "posting lists rebuilt");
  }

  private async countOps(records: StoredRecord[], ops: BatchOp[]): Promise<void> {
    const increments = new Map<string, number>();
    for (const record of records) {
      const key = this.index.counterKey(record.envelope);
      increments.set(key, (increments.get(key) ?? 0) + 1);
    }
    const keys = [...increments.keys()];
    const current = await this.index.readCounters(keys);
    keys.forEach((key, i) => ops.push(this.index.counterOp(key, current[i]! + increments.get(key)!)));
  }
}
