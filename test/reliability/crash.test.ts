/**
 * Crash safety: the gateway process is killed with SIGKILL again and again — at
 * random moments under concurrent load, during start-up, and at exact points
 * injected into the real code (a batch durably written but not yet answered, leaves
 * folded into the tree, a signed anchor transaction stored but not broadcast, one
 * broadcast but not confirmed, a checkpoint recorded) — and started again on the
 * same data directory each time. After every kill, straight from LevelDB and the
 * chain:
 *
 * - every acknowledged event is present at its acknowledged index, unchanged;
 * - no record seen before has changed or gone (history is never rewritten);
 * - the stored tree equals the tree recomputed from the records;
 * - every checkpoint recorded locally or anchored on chain has the recomputed root,
 *   and none covers more leaves than are stored;
 * - no checkpoint was anchored twice: one CheckpointAnchored per size, no two mined
 *   anchor transactions for the same checkpoint, no anchor transaction reverted.
 *
 * Events sent without an answer are sent again after the restart (same requestId)
 * and must be answered idempotently. At the end a clean run anchors everything and
 * the gateway's own full audit (POST /v1/audit) finds the ledger intact.
 *
 * The chain is an Anvil run by the test (external chain mode), so it outlives the
 * kills; some rounds mine on an interval (automine off) with two confirmations, so
 * kills also land while an anchor is in the pool. A second test does the same with
 * the embedded chain, whose orphaned Anvil the next start must stop cleanly.
 *
 * CRASH_KILLS (default 14) and CRASH_SEED set the number of kills and the seed
 * (scripts/soak.ts runs many more).
 */
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { anvilPidsFor, makeTempDir, removeDir, sleep, waitFor } from "../support/gateway-harness";
import { externalChainEnv, startTestChain, type RegisteredLog, type TestChain } from "../support/chain-harness";
import { spawnGateway, type ChildGateway } from "../support/child-gateway";
import { checkLedger } from "../support/ledger-inspection";
import { between, newBooks, retryUnanswered, runLoad, seededRandom, type LoadBooks, type Random } from "../support/load-clients";
import type { CrashPoint } from "../support/crash-injector";

type KillKind = "random" | "startup" | CrashPoint;

const INJECTOR = "test/support/crash-injector.ts";
const KINDS: KillKind[] = ["random", "log-written", "anchor-broadcast", "random", "inflight-saved", "tree-appended", "startup", "checkpoint-confirmed", "random", "log-written", "anchor-broadcast"];

interface RoundReport {
  kind: KillKind;
  injected: boolean;
  mining: "auto" | "interval";
}

