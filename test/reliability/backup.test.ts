/**
 * Backup and restore as an operator runs them: `ledger backup --data-dir` while the
 * gateway (embedded chain) takes a steady load, `ledger restore` into a new folder, then
 *
 * - `ledger audit --data-dir` of the restored folder against its restored chain passes;
 * - every event acknowledged before the backup began is in the restored records, at
 *   its index, byte for byte the event that was sent;
 * - a gateway started on the restored folder carries on: it accepts an event and
 *   serves a receipt that verifies on the restored chain;
 * - a damaged or truncated backup restores nothing, with exit 1 and the reason.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { startAnvil } from "../../server/chain/anvil";
import { makeTempDir, removeDir, runCli, startTestGateway, waitForReceipt, makeEvent, type TestGateway } from "../support/gateway-harness";
import { withDb } from "../audit/support/ledger-fixture";
import { newBooks, runLoad, seededRandom } from "../support/load-clients";

describe("reliability: backup under load, restore, audit", function () {
  this.timeout(240_000);
  const dirs: string[] = [];
  let gateway: TestGateway | undefined;
  after(async () => {
    await gateway?.stop();
    for (const dir of dirs) removeDir(dir);
  });
  const tempDir = (prefix: string) => {
    const dir = makeTempDir(prefix);
    dirs.push(dir);
    return dir;
  };

  // The first test's backup, for the second.
  let backupFile = "";
  let backedUpDir = "";

  it("backs up a running gateway under load; the restore audits clean and holds every acknowledged event", async () => {
    const dataDir = tempDir("ledger-bk-");
    backedUpDir = dataDir;
    const out = tempDir("ledger-bk-out-");
    backupFile = path.join(out, "ledger.backup");
    gateway = await startTestGateway({ dataDir });
    const books = newBooks();
    const load = runLoad({ url: gateway.url, key: gateway.keys.submitter.key, submitterId: gateway.keys.submitter.record.id, clients: 4, maxBatch: 50, random: seededRandom(7), books });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const acknowledgedBefore = new Map(books.acknowledged);
    const backedUp = await runCli(["backup", "--data-dir", dataDir, "--to", backupFile], { timeoutMs: 120_000 });
    await load.stop();
    expect(backedUp.code, backedUp.stderr).to.equal(0);
    expect(backedUp.stderr).to.match(/asking it for the backup/);
    expect(backedUp.stdout).to.match(/backed up log 0x[0-9a-f]{64}: [\d,]+ records/);
    expect(books.unexpected, books.unexpected.join("\n")).to.deep.equal([]);
    expect(acknowledgedBefore.size).to.be.greaterThan(50);
    console.log(`      backup under load: ${acknowledgedBefore.size} events acknowledged before it, ${books.acknowledged.size} by the end of the load`);
    await gateway.stop();
    gateway = undefined;

    // A second backup of the same directory, now stopped, into an existing file: refused.
    const again = await runCli(["backup", "--data-dir", dataDir, "--to", backupFile]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/exists already/);

    const restoredDir = path.join(tempDir("ledger-bk-restored-"), "data");
    const restored = await runCli(["restore", "--from", backupFile, "--data-dir", restoredDir], { timeoutMs: 120_000 });
    expect(restored.code, restored.stderr).to.equal(0);
    expect(restored.stdout).to.match(/restored log 0x[0-9a-f]{64} into/);
    for (const file of ["keys.json", "subject-secret", "chain/anchor-key", "chain/deployment.json", "chain/anvil-state.json"]) {
      expect(existsSync(path.join(restoredDir, file)), file).to.equal(true);
      if (file !== "chain/anvil-state.json") expect(readFileSync(path.join(restoredDir, file)).equals(readFileSync(path.join(dataDir, file))), file).to.equal(true);
    }

    // Every event acknowledged before the backup: at its index, the event sent.
    await withDb(restoredDir, async (_db, records) => {
      for (const [requestId, { index, event }] of acknowledgedBefore) {
        const bytes = await records.get(index.toString(16).padStart(16, "0"));
        expect(bytes, `record ${index} (${requestId})`).to.not.equal(undefined);
        const envelope = JSON.parse(Buffer.from(bytes!).toString("utf8"));
        expect(envelope.index).to.equal(index);
        expect(envelope.event.requestId).to.equal(requestId);
        expect(envelope.event.dataset).to.equal(event.dataset);
      }
    });

    // The audit of the stopped, restored directory against its own restored chain.
    const anvil = await startAnvil({ stateFile: path.join(restoredDir, "chain", "anvil-state.json") });
    try {
      const audit = await runCli(["audit", "--data-dir", restoredDir, "--rpc", anvil.rpcUrl], { timeoutMs: 120_000 });
      expect(audit.code, audit.stdout + audit.stderr).to.equal(0);
      expect(audit.stdout).to.match(/^intact: [\d,]+ events/m);
    } finally {
      await anvil.stop();
    }

    // The restored directory is a gateway that carries on.
    gateway = await startTestGateway({ dataDir: restoredDir });
    const posted = await gateway.api("POST", "/v1/events", { key: gateway.keys.submitter.key, json: makeEvent() });
    expect(posted.status, JSON.stringify(posted.body)).to.equal(201);
    expect(posted.body.index).to.be.at.least(acknowledgedBefore.size);
    const receipt = await waitForReceipt(gateway.url, gateway.keys.admin.key, posted.body.index, 30_000);
    const verified = await gateway.api("POST", "/v1/verify", { key: gateway.keys.admin.key, json: receipt });
    expect(verified.body, JSON.stringify(verified.body)).to.include({ valid: true });
    expect(receipt.entry.envelope.index).to.equal(posted.body.index);
  });

  it("restores nothing from a damaged or truncated backup, and says why", async () => {
    expect(backupFile, "the first test made a backup").to.not.equal("");
    const out = tempDir("ledger-bk-damaged-");
    const whole = readFileSync(backupFile);

    const truncated = path.join(out, "truncated.backup");
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const target = path.join(out, "restored-truncated");
    const fromTruncated = await runCli(["restore", "--from", truncated, "--data-dir", target]);
    expect(fromTruncated.code).to.equal(1);
    expect(fromTruncated.stderr).to.match(/cannot read the backup|incomplete/);
    expect(existsSync(target)).to.equal(false);

    // Same length, one entry changed inside: gzip still inflates, the checksum does not hold.
    const { gunzipSync, gzipSync } = await import("node:zlib");
    const text = gunzipSync(whole).toString("utf8").replace('"kind":"entries","db":"records","keys":["', '"kind":"entries","db":"records","keys":["A');
    const altered = path.join(out, "altered.backup");
    writeFileSync(altered, gzipSync(text));
    const fromAltered = await runCli(["restore", "--from", altered, "--data-dir", target]);
    expect(fromAltered.code).to.equal(1);
    expect(fromAltered.stderr).to.match(/damaged/);
    expect(existsSync(target)).to.equal(false);

    const intoUsed = await runCli(["restore", "--from", backupFile, "--data-dir", backedUpDir]);
    expect(intoUsed.code).to.equal(1);
    expect(intoUsed.stderr).to.match(/is not empty/);
  });
});
