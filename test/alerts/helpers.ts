/**
 * Shared fixtures for the alert tests: events and stored records, a real LevelDB
 * in a temporary directory, an observer driven the way the event indexer drives
 * it (observe → one atomic synced batch → committed), principals, and a bounded wait.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import { canonicalBytes, type Envelope } from "../../server/domain/envelope";
import type { StoredEvent } from "../../server/domain/event-schema";
import type { StoredRecord } from "../../server/log/event-log";
import type { Principal } from "../../server/auth/key-store";
import type { BatchOp } from "../../server/query/index-observer";
import { openDatabase, type Database } from "../../server/store/database";
import { AlertObserver } from "../../server/alerts/alert-observer";
import { AlertStore } from "../../server/alerts/alert-store";
import { EMPTY_POLICY, parsePolicy, type Policy } from "../../server/alerts/policy";

export const LOG_ID = "0x" + "ab".repeat(32);

export type EventOverrides = Partial<Omit<StoredEvent, "actor">> & { actor?: Partial<StoredEvent["actor"]> };

export function event(overrides: EventOverrides = {}): StoredEvent {
  const { actor, ...rest } = overrides;
  return {
    type: "share",
    actor: { org: "330102003004:civil-affairs", system: "hukou-sys", operator: "op-1", ...actor },
    dataset: "household-registry",
    purpose: "social assistance eligibility check",
    legalBasis: "社会救助暂行办法 第十一条",
    fields: ["name", "address"],
    occurredAt: "2024-05-01T09:15:00+08:00",
    requestId: "req-1",
    ...rest,
  };
}

export function envelope(index: number, e: StoredEvent, options: { receivedAt?: string; submitter?: string } = {}): Envelope {
  return {
    v: 1,
    log: LOG_ID,
    index,
    receivedAt: options.receivedAt ?? "2024-05-01T01:20:00.000Z",
    submitter: options.submitter ?? "submitterkey1",
    event: { ...e, requestId: `req-${index}` },
  };
}

export function record(index: number, e: StoredEvent, options: { receivedAt?: string; submitter?: string } = {}): StoredRecord {
  const env = envelope(index, e, options);
  return { index, envelope: env, bytes: canonicalBytes(env) };
}

/** Records for the given events, numbered from `from`. */
export function records(from: number, events: StoredEvent[], options: { receivedAt?: string; submitter?: string } = {}): StoredRecord[] {
  return events.map((e, i) => record(from + i, e, options));
}

export function policy(document: Record<string, unknown>): Policy {
  return parsePolicy({ version: 1, ...document });
}

export const silentLogger = pino({ level: "silent" });

/** A logger whose lines are kept, to check what was (and was not) logged. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

export function tempDir(prefix = "alerts-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A database, alert store and observer, fed the way the event indexer feeds observers. */
export class Harness {
  db!: Database;
  store!: AlertStore;
  observer!: AlertObserver;
  current: Policy = EMPTY_POLICY;
  readonly dir = tempDir();

  static async open(initial?: Policy): Promise<Harness> {
    const harness = new Harness();
    if (initial) harness.current = initial;
    await harness.openParts();
    return harness;
  }

  private async openParts(): Promise<void> {
    this.db = await openDatabase(path.join(this.dir, "db"));
    this.store = await AlertStore.open(this.db, { webhooks: () => this.current.webhooks });
    this.observer = new AlertObserver({ db: this.db, store: this.store, policy: () => this.current, logger: silentLogger });
  }

  /** observe → one synced batch → committed(), as the indexer does. */
  async feed(batch: StoredRecord[]): Promise<BatchOp[]> {
    const ops: BatchOp[] = [];
    await this.observer.observe(batch, ops);
    await this.db.batch(ops as never, { sync: true } as never);
    this.observer.committed();
    return ops;
  }

  async reopen(): Promise<void> {
    await this.db.close();
    await this.openParts();
  }

  async close(): Promise<void> {
    await this.db.close();
    removeDir(this.dir);
  }

  /** Every stored alert, oldest first. */
  async allAlerts() {
    const page = await this.store.list(ADMIN, { limit: 500 });
    return page.alerts.reverse();
  }
}

const CREATED = "2024-01-01T00:00:00.000Z";
export const ADMIN: Principal = { id: "admin0000001", name: "admin", role: "admin", createdAt: CREATED };
/** Regulator of Shangcheng district (330102), Hangzhou. */
export const REGULATOR_330102: Principal = { id: "regulator0001", name: "上城区 regulator", role: "regulator", jurisdiction: "330102000000", createdAt: CREATED };
/** Regulator of Yuhang district (330110), Hangzhou. */
export const REGULATOR_330110: Principal = { id: "regulator0002", name: "余杭区 regulator", role: "regulator", jurisdiction: "330110000000", createdAt: CREATED };
export const AUDITOR: Principal = { id: "auditor00001", name: "auditor", role: "auditor", createdAt: CREATED };
export const AUDITOR_HEALTH: Principal = { id: "auditor00002", name: "health auditor", role: "auditor", datasets: ["health-records"], createdAt: CREATED };
export const SUBMITTER: Principal = { id: "submitterkey1", name: "hukou system", role: "submitter", jurisdiction: "330102000000", createdAt: CREATED };
export const OTHER_SUBMITTER: Principal = { id: "submitterkey2", name: "other system", role: "submitter", createdAt: CREATED };
export const CITIZEN_PORTAL: Principal = { id: "portal000001", name: "portal", role: "citizen-portal", createdAt: CREATED };

/** Polls `check` until it returns a truthy value; fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
