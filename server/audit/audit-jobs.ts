/**
 * Audits as background jobs, one at a time gateway-wide: starting while one runs
 * returns the running one. A key may start one per `minIntervalMs` (counted from
 * its previous start, in memory), so no key can keep the gateway auditing back to
 * back. Jobs live in memory (the last few); the last finished one is also kept in
 * the `audit` sublevel, so its report survives a restart.
 */
import { randomUUID } from "node:crypto";
import { AppError } from "../errors";
import { SYNCED, type Database, type Stores } from "../store/database";
import type { MerkleTreeStore } from "../merkle";
import { runAudit, type RunAuditParameters } from "./audit";
import type { AuditProgress, AuditReport } from "./report";
import { levelAuditSources, type AuditChain } from "./sources";

export type AuditJobState = "running" | "done" | "failed";

export interface AuditJob {
  id: string;
  state: AuditJobState;
  /** Leaf positions audited so far. */
  processed: number;
  /** Positions to audit. */
  total: number;
  eventsPerSecond: number;
  startedAt: string;
  finishedAt?: string;
  report?: AuditReport;
  /** Why the audit could not run to the end (state failed). */
  error?: string;
}

/** Runs one audit; the job runner supplies progress reporting and cancellation. */
export type AuditRun = (onProgress: (progress: AuditProgress) => void, signal: AbortSignal) => Promise<AuditReport>;

export interface AuditJobsParameters {
  /** Where the last finished job is kept (sublevel `audit`); omit to keep nothing. */
  db?: Database;
  run: AuditRun;
  now?: () => Date;
  /** Finished jobs kept in memory (default 20). */
  keep?: number;
  /** Shortest time between two starts by one key (default 0: no limit). */
  minIntervalMs?: number;
}

/** A key asked for an audit before its interval was over: 429, Retry-After `retryAfterSeconds`. */
export class AuditTooSoonError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, minIntervalMs: number) {
    super({
      code: "RATE_LIMITED",
      message: `this key started an audit less than ${Math.ceil(minIntervalMs / 1000)} s ago; it may start the next one in ${retryAfterSeconds} s`,
      details: { retryAfterSeconds },
    });
    this.name = "AuditTooSoonError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const LATEST_KEY = "latest";

export class AuditJobs {
  private readonly jobs = new Map<string, AuditJob>();
  private readonly store;
  private readonly run: AuditRun;
  private readonly now: () => Date;
  private readonly keep: number;
  private readonly minIntervalMs: number;
  /** When each key last started an audit (ms since the epoch); at most one entry per key. */
  private readonly lastStartBy = new Map<string, number>();
  private running?: { job: AuditJob; controller: AbortController; done: Promise<void> };
  private latestId?: string;

  private constructor(p: AuditJobsParameters) {
    this.store = p.db?.sublevel<string, string>("audit", { valueEncoding: "utf8" });
    this.run = p.run;
    this.now = p.now ?? (() => new Date());
    this.keep = p.keep ?? 20;
    this.minIntervalMs = p.minIntervalMs ?? 0;
  }

  /** Opens the runner, loading the last finished job from the database. */
  static async open(p: AuditJobsParameters): Promise<AuditJobs> {
    const jobs = new AuditJobs(p);
    const stored = await jobs.store?.get(LATEST_KEY);
    if (stored !== undefined) {
      try {
        const job = JSON.parse(stored) as AuditJob;
        jobs.jobs.set(job.id, job);
        jobs.latestId = job.id;
      } catch {
        // An unreadable record only loses the previous report.
      }
    }
    return jobs;
  }

  /**
   * Starts an audit for the key `by`, or returns the one running (whoever started it);
   * an AuditTooSoonError when `by` started one less than minIntervalMs ago.
   */
  start(by?: string): { job: AuditJob; started: boolean } {
    if (this.running) return { job: snapshot(this.running.job), started: false };
    const at = this.now().getTime();
    if (by !== undefined) {
      const last = this.lastStartBy.get(by);
      if (last !== undefined && at - last < this.minIntervalMs) throw new AuditTooSoonError(Math.max(1, Math.ceil((last + this.minIntervalMs - at) / 1000)), this.minIntervalMs);
      this.lastStartBy.set(by, at);
    }
    const job: AuditJob = { id: randomUUID(), state: "running", processed: 0, total: 0, eventsPerSecond: 0, startedAt: this.now().toISOString() };
    const controller = new AbortController();
    this.remember(job);
    const done = this.execute(job, controller.signal);
    this.running = { job, controller, done };
    return { job: snapshot(job), started: true };
  }

  get(id: string): AuditJob | undefined {
    const job = this.jobs.get(id);
    return job && snapshot(job);
  }

  /** The running job, else the last finished one (also from before a restart). */
  latest(): AuditJob | undefined {
    return this.latestId === undefined ? undefined : this.get(this.latestId);
  }

  /** Resolves when no audit is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  /** Stops a running audit (it ends as failed) and waits for it; for shutdown. */
  async stop(): Promise<void> {
    this.running?.controller.abort();
    await this.idle();
  }

  private async execute(job: AuditJob, signal: AbortSignal): Promise<void> {
    // Let start() return before any work begins.
    await Promise.resolve();
    try {
      if (signal.aborted) throw new Error("the audit was stopped");
      const report = await this.run((progress) => {
        job.processed = progress.processed;
        job.total = progress.total;
        job.eventsPerSecond = progress.eventsPerSecond;
      }, signal);
      job.report = report;
      job.total = Math.max(job.total, job.processed);
      job.eventsPerSecond = report.eventsPerSecond;
      job.state = "done";
    } catch (error) {
      job.state = "failed";
      job.error = (error as Error)?.message ?? String(error);
    }
    job.finishedAt = this.now().toISOString();
    try {
      await this.store?.put(LATEST_KEY, JSON.stringify(job), SYNCED);
    } catch (error) {
      // The report is still served from memory; only its survival of a restart is lost.
      job.error ??= `the report could not be saved: ${(error as Error).message}`;
    }
    this.running = undefined;
  }

  private remember(job: AuditJob): void {
    this.jobs.set(job.id, job);
    this.latestId = job.id;
    while (this.jobs.size > this.keep) {
      const oldest = this.jobs.keys().next().value as string;
      this.jobs.delete(oldest);
    }
  }
}

function snapshot(job: AuditJob): AuditJob {
  return { ...job };
}

export interface GatewayAuditParameters {
  stores: Stores;
  /** The gateway's live tree store: the audit covers its size at the start. */
  tree: Pick<MerkleTreeStore, "size" | "root">;
  logId: string;
  chain?: AuditChain;
  /** Turn-taking with ingest (IngestPriority.consumer({ catchesUp: false })): the audit yields to submissions. */
  turns?: RunAuditParameters["turns"];
}

/** The audit of a running gateway's own database, for {@link AuditJobs}. */
export function gatewayAuditRun({ stores, tree, logId, chain, turns }: GatewayAuditParameters): AuditRun {
  return async (onProgress, signal) => {
    const sources = await levelAuditSources(stores, { store: tree });
    return runAudit({ ...sources, logId, chain, onProgress, signal, turns });
  };
}
