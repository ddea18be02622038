/**
 * `ledger audit` on a stopped gateway's data directory, through
 * `registerAuditCommand` on a fresh commander program (in-process), with the
 * chain comparison against a real Anvil node holding the anchored checkpoints.
 */
import { expect } from "chai";
import { Command } from "commander";
import { Contract, NonceManager, type JsonRpcProvider } from "ethers";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startAnvil, type AnvilNode } from "../../server/chain/anvil";
import { connectProvider } from "../../server/chain/provider";
import { deployLedger, registerLog } from "../../server/chain/deploy";
import { LEDGER_ABI } from "../../server/chain/ledger-abi";
import { openStores } from "../../server/store/database";
import { ProgressLine, registerAuditCommand, type AuditCommandIo, type ExitCode } from "../../scripts/audit-command";
import { LOG_ID, buildLedger, copyDataDir, makeTempDir, readRecord, removeDir, rewriteTree, withDb, writeRecord } from "./support/ledger-fixture";

const CHECKPOINTS = [40, 128, 200];

interface Run {
  code: ExitCode | undefined;
  out: string;
  err: string;
}

/** Parses `ledger audit <args>` with the command registered on a fresh program. */
async function ledgerAudit(args: string[], stderrIsTTY = false): Promise<Run> {
  const run: Run = { code: undefined, out: "", err: "" };
  const io: AuditCommandIo = { stdout: (t) => void (run.out += t), stderr: (t) => void (run.err += t), stderrIsTTY };
  const program = new Command().name("ledger").exitOverride().configureOutput({ writeOut: (t) => (run.out += t), writeErr: (t) => (run.err += t) });
  registerAuditCommand(program, { io, exit: (code) => (run.code = code) });
  await program.parseAsync(["node", "ledger", "audit", ...args]);
  return run;
}

