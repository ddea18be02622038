import type { Logger } from "pino";
import type { Database } from "../store/database";
import type { StoredRecord } from "../log/event-log";
import type { AnySublevel, BatchOp, IndexObserver } from "../query/index-observer";
import { violations, type Policy } from "./policy";
import type { AlertStore, NewAlert } from "./alert-store";
import { operatorHourKey, operatorSubjectKey, orgDayKey, STATE_SUBLEVEL } from "./keys";

/**
 * Turns indexed events into alerts. For each record, in log order:
 * - every negative-list rule the event violates raises one `negative-list`
 *   alert (the event itself is already recorded: the ledger records, it does
 *   not block);
 * - `distinctSubjectsPerOperatorPerHour`: the distinct subjectRefs one operator
 *   (actor org + operator id) touches in one clock hour of `occurredAt`; the
 *   first event that takes the count above the limit raises one `threshold`
 *   alert, and no more for that operator-hour;
 * - `exportVolume`: a department's exports on one day of `occurredAt`; once the
 *   day's count is at least `minCount` and above `factor` × the department's
 *   average daily count over the previous `baselineDays` days (days without
 *   exports count as zero), one `threshold` alert for that department-day.
 * Hours and days are those of the policy's `timeZone`.
 *
 * Alerts and counters go into the indexer's batch, so they are written exactly
 * once with its watermark. The counters live in sublevel `alert-state` behind an
 * in-memory cache that always equals "what is written + this batch": it is
 * reloaded lazily from the database and dropped when a batch fails (`aborted`).
 * The indexer calls observe → (write) → committed/aborted one batch at a time.
 *
 * Late events: buckets are kept for a bounded time after the newest receivedAt
 * (operator-hours for `retentionHours`, department-days for the baseline plus a
 * day) and then pruned; an event whose bucket is older than that is not counted
 * (negative-list rules still apply to it).
 */

export interface AlertObserverOptions {
  db: Database;
  store: AlertStore;
  policy: () => Policy;
  logger?: Logger;
  /** How long operator-hour counters are kept after the newest event's receivedAt (default 48). */
  retentionHours?: number;
}

interface Counter {
  count: number;
  alerted: boolean;
}

