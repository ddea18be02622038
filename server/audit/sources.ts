/**
 * What the audit reads, as small interfaces, and their LevelDB implementations.
 *
 * The audit must read what is actually on disk, including records the gateway's
 * own readers would refuse (EventLog parses every record as JSON), so it reads
 * the records database and the `tree` sublevel raw.
 * The tree's key layout stays in server/merkle/tree-store.ts: its
 * `storedTreeReader` reads the stored nodes raw.
 */
import { Contract, type ContractRunner } from "ethers";
import type { Checkpoint } from "../anchor/checkpoint-store";
import { CheckpointStore } from "../anchor/checkpoint-store";
import { VERIFIER_ABI } from "../chain/ledger-abi";
import { EMPTY_ROOT, frontierNodes, rootOfPerfectSubtrees, storedTreeReader, type MerkleStoreScanDb, type MerkleTreeStore, type NodeId } from "../merkle";
import type { Database, Stores } from "../store/database";
import { rawLogRecords } from "../log/event-log";

/** A stored log record, unparsed: key as stored (16-hex index), value as raw bytes. */
export interface RawRecord {
  key: string;
  value: Uint8Array;
}

export interface AuditLog {
  /** Every stored record in key order, once. */
  records(): AsyncIterable<RawRecord>;
}

export interface AuditTree {
  /** Leaves in the tree. */
  readonly size: number;
  /** Stored hashes of the given nodes, in order; undefined where the store has none. */
  nodes(ids: readonly NodeId[]): Promise<(Uint8Array | undefined)[]>;
  /**
   * Stored hashes of nodes (level, first) … (level, end - 1), in order; undefined where
   * the store has none. A level's nodes are contiguous in the store, so this is one
   * range scan: the audit reads every stored node this way.
   */
  nodeRange(level: number, first: number, end: number): Promise<(Uint8Array | undefined)[]>;
  /** The tree store's own root for `size` leaves (throws when it cannot give one). */
  root(size: number): Promise<Uint8Array>;
}

export interface AuditCheckpoints {
  /** Confirmed checkpoints, newest first, below `beforeSize` when given. */
  list(options: { beforeSize?: number; limit: number }): Promise<Pick<Checkpoint, "treeSize" | "rootHash" | "lost">[]>;
}

/** The chain side: the contract's views for this log. */
export interface AuditChain {
  /** The root anchored for `treeSize` leaves; all zeros when none was. */
  rootAt(treeSize: number): Promise<string>;
  /** The latest anchored checkpoint, when the chain can say. */
  latest?(): Promise<{ treeSize: number; rootHash: string }>;
}

const BYTES = { keyEncoding: "view", valueEncoding: "view" } as const;
/** The log's records, read raw from the records database. */
export function levelAuditLog(stores: Stores): AuditLog {
  return { records: () => rawLogRecords(stores) };
}

/**
 * The stored tree. With the gateway's live `store`, its size and root come from the
 * store (the in-memory frontier, as the gateway serves proofs); without one (a stopped
 * gateway, or a store that will not even open) they are read from disk.
 */
export async function levelAuditTree(db: Database, store?: Pick<MerkleTreeStore, "size" | "root">): Promise<AuditTree> {
  const reader = storedTreeReader(db.sublevel("tree", BYTES) as unknown as MerkleStoreScanDb);
  const nodes = (ids: readonly NodeId[]) => reader.nodes(ids);
  const nodeRange = (level: number, first: number, end: number) => reader.nodeRange(level, first, end);
  if (store) return { get size() { return store.size; }, nodes, nodeRange, root: (size) => store.root(size) };
  const size = (await reader.storedSize()) ?? 0;
  return {
    size,
    nodes,
    nodeRange,
    async root(at: number) {
      if (at === 0) return EMPTY_ROOT;
      const ids = frontierNodes(at);
      const hashes = await nodes(ids);
      const missing = hashes.findIndex((h) => h === undefined);
      if (missing >= 0) throw new Error(`node (${ids[missing]!.level}, ${ids[missing]!.index}) of its frontier is missing`);
      return rootOfPerfectSubtrees(hashes as Uint8Array[]);
    },
  };
}

/** ProvenanceLedger's views for one log, over any ethers runner (a provider). */
export function contractAuditChain(runner: ContractRunner, contract: string, logId: string): AuditChain {
  const ledger = new Contract(contract, VERIFIER_ABI, runner);
  return {
    async rootAt(treeSize) {
      return (await ledger.rootAt(logId, treeSize)) as string;
    },
    async latest() {
      const [treeSize, rootHash] = (await ledger.latest(logId)) as [bigint, string];
      return { treeSize: Number(treeSize), rootHash };
    },
  };
}

export interface LevelAuditSources {
  log: AuditLog;
  tree: AuditTree;
  checkpoints: AuditCheckpoints;
  /** The log id stored in the meta sublevel, when there is one. */
  logId?: string;
}

/** Everything the audit reads from one gateway's databases. */
export async function levelAuditSources(stores: Stores, options: { store?: Pick<MerkleTreeStore, "size" | "root"> } = {}): Promise<LevelAuditSources> {
  const { db } = stores;
  const meta = db.sublevel<string, string>("meta", { valueEncoding: "utf8" });
  const stored = await meta.get("log");
  let logId: string | undefined;
  try {
    logId = stored === undefined ? undefined : (JSON.parse(stored) as { logId?: string }).logId;
  } catch {
    logId = undefined;
  }
  return {
    log: levelAuditLog(stores),
    tree: await levelAuditTree(db, options.store),
    checkpoints: new CheckpointStore(db),
    logId,
  };
}
