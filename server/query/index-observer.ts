import type { AbstractSublevel } from "abstract-level";
import type { StoredRecord } from "../log/event-log";

/**
 * The event indexer follows the log and writes, per batch of records, one
 * atomic LevelDB batch holding its indexes, its watermark, and whatever its
 * observers (alerts, thresholds…) derive from the same records. So derived
 * state is never counted twice nor lost across a crash: it moves with the
 * watermark. Each observer adds operations only on its own sublevel.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySublevel = AbstractSublevel<any, any, string, any>;

export type BatchOp =
  | { type: "put"; sublevel: AnySublevel; key: string; value: string | Uint8Array }
  | { type: "del"; sublevel: AnySublevel; key: string };

export interface IndexObserver {
  readonly name: string;
  /**
   * Called once per batch, with consecutive records in index order. Adds the
   * operations to write with this batch to `ops`; must not write on its own.
   */
  observe(records: readonly StoredRecord[], ops: BatchOp[]): Promise<void>;
  /** Called after the batch is durable (e.g. to wake a webhook deliverer). */
  committed?(): void;
  /** Called when a batch failed to write: drop in-memory state derived from it. */
  aborted?(): void;
}
