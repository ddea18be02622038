/**
 * The LevelDB-backed tree at larger sizes, on a real LevelDB in a temporary directory:
 * random sizes up to 3000 (every earlier root and every proof in the current tree
 * checked) and 100,000 leaves (sampled), against the in-memory functions.
 */
import { expect } from "chai";
import fc from "fast-check";
import { Level } from "level";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  MerkleTreeStore,
  consistencyProofFromLeafHashes,
  hashLeaf,
  inclusionProofFromLeafHashes,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type MerkleStoreDb,
} from "../../server/merkle";
import { Mismatches, batchesOf } from "./helpers";
import { hex, hexes, makeLeaves } from "./reference";

describe("merkle: MerkleTreeStore on LevelDB, larger trees", function () {
  this.timeout(60_000);

  let dir: string;
  let db: Level;
  let sublevels = 0;
  const freshSublevel = (): MerkleStoreDb => db.sublevel(`tree-${sublevels++}`) as unknown as MerkleStoreDb;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "merkle-store-large-test-"));
    db = new Level(dir);
    await db.open();
  });

  after(async () => {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("agrees with the in-memory functions at random sizes up to 3000", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 65, max: 3000 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
        async (n, batchSizes) => {
          const hashes = makeLeaves(n, n).map(hashLeaf);
          const store = await MerkleTreeStore.open(freshSublevel());
          for (const batch of batchesOf(hashes, batchSizes)) await store.append(batch);
          const root = rootFromLeafHashes(hashes);
          expect(hex(await store.root())).to.equal(hex(root));
          const check = new Mismatches();
          // Every earlier root: a verified consistency proof to the (checked) current
          // root pins each one down.
          for (let s = 0; s <= n; s++) {
            const proof = await store.consistencyProof(s, n);
            check.equal(
              verifyConsistency(s, n, await store.root(s), root, proof),
              true,
              `${s}->${n}`,
            );
          }
          // Every leaf's inclusion proof in the current tree.
          for (let i = 0; i < n; i++) {
            const proof = await store.inclusionProof(i, n);
            check.equal(verifyInclusion(i, n, hashes[i], proof, root), true, `leaf ${i} of ${n}`);
          }
          // Byte-for-byte against the in-memory functions, at sampled earlier sizes.
          for (const s of [1, n - 1, Math.floor(n / 2), 64, 65]) {
            const prefix = hashes.slice(0, s);
            check.equal(hex(await store.root(s)), hex(rootFromLeafHashes(prefix)), `root(${s})`);
            for (const i of [0, s - 1, Math.floor(s / 3)]) {
              const want = hexes(inclusionProofFromLeafHashes(i, prefix));
              check.equal(
                hexes(await store.inclusionProof(i, s)),
                want,
                `inclusionProof(${i}, ${s})`,
              );
            }
            for (const m of [1, s - 1, Math.floor(s / 3) + 1]) {
              const want = hexes(consistencyProofFromLeafHashes(m, prefix));
              check.equal(
                hexes(await store.consistencyProof(m, s)),
                want,
                `consistencyProof(${m}, ${s})`,
              );
            }
          }
          check.none();
        },
      ),
      { numRuns: 3 },
    );
  });

  it("100,000 leaves appended in batches: sampled proofs equal the in-memory ones", async () => {
    const N = 100_000;
    const hashes = makeLeaves(N).map(hashLeaf);
    const name = `big-${sublevels++}`;
    // No fsync per batch here: durability is not under test, and disks are shared.
    let store = await MerkleTreeStore.open(db.sublevel(name) as unknown as MerkleStoreDb, { sync: false });
    for (const batch of batchesOf(hashes, [997, 4096, 1, 2500, 333])) await store.append(batch);
    expect(store.size).to.equal(N);

    const root = rootFromLeafHashes(hashes);
    expect(hex(await store.root())).to.equal(hex(root));
    store = await MerkleTreeStore.open(db.sublevel(name) as unknown as MerkleStoreDb); // and from disk
    expect(hex(await store.root())).to.equal(hex(root));

    const random = fc.sample(fc.nat({ max: N - 1 }), { numRuns: 400, seed: 42 });
    const check = new Mismatches();
    for (const i of random) {
      check.equal(
        verifyInclusion(i, N, hashes[i], await store.inclusionProof(i), root),
        true,
        `leaf ${i}`,
      );
    }
    check.none();
    for (const s of [3, 65_537, 99_999]) {
      const prefix = hashes.slice(0, s);
      const prefixRoot = rootFromLeafHashes(prefix);
      expect(hex(await store.root(s))).to.equal(hex(prefixRoot));
      const i = random[s % random.length] % s;
      expect(hexes(await store.inclusionProof(i, s))).to.deep.equal(
        hexes(inclusionProofFromLeafHashes(i, prefix)),
      );
      const m = 1 + (random[(s + 1) % random.length] % s);
      expect(hexes(await store.consistencyProof(m, s))).to.deep.equal(
        hexes(consistencyProofFromLeafHashes(m, prefix)),
      );
      expect(verifyConsistency(s, N, prefixRoot, root, await store.consistencyProof(s))).to.equal(
        true,
      );
    }
  });
});
