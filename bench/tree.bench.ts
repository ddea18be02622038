/**
 * Tree: the RFC 9162 root over a million leaves against the bare SHA-256 calls it needs
 * and against merkletreejs; the LevelDB-backed incremental tree against the same floor;
 * inclusion and consistency proof latency from the stored tree.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Level } from "level";
import { MerkleTree } from "merkletreejs";
import { MerkleTreeStore, hashLeaf, rootHash, type MerkleStoreDb, type PutOperation } from "../server/merkle";
import { SYNCED_BATCH } from "../server/store/database";
import { envelopeLeaves, prng } from "./events";
import { formatCount, gc, median, ms, paired, percentile, progress, tempDir, type BenchOptions } from "./common";

const VIEW = { keyEncoding: "view", valueEncoding: "view" } as const;

const SUITE = "tree";
/** Leaf hashes per append: the gateway's tree folder appends in chunks of this size. */
const APPEND_CHUNK = 20_000;

const LEAF_PREFIX = Uint8Array.of(0x00);

/**
 * The floor: exactly the SHA-256 calls an RFC 9162 tree of n leaves needs — n leaf hashes
 * over 0x00 ‖ leaf and n − 1 interior hashes over 65 bytes — with nothing else: no tree
 * walk, no frontier, the interior input one reused buffer.
 */
function bareSha256(leaves: readonly Uint8Array[]): Buffer {
  let digest = Buffer.alloc(32);
  for (let i = 0; i < leaves.length; i++) digest = createHash("sha256").update(LEAF_PREFIX).update(leaves[i]!).digest();
  const node = Buffer.alloc(65);
  node[0] = 0x01;
  for (let i = 1; i < leaves.length; i++) {
    digest.copy(node, 1); // a dependency chain, so no call can be skipped
    digest = createHash("sha256").update(node).digest();
  }
  return digest;
}

