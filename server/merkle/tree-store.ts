/**
 * The RFC 9162 tree kept incrementally in LevelDB.
 *
 * Appends never reread old nodes: the store keeps the right frontier (the perfect
 * subtrees that make up the current tree) in memory and writes each new perfect
 * subtree as it is completed. Every root and proof, for any size up to the current
 * one, is then a handful of stored perfect subtrees: O(log n) keys, read with one
 * `getMany`.
 *
 * ## Key layout (the only place it is defined)
 *
 * Keys and values are bytes; every call passes `keyEncoding: 'view'` and
 * `valueEncoding: 'view'`, so the sublevel's own default encodings do not matter.
 *
 * | key (10 or 1 bytes)                    | value                               |
 * |----------------------------------------|-------------------------------------|
 * | 0x6e 'n' ‖ level (u8) ‖ index (u64 BE) | 32-byte hash of node (level, index) |
 * | 0x73 's'                               | tree size, u64 BE (absent = 0)      |
 *
 * Node (level, index) is the perfect subtree over leaves [index·2^level,
 * (index+1)·2^level); level 0 holds the leaf hashes. Fixed-width big-endian fields
 * keep each level's nodes in index order, so the leaf hashes are one contiguous range.
 * A node is written once, in the same batch as the size that completes it, and never
 * changes.
 */
import {
  appendToFrontier,
  frontierNodes,
  rangeNodes,
  rootOfPerfectSubtrees,
  type LeafRange,
  type NodeId,
} from "./compact";
import {
  HASH_SIZE,
  MerkleError,
  checkHashes,
  checkIndex,
  checkIndexInTree,
  checkSize,
  checkSizeWithin,
} from "./errors";
import { EMPTY_ROOT, copyBytes } from "./hash";
import { consistencyRanges, inclusionRanges } from "./proof";
import { SYNCED_BATCH, UNSYNCED_BATCH } from "../store/batch-options";

// ---------------------------------------------------------------------------
// Storage interface
// ---------------------------------------------------------------------------

/** Per-call encodings: the store reads and writes raw bytes. */
export interface ByteEncodings {
  keyEncoding: "view";
  valueEncoding: "view";
}

/** Encodings are per operation: a batch's own option properties are copied into every operation, which is slow. */
export interface PutOperation extends ByteEncodings {
  type: "put";
  key: Uint8Array;
  value: Uint8Array;
}

/** Batch options: `sync` only (see server/store/batch-options.ts for why it is not a plain `{ sync }`). */
export interface BatchOptions {
  readonly sync?: boolean;
}

/**
 * What the store needs of its database: a subset of abstract-level's API, so a `level`
 * database or, usually, a sublevel of one (`db.sublevel('tree')`) that the store has
 * to itself. The store does not open or close it.
 */
export interface MerkleStoreDb {
  get(key: Uint8Array, options: ByteEncodings): Promise<Uint8Array | undefined>;
  getMany(keys: Uint8Array[], options: ByteEncodings): Promise<(Uint8Array | undefined)[]>;
  batch(operations: PutOperation[], options: BatchOptions): Promise<void>;
}

export interface MerkleTreeStoreOptions {
  /**
   * Write each append with LevelDB's `sync` option (fsync before it resolves), so an
   * acknowledged append survives a machine crash. Default true.
   */
  sync?: boolean;
}

const BYTES: ByteEncodings = { keyEncoding: "view", valueEncoding: "view" };

const NODE_TAG = 0x6e; // 'n'
const SIZE_KEY = Uint8Array.of(0x73); // 's'
const TWO_32 = 2 ** 32;

function nodeKey({ level, index }: NodeId): Uint8Array {
  const key = new Uint8Array(10);
  key[0] = NODE_TAG;
  key[1] = level;
  writeUint64(key, 2, index);
  return key;
}

function encodeSize(size: number): Uint8Array {
  const value = new Uint8Array(8);
  writeUint64(value, 0, size);
  return value;
}

function decodeSize(value: Uint8Array): number {
  if (value.length !== 8) throw corrupt(`size record: got ${value.length} bytes, want 8`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const size = view.getUint32(0) * TWO_32 + view.getUint32(4);
  if (!Number.isSafeInteger(size)) throw corrupt(`size record: got ${size}, want a safe integer`);
  return size;
}

function writeUint64(target: Uint8Array, offset: number, n: number): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(offset, Math.floor(n / TWO_32));
  view.setUint32(offset + 4, n % TWO_32);
}

