/**
 * Acknowledging events comes before the work derived from them (indexing, folding
 * into the tree). Both share one JavaScript thread; when they alternate chunk by
 * chunk, a burst is acknowledged at the pace of ingest plus all its derived work.
 * Derived work is only ever *late*, never lost — it is redone from the log — so
 * under a burst it waits, within bounds, and catches up once the burst is over:
 *
 * - it runs at once while ingest is quiet (no submission for `quietMs`);
 * - it never waits longer than `maxDeferMs` at a time, so events submitted in a
 *   steady stream are indexed and anchored seconds later, not after the stream;
 * - it never waits while it is `maxLag` events or more behind, so the backlog
 *   (bounded again by the 503 of INGEST_MAX_BACKLOG) stays bounded.
 *
 * Once a wait ends for a reason other than quiet, the consumer catches up
 * completely before it yields again: waiting between its chunks would only
 * make it fall further behind.
 */

export interface IngestPriorityOptions {
  /** Ingest counts as busy for this long after its last submission ended (default 50 ms). */
  quietMs?: number;
  /** Longest wait of derived work while ingest stays busy (default 5,000 ms). */
  maxDeferMs?: number;
  /** Derived work this many events behind the log does not wait at all. */
  maxLag: number;
  /** Injected for tests; defaults to performance.now. */
  now?: () => number;
}

export class IngestPriority {
  private readonly quietMs: number;
  private readonly maxDeferMs: number;
  private readonly maxLag: number;
  private readonly now: () => number;
  private submissions = 0;
  private lastSubmissionEnded = Number.NEGATIVE_INFINITY;

  constructor({ quietMs = 50, maxDeferMs = 5_000, maxLag, now = () => performance.now() }: IngestPriorityOptions) {
    this.quietMs = quietMs;
    this.maxDeferMs = maxDeferMs;
    this.maxLag = maxLag;
    this.now = now;
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

  /** A consumer's turn-taking; one per background loop. */
  consumer(): DerivedWorkTurns {
    return new DerivedWorkTurns(this);
  }

  /** Why derived work `lag` events behind, which began waiting at `since`, may run now; undefined to wait on. */
  reasonToRun(lag: number, since: number): "quiet" | "lag" | "deferred long enough" | undefined {
    if (!this.busy) return "quiet";
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

  constructor(private readonly priority: IngestPriority) {}

  /**
   * Resolves when the next chunk may run. `lag()` is how far the consumer is
   * behind the log; `stopped()` ends the wait early (the consumer is stopping).
   */
  async take(lag: () => number, stopped: () => boolean): Promise<void> {
    if (this.catchingUp) return;
    const since = this.priority.time();
    for (;;) {
      const reason = this.priority.reasonToRun(lag(), since);
      if (reason !== undefined) {
        this.catchingUp = reason !== "quiet";
        return;
      }
      if (stopped()) return;
      await new Promise((resolve) => setTimeout(resolve, this.priority.pollMs));
    }
  }

  /** The consumer has caught up with the log: its next chunk waits its turn again. */
  caughtUp(): void {
    this.catchingUp = false;
  }
}
