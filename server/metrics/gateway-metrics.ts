import type { EventEmitter } from "node:events";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { timingSafeEqual } from "node:crypto";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics of one gateway (prom-client): requests by route and status with a
 * latency histogram, the sizes of the log, the tree, the index and the anchored
 * checkpoint, anchoring lag and problems, alerts by kind, the databases' size on disk,
 * and Node's process metrics. Sizes are read when scraped, from the owners' own
 * status, so nothing on the ingest path updates them; the per-request cost is one
 * clock read and one histogram observation.
 */

export interface MetricsSources {
  dataDir: string;
  /** The anchorer's status (server/anchor/anchorer.ts). */
  anchoring(): { logSize: number; treeSize: number; anchoredSize: number; pendingEvents: number; state: string; lastAnchoredAt?: string };
  indexedEvents(): number;
  /** Emits "appended" (next index) as records are written. */
  log: EventEmitter;
  /** Emits "anchored" (checkpoint) and "problem" ({ state }). */
  anchorer: EventEmitter;
  /** Emits "created" with the kinds of the alerts just made durable. */
  alerts?: EventEmitter;
}

/** Bounded route labels: the API's own routes with their parameters named, everything else "other". */
const ROUTES: [RegExp, string][] = [
  [/^\/v1\/events\/\d+$/, "/v1/events/:index"],
  [/^\/v1\/receipts\/\d+$/, "/v1/receipts/:index"],
  [/^\/v1\/keys\/[^/]+$/, "/v1/keys/:id"],
  [/^\/v1\/orgs\/[^/]+$/, "/v1/orgs/:id"],
  [/^\/v1\/alerts\/[^/]+\/ack$/, "/v1/alerts/:id/ack"],
  [/^\/v1\/audit\/(?!latest$)[^/]+$/, "/v1/audit/:id"],
  [/^\/v1\/signing-keys\/[^/]+$/, "/v1/signing-keys/:keyId"],
  [/^\/v1\/log\/proof\/consistency$/, "/v1/log/proof/consistency"],
  [/^\/v1\/log\/tile\/entries\/.+$/, "/v1/log/tile/entries/:n"],
  [/^\/v1\/log\/tile\/.+$/, "/v1/log/tile/:level/:n"],
  [/^\/console(?:\/.*)?$/, "/console"],
];
const PLAIN_ROUTE = /^\/(?:v1\/[a-z-]+(?:\/[a-z-]+)?|healthz|readyz|metrics)$/;

