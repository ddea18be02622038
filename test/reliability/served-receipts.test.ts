/**
 * A receipt the gateway served stays verifiable: the embedded chain (Anvil, state
 * saved to its file about once a second) is killed with SIGKILL right after receipts
 * are served, again and again. The gateway starts it again on the same state file and
 * port; right after each restart every receipt ever served must verify against the
 * chain, as `ledger verify` checks it.
 *
 * The real failure is the chain process dying, not the gateway, so only Anvil is
 * killed: the gateway (a child process, as `npm start` runs it) must notice, bring
 * its chain back and keep every served checkpoint anchored.
 *
 * Some kills wait a random part of a second after the receipts, so that they also
 * land while Anvil writes its state file; every tenth kill also cuts the state file
 * short, as a kill in the middle of Anvil's in-place write does (too rare to wait for).
 * ANVIL_KILLS (default 30) and ANVIL_KILL_SEED set the number of kills and the seed.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { anvilPidsFor, makeEvents, makeTempDir, removeDir, request, rpcAnswers, sleep, waitFor } from "../support/gateway-harness";
import { spawnGateway, type ChildGateway } from "../support/child-gateway";
import { seededRandom } from "../support/seeded-random";
import { connectProvider } from "../../server/chain/provider";
import { ledgerReader } from "../../server/chain/ledger-reader";
import { verifyReceipt } from "../../server/receipts/verify-receipt";
import { ReceiptError } from "../../server/receipts/receipt-error";
import { parseLogList, type TrustAnchor } from "../../server/receipts/trust-anchor";

/** The one call of `ledger verify`'s check in this test: "" when valid, else the error code and reason. */
async function verifyServed(receipt: unknown, trust: TrustAnchor, rpcUrl: string): Promise<string> {
  const provider = connectProvider(rpcUrl, { timeoutMs: 15_000 });
  try {
    await verifyReceipt(receipt, trust, ledgerReader(provider));
    return "";
  } catch (error) {
    if (error instanceof ReceiptError) return `${error.code}: ${error.message}`;
    throw error;
  } finally {
    provider.destroy();
  }
}

/** Polls GET /v1/receipts/:index every 20 ms, so the kill follows the first answer closely. */
async function receiptAsSoonAsServed(g: ChildGateway, key: string, index: number, timeoutMs = 20_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await request(g.url, "GET", `/v1/receipts/${index}`, { key });
    if (answer.status === 200) return answer.body;
    if (answer.status !== 202) throw new Error(`GET /v1/receipts/${index} answered ${answer.status}: ${answer.text}`);
    if (Date.now() > deadline) throw new Error(`no receipt for event ${index} within ${timeoutMs} ms: ${answer.text}\n${g.output().slice(-3000)}`);
    await sleep(20);
  }
}

describe("reliability: the embedded chain killed right after receipts are served", function () {
  const kills = Number(process.env.ANVIL_KILLS ?? 30);
  const seed = Number(process.env.ANVIL_KILL_SEED ?? Date.now() % 1_000_000);
  this.timeout(60_000 + kills * 10_000);

  let dataDir: string;
  let g: ChildGateway | undefined;

  after(async () => {
    await g?.stop().catch(() => undefined);
    if (dataDir) removeDir(dataDir);
  });

  it(`keeps every receipt ever served verifiable across ${kills} kills of Anvil`, async () => {
    const random = seededRandom(seed);
    const started = Date.now();
    dataDir = makeTempDir("ledger-served-receipts-");
    g = await spawnGateway({ dataDir, env: { CHECKPOINT_MAX_AGE_MS: "100", ANCHOR_POLL_MS: "50", ANCHOR_MAX_BACKOFF_MS: "300" } });
    const gateway = g;
    const auditor = gateway.keys.auditor.key;
    const rpcUrl: string = (await gateway.api("GET", "/v1/status", { key: gateway.keys.admin.key })).body.log.rpcUrl;
    // The gateway's own log, as a verifier saves it with `ledger log-list` before anything happens.
    const trust: TrustAnchor = parseLogList((await gateway.api("GET", "/v1/log-list")).body, "the gateway's log list");
    const served = new Map<number, unknown>();
    let delayedKills = 0;
    let tornWrites = 0;

    for (let round = 0; round < kills; round++) {
      const answer = await gateway.api("POST", "/v1/events", { key: gateway.keys.submitter.key, json: { events: makeEvents(2) } });
      expect(answer.status, answer.text).to.equal(201);
      const indices = (answer.body.events as { index: number }[]).map((r) => r.index);
      for (const index of indices) served.set(index, await receiptAsSoonAsServed(gateway, auditor, index));

      const [pid] = anvilPidsFor(dataDir);
      expect(pid, "the gateway's Anvil").to.be.a("number");
      // Most kills follow the receipts at once; some land later, within Anvil's second between state writes.
      if (round % 3 === 2) {
        delayedKills += 1;
        await sleep(Math.floor(random() * 1_000));
      }
      process.kill(pid!, "SIGKILL");
      if (round % 10 === 9) {
        tornWrites += 1;
        const stateFile = path.join(dataDir, "chain", "anvil-state.json");
        const text = readFileSync(stateFile, "utf8");
        writeFileSync(stateFile, text.slice(0, Math.floor(text.length / 2)));
      }
      await waitFor(`Anvil started again after kill ${round + 1}`, async () => {
        const [next] = anvilPidsFor(dataDir);
        return next !== undefined && next !== pid && (await rpcAnswers(rpcUrl, 500)) ? next : undefined;
      }, 20_000, 50).catch((error: Error) => {
        throw new Error(`${error.message}\n${gateway.output().slice(-3000)}`);
      });

      const failures: string[] = [];
      // The gateway's own log, as a verifier would have saved it with `ledger log-list` before any kill.
      for (const [index, receipt] of served) {
        const problem = await verifyServed(receipt, trust, rpcUrl);
        if (problem) failures.push(`event ${index}: ${problem}`);
      }
      expect(failures, `after kill ${round + 1} (seed ${seed}), receipts served earlier no longer verify`).to.deep.equal([]);
    }

    // The gateway's own audit agrees: every confirmed checkpoint is on chain with its root.
    const audit = await gateway.api("POST", "/v1/audit", { key: gateway.keys.admin.key });
    const job = await waitFor("the audit", async () => {
      const state = (await gateway.api("GET", `/v1/audit/${audit.body.job.id}`, { key: gateway.keys.admin.key })).body.job;
      return state.state === "running" ? undefined : state;
    }, 30_000);
    expect(job.report?.ok, JSON.stringify(job.report?.firstDivergence)).to.equal(true);
    const output = gateway.output();
    const count = (pattern: RegExp) => output.split("\n").filter((line) => pattern.test(line)).length;
    expect(count(/exited unexpectedly/), "the gateway saw every kill and started Anvil again").to.equal(kills);
    expect(count(/restored the copy/), "torn state files restored from the kept copy").to.equal(tornWrites);
    // Confirmation waited for the state file, so no restart lost a confirmed checkpoint (re-anchoring is for deeper losses).
    expect(count(/confirmed checkpoints vanished/), "confirmed checkpoints lost by a restart").to.equal(0);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `      Anvil killed ${kills} times with SIGKILL (${delayedKills} after a random delay, ${tornWrites} with the state file cut short, seed ${seed}); ${served.size} served receipts verified after every restart; ` +
        `${seconds} s`,
    );
  });
});
