/**
 * Trees for the contract tests, built with the TypeScript RFC 9162 module `server/merkle`.
 *
 * Small trees use the module's functions over raw leaves directly. For the ~1M-leaf tree,
 * where each of the module's in-memory proof functions rehashes the whole tree (seconds per
 * proof), {@link SubtreeTable} keeps every perfect subtree hash once and answers roots and
 * proofs in O(log n), following RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 to the letter with
 * the module's `hashChildren`. The tests check the table against the module's own functions.
 */
import { ethers } from "hardhat";
import { hashChildren, hashLeaf } from "../../../server/merkle";

/** 0x-prefixed lowercase hex of a hash. */
export function hex(bytes: Uint8Array): string {
  return ethers.hexlify(bytes);
}

/** A proof as the contract ABI takes it. */
export function hexProof(proof: readonly Uint8Array[]): string[] {
  return proof.map(hex);
}

const utf8 = new TextEncoder();

/** The raw bytes of leaf `index` of test tree `tree` (trees with different names differ everywhere). */
export function leafBytes(index: number, tree = "a"): Uint8Array {
  return utf8.encode(JSON.stringify({ v: 1, tree, index }));
}

/** The first `count` raw leaves of test tree `tree`. */
export function leaves(count: number, tree = "a"): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => leafBytes(i, tree));
}

/** A copy of `hash` with bit `bit` (0 = most significant bit of byte 0) flipped. */
export function flipBit(hash: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(hash); // not hash.slice(): on a Buffer that is a view, not a copy
  copy[bit >> 3] ^= 0x80 >> (bit & 7);
  return copy;
}

/** The largest power of two smaller than n (n >= 2): where RFC 9162 splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const HASH_BYTES = 32;

/**
 * Every perfect subtree hash of a tree given by its leaf hashes (level 0 holds the leaf
 * hashes, level j the hashes of the aligned subtrees of 2^j leaves), and the RFC 9162
 * definitions on top of it.
 *
 * Each level is one contiguous Uint8Array of 32-byte hashes: for 1.1M leaves all levels take
 * 70 MB in 21 objects, where an array of a Buffer per hash took 2.2M objects and about
 * 400 MB of heap (and made every full garbage collection walk them). Hashes handed out are
 * copies, so a caller cannot change the table.
 */
export class SubtreeTable {
  private readonly levels: Uint8Array[];

  /** From leaf hashes packed end to end, 32 bytes each (the table keeps this array). */
  constructor(packedLeafHashes: Uint8Array) {
    if (packedLeafHashes.length % HASH_BYTES !== 0) {
      throw new RangeError(`packed leaf hashes: got ${packedLeafHashes.length} bytes, want a multiple of 32`);
    }
    this.levels = [packedLeafHashes];
    for (let below = packedLeafHashes; below.length >= 2 * HASH_BYTES; ) {
      const count = Math.floor(below.length / (2 * HASH_BYTES));
      const level = new Uint8Array(count * HASH_BYTES);
      for (let i = 0, at = 0; i < count; i++, at += HASH_BYTES) {
        const left = below.subarray(2 * at, 2 * at + HASH_BYTES);
        const right = below.subarray(2 * at + HASH_BYTES, 2 * at + 2 * HASH_BYTES);
        level.set(hashChildren(left, right), at);
      }
      this.levels.push(level);
      below = level;
    }
  }

  /** From an array of 32-byte leaf hashes. */
  static fromLeafHashes(leafHashes: readonly Uint8Array[]): SubtreeTable {
    const packed = new Uint8Array(leafHashes.length * HASH_BYTES);
    leafHashes.forEach((hash, i) => packed.set(hash, i * HASH_BYTES));
    return new SubtreeTable(packed);
  }

  leafHash(index: number): Uint8Array {
    return this.node(0, index);
  }

  /** The first `count` leaf hashes as separate arrays (views of the table: do not modify). */
  leafHashViews(count: number): Uint8Array[] {
    const leavesLevel = this.levels[0];
    return Array.from({ length: count }, (_, i) => leavesLevel.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  }

  /** The root of the tree of the first `size` leaves (size >= 1). */
  root(size: number): Uint8Array {
    return this.mth(0, size);
  }

  /** PATH(index, D[0:size]), RFC 9162 §2.1.3.1. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    return this.path(index, 0, size);
  }

  /** PROOF(oldSize, D[0:newSize]), RFC 9162 §2.1.4.1; empty for 0 and for equal sizes. */
  consistencyProof(oldSize: number, newSize: number): Uint8Array[] {
    if (oldSize === 0 || oldSize === newSize) return [];
    return this.subproof(oldSize, 0, newSize, true);
  }

  /** A copy of the hash of perfect subtree `index` at `level`. */
  private node(level: number, index: number): Uint8Array {
    return this.levels[level].slice(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  }

  /** MTH(D[begin:end]) for a subtree of the RFC's recursion (begin a multiple of the split). */
  private mth(begin: number, end: number): Uint8Array {
    const n = end - begin;
    if ((n & (n - 1)) === 0) return this.node(Math.log2(n), begin / n);
    const k = split(n);
    return hashChildren(this.node(Math.log2(k), begin / k), this.mth(begin + k, end));
  }

  private path(m: number, begin: number, end: number): Uint8Array[] {
    const n = end - begin;
    if (n === 1) return [];
    const k = split(n);
    return m < k
      ? [...this.path(m, begin, begin + k), this.mth(begin + k, end)]
      : [...this.path(m - k, begin + k, end), this.mth(begin, begin + k)];
  }

  private subproof(m: number, begin: number, end: number, known: boolean): Uint8Array[] {
    const n = end - begin;
    if (m === n) return known ? [] : [this.mth(begin, end)];
    const k = split(n);
    return m <= k
      ? [...this.subproof(m, begin, begin + k, known), this.mth(begin + k, end)]
      : [...this.subproof(m - k, begin + k, end, false), this.mth(begin, begin + k)];
  }
}

/** Leaves in {@link largeTree}: room for a ~1M-leaf tree and 100,000 more. */
export const LARGE_TREE_CAPACITY = 1_100_000;

let large: SubtreeTable | undefined;

/**
 * The subtree table of the 1.1M leaf hashes of test tree "large", built once per process
 * (about 5 s) and shared by the test files that need it; it holds 70 MB while the process
 * lives.
 */
export function largeTree(): { table: SubtreeTable } {
  if (large === undefined) {
    const packed = new Uint8Array(LARGE_TREE_CAPACITY * HASH_BYTES);
    for (let i = 0; i < LARGE_TREE_CAPACITY; i++) packed.set(hashLeaf(leafBytes(i, "large")), i * HASH_BYTES);
    large = new SubtreeTable(packed);
  }
  return { table: large };
}