function corrupt(message: string): MerkleError {
  return new MerkleError({ code: "CORRUPT_STORE", message });
}

/** Reads the hashes of `nodes`, in order, with one getMany. */
async function readNodes(db: MerkleStoreDb, nodes: readonly NodeId[]): Promise<Uint8Array[]> {
  if (nodes.length === 0) return [];
  const values = await db.getMany(nodes.map(nodeKey), BYTES);
  return values.map((value, i) => {
    if (value === undefined || value.length !== HASH_SIZE) {
      const { level, index } = nodes[i];
      throw corrupt(
        `node (${level}, ${index}): got ${
          value === undefined ? "nothing" : `${value.length} bytes`
        }, want ${HASH_SIZE} bytes`,
      );
    }
    return value;
  });
}

// ---------------------------------------------------------------------------
// Raw read access, for audits
// ---------------------------------------------------------------------------

/** A database the raw reader can also range-scan. */
export interface MerkleStoreScanDb extends MerkleStoreDb {
  iterator(options: ByteEncodings & { gte: Uint8Array; lt: Uint8Array }): {
    nextv(size: number): Promise<[Uint8Array, Uint8Array][]>;
    close(): Promise<void>;
  };
}

/**
 * What is stored, read without the store's own checks: an audit must see a
 * damaged tree (a missing node, a wrong-length value) that `MerkleTreeStore`
 * would refuse to open. Missing or malformed nodes read as undefined.
 */
export interface StoredTreeReader {
  /** The size record; undefined when absent. Throws CORRUPT_STORE when malformed. */
  storedSize(): Promise<number | undefined>;
  nodes(ids: readonly NodeId[]): Promise<(Uint8Array | undefined)[]>;
  /** Nodes (level, first) … (level, end - 1): one range scan, since a level's keys are contiguous. */
  nodeRange(level: number, first: number, end: number): Promise<(Uint8Array | undefined)[]>;
}

export function storedTreeReader(db: MerkleStoreScanDb): StoredTreeReader {
  const valid = (value: Uint8Array | undefined) => (value !== undefined && value.length === HASH_SIZE ? value : undefined);
  return {
    async storedSize() {
      const value = await db.get(SIZE_KEY, BYTES);
      return value === undefined ? undefined : decodeSize(value);
    },
    async nodes(ids) {
      if (ids.length === 0) return [];
      return (await db.getMany(ids.map(nodeKey), BYTES)).map(valid);
    },
    async nodeRange(level, first, end) {
      const values: (Uint8Array | undefined)[] = new Array(Math.max(0, end - first)).fill(undefined);
      if (end <= first) return values;
      const iterator = db.iterator({ ...BYTES, gte: nodeKey({ level, index: first }), lt: nodeKey({ level, index: end }) });
      try {
        for (let entries = await iterator.nextv(1024); entries.length > 0; entries = await iterator.nextv(1024)) {
          for (const [key, value] of entries) {
            if (key.length === 10) values[readUint64(key, 2) - first] = valid(value);
          }
        }
      } finally {
        await iterator.close();
      }
      return values;
    },
  };
}

