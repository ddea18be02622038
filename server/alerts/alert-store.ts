import { EventEmitter } from "node:events";
import { AppError } from "../errors";
import { canSee } from "../auth/access";
import type { Principal } from "../auth/key-store";
import { SYNCED, type Database } from "../store/database";
import type { AnySublevel, BatchOp } from "../query/index-observer";
import type { Severity, WebhookConfig } from "./policy";
import {
  ALERT_ID_PATTERN,
  ALERT_RANGE,
  ALERTS_SUBLEVEL,
  alertKey,
  eventAlertKey,
  eventAlertRange,
  formatAlertId,
  idOfEventAlertKey,
} from "./keys";
import { Outbox } from "./webhooks";

/**
 * Durable alerts (sublevel `alerts`, layout in keys.ts). Alerts derived from
 * events are added by the alert observer to the event indexer's atomic batch
 * (`prepare`), so they are written exactly once with the indexer's watermark;
 * alerts about the gateway itself (anchoring, policy) are written directly and
 * synced (`create`). Every new alert enqueues its webhook deliveries in the same
 * write. Readers see alerts through `canSee`, the same rule as for events.
 *
 * Ids come from one in-memory counter shared by both paths, so they are unique
 * and increase in creation order; a batch that fails to write leaves a gap,
 * never a reused id. (An alert prepared in a batch becomes visible when the batch
 * commits, possibly after an alert with a larger id written directly meanwhile.)
 */

export const ALERT_KINDS = ["negative-list", "threshold", "anchoring", "policy"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  /** 16 hex digits, increasing. */
  id: string;
  kind: AlertKind;
  ruleId?: string;
  severity: Severity;
  message: string;
  eventIndex?: number;
  actorOrg?: string;
  recipientOrg?: string;
  dataset?: string;
  submitter?: string;
  createdAt: string;
  acknowledgedAt?: string;
  /** Id of the API key that acknowledged it. */
  acknowledgedBy?: string;
}

export type NewAlert = Omit<Alert, "id" | "createdAt" | "acknowledgedAt" | "acknowledgedBy">;

export interface AlertQuery {
  kind?: AlertKind;
  severity?: Severity;
  acknowledged?: boolean;
  eventIndex?: number;
  /** An alert id from `next` of the previous page: the page continues below it. */
  cursor?: string;
  limit: number;
}

export interface AlertPage {
  alerts: Alert[];
  /** Pass as `cursor` for the next (older) page; null when there is none. */
  next: string | null;
}

export interface AlertStoreOptions {
  /** The webhooks every new alert is delivered to (the current policy's). */
  webhooks?: () => readonly WebhookConfig[];
  now?: () => Date;
}

/** A listing reads at most this many alerts per page, so a selective filter cannot make one request scan everything. */
const MAX_SCAN = 5000;

/** Roles that see alerts about the gateway itself (no event, no organisation). */
const SYSTEM_ALERT_ROLES = new Set(["admin", "auditor", "regulator"]);

export function canSeeAlert(principal: Principal, alert: Alert): boolean {
  if (alert.actorOrg === undefined) return SYSTEM_ALERT_ROLES.has(principal.role);
  return canSee(principal, { actorOrg: alert.actorOrg, recipientOrg: alert.recipientOrg, dataset: alert.dataset ?? "", submitter: alert.submitter });
}

export class AlertStore extends EventEmitter {
  readonly sublevel: AnySublevel;
  readonly outbox: Outbox;
  private readonly db: Database;
  private readonly now: () => Date;
  private webhooks: () => readonly WebhookConfig[];
  private nextId = 0;
  private prepared: AlertKind[] = [];
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(db: Database, options: AlertStoreOptions) {
    super();
    this.db = db;
    this.sublevel = db.sublevel<string, string>(ALERTS_SUBLEVEL, { valueEncoding: "utf8" }) as unknown as AnySublevel;
    this.outbox = new Outbox(this.sublevel);
    this.now = options.now ?? (() => new Date());
    this.webhooks = options.webhooks ?? (() => []);
  }

  static async open(db: Database, options: AlertStoreOptions = {}): Promise<AlertStore> {
    const store = new AlertStore(db, options);
    for await (const key of store.sublevel.keys({ ...ALERT_RANGE, reverse: true, limit: 1 })) {
      store.nextId = parseInt(key.slice(2), 16) + 1;
    }
    return store;
  }

  /** Sets where new alerts are delivered (the policy source is created after the store). */
  setWebhooks(webhooks: () => readonly WebhookConfig[]): void {
    this.webhooks = webhooks;
  }

  /**
   * Adds a new alert, its event index entry and its webhook deliveries to `ops`,
   * for the caller to write atomically; call `committed()` once written.
   */
  prepare(input: NewAlert, ops: BatchOp[]): Alert {
    const alert = this.build(input);
    this.addOps(alert, ops);
    this.prepared.push(alert.kind);
    return alert;
  }

  /** After a batch holding prepared alerts is durable: wakes the webhook deliverer. */
  committed(): void {
    if (this.prepared.length > 0) {
      const kinds = this.prepared;
      this.prepared = [];
      this.emit("created", kinds);
    }
  }

  /** A batch holding prepared alerts failed: they never existed (their ids stay unused). */
  aborted(): void {
    this.prepared = [];
  }

