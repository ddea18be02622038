import type { Database } from "../store/database";
import { indexKey } from "../store/database";
import type { StoredTreeReader } from "../merkle";
import { HASH_SIZE, TILE_HEIGHT, TILE_WIDTH } from "./tiles";

/**
 * The hash tiles, stored as the tree grows so that serving one costs one read. A follower
 * of the Merkle tree with its own position (`size`): each step reads the tree nodes the new
 * leaves completed at levels 0, 8, 16 … and rewrites the tiles they fall in, in one batch
 * with the new position, so after a crash it resumes where its last batch ended.
 *
 * Sublevel `tiles`: `t` ‖ 2-digit level ‖ 16-hex tile index → the tile's hashes (a full
 * tile's 8,192 bytes, or the rightmost tile's hashes so far); `size` → the tree size covered.
 * A partial tile of width W is the first W hashes of what is stored.
 */

// Leaves per batch: 64 full level-0 tiles, about 512 KiB written.
const CHUNK = 64 * TILE_WIDTH;
const SIZE = "size";

export class TileStore {
  private readonly store;
  private covered = 0;
  private building: Promise<void> = Promise.resolve();

  private constructor(db: Database, private readonly tree: StoredTreeReader) {
    this.store = db.sublevel<string, Uint8Array>("tiles", { valueEncoding: "view" });
  }

  /** Opens the tiles of a tree of `treeSize` leaves; tiles beyond it (a tree rebuilt smaller) are rebuilt as it grows. */
  static async open(db: Database, tree: StoredTreeReader, treeSize: number): Promise<TileStore> {
    const store = new TileStore(db, tree);
    const size = await store.store.get(SIZE);
    store.covered = Math.min(treeSize, size === undefined ? 0 : Number(Buffer.from(size).toString("latin1")));
    return store;
  }

  /** The tree size the stored tiles cover. */
  get size(): number {
    return this.covered;
  }

  /** Builds tiles up to `treeSize` (which the tree must have reached); calls run one at a time. */
  buildTo(treeSize: number): Promise<void> {
    const run = this.building.then(async () => {
      while (this.covered < treeSize) await this.step(this.covered, Math.min(treeSize, this.covered + CHUNK));
    });
    this.building = run.catch(() => undefined);
    return run;
  }

  /** The stored bytes of tile (level, index): one read; undefined when none is stored. */
  async read(level: number, index: number): Promise<Uint8Array | undefined> {
    return this.store.get(tileKey(level, index));
  }

  private async step(from: number, to: number): Promise<void> {
    const puts: { type: "put"; key: string; value: Uint8Array }[] = [];
    for (let level = 0; TILE_WIDTH ** level <= to; level++) {
      const span = TILE_WIDTH ** level;
      const firstNode = Math.floor(from / span);
      const endNode = Math.floor(to / span);
      if (endNode === firstNode) continue;
      for (let tile = Math.floor(firstNode / TILE_WIDTH); tile * TILE_WIDTH < endNode; tile++) {
        const begin = tile * TILE_WIDTH;
        const end = Math.min(begin + TILE_WIDTH, endNode);
        const hashes = await this.tree.nodeRange(level * TILE_HEIGHT, begin, end);
        const bytes = new Uint8Array((end - begin) * HASH_SIZE);
        hashes.forEach((hash, i) => {
          if (!hash) throw new Error(`tree node (${level * TILE_HEIGHT}, ${begin + i}) is missing: cannot build tile ${level}/${tile}`);
          bytes.set(hash, i * HASH_SIZE);
        });
        puts.push({ type: "put", key: tileKey(level, tile), value: bytes });
      }
    }
    // Not synced: tiles derive from the tree and are rebuilt from there after a loss.
    await this.store.batch([...puts, { type: "put", key: SIZE, value: Buffer.from(String(to), "latin1") }]);
    this.covered = to;
  }
}

function tileKey(level: number, index: number): string {
  return `t${String(level).padStart(2, "0")}${indexKey(index)}`;
}
