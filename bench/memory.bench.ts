/**
 * Memory: the gateway's resident set (VmRSS of its process, sampled from /proc; its Anvil
 * not counted) while 2,000,000 events are ingested over HTTP in batches. Bounded means it
 * does not grow with the log: the peak over the second half of the run is compared with
 * the peak over the first half, and with the RSS once warmed up.
 */
import { formatCount, median, perSecond, progress, type BenchOptions } from "./common";
import { eventFactory } from "./events";
import { Client, memoryOf, startGatewayChild, type GatewayStatus } from "./gateway";

const SUITE = "memory";
const BATCH = 1_000;
const CLIENTS = 4;
const MB = 1024 * 1024;
/** Distinct request bodies, reused with a fresh requestId prefix on every pass. */
const TEMPLATES = 64;
const PLACEHOLDER = "@@";
/** How long one request may be asked to retry later before the run fails. */
const RETRY_LIMIT_MS = 300_000;

export async function memoryBench({ quick, report }: BenchOptions): Promise<void> {
  const total = quick ? 100_000 : 2_000_000;
  const requests = total / BATCH;
  const make = eventFactory(PLACEHOLDER, 11);
  const templates = Array.from({ length: TEMPLATES }, (_, t) =>
    JSON.stringify({ events: Array.from({ length: BATCH }, (_, i) => make(t * BATCH + i)) }),
  );

  // A stop with a backlog of unindexed events takes long; the data is thrown away anyway.
  const gateway = await startGatewayChild("memory", { stopGraceMs: 5_000 });
  const client = new Client(gateway.url, CLIENTS);
  const samples: { acknowledged: number; rss: number }[] = [];
  let acknowledged = 0;
  let retries = 0;
  const sample = () => {
    try {
      samples.push({ acknowledged, rss: memoryOf(gateway.pid).rss });
    } catch {
      // the process is gone; the send loop reports why
    }
  };
  const sampler = setInterval(sample, 200);
  try {
    sample();
    const startupRss = samples[0]!.rss;
    let next = 0;
    let lastProgress = performance.now();
    const started = performance.now();
    const worker = async () => {
      while (next < requests) {
        const n = next++;
        // Pass p of the templates gets requestIds "<p>-…", so every event is new.
        const body = templates[n % TEMPLATES]!.replaceAll(`"${PLACEHOLDER}-`, `"m${Math.floor(n / TEMPLATES)}-`);
        // A well-behaved client: when the gateway's backlog is full (503, Retry-After: 1) it waits and resends.
        let answer = await client.request("POST", "/v1/events", gateway.keys.submitter, body);
        for (let waited = 0; answer.status === 503 && waited < RETRY_LIMIT_MS; waited += 1_000) {
          retries += 1;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          answer = await client.request("POST", "/v1/events", gateway.keys.submitter, body);
        }
        if (answer.status !== 201) throw new Error(`POST /v1/events: HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
        acknowledged += BATCH;
        if (performance.now() - lastProgress > 10_000) {
          lastProgress = performance.now();
          progress(`${SUITE}: ${formatCount(acknowledged)} / ${formatCount(total)} events, gateway RSS ${Math.round(memoryOf(gateway.pid).rss / MB)} MB`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, worker));
    const elapsed = performance.now() - started;
    sample();
    const { peak } = memoryOf(gateway.pid);
    clearInterval(sampler);

    const warmFrom = total * 0.05;
    const warm = median(samples.filter((s) => s.acknowledged >= warmFrom && s.acknowledged < warmFrom * 2).map((s) => s.rss));
    const firstHalf = Math.max(...samples.filter((s) => s.acknowledged <= total / 2).map((s) => s.rss));
    const secondHalf = Math.max(...samples.filter((s) => s.acknowledged > total / 2).map((s) => s.rss));
    const growth = secondHalf / firstHalf;
    progress(`${SUITE}: startup ${Math.round(startupRss / MB)} MB, warm ${Math.round(warm / MB)} MB, peak first half ${Math.round(firstHalf / MB)} MB, second half ${Math.round(secondHalf / MB)} MB, VmHWM ${Math.round(peak / MB)} MB`);
    report.add({
      suite: SUITE,
      metric: `gateway peak RSS (VmHWM) while ingesting ${formatCount(total)} events`,
      value: Math.round(peak / MB),
      unit: "MB",
      baseline: `${Math.round(warm / MB)} MB once warm (${formatCount(warmFrom)}–${formatCount(warmFrom * 2)} events); ${Math.round(startupRss / MB)} MB at startup`,
      ratio: peak / warm,
      note: `${samples.length} samples; ingest ran at ${Math.round(perSecond(total, elapsed))} events/s with ${CLIENTS} clients × ${formatCount(BATCH)} events/request; ${formatCount(retries)} answers were 503 (backlog full) and resent after 1 s`,
    });
    report.add({
      suite: SUITE,
      metric: `peak RSS over the 2nd half of the log ÷ over the 1st half (${formatCount(total / 2)} events each)`,
      value: Math.round(secondHalf / MB),
      unit: "MB",
      baseline: `${Math.round(firstHalf / MB)} MB peak over the 1st half`,
      ratio: growth,
      // A quick run is too short to be past warm-up (JIT, heap sizing): reported, not judged.
      floor: quick ? "≤ 1.25x (judged in full runs)" : "≤ 1.25x (does not grow with the log)",
      ok: quick ? undefined : growth <= 1.25,
    });
    report.add({
      suite: SUITE,
      metric: `ingest rate during the memory run (${CLIENTS} clients, ${formatCount(BATCH)} events/request, pausing only when asked to retry)`,
      value: Math.round(perSecond(total, elapsed)),
      unit: "events/s",
      note: "no baseline: see the ingest suite for the paired figure",
    });
    // What the gateway managed to do in the background meanwhile: its receipts need anchoring.
    const status = await client.json<GatewayStatus>("GET", "/v1/status", gateway.keys.admin);
    const { anchoredSize, treeSize } = status.anchoring;
    report.add({
      suite: SUITE,
      metric: `backlog when the last of ${formatCount(total)} events was acknowledged: anchored`,
      value: anchoredSize,
      unit: "events",
      baseline: `${formatCount(total)} acknowledged; ${formatCount(status.indexedEvents)} indexed, ${formatCount(treeSize)} folded into the tree`,
      ratio: anchoredSize / total,
      note: "events without an anchored checkpoint have no receipt yet",
    });
  } finally {
    clearInterval(sampler);
    client.close();
    await gateway.stop();
  }
}