  /** Writes one alert now, synced (alerts not derived from events: anchoring, policy). */
  async create(input: NewAlert): Promise<Alert> {
    const alert = this.build(input);
    const ops: BatchOp[] = [];
    this.addOps(alert, ops);
    await this.serialised(() => this.db.batch(ops as never, SYNCED));
    this.emit("created", [alert.kind]);
    return alert;
  }

  async get(id: string): Promise<Alert | undefined> {
    if (!ALERT_ID_PATTERN.test(id)) return undefined;
    const value = await this.sublevel.get(alertKey(id));
    return value === undefined ? undefined : (JSON.parse(value) as Alert);
  }

  /** Newest first, filtered and scoped to what the principal may see. */
  async list(principal: Principal, query: AlertQuery): Promise<AlertPage> {
    if (query.cursor !== undefined && !ALERT_ID_PATTERN.test(query.cursor)) {
      throw new AppError({ code: "BAD_REQUEST", message: `cursor must be an alert id (16 hex digits); got ${JSON.stringify(query.cursor)}` });
    }
    const keep = (alert: Alert) =>
      (query.kind === undefined || alert.kind === query.kind) &&
      (query.severity === undefined || alert.severity === query.severity) &&
      (query.acknowledged === undefined || (alert.acknowledgedAt !== undefined) === query.acknowledged) &&
      canSeeAlert(principal, alert);

    const alerts: Alert[] = [];
    let scanned = 0;
    let lastScanned: string | undefined;
    for await (const alert of query.eventIndex === undefined ? this.scanAll(query.cursor) : this.scanEvent(query.eventIndex, query.cursor)) {
      scanned += 1;
      lastScanned = alert.id;
      if (keep(alert)) alerts.push(alert);
      if (alerts.length === query.limit || scanned === MAX_SCAN) break;
    }
    const full = alerts.length === query.limit;
    const next = full ? alerts[alerts.length - 1]!.id : scanned === MAX_SCAN ? lastScanned! : null;
    return { alerts, next };
  }

  /** The alerts raised on one event, oldest first (for showing an event with its flags); scoped when a principal is given. */
  async flagsFor(eventIndex: number, principal?: Principal): Promise<Alert[]> {
    const found: Alert[] = [];
    for await (const alert of this.scanEvent(eventIndex)) {
      if (!principal || canSeeAlert(principal, alert)) found.push(alert);
    }
    return found.reverse();
  }

  /**
   * Marks an alert as seen by an admin, regulator or auditor who may see it.
   * Acknowledging twice keeps the first acknowledgement.
   */
  async acknowledge(id: string, principal: Principal): Promise<Alert> {
    if (!["admin", "regulator", "auditor"].includes(principal.role)) {
      throw new AppError({ code: "FORBIDDEN", message: `acknowledging alerts needs a key with role admin, regulator or auditor; this key's role is ${principal.role}` });
    }
    return this.serialised(async () => {
      const alert = await this.get(id);
      if (!alert || !canSeeAlert(principal, alert)) throw new AppError({ code: "NOT_FOUND", message: `no alert with id ${JSON.stringify(id)}` });
      if (alert.acknowledgedAt !== undefined) return alert;
      const acknowledged: Alert = { ...alert, acknowledgedAt: this.now().toISOString(), acknowledgedBy: principal.id };
      await this.sublevel.put(alertKey(id), JSON.stringify(acknowledged), SYNCED);
      return acknowledged;
    });
  }

  /** Resolves once every direct write started so far has finished. */
  async settled(): Promise<void> {
    await this.writes.catch(() => undefined);
  }

  private build(input: NewAlert): Alert {
    const id = formatAlertId(this.nextId++);
    const alert: Alert = { id, ...input, createdAt: this.now().toISOString() };
    // Drop undefined fields so the stored JSON is the same whatever the caller passed.
    for (const key of Object.keys(alert) as (keyof Alert)[]) if (alert[key] === undefined) delete alert[key];
    return alert;
  }

  private addOps(alert: Alert, ops: BatchOp[]): void {
    ops.push({ type: "put", sublevel: this.sublevel, key: alertKey(alert.id), value: JSON.stringify(alert) });
    if (alert.eventIndex !== undefined) ops.push({ type: "put", sublevel: this.sublevel, key: eventAlertKey(alert.eventIndex, alert.id), value: "" });
    this.outbox.enqueue(alert, this.webhooks(), ops, this.now());
  }

  /** Direct writes and acknowledgements one at a time, so read-modify-write cannot interleave. */
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writes.then(task, task);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async *scanAll(cursor?: string): AsyncGenerator<Alert> {
    const range = { gte: ALERT_RANGE.gte, lt: cursor === undefined ? ALERT_RANGE.lt : alertKey(cursor), reverse: true };
    for await (const value of this.sublevel.values(range)) yield JSON.parse(value) as Alert;
  }

  private async *scanEvent(eventIndex: number, cursor?: string): AsyncGenerator<Alert> {
    const range = eventAlertRange(eventIndex);
    const lt = cursor === undefined ? range.lt : eventAlertKey(eventIndex, cursor);
    const ids: string[] = [];
    for await (const key of this.sublevel.keys({ gte: range.gte, lt, reverse: true })) ids.push(idOfEventAlertKey(key));
    const values = await this.sublevel.getMany(ids.map(alertKey));
    for (const value of values) if (value !== undefined) yield JSON.parse(value) as Alert;
  }
}
