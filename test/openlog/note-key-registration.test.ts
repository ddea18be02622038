/**
 * The note key on an external chain (RPC_URL): a gateway whose anchoring key lacks the log
 * admin role starts, serves its open log, and warns with the command a log admin can run;
 * once its key has the role, the next start registers the note key itself. Also
 * LOG_NOTE_KEY_FILE in Go's note private-key format.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Contract } from "ethers";
import pino from "pino";
import { Writable } from "node:stream";
import { externalChainEnv, startTestChain, type RegisteredLog, type TestChain } from "../support/chain-harness";
import { makeTempDir, removeDir, startTestGateway } from "../support/gateway-harness";
import { noteSignerFromSeed, verifierKey } from "../../server/openlog";
import { defaultOrigin } from "../../server/openlog/note-key";

describe("open log: the note key on an external chain", function () {
  this.timeout(120_000);
  let chain: TestChain;
  let log: RegisteredLog;
  let dataDir: string;

  before(async () => {
    chain = await startTestChain();
    log = await chain.registerLog("note key test log");
    dataDir = makeTempDir("ledger-note-key-");
  });
  after(async () => {
    await chain?.stop();
    removeDir(dataDir);
  });

  const noteKeyOnChain = async () => (await chain.ledger.logNoteKey(log.logId)) as string;

  it("warns with the command to run when the anchoring key is not a log admin, then registers once it is", async () => {
    let logged = "";
    const logger = pino({ level: "warn" }, new Writable({ write: (chunk, _enc, done) => ((logged += String(chunk)), done()) }));
    // Go's note private-key format, with a "+" in its base64, as LOG_NOTE_KEY_FILE.
    const keyFile = path.join(dataDir, "..", path.basename(dataDir) + "-note.key");
    writeFileSync(keyFile, "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n", { mode: 0o600 });
    const env = { ...externalChainEnv(chain.rpcUrl, chain.contract, log), LOG_NOTE_KEY_FILE: keyFile };
    const g = await startTestGateway({ dataDir, env, logger });
    try {
      const origin = defaultOrigin({ chainId: 31337, contract: chain.contract, logId: log.logId });
      const expected = noteSignerFromSeed(origin, Buffer.from("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "base64").subarray(1));
      expect(g.gateway.openLog.noteKey).to.equal(verifierKey(expected));
      expect(await noteKeyOnChain()).to.equal("0x" + "00".repeat(32));
      const messages = logged.trim().split("\n").map((line) => (JSON.parse(line) as { msg: string }).msg).join("\n");
      expect(messages).to.include("lacks the log admin role");
      expect(messages).to.include(`cast send ${chain.contract} "setLogNoteKey(bytes32,bytes32)" ${log.logId} 0x${Buffer.from(expected.publicKey).toString("hex")}`);
    } finally {
      await g.stop();
    }
    const roles = new Contract(chain.contract, ["function grantRole(bytes32 role, address account)"], chain.admin);
    await (await roles.grantRole(await chain.ledger.LOG_ADMIN_ROLE(), log.anchorer)).wait();
    const again = await startTestGateway({ dataDir, env });
    try {
      expect(await noteKeyOnChain()).to.equal("0x" + Buffer.from(again.gateway.openLog.publicKey).toString("hex"));
    } finally {
      await again.stop();
      removeDir(keyFile);
    }
  });
});
