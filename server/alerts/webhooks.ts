import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import { SYNCED } from "../store/database";
import type { AnySublevel, BatchOp } from "../query/index-observer";
import type { WebhookConfig } from "./policy";
import type { Alert, AlertStore } from "./alert-store";
import { deliveryIdOfPendingKey, deliveryKey, PENDING_RANGE, pendingKey } from "./keys";

/**
 * Webhook delivery through an outbox. Every new alert enqueues one delivery per
 * configured webhook in the same write as the alert itself (`Outbox.enqueue`),
 * so an alert is never stored without its deliveries nor delivered without
 * being stored. `WebhookDeliverer` then POSTs `{ "alert": … }` to each URL,
 * signed with `X-Ledger-Signature: sha256=<HMAC-SHA256(secret, body) hex>` when the
 * webhook has a secret, retrying with exponential backoff. Delivery state lives
 * in the database, so pending deliveries resume after a restart; delivered and
 * abandoned ones are kept as a record.
 *
 * Delivery is at least once (a crash between the receiver's answer and the
 * write of the outcome repeats the POST): receivers deduplicate on the
 * `X-Ledger-Delivery` header. The secret is read from the current policy at
 * each attempt and is never stored, logged or shown.
 */

export type DeliveryStatus = "pending" | "delivered" | "failed" | "cancelled";

export interface Delivery {
  /** `<alert id>-<webhook position>`; sent as X-Ledger-Delivery. */
  id: string;
  alertId: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt?: string;
  lastAttemptAt?: string;
  lastError?: string;
  deliveredAt?: string;
}

export const SIGNATURE_HEADER = "x-ledger-signature";
export const DELIVERY_HEADER = "x-ledger-delivery";

/** `sha256=<hex>` of HMAC-SHA256(secret, body), the value of X-Ledger-Signature. */
export function signature(secret: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body, "utf8").digest("hex");
}

/** A URL fit for a log line: no query string, fragment or credentials, which may hold tokens. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(invalid url)";
  }
}

/** The outbox half of the alerts sublevel: delivery records and the pending set. */
export class Outbox {
  constructor(private readonly sublevel: AnySublevel) {}

  /** Adds one pending delivery per webhook for a new alert to `ops`. */
  enqueue(alert: Alert, webhooks: readonly WebhookConfig[], ops: BatchOp[], now: Date): void {
    webhooks.forEach((webhook, position) => {
      const delivery: Delivery = {
        id: `${alert.id}-${position}`,
        alertId: alert.id,
        url: webhook.url,
        status: "pending",
        attempts: 0,
        createdAt: now.toISOString(),
        nextAttemptAt: now.toISOString(),
      };
      ops.push({ type: "put", sublevel: this.sublevel, key: deliveryKey(delivery.id), value: JSON.stringify(delivery) });
      ops.push({ type: "put", sublevel: this.sublevel, key: pendingKey(delivery.id), value: "" });
    });
  }

  /** Pending deliveries, oldest alert first, at most `limit`. */
  async pending(limit: number): Promise<Delivery[]> {
    const ids: string[] = [];
    for await (const key of this.sublevel.keys({ ...PENDING_RANGE, limit })) ids.push(deliveryIdOfPendingKey(key));
    const values = await this.sublevel.getMany(ids.map(deliveryKey));
    return values.filter((v): v is string => v !== undefined).map((v) => JSON.parse(v) as Delivery);
  }

  async get(id: string): Promise<Delivery | undefined> {
    const value = await this.sublevel.get(deliveryKey(id));
    return value === undefined ? undefined : (JSON.parse(value) as Delivery);
  }

  /** The deliveries of one alert, in webhook order. */
  async forAlert(alertId: string): Promise<Delivery[]> {
    const found: Delivery[] = [];
    for await (const value of this.sublevel.values({ gte: deliveryKey(`${alertId}-`), lt: deliveryKey(`${alertId}.`) })) found.push(JSON.parse(value) as Delivery);
    return found.sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
  }

  /** Stores the outcome of an attempt; a delivery leaves the pending set once it is no longer pending. */
  async save(delivery: Delivery): Promise<void> {
    const ops: BatchOp[] = [{ type: "put", sublevel: this.sublevel, key: deliveryKey(delivery.id), value: JSON.stringify(delivery) }];
    if (delivery.status !== "pending") ops.push({ type: "del", sublevel: this.sublevel, key: pendingKey(delivery.id) });
    await this.sublevel.db.batch(ops as never, SYNCED);
  }
}

export interface WebhookDelivererOptions {
  store: AlertStore;
  /** The current policy's webhooks: a delivery's secret is looked up by its URL. */
  webhooks: () => readonly WebhookConfig[];
  logger: Logger;
  /** Attempts before a delivery is abandoned (default 10). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt up to maxDelayMs (defaults 1 s and 5 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Bound on one POST, connection to response headers (default 10 s). */
  timeoutMs?: number;
  /** How often to look for due deliveries when nothing wakes the loop (default 30 s). */
  idleMs?: number;
  now?: () => number;
}

/** Reads at most this many pending deliveries per pass. */
const PASS_LIMIT = 500;