describe("audit: `ledger audit` on a stopped gateway's data directory", function () {
  let anvil: AnvilNode;
  let provider: JsonRpcProvider;
  let base: string;
  const dirs: string[] = [];

  function copy(): string {
    const dir = copyDataDir(base);
    dirs.push(dir);
    return dir;
  }

  const saved: Record<string, string | undefined> = {};
  const ENV = ["LEDGER_URL", "LEDGER_API_KEY", "LEDGER_RPC_URL", "DATA_DIR"];

  before(async function () {
    // Option defaults come from these; keep the caller's environment out of the tests.
    for (const name of ENV) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
    anvil = await startAnvil();
    provider = connectProvider(anvil.rpcUrl, { chainId: 31337 });
    const signer = new NonceManager(await provider.getSigner(0));
    const deployed = await deployLedger({ deployer: signer });
    await registerLog({ logAdmin: signer, contract: deployed.address, logId: LOG_ID, anchorer: await signer.getAddress(), name: "cli audit test", adminCode: "330102000000" });
    const ledger = new Contract(deployed.address, LEDGER_ABI, signer);
    base = makeTempDir();
    await buildLedger(base, {
      events: 200,
      checkpointSizes: CHECKPOINTS,
      anchor: async (size, root, proof) => {
        await (await ledger.getFunction("anchor")(LOG_ID, size, root, proof)).wait();
      },
    });
    // As startEmbeddedChain leaves it for the CLI to find.
    mkdirSync(path.join(base, "chain"), { recursive: true });
    writeFileSync(path.join(base, "chain", "deployment.json"), JSON.stringify({ chainId: 31337, contract: deployed.address, blockNumber: deployed.blockNumber, logId: LOG_ID }));
  });

  after(async function () {
    for (const name of ENV) if (saved[name] !== undefined) process.env[name] = saved[name];
    provider?.destroy();
    await anvil?.stop();
    removeDir(base);
    for (const dir of dirs) removeDir(dir);
  });

  describe("when the ledger is intact", function () {
    it("exits 0 and says so, having compared every checkpoint with the chain", async function () {
      const run = await ledgerAudit(["--data-dir", copy(), "--rpc", anvil.rpcUrl]);
      expect(run.code, run.err).to.equal(0);
      expect(run.out).to.match(/^intact: 200 events, 3 checkpoints each compared with the chain;/);
    });

    it("prints the report as JSON with --json", async function () {
      const run = await ledgerAudit(["--data-dir", copy(), "--json"]);
      expect(run.code, run.err).to.equal(0);
      const report = JSON.parse(run.out);
      expect(report).to.include({ ok: true, eventsChecked: 200, checkpointsChecked: 3, chainChecked: false, logId: LOG_ID });
    });
  });

  describe("on a data directory of the older layout (records in db/'s `log` sublevel)", function () {
    it("moves the records to their own database first, says so, and audits them", async function () {
      const dir = copy();
      const stores = await openStores(dir);
      const legacy = stores.db.sublevel<string, Uint8Array>("log", { valueEncoding: "view" });
      for await (const [key, value] of stores.records.iterator()) await legacy.put(key, value);
      await stores.db.sublevel("idem-size").clear();
      await stores.close();
      rmSync(path.join(dir, "records"), { recursive: true });

      const run = await ledgerAudit(["--data-dir", dir]);
      expect(run.code, run.err).to.equal(0);
      expect(run.err).to.include("ledger: moved 200 records to their own database");
      expect(run.out).to.match(/^intact: 200 events, 3 checkpoints/);
      const again = await ledgerAudit(["--data-dir", dir]);
      expect(again.err, "nothing left to move").to.not.include("moved");
      expect(again.out).to.match(/^intact: 200 events, 3 checkpoints/);
    });
  });

  describe("when a record was altered", function () {
    it("exits 1 and names the leaf first", async function () {
      const dir = copy();
      await withDb(dir, async (_db, records) => {
        const record = JSON.parse(await readRecord(records, 99));
        record.submitter = "someone-else";
        await writeRecord(records, 99, JSON.stringify(record));
      });
      const run = await ledgerAudit(["--data-dir", dir]);
      expect(run.code, run.err).to.equal(1);
      expect(run.out).to.match(/^DIVERGENCE: \d+ found;/);
      expect(run.out).to.include("first: [leaf-altered at leaf 99] leaf 99 was altered: its record hashes to 0x");
      expect(run.out).to.include("[checkpoint-mismatch at checkpoint 128] checkpoint 128 no longer matches");
    });

    it("exits 1 naming the checkpoint and leaf range when the tree was rewritten to match, with --rpc", async function () {
      const dir = copy();
      await withDb(dir, async (db, records) => {
        const record = JSON.parse(await readRecord(records, 150));
        record.receivedAt = "2026-01-01T00:00:00.000Z";
        await writeRecord(records, 150, JSON.stringify(record));
        await rewriteTree({ db, records }, { checkpointSizes: CHECKPOINTS });
      });
      expect((await ledgerAudit(["--data-dir", dir])).code, "without the chain it looks intact").to.equal(0);
      const run = await ledgerAudit(["--data-dir", dir, "--rpc", anvil.rpcUrl, "--json"]);
      expect(run.code, run.err).to.equal(1);
      const report = JSON.parse(run.out);
      expect(report.firstDivergence).to.deep.include({ kind: "checkpoint-mismatch", treeSize: 200, leafRange: { first: 128, last: 199 } });
    });
  });

  describe("when it cannot run", function () {
    it("exits 2 for a directory without a ledger, an unreachable chain, or --contract without --rpc", async function () {
      const empty = makeTempDir();
      dirs.push(empty);
      const missing = await ledgerAudit(["--data-dir", empty]);
      expect(missing.code).to.equal(2);
      expect(missing.err).to.include("no ledger database in");
      const unreachable = await ledgerAudit(["--data-dir", copy(), "--rpc", "http://127.0.0.1:9"]);
      expect(unreachable.code).to.equal(2);
      expect(unreachable.err).to.include("cannot reach the chain at http://127.0.0.1:9");
      const contractOnly = await ledgerAudit(["--data-dir", copy(), "--contract", "0x" + "11".repeat(20)]);
      expect(contractOnly.code).to.equal(2);
    });

    it("exits 2 when the data directory is in use by a running gateway", async function () {
      const dir = copy();
      await withDb(dir, async () => {
        const run = await ledgerAudit(["--data-dir", dir]);
        expect(run.code).to.equal(2);
        expect(run.err).to.include("--url and --key");
      });
    });
  });

  describe("its progress line", function () {
    it("on a terminal redraws one line with percent, events/s and ETA, and clears it at the end", function () {
      let text = "";
      let clock = 0;
      const line = new ProgressLine({ stdout: () => undefined, stderr: (t) => void (text += t), stderrIsTTY: true }, () => clock);
      clock = 1_000;
      line.update({ processed: 250, total: 1_000, elapsedMs: 1_000, eventsPerSecond: 250 });
      clock = 1_050; // too soon: not redrawn
      line.update({ processed: 300, total: 1_000, elapsedMs: 1_050, eventsPerSecond: 250 });
      line.end();
      expect(text).to.equal("\r\x1b[2Kaudit [######..................]  25.0%  250/1,000 events  250 ev/s  ETA 3s\r\x1b[2K");
    });

    it("elsewhere writes a plain line every few seconds", function () {
      let text = "";
      let clock = 5_000;
      const line = new ProgressLine({ stdout: () => undefined, stderr: (t) => void (text += t), stderrIsTTY: false }, () => clock);
      line.update({ processed: 10, total: 100, elapsedMs: 1, eventsPerSecond: 10 });
      clock = 6_000;
      line.update({ processed: 20, total: 100, elapsedMs: 2, eventsPerSecond: 10 });
      clock = 7_500;
      line.update({ processed: 90, total: 100, elapsedMs: 3, eventsPerSecond: 30 });
      line.end();
      expect(text).to.equal("audit: 10.0%  10/100 events  10 ev/s  ETA 9s\naudit: 90.0%  90/100 events  30 ev/s  ETA 1s\n");
    });
  });
});
