/**
 * RFC 9162 §2.1.1 hashing with SHA-256: the only place that touches the hash function.
 *
 * These are hot loops (two calls per leaf when building a tree), so they check no
 * lengths; callers validate at their boundaries. Prefix, left and right go in as
 * separate `update` calls so that no intermediate buffer is allocated or copied.
 */
import { createHash } from "node:crypto";

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/**
 * SHA-256 of the empty string: the root of a tree with no leaves. Shared, so never
 * mutate it; functions of this module return copies of it.
 */
export const EMPTY_ROOT: Uint8Array = new Uint8Array(createHash("sha256").digest());

/**
 * A copy of `bytes`. (Not `bytes.slice()`: on a Buffer that is a view of the same memory.)
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** SHA-256(0x00 ‖ data): the hash of a leaf, from its raw bytes. */
export function hashLeaf(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}
