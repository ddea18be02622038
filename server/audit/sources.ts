/**
 * What the audit reads, as small interfaces, and their LevelDB implementations.
 *
 * The audit must read what is actually on disk, including records the gateway's
 * own readers would refuse (EventLog parses every record as JSON), so it reads
 * the `log` and `tree` sublevels raw.
 *
 * NOTE on the tree's key layout: MerkleTreeStore defines it (server/merkle/tree-store.ts)
 * and does not export it; `nodeKey`/`SIZE_KEY` below repeat it. A test checks them
 * against the store. When tree-store.ts exports a node reader, use that instead.
 */
import { Contract, type ContractRunner } from "ethers";
import type { Checkpoint } from "../anchor/checkpoint-store";
import { CheckpointStore } from "../anchor/checkpoint-store";
import { VERIFIER_ABI } from "../chain/ledger-abi";
import { EMPTY_ROOT, type MerkleTreeStore, type NodeId } from "../merkle";
import { rootOfFrontier } from "./auditor";
import type { Database } from "../store/database";

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
  list(options: { beforeSize?: number; limit: number }): Promise<Pick<Checkpoint, "treeSize" | "rootHash">[]>;
}

/** The chain side: the contract's views for this log. */
export interface AuditChain {
  /** The root anchored for `treeSize` leaves; all zeros when none was. */
  rootAt(treeSize: number): Promise<string>;
  /** The latest anchored checkpoint, when the chain can say. */
  latest?(): Promise<{ treeSize: number; rootHash: string }>;
}

const BYTES = { keyEncoding: "view", valueEncoding: "view" } as const;
const NODE_TAG = 0x6e; // 'n', as in tree-store.ts
const SIZE_KEY = Uint8Array.of(0x73); // 's', as in tree-store.ts
const TWO_32 = 2 ** 32;

/** Key of node (level, index) in the tree sublevel: 'n' ‖ level (u8) ‖ index (u64 BE). */
export function nodeKey({ level, index }: NodeId): Uint8Array {
  const key = new Uint8Array(10);
  key[0] = NODE_TAG;
  key[1] = level;
  let high = Math.floor(index / TWO_32);
  let low = index % TWO_32;
  for (let i = 9; i >= 6; i--) {
    key[i] = low & 0xff;
    low = Math.floor(low / 256);
  }
  for (let i = 5; i >= 2; i--) {
    key[i] = high & 0xff;
    high = Math.floor(high / 256);
  }
  return key;
}

interface ByteSublevel {
  get(key: Uint8Array, options: typeof BYTES): Promise<Uint8Array | undefined>;
  getMany(keys: Uint8Array[], options: typeof BYTES): Promise<(Uint8Array | undefined)[]>;
  iterator(options: typeof BYTES & { gte: Uint8Array; lt: Uint8Array }): {
    nextv(size: number): Promise<[Uint8Array, Uint8Array][]>;
    close(): Promise<void>;
  };
}

/** The index field of a node key (bytes 2..9, u64 BE). */
function nodeKeyIndex(key: Uint8Array): number {
  let high = 0;
  let low = 0;
  for (let i = 2; i < 6; i++) high = high * 256 + key[i]!;
  for (let i = 6; i < 10; i++) low = low * 256 + key[i]!;
  return high * TWO_32 + low;
}

/** The log's records, read raw from the `log` sublevel. */
export function levelAuditLog(db: Database): AuditLog {
  const records = db.sublevel<string, Uint8Array>("log", { keyEncoding: "utf8", valueEncoding: "view" });
  return {
    async *records() {
      for await (const [key, value] of records.iterator({ keyEncoding: "utf8", valueEncoding: "view" })) {
        yield { key, value };
      }
    },
  };
}

/**
 * The stored tree. With the gateway's live `store`, its size and root come from the
 * store (the in-memory frontier, as the gateway serves proofs); without one (a stopped
 * gateway, or a store that will not even open) they are read from disk.
 */
export async function levelAuditTree(db: Database, store?: Pick<MerkleTreeStore, "size" | "root">): Promise<AuditTree> {
  const tree = db.sublevel("tree", BYTES) as unknown as ByteSublevel;
  const nodes = async (ids: readonly NodeId[]) => {
    if (ids.length === 0) return [];
    const values = await tree.getMany(ids.map(nodeKey), BYTES);
    return values.map((value) => (value !== undefined && value.length === 32 ? value : undefined));
  };
  const nodeRange = async (level: number, first: number, end: number) => {
    const values: (Uint8Array | undefined)[] = new Array(Math.max(0, end - first)).fill(undefined);
    if (end <= first) return values;
    const iterator = tree.iterator({ ...BYTES, gte: nodeKey({ level, index: first }), lt: nodeKey({ level, index: end }) });
    try {
      for (;;) {
        const entries = await iterator.nextv(1024);
        if (entries.length === 0) break;
        for (const [key, value] of entries) {
          if (key.length === 10 && value.length === 32) values[nodeKeyIndex(key) - first] = value;
        }
      }
    } finally {
      await iterator.close();
    }
    return values;
  };
  if (store) return { get size() { return store.size; }, nodes, nodeRange, root: (size) => store.root(size) };
  const sizeValue = await tree.get(SIZE_KEY, BYTES);
  const size = sizeValue === undefined ? 0 : decodeSize(sizeValue);
  return {
    size,
    nodes,
    nodeRange,
    async root(at: number) {
      if (at === 0) return EMPTY_ROOT;
      const ids = frontierOf(at);
      const hashes = await nodes(ids);
      const missing = hashes.findIndex((h) => h === undefined);
      if (missing >= 0) throw new Error(`node (${ids[missing]!.level}, ${ids[missing]!.index}) of its frontier is missing`);
      return rootOfFrontier(hashes as Uint8Array[]);
    },
  };
}

/** The perfect subtrees that make up a tree of `size` leaves, left to right (one per set bit of size). */
export function frontierOf(size: number): NodeId[] {
  const nodes: NodeId[] = [];
  let at = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (size - at >= width) {
      nodes.push({ level, index: at / width });
      at += width;
    }
  }
  return nodes;
}

function decodeSize(value: Uint8Array): number {
  if (value.length !== 8) throw new Error(`the tree's size record is ${value.length} bytes, want 8`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return view.getUint32(0) * TWO_32 + view.getUint32(4);
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

/** Everything the audit reads from one gateway database. */
export async function levelAuditSources(db: Database, options: { store?: Pick<MerkleTreeStore, "size" | "root"> } = {}): Promise<LevelAuditSources> {
  const meta = db.sublevel<string, string>("meta", { valueEncoding: "utf8" });
  const stored = await meta.get("log");
  let logId: string | undefined;
  try {
    logId = stored === undefined ? undefined : (JSON.parse(stored) as { logId?: string }).logId;
  } catch {
    logId = undefined;
  }
  return {
    log: levelAuditLog(db),
    tree: await levelAuditTree(db, options.store),
    checkpoints: new CheckpointStore(db),
    logId,
  };
}
