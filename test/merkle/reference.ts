/**
 * A naive reference written straight from the text of RFC 9162 §2.1, to cross-check
 * the fast code. It shares nothing with server/merkle: its own SHA-256 calls, its own
 * split, recursion on array slices exactly as the RFC writes D[0:k] and D[k:n].
 */
import { createHash } from "node:crypto";

function sha256(...parts: Uint8Array[]): Uint8Array {
  return createHash("sha256").update(Buffer.concat(parts)).digest();
}

/** "the largest power of two smaller than n (i.e., k < n <= 2k)" */
function split(n: number): number {
  let k = 1;
  while (2 * k < n) k *= 2;
  return k;
}

/** §2.1.1 MTH(D[n]). */
export function mth(D: readonly Uint8Array[]): Uint8Array {
  const n = D.length;
  // "The hash of an empty list is the hash of an empty string: MTH({}) = HASH()."
  if (n === 0) return sha256();
  // "The hash of a list with one entry (also known as a leaf hash) is:
  //  MTH({d(0)}) = HASH(0x00 || d(0))."
  if (n === 1) return sha256(Uint8Array.of(0x00), D[0]);
  // "MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))"
  const k = split(n);
  return sha256(Uint8Array.of(0x01), mth(D.slice(0, k)), mth(D.slice(k)));
}

/** §2.1.3.1 PATH(m, D[n]), for 0 <= m < n. */
export function path(m: number, D: readonly Uint8Array[]): Uint8Array[] {
  const n = D.length;
  if (m < 0 || m >= n) throw new RangeError(`PATH(${m}, D[${n}]) undefined`);
  // "The path for the single leaf in a tree with a one-element input list D[1] = {d(0)} is empty"
  if (n === 1) return [];
  const k = split(n);
  // "PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k; and
  //  PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k"
  if (m < k) return [...path(m, D.slice(0, k)), mth(D.slice(k))];
  return [...path(m - k, D.slice(k)), mth(D.slice(0, k))];
}

/** §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n. */
export function proof(m: number, D: readonly Uint8Array[]): Uint8Array[] {
  if (m <= 0 || m > D.length) throw new RangeError(`PROOF(${m}, D[${D.length}]) undefined`);
  return subproof(m, D, true);
}

function subproof(m: number, D: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = D.length;
  // "If m = n, SUBPROOF(m, D[m], true) = {} and SUBPROOF(m, D[m], false) = {MTH(D[m])}"
  if (m === n) return b ? [] : [mth(D)];
  const k = split(n);
  // "If m <= k, the right subtree entries D[k:n] only exist in the current tree ...
  //  SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])"
  if (m <= k) return [...subproof(m, D.slice(0, k), b), mth(D.slice(k))];
  // "If m > k, the left subtree entries D[0:k] are identical in both trees ...
  //  SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])"
  return [...subproof(m - k, D.slice(k), false), mth(D.slice(0, k))];
}

// ---------------------------------------------------------------------------
// Test helpers
// ---------------------------------------------------------------------------

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

export function hexes(list: readonly Uint8Array[]): string[] {
  return list.map(hex);
}

/** n distinct leaves of varying lengths (0..9 bytes after a 4-byte index). */
export function makeLeaves(n: number, salt = 0): Uint8Array[] {
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const leaf = new Uint8Array(4 + ((i * 7 + salt) % 10));
    new DataView(leaf.buffer).setUint32(0, i);
    for (let j = 4; j < leaf.length; j++) leaf[j] = (i * 31 + j * 17 + salt) & 0xff;
    leaves.push(leaf);
  }
  return leaves;
}

/** SHA-256(0x00 ‖ leaf) for each leaf, computed here, not by the module under test. */
export function referenceLeafHashes(leaves: readonly Uint8Array[]): Uint8Array[] {
  return leaves.map((leaf) => sha256(Uint8Array.of(0x00), leaf));
}
