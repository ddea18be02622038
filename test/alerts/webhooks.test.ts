/**
 * Webhook delivery over real HTTP to a local receiver: signed bodies, retries
 * with backoff when the receiver fails, giving up, and pending deliveries that
 * survive a restart. Waits are bounded polls, never timing assertions.
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { WebhookDeliverer, type Delivery } from "../../server/alerts/webhooks";
import { capturingLogger, event, eventually, Harness, policy, record, silentLogger } from "./helpers";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

/** A local webhook receiver answering the n-th request (0-based) with `respond(n)`; "hang" never answers. */
async function startReceiver(respond: (n: number) => number | "hang" = () => 204): Promise<Receiver> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const answer = respond(requests.length);
      requests.push({ headers: req.headers, body });
      if (answer === "hang") return;
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/ledger`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const SECRET = "s3cret-for-webhook-signing-0123456789";
const MARKETING = { id: "NL-MKT", description: "no marketing", severity: "critical", purposes: { forbidden: ["*marketing*"] } };

describe("webhook delivery", () => {
  let h: Harness;
  let receivers: Receiver[];
  let deliverers: WebhookDeliverer[];

  beforeEach(() => {
    receivers = [];
    deliverers = [];
  });
  afterEach(async () => {
    for (const d of deliverers) await d.stop();
    for (const r of receivers) await r.close();
    await h?.close();
  });

  async function receiver(respond?: (n: number) => number | "hang"): Promise<Receiver> {
    const r = await startReceiver(respond);
    receivers.push(r);
    return r;
  }

  function deliverer(logger: Logger = silentLogger, options: Partial<ConstructorParameters<typeof WebhookDeliverer>[0]> = {}): WebhookDeliverer {
    const d = new WebhookDeliverer({ store: h.store, webhooks: () => h.current.webhooks, logger, baseDelayMs: 20, maxDelayMs: 100, timeoutMs: 2000, idleMs: 200, ...options });
    deliverers.push(d);
    d.start();
    return d;
  }

  async function deliveriesSettled(alertId: string, count: number): Promise<Delivery[]> {
    return eventually(async () => {
      const found = await h.store.outbox.forAlert(alertId);
      return found.length === count && found.every((d) => d.status !== "pending") ? found : undefined;
    }, `deliveries of alert ${alertId}`);
  }

  it("POSTs each new alert to every webhook, signed when the webhook has a secret", async () => {
    const signed = await receiver();
    const unsigned = await receiver();
    h = await Harness.open(policy({ negativeList: [MARKETING], webhooks: [{ url: signed.url, secret: SECRET }, { url: unsigned.url }] }));
    const { logger, lines } = capturingLogger();
    deliverer(logger);
    await h.feed([record(0, event({ purpose: "marketing" }))]);
    const [alert] = await h.allAlerts();

    const deliveries = await deliveriesSettled(alert!.id, 2);
    expect(deliveries.map((d) => [d.url, d.status, d.attempts])).to.deep.equal([
      [signed.url, "delivered", 1],
      [unsigned.url, "delivered", 1],
    ]);

    expect(signed.requests).to.have.length(1);
    const request = signed.requests[0]!;
    expect(JSON.parse(request.body)).to.deep.equal({ alert });
    expect(request.headers["content-type"]).to.equal("application/json");
    expect(request.headers["x-ledger-delivery"]).to.equal(`${alert!.id}-0`);
    const expected = "sha256=" + createHmac("sha256", SECRET).update(request.body, "utf8").digest("hex");
    expect(request.headers["x-ledger-signature"]).to.equal(expected);

    expect(unsigned.requests).to.have.length(1);
    expect(unsigned.requests[0]!.headers["x-ledger-signature"]).to.equal(undefined);
    expect(lines.join("")).not.to.include(SECRET);
  });

  it("retries with backoff when the receiver fails at first (500, 500, then 200)", async () => {
    const flaky = await receiver((n) => (n < 2 ? 500 : 200));
    h = await Harness.open(policy({ webhooks: [{ url: flaky.url, secret: SECRET }] }));
    const { logger, lines } = capturingLogger();
    deliverer(logger);
    const alert = await h.store.create({ kind: "anchoring", severity: "warning", message: "anchoring chain-unreachable: connection refused" });

    const [delivery] = await deliveriesSettled(alert.id, 1);
    expect(delivery).to.include({ status: "delivered", attempts: 3 });
    expect(delivery!.deliveredAt).to.be.a("string");
    expect(flaky.requests.map((r) => r.headers["x-ledger-delivery"])).to.deep.equal([delivery!.id, delivery!.id, delivery!.id]);
    expect(lines.filter((l) => l.includes("will retry"))).to.have.length(2);
    expect(lines.join("")).to.include("HTTP 500").and.not.include(SECRET);
  });

  it("gives up after the last attempt, logs it and keeps the record", async () => {
    const down = await receiver(() => 503);
    h = await Harness.open(policy({ webhooks: [{ url: down.url + "?token=abc", secret: SECRET }] }));
    const { logger, lines } = capturingLogger();
    deliverer(logger, { maxAttempts: 3 });
    const alert = await h.store.create({ kind: "policy", severity: "warning", message: "x" });

    const [delivery] = await deliveriesSettled(alert.id, 1);
    expect(delivery).to.include({ status: "failed", attempts: 3, lastError: "HTTP 503" });
    expect(down.requests).to.have.length(3);
    expect(await h.store.outbox.pending(10)).to.deep.equal([]);
    const abandoned = lines.filter((l) => l.includes("abandoned"));
    expect(abandoned).to.have.length(1);
    expect(JSON.parse(abandoned[0]!).level).to.equal(50); // error
    expect(lines.join("")).not.to.include("token=abc");
  });

  it("bounds each attempt with a timeout", async () => {
    const silent = await receiver(() => "hang");
    h = await Harness.open(policy({ webhooks: [{ url: silent.url }] }));
    deliverer(silentLogger, { maxAttempts: 1, timeoutMs: 150 });
    const alert = await h.store.create({ kind: "policy", severity: "info", message: "x" });
    const [delivery] = await deliveriesSettled(alert.id, 1);
    expect(delivery).to.include({ status: "failed", attempts: 1, lastError: "no answer within 150 ms" });
  });

  it("resumes pending deliveries after a restart", async () => {
    const later = await receiver((n) => (n === 0 ? 500 : 200));
    h = await Harness.open(policy({ negativeList: [MARKETING], webhooks: [{ url: later.url, secret: SECRET }] }));
    // An alert stored while no deliverer runs, and one whose first attempt fails before the stop.
    await h.feed([record(0, event({ purpose: "marketing" }))]);
    const first = deliverer(silentLogger, { baseDelayMs: 60_000, maxDelayMs: 60_000 });
    const [alert] = await h.allAlerts();
    await eventually(async () => (await h.store.outbox.forAlert(alert!.id))[0]?.attempts === 1, "the first attempt");
    await first.stop();
    await h.feed([record(1, event({ purpose: "marketing" }))]);
    const pendingBefore = await h.store.outbox.pending(10);
    expect(pendingBefore.map((d) => d.status)).to.deep.equal(["pending", "pending"]);

    await h.reopen();
    // The first delivery's retry is due in a minute; a restarted gateway keeps that schedule, so make it due now.
    const stored = (await h.store.outbox.pending(10))[0]!;
    await h.store.outbox.save({ ...stored, nextAttemptAt: new Date().toISOString() });
    deliverer();
    const alerts = await h.allAlerts();
    const [d0] = await deliveriesSettled(alerts[0]!.id, 1);
    const [d1] = await deliveriesSettled(alerts[1]!.id, 1);
    expect([d0!.status, d0!.attempts, d1!.status, d1!.attempts]).to.deep.equal(["delivered", 2, "delivered", 1]);
    expect(later.requests.map((r) => JSON.parse(r.body).alert.id)).to.deep.equal([alerts[0]!.id, alerts[0]!.id, alerts[1]!.id]);
  });

  it("cancels a delivery whose webhook was removed from the policy", async () => {
    const r = await receiver();
    h = await Harness.open(policy({ webhooks: [{ url: r.url }] }));
    const alert = await h.store.create({ kind: "policy", severity: "info", message: "x" });
    h.current = policy({});
    deliverer();
    const [delivery] = await deliveriesSettled(alert.id, 1);
    expect(delivery).to.include({ status: "cancelled", attempts: 0 });
    expect(r.requests).to.have.length(0);
  });

  it("enqueues deliveries in the observer's batch, so an aborted batch sends nothing", async () => {
    const r = await receiver();
    h = await Harness.open(policy({ negativeList: [MARKETING], webhooks: [{ url: r.url }] }));
    const ops: Parameters<typeof h.observer.observe>[1] = [];
    await h.observer.observe([record(0, event({ purpose: "marketing" }))], ops);
    expect(ops.filter((op) => op.key.startsWith("o|") || op.key.startsWith("q|"))).to.have.length(2);
    h.observer.aborted();
    expect(await h.store.outbox.pending(10)).to.deep.equal([]);
  });
});
