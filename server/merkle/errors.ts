/**
 * The one error type of the Merkle module, with string codes.
 *
 * Codes fall in two groups, and the boolean verifiers treat them differently:
 * - malformed input, always thrown: INVALID_HASH_LENGTH, INVALID_LEAF,
 *   INVALID_TREE_SIZE, INVALID_INDEX (and CORRUPT_STORE from the store);
 * - a proof that does not check out, which `verifyInclusion`/`verifyConsistency`
 *   turn into `false`: INDEX_OUT_OF_RANGE, TREE_TOO_SMALL, INVALID_PROOF_LENGTH,
 *   ROOT_MISMATCH (see {@link isProofFailure}).
 */
export type MerkleErrorCode =
  /** A hash is not a 32-byte Uint8Array. */
  | "INVALID_HASH_LENGTH"
  /** A leaf (raw leaf bytes) is not a Uint8Array. */
  | "INVALID_LEAF"
  /** A tree size is not a safe non-negative integer. */
  | "INVALID_TREE_SIZE"
  /** A leaf index is not a safe non-negative integer. */
  | "INVALID_INDEX"
  /** A leaf index is not below the tree size. */
  | "INDEX_OUT_OF_RANGE"
  /** A tree is smaller than a size asked of it (old size > new size, size > stored size). */
  | "TREE_TOO_SMALL"
  /** A proof has too few or too many hashes for its index and sizes. */
  | "INVALID_PROOF_LENGTH"
  /** A root worked out from a proof differs from the root given; carries got/want. */
  | "ROOT_MISMATCH"
  /** The store holds a record it cannot read or lacks a node it must have. */
  | "CORRUPT_STORE";

export interface MerkleErrorParameters {
  code: MerkleErrorCode;
  message: string;
  /** What was found: a hash (ROOT_MISMATCH) or a number. */
  got?: Uint8Array | number;
  /** What was expected. */
  want?: Uint8Array | number;
  cause?: unknown;
}

export class MerkleError extends Error {
  override name = "MerkleError";
  readonly code: MerkleErrorCode;
  readonly got?: Uint8Array | number;
  readonly want?: Uint8Array | number;

  constructor({ code, message, got, want, cause }: MerkleErrorParameters) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.got = got;
    this.want = want;
  }
}

const PROOF_FAILURES: ReadonlySet<MerkleErrorCode> = new Set<MerkleErrorCode>([
  "INDEX_OUT_OF_RANGE",
  "TREE_TOO_SMALL",
  "INVALID_PROOF_LENGTH",
  "ROOT_MISMATCH",
]);

/** Whether `err` says a proof does not verify, as opposed to malformed input. */
export function isProofFailure(err: unknown): err is MerkleError {
  return err instanceof MerkleError && PROOF_FAILURES.has(err.code);
}

export const HASH_SIZE = 32;

// Guards shared by every layer. Inputs may come straight from a receipt or an
// HTTP request, so they check runtime types, not only what TypeScript promises.

/** Throws INVALID_HASH_LENGTH unless `hash` is a 32-byte Uint8Array. */
export function checkHash(hash: unknown, what: string): asserts hash is Uint8Array {
  if (!(hash instanceof Uint8Array)) {
    throw new MerkleError({
      code: "INVALID_HASH_LENGTH",
      message: `${what}: got ${describeValue(hash)}, want a ${HASH_SIZE}-byte Uint8Array`,
    });
  }
  if (hash.length !== HASH_SIZE) {
    throw new MerkleError({
      code: "INVALID_HASH_LENGTH",
      message: `${what}: got ${hash.length} bytes, want ${HASH_SIZE}`,
      got: hash.length,
      want: HASH_SIZE,
    });
  }
}

/** Throws INVALID_HASH_LENGTH unless every element is a 32-byte Uint8Array. */
export function checkHashes(hashes: readonly unknown[], what: string): void {
  if (!Array.isArray(hashes)) {
    throw new MerkleError({
      code: "INVALID_HASH_LENGTH",
      message: `${what}: got ${describeValue(hashes)}, want an array of ${HASH_SIZE}-byte hashes`,
    });
  }
  for (let i = 0; i < hashes.length; i++) checkHash(hashes[i], `${what}[${i}]`);
}

/** Throws INVALID_TREE_SIZE unless `size` is a safe non-negative integer. */
export function checkSize(size: unknown, what = "tree size"): asserts size is number {
  if (!isCount(size)) {
    throw new MerkleError({
      code: "INVALID_TREE_SIZE",
      message: `${what}: got ${describeValue(size)}, want a non-negative safe integer`,
    });
  }
}

/** Throws INVALID_INDEX unless `index` is a safe non-negative integer. */
export function checkIndex(index: unknown, what = "leaf index"): asserts index is number {
  if (!isCount(index)) {
    throw new MerkleError({
      code: "INVALID_INDEX",
      message: `${what}: got ${describeValue(index)}, want a non-negative safe integer`,
    });
  }
}

/** Throws INDEX_OUT_OF_RANGE unless index < size. */
export function checkIndexInTree(index: number, size: number): void {
  if (index >= size) {
    throw new MerkleError({
      code: "INDEX_OUT_OF_RANGE",
      message: `leaf index: got ${index}, want < tree size ${size}`,
      got: index,
      want: size,
    });
  }
}

/** Throws TREE_TOO_SMALL unless size <= available. */
export function checkSizeWithin(size: number, available: number, what: string): void {
  if (size > available) {
    throw new MerkleError({
      code: "TREE_TOO_SMALL",
      message: `${what}: got ${size}, want <= ${available}`,
      got: size,
      want: available,
    });
  }
}

/** Throws INVALID_LEAF unless every leaf is a Uint8Array (of any length). */
export function checkLeaves(leaves: readonly unknown[]): void {
  if (!Array.isArray(leaves)) {
    throw new MerkleError({
      code: "INVALID_LEAF",
      message: `leaves: got ${describeValue(leaves)}, want an array of Uint8Array`,
    });
  }
  for (let i = 0; i < leaves.length; i++) {
    if (!(leaves[i] instanceof Uint8Array)) {
      throw new MerkleError({
        code: "INVALID_LEAF",
        message: `leaves[${i}]: got ${describeValue(leaves[i])}, want a Uint8Array`,
      });
    }
  }
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? value.constructor?.name ?? "object" : typeof value;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
