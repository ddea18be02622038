/**
 * The LevelDB-backed tree, on a real LevelDB in a temporary directory: the same roots
 * and proofs as the RFC-text reference for every earlier size, across uneven batches
 * and reopening; what it asks of LevelDB; concurrent and failed appends; bad input.
 * Larger trees: tree-store-large.test.ts.
 */
import { expect } from "chai";
import { Level } from "level";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  MerkleError,
  MerkleTreeStore,
  hashLeaf,
  rootFromLeafHashes,
  rootHash,
  type MerkleErrorCode,
  type MerkleStoreDb,
  type PutOperation,
} from "../../server/merkle";
import { Mismatches, batchesOf } from "./helpers";
import { hex, hexes, makeLeaves, mth, path as refPath, proof as refProof } from "./reference";

/** Delegates to a real sublevel, recording what the store asks of it. */
class RecordingDb implements MerkleStoreDb {
  gets = 0;
  getManyKeys: number[] = [];
  batches: { operations: PutOperation[]; sync: boolean | undefined }[] = [];
  failNextBatch = false;

  constructor(private readonly inner: MerkleStoreDb) {}

  get(key: Uint8Array, options: Parameters<MerkleStoreDb["get"]>[1]) {
    this.gets++;
    return this.inner.get(key, options);
  }

  getMany(keys: Uint8Array[], options: Parameters<MerkleStoreDb["getMany"]>[1]) {
    this.getManyKeys.push(keys.length);
    return this.inner.getMany(keys, options);
  }

  batch(operations: PutOperation[], options: Parameters<MerkleStoreDb["batch"]>[1]) {
    this.batches.push({ operations, sync: options.sync });
    if (this.failNextBatch) {
      this.failNextBatch = false;
      return Promise.reject(new Error("simulated write failure"));
    }
    return this.inner.batch(operations, options);
  }

  reset(): void {
    this.gets = 0;
    this.getManyKeys = [];
    this.batches = [];
  }
}

async function rejection(promise: Promise<unknown>): Promise<MerkleError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(MerkleError);
    return err as MerkleError;
  }
  expect.fail("expected a MerkleError rejection");
}

async function expectCode(promise: Promise<unknown>, code: MerkleErrorCode): Promise<void> {
  expect((await rejection(promise)).code).to.equal(code);
}

