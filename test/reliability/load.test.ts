/**
 * Load: 32 department systems (each with its own submitter key) post events —
 * single ones and batches — concurrently for LOAD_SECONDS (default 30; the soak
 * script runs longer) against a gateway child process. Then:
 *
 * - every request was answered (no connection failure, no unexpected status);
 * - memory stayed bounded: the gateway's heap after a full GC (sampled every second
 *   by a preloaded probe) does not grow with the number of events stored;
 * - everything gets anchored, and the gateway's full audit (POST /v1/audit) finds
 *   the log, the tree, the checkpoints and the chain intact;
 * - read straight from LevelDB and the chain: every acknowledged event at its index,
 *   tree = recomputed tree, checkpoints consistent, none anchored twice.
 */
import { expect } from "chai";
import { makeTempDir, removeDir, sleep, waitFor } from "../support/gateway-harness";
import { externalChainEnv, startTestChain, type RegisteredLog, type TestChain } from "../support/chain-harness";
import { spawnGateway, type ChildGateway } from "../support/child-gateway";
import { checkLedger } from "../support/ledger-inspection";
import { newBooks, runLoad, seededRandom } from "../support/load-clients";

const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 32);
const MB = 1024 * 1024;

interface MemorySample {
  t: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

function memorySamples(output: string): MemorySample[] {
  return [...output.matchAll(/^memory-probe: (\{.*\})$/gm)].map((m) => JSON.parse(m[1]!) as MemorySample);
}

describe(`reliability: ${CLIENTS} clients ingesting for ${SECONDS} s`, function () {
  this.timeout(SECONDS * 1000 + 240_000);

  let chain: TestChain;
  let log: RegisteredLog;
  let dataDir: string;
  let g: ChildGateway | undefined;

  before(async () => {
    chain = await startTestChain();
    log = await chain.registerLog("load test log");
    dataDir = makeTempDir("ledger-load-");
    g = await spawnGateway({
      dataDir,
      env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), CHECKPOINT_MAX_AGE_MS: "1000", ANCHOR_POLL_MS: "250", MEMORY_PROBE_MS: "1000" },
      nodeArgs: ["--expose-gc"],
      preload: ["test/support/memory-probe.ts"],
    });
  });

  after(async () => {
    await g?.kill();
    await chain?.stop();
    removeDir(dataDir);
  });

  it("answers every request, keeps memory bounded, anchors everything, and the full audit finds it intact", async () => {
    const gateway = g!;
    const admin = gateway.keys.admin.key;
    const systems = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const answer = await gateway.api("POST", "/v1/keys", { key: admin, json: { name: `department system ${i}`, role: "submitter", jurisdiction: "330102000000" } });
        expect(answer.status, answer.text).to.equal(201);
        return { key: answer.body.key as string, id: answer.body.record.id as string };
      }),
    );
    const books = newBooks();
    const random = seededRandom(Number(process.env.LOAD_SEED ?? 7));
    const started = Date.now();
    const loads = systems.map((s) => runLoad({ url: gateway.url, key: s.key, submitterId: s.id, clients: 1, maxBatch: 20, random, books, timeoutMs: 60_000 }));
    await sleep(SECONDS * 1000);
    await Promise.all(loads.map((l) => l.stop()));
    const elapsed = (Date.now() - started) / 1000;

    expect(books.unexpected, "unexpected answers").to.deep.equal([]);
    expect(books.connectionFailures, "requests without an answer").to.equal(0);
    expect(books.unanswered.size).to.equal(0);
    const stored = books.acknowledged.size;

    const status = (await gateway.api("GET", "/v1/status", { key: admin })).body.anchoring;
    expect(status.logSize).to.equal(stored);
    await waitFor("everything anchored", async () => {
      const a = (await gateway.api("GET", "/v1/status", { key: admin })).body.anchoring;
      return a.anchoredSize === a.logSize && !a.inflight ? a : undefined;
    }, 120_000, 250);

    const auditStarted = Date.now();
    const started202 = await gateway.api("POST", "/v1/audit", { key: gateway.keys.auditor.key });
    expect(started202.status, started202.text).to.equal(202);
    const job = await waitFor("the full audit", async () => {
      const answer = await gateway.api("GET", `/v1/audit/${started202.body.job.id}`, { key: gateway.keys.auditor.key });
      return answer.body.job.state === "running" ? undefined : answer.body.job;
    }, 180_000, 250);
    const auditSeconds = (Date.now() - auditStarted) / 1000;
    expect(job.state, JSON.stringify(job).slice(0, 1000)).to.equal("done");
    expect(job.report.ok, JSON.stringify(job.report).slice(0, 2000)).to.equal(true);
    expect(job.report.eventsChecked).to.equal(stored);
    expect(job.report.chainChecked).to.equal(true);
    expect(job.report.checkpointsChecked).to.be.at.least(1);

    const stop = await gateway.stop();
    expect(stop.code, "a clean stop after the load").to.equal(0);

    // Memory: the heap after a full GC must not grow with the events stored.
    const samples = memorySamples(gateway.output()).filter((s) => s.t >= started && s.t <= started + elapsed * 1000);
    expect(samples.length, "memory samples during the load").to.be.at.least(Math.floor(SECONDS / 2));
    expect(samples.every((s) => s.gc), "the probe could run the GC").to.equal(true);
    const warm = samples.slice(Math.floor(samples.length / 4));
    const firstQuarter = Math.max(...warm.slice(0, Math.max(1, Math.floor(warm.length / 3))).map((s) => s.heapUsed));
    const lastQuarter = Math.max(...warm.slice(-Math.max(1, Math.floor(warm.length / 3))).map((s) => s.heapUsed));
    const maxRss = Math.max(...samples.map((s) => s.rss));
    console.log(
      `      load: ${stored} events from ${CLIENTS} clients in ${elapsed.toFixed(0)} s (${(stored / elapsed).toFixed(0)}/s, ${books.requests} requests); ` +
        `heap after GC ${(firstQuarter / MB).toFixed(0)} MB → ${(lastQuarter / MB).toFixed(0)} MB, max RSS ${(maxRss / MB).toFixed(0)} MB; ` +
        `${books.backpressure} answers asked to retry later; audit ${auditSeconds.toFixed(1)} s`,
    );
    expect(lastQuarter, "heap after GC at the end vs after warm-up").to.be.at.most(firstQuarter * 1.25 + 16 * MB);
    expect(maxRss, "resident memory").to.be.at.most(1024 * MB);

    const check = await checkLedger({ dataDir, chain, log, acknowledged: books.acknowledged.values() });
    expect(check.problems, check.problems.slice(0, 20).join("\n")).to.deep.equal([]);
    expect(check.acknowledgedChecked).to.equal(stored);
    expect(check.chainAnchors.at(-1)?.treeSize).to.equal(stored);
  });
});
