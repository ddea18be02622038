/**
 * Ingest over HTTP against the gateway running as a child process: batched requests
 * ({events: [1,000]}) and single-event POSTs from 32 concurrent clients (which only
 * group commit makes fast: one synced batch for every request waiting).
 *
 * Each round measures, one right after the other, with the same events:
 * 1. the storage floor: the same records written straight to LevelDB (synced batches);
 * 2. the HTTP floor: the same requests against a bare node:http server that parses the
 *    JSON and answers 201 (bench/http-floor-server.js);
 * 3. the framework floor: the same requests against the gateway's own HTTP app over a
 *    stub ledger (bench/http-app-stub.ts), so the ledger's own cost per request shows;
 * 4. the gateway; then how long it takes to index, fold and anchor what it acknowledged.
 */
import { randomBytes } from "node:crypto";
import { formatCount, median, percentile, perSecond, progress, type BenchOptions } from "./common";
import { prepareRecords, writeDirect } from "./direct-level";
import { eventFactory } from "./events";
import { Client, cpuTimeOf, sendAll, startGatewayChild, startHttpFloorServer, waitUntilSettled } from "./gateway";

const SUITE = "ingest";
const BATCH = 1_000;
const BATCH_CLIENTS = 4;
const SINGLE_CLIENTS = 32;

interface RoundResult {
  rate: number;
  directRate: number;
  floorRate: number;
  stubCpuUs?: number;
  endToEndRate: number;
  latencies: number[];
  cpuUs: number;
  directCpuUs: number;
  floorCpuUs: number;
  busy: number;
}

