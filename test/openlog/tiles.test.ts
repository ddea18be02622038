/**
 * The C2SP tile layout: paths, widths, bundles — and the tiles' contents against
 * server/merkle's rootHash, through a tile reader written here from the text of
 * c2sp.org/tlog-tiles alone ("the n-th tile at level l is MTH(D[(n·256+i)·256^l :
 * (n·256+i+1)·256^l]) for i in 0…255"), not from our tree code.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { Level } from "level";
import { decodeEntryBundle, encodeEntryBundle, encodeTileIndex, parseTilePath, tilePath, tilesOf, tileWidthAt, TileStore } from "../../server/openlog";
import { MerkleTreeStore, rootHash, storedTreeReader, type MerkleStoreScanDb } from "../../server/merkle";
import { makeTempDir, removeDir } from "../support/gateway-harness";

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** RFC 6962 MTH, recursively, as the spec states it. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Uint8Array.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Uint8Array.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** Tiles from the spec's definition: widths from "floor(s / 256**l) mod 256" and full tiles below. */
function specTiles(leaves: Uint8Array[]): Map<string, Uint8Array> {
  const tiles = new Map<string, Uint8Array>();
  const s = leaves.length;
  for (let l = 0; 256 ** l <= s; l++) {
    const hashes = Math.floor(s / 256 ** l);
    for (let n = 0; n * 256 < hashes; n++) {
      const width = Math.min(256, hashes - n * 256);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < width; i++) parts.push(mth(leaves.slice((n * 256 + i) * 256 ** l, (n * 256 + i + 1) * 256 ** l)));
      const digits = String(n).padStart(3, "0");
      const segments: string[] = [];
      for (let end = digits.length; end > 0; end -= 3) segments.unshift(digits.slice(Math.max(0, end - 3), end).padStart(3, "0"));
      const path = `tile/${l}/${segments.map((x, j) => (j < segments.length - 1 ? "x" + x : x)).join("/")}${width < 256 ? `.p/${width}` : ""}`;
      tiles.set(path, Buffer.concat(parts));
    }
  }
  return tiles;
}

/** The root from tiles alone, as a client would: MTH over the level-0 tile hashes, composed with higher tiles. */
function rootFromSpecTiles(size: number, tiles: Map<string, Uint8Array>): Uint8Array {
  // Subtree hashes of aligned 256^l blocks from tiles, then the RFC 6962 split down to them.
  const node = (level: number, index: number): Uint8Array => {
    const l = Math.floor(level / 8);
    const within = level % 8;
    const tileNodes = 2 ** within;
    const first = index * tileNodes;
    const n = Math.floor(first / 256);
    const width = tileWidthAt(size, l, n);
    const key = tilePath({ level: l, index: n, width });
    const tile = tiles.get(key)!;
    const hashes: Uint8Array[] = [];
    for (let i = first - n * 256; i < first - n * 256 + tileNodes; i++) hashes.push(tile.subarray(i * 32, i * 32 + 32));
    let layer = hashes;
    while (layer.length > 1) layer = layer.reduce<Uint8Array[]>((acc, _h, i) => (i % 2 ? acc : [...acc, sha(Uint8Array.of(1), layer[i]!, layer[i + 1]!)]), []);
    return layer[0]!;
  };
  const range = (begin: number, end: number): Uint8Array => {
    const n = end - begin;
    const level = Math.log2(n);
    if (Number.isInteger(level) && begin % n === 0) return node(level, begin / n);
    let k = 1;
    while (k * 2 < n) k *= 2;
    return sha(Uint8Array.of(1), range(begin, begin + k), range(begin + k, end));
  };
  return size === 0 ? sha() : range(0, size);
}

