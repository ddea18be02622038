import { OpenLogError } from "./errors";

/**
 * The C2SP tile layout (c2sp.org/tlog-tiles), height 8: paths, widths and entry bundles.
 * Pure functions. Tile (L, N) holds the tree nodes at level 8·L with indices
 * N·256 … N·256 + 255, i.e. exactly the perfect subtrees server/merkle/tree-store.ts stores.
 */

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const HASH_SIZE = 32;

export interface TileId {
  /** Tile level, or "entries" for an entry bundle (which has level 0's shape). */
  level: number | "entries";
  index: number;
  /** 256 for a full tile, 1 … 255 for a partial one. */
  width: number;
}

/** `x001/x234/067` for 1234067: 3-digit segments, all but the last prefixed with x. */
export function encodeTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`tile index ${index}`);
  const digits = String(index);
  const segments: string[] = [];
  for (let end = digits.length; end > 0; end -= 3) segments.unshift(digits.slice(Math.max(0, end - 3), end).padStart(3, "0"));
  return segments.map((s, i) => (i < segments.length - 1 ? "x" + s : s)).join("/");
}

/** The path below the log prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath({ level, index, width }: TileId): string {
  return `tile/${level}/${encodeTileIndex(index)}${width === TILE_WIDTH ? "" : `.p/${width}`}`;
}

/** Parses what follows `tile/` (attacker-controlled: a request path); undefined when it is not a tile path. */
export function parseTilePath(rest: string): TileId | undefined {
  const match = /^(entries|0|[1-9]\d?)\/((?:x\d{3}\/)*)(\d{3})(?:\.p\/([1-9]\d{0,2}))?$/.exec(rest);
  if (!match) return undefined;
  const [, levelText, prefix, last, widthText] = match as unknown as [string, string, string, string, string | undefined];
  const level = levelText === "entries" ? "entries" : Number(levelText);
  if (level !== "entries" && level > 63) return undefined;
  const digits = prefix.replace(/x|\//g, "") + last;
  // No leading zero segments: one index, one path.
  if (prefix.length > 0 && prefix.startsWith("x000")) return undefined;
  if (digits.length > 15) return undefined;
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if (widthText !== undefined && width > 255) return undefined;
  return { level, index: Number(digits), width };
}

/** How many hashes tile (level, index) has in the tree of `size` leaves: 0 … 256. */
export function tileWidthAt(size: number, level: number, index: number): number {
  const nodes = Math.floor(size / TILE_WIDTH ** level);
  return Math.max(0, Math.min(TILE_WIDTH, nodes - index * TILE_WIDTH));
}

/** The tiles of every level a tree of `size` leaves has, each at its width then (full and partial). */
export function tilesOf(size: number, fromSize = 0): TileId[] {
  const tiles: TileId[] = [];
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const first = Math.floor(Math.floor(fromSize / TILE_WIDTH ** level) / TILE_WIDTH);
    const nodes = Math.floor(size / TILE_WIDTH ** level);
    for (let index = first; index * TILE_WIDTH < nodes; index++) tiles.push({ level, index, width: tileWidthAt(size, level, index) });
  }
  return tiles;
}

/** An entry bundle: each leaf's bytes prefixed by its big-endian uint16 length. */
export function encodeEntryBundle(leaves: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const leaf of leaves) {
    if (leaf.length > 0xffff) throw new RangeError(`a leaf of ${leaf.length} bytes does not fit an entry bundle (65,535 at most)`);
    parts.push(Uint8Array.of(leaf.length >> 8, leaf.length & 0xff), leaf);
  }
  return Buffer.concat(parts);
}

/** Splits an entry bundle (attacker-controlled) into its entries. */
export function decodeEntryBundle(bundle: Uint8Array, tile = "entry bundle"): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) throw new OpenLogError({ code: "MALFORMED_TILE", tile, message: `${tile}: truncated length at byte ${at}` });
    const length = (bundle[at]! << 8) | bundle[at + 1]!;
    if (at + 2 + length > bundle.length) throw new OpenLogError({ code: "MALFORMED_TILE", tile, message: `${tile}: entry ${entries.length} runs past the end` });
    entries.push(bundle.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}

/** The hashes of a hash tile, checking its length against the width asked for. */
export function splitTile(bytes: Uint8Array, width: number, tile: string): Uint8Array[] {
  if (bytes.length !== width * HASH_SIZE) {
    throw new OpenLogError({ code: "MALFORMED_TILE", tile, message: `${tile}: got ${bytes.length} bytes, want ${width * HASH_SIZE}` });
  }
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < width; i++) hashes.push(bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return hashes;
}