export async function ingestBench({ quick, report }: BenchOptions): Promise<void> {
  const rounds = quick ? 1 : 2;
  const batchedPerRound = quick ? 10_000 : 100_000;
  const singlePerRound = quick ? 3_000 : 30_000;
  const run = randomBytes(4).toString("hex");

  const floorServer = await startHttpFloorServer("bare");
  const floorClient = new Client(floorServer.url, SINGLE_CLIENTS);
  // Optional: it builds the gateway's app from server/api, whose parameters may change.
  const stubServer = await startHttpFloorServer("app").catch((error: Error) => {
    progress(`${SUITE}: no HTTP-app-stub baseline: ${error.message.split("\n")[0]}`);
    return undefined;
  });
  const stubClient = stubServer && new Client(stubServer.url, SINGLE_CLIENTS);
  const gateway = await startGatewayChild("ingest");
  const client = new Client(gateway.url, SINGLE_CLIENTS);
  try {
    const { submitter, admin } = gateway.keys;

    // Warm up both servers' JIT and the gateway's database (not measured).
    const warm = eventFactory(`warm-${run}`);
    const warmBatches = chunk(Array.from({ length: 5_000 }, (_, i) => warm(i)), BATCH).map((events) => JSON.stringify({ events }));
    const warmSingles = Array.from({ length: 1_000 }, (_, i) => JSON.stringify(warm(5_000 + i)));
    await sendAll(client, submitter, warmBatches, BATCH_CLIENTS);
    await sendAll(client, submitter, warmSingles, SINGLE_CLIENTS);
    await sendAll(floorClient, "none", [...warmBatches, ...warmSingles], BATCH_CLIENTS);
    if (stubClient) await sendAll(stubClient, "none", [...warmBatches, ...warmSingles], BATCH_CLIENTS);
    await waitUntilSettled(client, admin);

    for (const mode of ["batched", "single"] as const) {
      const perRound = mode === "batched" ? batchedPerRound : singlePerRound;
      const concurrency = mode === "batched" ? BATCH_CLIENTS : SINGLE_CLIENTS;
      // The direct baseline writes as many events per synced batch as the gateway can group:
      // a request's 1,000, or one event from each of the 32 clients.
      const directBatch = mode === "batched" ? BATCH : SINGLE_CLIENTS;
      const results: RoundResult[] = [];
      for (let round = 0; round < rounds; round++) {
        const tag = `${mode} round ${round + 1}/${rounds}`;
        const make = eventFactory(`${mode}-${run}-${round}`, round + 7);
        const events = Array.from({ length: perRound }, (_, i) => make(i));
        const bodies = mode === "batched" ? chunk(events, BATCH).map((e) => JSON.stringify({ events: e })) : events.map((e) => JSON.stringify(e));
        const records = prepareRecords(make, perRound, gateway.keys.submitterId);

        const direct = await writeDirect(records, directBatch);

        const floorCpuBefore = cpuTimeOf(floorServer.pid);
        let started = performance.now();
        await sendAll(floorClient, "none", bodies, concurrency);
        const floorMs = performance.now() - started;
        const floorCpuMs = cpuTimeOf(floorServer.pid) - floorCpuBefore;

        let stubCpuUs: number | undefined;
        if (stubServer && stubClient) {
          const before = cpuTimeOf(stubServer.pid);
          await sendAll(stubClient, "none", bodies, concurrency);
          stubCpuUs = ((cpuTimeOf(stubServer.pid) - before) * 1000) / perRound;
        }

        const cpuBefore = cpuTimeOf(gateway.pid);
        started = performance.now();
        const latencies = await sendAll(client, submitter, bodies, concurrency);
        const elapsed = performance.now() - started;
        const cpuMs = cpuTimeOf(gateway.pid) - cpuBefore;
        const settled = await waitUntilSettled(client, admin);
        const endToEndMs = performance.now() - started;

        const result: RoundResult = {
          rate: perSecond(perRound, elapsed),
          directRate: perSecond(perRound, direct.ms),
          floorRate: perSecond(perRound, floorMs),
          endToEndRate: perSecond(perRound, endToEndMs),
          latencies,
          cpuUs: (cpuMs * 1000) / perRound,
          directCpuUs: (direct.cpuMs * 1000) / perRound,
          floorCpuUs: (floorCpuMs * 1000) / perRound,
          stubCpuUs,
          busy: cpuMs / elapsed,
        };
        results.push(result);
        progress(
          `${SUITE}: ${tag}: ${formatCount(perRound)} events, ${concurrency} clients: gateway ${Math.round(result.rate)}/s ` +
            `(${result.cpuUs.toFixed(0)} µs CPU/event, ${Math.round(100 * result.busy)} % of a core), ` +
            `direct LevelDB ${Math.round(result.directRate)}/s, bare HTTP ${Math.round(result.floorRate)}/s` +
            (stubCpuUs === undefined ? "; " : `, HTTP app over a stub ledger ${stubCpuUs.toFixed(0)} µs CPU/event; `) +
            `indexed, folded and anchored ${(endToEndMs / 1000).toFixed(1)} s after the first request (log ${formatCount(settled.anchoring.logSize)})`,
        );
      }
      const m = (pick: (r: RoundResult) => number) => median(results.map(pick));
      const rate = m((r) => r.rate);
      const latencies = results.flatMap((r) => r.latencies);
      const floor = mode === "batched" ? 20_000 : 5_000;
      // Issue #4's floor for batches is also relative: at least a third of the direct LevelDB rate.
      const minRatio = mode === "batched" ? 1 / 3 : 0;
      const ratio = m((r) => r.rate / r.directRate);
      const what = mode === "batched" ? `batched, ${formatCount(BATCH)} events/request, ${BATCH_CLIENTS} clients` : `single-event POSTs, ${SINGLE_CLIENTS} clients`;
      report.add({
        suite: SUITE,
        metric: `HTTP ${what} (request p50 ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms)`,
        value: Math.round(rate),
        unit: "events/s",
        baseline: `${formatCount(Math.round(m((r) => r.directRate)))}/s same records straight to LevelDB (synced batches of ${directBatch})`,
        ratio,
        floor: minRatio > 0 ? `≥ ${formatCount(floor)}/s and ≥ ${minRatio.toFixed(2)}x` : `≥ ${formatCount(floor)}/s`,
        ok: rate >= floor && ratio >= minRatio,
        note: `${rounds} round(s) of ${formatCount(perRound)} events; rates per round ${results.map((r) => Math.round(r.rate)).join(", ")}`,
      });
      report.add({
        suite: SUITE,
        metric: `HTTP ${what}, vs a bare node:http server`,
        value: Math.round(rate),
        unit: "events/s",
        baseline: `${formatCount(Math.round(m((r) => r.floorRate)))}/s same requests, server only parses JSON and answers 201`,
        ratio: m((r) => r.rate / r.floorRate),
      });
      // CPU per event does not count waiting for a core, so it is the steadier figure on a
      // shared machine; it includes the gateway's background work meanwhile (indexing, folding, anchoring).
      const cpuUs = m((r) => r.cpuUs);
      const stub = results.every((r) => r.stubCpuUs !== undefined) ? m((r) => r.stubCpuUs!) : undefined;
      const otherFloors = `${m((r) => r.floorCpuUs).toFixed(1)} µs bare node:http; ${m((r) => r.directCpuUs).toFixed(1)} µs straight to LevelDB`;
      report.add({
        suite: SUITE,
        metric: `gateway CPU per event, ${mode} (all threads; ${formatCount(Math.round(1e6 / cpuUs))} events/s per core)`,
        value: Number(cpuUs.toFixed(1)),
        unit: "µs/event",
        baseline: stub === undefined ? otherFloors : `${stub.toFixed(1)} µs same HTTP app over a stub ledger; ${otherFloors}`,
        ratio: stub === undefined ? m((r) => r.cpuUs / r.directCpuUs) : m((r) => r.cpuUs / r.stubCpuUs!),
        note: stub === undefined ? "ratio against straight-to-LevelDB (the HTTP app stub did not start)" : "ratio against the HTTP app over a stub ledger",
      });
      report.add({
        suite: SUITE,
        metric: `${mode}: end to end, first request → all indexed, folded and anchored`,
        value: Math.round(m((r) => r.endToEndRate)),
        unit: "events/s",
        baseline: `${formatCount(Math.round(rate))}/s acknowledged`,
        ratio: m((r) => r.endToEndRate / r.rate),
      });
    }
  } finally {
    client.close();
    floorClient.close();
    stubClient?.close();
    await gateway.stop();
    await floorServer.stop();
    await stubServer?.stop();
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