describe("reliability: SIGKILL at random and injected moments, restart, nothing lost", function () {
  const kills = Number(process.env.CRASH_KILLS ?? 14);
  this.timeout(120_000 + kills * 20_000);

  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  let chain: TestChain;
  let log: RegisteredLog;
  let dataDir: string;
  let gateway: ChildGateway | undefined;
  let miner: NodeJS.Timeout | undefined;

  before(async () => {
    chain = await startTestChain();
    log = await chain.registerLog("crash test log");
    dataDir = makeTempDir("ledger-crash-");
  });

  after(async () => {
    if (miner) clearInterval(miner);
    await gateway?.kill();
    await chain?.stop();
    removeDir(dataDir);
  });

  it(`keeps every acknowledged event, the tree and the chain consistent across ${kills} kills (external chain)`, async () => {
    const random = seededRandom(seed);
    const books = newBooks();
    const history = new Map<number, string>();
    const rounds: RoundReport[] = [];
    let submitter = { key: "", id: "" };
    let eventsChecked = 0;

    const start = (env: Record<string, string> = {}, onSpawn?: (child: ChildProcess) => void) =>
      spawnGateway({ dataDir, env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), ...env }, preload: [INJECTOR], onSpawn });

    for (let round = 0; round < kills; round++) {
      const kind: KillKind = round === 0 ? "log-written" : KINDS[round % KINDS.length]!;
      const mining: RoundReport["mining"] = round % 3 === 2 ? "interval" : "auto";
      await setMining(chain, mining);
      miner = mining === "interval" ? setInterval(() => void chain.rpc("evm_mine").catch(() => undefined), 250) : undefined;
      const env: Record<string, string> = { CONFIRMATIONS: mining === "interval" ? "2" : "1" };
      if (kind !== "random" && kind !== "startup") Object.assign(env, { CRASH_POINT: kind, CRASH_ON_HIT: String(between(random, 1, 4)) });

      let injected = false;
      if (kind === "startup") {
        // Killed at a random moment of its start, whether it is listening yet or not.
        let child: ChildProcess | undefined;
        const starting = start(env, (c) => (child = c));
        await sleep(between(random, 200, 3_000));
        child!.kill("SIGKILL");
        await starting.then((g) => g.exited, () => undefined);
      } else {
        gateway = await start(env);
        if (round === 0) submitter = { key: gateway.keys.submitter.key, id: gateway.keys.submitter.record.id };
        const p = { url: gateway.url, key: submitter.key, submitterId: submitter.id, books, timeoutMs: 10_000 };
        await retryUnanswered(p);
        const load = runLoad({ ...p, clients: 6, maxBatch: 10, random, giveUpAfter: 3, pauseMs: 20 });
        if (kind === "random") {
          await sleep(between(random, 200, 1_500));
          await gateway.kill();
        } else {
          // Wait for the injected kill; if the point is not reached in time, kill from outside.
          const exited = await Promise.race([gateway.exited.then(() => true), sleep(15_000).then(() => false)]);
          if (!exited) await gateway.kill();
          injected = gateway.output().includes(`crash-injector: SIGKILL at ${kind}`);
        }
        await load.stop();
        expect(gateway.alive()).to.equal(false);
      }
      if (miner) clearInterval(miner);
      miner = undefined;
      rounds.push({ kind, injected, mining });

      const check = await checkLedger({ dataDir, chain, log, acknowledged: books.acknowledged.values(), history });
      eventsChecked += check.acknowledgedChecked;
      expect(check.problems, `after kill ${round + 1} (${kind}, seed ${seed}):\n${check.problems.join("\n")}`).to.deep.equal([]);
      expect(books.unexpected, `unexpected answers (seed ${seed})`).to.deep.equal([]);
      expect(check.anchorTransactions.filter((t) => t.status !== 1), "no anchor transaction reverted").to.deep.equal([]);
    }

    // A clean run: everything sent is answered, anchored and audited.
    await setMining(chain, "auto");
    gateway = await start();
    const p = { url: gateway.url, key: submitter.key, submitterId: submitter.id, books, timeoutMs: 30_000 };
    await retryUnanswered(p);
    expect(books.unanswered.size, "every event sent was eventually answered").to.equal(0);
    const admin = gateway.keys.admin.key;
    const logSize = (await gateway.api("GET", "/v1/status", { key: admin })).body.anchoring.logSize as number;
    await waitFor("everything anchored", async () => {
      const status = (await gateway!.api("GET", "/v1/status", { key: admin })).body.anchoring;
      return status.anchoredSize === logSize && !status.inflight ? status : undefined;
    }, 60_000);
    const audit = await runGatewayAudit(gateway, admin);
    expect(audit.ok, JSON.stringify(audit).slice(0, 2000)).to.equal(true);
    expect(audit.eventsChecked).to.equal(logSize);
    // The query indexes survived the kills too: every event is found exactly once, and counted once.
    const listed = await listAllEvents(gateway, admin, logSize);
    expect(listed.length, "events found by GET /v1/events").to.equal(logSize);
    expect(new Set(listed).size).to.equal(logSize);
    expect((await gateway.api("GET", "/v1/stats?from=2000-01-01&to=2100-01-01", { key: admin })).body.total, "GET /v1/stats total").to.equal(logSize);
    await gateway.stop();

    const final = await checkLedger({ dataDir, chain, log, acknowledged: books.acknowledged.values(), history });
    eventsChecked += final.acknowledgedChecked;
    expect(final.problems, final.problems.join("\n")).to.deep.equal([]);
    expect(final.events).to.equal(logSize);
    expect(final.chainAnchors.at(-1)?.treeSize, "the chain's latest checkpoint covers the whole log").to.equal(logSize);
    const acknowledgedIndices = new Set([...books.acknowledged.values()].map((a) => a.index));
    expect(acknowledgedIndices.size, "each acknowledged event has its own index").to.equal(books.acknowledged.size);

    const byKind = new Map<string, number>();
    for (const r of rounds) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
    const missed = rounds.filter((r) => r.kind !== "random" && r.kind !== "startup" && !r.injected).length;
    console.log(
      `      crash: ${rounds.length} kills (${[...byKind].map(([k, n]) => `${n} ${k}`).join(", ")}${missed ? `; ${missed} injected points not reached, killed from outside` : ""}), ` +
        `${eventsChecked} acknowledged-event checks over ${books.acknowledged.size} events (log ${final.events}, ${final.chainAnchors.length} checkpoints on chain; ` +
        `${books.storedUnanswered} events stored but unanswered at a kill, found again by their requestId), seed ${seed}`,
    );
  });

  it("does the same with the embedded chain: each start stops the orphaned Anvil, whose state survives", async () => {
    const embeddedDir = makeTempDir("ledger-crash-embedded-");
    const random = seededRandom(seed + 1);
    const books = newBooks();
    const history = new Map<number, string>();
    let g: ChildGateway | undefined;
    try {
      const embeddedKills = 2;
      let submitter = { key: "", id: "" };
      for (let round = 0; round < embeddedKills; round++) {
        g = await spawnGateway({ dataDir: embeddedDir, preload: [INJECTOR], env: round === 1 ? { CRASH_POINT: "anchor-broadcast", CRASH_ON_HIT: "2" } : {} });
        if (round === 0) submitter = { key: g.keys.submitter.key, id: g.keys.submitter.record.id };
        expect(anvilPidsFor(embeddedDir), "one Anvil for this data directory").to.have.length(1);
        const p = { url: g.url, key: submitter.key, submitterId: submitter.id, books, timeoutMs: 10_000 };
        await retryUnanswered(p);
        const load = runLoad({ ...p, clients: 4, maxBatch: 10, random, giveUpAfter: 3 });
        if (round === 1) await Promise.race([g.exited, sleep(15_000)]);
        else await sleep(between(random, 800, 2_000));
        await g.kill();
        await load.stop();
        // The orphaned Anvil still serves the chain; read it before the next start stops it.
        const embedded = await embeddedChainOf(embeddedDir);
        const check = await checkLedger({ dataDir: embeddedDir, chain: embedded.chain, log: embedded.log, acknowledged: books.acknowledged.values(), history });
        embedded.chain.provider.destroy();
        expect(check.problems, check.problems.join("\n")).to.deep.equal([]);
      }
      g = await spawnGateway({ dataDir: embeddedDir });
      expect(anvilPidsFor(embeddedDir)).to.have.length(1);
      await retryUnanswered({ url: g.url, key: submitter.key, submitterId: submitter.id, books });
      expect(books.unanswered.size).to.equal(0);
      const admin = g.keys.admin.key;
      const logSize = (await g.api("GET", "/v1/status", { key: admin })).body.anchoring.logSize as number;
      await waitFor("everything anchored", async () => {
        const status = (await g!.api("GET", "/v1/status", { key: admin })).body.anchoring;
        return status.anchoredSize === logSize && !status.inflight ? status : undefined;
      }, 60_000);
      // Killed once more, so the database can be read while the orphaned Anvil still serves the chain.
      await g.kill();
      const embedded = await embeddedChainOf(embeddedDir);
      const final = await checkLedger({ dataDir: embeddedDir, chain: embedded.chain, log: embedded.log, acknowledged: books.acknowledged.values(), history });
      embedded.chain.provider.destroy();
      expect(final.problems, final.problems.join("\n")).to.deep.equal([]);
      expect(final.chainAnchors.at(-1)?.treeSize).to.equal(logSize);
      console.log(`      crash (embedded chain): ${embeddedKills + 1} kills, ${books.acknowledged.size} acknowledged events checked (log ${final.events})`);
    } finally {
      await g?.kill();
      // The orphaned Anvil dumps its state on SIGTERM: wait for it to exit before removing the directory.
      for (const pid of anvilPidsFor(embeddedDir)) await stopProcess(pid);
      removeDir(embeddedDir);
    }
  });
});

