/**
 * Chain faults, injected on a real Anvil that the test controls, against a real
 * gateway anchoring to it (external chain mode):
 *
 * - the chain stops (Anvil killed) for a while: ingest goes on, the status says the
 *   chain is unreachable and an alert is raised, anchoring resumes when it is back;
 *   killed with SIGKILL it may come back without its last blocks, and the gateway
 *   anchors again what vanished;
 * - an anchor refused by the contract (paused), simulated or mined and reverted, and
 *   an anchor transaction dropped from the pool: a clear status and alert, retried,
 *   never silently skipped;
 * - a reorganisation removes an anchor before its confirmations, or a confirmed one
 *   together with the next one in flight: the gateway notices and anchors again;
 * - another key, a stale nonce, or a replacement of the anchorer's transaction race
 *   the anchorer: refused by the contract or the node, and reported;
 * - the anchorer's own transaction lands between two of the gateway's reads: it is
 *   recognised as its own, not reported as replaced;
 * - someone with the anchoring key anchors a root that is not this log's: the
 *   gateway says so (diverged, critical alert) and anchors nothing on top of it.
 *
 * After each, the data directory and the chain are checked as in the crash test:
 * every acknowledged event at its index, tree = recomputed tree, every checkpoint on
 * chain consistent with the log, none anchored twice.
 */
import { expect } from "chai";
import { Contract, Interface, Wallet } from "ethers";
import path from "node:path";
import { makeEvents, makeTempDir, removeDir, startTestGateway, sleep, waitFor, waitForReceipt, type TestGateway } from "../support/gateway-harness";
import { ADMIN_ABI, ADMIN_IFACE, externalChainEnv, startRpcProxy, startTestChain, type RegisteredLog, type RpcProxy, type TestChain } from "../support/chain-harness";
import { checkLedger } from "../support/ledger-inspection";
import { newBooks, submitAndBook, type LoadBooks } from "../support/load-clients";
import { consistencyProofFromLeafHashes, hashLeaf, rootFromLeafHashes } from "../../server/merkle";
import { LEDGER_ABI, LEDGER_ERRORS } from "../../server/chain/ledger-abi";
import hre from "hardhat";

const hex = (bytes: Uint8Array) => "0x" + Buffer.from(bytes).toString("hex");

interface Scenario {
  g: TestGateway;
  /** Stops the gateway and removes its data directory, without checks. */
  discard(): Promise<void>;
  log: RegisteredLog;
  books: LoadBooks;
  admin: string;
  ingest(count: number): Promise<void>;
  anchoring(): Promise<any>;
  anchoringAlerts(): Promise<{ ruleId: string; severity: string; message: string }[]>;
  waitAllAnchored(timeoutMs?: number): Promise<void>;
  /** Stops the gateway and checks its data directory and the chain; returns the check. */
  finish(options?: { allowRetryAfterRevert?: boolean }): Promise<Awaited<ReturnType<typeof checkLedger>>>;
}

/** Data directories of scenarios, removed after each test even when it fails (the gateway stopped first). */
const leftovers: { dataDir: string; stop: () => Promise<void> }[] = [];

async function scenario(chain: TestChain, env: Record<string, string> = {}, rpcUrl = chain.rpcUrl): Promise<Scenario> {
  const log = await chain.registerLog();
  const dataDir = makeTempDir("ledger-chain-faults-");
  const g = await startTestGateway({ dataDir, env: { ...externalChainEnv(rpcUrl, chain.contract, log), ANCHOR_MAX_BACKOFF_MS: "800", ...env } });
  leftovers.push({ dataDir, stop: () => g.stop() });
  const books = newBooks();
  const admin = g.keys.admin.key;
  const s: Scenario = {
    g,
    async discard() {
      await g.stop();
      removeDir(dataDir);
    },
    log,
    books,
    admin,
    async ingest(count) {
      const answered = await submitAndBook({ url: g.url, key: g.keys.submitter.key, submitterId: g.keys.submitter.record.id, books }, makeEvents(count));
      expect(answered && books.unexpected, `ingest: ${books.unexpected.join("; ")}`).to.deep.equal([]);
    },
    async anchoring() {
      return (await g.api("GET", "/v1/status", { key: admin })).body.anchoring;
    },
    async anchoringAlerts() {
      return (await g.api("GET", "/v1/alerts?kind=anchoring&limit=500", { key: admin })).body.alerts;
    },
    async waitAllAnchored(timeoutMs = 30_000) {
      let last: unknown;
      await waitFor("every event anchored and confirmed", async () => {
        const a = (last = await s.anchoring());
        return a.anchoredSize === a.logSize && a.logSize > 0 && !a.inflight ? a : undefined;
      }, timeoutMs).catch((error: Error) => {
        throw new Error(`${error.message}; last status ${JSON.stringify(last)}`);
      });
    },
    async finish(options = {}) {
      await g.stop();
      try {
        const check = await checkLedger({ dataDir, chain, log, acknowledged: books.acknowledged.values(), allowRetryAfterRevert: options.allowRetryAfterRevert });
        expect(check.problems, check.problems.join("\n")).to.deep.equal([]);
        expect(check.acknowledgedChecked).to.equal(books.acknowledged.size);
        return check;
      } finally {
        removeDir(dataDir);
      }
    },
  };
  return s;
}

