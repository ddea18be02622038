import { indexKey, SYNCED, type Database } from "../store/database";

/**
 * The anchorer's records in LevelDB: confirmed checkpoints by tree size, and
 * the one in-flight anchor transaction (stored before it is broadcast).
 *
 * A confirmed checkpoint is never forgotten: receipts may have been served for
 * it. When the chain loses it, it is marked `lost` and anchored again with the
 * same size and root; its next confirmation replaces the record.
 */

export interface Checkpoint {
  treeSize: number;
  rootHash: string;
  txHash: string;
  blockNumber: number;
  /** Block time of the anchoring block, RFC 3339. */
  anchoredAt: string;
  confirmedAt: string;
  /** Set while the chain no longer holds this checkpoint (it is being anchored again): no receipt uses it. */
  lost?: { since: string; chainSize: number };
}

export interface InflightAnchor {
  treeSize: number;
  rootHash: string;
  previousTreeSize: number;
  nonce: number;
  rawTx: string;
  txHash: string;
  createdAt: string;
  broadcasts: number;
}

const INFLIGHT = "inflight";
const PREFIX = "cp:";
const END = PREFIX + "~";

export class CheckpointStore {
  private readonly store;

  constructor(db: Database) {
    this.store = db.sublevel<string, string>("anchor", { valueEncoding: "utf8" });
  }

  async inflight(): Promise<InflightAnchor | undefined> {
    const value = await this.store.get(INFLIGHT);
    return value === undefined ? undefined : (JSON.parse(value) as InflightAnchor);
  }

  async saveInflight(inflight: InflightAnchor): Promise<void> {
    await this.store.put(INFLIGHT, JSON.stringify(inflight), SYNCED);
  }

  async clearInflight(): Promise<void> {
    await this.store.del(INFLIGHT, SYNCED);
  }

  /** Records a confirmed checkpoint and clears the in-flight transaction, atomically. */
  async confirm(checkpoint: Checkpoint): Promise<void> {
    await this.store.batch(
      [
        { type: "put", key: PREFIX + indexKey(checkpoint.treeSize), value: JSON.stringify(checkpoint) },
        { type: "del", key: INFLIGHT },
      ],
      SYNCED,
    );
  }

  /**
   * Marks the given checkpoints as lost from the chain (the chain then held only `chainSize` leaves),
   * keeping the first time each was found lost.
   */
  async markLost(checkpoints: readonly Checkpoint[], chainSize: number, now: string): Promise<void> {
    const operations = checkpoints
      .filter((c) => !c.lost)
      .map((c) => ({ type: "put" as const, key: PREFIX + indexKey(c.treeSize), value: JSON.stringify({ ...c, lost: { since: now, chainSize } }) }));
    if (operations.length > 0) await this.store.batch(operations, SYNCED);
  }

  /** Recorded checkpoints above `treeSize`, ascending (lost ones included). */
  async above(treeSize: number): Promise<Checkpoint[]> {
    const list: Checkpoint[] = [];
    for await (const value of this.store.values({ gt: PREFIX + indexKey(treeSize), lt: END })) list.push(JSON.parse(value) as Checkpoint);
    return list;
  }

  /** The newest checkpoint the chain is known to hold (not marked lost). */
  async latestHeld(): Promise<Checkpoint | undefined> {
    for await (const value of this.store.values({ gte: PREFIX, lt: END, reverse: true })) {
      const checkpoint = JSON.parse(value) as Checkpoint;
      if (!checkpoint.lost) return checkpoint;
    }
    return undefined;
  }

  /** Forgets checkpoints above `treeSize` (tests and tools: the anchorer keeps them, see markLost). */
  async forgetAbove(treeSize: number): Promise<number> {
    const keys: string[] = [];
    for await (const key of this.store.keys({ gt: PREFIX + indexKey(treeSize), lt: END })) keys.push(key);
    await this.store.batch(keys.map((key) => ({ type: "del" as const, key })), SYNCED);
    return keys.length;
  }

  /** The first checkpoint whose tree contains leaf `index`. */
  async covering(index: number): Promise<Checkpoint | undefined> {
    for await (const value of this.store.values({ gt: PREFIX + indexKey(index), lt: END, limit: 1 })) {
      return JSON.parse(value) as Checkpoint;
    }
    return undefined;
  }

  async latest(): Promise<Checkpoint | undefined> {
    const [last] = await this.list({ limit: 1 });
    return last;
  }

  /** Checkpoints newest first, below `beforeSize` when given. */
  async list({ beforeSize, limit }: { beforeSize?: number; limit: number }): Promise<Checkpoint[]> {
    const lt = beforeSize === undefined ? END : PREFIX + indexKey(beforeSize);
    const list: Checkpoint[] = [];
    for await (const value of this.store.values({ gte: PREFIX, lt, reverse: true, limit })) {
      list.push(JSON.parse(value) as Checkpoint);
    }
    return list;
  }
}