/** At most this many counters are deleted per batch; pruning continues with the next batch. */
const PRUNE_LIMIT = 5000;
/** The cache is dropped after a commit once it holds more entries than this (it refills from the database). */
const CACHE_LIMIT = 100_000;
/** When the export threshold is off, department-day counters are still kept this long, for when it returns. */
const MAX_BASELINE_DAYS = 90;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export class AlertObserver implements IndexObserver {
  readonly name = "alerts";
  readonly state: AnySublevel;
  private readonly store: AlertStore;
  private readonly policy: () => Policy;
  private readonly logger?: Logger;
  private readonly retentionHours: number;
  /** Key → stored JSON (null: absent), for everything written plus the current batch. */
  private cache = new Map<string, string | null>();
  /** Keys changed by the current batch, written once each at its end. */
  private dirty = new Map<string, string>();
  private latestMs = -Infinity;
  private prunedBelow = { hour: "", day: "" };
  private pending?: { latestMs: number; prunedBelow: { hour: string; day: string } };

  constructor(options: AlertObserverOptions) {
    this.state = options.db.sublevel<string, string>(STATE_SUBLEVEL, { valueEncoding: "utf8" }) as unknown as AnySublevel;
    this.store = options.store;
    this.policy = options.policy;
    this.logger = options.logger;
    this.retentionHours = options.retentionHours ?? 48;
  }

  async observe(records: readonly StoredRecord[], ops: BatchOp[]): Promise<void> {
    if (records.length === 0) return;
    const policy = this.policy();
    const offsetMs = utcOffsetMs(policy.timeZone);
    const exportVolume = policy.thresholds.exportVolume;
    const baselineDays = exportVolume?.baselineDays ?? MAX_BASELINE_DAYS;

    let latestMs = this.latestMs;
    for (const record of records) latestMs = Math.max(latestMs, Date.parse(record.envelope.receivedAt) || -Infinity);
    const horizon = {
      hour: hourOf(latestMs - this.retentionHours * HOUR_MS, offsetMs),
      day: dayOf(latestMs - (baselineDays + 1) * DAY_MS, offsetMs),
    };

    this.dirty = new Map();
    try {
      for (const record of records) {
        this.checkNegativeList(policy, record, ops);
        await this.countSubject(policy, record, offsetMs, horizon.hour, ops);
        await this.countExport(policy, record, offsetMs, horizon.day, ops);
      }
      for (const [key, value] of this.dirty) ops.push({ type: "put", sublevel: this.state, key, value });
      // Buckets below the horizon take no more events; the baseline reads baselineDays further back.
      const pruneBelow = { hour: horizon.hour, day: dayOf(latestMs - (2 * baselineDays + 1) * DAY_MS, offsetMs) };
      this.pending = { latestMs, prunedBelow: await this.prune(pruneBelow, ops) };
    } catch (error) {
      // This batch will not be written: forget what it changed, as aborted() would.
      this.cache.clear();
      this.pending = undefined;
      throw error;
    } finally {
      this.dirty = new Map();
    }
  }

  committed(): void {
    if (this.pending) {
      this.latestMs = this.pending.latestMs;
      this.prunedBelow = this.pending.prunedBelow;
      this.pending = undefined;
    }
    if (this.cache.size > CACHE_LIMIT) this.cache.clear();
    this.store.committed();
  }

  aborted(): void {
    this.cache.clear();
    this.dirty = new Map();
    this.pending = undefined;
    this.store.aborted();
  }

  private checkNegativeList(policy: Policy, record: StoredRecord, ops: BatchOp[]): void {
    let found;
    try {
      found = violations(policy, record.envelope);
    } catch (error) {
      // A malformed stored event must not stall the indexer; it is reported and skipped.
      this.logger?.error({ err: error, index: record.index }, "could not evaluate the negative list on this event");
      return;
    }
    for (const v of found) {
      this.store.prepare({ kind: "negative-list", ruleId: v.ruleId, severity: v.severity, message: v.message, ...eventFacts(record) }, ops);
    }
  }

  private async countSubject(policy: Policy, record: StoredRecord, offsetMs: number, horizonHour: string, ops: BatchOp[]): Promise<void> {
    const threshold = policy.thresholds.distinctSubjectsPerOperatorPerHour;
    const event = record.envelope.event;
    if (!threshold || event.subjectRef === undefined) return;
    if (threshold.eventTypes && !threshold.eventTypes.includes(event.type)) return;
    const occurredMs = Date.parse(event.occurredAt);
    if (Number.isNaN(occurredMs)) return;
    const hour = hourOf(occurredMs, offsetMs);
    if (hour < horizonHour) return;

    const { org, operator } = event.actor;
    const key = operatorHourKey(hour, org, operator);
    const counter = (await this.counter(key)) ?? { count: 0, alerted: false };
    if (counter.alerted) return;
    const subjectKey = operatorSubjectKey(hour, org, operator, event.subjectRef);
    if ((await this.read(subjectKey)) !== null) return;
    this.write(subjectKey, "");
    counter.count += 1;
    if (counter.count > threshold.limit) {
      counter.alerted = true;
      this.store.prepare(
        {
          kind: "threshold",
          ruleId: "distinctSubjectsPerOperatorPerHour",
          severity: threshold.severity,
          message: `operator ${operator} of ${org} touched more than ${threshold.limit} distinct data subjects in the hour from ${hour}:00 (UTC${policy.timeZone})`,
          ...actorFacts(record),
        },
        ops,
      );
    }
    this.write(key, JSON.stringify(counter));
  }

  private async countExport(policy: Policy, record: StoredRecord, offsetMs: number, horizonDay: string, ops: BatchOp[]): Promise<void> {
    const threshold = policy.thresholds.exportVolume;
    const event = record.envelope.event;
    if (!threshold || !threshold.eventTypes.includes(event.type)) return;
    const occurredMs = Date.parse(event.occurredAt);
    if (Number.isNaN(occurredMs)) return;
    const day = dayOf(occurredMs, offsetMs);
    if (day < horizonDay) return;

    const org = event.actor.org;
    const key = orgDayKey(day, org);
    const counter = (await this.counter(key)) ?? { count: 0, alerted: false };
    counter.count += 1;
    if (!counter.alerted && counter.count >= threshold.minCount) {
      let total = 0;
      for (let i = 1; i <= threshold.baselineDays; i++) total += (await this.counter(orgDayKey(addDays(day, -i), org)))?.count ?? 0;
      const average = total / threshold.baselineDays;
      if (counter.count > threshold.factor * average) {
        counter.alerted = true;
        this.store.prepare(
          {
            kind: "threshold",
            ruleId: "exportVolume",
            severity: threshold.severity,
            message:
              `${org} has made ${counter.count} exports on ${day} (UTC${policy.timeZone}), above ${threshold.factor} × ` +
              `its daily average of ${round(average)} over the previous ${threshold.baselineDays} days`,
            ...actorFacts(record),
          },
          ops,
        );
      }
    }
    this.write(key, JSON.stringify(counter));
  }

  private async counter(key: string): Promise<Counter | undefined> {
    const value = await this.read(key);
    return value === null ? undefined : (JSON.parse(value) as Counter);
  }

  private async read(key: string): Promise<string | null> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const stored = (await this.state.get(key)) ?? null;
    this.cache.set(key, stored);
    return stored;
  }

  private write(key: string, value: string): void {
    this.cache.set(key, value);
    this.dirty.set(key, value);
  }

  /** Deletes counters of buckets below the horizons; returns how far pruning got (all of it unless the budget ran out). */
  private async prune(below: { hour: string; day: string }, ops: BatchOp[]): Promise<{ hour: string; day: string }> {
    let budget = PRUNE_LIMIT;
    const reached = { ...this.prunedBelow };
    for (const bucket of ["hour", "day"] as const) {
      if (below[bucket] <= this.prunedBelow[bucket]) continue;
      let finished = true;
      for (const prefix of bucket === "hour" ? ["h|", "s|"] : ["d|"]) {
        for await (const key of this.state.keys({ gte: prefix, lt: prefix + below[bucket], limit: budget })) {
          ops.push({ type: "del", sublevel: this.state, key });
          this.cache.delete(key);
          budget -= 1;
        }
        if (budget === 0) {
          finished = false;
          break;
        }
      }
      if (finished) reached[bucket] = below[bucket];
      if (budget === 0) break;
    }
    return reached;
  }
}