export class WebhookDeliverer {
  private readonly o: Required<Omit<WebhookDelivererOptions, "store" | "webhooks" | "logger">> & WebhookDelivererOptions;
  private running = false;
  private loop?: Promise<void>;
  private wakeSleep?: () => void;
  private woken = false;
  private stopping = new AbortController();
  private readonly onCreated = () => this.wake();

  constructor(options: WebhookDelivererOptions) {
    this.o = {
      ...options,
      maxAttempts: options.maxAttempts ?? 10,
      baseDelayMs: options.baseDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 300_000,
      timeoutMs: options.timeoutMs ?? 10_000,
      idleMs: options.idleMs ?? 30_000,
      now: options.now ?? Date.now,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    this.o.store.on("created", this.onCreated);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.o.store.off("created", this.onCreated);
    this.stopping.abort();
    this.wake();
    await this.loop;
  }

  /** Look for due deliveries now (new alerts call this). */
  wake(): void {
    this.woken = true;
    this.wakeSleep?.();
  }

  /**
   * Attempts every due pending delivery once; returns the milliseconds until the
   * next one falls due (capped at idleMs).
   */
  async runOnce(): Promise<number> {
    let nextDue = Infinity;
    // One failure per URL per pass: a receiver that is down (or hangs until the timeout) holds up a pass once, not once per alert.
    const failing = new Set<string>();
    for (const delivery of await this.o.store.outbox.pending(PASS_LIMIT)) {
      if (this.stopping.signal.aborted) break;
      const due = Date.parse(delivery.nextAttemptAt ?? delivery.createdAt);
      if (failing.has(delivery.url)) {
        nextDue = Math.min(nextDue, Math.max(due, this.o.now() + this.o.baseDelayMs));
        continue;
      }
      const after = due <= this.o.now() ? await this.attempt(delivery) : delivery;
      if (after.status === "pending") nextDue = Math.min(nextDue, Date.parse(after.nextAttemptAt ?? after.createdAt));
      if (after.attempts > delivery.attempts && after.status !== "delivered") failing.add(delivery.url);
    }
    return Math.max(0, Math.min(this.o.idleMs, nextDue - this.o.now()));
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let delay: number;
      try {
        delay = await this.runOnce();
      } catch (error) {
        this.o.logger.error({ err: error }, "webhook delivery pass failed; will try again");
        delay = Math.min(this.o.idleMs, 1000);
      }
      if (this.running && !this.woken) await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleep = done;
    });
  }

  /** One POST; records the outcome. A stop in mid-flight records nothing, so the attempt is repeated after restart. */
  private async attempt(delivery: Delivery): Promise<Delivery> {
    const { logger } = this.o;
    const url = redactUrl(delivery.url);
    const webhook = this.o.webhooks().find((w) => w.url === delivery.url);
    if (!webhook) {
      const cancelled: Delivery = { ...delivery, status: "cancelled", nextAttemptAt: undefined, lastError: "the webhook is no longer in the policy" };
      await this.o.store.outbox.save(cancelled);
      logger.warn({ delivery: delivery.id, url }, "webhook removed from the policy; delivery cancelled");
      return cancelled;
    }
    const alert = await this.o.store.get(delivery.alertId);
    if (!alert) {
      const failed: Delivery = { ...delivery, status: "failed", nextAttemptAt: undefined, lastError: "the alert is missing" };
      await this.o.store.outbox.save(failed);
      logger.error({ delivery: delivery.id, alert: delivery.alertId }, "webhook delivery for a missing alert; abandoned");
      return failed;
    }

    const body = JSON.stringify({ alert });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "provenance-ledger-alerts/1",
      [DELIVERY_HEADER]: delivery.id,
    };
    if (webhook.secret !== undefined) headers[SIGNATURE_HEADER] = signature(webhook.secret, body);

    let error: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.stopping.signal]),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status >= 300) error = `HTTP ${response.status}`;
    } catch (caught) {
      if (this.stopping.signal.aborted) return delivery;
      error = describeFetchError(caught, this.o.timeoutMs);
    }

    const now = this.o.now();
    const attempts = delivery.attempts + 1;
    const base = { ...delivery, attempts, lastAttemptAt: new Date(now).toISOString() };
    let outcome: Delivery;
    if (error === undefined) {
      outcome = { ...base, status: "delivered", deliveredAt: new Date(now).toISOString(), nextAttemptAt: undefined, lastError: undefined };
      logger.debug({ delivery: delivery.id, url, attempts }, "webhook delivered");
    } else if (attempts >= this.o.maxAttempts) {
      outcome = { ...base, status: "failed", nextAttemptAt: undefined, lastError: error };
      logger.error({ delivery: delivery.id, alert: delivery.alertId, url, attempts, err: error }, "webhook delivery abandoned after the last attempt");
    } else {
      const delay = this.backoff(attempts);
      outcome = { ...base, status: "pending", nextAttemptAt: new Date(now + delay).toISOString(), lastError: error };
      logger.warn({ delivery: delivery.id, url, attempts, retryInMs: delay, err: error }, "webhook delivery failed; will retry");
    }
    await this.o.store.outbox.save(stripUndefined(outcome));
    return outcome;
  }

  /** Exponential, with jitter in the upper half so many failed deliveries do not retry in step. */
  private backoff(attempts: number): number {
    const ceiling = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (attempts - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message ?? "fetch failed"} (${cause})` : (e?.message ?? String(error));
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
