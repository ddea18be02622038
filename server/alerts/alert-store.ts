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
 *
 * Acknowledgement of an alert about events is per jurisdiction: a regulator
 * acknowledges for its own division (every regulator key of that division shares
 * it), so a share from one division to another stays open for the other's
 * regulator. Admins and auditors acknowledge for the gateway-wide view, where an
 * alert counts as acknowledged once anyone has. An alert about the gateway itself
 * (anchoring, policy, auth) belongs to no division: one acknowledgement for all.
 */

export const ALERT_KINDS = ["negative-list", "threshold", "anchoring", "policy", "auth"] as const;
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
  /** As answered: when it was acknowledged for the asking key's scope (see the comment at the top). */
  acknowledgedAt?: string;
  /** Id of the API key that acknowledged it (for that scope). Records written before acknowledgements had scopes hold their one acknowledgement here. */
  acknowledgedBy?: string;
  /** Stored only, never answered: the acknowledgements, oldest first, one per scope. */
  acknowledgements?: Acknowledgement[];
}

/** One acknowledgement, for a regulator's jurisdiction (its division code) or for the gateway-wide view (`GATEWAY_WIDE`). */
export interface Acknowledgement {
  scope: string;
  by: string;
  at: string;
}

export const GATEWAY_WIDE = "*";

export type NewAlert = Omit<Alert, "id" | "createdAt" | "acknowledgedAt" | "acknowledgedBy" | "acknowledgements">;

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
  /**
   * The jurisdiction of a regulator key by its id (undefined for other keys): gives an
   * acknowledgement stored before they had scopes the scope of the key that made it.
   */
  jurisdictionOfKey?: (keyId: string) => string | undefined;
  now?: () => Date;
}

/** A listing reads at most this many alerts per page, so a selective filter cannot make one request scan everything. */
const MAX_SCAN = 5000;

/** Roles that see alerts about the gateway itself (no event, no organisation). */
const SYSTEM_ALERT_ROLES = new Set(["admin", "auditor", "regulator"]);

export function canSeeAlert(principal: Principal, alert: Alert): boolean {
  // They name API keys and where attempts came from: the keys' administrators' business.
  if (alert.kind === "auth") return principal.role === "admin";
  if (alert.actorOrg === undefined) return SYSTEM_ALERT_ROLES.has(principal.role);
  return canSee(principal, { actorOrg: alert.actorOrg, recipientOrg: alert.recipientOrg, dataset: alert.dataset ?? "", submitter: alert.submitter });
}

export class AlertStore extends EventEmitter {
  readonly sublevel: AnySublevel;
  readonly outbox: Outbox;
  private readonly db: Database;
  private readonly now: () => Date;
  private webhooks: () => readonly WebhookConfig[];
  private readonly jurisdictionOfKey: (keyId: string) => string | undefined;
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
    this.jurisdictionOfKey = options.jurisdictionOfKey ?? (() => undefined);
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

  /** One alert as the gateway-wide view shows it (its first acknowledgement, of any scope). */
  async get(id: string): Promise<Alert | undefined> {
    const stored = await this.stored(id);
    return stored && this.view(stored);
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
    for await (const stored of query.eventIndex === undefined ? this.scanAll(query.cursor) : this.scanEvent(query.eventIndex, query.cursor)) {
      const alert = this.view(stored, principal);
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
      if (!principal || canSeeAlert(principal, alert)) found.push(this.view(alert, principal));
    }
    return found.reverse();
  }

  /**
   * Marks an alert as seen by an admin, regulator or auditor who may see it, for that
   * key's scope (see the comment at the top). Acknowledging what is already
   * acknowledged for that scope keeps the first acknowledgement.
   */
  async acknowledge(id: string, principal: Principal): Promise<Alert> {
    if (!["admin", "regulator", "auditor"].includes(principal.role)) {
      throw new AppError({ code: "FORBIDDEN", message: `acknowledging alerts needs a key with role admin, regulator or auditor; this key's role is ${principal.role}` });
    }
    return this.serialised(async () => {
      const stored = await this.stored(id);
      if (!stored || !canSeeAlert(principal, stored)) throw new AppError({ code: "NOT_FOUND", message: `no alert with id ${JSON.stringify(id)}` });
      const seen = this.view(stored, principal);
      if (seen.acknowledgedAt !== undefined) return seen;
      const scope = jurisdictionScope(principal, stored) ?? GATEWAY_WIDE;
      const acknowledgement: Acknowledgement = { scope, by: principal.id, at: this.now().toISOString() };
      const acknowledged: Alert = { ...stored, acknowledgements: [...(stored.acknowledgements ?? []), acknowledgement] };
      await this.sublevel.put(alertKey(id), JSON.stringify(acknowledged), SYNCED);
      return this.view(acknowledged, principal);
    });
  }

  private async stored(id: string): Promise<Alert | undefined> {
    if (!ALERT_ID_PATTERN.test(id)) return undefined;
    const value = await this.sublevel.get(alertKey(id));
    return value === undefined ? undefined : (JSON.parse(value) as Alert);
  }

  /**
   * A stored alert as `principal` sees it: acknowledged when acknowledged for the
   * principal's jurisdiction (a regulator, on an alert about events), else when
   * acknowledged at all; no principal: the gateway-wide view.
   */
  private view(stored: Alert, principal?: Principal): Alert {
    const { acknowledgements: _all, acknowledgedAt: _at, acknowledgedBy: _by, ...alert } = stored;
    const all = this.acknowledgementsOf(stored);
    const scope = principal && jurisdictionScope(principal, stored);
    const acknowledgement = scope === undefined ? all[0] : all.find((a) => a.scope === scope);
    return acknowledgement ? { ...alert, acknowledgedAt: acknowledgement.at, acknowledgedBy: acknowledgement.by } : alert;
  }

  /** Every acknowledgement of a stored alert, oldest first; a single one of an older record takes its key's scope. */
  private acknowledgementsOf(stored: Alert): Acknowledgement[] {
    const all = stored.acknowledgements ?? [];
    if (stored.acknowledgedAt === undefined || stored.acknowledgedBy === undefined) return all;
    const legacy = { scope: this.jurisdictionOfKey(stored.acknowledgedBy) ?? GATEWAY_WIDE, by: stored.acknowledgedBy, at: stored.acknowledgedAt };
    return [legacy, ...all];
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

/** The jurisdiction a regulator acknowledges an alert about events for; undefined: the gateway-wide scope. */
function jurisdictionScope(principal: Principal, alert: Alert): string | undefined {
  return principal.role === "regulator" && alert.actorOrg !== undefined ? principal.jurisdiction : undefined;
}
