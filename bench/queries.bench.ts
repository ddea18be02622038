/**
 * Queries and audit on a ledger of a million events, built in this process the way the
 * gateway builds it (EventLog.append in large batches, the EventIndexer catching up, the
 * tree folded from the log), with how long each step takes.
 *
 * - Queries: a mix of the API's filters for different principals, each page paired with
 *   its floor, a bare LevelDB read of as many records by key range.
 * - Audit: `runAudit` over the whole log, against the floor of reading every record and
 *   recomputing the root.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { MerkleTreeStore, appendToFrontier, hashLeaf, rootOfPerfectSubtrees, type MerkleStoreDb } from "../server/merkle";
import { pseudonymise } from "../server/domain/envelope";
import { EventLog } from "../server/log/event-log";
import { EventIndex } from "../server/query/event-index";
import { EventIndexer } from "../server/query/event-indexer";
import { queryEvents, parseEventQuery, type EventQueryContext } from "../server/query/event-query";
import { foldLogIntoTree } from "../server/tree/tree-folder";
import { openStores, indexKey, type OpenStores, type Stores } from "../server/store/database";
import type { Principal } from "../server/auth/key-store";
import { toHex } from "../server/hex";
import { formatCount, gc, median, percentile, perSecond, progress, tempDir, time, type BenchOptions } from "./common";
import {
  BENCH_LOG_ID,
  COUNTY,
  DATASETS,
  SUBJECTS,
  TOWNSHIPS,
  datasetOf,
  divisionOf,
  eventFactory,
  prng,
  subjectOf,
} from "./events";

const SUITE = "queries";
const SUBMITTER_ID = "0123456789ab";
const APPEND_BATCH = 10_000;
const LEDGER_SEED = 3;

function principal(role: Principal["role"], extra: Partial<Principal> = {}): Principal {
  return { id: `bench-${role}`, name: `bench ${role}`, role, createdAt: "2025-01-01T00:00:00.000Z", ...extra };
}

interface Built {
  stores: OpenStores;
  log: EventLog;
  index: EventIndex;
  indexer: EventIndexer;
  tree: MerkleTreeStore;
  subjectSecret: Uint8Array;
}

async function buildLedger(n: number, dir: string, report: BenchOptions["report"]): Promise<Built> {
  const stores = await openStores(dir);
  const { db } = stores;
  const subjectSecret = randomBytes(32);
  const log = await EventLog.open(stores, { logId: BENCH_LOG_ID });
  const make = eventFactory("ledger", LEDGER_SEED);

  let lastProgress = performance.now();
  const appendMs = await time(async () => {
    for (let from = 0; from < n; from += APPEND_BATCH) {
      const submissions = [];
      for (let i = from; i < Math.min(n, from + APPEND_BATCH); i++) submissions.push({ submitter: SUBMITTER_ID, event: pseudonymise(make(i), subjectSecret) });
      await log.append(submissions);
      if (performance.now() - lastProgress > 5_000) {
        lastProgress = performance.now();
        progress(`${SUITE}: appended ${formatCount(log.size)} / ${formatCount(n)} events`);
      }
    }
  });
  report.add({
    suite: SUITE,
    metric: `build: EventLog.append, ${formatCount(n)} events in batches of ${formatCount(APPEND_BATCH)} (event generation included)`,
    value: Math.round(perSecond(n, appendMs)),
    unit: "events/s",
    note: `${(appendMs / 1000).toFixed(1)} s`,
  });

  const index = new EventIndex(db);
  const indexer = new EventIndexer(log, index, [], pino({ level: "silent" }));
  const indexMs = await time(async () => {
    await indexer.start();
    const ticker = setInterval(() => progress(`${SUITE}: indexed ${formatCount(indexer.size)} / ${formatCount(n)} events`), 10_000);
    try {
      await indexer.caughtUp(n, 3_600_000);
    } finally {
      clearInterval(ticker);
    }
  });
  report.add({
    suite: SUITE,
    metric: `build: EventIndexer catching up on ${formatCount(n)} events (no observers)`,
    value: Math.round(perSecond(n, indexMs)),
    unit: "events/s",
    note: `${(indexMs / 1000).toFixed(1)} s`,
  });

  const tree = await MerkleTreeStore.open(db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as unknown as MerkleStoreDb);
  const foldMs = await time(() => foldLogIntoTree(log, tree));
  report.add({
    suite: SUITE,
    metric: `build: folding ${formatCount(n)} events into the tree`,
    value: Math.round(perSecond(n, foldMs)),
    unit: "events/s",
    note: `${(foldMs / 1000).toFixed(1)} s`,
  });
  progress(`${SUITE}: built ${formatCount(n)} events: append ${(appendMs / 1000).toFixed(1)} s, index ${(indexMs / 1000).toFixed(1)} s, fold ${(foldMs / 1000).toFixed(1)} s`);
  return { stores, log, index, indexer, tree, subjectSecret };
}

type QueryCase = readonly [kind: string, draw: () => [Principal, Record<string, string>]];

/** The query mix: for each kind, a function drawing a principal and a query at random. */
function queryMix(random: () => number, n: number, make: ReturnType<typeof eventFactory>): QueryCase[] {
  const int = (below: number) => Math.floor(random() * below);
  // Subjects and organisations of events that exist, as a citizen or an inspector would ask.
  const existing = () => make(int(n));
  const township = () => 1 + int(TOWNSHIPS);
  const day = () => new Date(Date.parse("2025-01-01T00:00:00Z") + int(335) * 86_400_000);
  return [
    ["regulator (township): newest events", () => [principal("regulator", { jurisdiction: divisionOf(township(), 0) }), {}]],
    ["admin: by organisation", () => [principal("admin"), { org: existing().actor.org }]],
    ["auditor: dataset and type", () => [principal("auditor"), { dataset: datasetOf(int(DATASETS)), type: "access" }]],
    ["admin: data subject", () => [principal("admin"), { subject: existing().subject ?? subjectOf(int(SUBJECTS)) }]],
    ["regulator (county): township, 30-day window", () => {
      const from = day();
      return [principal("regulator", { jurisdiction: COUNTY }), { division: divisionOf(township(), 0), from: from.toISOString(), to: new Date(from.getTime() + 30 * 86_400_000).toISOString() }];
    }],
    ["submitter: own events, page 2", () => [principal("submitter", { id: SUBMITTER_ID, jurisdiction: COUNTY }), { cursor: String(n - 50 - int(n / 2)) }]],
  ];
}

