import { indexKey, SYNCED, type Database } from "../store/database";

/**
 * The anchorer's records in LevelDB: confirmed checkpoints by tree size, and
 * the one in-flight anchor transaction (stored before it is broadcast).
 */

export interface Checkpoint {
  treeSize: number;
  rootHash: string;
  txHash: string;
  blockNumber: number;
  /** Block time of the anchoring block, RFC 3339. */
  anchoredAt: string;
  confirmedAt: string;
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

  /** Forgets checkpoints above `treeSize` (they vanished from the chain). */
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
