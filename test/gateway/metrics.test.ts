/**
 * GET /metrics as Prometheus scrapes it, from a real gateway: refused without the
 * token, served with it and on a port of its own; the figures follow what happened
 * (events acknowledged and refused, by route and status; sizes of log, tree, index
 * and anchored checkpoint; anchors; LevelDB on disk; process metrics). The alert and
 * problem counters are driven through the same emitters the gateway's parts use.
 */
import { expect } from "chai";
import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GatewayMetrics, metricsRoute, routeLabel } from "../../server/metrics/gateway-metrics";
import { makeEvent, startTestGateway, stopAndRemove, waitFor, type TestGateway } from "../support/gateway-harness";

const TOKEN = "metrics-token-for-tests-0123456789";

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("gateway: GET /metrics (Prometheus)", function () {
  this.timeout(120_000);
  let g: TestGateway;

  before(async () => {
    g = await startTestGateway({ env: { METRICS_TOKEN: TOKEN, METRICS_PORT: "0" } });
  });
  after(() => stopAndRemove(g));

  const scrape = async () => {
    const answer = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(answer.status).to.equal(200);
    expect(answer.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
    return answer.text();
  };

  it("answers only with the token on the API's port, and without one on its own port", async () => {
    const none = await fetch(`${g.url}/metrics`);
    expect(none.status).to.equal(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).to.equal("UNAUTHENTICATED");
    expect((await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).to.equal(401);
    // An API key is not the metrics token.
    expect((await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${g.keys.admin.key}` } })).status).to.equal(401);
    const own = await fetch(g.gateway.metricsUrl!);
    expect(own.status).to.equal(200);
    expect(await own.text()).to.match(/^# HELP ledger_size /m);
    expect((await fetch(g.gateway.metricsUrl!.replace("/metrics", "/v1/status"))).status).to.equal(404);
  });

  it("counts requests by route and status and follows the ledger's sizes through anchoring", async () => {
    const key = g.keys.submitter.key;
    expect((await g.api("POST", "/v1/events", { key, json: { events: [makeEvent(), makeEvent(), makeEvent()] } })).status).to.equal(201);
    expect((await g.api("POST", "/v1/events", { key, json: { ...makeEvent(), type: "teleport" } })).status).to.equal(400);
    expect((await g.api("GET", "/v1/events/0", { key: g.keys.admin.key })).status).to.equal(200);
    const text = await waitFor("the events anchored, as the metrics say", async () => {
      const t = await scrape();
      return (sample(t, "ledger_size", 'part="anchored"') ?? 0) >= 3 ? t : undefined;
    }, 30_000);
    expect(sample(text, "ledger_size", 'part="log"')).to.equal(3);
    expect(sample(text, "ledger_size", 'part="tree"')).to.equal(3);
    expect(sample(text, "ledger_http_requests_total", 'method="POST",route="/v1/events",status="201"')).to.equal(1);
    expect(sample(text, "ledger_http_requests_total", 'method="POST",route="/v1/events",status="400"')).to.equal(1);
    expect(sample(text, "ledger_http_requests_total", 'method="GET",route="/v1/events/:index",status="200"')).to.equal(1);
    expect(sample(text, "ledger_http_request_duration_seconds_count", 'method="POST",route="/v1/events"')).to.equal(2);
    expect(sample(text, "ledger_events_appended_total")).to.equal(3);
    expect(sample(text, "ledger_anchors_total")).to.be.at.least(1);
    expect(sample(text, "ledger_anchored_events_total")).to.equal(3);
    expect(sample(text, "ledger_anchoring_pending_events")).to.equal(0);
    expect(sample(text, "ledger_leveldb_bytes", 'db="records"')).to.be.greaterThan(0);
    expect(sample(text, "process_resident_memory_bytes")).to.be.greaterThan(0);
    const states = text.split("\n").filter((l) => l.startsWith("ledger_anchoring_state{") && l.endsWith(" 1"));
    expect(states, "exactly one current state").to.have.length(1);
    expect(text).to.not.include(TOKEN);
  });

  it("counts alerts by kind and anchoring problems by state from their emitters", async () => {
    const alerts = new EventEmitter();
    const anchorer = new EventEmitter();
    const metrics = new GatewayMetrics({
      dataDir: "/nonexistent",
      anchoring: () => ({ logSize: 5, treeSize: 5, anchoredSize: 2, pendingEvents: 3, state: "chain-unreachable", lastAnchoredAt: new Date(Date.now() - 10_000).toISOString() }),
      indexedEvents: () => 4,
      log: new EventEmitter(),
      anchorer,
      alerts,
    });
    alerts.emit("created", ["negative-list", "negative-list", "threshold"]);
    anchorer.emit("problem", { state: "chain-unreachable" });
    const { body } = await metrics.exposition();
    expect(sample(body, "ledger_alerts_total", 'kind="negative-list"')).to.equal(2);
    expect(sample(body, "ledger_alerts_total", 'kind="threshold"')).to.equal(1);
    expect(sample(body, "ledger_chain_problems_total", 'state="chain-unreachable"')).to.equal(1);
    expect(sample(body, "ledger_anchoring_lag_seconds")).to.be.within(9, 60);
    expect(sample(body, "ledger_size", 'part="indexed"')).to.equal(4);
    expect(sample(body, "ledger_leveldb_bytes", 'db="db"')).to.equal(0);
  });

  it("names routes with bounded labels and is not served on the API's port without a token", async () => {
    expect(routeLabel("/v1/receipts/12?format=tlog-proof")).to.equal("/v1/receipts/:index");
    expect(routeLabel("/v1/keys/abc")).to.equal("/v1/keys/:id");
    expect(routeLabel("/v1/alerts/a-1/ack")).to.equal("/v1/alerts/:id/ack");
    expect(routeLabel("/v1/events")).to.equal("/v1/events");
    expect(routeLabel("/console/app.js")).to.equal("/console");
    expect(routeLabel("/v1/events/12/../../etc")).to.equal("other");
    expect(routeLabel("/" + "x".repeat(100))).to.equal("other");

    const metrics = new GatewayMetrics({ dataDir: "/nonexistent", anchoring: () => ({ logSize: 0, treeSize: 0, anchoredSize: 0, pendingEvents: 0, state: "idle" }), indexedEvents: () => 0, log: new EventEmitter(), anchorer: new EventEmitter() });
    const route = metricsRoute(metrics, undefined);
    const server: Server = createServer((req, res) => {
      if (!route(req, res)) res.writeHead(418).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const answer = await fetch(`${base}/metrics`);
      expect(answer.status).to.equal(404);
      expect(((await answer.json()) as { error: { message: string } }).error.message).to.match(/set METRICS_TOKEN, or METRICS_PORT/);
      expect((await fetch(`${base}/v1/status`)).status).to.equal(418);
    } finally {
      server.close();
    }
  });
});
