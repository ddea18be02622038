/**
 * When the chain loses confirmed checkpoints (here undone with evm_revert and
 * anvil_rollback on a real Anvil), the anchorer anchors exactly those sizes and
 * roots again, oldest first, before anything newer; meanwhile no receipt is served
 * from them, and afterwards every receipt served before verifies again.
 */
import { expect } from "chai";
import { anchoredOnChain, externalChainEnv, startTestChain, type RegisteredLog, type TestChain } from "../support/chain-harness";
import { makeEvents, sleep, startTestGateway, stopAndRemove, trustOf, waitFor, waitForReceipt, type TestGateway } from "../support/gateway-harness";
import { ledgerReader } from "../../server/chain/ledger-reader";
import { verifyReceipt } from "../../server/receipts/verify-receipt";

describe("anchorer: checkpoints lost from the chain are anchored again exactly, in order", function () {
  this.timeout(60_000);
  let chain: TestChain;
  let log: RegisteredLog;
  let g: TestGateway | undefined;

  before(async () => {
    chain = await startTestChain();
  });
  beforeEach(async () => {
    log = await chain.registerLog("re-anchoring order");
    g = await startTestGateway({ env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), CHECKPOINT_MAX_AGE_MS: "50", ANCHOR_POLL_MS: "50" } });
  });
  afterEach(async () => {
    await stopAndRemove(g);
    g = undefined;
  });
  after(async () => {
    await chain?.stop();
  });

  /** Submits `count` events and waits until every event is in a confirmed checkpoint. */
  async function ingestAnchored(count: number): Promise<void> {
    const answer = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { events: makeEvents(count) } });
    expect(answer.status, answer.text).to.equal(201);
    await waitFor("every event anchored", () => {
      const s = g!.gateway.anchorer.status();
      return s.anchoredSize === s.logSize && !s.inflight ? true : undefined;
    });
  }

  async function recorded(): Promise<{ treeSize: number; rootHash: string; lost?: unknown }[]> {
    return (await g!.gateway.anchorer.checkpoints.list({ limit: 100 })).reverse();
  }

  async function verifies(receipt: unknown): Promise<string> {
    try {
      await verifyReceipt(receipt, trustOf(g!.gateway), ledgerReader(chain.provider));
      return "valid";
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  }

  it("after evm_revert: marks them lost, serves no receipt from them, and re-anchors 5, 9, 10 before the newer 12", async () => {
    await ingestAnchored(3);
    const snapshot = await chain.rpc<string>("evm_snapshot");
    for (const count of [2, 4, 1]) await ingestAnchored(count);
    const before = await recorded();
    expect(before.map((c) => c.treeSize)).to.deep.equal([3, 5, 9, 10]);
    const receipts = await Promise.all([4, 8, 9].map((i) => waitForReceipt(g!.url, g!.keys.auditor.key, i)));

    // Drive the anchorer pass by pass, to see each step.
    const anchorer = g!.gateway.anchorer;
    await anchorer.stop();
    expect(await chain.rpc("evm_revert", [snapshot])).to.equal(true);
    expect(await Promise.all(receipts.map(verifies))).to.deep.equal(["ROOT_NOT_ANCHORED", "ROOT_NOT_ANCHORED", "ROOT_NOT_ANCHORED"]);
    const newer = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { events: makeEvents(2) } });
    expect(newer.status).to.equal(201);

    const order: number[] = [];
    for (let pass = 0; pass < 200; pass++) {
      await anchorer.runOnce();
      const status = anchorer.status();
      if (pass === 0) {
        expect((await recorded()).filter((c) => c.lost).map((c) => c.treeSize), "marked lost").to.deep.equal([5, 9, 10]);
        expect(status.anchoredSize, "the chain holds 3 leaves").to.equal(3);
        const pending = await g!.api("GET", "/v1/receipts/4", { key: g!.keys.auditor.key });
        expect(pending.status, "no receipt from a lost checkpoint").to.equal(202);
      }
      if (status.inflight && order.at(-1) !== status.inflight.treeSize) order.push(status.inflight.treeSize);
      if (!status.inflight && status.anchoredSize === 12) break;
      await sleep(10);
    }
    expect(order, "anchors sent after the loss, in order").to.deep.equal([5, 9, 10, 12]);

    const onChain = await anchoredOnChain(chain, log.logId);
    expect(onChain.map((c) => [c.treeSize, c.previousTreeSize])).to.deep.equal([[3, 0], [5, 3], [9, 5], [10, 9], [12, 10]]);
    const roots = new Map(onChain.map((c) => [c.treeSize, c.rootHash]));
    for (const c of before) expect(roots.get(c.treeSize), `root of ${c.treeSize}`).to.equal(c.rootHash);
    expect((await recorded()).filter((c) => c.lost)).to.deep.equal([]);
    expect(await Promise.all(receipts.map(verifies))).to.deep.equal(["valid", "valid", "valid"]);
  });

  it("after anvil_rollback while anchoring runs: the lost suffix comes back first, then the newer events", async () => {
    for (const count of [2, 3, 3]) await ingestAnchored(count);
    const before = await recorded();
    expect(before.map((c) => c.treeSize)).to.deep.equal([2, 5, 8]);
    const receipt = await waitForReceipt(g!.url, g!.keys.auditor.key, 7);
    // Automine: one block per anchor, so two blocks hold the checkpoints of 5 and 8.
    await chain.rpc("anvil_rollback", [2]);
    await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { events: makeEvents(4) } });
    await waitFor("everything anchored again", () => {
      const s = g!.gateway.anchorer.status();
      return s.anchoredSize === 12 && !s.inflight ? true : undefined;
    });
    const sizes = (await anchoredOnChain(chain, log.logId)).map((c) => c.treeSize);
    expect(sizes).to.deep.equal([2, 5, 8, 12]);
    const roots = new Map((await anchoredOnChain(chain, log.logId)).map((c) => [c.treeSize, c.rootHash]));
    for (const c of before) expect(roots.get(c.treeSize), `root of ${c.treeSize}`).to.equal(c.rootHash);
    expect(await verifies(receipt)).to.equal("valid");
    const alerts = (await g!.api("GET", "/v1/alerts?kind=anchoring&limit=50", { key: g!.keys.admin.key })).body.alerts as { ruleId: string; message: string }[];
    expect(alerts.map((a) => a.ruleId)).to.include("reorganised");
  });
});
