import { appendToFrontier, frontierNodes, hashLeaf, rootOfPerfectSubtrees, EMPTY_ROOT } from "../merkle";
import { OpenLogError } from "./errors";
import { decodeEntryBundle, splitTile, tilePath, tileWidthAt, TILE_HEIGHT, TILE_WIDTH, type TileId } from "./tiles";

/**
 * Following a log from its tiles alone (what `ledger monitor` does): pure, no I/O. The
 * follower holds the verified tree as its frontier (the hashes of its perfect subtrees),
 * appends the leaf hashes of the level-0 tiles beyond it, and thereby computes every node
 * the new leaves complete. It then holds each higher tile's hashes against the nodes
 * computed from below, and the new root against the anchored root. Starting from a
 * verified tree and reaching the anchored root by appending proves the new checkpoint
 * extends the old one: a consistency check made from tiles, not from the gateway's word.
 */

export interface FollowerState {
  size: number;
  /** Hashes of frontierNodes(size), left to right. */
  frontier: Uint8Array[];
}

const hex = (bytes: Uint8Array) => "0x" + Buffer.from(bytes).toString("hex");

/** The tiles to fetch to go from `from` to `to` leaves: level 0 first, each at its width in the tree of `to`. */
export function tilesToFetch(from: number, to: number): TileId[] {
  const tiles: TileId[] = [];
  for (let level = 0; TILE_WIDTH ** level <= to; level++) {
    const firstNode = Math.floor(from / TILE_WIDTH ** level);
    const endNode = Math.floor(to / TILE_WIDTH ** level);
    if (endNode <= firstNode) continue;
    for (let index = Math.floor(firstNode / TILE_WIDTH); index * TILE_WIDTH < endNode; index++) {
      tiles.push({ level, index, width: tileWidthAt(to, level, index) });
    }
  }
  return tiles;
}

export class TreeFollower {
  private size: number;
  private readonly frontier: Uint8Array[];
  /** Nodes at tile levels ≥ 1 computed from below and not yet held against their tile: "L/index" → hash. */
  private readonly computed = new Map<string, Uint8Array>();

  constructor(state: FollowerState) {
    if (state.frontier.length !== frontierNodes(state.size).length) {
      throw new OpenLogError({ code: "MALFORMED_TILE", message: `follower state: ${state.frontier.length} frontier hashes for ${state.size} leaves, want ${frontierNodes(state.size).length}` });
    }
    this.size = state.size;
    this.frontier = state.frontier.map((h) => new Uint8Array(h));
  }

  get state(): FollowerState {
    return { size: this.size, frontier: this.frontier.map((h) => new Uint8Array(h)) };
  }

  root(): Uint8Array {
    return this.size === 0 ? new Uint8Array(EMPTY_ROOT) : rootOfPerfectSubtrees(this.frontier);
  }

  /**
   * Appends the leaves of level-0 tile `index` (served with `width` hashes) beyond the
   * current size. Tiles must come in order, without gaps.
   */
  appendLeafTile(index: number, width: number, bytes: Uint8Array): Uint8Array[] {
    const path = tilePath({ level: 0, index, width });
    const hashes = splitTile(bytes, width, path);
    const first = index * TILE_WIDTH;
    if (first > this.size || first + width <= this.size) {
      throw new OpenLogError({ code: "MALFORMED_TILE", tile: path, message: `${path} does not extend the tree of ${this.size} leaves` });
    }
    for (let i = this.size - first; i < width; i++) {
      appendToFrontier(this.frontier, this.size++, hashes[i]!, (node, hash) => {
        if (node.level > 0 && node.level % TILE_HEIGHT === 0) this.computed.set(`${node.level / TILE_HEIGHT}/${node.index}`, hash);
      });
    }
    return hashes;
  }

