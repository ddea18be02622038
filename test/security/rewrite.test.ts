/**
 * History cannot be rewritten unnoticed. Someone with write access to a stopped
 * gateway's database rewrites an anchored event — once alone, once together with
 * a consistently rebuilt Merkle tree — and the gateway is started again:
 *
 * - the anchorer compares the local tree with the chain's checkpoint and stops
 *   anchoring (state diverged, one critical alert); nothing is anchored over it;
 * - a receipt for the rewritten event does not verify (POST /v1/verify and against
 *   the chain), while the receipt issued before still verifies — for the original
 *   envelope, which differs from what the gateway now serves;
 * - the full audit (POST /v1/audit) reports the divergence.
 */
import { expect } from "chai";
import { Contract } from "ethers";
import { makeEvents, makeTempDir, removeDir, startTestGateway, waitFor, waitForReceipt, type TestGateway } from "../support/gateway-harness";
import { externalChainEnv, startTestChain, type RegisteredLog, type TestChain } from "../support/chain-harness";
import { canonicalBytes } from "../../server/domain/envelope";
import { hashLeaf, MerkleTreeStore } from "../../server/merkle";
import { indexKey, openStores } from "../../server/store/database";
import { LEDGER_ABI } from "../../server/chain/ledger-abi";

/** Rewrites record `index` (its purpose), and when `rebuildTree` also the whole tree to match. */
async function rewriteHistory(dataDir: string, index: number, rebuildTree: boolean): Promise<void> {
  const { db, records, close } = await openStores(dataDir);
  try {
    const envelope = JSON.parse(Buffer.from((await records.get(indexKey(index)))!).toString("utf8"));
    envelope.event.purpose = "a purpose that was never recorded";
    await records.put(indexKey(index), canonicalBytes(envelope));
    if (rebuildTree) {
      const treeDb = db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" });
      await treeDb.clear();
      const tree = await MerkleTreeStore.open(treeDb as never);
      const leaves: Uint8Array[] = [];
      for await (const value of records.values()) leaves.push(hashLeaf(value));
      await tree.append(leaves);
    }
  } finally {
    await close();
  }
}

describe("security: history rewritten on disk is noticed", function () {
  this.timeout(120_000);

  let chain: TestChain;
  before(async () => {
    chain = await startTestChain();
  });
  after(async () => {
    await chain?.stop();
  });

  for (const rebuildTree of [false, true]) {
    it(rebuildTree ? "an event rewritten together with a rebuilt tree: the anchorer diverges, receipts fail, the audit reports it" : "an event rewritten alone: its receipt fails and the audit reports it", async () => {
      const log: RegisteredLog = await chain.registerLog();
      const dataDir = makeTempDir("ledger-rewrite-");
      const env = { ...externalChainEnv(chain.rpcUrl, chain.contract, log), ANCHOR_MAX_BACKOFF_MS: "500" };
      let g: TestGateway | undefined = await startTestGateway({ dataDir, env });
      try {
        expect((await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(10) } })).status).to.equal(201);
        const before = await waitForReceipt(g.url, g.keys.auditor.key, 3);
        await waitFor("everything anchored", async () => ((await g!.api("GET", "/v1/status", { key: g!.keys.admin.key })).body.anchoring.anchoredSize === 10 ? true : undefined));
        await g.stop();

        await rewriteHistory(dataDir, 3, rebuildTree);
        g = await startTestGateway({ dataDir, env });
        const { admin, auditor } = g.keys;

        // What the gateway now serves differs from the envelope the old receipt holds…
        const served = (await g.api("GET", "/v1/events/3", { key: auditor.key })).body.envelope;
        expect(served.event.purpose).to.equal("a purpose that was never recorded");
        expect(before.entry.envelope.event.purpose).to.not.equal(served.event.purpose);
        // …the old receipt still verifies (the chain holds the original root), the new one does not.
        expect((await g.api("POST", "/v1/verify", { key: auditor.key, json: before })).body.valid).to.equal(true);
        const after = await g.api("GET", "/v1/receipts/3", { key: auditor.key });
        const verdict = await g.api("POST", "/v1/verify", { key: auditor.key, json: after.body });
        expect(verdict.body.valid, JSON.stringify(verdict.body)).to.equal(false);

        if (rebuildTree) {
          // The anchorer compares its tree with the chain at the next anchor, and stops.
          expect((await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(2) } })).status).to.equal(201);
          const diverged = await waitFor("state diverged", async () => {
            const a = (await g!.api("GET", "/v1/status", { key: admin.key })).body.anchoring;
            return a.state === "diverged" ? a : undefined;
          });
          expect(diverged.lastError).to.match(/root/);
          const alerts = (await g.api("GET", "/v1/alerts?kind=anchoring", { key: admin.key })).body.alerts.filter((a: { ruleId: string }) => a.ruleId === "diverged");
          expect(alerts).to.have.length(1);
          expect(alerts[0].severity).to.equal("critical");
          const latest = await new Contract(chain.contract, LEDGER_ABI, chain.provider).latest(log.logId);
          expect(Number(latest[0]), "nothing anchored over the rewritten history").to.equal(10);
        }

        const started = await g.api("POST", "/v1/audit", { key: auditor.key });
        const job = await waitFor("the audit", async () => {
          const answer = await g!.api("GET", `/v1/audit/${started.body.job.id}`, { key: auditor.key });
          return answer.body.job.state === "running" ? undefined : answer.body.job;
        }, 60_000, 200);
        expect(job.report.ok, JSON.stringify(job.report).slice(0, 1000)).to.equal(false);
        expect(job.report.firstDivergence.kind).to.be.oneOf(rebuildTree ? ["checkpoint-mismatch"] : ["leaf-altered", "checkpoint-mismatch"]);
      } finally {
        await g?.stop();
        removeDir(dataDir);
      }
    });
  }
});
