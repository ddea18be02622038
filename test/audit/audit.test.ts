/**
 * The full audit on a real ledger (LevelDB in a temp dir, the gateway's log, tree
 * and folder, checkpoints anchored in ProvenanceLedger on the Hardhat network),
 * tampered with directly in LevelDB, one way per test: the audit names the leaf,
 * the node, or — when the tree was rewritten to match — the checkpoint and the
 * leaf range that only the chain can still show.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { EMPTY_ROOT, MerkleTreeStore } from "../../server/merkle";
import { toHex } from "../../server/hex";
import { indexKey } from "../../server/store/database";
import { CheckpointStore } from "../../server/anchor/checkpoint-store";
import { AuditError, runAudit } from "../../server/audit/audit";
import { LedgerAuditor, inspectRecord, nodesCompletedBy } from "../../server/audit/auditor";
import { contractAuditChain, levelAuditTree, type AuditChain } from "../../server/audit/sources";
import type { AuditProgress, Divergence } from "../../server/audit/report";
import {
  LOG_ID,
  auditDir,
  buildLedger,
  copyDataDir,
  makeTempDir,
  readRecord,
  removeDir,
  rewriteTree,
  treeNodeKey,
  treeSublevel,
  withDb,
  writeRecord,
} from "./support/ledger-fixture";

const EVENTS = 300;
const CHECKPOINTS = [37, 64, 100, 173, 256, 300];

function kinds(divergences: Divergence[]): string[] {
  return divergences.map((d) => d.kind);
}

describe("audit: the full audit", function () {
  let base: string;
  let chain: AuditChain;
  let roots: { treeSize: number; rootHash: string }[];
  const dirs: string[] = [];

  /** A fresh copy of the anchored ledger, to tamper with. */
  function copy(): string {
    const dir = copyDataDir(base);
    dirs.push(dir);
    return dir;
  }

  before(async function () {
    const [admin] = await ethers.getSigners();
    const ledger = await ethers.deployContract("ProvenanceLedger", [admin!.address]);
    await (await ledger.getFunction("registerLog")(LOG_ID, admin!.address, "audit test log", "330102000000")).wait();
    base = makeTempDir();
    ({ checkpoints: roots } = await buildLedger(base, {
      events: EVENTS,
      checkpointSizes: CHECKPOINTS,
      anchor: async (size, root, proof) => {
        await (await ledger.getFunction("anchor")(LOG_ID, size, root, proof)).wait();
      },
    }));
    chain = contractAuditChain(ethers.provider, await ledger.getAddress(), LOG_ID);
  });

  after(function () {
    removeDir(base);
    for (const dir of dirs) removeDir(dir);
  });

  describe("when nothing was touched", function () {
    it("recomputes every checkpoint, agrees with the chain, and reports ok", async function () {
      const report = await auditDir(copy(), { chain });
      expect(report.divergences).to.deep.equal([]);
      expect(report).to.include({ ok: true, treeSize: EVENTS, eventsChecked: EVENTS, unfoldedEvents: 0, checkpointsChecked: CHECKPOINTS.length, chainChecked: true, divergenceCount: 0, logId: LOG_ID });
      expect(report.rootHash).to.equal(roots[roots.length - 1]!.rootHash);
      expect(report.firstDivergence).to.equal(undefined);
      expect(report.eventsPerSecond).to.be.a("number");
    });

    it("gives the same verdict whatever the chunking of reads", async function () {
      for (const chunkSize of [1, 7, 64]) {
        const report = await auditDir(base, { chain, chunkSize });
        expect(report, `chunk size ${chunkSize}`).to.include({ ok: true, eventsChecked: EVENTS, checkpointsChecked: CHECKPOINTS.length, chainChecked: true });
      }
    });

    it("reads the same nodes and roots from disk as MerkleTreeStore serves (the key layout is repeated in sources.ts)", async function () {
      await withDb(base, async (db) => {
        const store = await MerkleTreeStore.open(treeSublevel(db));
        const disk = await levelAuditTree(db);
        expect(disk.size).to.equal(store.size);
        const leaves = await disk.nodes([0, 1, 150, 299].map((index) => ({ level: 0, index })));
        for (const [i, index] of [0, 1, 150, 299].entries()) expect(toHex(leaves[i]!)).to.equal(toHex(await store.leafHash(index)));
        for (const size of [1, 2, 3, 37, 100, 255, 256, 257, 300]) expect(toHex(await disk.root(size))).to.equal(toHex(await store.root(size)));
      });
    });

    it("checks records beyond the tree (appended, not yet folded) as records, without failing the audit", async function () {
      const dir = makeTempDir();
      dirs.push(dir);
      await buildLedger(dir, { events: 50, checkpointSizes: [20, 50], unfolded: 7 });
      const report = await auditDir(dir);
      expect(report).to.include({ ok: true, treeSize: 50, eventsChecked: 57, unfoldedEvents: 7, checkpointsChecked: 2, chainChecked: false });
    });
  });

  describe("when the chain is ahead of the checkpoint records", function () {
    it("checks the chain's latest checkpoint too (a running gateway may not have recorded it yet)", async function () {
      const dir = copy();
      await withDb(dir, async (db) => new CheckpointStore(db).forgetAbove(256));
      const report = await auditDir(dir, { chain });
      expect(report).to.include({ ok: true, checkpointsChecked: CHECKPOINTS.length, chainChecked: true });
    });
  });

  describe("when the chain lost confirmed checkpoints (receipts were served from them)", function () {
    /** The chain as it is after losing every checkpoint above 100 leaves. */
    function chainUpTo100(): AuditChain {
      const zero = "0x" + "00".repeat(32);
      return {
        rootAt: async (size) => (size > 100 ? zero : chain.rootAt(size)),
        latest: async () => ({ treeSize: 100, rootHash: roots.find((r) => r.treeSize === 100)!.rootHash }),
      };
    }

    it("reports each one as checkpoint-not-anchored, naming the receipts that no longer verify", async function () {
      const report = await auditDir(copy(), { chain: chainUpTo100() });
      expect(report.ok).to.equal(false);
      expect(report.divergences.map((d) => [d.kind, d.treeSize])).to.deep.equal([
        ["checkpoint-not-anchored", 173],
        ["checkpoint-not-anchored", 256],
        ["checkpoint-not-anchored", 300],
      ]);
      expect(report.firstDivergence).to.include({ treeSize: 173, expected: roots.find((r) => r.treeSize === 173)!.rootHash });
      expect(report.firstDivergence!.message).to.include("receipts").and.include("holds no checkpoint of 173 leaves");
    });

    it("says so when the gateway has marked them lost and is anchoring them again", async function () {
      const dir = copy();
      await withDb(dir, async (db) => {
        const store = new CheckpointStore(db);
        await store.markLost(await store.above(100), 100, new Date().toISOString());
      });
      const report = await auditDir(dir, { chain: chainUpTo100() });
      expect(kinds(report.divergences)).to.deep.equal(["checkpoint-not-anchored", "checkpoint-not-anchored", "checkpoint-not-anchored"]);
      expect(report.firstDivergence!.message).to.include("anchoring it again");
    });
  });

  describe("when a record's bytes were altered", function () {
    it("names the altered leaf first, then every checkpoint that no longer matches", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => {
        const record = JSON.parse(await readRecord(records, 123));
        record.event.purpose = "something else entirely";
        await writeRecord(records, 123, JSON.stringify(record));
      });
      const report = await auditDir(dir, { chain });
      expect(report.ok).to.equal(false);
      expect(report.firstDivergence).to.include({ kind: "leaf-altered", index: 123 });
      expect(report.firstDivergence!.message).to.match(/^leaf 123 was altered/);
      expect(report.firstDivergence!.expected).to.match(/^0x[0-9a-f]{64}$/);
      const checkpoints = report.divergences.filter((d) => d.kind === "checkpoint-mismatch");
      expect(checkpoints.map((d) => d.treeSize)).to.deep.equal([173, 256, 300]);
      expect(checkpoints[0]!.leafRange).to.deep.equal({ first: 100, last: 172 });
      expect(checkpoints[0]!.message).to.include("checkpoint 173 no longer matches");
      expect(checkpoints[0]!.expected).to.equal(roots.find((r) => r.treeSize === 173)!.rootHash);
      // The stored tree itself is intact: no node is blamed.
      expect(report.divergences.filter((d) => d.kind === "tree-node-mismatch" && d.node)).to.deep.equal([]);
    });

    it("says a record is corrupt when it is no longer JSON", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => writeRecord(records, 5, '{"v":1,"log":"0xab'));
      const report = await auditDir(dir, { chain });
      expect(report.firstDivergence).to.include({ kind: "record-corrupt", index: 5 });
      expect(report.firstDivergence!.message).to.match(/^record 5 is corrupt: it is not JSON/);
      expect(report.divergences.filter((d) => d.kind === "checkpoint-mismatch").map((d) => d.treeSize)).to.deep.equal(CHECKPOINTS);
    });

    it("says a record was moved in from another log when its envelope names another log", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => {
        const record = JSON.parse(await readRecord(records, 3));
        record.log = "0x" + "cd".repeat(32);
        await writeRecord(records, 3, JSON.stringify(record));
      });
      const report = await auditDir(dir);
      expect(report.firstDivergence).to.include({ kind: "leaf-reordered", index: 3 });
      expect(report.firstDivergence!.message).to.include("another log");
    });
  });

  describe("when records were removed", function () {
    it("names the removed leaf, and a removed run as one range", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => {
        await records.del(indexKey(77));
        for (let i = 200; i <= 204; i++) await records.del(indexKey(i));
      });
      const report = await auditDir(dir, { chain });
      expect(report.firstDivergence).to.include({ kind: "leaf-removed", index: 77 });
      expect(report.firstDivergence!.leafRange).to.deep.equal({ first: 77, last: 77 });
      const removed = report.divergences.filter((d) => d.kind === "leaf-removed");
      expect(removed.map((d) => d.leafRange)).to.deep.equal([{ first: 77, last: 77 }, { first: 200, last: 204 }]);
      expect(removed[1]!.message).to.equal("leaves 200..204 were removed: the log has no records for them");
      const first = report.divergences.find((d) => d.kind === "checkpoint-mismatch")!;
      expect(first).to.include({ treeSize: 100 });
      expect(first.message).to.include("leaf 77 was removed");
      expect(report.eventsChecked).to.equal(EVENTS - 6);
      expect(report.rootHash).to.equal(undefined);
    });

    it("names the last leaves when the tail of the log was cut off", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => {
        await records.del(indexKey(298));
        await records.del(indexKey(299));
      });
      const report = await auditDir(dir, { chain });
      expect(report.firstDivergence).to.include({ kind: "leaf-removed", index: 298 });
      expect(report.firstDivergence!.leafRange).to.deep.equal({ first: 298, last: 299 });
      expect(report.divergences.find((d) => d.kind === "checkpoint-mismatch")).to.include({ treeSize: 300 });
    });

    it("shows, from the chain alone, that the log, tree and checkpoint records were all truncated", async function () {
      const dir = copy();
      await withDb(dir, async (db, records) => {
        for (let i = 256; i < EVENTS; i++) await records.del(indexKey(i));
        await rewriteTree({ db, records }, { treeSize: 256 });
        await new CheckpointStore(db).forgetAbove(256);
      });
      const local = await auditDir(dir);
      expect(local.ok, "without the chain the truncated ledger is self-consistent").to.equal(true);
      const report = await auditDir(dir, { chain });
      expect(report.firstDivergence).to.include({ kind: "size-mismatch", treeSize: 300 });
      expect(report.firstDivergence!.leafRange).to.deep.equal({ first: 256, last: 299 });
    });
  });

  describe("when records were reordered", function () {
    it("names the first misplaced leaf and whose envelope sits there", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => {
        const a = await readRecord(records, 150);
        const b = await readRecord(records, 210);
        await writeRecord(records, 150, b);
        await writeRecord(records, 210, a);
      });
      const report = await auditDir(dir, { chain });
      expect(report.firstDivergence).to.include({ kind: "leaf-reordered", index: 150 });
      expect(report.firstDivergence!.message).to.equal("leaf 150 was reordered: position 150 holds the envelope of index 210 (unaltered: its bytes hash to stored leaf 210)");
      const reordered = report.divergences.filter((d) => d.kind === "leaf-reordered");
      expect(reordered.map((d) => d.index)).to.deep.equal([150, 210]);
      expect(report.divergences.find((d) => d.kind === "checkpoint-mismatch")).to.include({ treeSize: 173 });
    });
  });

  describe("when the tree store was tampered with", function () {
    it("names a deleted interior node and nothing else", async function () {
      const dir = copy();
      await withDb(dir, async (db) => (treeSublevel(db) as any).del(treeNodeKey(2, 9), { keyEncoding: "view" }));
      const report = await auditDir(dir, { chain });
      expect(report.divergenceCount).to.equal(1);
      expect(report.firstDivergence).to.include({ kind: "tree-node-mismatch", index: 36 });
      expect(report.firstDivergence!.node).to.deep.equal({ level: 2, index: 9 });
      expect(report.firstDivergence!.leafRange).to.deep.equal({ first: 36, last: 39 });
      const small = await auditDir(dir, { chain, chunkSize: 5 });
      expect(small.divergences).to.deep.equal(report.divergences);
    });

    it("names an overwritten node without blaming its parent", async function () {
      const dir = copy();
      await withDb(dir, async (db) => (treeSublevel(db) as any).put(treeNodeKey(3, 4), new Uint8Array(32).fill(7), { keyEncoding: "view", valueEncoding: "view" }));
      const report = await auditDir(dir, { chain });
      expect(report.divergenceCount).to.equal(1);
      expect(report.firstDivergence).to.include({ kind: "tree-node-mismatch", index: 32, actual: "0x" + "07".repeat(32) });
      expect(report.firstDivergence!.node).to.deep.equal({ level: 3, index: 4 });
    });

    it("names a deleted leaf hash, and a deleted frontier node even when the store will not open", async function () {
      const dir = copy();
      await withDb(dir, async (db) => {
        await (treeSublevel(db) as any).del(treeNodeKey(0, 250), { keyEncoding: "view" });
        // 300 = 256 + 32 + 8 + 4: node (2, 74) covers leaves 296..299 and is on the frontier.
        await (treeSublevel(db) as any).del(treeNodeKey(2, 74), { keyEncoding: "view" });
      });
      let opened: unknown;
      await withDb(dir, async (db) => MerkleTreeStore.open(treeSublevel(db)).then(() => (opened = true), (error) => (opened = error)));
      expect(opened).to.be.instanceOf(Error);
      const report = await auditDir(dir, { chain, liveStore: false });
      expect(report.firstDivergence).to.include({ kind: "tree-node-mismatch", index: 250 });
      expect(report.divergences[1]).to.deep.include({ kind: "tree-node-mismatch", node: { level: 2, index: 74 } });
      expect(report.divergences.filter((d) => d.kind === "checkpoint-mismatch")).to.deep.equal([]);
    });

    it("catches a record altered together with a consistently rewritten tree and checkpoint records: only the chain shows it, naming the checkpoint and the leaf range", async function () {
      const dir = copy();
      await withDb(dir, async (db, records) => {
        const record = JSON.parse(await readRecord(records, 123));
        record.event.purpose = "rewritten history";
        await writeRecord(records, 123, JSON.stringify(record));
        await rewriteTree({ db, records }, { checkpointSizes: CHECKPOINTS });
      });
      const local = await auditDir(dir);
      expect(local.ok, "records, tree and checkpoint records agree with each other").to.equal(true);

      const report = await auditDir(dir, { chain });
      expect(report.ok).to.equal(false);
      const first = report.firstDivergence!;
      expect(first).to.include({ kind: "checkpoint-mismatch", treeSize: 173, index: 100 });
      expect(first.leafRange).to.deep.equal({ first: 100, last: 172 });
      expect(first.expected).to.equal(roots.find((r) => r.treeSize === 173)!.rootHash);
      expect(first.actual).to.not.equal(first.expected);
      expect(first.message).to.match(/^checkpoint 173 no longer matches: recomputed 0x[0-9a-f]{64}, chain 0x[0-9a-f]{64}; the divergence lies in leaves 100\.\.172, after checkpoint 100, which still matches/);
      expect(first.message).to.include("rewritten consistently");
      expect(report.divergences.map((d) => d.treeSize)).to.deep.equal([173, 256, 300]);
    });
  });

  describe("on a large ledger", function () {
    it("audits 20,000 intact events in one streaming pass, reporting progress", async function () {
      const dir = makeTempDir();
      dirs.push(dir);
      await buildLedger(dir, { events: 20_000, checkpointSizes: [1, 4096, 10_001, 19_999, 20_000] });
      const seen: AuditProgress[] = [];
      const report = await auditDir(dir, { onProgress: (p) => seen.push(p), chunkSize: 1000 });
      expect(report).to.include({ ok: true, eventsChecked: 20_000, checkpointsChecked: 5, divergenceCount: 0 });
      expect(seen.length).to.be.greaterThan(0);
      expect(seen[seen.length - 1]).to.include({ processed: 20_000, total: 20_000 });
    });
  });

  describe("its plumbing", function () {
    it("stops when its signal is aborted", async function () {
      const controller = new AbortController();
      controller.abort();
      const error = await auditDir(base, { signal: controller.signal }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AuditError);
      expect((error as AuditError).code).to.equal("ABORTED");
    });

    it("fails with CHAIN_UNREACHABLE when the chain cannot be read", async function () {
      const broken: AuditChain = { rootAt: async () => Promise.reject(new Error("connection refused")) };
      const error = await auditDir(base, { chain: broken }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AuditError);
      expect((error as AuditError).code).to.equal("CHAIN_UNREACHABLE");
      expect((error as Error).message).to.include("checkpoint 37");
    });

    it("lists the nodes each append completes, bottom up", function () {
      expect(nodesCompletedBy(0)).to.deep.equal([{ level: 0, index: 0 }]);
      expect(nodesCompletedBy(7)).to.deep.equal([
        { level: 0, index: 7 },
        { level: 1, index: 3 },
        { level: 2, index: 1 },
        { level: 3, index: 0 },
      ]);
      expect(nodesCompletedBy(10)).to.deep.equal([{ level: 0, index: 10 }]);
    });

    it("audits an empty ledger as intact", async function () {
      const report = await runAudit({
        log: { records: async function* () {} },
        tree: { size: 0, nodes: async () => [], nodeRange: async () => [], root: async () => EMPTY_ROOT },
        checkpoints: { list: async () => [] },
      });
      expect(report).to.include({ ok: true, treeSize: 0, eventsChecked: 0 });
    });

    it("reads records defensively", function () {
      expect(inspectRecord(0, Uint8Array.of(0xff, 0xfe)).corrupt).to.equal("its bytes are not UTF-8");
      expect(inspectRecord(0, Buffer.from("[1]")).corrupt).to.equal("it is JSON but not an envelope object");
      expect(inspectRecord(0, Buffer.from('{"index":-1}')).corrupt).to.match(/no valid index/);
      expect(inspectRecord(4, Buffer.from('{"index":4,"log":"x"}')).envelope).to.deep.equal({ index: 4, log: "x" });
    });

    it("caps the listed divergences but counts them all", function () {
      const auditor = new LedgerAuditor({ treeSize: 40, checkpoints: [], maxListed: 3 });
      for (let i = 0; i < 40; i++) auditor.addLeaf(inspectRecord(i, Buffer.from("not json")), () => new Uint8Array(32));
      expect(auditor.divergences).to.have.length(3);
      expect(auditor.divergenceCount).to.be.greaterThan(40);
      expect(kinds([...auditor.divergences])).to.deep.equal(["record-corrupt", "record-corrupt", "tree-node-mismatch"]);
    });
  });
});