export async function queriesBench({ quick, report }: BenchOptions): Promise<void> {
  const n = quick ? 50_000 : 1_000_000;
  const perKind = quick ? 50 : 250;
  const { dir } = tempDir("queries");
  progress(`${SUITE}: building a ledger of ${formatCount(n)} events in ${dir}`);
  const built = await buildLedger(n, dir, report);
  const { stores, log, index, indexer, tree, subjectSecret } = built;
  try {
    // --- Queries -------------------------------------------------------------------------------
    const ctx: EventQueryContext = { index, log, indexedSize: indexer.size, subjectSecret };
    const records = stores.records;
    const random = prng(99);
    const mix = queryMix(random, n, eventFactory("ledger", LEDGER_SEED));
    const latencies: number[] = [];
    const baseline: number[] = [];
    const byKind = new Map<string, { ms: number[]; results: number[] }>();
    // Warm up (opening table files, JIT).
    for (let i = 0; i < 30; i++) {
      const [, draw] = mix[i % mix.length]!;
      const [who, query] = draw();
      await queryEvents(ctx, who, parseEventQuery(query));
    }
    progress(`${SUITE}: ${formatCount(perKind * mix.length)} queries (${mix.length} kinds) on ${formatCount(n)} events`);
    for (let i = 0; i < perKind * mix.length; i++) {
      const [kind, draw] = mix[i % mix.length]!;
      const [who, query] = draw();
      let started = performance.now();
      const page = await queryEvents(ctx, who, parseEventQuery(query));
      const elapsed = performance.now() - started;
      latencies.push(elapsed);
      const entry = byKind.get(kind) ?? { ms: [], results: [] };
      entry.ms.push(elapsed);
      entry.results.push(page.events.length);
      byKind.set(kind, entry);

      // The floor: as many records, newest first from a random point, by one key-range read.
      const below = 50 + Math.floor(random() * (n - 50));
      started = performance.now();
      let read = 0;
      for await (const value of records.values({ lt: indexKey(below), reverse: true, limit: Math.max(1, page.events.length) })) read += value.byteLength;
      baseline.push(performance.now() - started);
    }
    const kinds = [...byKind].map(([kind, { ms, results }]) => `${kind}: median ${median(ms).toFixed(2)} ms, p99 ${percentile(ms, 99).toFixed(2)} ms, ${median(results)} results`).join("; ");
    progress(`${SUITE}: ${kinds}`);
    report.add({
      suite: SUITE,
      metric: `query median, ${formatCount(latencies.length)} queries of ${mix.length} kinds on ${formatCount(n)} events (pages of up to 50)`,
      value: Number(median(latencies).toFixed(3)),
      unit: "ms",
      baseline: `${median(baseline).toFixed(3)} ms reading as many records by one LevelDB range`,
      ratio: median(latencies) / median(baseline),
      note: kinds,
    });
    report.add({
      suite: SUITE,
      metric: `query p99, same queries`,
      value: Number(percentile(latencies, 99).toFixed(3)),
      unit: "ms",
      baseline: `${percentile(baseline, 99).toFixed(3)} ms p99 of the range reads`,
      ratio: percentile(latencies, 99) / percentile(baseline, 99),
      note: `slowest kind by p99: ${[...byKind].sort((a, b) => percentile(b[1].ms, 99) - percentile(a[1].ms, 99))[0]![0]}`,
    });
    await indexer.stop();

    // --- Audit ---------------------------------------------------------------------------------
    await auditBench(n, stores, tree, report);
  } finally {
    await indexer.stop().catch(() => undefined);
    await stores.close();
  }
}