async function setMining(chain: TestChain, mode: "auto" | "interval"): Promise<void> {
  await chain.rpc("evm_setAutomine", [mode === "auto"]);
  if (mode === "auto") await chain.rpc("evm_mine");
}

/** SIGTERM, then waits (bounded) for the process to be gone; SIGKILL after 10 s. */
async function stopProcess(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; alive() && waited < 10_000; waited += 50) await sleep(50);
  if (alive()) process.kill(pid, "SIGKILL");
  for (let waited = 0; alive() && waited < 5_000; waited += 50) await sleep(50);
}

/** Every event index GET /v1/events lists (paging with its cursor), once the index has caught up with the log. */
async function listAllEvents(gateway: ChildGateway, key: string, logSize: number): Promise<number[]> {
  await waitFor("the query index to catch up", async () => ((await gateway.api("GET", "/v1/status", { key })).body.indexedEvents === logSize ? true : undefined), 60_000);
  const indices: number[] = [];
  let cursor: string | null = "";
  for (let pages = 0; cursor !== null && pages < 10_000; pages++) {
    const answer = await gateway.api("GET", `/v1/events?limit=500${cursor ? `&cursor=${cursor}` : ""}`, { key });
    expect(answer.status, answer.text.slice(0, 300)).to.equal(200);
    indices.push(...answer.body.events.map((r: { index: number }) => r.index));
    cursor = answer.body.next;
  }
  return indices;
}

