/**
 * Node addressing and the decomposition of leaf ranges into perfect subtrees.
 *
 * A perfect subtree is addressed by (level, index): it has 2^level leaves and covers
 * [index·2^level, (index+1)·2^level). Level 0 nodes are the leaf hashes. In an RFC 9162
 * tree of any size every perfect subtree is a real node, while the nodes on the right
 * edge of a tree whose size is not a power of two are "ephemeral": their hash depends
 * on the size and is composed from perfect subtrees (see {@link rangeNodes}).
 *
 * Sizes and indices go up to Number.MAX_SAFE_INTEGER, so this file uses arithmetic
 * instead of 32-bit bitwise operators.
 */
import { hashChildren } from "./hash";

export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A half-open range of leaf indices [begin, end). */
export interface LeafRange {
  readonly begin: number;
  readonly end: number;
}

/** The largest power of two strictly below n; requires n >= 2. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees that exactly cover [begin, end), left to right, each as large as
 * its alignment allows. For a range that is a subtree of an RFC 9162 tree (begin a
 * multiple of a power of two >= end - begin) these are the subtrees of sizes given by
 * the set bits of end - begin, from the highest down.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  const nodes: NodeId[] = [];
  let at = begin;
  while (at < end) {
    let level = 0;
    let width = 1;
    while (at % (width * 2) === 0 && at + width * 2 <= end) {
      level++;
      width *= 2;
    }
    nodes.push({ level, index: at / width });
    at += width;
  }
  return nodes;
}

/**
 * The root over consecutive perfect subtrees, given their hashes left to right as
 * {@link rangeNodes} lists them: for an RFC 9162 subtree, or a whole tree from its
 * frontier. MTH splits at the largest power of two, so the root is
 * h(n0, h(n1, … h(nk-1, nk))): fold from the right. Requires at least one hash.
 */
export function rootOfPerfectSubtrees(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i], acc);
  return acc;
}

/**
 * The right frontier of a tree of `size` leaves: its decomposition into perfect
 * subtrees, i.e. {@link rangeNodes}(0, size). An appender needs only these hashes.
 */
export function frontierNodes(size: number): NodeId[] {
  return rangeNodes(0, size);
}

/** Told of each perfect subtree that an append completes. */
export type NodeVisitor = (node: NodeId, hash: Uint8Array) => void;

/**
 * Appends leaf `size` to a tree held as its frontier: `frontier` holds the hashes of
 * frontierNodes(size) and, in place, becomes that of size + 1. Each perfect subtree
 * completed (the leaf itself, then every parent it completes) is reported to `visit`,
 * so storage stays outside this module, as in transparency-dev's compact ranges.
 *
 * Building a whole tree this way keeps only O(log n) hashes alive, which makes it
 * faster than hashing level by level (less garbage-collector work), for the same root.
 */
export function appendToFrontier(
  frontier: Uint8Array[],
  size: number,
  leafHash: Uint8Array,
  visit?: NodeVisitor,
): void {
  let hash = leafHash;
  let level = 0;
  let index = size;
  visit?.({ level, index }, hash);
  // A right child completes its parent, whose left child is the frontier's last node.
  while (index % 2 === 1) {
    hash = hashChildren(frontier.pop()!, hash);
    level++;
    index = (index - 1) / 2;
    visit?.({ level, index }, hash);
  }
  frontier.push(hash);
}
