/**
 * Errors of the open log (notes, tiles, the monitor): one class with a union of codes, so
 * callers and tests branch on the code, never on the message. A divergence carries where it
 * was found (tree size, tile path) and the two hashes, as "got X, want Y".
 */
export type OpenLogErrorCode =
  | "MALFORMED_NOTE"
  | "MALFORMED_KEY"
  | "UNKNOWN_KEY"
  | "BAD_SIGNATURE"
  | "MALFORMED_CHECKPOINT"
  | "WRONG_ORIGIN"
  | "INCONSISTENT_CHECKPOINT"
  | "MALFORMED_TILE"
  | "NOTE_ROOT_MISMATCH"
  | "TILE_HASH_MISMATCH"
  | "ROOT_MISMATCH"
  | "ENTRY_HASH_MISMATCH"
  | "MALFORMED_ENTRY"
  | "UNTRUSTED_LOG"
  | "NOTE_KEY_MISMATCH"
  | "NOT_ANCHORED"
  | "FETCH_FAILED";

export interface OpenLogErrorParameters {
  code: OpenLogErrorCode;
  message: string;
  /** Tree size being checked when the divergence was found. */
  treeSize?: number;
  /** Tile path (C2SP) where it was found. */
  tile?: string;
  expected?: string;
  found?: string;
  cause?: unknown;
}

export class OpenLogError extends Error {
  readonly code: OpenLogErrorCode;
  readonly treeSize?: number;
  readonly tile?: string;
  readonly expected?: string;
  readonly found?: string;

  constructor({ code, message, treeSize, tile, expected, found, cause }: OpenLogErrorParameters) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "OpenLogError";
    this.code = code;
    this.treeSize = treeSize;
    this.tile = tile;
    this.expected = expected;
    this.found = found;
  }
}