/** POST /v1/audit and poll the job until it is done; returns its report. */
export async function runGatewayAudit(gateway: ChildGateway, key: string): Promise<any> {
  const started = await gateway.api("POST", "/v1/audit", { key });
  expect(started.status, started.text).to.equal(202);
  const id = started.body.job.id as string;
  const job = await waitFor("the audit to finish", async () => {
    const answer = await gateway.api("GET", `/v1/audit/${id}`, { key });
    return answer.body.job.state === "running" ? undefined : answer.body.job;
  }, 120_000, 200);
  expect(job.state, JSON.stringify(job).slice(0, 1000)).to.equal("done");
  return job.report;
}

/** The embedded chain of a data directory, read through its (orphaned or running) Anvil. */
async function embeddedChainOf(dataDir: string): Promise<{ chain: TestChain; log: RegisteredLog }> {
  const deployment = JSON.parse(readFileSync(path.join(dataDir, "chain", "deployment.json"), "utf8")) as { contract: string; blockNumber: number; logId: string };
  const pid = Number(readFileSync(path.join(dataDir, "chain", "anvil.pid"), "utf8"));
  const port = portOfPid(pid);
  const rpcUrl = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  const anchorer = new Wallet(readFileSync(path.join(dataDir, "chain", "anchor-key"), "utf8").trim());
  const chain = { rpcUrl, port, contract: deployment.contract, deployBlock: deployment.blockNumber, provider, rpc: (m: string, params: unknown[] = []) => provider.send(m, params) } as unknown as TestChain;
  return { chain, log: { logId: deployment.logId, anchorerKey: anchorer.privateKey, anchorer: anchorer.address } };
}

/** The TCP port a process listens on (Linux /proc). */
function portOfPid(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length > 9 && parts[3] === "0A" && inodes.has(parts[9]!)) return parseInt(parts[1]!.split(":")[1]!, 16);
  }
  throw new Error(`no listening socket for pid ${pid}`);
}
