/**
 * Ingest while a full audit runs (issue 16, item 4): the audit makes way for
 * submissions as indexing does (server/log/ingest-priority.ts), so batched ingest
 * during an audit should stay near its rate without one.
 *
 * On a gateway child holding `preload` events (settled: indexed, folded, anchored),
 * each round, one right after the other:
 * 1. batched ingest alone (the baseline);
 * 2. a full audit started, then the same amount of batched ingest at once;
 * 3. once that audit is done, a full audit alone (its rate is the audit's baseline).
 * The ratio is 2 ÷ 1. Tests assert nothing about it; this reports it.
 */
import { randomBytes } from "node:crypto";
import { formatCount, median, perSecond, progress, type BenchOptions } from "./common";
import { eventFactory } from "./events";
import { Client, sendAll, startGatewayChild, waitUntilSettled } from "./gateway";

const SUITE = "audit";
const BATCH = 1_000;
const CLIENTS = 4;

interface AuditJob {
  id: string;
  state: "running" | "done" | "failed";
  processed: number;
  eventsPerSecond: number;
  report?: { ok: boolean; eventsChecked: number; durationMs: number };
  error?: string;
}

interface Round {
  alone: number;
  during: number;
  /** Whether the audit was still running when the ingest during it ended. */
  auditOutlasted: boolean;
  auditDuringMs: number;
  auditAloneRate: number;
}

export async function auditBench({ quick, report }: BenchOptions): Promise<void> {
  const rounds = quick ? 1 : 3;
  const preload = quick ? 50_000 : 300_000;
  const perRound = quick ? 20_000 : 50_000;
  const run = randomBytes(4).toString("hex");
  // One key starts every audit here: the per-key interval out of the way.
  const gateway = await startGatewayChild("audit", { env: { AUDIT_MIN_INTERVAL_MS: "1" } });
  const client = new Client(gateway.url, CLIENTS);
  const batches = (tag: string, count: number) => {
    const make = eventFactory(`${tag}-${run}`);
    const bodies: string[] = [];
    for (let i = 0; i < count; i += BATCH) bodies.push(JSON.stringify({ events: Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => make(i + j)) }));
    return bodies;
  };
  const ingest = async (bodies: string[]) => {
    const started = performance.now();
    await sendAll(client, gateway.keys.submitter, bodies, CLIENTS);
    return perSecond(bodies.length * BATCH, performance.now() - started);
  };
  const job = (id: string) => client.json<{ job: AuditJob }>("GET", `/v1/audit/${id}`, gateway.keys.admin).then((a) => a.job);
  const startAudit = async () => {
    const { job: started } = await client.json<{ job: AuditJob; started: boolean }>("POST", "/v1/audit", gateway.keys.admin);
    return started.id;
  };
  const finished = async (id: string) => {
    for (;;) {
      const state = await job(id);
      if (state.state !== "running") {
        if (state.state !== "done" || !state.report?.ok) throw new Error(`audit ${id} ended ${state.state}: ${state.error ?? JSON.stringify(state.report).slice(0, 300)}`);
        return state;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  try {
    progress(`${SUITE}: preloading ${formatCount(preload)} events`);
    await ingest(batches("preload", preload));
    await waitUntilSettled(client, gateway.keys.admin, 600_000);

    const results: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      const alone = await ingest(batches(`alone-${round}`, perRound));
      await waitUntilSettled(client, gateway.keys.admin, 600_000);

      const auditStarted = performance.now();
      const id = await startAudit();
      const during = await ingest(batches(`during-${round}`, perRound));
      const auditOutlasted = (await job(id)).state === "running";
      await finished(id);
      const auditDuringMs = performance.now() - auditStarted;
      await waitUntilSettled(client, gateway.keys.admin, 600_000);

      const soloId = await startAudit();
      const solo = await finished(soloId);
      const result: Round = { alone, during, auditOutlasted, auditDuringMs, auditAloneRate: solo.report!.eventsChecked / Math.max(1, solo.report!.durationMs / 1000) };
      results.push(result);
      progress(
        `${SUITE}: round ${round + 1}/${rounds}: batched ingest ${Math.round(alone)}/s alone, ${Math.round(during)}/s during an audit ` +
          `(${(during / alone).toFixed(2)}x; the audit ${auditOutlasted ? "still running when that ingest ended" : "ended before that ingest did"}, ${(auditDuringMs / 1000).toFixed(1)} s in all); ` +
          `an audit alone ${Math.round(result.auditAloneRate)} events/s (${formatCount(solo.report!.eventsChecked)} events)`,
      );
    }
    const m = (pick: (r: Round) => number) => median(results.map(pick));
    report.add({
      suite: SUITE,
      metric: `HTTP batched ingest (${formatCount(BATCH)} events/request, ${CLIENTS} clients) while a full audit of ≥ ${formatCount(preload)} events runs`,
      value: Math.round(m((r) => r.during)),
      unit: "events/s",
      baseline: `${formatCount(Math.round(m((r) => r.alone)))}/s the same ingest without an audit`,
      ratio: m((r) => r.during / r.alone),
      note: `${rounds} round(s) of ${formatCount(perRound)} events; ratios per round ${results.map((r) => (r.during / r.alone).toFixed(2)).join(", ")}; audit outlasted the ingest in ${results.filter((r) => r.auditOutlasted).length} of ${rounds}`,
    });
    report.add({
      suite: SUITE,
      metric: "full audit alone (made way for ingest in the rounds above)",
      value: Math.round(m((r) => r.auditAloneRate)),
      unit: "events/s",
      note: `wall time of the audits that ran during ingest: ${results.map((r) => `${(r.auditDuringMs / 1000).toFixed(1)} s`).join(", ")}`,
    });
  } finally {
    client.close();
    await gateway.stop();
  }
}
