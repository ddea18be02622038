import { performance } from "node:perf_hooks";

/**
 * Acknowledging events comes before the work derived from them (indexing, folding
 * into the tree). Both share one JavaScript thread; when they alternate chunk by
 * chunk, a burst is acknowledged at the pace of ingest plus all its derived work.
 * Derived work is only ever *late*, never lost — it is redone from the log — so
 * while ingest keeps the thread busy it waits, within bounds, and catches up after:
 *
 * - it runs at once while ingest is quiet (no submission for `quietMs`), and while
 *   submissions come in but the process uses less than `busyCores` cores of CPU
 *   over the first `loadWindowMs` of its wait (a steady, light stream). CPU, not
 *   the event loop's utilisation: during a burst the main thread also waits for
 *   the worker thread that prepares batches (server/ingest), and its loop looks
 *   half idle while both cores are busy;
 * - it never waits longer than `maxDeferMs` at a time, so even under a long burst
 *   events are indexed and anchored seconds later, not after the burst;
 * - it never waits while it is `maxLag` events or more behind, so the backlog
 *   (bounded again by the 503 of INGEST_MAX_BACKLOG) stays bounded.
 *
 * Once a wait ends for a reason other than a quiet or light ingest, the consumer
 * catches up completely before it yields again: waiting between its chunks would
 * only make it fall further behind.
 */

export interface IngestPriorityOptions {
  /** Ingest counts as busy for this long after its last submission ended (default 50 ms). */
  quietMs?: number;
  /** Longest wait of derived work while ingest stays busy (default 5,000 ms). */
  maxDeferMs?: number;
  /** Derived work this many events behind the log does not wait at all. */
  maxLag: number;
  /** CPU (in cores) the process must use while derived work waits for ingest to keep it waiting (default 0.75: most of a core, which a saturated main thread alone exceeds). */
  busyCores?: number;
  /** How long the CPU is measured before a light stream lets derived work run (default 200 ms). */
  loadWindowMs?: number;
  /** Injected for tests: the clock (default performance.now), and the cores used from a call to a call of what it returns (default process.cpuUsage). */
  now?: () => number;
  load?: () => () => number;
}

type ReasonToRun = "quiet" | "light load" | "lag" | "deferred long enough";

export class IngestPriority {
  private readonly quietMs: number;
  private readonly maxDeferMs: number;
  private readonly maxLag: number;
  private readonly busyCores: number;
  readonly loadWindowMs: number;
  private readonly now: () => number;
  readonly load: () => () => number;
  private submissions = 0;
  private lastSubmissionEnded = Number.NEGATIVE_INFINITY;

  constructor({ quietMs = 50, maxDeferMs = 5_000, maxLag, busyCores = 0.75, loadWindowMs = 200, now = () => performance.now(), load = processCores }: IngestPriorityOptions) {
    this.quietMs = quietMs;
    this.maxDeferMs = maxDeferMs;
    this.maxLag = maxLag;
    this.busyCores = busyCores;
    this.loadWindowMs = loadWindowMs;
    this.now = now;
    this.load = load;
  }

  /** Runs one submission (validation to durable write), which derived work makes way for. */
  async submission<T>(work: () => Promise<T>): Promise<T> {
    this.submissions += 1;
    try {
      return await work();
    } finally {
      this.submissions -= 1;
      this.lastSubmissionEnded = this.now();
    }
  }

  /** Whether a submission is under way or ended less than `quietMs` ago. */
  get busy(): boolean {
    return this.submissions > 0 || this.now() - this.lastSubmissionEnded < this.quietMs;
  }

  /**
   * A consumer's turn-taking; one per background loop. `catchesUp: false` for work
   * that is not behind the log (the audit): it has no backlog to clear, so it waits
   * before every chunk, each wait still ending after at most `maxDeferMs`.
   */
  consumer({ catchesUp = true }: { catchesUp?: boolean } = {}): DerivedWorkTurns {
    return new DerivedWorkTurns(this, catchesUp);
  }

  /**
   * Why derived work `lag` events behind, waiting since `since`, may run now, or
   * undefined to wait on. `load`: the cores the process used over the first loadWindowMs of the wait, once measured.
   */
  reasonToRun(lag: number, since: number, load?: number): ReasonToRun | undefined {
    if (!this.busy) return "quiet";
    if (load !== undefined && load < this.busyCores) return "light load";
    if (lag >= this.maxLag) return "lag";
    if (this.now() - since >= this.maxDeferMs) return "deferred long enough";
    return undefined;
  }

  /** How long to sleep before asking again. */
  get pollMs(): number {
    return Math.max(1, Math.min(this.quietMs, 25));
  }

  time(): number {
    return this.now();
  }
}

/** The turns of one background consumer: wait before a chunk, unless catching up. */
export class DerivedWorkTurns {
  private catchingUp = false;

  constructor(
    private readonly priority: IngestPriority,
    private readonly catchesUp = true,
  ) {}

  /**
   * Resolves when the next chunk may run. `lag()` is how far the consumer is
   * behind the log; `stopped()` ends the wait early (the consumer is stopping).
   */
  async take(lag: () => number, stopped: () => boolean): Promise<void> {
    if (this.catchingUp) return;
    const since = this.priority.time();
    const loadSince = this.priority.load();
    let load: number | undefined;
    for (;;) {
      const reason = this.priority.reasonToRun(lag(), since, load);
      if (reason !== undefined) {
        this.catchingUp = this.catchesUp && (reason === "lag" || reason === "deferred long enough");
        return;
      }
      if (stopped()) return;
      await new Promise((resolve) => setTimeout(resolve, this.priority.pollMs));
      if (load === undefined && this.priority.time() - since >= this.priority.loadWindowMs) load = loadSince();
    }
  }

  /** The consumer has caught up with the log: its next chunk waits its turn again. */
  caughtUp(): void {
    this.catchingUp = false;
  }
}

/** The cores of CPU the process (all its threads) uses from now until the returned function is called. */
function processCores(): () => number {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 1000 / Math.max(1, performance.now() - wall);
  };
}