function readUint64(source: Uint8Array, offset: number): number {
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  return view.getUint32(offset) * TWO_32 + view.getUint32(offset + 4);
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

export class MerkleTreeStore {
  readonly #db: MerkleStoreDb;
  readonly #sync: boolean;
  #size: number;
  /** Hashes of frontierNodes(#size), left to right. */
  #frontier: Uint8Array[];
  /** Tail of the append queue; never rejects, so one failed append does not block the next. */
  #appending: Promise<void> = Promise.resolve();

  private constructor(db: MerkleStoreDb, sync: boolean, size: number, frontier: Uint8Array[]) {
    this.#db = db;
    this.#sync = sync;
    this.#size = size;
    this.#frontier = frontier;
  }

  /** Opens the tree kept in `db` (an empty db is an empty tree): one get and one getMany. */
  static async open(
    db: MerkleStoreDb,
    options: MerkleTreeStoreOptions = {},
  ): Promise<MerkleTreeStore> {
    const sizeValue = await db.get(SIZE_KEY, BYTES);
    const size = sizeValue === undefined ? 0 : decodeSize(sizeValue);
    const frontier = await readNodes(db, frontierNodes(size));
    return new MerkleTreeStore(db, options.sync ?? true, size, frontier);
  }

  /** The number of leaves, counting only appends that have completed. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends leaf hashes (callers hash raw leaves with `hashLeaf`) in one atomic batch
   * that also records the new size: after a crash the tree has either all of them or
   * none. Appends run one at a time, in call order. Throws MerkleError
   * INVALID_HASH_LENGTH, before anything is queued, if a hash is not 32 bytes.
   */
  async append(leafHashes: readonly Uint8Array[]): Promise<void> {
    checkHashes(leafHashes, "leaf hashes");
    // Copies: the caller may reuse its buffers before the queued write runs.
    const hashes = leafHashes.map(copyBytes);
    const run = this.#appending.then(() => this.#write(hashes));
    this.#appending = run.catch(() => undefined);
    return run;
  }

  async #write(leafHashes: Uint8Array[]): Promise<void> {
    if (leafHashes.length === 0) return;
    const operations: PutOperation[] = [];
    const record = (node: NodeId, hash: Uint8Array) =>
      operations.push({ type: "put", key: nodeKey(node), value: hash, ...BYTES });
    const frontier = this.#frontier.slice();
    let size = this.#size;
    for (const leafHash of leafHashes) appendToFrontier(frontier, size++, leafHash, record);
    checkSize(size);
    operations.push({ type: "put", key: SIZE_KEY, value: encodeSize(size), ...BYTES });
    await this.#db.batch(operations, this.#sync ? SYNCED_BATCH : UNSYNCED_BATCH);
    // Only now, so that a failed write leaves memory agreeing with the disk.
    this.#frontier = frontier;
    this.#size = size;
  }

  /** The root of the tree of the first `size` leaves (0 ≤ size ≤ this.size). */
  async root(size: number = this.#size): Promise<Uint8Array> {
    checkSize(size);
    checkSizeWithin(size, this.#size, "tree size");
    if (size === 0) return copyBytes(EMPTY_ROOT);
    // A copy: for a power-of-two size the fold is a frontier hash itself.
    if (size === this.#size) return copyBytes(rootOfPerfectSubtrees(this.#frontier));
    return rootOfPerfectSubtrees(await readNodes(this.#db, rangeNodes(0, size)));
  }

  /** The hash of leaf `index` (index < this.size). */
  async leafHash(index: number): Promise<Uint8Array> {
    checkIndex(index);
    checkIndexInTree(index, this.#size);
    const [hash] = await readNodes(this.#db, [{ level: 0, index }]);
    return hash;
  }

  /** The inclusion proof of leaf `index` in the tree of `size` leaves (size ≤ this.size). */
  async inclusionProof(index: number, size: number = this.#size): Promise<Uint8Array[]> {
    checkIndex(index);
    checkSize(size);
    checkSizeWithin(size, this.#size, "tree size");
    checkIndexInTree(index, size);
    return this.#hashRanges(inclusionRanges(index, size));
  }

  /**
   * The consistency proof from the tree of `oldSize` leaves to the tree of `newSize`
   * (oldSize ≤ newSize ≤ this.size). Empty when oldSize is 0 or equals newSize, as
   * with the in-memory `consistencyProof`.
   */
  async consistencyProof(oldSize: number, newSize: number = this.#size): Promise<Uint8Array[]> {
    checkSize(oldSize, "old size");
    checkSize(newSize, "new size");
    checkSizeWithin(newSize, this.#size, "new size");
    checkSizeWithin(oldSize, newSize, "old size");
    if (oldSize === 0 || oldSize === newSize) return [];
    return this.#hashRanges(consistencyRanges(oldSize, newSize));
  }

  /**
   * The hash of each range, from stored perfect subtrees: a range is one stored node,
   * or, on the right edge of a tree whose size is not a power of two, composed from
   * the O(log n) nodes that cover it. All of them come from one getMany.
   */
  async #hashRanges(ranges: readonly LeafRange[]): Promise<Uint8Array[]> {
    const perRange = ranges.map(({ begin, end }) => rangeNodes(begin, end));
    const hashes = await readNodes(this.#db, perRange.flat());
    let at = 0;
    return perRange.map((nodes) => {
      const own = hashes.slice(at, (at += nodes.length));
      return rootOfPerfectSubtrees(own);
    });
  }
}
