/**
 * Proof verification, exactly the algorithms of RFC 9162 §2.1.3.2 (inclusion) and
 * §2.1.4.2 (consistency). Synchronous and free of I/O.
 *
 * Everything here may be attacker-controlled (a receipt, a request). Each check comes
 * in three forms:
 * - `rootFromInclusionProof` computes a root and throws MerkleError if it cannot;
 * - `assertInclusion` / `assertConsistency` throw MerkleError saying why a proof fails;
 * - `verifyInclusion` / `verifyConsistency` answer true or false for a proof that does
 *   or does not check out, and still throw for malformed input (a hash that is not 32
 *   bytes, a size or index that is not a non-negative safe integer): such input is a
 *   bug in the caller, not a bad proof. See `isProofFailure` for the split.
 */
import { consistencyRanges, inclusionRanges } from "./proof";
import {
  MerkleError,
  checkHash,
  checkHashes,
  checkIndex,
  checkIndexInTree,
  checkSize,
  checkSizeWithin,
  isProofFailure,
  toHex,
} from "./errors";
import { EMPTY_ROOT, hashChildren } from "./hash";

// ---------------------------------------------------------------------------
// Inclusion
// ---------------------------------------------------------------------------

/**
 * The root that `proof` leads to from leaf `index` with hash `leafHash` in a tree of
 * `size` leaves: RFC 9162 §2.1.3.2 steps 1–4.
 *
 * Throws MerkleError: INVALID_INDEX, INVALID_TREE_SIZE, INVALID_HASH_LENGTH for
 * malformed input; INDEX_OUT_OF_RANGE if index >= size; INVALID_PROOF_LENGTH if the
 * proof has too many or too few hashes for (index, size).
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkIndex(index);
  checkSize(size);
  checkHash(leafHash, "leaf hash");
  checkHashes(proof, "inclusion proof");
  checkIndexInTree(index, size);
  return chainInclusion(index, size, leafHash, proof);
}

/**
 * Throws MerkleError unless `proof` shows that `leafHash` is leaf `index` of the tree
 * of `size` leaves with root `root`; ROOT_MISMATCH carries the computed root as `got`.
 */
export function assertInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, "root");
  const computed = rootFromInclusionProof(index, size, leafHash, proof);
  checkRootsMatch(computed, root, "root");
}

/**
 * Whether `proof` shows that `leafHash` is leaf `index` of the tree of `size` leaves
 * with root `root`. False for a proof that does not verify, including index >= size
 * and a proof of the wrong length; throws MerkleError for malformed input.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  return holds(() => assertInclusion(index, size, leafHash, proof, root));
}

/** RFC 9162 §2.1.3.2 steps 2–5 (the length part of 5); requires index < size. */
function chainInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw inclusionLengthError(index, size, proof.length);
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw inclusionLengthError(index, size, proof.length);
  return r;
}

// ---------------------------------------------------------------------------
// Consistency
// ---------------------------------------------------------------------------

/**
 * Throws MerkleError unless `proof` shows that the tree of `newSize` leaves with root
 * `newRoot` extends the tree of `oldSize` leaves with root `oldRoot`.
 *
 * Cases beyond RFC 9162 §2.1.4.2, which covers 0 < oldSize < newSize:
 * - oldSize == newSize: the proof must be empty and the roots equal;
 * - oldSize == 0: every tree extends the empty tree, so the proof must be empty and
 *   `oldRoot` must be EMPTY_ROOT (the only root a tree of 0 leaves has); `newRoot` is
 *   then unconstrained unless newSize is 0 too. This matches `consistencyProof`,
 *   which returns [] for oldSize 0. (The contract anchors a log's first checkpoint
 *   without a proof, so it never needs this case.)
 *
 * Throws MerkleError: INVALID_TREE_SIZE, INVALID_HASH_LENGTH for malformed input;
 * TREE_TOO_SMALL if oldSize > newSize; INVALID_PROOF_LENGTH; ROOT_MISMATCH (with the
 * computed root as `got` and the given one as `want`).
 */
export function assertConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  checkSize(oldSize, "old size");
  checkSize(newSize, "new size");
  checkHash(oldRoot, "old root");
  checkHash(newRoot, "new root");
  checkHashes(proof, "consistency proof");
  checkSizeWithin(oldSize, newSize, "old size");

  if (oldSize === 0 || oldSize === newSize) {
    checkProofLength(proof, 0, oldSize, newSize);
    if (oldSize === 0) checkRootsMatch(oldRoot, EMPTY_ROOT, "old root");
    if (oldSize === newSize) checkRootsMatch(newRoot, oldRoot, "new root");
    return;
  }
  const { first, second } = chainConsistency(oldSize, newSize, oldRoot, proof);
  checkRootsMatch(first, oldRoot, "old root");
  checkRootsMatch(second, newRoot, "new root");
}

/**
 * Whether `proof` shows that the tree (`newSize`, `newRoot`) extends the tree
 * (`oldSize`, `oldRoot`); see {@link assertConsistency} for the edge cases. False for
 * a proof that does not verify, including oldSize > newSize; throws MerkleError for
 * malformed input.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  return holds(() => assertConsistency(oldSize, newSize, oldRoot, newRoot, proof));
}

/**
 * RFC 9162 §2.1.4.2 steps 1–7 up to the final comparisons: the old and new roots
 * (fr, sr) that the proof leads to. Requires 0 < oldSize < newSize.
 */
function chainConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  proof: readonly Uint8Array[],
): { first: Uint8Array; second: Uint8Array } {
  // Step 1.
  if (proof.length === 0) throw consistencyLengthError(oldSize, newSize, 0);
  // Step 2: the old tree is then a node of the new one, and the proof omits it.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  // Steps 3–4.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0];
  let sr = path[0];
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) throw consistencyLengthError(oldSize, newSize, proof.length);
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7, the part about sn; the caller compares the roots.
  if (sn !== 0) throw consistencyLengthError(oldSize, newSize, proof.length);
  return { first: fr, second: sr };
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Runs an assert*: true if it passes, false if it reports a failed proof. */
function holds(assertion: () => void): boolean {
  try {
    assertion();
    return true;
  } catch (err) {
    if (isProofFailure(err)) return false;
    throw err;
  }
}

function checkRootsMatch(got: Uint8Array, want: Uint8Array, what: string): void {
  if (!bytesEqual(got, want)) {
    throw new MerkleError({
      code: "ROOT_MISMATCH",
      message: `${what}: got ${toHex(got)}, want ${toHex(want)}`,
      got,
      want,
    });
  }
}

function checkProofLength(
  proof: readonly Uint8Array[],
  want: number,
  oldSize: number,
  newSize: number,
): void {
  if (proof.length !== want) throw consistencyLengthError(oldSize, newSize, proof.length);
}

function inclusionLengthError(index: number, size: number, got: number): MerkleError {
  const want = inclusionRanges(index, size).length;
  return new MerkleError({
    code: "INVALID_PROOF_LENGTH",
    message: `inclusion proof for leaf ${index} of ${size}: got ${got} hashes, want ${want}`,
    got,
    want,
  });
}

function consistencyLengthError(oldSize: number, newSize: number, got: number): MerkleError {
  const want = oldSize === 0 ? 0 : consistencyRanges(oldSize, newSize).length;
  return new MerkleError({
    code: "INVALID_PROOF_LENGTH",
    message: `consistency proof from ${oldSize} to ${newSize}: got ${got} hashes, want ${want}`,
    got,
    want,
  });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// fn and sn reach 2^53, past the 32 bits that JavaScript's bitwise operators keep.
function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}