export function routeLabel(url: string | undefined): string {
  const query = (url ?? "").indexOf("?");
  const path = query === -1 ? (url ?? "") : (url ?? "").slice(0, query);
  for (const [pattern, label] of ROUTES) if (pattern.test(path)) return label;
  return PLAIN_ROUTE.test(path) ? path : "other";
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly latency: Histogram<"method" | "route">;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: "ledger_http_requests_total", help: "HTTP requests answered, by method, route and status", labelNames: ["method", "route", "status"], registers });
    this.latency = new Histogram({
      name: "ledger_http_request_duration_seconds",
      help: "Time from a request's arrival to its answer",
      labelNames: ["method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });

    const appended = new Counter({ name: "ledger_events_appended_total", help: "Events acknowledged (written to the log) since the gateway started", registers });
    const atStart = sources.anchoring();
    let lastAppended = atStart.logSize;
    sources.log.on("appended", (next: number) => {
      if (next > lastAppended) appended.inc(next - lastAppended);
      lastAppended = Math.max(lastAppended, next);
    });
    const anchoredEvents = new Counter({ name: "ledger_anchored_events_total", help: "Events covered by checkpoints anchored since the gateway started", registers });
    const anchors = new Counter({ name: "ledger_anchors_total", help: "Checkpoints anchored since the gateway started", registers });
    let lastAnchoredSize = atStart.anchoredSize;
    sources.anchorer.on("anchored", (checkpoint: { treeSize: number }) => {
      anchors.inc();
      if (checkpoint.treeSize > lastAnchoredSize) anchoredEvents.inc(checkpoint.treeSize - lastAnchoredSize);
      lastAnchoredSize = Math.max(lastAnchoredSize, checkpoint.treeSize);
    });
    const problems = new Counter({ name: "ledger_chain_problems_total", help: "Anchoring problems (chain unreachable, refused, dropped, reorganised, diverged), by state", labelNames: ["state"], registers });
    sources.anchorer.on("problem", (problem: { state: string }) => problems.inc({ state: problem.state }));
    const alerts = new Counter({ name: "ledger_alerts_total", help: "Alerts raised since the gateway started, by kind", labelNames: ["kind"], registers });
    sources.alerts?.on("created", (kinds: string[] = []) => {
      for (const kind of kinds) alerts.inc({ kind });
    });

    new Gauge({
      name: "ledger_size",
      help: "Entries in each part of the ledger: log (acknowledged), tree (folded), indexed, anchored",
      labelNames: ["part"],
      registers,
      collect() {
        const status = sources.anchoring();
        this.set({ part: "log" }, status.logSize);
        this.set({ part: "tree" }, status.treeSize);
        this.set({ part: "indexed" }, sources.indexedEvents());
        this.set({ part: "anchored" }, status.anchoredSize);
      },
    });
    new Gauge({
      name: "ledger_anchoring_pending_events",
      help: "Events acknowledged but not yet covered by an anchored checkpoint",
      registers,
      collect() {
        this.set(sources.anchoring().pendingEvents);
      },
    });
    new Gauge({
      name: "ledger_anchoring_lag_seconds",
      help: "Seconds since the last anchor while events wait for one (0 when none waits)",
      registers,
      collect() {
        const status = sources.anchoring();
        const last = status.lastAnchoredAt ? Date.parse(status.lastAnchoredAt) : undefined;
        this.set(status.pendingEvents > 0 && last !== undefined ? Math.max(0, (Date.now() - last) / 1000) : 0);
      },
    });
    // The anchorer's states (AnchorState), so a state that is not current reads 0 rather than missing.
    const states = ["starting", "idle", "batching", "waiting-confirmations", "chain-unreachable", "rejected", "diverged", "stopped"];
    new Gauge({
      name: "ledger_anchoring_state",
      help: "1 for the anchorer's current state",
      labelNames: ["state"],
      registers,
      collect() {
        const current = sources.anchoring().state;
        for (const state of new Set([...states, current])) this.set({ state }, state === current ? 1 : 0);
      },
    });
    new Gauge({
      name: "ledger_leveldb_bytes",
      help: "Size on disk of each LevelDB of the data directory",
      labelNames: ["db"],
      registers,
      collect() {
        for (const db of ["db", "records"]) this.set({ db }, directoryBytes(path.join(sources.dataDir, db)));
      },
    });
  }

  /** Wraps the app: every answered request counted and timed, by route. */
  instrument(listener: RequestListener): RequestListener {
    return (req, res) => {
      const started = process.hrtime.bigint();
      // Read now: Express rewrites req.url while a mounted router handles the request.
      const route = routeLabel(req.url);
      res.once("finish", () => {
        const method = req.method ?? "";
        this.requests.inc({ method, route, status: String(res.statusCode) });
        this.latency.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
      });
      listener(req, res);
    };
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * `GET /metrics` for the gateway's own port: answered only with `Authorization: Bearer
 * METRICS_TOKEN`; without a token configured it is not served there (use METRICS_PORT).
 * Returns false for any other request.
 */
export function metricsRoute(metrics: GatewayMetrics, token: string | undefined): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);
  return (req, res) => {
    if (routeLabel(req.url) !== "/metrics") return false;
    if (!expected) {
      answerJson(res, 404, { error: { code: "NOT_FOUND", message: "metrics are not served on this port: set METRICS_TOKEN, or METRICS_PORT for a port of their own" } });
      return true;
    }
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      answerJson(res, 401, { error: { code: "UNAUTHENTICATED", message: "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>" } });
      return true;
    }
    void serveMetrics(metrics, req, res);
    return true;
  };
}

/** The whole answer of a metrics-only listener (METRICS_PORT). */
export function metricsListener(metrics: GatewayMetrics): RequestListener {
  return (req, res) => {
    if (routeLabel(req.url) !== "/metrics") return answerJson(res, 404, { error: { code: "NOT_FOUND", message: "only GET /metrics is served here" } });
    void serveMetrics(metrics, req, res);
  };
}

async function serveMetrics(metrics: GatewayMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return answerJson(res, 405, { error: { code: "METHOD_NOT_ALLOWED", message: "GET /metrics" } });
  try {
    const { contentType, body } = await metrics.exposition();
    res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch (error) {
    answerJson(res, 500, { error: { code: "INTERNAL", message: `metrics could not be collected: ${(error as Error).message}` } });
  }
}

function answerJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function directoryBytes(dir: string): number {
  let total = 0;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isFile()) total += statSync(path.join(dir, entry.name)).size;
  } catch {
    /* not there (yet): 0 */
  }
  return total;
}