/** What ties an alert to its event, and decides who sees it (canSee). */
function eventFacts(record: StoredRecord): Pick<NewAlert, "eventIndex" | "actorOrg" | "recipientOrg" | "dataset" | "submitter"> {
  const { event, submitter } = record.envelope;
  return { eventIndex: record.index, actorOrg: event.actor.org, recipientOrg: event.recipient?.org, dataset: event.dataset, submitter };
}

/**
 * A threshold is about the actor's behaviour, not about the one event that
 * crossed it: the recipient of that event is left out, so the recipient's
 * regulator is not shown another jurisdiction's operators.
 */
function actorFacts(record: StoredRecord): Pick<NewAlert, "eventIndex" | "actorOrg" | "dataset" | "submitter"> {
  const { recipientOrg: _recipient, ...facts } = eventFacts(record);
  return facts;
}

/** "+08:00" → 8 h in ms. */
export function utcOffsetMs(offset: string): number {
  const sign = offset.startsWith("-") ? -1 : 1;
  const [h, m] = offset.slice(1).split(":").map(Number);
  return sign * (h! * 60 + m!) * 60_000;
}

/** The local clock hour of an instant, "2024-05-01T09"; "" for an instant before any. */
export function hourOf(ms: number, offsetMs: number): string {
  return Number.isFinite(ms) ? new Date(ms + offsetMs).toISOString().slice(0, 13) : "";
}

/** The local day of an instant, "2024-05-01"; "" for an instant before any. */
export function dayOf(ms: number, offsetMs: number): string {
  return Number.isFinite(ms) ? new Date(ms + offsetMs).toISOString().slice(0, 10) : "";
}

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