describe("merkle: MerkleTreeStore on LevelDB", function () {
  this.timeout(60_000);

  let dir: string;
  let db: Level;
  let sublevels = 0;
  /** A fresh, empty sublevel of the shared database. */
  // A sublevel with the database's utf8 defaults: the store must pass its byte encodings itself.
  const treeDb = (name: string) => db.sublevel(name) as unknown as MerkleStoreDb;
  const freshSublevel = (): MerkleStoreDb => treeDb(`tree-${sublevels++}`);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "merkle-store-test-"));
    db = new Level(dir);
    await db.open();
  });

  after(async () => {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("every size 0..64 against the reference", () => {
    const MAX = 64;
    const leaves = makeLeaves(MAX, 7);
    const leafHashes = leaves.map(hashLeaf);
    // Reference answers, from the RFC text: roots[s], paths[s][i], proofs[s][m].
    const roots = Array.from({ length: MAX + 1 }, (_, s) => hex(mth(leaves.slice(0, s))));
    const paths = roots.map((_, s) =>
      Array.from({ length: s }, (_, i) => hexes(refPath(i, leaves.slice(0, s)))),
    );
    const proofs = roots.map((_, s) =>
      Array.from({ length: s + 1 }, (_, m) =>
        m === 0 ? [] : hexes(refProof(m, leaves.slice(0, s))),
      ),
    );

    async function expectEverySize(store: MerkleTreeStore, upTo: number): Promise<void> {
      expect(store.size).to.equal(upTo);
      const check = new Mismatches();
      for (let s = 0; s <= upTo; s++) {
        check.equal(hex(await store.root(s)), roots[s], `root(${s})`);
        for (let i = 0; i < s; i++) {
          check.equal(
            hexes(await store.inclusionProof(i, s)),
            paths[s][i],
            `inclusionProof(${i}, ${s})`,
          );
        }
        for (let m = 0; m <= s; m++) {
          check.equal(
            hexes(await store.consistencyProof(m, s)),
            proofs[s][m],
            `consistencyProof(${m}, ${s})`,
          );
        }
      }
      for (let i = 0; i < upTo; i++)
        check.equal(hex(await store.leafHash(i)), hex(leafHashes[i]), `leafHash(${i})`);
      check.none();
    }

    it("appended in uneven batches, then again after closing and reopening the database", async () => {
      const name = `uneven-${sublevels++}`;
      let store = await MerkleTreeStore.open(treeDb(name));
      expect(store.size).to.equal(0);
      expect(hex(await store.root())).to.equal(roots[0]);
      let size = 0;
      for (const batch of batchesOf(leafHashes, [1, 2, 3, 5, 8, 13, 21, 0, 11])) {
        await store.append(batch);
        size += batch.length;
        expect(store.size).to.equal(size);
        expect(hex(await store.root()), `root after ${size}`).to.equal(roots[size]);
      }
      await expectEverySize(store, MAX);

      await db.close();
      db = new Level(dir);
      await db.open();
      store = await MerkleTreeStore.open(treeDb(name));
      await expectEverySize(store, MAX);
    });

    it("appended one leaf at a time, checking every earlier size after each append", async () => {
      const store = await MerkleTreeStore.open(freshSublevel());
      for (let n = 1; n <= 24; n++) {
        await store.append([leafHashes[n - 1]]);
        await expectEverySize(store, n);
      }
    });

    it("reopened at every size, then appended to, continues the same tree", async () => {
      const name = `reopen-${sublevels++}`;
      for (let n = 0; n < MAX; n += 3) {
        // A new store object each time: the frontier is rebuilt from disk.
        const store = await MerkleTreeStore.open(treeDb(name));
        expect(store.size).to.equal(n);
        expect(hex(await store.root())).to.equal(roots[n]);
        await store.append(leafHashes.slice(n, Math.min(n + 3, MAX)));
      }
      await expectEverySize(await MerkleTreeStore.open(treeDb(name)), MAX);
    });
  });

  describe("storage behaviour", () => {
    const hashes = makeLeaves(1000).map(hashLeaf);

    it("an append is one batch, ending with the new size, that reads nothing back", async () => {
      const recorder = new RecordingDb(freshSublevel());
      const store = await MerkleTreeStore.open(recorder);
      await store.append(hashes.slice(0, 600));
      recorder.reset();
      await store.append(hashes.slice(600, 1000));
      expect(recorder.gets).to.equal(0);
      expect(recorder.getManyKeys).to.deep.equal([]);
      expect(recorder.batches).to.have.length(1);
      const { operations, sync } = recorder.batches[0];
      expect(sync).to.equal(true);
      // 400 leaves, every perfect subtree they complete, and the size.
      const last = operations[operations.length - 1];
      expect(hex(last.key)).to.equal("73");
      expect(hex(last.value)).to.equal("00000000000003e8");
      const nodes = operations.slice(0, -1);
      expect(nodes.filter((op) => op.key[1] === 0)).to.have.length(400);
      // Subtrees completed between sizes 600 and 1000: Σ_l (⌊1000/2^l⌋ − ⌊600/2^l⌋).
      let completed = 0;
      for (let l = 0; 2 ** l <= 1000; l++)
        completed += Math.floor(1000 / 2 ** l) - Math.floor(600 / 2 ** l);
      expect(nodes).to.have.length(completed);
    });

    it("the sync option is passed to LevelDB (default true)", async () => {
      const recorder = new RecordingDb(freshSublevel());
      const store = await MerkleTreeStore.open(recorder, { sync: false });
      await store.append(hashes.slice(0, 3));
      expect(recorder.batches[0].sync).to.equal(false);
    });

    it("open, roots and proofs each read O(log n) keys with a single getMany", async () => {
      const name = `reads-${sublevels++}`;
      const filled = await MerkleTreeStore.open(treeDb(name));
      await filled.append(hashes);
      const recorder = new RecordingDb(treeDb(name));
      const store = await MerkleTreeStore.open(recorder);
      expect(recorder.gets).to.equal(1);
      expect(recorder.getManyKeys).to.deep.equal([6]); // 1000 = 0b1111101000: six perfect subtrees

      for (const [call, size] of [
        [() => store.inclusionProof(0), 1000],
        [() => store.inclusionProof(999), 1000],
        [() => store.inclusionProof(511, 777), 777],
        [() => store.consistencyProof(1, 1000), 1000],
        [() => store.consistencyProof(333, 999), 999],
        [() => store.consistencyProof(512, 513), 513],
        [() => store.root(999), 999],
      ] as const) {
        recorder.reset();
        await call();
        expect(recorder.getManyKeys).to.have.length(1);
        expect(recorder.getManyKeys[0]).to.be.at.most(2 * Math.ceil(Math.log2(size)) + 2);
        expect(recorder.gets).to.equal(0);
      }
      recorder.reset();
      await store.root(); // the current root comes from the in-memory frontier
      expect(recorder.getManyKeys).to.deep.equal([]);
    });

    it("concurrent appends run one at a time, in call order", async () => {
      const store = await MerkleTreeStore.open(freshSublevel());
      await Promise.all([
        store.append(hashes.slice(0, 5)),
        store.append(hashes.slice(5, 6)),
        store.append(hashes.slice(6, 37)),
        store.append(hashes.slice(37, 40)),
      ]);
      expect(store.size).to.equal(40);
      expect(hex(await store.root())).to.equal(hex(rootFromLeafHashes(hashes.slice(0, 40))));
      const check = new Mismatches();
      for (let i = 0; i < 40; i++)
        check.equal(hex(await store.leafHash(i)), hex(hashes[i]), `leafHash(${i})`);
      check.none();
    });

    it("a failed write leaves the tree at the old size, and later appends carry on", async () => {
      const recorder = new RecordingDb(freshSublevel());
      const store = await MerkleTreeStore.open(recorder);
      await store.append(hashes.slice(0, 10));
      recorder.failNextBatch = true;
      const failed = store.append(hashes.slice(10, 20));
      const next = store.append(hashes.slice(10, 13)); // queued behind the failing one
      let error: unknown;
      await failed.catch((err: unknown) => (error = err));
      expect((error as Error).message).to.equal("simulated write failure");
      await next;
      expect(store.size).to.equal(13);
      expect(hex(await store.root())).to.equal(hex(rootFromLeafHashes(hashes.slice(0, 13))));
      const reopened = await MerkleTreeStore.open(recorder);
      expect(reopened.size).to.equal(13);
      expect(hex(await reopened.root())).to.equal(hex(rootFromLeafHashes(hashes.slice(0, 13))));
    });

    it("keeps its own copies of appended hashes", async () => {
      const store = await MerkleTreeStore.open(freshSublevel());
      const mine = [Buffer.from(hashes[0]), Buffer.from(hashes[1])];
      const pending = store.append(mine);
      mine[0].fill(0);
      mine[1].fill(0);
      await pending;
      expect(hex(await store.root())).to.equal(hex(rootFromLeafHashes(hashes.slice(0, 2))));
      (await store.root())[0] ^= 1; // nor does a caller reach into it through a result
      expect(hex(await store.root())).to.equal(hex(rootFromLeafHashes(hashes.slice(0, 2))));
    });

    it("rejects bad input with MerkleError codes, writing nothing", async () => {
      const recorder = new RecordingDb(freshSublevel());
      const store = await MerkleTreeStore.open(recorder);
      await store.append(hashes.slice(0, 5));
      recorder.reset();
      await expectCode(store.append([hashes[5], new Uint8Array(31)]), "INVALID_HASH_LENGTH");
      await expectCode(
        store.append(["ab".repeat(32) as unknown as Uint8Array]),
        "INVALID_HASH_LENGTH",
      );
      expect(recorder.batches).to.deep.equal([]);
      expect(store.size).to.equal(5);

      await expectCode(store.root(6), "TREE_TOO_SMALL");
      await expectCode(store.root(-1), "INVALID_TREE_SIZE");
      await expectCode(store.leafHash(5), "INDEX_OUT_OF_RANGE");
      await expectCode(store.leafHash(0.5), "INVALID_INDEX");
      await expectCode(store.inclusionProof(3, 3), "INDEX_OUT_OF_RANGE");
      await expectCode(store.inclusionProof(0, 6), "TREE_TOO_SMALL");
      await expectCode(store.consistencyProof(4, 3), "TREE_TOO_SMALL");
      await expectCode(store.consistencyProof(1, 6), "TREE_TOO_SMALL");
      await expectCode(store.consistencyProof(NaN), "INVALID_TREE_SIZE");
      expect(await store.consistencyProof(0)).to.deep.equal([]);
      expect(await store.consistencyProof(5)).to.deep.equal([]);
    });

    it("reports a damaged store as CORRUPT_STORE", async () => {
      const name = `corrupt-${sublevels++}`;
      const sub = db.sublevel<Uint8Array, Uint8Array>(name, {
        keyEncoding: "view",
        valueEncoding: "view",
      });
      const store = await MerkleTreeStore.open(sub);
      await store.append(hashes.slice(0, 6));
      // Size 6 = subtrees (2, 0) and (1, 2); drop (1, 2).
      await sub.del(Uint8Array.of(0x6e, 1, 0, 0, 0, 0, 0, 0, 0, 2));
      await expectCode(MerkleTreeStore.open(sub), "CORRUPT_STORE");
      await sub.put(Uint8Array.of(0x73), Uint8Array.of(1, 2, 3));
      await expectCode(MerkleTreeStore.open(sub), "CORRUPT_STORE");
    });
  });

  it("rootHash over raw leaves equals the store fed with hashLeaf", async () => {
    const leaves = makeLeaves(300);
    const store = await MerkleTreeStore.open(freshSublevel());
    await store.append(leaves.map(hashLeaf));
    expect(hex(await store.root())).to.equal(hex(rootHash(leaves)));
  });
});
