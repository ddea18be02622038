/**
 * Tree hashes and proofs over leaves held in memory (RFC 9162 §2.1.1, §2.1.3.1,
 * §2.1.4.1). Synchronous and free of I/O.
 *
 * The proof functions are split the way transparency-dev/merkle splits them: first
 * work out *which* subtrees a proof needs ({@link inclusionRanges},
 * {@link consistencyRanges}: pure index arithmetic, shared with the LevelDB store),
 * then hash those subtrees from whatever holds the leaves.
 */
import {
  appendToFrontier,
  largestPowerOfTwoBelow,
  rootOfPerfectSubtrees,
  type LeafRange,
} from "./compact";
import {
  checkHashes,
  checkIndex,
  checkIndexInTree,
  checkLeaves,
  checkSize,
  checkSizeWithin,
} from "./errors";
import { EMPTY_ROOT, copyBytes, hashLeaf } from "./hash";

// ---------------------------------------------------------------------------
// Which subtrees a proof needs
// ---------------------------------------------------------------------------

/**
 * The subtrees whose hashes make up the inclusion proof of leaf `index` in a tree of
 * `size` leaves, in proof order (from the leaf up to the root). This is RFC 9162
 * PATH(m, D[n]) unrolled: at each split the proof takes the MTH of the side that does
 * not hold the leaf, and PATH appends it after the deeper part of the path.
 *
 * Requires 0 <= index < size (not checked here).
 */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  const ranges: LeafRange[] = [];
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const split = begin + largestPowerOfTwoBelow(end - begin);
    if (index < split) {
      ranges.push({ begin: split, end });
      end = split;
    } else {
      ranges.push({ begin, end: split });
      begin = split;
    }
  }
  return ranges.reverse();
}

/**
 * The subtrees whose hashes make up the consistency proof between the trees of
 * `oldSize` and `newSize` leaves, in proof order. This is RFC 9162 PROOF(m, D[n]) =
 * SUBPROOF(m, D[n], true) unrolled; `known` is the flag b: true while the subtree
 * reached still starts at leaf 0, so that if it is the old tree itself the verifier
 * already has its hash (the old root) and the proof leaves it out.
 *
 * Requires 0 < oldSize <= newSize (not checked here); empty when oldSize == newSize.
 */
export function consistencyRanges(oldSize: number, newSize: number): LeafRange[] {
  const ranges: LeafRange[] = [];
  let begin = 0;
  let end = newSize;
  let known = true;
  while (oldSize !== end) {
    const split = begin + largestPowerOfTwoBelow(end - begin);
    if (oldSize <= split) {
      ranges.push({ begin: split, end });
      end = split;
    } else {
      ranges.push({ begin, end: split });
      begin = split;
      known = false;
    }
  }
  // SUBPROOF(m, D[m], b): nothing if the verifier knows this subtree, else its hash.
  if (!known) ranges.push({ begin, end });
  return ranges.reverse();
}

// ---------------------------------------------------------------------------
// Hashing a tree held in memory
// ---------------------------------------------------------------------------

/**
 * The root (MTH) of the tree whose leaves are the given raw leaf bytes; EMPTY_ROOT for
 * no leaves.
 */
export function rootHash(leaves: readonly Uint8Array[]): Uint8Array {
  checkLeaves(leaves);
  if (leaves.length === 0) return copyBytes(EMPTY_ROOT);
  const frontier: Uint8Array[] = [];
  for (let i = 0; i < leaves.length; i++) appendToFrontier(frontier, i, hashLeaf(leaves[i]));
  return rootOfPerfectSubtrees(frontier);
}

/** The root (MTH) of the tree with the given leaf hashes; EMPTY_ROOT for none. */
export function rootFromLeafHashes(hashes: readonly Uint8Array[]): Uint8Array {
  checkHashes(hashes, "leaf hashes");
  return rangeRoot(hashes, 0, hashes.length);
}

/**
 * MTH(D[begin:end]) from leaf hashes. Iterative and bottom-up: each leaf is folded
 * into the perfect subtrees it completes as it arrives, and the frontier left at the
 * end is folded from the right. Same tree as the RFC's recursive split.
 */
function rangeRoot(hashes: readonly Uint8Array[], begin: number, end: number): Uint8Array {
  if (begin === end) return copyBytes(EMPTY_ROOT);
  const frontier: Uint8Array[] = [];
  for (let i = begin; i < end; i++) appendToFrontier(frontier, i - begin, hashes[i]);
  return rootOfPerfectSubtrees(frontier);
}

// ---------------------------------------------------------------------------
// Proofs from a tree held in memory
// ---------------------------------------------------------------------------

/**
 * The inclusion proof (RFC 9162 PATH) of leaf `index` in the tree of all `leaves`
 * (raw leaf bytes). Throws MerkleError INVALID_INDEX or INDEX_OUT_OF_RANGE.
 */
export function inclusionProof(index: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  checkIndex(index);
  checkLeaves(leaves);
  checkIndexInTree(index, leaves.length);
  return hashRanges(inclusionRanges(index, leaves.length), leaves.map(hashLeaf));
}

/** {@link inclusionProof} over leaf hashes instead of raw leaves. */
export function inclusionProofFromLeafHashes(
  index: number,
  hashes: readonly Uint8Array[],
): Uint8Array[] {
  checkIndex(index);
  checkHashes(hashes, "leaf hashes");
  checkIndexInTree(index, hashes.length);
  return hashRanges(inclusionRanges(index, hashes.length), hashes);
}

/**
 * The consistency proof (RFC 9162 PROOF) between the tree of the first `oldSize`
 * leaves and the tree of all `leaves` (raw leaf bytes).
 *
 * Empty when oldSize == leaves.length (RFC 9162). Also empty for oldSize 0: RFC 9162
 * defines PROOF only for 0 < m, and every tree extends the empty one, so there is
 * nothing to prove; `verifyConsistency` accepts exactly that (empty proof, old root
 * EMPTY_ROOT). Throws MerkleError INVALID_TREE_SIZE, or TREE_TOO_SMALL when oldSize
 * exceeds the number of leaves.
 */
export function consistencyProof(oldSize: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  checkSize(oldSize, "old size");
  checkLeaves(leaves);
  checkSizeWithin(oldSize, leaves.length, "old size");
  if (oldSize === 0 || oldSize === leaves.length) return [];
  return hashRanges(consistencyRanges(oldSize, leaves.length), leaves.map(hashLeaf));
}

/** {@link consistencyProof} over leaf hashes instead of raw leaves. */
export function consistencyProofFromLeafHashes(
  oldSize: number,
  hashes: readonly Uint8Array[],
): Uint8Array[] {
  checkSize(oldSize, "old size");
  checkHashes(hashes, "leaf hashes");
  checkSizeWithin(oldSize, hashes.length, "old size");
  if (oldSize === 0 || oldSize === hashes.length) return [];
  return hashRanges(consistencyRanges(oldSize, hashes.length), hashes);
}

function hashRanges(ranges: readonly LeafRange[], hashes: readonly Uint8Array[]): Uint8Array[] {
  return ranges.map(({ begin, end }) => rangeRoot(hashes, begin, end));
}