describe("open log: tile paths and widths (c2sp.org/tlog-tiles)", () => {
  it("encodes the index in x-prefixed 3-digit segments", () => {
    expect(encodeTileIndex(1234067)).to.equal("x001/x234/067");
    expect(encodeTileIndex(0)).to.equal("000");
    expect(encodeTileIndex(999)).to.equal("999");
    expect(encodeTileIndex(1000)).to.equal("x001/000");
    expect(tilePath({ level: 2, index: 1234067, width: 17 })).to.equal("tile/2/x001/x234/067.p/17");
    expect(tilePath({ level: "entries", index: 5, width: 256 })).to.equal("tile/entries/005");
  });

  it("parses exactly the canonical paths", () => {
    expect(parseTilePath("0/x001/x234/067")).to.deep.equal({ level: 0, index: 1234067, width: 256 });
    expect(parseTilePath("entries/005.p/3")).to.deep.equal({ level: "entries", index: 5, width: 3 });
    for (const bad of ["0/5", "0/x000/005", "0/005.p/0", "0/005.p/256", "0/005.p/07", "64/000", "01/000", "0/005/", "0/x005", "entries/x1/005"]) {
      expect(parseTilePath(bad), bad).to.equal(undefined);
    }
  });

  it("has the spec's example: a tree of 70,000 leaves", () => {
    const tiles = tilesOf(70_000);
    expect(tiles.filter((t) => t.level === 0 && t.width === 256)).to.have.length(273);
    expect(tiles.filter((t) => t.level === 0 && t.width < 256).map((t) => t.width)).to.deep.equal([112]);
    expect(tiles.filter((t) => t.level === 1).map((t) => t.width)).to.deep.equal([256, 17]);
    expect(tiles.filter((t) => t.level === 2).map((t) => t.width)).to.deep.equal([1]);
    expect(tilesOf(256).map((t) => `${t.level}:${t.width}`)).to.deep.equal(["0:256", "1:1"]);
  });

  it("round-trips entry bundles with big-endian uint16 lengths", () => {
    const entries = [Buffer.from("a"), Buffer.alloc(0), Buffer.alloc(300, 9)];
    const bundle = encodeEntryBundle(entries);
    expect(bundle.subarray(0, 3)).to.deep.equal(Buffer.from([0, 1, 0x61]));
    expect(bundle.subarray(5, 7)).to.deep.equal(Buffer.from([0x01, 0x2c]));
    expect(decodeEntryBundle(bundle).map((e) => Buffer.from(e))).to.deep.equal(entries);
    expect(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1))).to.throw(/runs past the end/);
  });
});

describe("open log: stored tiles against a reader written from the spec", () => {
  let dir: string;
  let db: Level<string, string>;
  before(async () => {
    dir = makeTempDir("tiles-");
    db = new Level<string, string>(dir);
    await db.open();
  });
  after(async () => {
    await db.close();
    removeDir(dir);
  });

  it("builds, in steps, the tiles the spec defines, and they give rootHash at every checked size", async () => {
    const treeDb = db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as unknown as MerkleStoreScanDb;
    const tree = await MerkleTreeStore.open(treeDb, { sync: false });
    const tiles = await TileStore.open(db, storedTreeReader(treeDb), 0);
    const leaves: Uint8Array[] = [];
    // Sizes that end inside tiles, on tile edges and past a level-1 tile (65,536 leaves).
    for (const size of [1, 255, 256, 257, 1000, 65_535, 65_536, 65_800]) {
      const added: Uint8Array[] = [];
      while (leaves.length < size) {
        const leaf = Buffer.from(`leaf ${leaves.length}`);
        leaves.push(leaf);
        added.push(sha(Uint8Array.of(0), leaf));
      }
      await tree.append(added);
      await tiles.buildTo(size);
      if (size > 1000 && size !== 65_800) continue; // the spec reader's MTH is quadratic: check small sizes and the last one
      const expected = size <= 1000 ? specTiles(leaves) : undefined;
      const ours = new Map<string, Uint8Array>();
      for (const t of tilesOf(size)) {
        const stored = await tiles.read(t.level as number, t.index);
        ours.set(tilePath(t), stored!.subarray(0, t.width * 32));
      }
      if (expected) {
        expect([...ours.keys()].sort()).to.deep.equal([...expected.keys()].sort());
        for (const [path, bytes] of expected) expect(Buffer.from(ours.get(path)!), path).to.deep.equal(Buffer.from(bytes));
      }
      expect(Buffer.from(rootFromSpecTiles(size, ours)), `root at ${size}`).to.deep.equal(Buffer.from(rootHash(leaves)));
    }
  });
});