async function auditBench(n: number, stores: Stores, tree: MerkleTreeStore, report: BenchOptions["report"]): Promise<void> {
  let audit: typeof import("../server/audit/audit") | undefined;
  let sources: typeof import("../server/audit/sources") | undefined;
  try {
    audit = require("../server/audit/audit");
    sources = require("../server/audit/sources");
  } catch (error) {
    progress(`${SUITE}: server/audit cannot be loaded: ${(error as Error).message}`);
  }
  if (typeof audit?.runAudit !== "function" || typeof sources?.levelAuditLog !== "function" || typeof sources?.levelAuditTree !== "function") {
    report.add({ suite: SUITE, metric: `full audit of ${formatCount(n)} events`, value: "not available", unit: "", note: "server/audit has no runAudit / levelAuditLog / levelAuditTree export in this tree" });
    return;
  }

  // Checkpoints every 10,000 events, as if anchored; compared with the recomputed roots (no chain).
  const checkpoints: { treeSize: number; rootHash: string }[] = [];
  for (let size = 10_000; size <= n; size += 10_000) checkpoints.push({ treeSize: size, rootHash: toHex(await tree.root(size)) });
  const newestFirst = [...checkpoints].reverse();
  const checkpointSource = {
    async list({ beforeSize, limit }: { beforeSize?: number; limit: number }) {
      return newestFirst.filter((c) => beforeSize === undefined || c.treeSize < beforeSize).slice(0, limit);
    },
  };

  const floorRate: number[] = [];
  const auditRate: number[] = [];
  const rounds = 2;
  const raw = stores.records;
  const expectedRoot = toHex(await tree.root());
  for (let round = 0; round < rounds; round++) {
    gc();
    // The floor: read every record once, hash it, fold the root. No checks, no stored nodes.
    let floorRoot = "";
    const floorMs = await time(async () => {
      const frontier: Uint8Array[] = [];
      let size = 0;
      for await (const value of raw.values()) appendToFrontier(frontier, size++, hashLeaf(value));
      floorRoot = toHex(rootOfPerfectSubtrees(frontier));
    });
    if (floorRoot !== expectedRoot) throw new Error(`the floor's root ${floorRoot} differs from the tree's ${expectedRoot}`);
    gc();
    let result: Awaited<ReturnType<typeof audit.runAudit>> | undefined;
    const auditMs = await time(async () => {
      result = await audit!.runAudit({
        log: sources!.levelAuditLog(stores),
        tree: await sources!.levelAuditTree(stores.db, tree),
        checkpoints: checkpointSource,
        logId: BENCH_LOG_ID,
      });
    });
    if (!result!.ok || result!.eventsChecked !== n) {
      throw new Error(`the audit of an intact ledger failed: ok ${result!.ok}, ${result!.eventsChecked} events checked, first divergence ${JSON.stringify(result!.firstDivergence)}`);
    }
    floorRate.push(perSecond(n, floorMs));
    auditRate.push(perSecond(n, auditMs));
    progress(`${SUITE}: audit round ${round + 1}/${rounds}: ${Math.round(auditRate[round]!)} events/s, floor ${Math.round(floorRate[round]!)} events/s`);
  }
  report.add({
    suite: SUITE,
    metric: `full audit of ${formatCount(n)} events (${formatCount(checkpoints.length)} checkpoints, no chain)`,
    value: Math.round(median(auditRate)),
    unit: "events/s",
    baseline: `${formatCount(Math.round(median(floorRate)))}/s reading every record and recomputing the root`,
    ratio: median(auditRate.map((rate, i) => rate / floorRate[i]!)),
  });
}