function merkletreejsVersion(): string {
  let dir = path.dirname(require.resolve("merkletreejs"));
  while (!existsSync(path.join(dir, "package.json")) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
}

function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

/** A fresh LevelDB with the tree in a sublevel, as the gateway opens it. */
async function openTreeDb(dir: string): Promise<{ db: Level<string, string>; sublevel: MerkleStoreDb }> {
  const db = new Level<string, string>(dir);
  await db.open();
  const sublevel = db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as unknown as MerkleStoreDb;
  return { db, sublevel };
}

/**
 * The LevelDB append, chunk by chunk, interleaved with its two floors on the same chunk, so
 * that all three see the same load on a shared machine:
 * - the bare SHA-256 calls the chunk needs (as in bareSha256);
 * - those calls plus the same number of records (one per leaf hash, one per interior node,
 *   one size record) written with one plain synced level batch into a second database;
 * - hashLeaf and MerkleTreeStore.append, as the gateway's tree folder does it.
 * Returns the per-method totals, the per-chunk ratios and the open store.
 */
async function interleavedAppend(leaves: readonly Uint8Array[], storeDir: string, plainDir: string) {
  const ours = await openTreeDb(storeDir);
  const plain = await openTreeDb(plainDir);
  const store = await MerkleTreeStore.open(ours.sublevel);
  const totals = { storeMs: 0, shaMs: 0, plainMs: 0 };
  const ratios: { vsSha: number; vsPlain: number }[] = [];
  const node = Buffer.alloc(65);
  node[0] = 0x01;
  let digest = Buffer.alloc(32);
  try {
    for (let from = 0; from < leaves.length; from += APPEND_CHUNK) {
      const to = Math.min(leaves.length, from + APPEND_CHUNK);
      // 1. bare SHA-256
      let started = performance.now();
      for (let i = from; i < to; i++) {
        digest = createHash("sha256").update(LEAF_PREFIX).update(leaves[i]!).digest();
        if (i > 0) {
          digest.copy(node, 1);
          digest = createHash("sha256").update(node).digest();
        }
      }
      const shaMs = performance.now() - started;
      // 2. bare SHA-256 + plain synced batch of as many records
      started = performance.now();
      const ops: PutOperation[] = [];
      for (let i = from; i < to; i++) {
        const key = Buffer.alloc(10);
        key[0] = 0x6e;
        key.writeUInt32BE(i, 6);
        ops.push({ type: "put", key, value: createHash("sha256").update(LEAF_PREFIX).update(leaves[i]!).digest(), ...VIEW });
        if (i > 0) {
          digest.copy(node, 1);
          digest = createHash("sha256").update(node).digest();
          const inner = Buffer.alloc(10);
          inner[0] = 0x6e;
          inner[1] = 1 + (i % 20);
          inner.writeUInt32BE(i, 6);
          ops.push({ type: "put", key: inner, value: digest, ...VIEW });
        }
      }
      ops.push({ type: "put", key: Uint8Array.of(0x73), value: Buffer.alloc(8), ...VIEW });
      await plain.sublevel.batch(ops, SYNCED_BATCH);
      const plainMs = performance.now() - started;
      // 3. the store
      started = performance.now();
      const hashes: Uint8Array[] = [];
      for (let i = from; i < to; i++) hashes.push(hashLeaf(leaves[i]!));
      await store.append(hashes);
      const storeMs = performance.now() - started;

      totals.storeMs += storeMs;
      totals.shaMs += shaMs;
      totals.plainMs += plainMs;
      ratios.push({ vsSha: storeMs / shaMs, vsPlain: storeMs / plainMs });
      if (to % (10 * APPEND_CHUNK) === 0) progress(`tree: LevelDB append ${formatCount(to)} / ${formatCount(leaves.length)} leaves`);
    }
  } finally {
    await plain.db.close();
  }
  return { totals, ratios, db: ours.db, sublevel: ours.sublevel, store };
}

export async function treeBench({ quick, report }: BenchOptions): Promise<void> {
  const n = quick ? 100_000 : 1_000_000;
  const rounds = 3;
  const label = `${formatCount(n)} leaves`;

  progress(`tree: building ${label} (canonical envelopes, ~640 bytes each)`);
  let leaves: Buffer[] | undefined = envelopeLeaves(n);

  // --- rootHash vs the bare SHA-256 calls ----------------------------------------------
  let ourRoot: Uint8Array | undefined;
  const vsBare = await paired(rounds, () => (ourRoot = rootHash(leaves!)), () => bareSha256(leaves!), "tree: rootHash vs bare SHA-256");
  report.add({
    suite: SUITE,
    metric: `rootHash, ${label}`,
    value: vsBare.oursMs / 1000,
    unit: "s",
    baseline: `${ms(vsBare.baselineMs)} bare SHA-256 (${formatCount(2 * n - 1)} calls)`,
    ratio: vsBare.ratio,
    floor: "≤ 2x",
    ok: vsBare.ratio <= 2,
  });

  // --- rootHash vs merkletreejs ------------------------------------------------------------
  // merkletreejs builds a different tree (no 0x00/0x01 domain separation, odd nodes
  // promoted), so the roots differ; the work (2n − 1 SHA-256 calls) is the same.
  const vsLib = await paired(
    2,
    () => rootHash(leaves!),
    () => new MerkleTree(leaves!, sha256, { hashLeaves: true }).getRoot(),
    "tree: rootHash vs merkletreejs",
  );
  report.add({
    suite: SUITE,
    metric: `rootHash vs merkletreejs, ${label}`,
    value: vsLib.oursMs / 1000,
    unit: "s",
    baseline: `${ms(vsLib.baselineMs)} merkletreejs ${merkletreejsVersion()}`,
    ratio: vsLib.ratio,
  });

  // --- LevelDB incremental append ----------------------------------------------------------
  const storeDir = tempDir("tree-store");
  const plainDir = tempDir("tree-plain");
  gc();
  const appended = await interleavedAppend(leaves, storeDir.dir, plainDir.dir);
  await plainDir.remove();
  const { totals, ratios } = appended;
  // Ratio of the totals; the median of the per-chunk ratios (less sensitive to a noisy chunk) is in the note.
  const vsSha = totals.storeMs / totals.shaMs;
  report.add({
    suite: SUITE,
    metric: `LevelDB incremental append, ${label} (hashLeaf + append in chunks of ${formatCount(APPEND_CHUNK)}, synced)`,
    value: totals.storeMs / 1000,
    unit: "s",
    baseline: `${ms(totals.shaMs)} bare SHA-256, interleaved chunk by chunk`,
    ratio: vsSha,
    // The floor is set at a million leaves. A quick run's 100,000 go mostly into a fresh
    // database, where LevelDB pays about twice per record what it pays in steady state.
    floor: quick ? "≤ 6x (judged in full runs)" : "≤ 6x",
    ok: quick ? undefined : vsSha <= 6,
    note: `median of per-chunk ratios ${median(ratios.map((r) => r.vsSha)).toFixed(2)}x`,
  });
  report.add({
    suite: SUITE,
    metric: `LevelDB incremental append, ${label}, vs plain writes`,
    value: totals.storeMs / 1000,
    unit: "s",
    baseline: `${ms(totals.plainMs)} bare SHA-256 + the same ${formatCount(2 * n)} records in plain synced level batches`,
    ratio: totals.storeMs / totals.plainMs,
    note: `median of per-chunk ratios ${median(ratios.map((r) => r.vsPlain)).toFixed(2)}x`,
  });

  // The stored tree must agree with the in-memory root.
  const { db, sublevel, store } = appended;
  try {
    const storedRoot = await store.root();
    if (!ourRoot || Buffer.compare(Buffer.from(storedRoot), Buffer.from(ourRoot)) !== 0) {
      throw new Error("the stored tree's root differs from rootHash over the same leaves");
    }
    leaves = undefined;
    gc();

    // --- Proof latency ---------------------------------------------------------------------
    const proofs = quick ? 1_000 : 5_000;
    const random = prng(42);
    const randomInt = (below: number) => Math.floor(random() * below);
    const bytes = { keyEncoding: "view", valueEncoding: "view" } as const;
    const leafKey = (index: number) => {
      const key = Buffer.alloc(10);
      key[0] = 0x6e;
      key.writeUInt32BE(index, 6);
      return key;
    };
    const inclusion: number[] = [];
    const consistency: number[] = [];
    const reads: number[] = [];
    const proofLengths: number[] = [];
    // Warm up: the first reads of a fresh database open its table files.
    for (let i = 0; i < 200; i++) await store.inclusionProof(randomInt(n), n);
    progress(`tree: ${formatCount(proofs)} inclusion and consistency proofs at ${label}`);
    for (let i = 0; i < proofs; i++) {
      // Receipts prove against an anchored checkpoint: any size up to the tree's.
      const size = n - randomInt(n / 2);
      const index = randomInt(size);
      let started = performance.now();
      const proof = await store.inclusionProof(index, size);
      inclusion.push(performance.now() - started);
      proofLengths.push(proof.length);

      // The I/O floor: one getMany of as many random stored hashes as a proof has.
      const keys = Array.from({ length: proof.length }, () => leafKey(randomInt(n)));
      started = performance.now();
      await sublevel.getMany(keys, bytes);
      reads.push(performance.now() - started);

      const newSize = n - randomInt(n / 2);
      const oldSize = 1 + randomInt(newSize - 1);
      started = performance.now();
      await store.consistencyProof(oldSize, newSize);
      consistency.push(performance.now() - started);
    }
    const readMedian = median(reads);
    const floorText = "median < 1 ms";
    for (const [metric, samplesMs] of [
      ["inclusion proof", inclusion],
      ["consistency proof", consistency],
    ] as const) {
      report.add({
        suite: SUITE,
        metric: `${metric} from LevelDB at ${label}, median (p99 ${percentile(samplesMs, 99).toFixed(3)} ms)`,
        value: median(samplesMs),
        unit: "ms",
        baseline: `${readMedian.toFixed(3)} ms one getMany of ${Math.round(median(proofLengths))} random hashes`,
        ratio: median(samplesMs) / readMedian,
        floor: floorText,
        ok: median(samplesMs) < 1,
      });
    }
  } finally {
    await db.close();
  }
}