async function inflightOf(s: Scenario): Promise<{ txHash: string; nonce: number; broadcasts: number; treeSize: number }> {
  return waitFor("an anchor transaction in flight", async () => (await s.anchoring()).inflight, 20_000, 50);
}

describe("reliability: chain faults", function () {
  this.timeout(180_000);

  afterEach(async () => {
    for (const { dataDir, stop } of leftovers.splice(0)) {
      await stop().catch(() => undefined);
      removeDir(dataDir);
    }
  });

  it("knows every error the compiled contract can revert with, so refusals are reported by name", async () => {
    const compiled = new Interface((await hre.artifacts.readArtifact("ProvenanceLedger")).abi);
    const errors: string[] = [];
    compiled.forEachError((e) => errors.push(e.format("full")));
    expect([...LEDGER_ERRORS].sort()).to.deep.equal(errors.sort());
  });

  describe("when the chain stops for a while (Anvil killed, then started again from its state file)", () => {
    let chain: TestChain;
    let stateDir: string;

    before(async () => {
      stateDir = makeTempDir("ledger-chain-state-");
      chain = await startTestChain({ stateFile: path.join(stateDir, "anvil-state.json") });
    });
    after(async () => {
      await chain?.stop();
      removeDir(stateDir);
    });

    it("goes on ingesting, reports the chain unreachable, and anchors everything once the chain is back", async () => {
      const s = await scenario(chain);
      await s.ingest(20);
      await s.waitAllAnchored();
      await chain.kill("SIGTERM");
      for (let i = 0; i < 5; i++) await s.ingest(10);
      const down = await waitFor("state chain-unreachable", async () => {
        const a = await s.anchoring();
        return a.state === "chain-unreachable" ? a : undefined;
      });
      expect(down.lastError).to.be.a("string").and.not.equal("");
      expect(down.pendingEvents).to.equal(50);
      const alerts = await s.anchoringAlerts();
      expect(alerts.map((a) => a.ruleId)).to.include("chain-unreachable");
      await sleep(1_500);
      await chain.restart();
      await s.waitAllAnchored();
      const receipt = await waitForReceipt(s.g.url, s.g.keys.auditor.key, 69);
      const verified = await s.g.api("POST", "/v1/verify", { key: s.g.keys.auditor.key, json: receipt });
      expect(verified.body.valid).to.equal(true);
      const check = await s.finish();
      expect(check.events).to.equal(70);
    });

    it("anchors again what a chain killed with SIGKILL lost (its last second of blocks)", async () => {
      const s = await scenario(chain);
      // Anvil dumps its state every second: let the log's registration reach the file before the first kill.
      await sleep(1_500);
      let lost = 0;
      for (let round = 0; round < 3; round++) {
        await s.ingest(15);
        await s.waitAllAnchored();
        const head = await chain.provider.getBlockNumber();
        await chain.kill("SIGKILL");
        await s.ingest(5);
        await chain.restart();
        lost += head - (await chain.provider.getBlockNumber());
        await s.waitAllAnchored();
      }
      if (lost > 0) expect((await s.anchoringAlerts()).map((a) => a.ruleId), "lost checkpoints are reported").to.include("reorganised");
      const check = await s.finish();
      expect(check.chainAnchors.at(-1)!.treeSize).to.equal(60);
      console.log(`      chain killed 3 times with SIGKILL, ${lost} blocks lost in all; ${check.chainAnchors.length} checkpoints on chain, consistent with the log`);
    });
  });

  describe("with a chain that stays up", () => {
    let chain: TestChain;
    before(async () => {
      chain = await startTestChain();
    });
    afterEach(async () => {
      await chain.rpc("evm_setAutomine", [true]);
      if (await chain.ledger.paused()) await (await chain.ledger.unpause()).wait();
    });
    after(async () => {
      await chain?.stop();
    });

    it("reports a paused contract (anchor refused on simulation) as rejected, with a critical alert, and anchors once unpaused", async () => {
      const s = await scenario(chain);
      await s.ingest(5);
      await s.waitAllAnchored();
      await (await chain.ledger.pause()).wait();
      await s.ingest(5);
      const rejected = await waitFor("state rejected", async () => {
        const a = await s.anchoring();
        return a.state === "rejected" ? a : undefined;
      });
      expect(rejected.lastError).to.match(/EnforcedPause/);
      const alert = (await s.anchoringAlerts()).find((a) => a.ruleId === "rejected");
      expect(alert?.severity).to.equal("critical");
      expect(alert?.message).to.match(/EnforcedPause/);
      expect((await s.anchoring()).anchoredSize).to.equal(5);
      await (await chain.ledger.unpause()).wait();
      await s.waitAllAnchored();
      await s.finish();
    });

    it("reports an anchor transaction that was mined but reverted, and anchors again (not skipped)", async () => {
      const s = await scenario(chain);
      await s.ingest(3);
      await s.waitAllAnchored();
      await chain.rpc("evm_setAutomine", [false]);
      await s.ingest(4);
      const inflight = await inflightOf(s);
      // The admin's pause, with a higher tip, is mined before the anchor in the same block.
      const pause = await chain.ledger.pause({ maxPriorityFeePerGas: 10n ** 10n, maxFeePerGas: 10n ** 11n });
      await chain.rpc("evm_mine");
      expect((await pause.wait())!.status).to.equal(1);
      const reverted = await chain.provider.getTransactionReceipt(inflight.txHash);
      expect(reverted?.status, "the anchor transaction was mined and reverted").to.equal(0);
      const a = await waitFor("the revert in the status", async () => {
        const st = await s.anchoring();
        return st.state === "rejected" && !st.inflight ? st : undefined;
      });
      expect(a.lastError).to.match(/EnforcedPause/);
      const alerts = await s.anchoringAlerts();
      const said = `${inflight.txHash} was mined in block ${reverted!.blockNumber} and reverted (EnforcedPause())`;
      expect(alerts.some((x) => x.severity === "critical" && x.message.includes(said)), JSON.stringify(alerts)).to.equal(true);
      await chain.rpc("evm_setAutomine", [true]);
      await (await chain.ledger.unpause()).wait();
      await s.waitAllAnchored();
      const check = await s.finish({ allowRetryAfterRevert: true });
      expect(check.anchorTransactions.filter((t) => t.status === 0).map((t) => t.hash)).to.deep.equal([inflight.txHash]);
    });

    it("broadcasts a dropped anchor transaction again (same bytes, same hash), with a status and an alert", async () => {
      const s = await scenario(chain);
      await s.ingest(2);
      await s.waitAllAnchored();
      await chain.rpc("evm_setAutomine", [false]);
      await s.ingest(3);
      const inflight = await inflightOf(s);
      await chain.rpc("anvil_dropTransaction", [inflight.txHash]);
      const again = await waitFor("a second broadcast", async () => {
        const a = await s.anchoring();
        return a.inflight && a.inflight.broadcasts > inflight.broadcasts && (await chain.rpc("eth_getTransactionByHash", [inflight.txHash])) ? a : undefined;
      });
      expect(again.inflight.txHash).to.equal(inflight.txHash);
      const alerts = await s.anchoringAlerts();
      expect(alerts.some((x) => x.ruleId === "dropped" && x.message.includes(inflight.txHash)), JSON.stringify(alerts)).to.equal(true);
      await chain.rpc("evm_mine");
      await chain.rpc("evm_setAutomine", [true]);
      await s.waitAllAnchored();
      const latest = (await s.g.api("GET", "/v1/checkpoints/latest", { key: s.admin })).body;
      expect(latest.txHash).to.equal(inflight.txHash);
      await s.finish();
    });

    it("notices a reorganisation that removes an anchor before its confirmations, and anchors it again", async () => {
      const s = await scenario(chain, { CONFIRMATIONS: "3" });
      await s.ingest(4);
      const inflight = await inflightOf(s);
      const mined = await waitFor("the anchor mined", () => chain.provider.getTransactionReceipt(inflight.txHash).then((r) => r ?? undefined));
      expect((await s.anchoring()).state).to.equal("waiting-confirmations");
      await chain.rpc("anvil_reorg", [1, []]);
      expect(await chain.provider.getTransactionReceipt(inflight.txHash), "the reorganisation removed the anchor").to.equal(null);
      // The gateway puts it back on chain; then two more blocks confirm it.
      const back = await waitFor("the anchor mined again", async () => {
        const r = await chain.provider.getTransactionReceipt(inflight.txHash);
        return r && r.blockHash !== mined.blockHash ? r : undefined;
      });
      expect((await s.anchoring()).anchoredSize).to.equal(0);
      await chain.rpc("anvil_mine", ["0x2"]);
      await s.waitAllAnchored();
      const latest = (await s.g.api("GET", "/v1/checkpoints/latest", { key: s.admin })).body;
      expect(latest.blockNumber).to.equal(back.blockNumber);
      const noticed = (await s.anchoringAlerts()).find((a) => a.ruleId === "dropped" && a.message.includes(inflight.txHash));
      expect(noticed?.message, "the vanished anchor is reported").to.match(/vanished/);
      await s.finish();
    });

    it("anchors again when a reorganisation removes a confirmed checkpoint together with the next anchor in flight", async () => {
      const s = await scenario(chain);
      await s.ingest(6);
      await s.waitAllAnchored();
      const confirmedBlock = (await s.g.api("GET", "/v1/checkpoints/latest", { key: s.admin })).body.blockNumber as number;
      await chain.rpc("evm_setAutomine", [false]);
      await s.ingest(6);
      await inflightOf(s);
      const head = await chain.provider.getBlockNumber();
      // Removes the confirmed checkpoint's block (and any after it); the anchor in flight now follows a gap in the nonces.
      await chain.rpc("anvil_reorg", [head - confirmedBlock + 1, []]);
      await chain.rpc("evm_setAutomine", [true]);
      await chain.rpc("evm_mine");
      await s.waitAllAnchored(20_000);
      const alerts = await s.anchoringAlerts();
      expect(alerts.map((a) => a.ruleId)).to.include("reorganised");
      const check = await s.finish();
      expect(check.chainAnchors.at(-1)!.treeSize).to.equal(12);
    });

    it("refuses another key's anchor (the contract), a stale nonce (the node), and reports a replaced anchor transaction", async () => {
      const s = await scenario(chain);
      await s.ingest(3);
      await s.waitAllAnchored();

      // Another key anchoring this log's true next checkpoint: refused by the contract.
      const intruder = Wallet.createRandom().connect(chain.provider);
      await chain.rpc("anvil_setBalance", [intruder.address, "0x" + (10n ** 20n).toString(16)]);
      await s.ingest(2);
      await s.g.gateway.anchorer.runOnce().catch(() => undefined);
      const size = s.g.gateway.tree.size;
      const root = hex(await s.g.gateway.tree.root(size));
      const proof = (await s.g.gateway.tree.consistencyProof(3, size)).map(hex);
      const asIntruder = new Contract(chain.contract, ADMIN_ABI, intruder);
      const refused = await asIntruder.anchor(s.log.logId, size, root, proof, { gasLimit: 500_000 }).then((tx: any) => tx.wait()).then(() => undefined, (e: any) => e);
      expect(refused, "the intruder's anchor is refused").to.not.equal(undefined);
      const failed = await chain.provider.getTransactionReceipt(refused.receipt?.hash ?? refused.transactionHash ?? "0x" + "0".repeat(64));
      expect(failed?.status ?? 0).to.equal(0);
      const simulated = await asIntruder.anchor.staticCall(s.log.logId, size, root, proof).then(() => undefined, (e: any) => e);
      expect(ADMIN_IFACE.parseError(simulated.data)?.name).to.equal("ProvenanceLedgerUnauthorizedAnchorer");
      await s.waitAllAnchored();

      // A stale nonce: an old anchor transaction sent again is refused by the node.
      const first = (await s.g.api("GET", "/v1/checkpoints?limit=1000", { key: s.admin })).body.checkpoints.at(-1);
      const raw = (await chain.rpc("eth_getRawTransactionByHash", [first.txHash])) as string;
      const stale = await chain.rpc("eth_sendRawTransaction", [raw]).then(() => undefined, (e: Error) => e);
      expect(String(stale?.message)).to.match(/nonce too low|already/i);

      // The anchoring key used elsewhere replaces the anchor transaction in the pool.
      await chain.rpc("evm_setAutomine", [false]);
      await s.ingest(3);
      const inflight = await inflightOf(s);
      const sameKey = new Wallet(s.log.anchorerKey, chain.provider);
      await sameKey.sendTransaction({ to: sameKey.address, value: 0n, nonce: inflight.nonce, maxPriorityFeePerGas: 10n ** 10n, maxFeePerGas: 10n ** 11n, gasLimit: 21_000 });
      await chain.rpc("evm_mine");
      const replaced = await waitFor("the replaced transaction reported", async () => {
        const alert = (await s.anchoringAlerts()).find((x) => x.ruleId === "dropped" && x.message.includes(inflight.txHash));
        return alert;
      });
      expect(replaced.message).to.match(/replaced|nonce/);
      await chain.rpc("evm_setAutomine", [true]);
      await chain.rpc("evm_mine");
      await s.waitAllAnchored();
      const check = await s.finish();
      expect(check.chainAnchors.at(-1)!.treeSize).to.equal(8);
    });

    it("reports anchors refused because the log's anchorer was changed to another key, and resumes when it is changed back", async () => {
      const s = await scenario(chain);
      await s.ingest(2);
      await s.waitAllAnchored();
      const other = Wallet.createRandom();
      await (await chain.ledger.setAnchorer(s.log.logId, other.address)).wait();
      await s.ingest(2);
      const refused = await waitFor("state rejected", async () => {
        const a = await s.anchoring();
        return a.state === "rejected" ? a : undefined;
      });
      expect(refused.lastError).to.match(/ProvenanceLedgerUnauthorizedAnchorer/);
      const alert = (await s.anchoringAlerts()).find((a) => a.ruleId === "rejected");
      expect(alert?.severity).to.equal("critical");
      expect(alert?.message).to.match(/ProvenanceLedgerUnauthorizedAnchorer/);
      await (await chain.ledger.setAnchorer(s.log.logId, s.log.anchorer)).wait();
      await s.waitAllAnchored();
      await s.finish();
    });

    it("recognises its own anchor mined between two of its reads, and does not report it as replaced", async () => {
      const proxy: RpcProxy = await startRpcProxy(chain.rpcUrl);
      try {
        const s = await scenario(chain, {}, proxy.url);
        await s.ingest(2);
        await s.waitAllAnchored();
        await chain.rpc("evm_setAutomine", [false]);
        let armed = true;
        proxy.hook = async (call) => {
          // The next time the anchorer asks for its confirmed nonce, a block (holding its transaction) is mined first.
          if (armed && call.method === "eth_getTransactionCount" && call.params[1] === "latest") {
            armed = false;
            await chain.rpc("evm_mine");
          }
        };
        await s.ingest(3);
        const inflight = await inflightOf(s);
        const receipt = await waitForReceipt(s.g.url, s.g.keys.auditor.key, 4, 10_000);
        expect(receipt.checkpoint.txHash).to.equal(inflight.txHash);
        expect((await s.anchoringAlerts()).filter((a) => a.ruleId === "dropped")).to.deep.equal([]);
        proxy.hook = undefined;
        await s.finish();
      } finally {
        await proxy.close();
      }
    });

    it("notices a checkpoint anchored with its key that is not this log's history (diverged, critical), and anchors nothing over it", async () => {
      const s = await scenario(chain);
      await s.ingest(5);
      await s.waitAllAnchored();
      // Someone holding the anchoring key extends the anchored tree with leaves this log does not have.
      const leafHashes: Uint8Array[] = [];
      for (let i = 0; i < 5; i++) leafHashes.push(await s.g.gateway.tree.leafHash(i));
      const forged = [...leafHashes, ...[1, 2, 3].map((i) => hashLeaf(Buffer.from(`forged event ${i}`)))];
      const rogue = new Contract(chain.contract, LEDGER_ABI, new Wallet(s.log.anchorerKey, chain.provider));
      await (await rogue.anchor(s.log.logId, 8, hex(rootFromLeafHashes(forged)), consistencyProofFromLeafHashes(5, forged).map(hex))).wait();
      await s.ingest(3);
      const diverged = await waitFor("state diverged", async () => {
        const a = await s.anchoring();
        return a.state === "diverged" ? a : undefined;
      });
      expect(diverged.lastError).to.match(/root|leaves/);
      await s.ingest(2);
      await sleep(1_500);
      const alerts = (await s.anchoringAlerts()).filter((a) => a.ruleId === "diverged");
      expect(alerts.length, "reported once, not once per retry").to.equal(1);
      expect(alerts[0]!.severity).to.equal("critical");
      expect((await s.g.api("GET", "/v1/receipts/7", { key: s.admin })).status, "no receipt against a forged root").to.equal(202);
      await s.discard();
      const onChain = await new Contract(chain.contract, LEDGER_ABI, chain.provider).latest(s.log.logId);
      expect(Number(onChain[0]), "nothing anchored over the forged checkpoint").to.equal(8);
    });
  });
});