  /**
   * Ends a step at `treeSize`: the root computed from the leaf tiles must be the anchored
   * one, and every hash of the higher tiles must be the node computed from below. When the
   * root is wrong, the first disagreeing higher hash names the leaf tile at fault.
   */
  finish(treeSize: number, anchoredRoot: Uint8Array, upperTiles: readonly UpperTile[], leafTiles: string): void {
    if (this.size !== treeSize) throw new OpenLogError({ code: "MALFORMED_TILE", treeSize, message: `tiles gave ${this.size} leaves, want ${treeSize}` });
    let disagreement: { path: string; below: string; expected: Uint8Array; found: Uint8Array } | undefined;
    for (const { level, index, width, bytes } of upperTiles) {
      const path = tilePath({ level, index, width });
      splitTile(bytes, width, path).forEach((found, i) => {
        const key = `${level}/${index * TILE_WIDTH + i}`;
        const expected = this.computed.get(key);
        if (!expected) return; // checked in an earlier step
        if (!disagreement && !equal(expected, found)) disagreement = { path, below: tilePath({ level: level - 1, index: index * TILE_WIDTH + i, width: TILE_WIDTH }), expected, found };
        this.computed.delete(key);
      });
    }
    const root = this.root();
    if (!equal(root, anchoredRoot)) {
      throw new OpenLogError({
        code: "ROOT_MISMATCH",
        treeSize,
        tile: disagreement ? disagreement.below : leafTiles,
        expected: disagreement ? hex(disagreement.found) : hex(anchoredRoot),
        found: disagreement ? hex(disagreement.expected) : hex(root),
        message: disagreement
          ? `${disagreement.below} hashes to ${hex(disagreement.expected)}, but ${disagreement.path} holds ${hex(disagreement.found)}; the leaf tiles give root ${hex(root)} for ${treeSize} leaves, the chain anchored ${hex(anchoredRoot)}`
          : `the tiles (${leafTiles}) give root ${hex(root)} for ${treeSize} leaves; the chain anchored ${hex(anchoredRoot)}`,
      });
    }
    if (disagreement) {
      throw new OpenLogError({
        code: "TILE_HASH_MISMATCH",
        treeSize,
        tile: disagreement.path,
        expected: hex(disagreement.expected),
        found: hex(disagreement.found),
        message: `${disagreement.path} holds ${hex(disagreement.found)} for ${disagreement.below}, which hashes to ${hex(disagreement.expected)} (and the leaves give the anchored root)`,
      });
    }
    if (this.computed.size > 0) {
      const [key] = this.computed.keys();
      throw new OpenLogError({ code: "MALFORMED_TILE", treeSize, tile: `tile/${key}`, message: `node ${key} was computed but no tile holding it was given` });
    }
  }
}

/** A tile of level ≥ 1 as fetched. */
export interface UpperTile {
  level: number;
  index: number;
  width: number;
  bytes: Uint8Array;
}

/**
 * Checks an entry bundle against the leaf hashes of its level-0 tile: each entry must hash to
 * its tile hash, and `checkEntry` (the envelope's shape) must accept it. Entries below
 * `fromIndex` are skipped (checked before).
 */
export function checkEntryBundle(p: {
  index: number;
  width: number;
  bundle: Uint8Array;
  leafHashes: Uint8Array[];
  fromIndex: number;
  treeSize: number;
  checkEntry?: (entry: Uint8Array, leafIndex: number) => string | undefined;
}): number {
  const path = tilePath({ level: "entries", index: p.index, width: p.width });
  const entries = decodeEntryBundle(p.bundle, path);
  if (entries.length !== p.width) throw new OpenLogError({ code: "MALFORMED_TILE", tile: path, treeSize: p.treeSize, message: `${path}: got ${entries.length} entries, want ${p.width}` });
  let checked = 0;
  entries.forEach((entry, i) => {
    const leafIndex = p.index * TILE_WIDTH + i;
    if (leafIndex < p.fromIndex) return;
    const found = hashLeaf(entry);
    if (!equal(found, p.leafHashes[i]!)) {
      throw new OpenLogError({
        code: "ENTRY_HASH_MISMATCH",
        treeSize: p.treeSize,
        tile: path,
        expected: hex(p.leafHashes[i]!),
        found: hex(found),
        message: `entry ${leafIndex} (${path}) hashes to ${hex(found)}; tile/0 holds ${hex(p.leafHashes[i]!)}`,
      });
    }
    const problem = p.checkEntry?.(entry, leafIndex);
    if (problem) throw new OpenLogError({ code: "MALFORMED_ENTRY", treeSize: p.treeSize, tile: path, message: `entry ${leafIndex} (${path}): ${problem}` });
    checked++;
  });
  return checked;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
