/**
 * Derived work makes way for ingest, within bounds (server/log/ingest-priority.ts):
 * it runs at once while ingest is quiet or light, waits while submissions keep the
 * event loop busy, stops waiting at the lag bound or after the longest deferral, and
 * then catches up without waiting between chunks. The clock and the event loop's
 * load are injected; the waits are real but short.
 */
import { expect } from "chai";
import { IngestPriority } from "../../server/log/ingest-priority";

class Clock {
  ms = 1_000;
  /** The cores the process uses, as the priority sees it (a busy process unless a test says otherwise). */
  busyShare = 2;
  readonly now = () => this.ms;
  readonly load = () => () => this.busyShare;

  /** A priority on this clock and load: quiet after 50 ms, deferring up to 5 s, up to 1,000 events behind. */
  priority(maxDeferMs = 5_000): IngestPriority {
    return new IngestPriority({ quietMs: 50, maxDeferMs, maxLag: 1_000, now: this.now, load: this.load });
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 30));

/** Whether `promise` settled within a few real polls (the clock does not move meanwhile): for what must still wait. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  return settlesWithin(promise, 3);
}

/**
 * Whether `promise` settles at all, polled for up to 5 s of real time: for what must
 * run. The injected clock does not move meanwhile, so the longer wait only spares a
 * slow machine, and cannot let a turn through that should still wait.
 */
async function settles(promise: Promise<unknown>): Promise<boolean> {
  return settlesWithin(promise, 5_000 / 30);
}

async function settlesWithin(promise: Promise<unknown>, ticks: number): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < ticks && !settled; i++) await tick();
  return settled;
}

/** A submission that stays under way until `end()` is called. */
function openSubmission(priority: IngestPriority): { end: () => Promise<void> } {
  let finish!: () => void;
  const done = priority.submission(() => new Promise<void>((resolve) => (finish = resolve)));
  return {
    end: async () => {
      finish();
      await done;
    },
  };
}

describe("IngestPriority: derived work makes way for ingest", function () {
  it("runs derived work at once when no submission is under way or recent", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    expect(priority.busy).to.equal(false);
    expect(await settles(priority.consumer().take(() => 10, () => false))).to.equal(true);
  });

  it("waits while a submission is under way, and until ingest has been quiet for quietMs after it", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    const submission = openSubmission(priority);
    expect(priority.busy).to.equal(true);
    const turn = priority.consumer().take(() => 10, () => false);
    expect(await settlesSoon(turn)).to.equal(false);

    await submission.end();
    clock.ms += 49;
    expect(await settlesSoon(turn)).to.equal(false, "quiet for 49 ms only");
    clock.ms += 1;
    expect(await settles(turn)).to.equal(true);
  });

  it("counts a failed submission as ended, and passes its error on", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    let caught: unknown;
    await priority.submission(() => Promise.reject(new Error("invalid event"))).catch((error) => (caught = error));
    expect((caught as Error).message).to.equal("invalid event");
    clock.ms += 50;
    expect(priority.busy).to.equal(false);
  });

  it("does not wait at all when the consumer is maxLag or more behind", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    openSubmission(priority);
    let lag = 999;
    const turn = priority.consumer().take(() => lag, () => false);
    expect(await settlesSoon(turn)).to.equal(false);
    lag = 1_000;
    expect(await settles(turn)).to.equal(true);
  });

  it("stops waiting after maxDeferMs of busy ingest, then catches up without waiting until told it has", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    openSubmission(priority); // never ends: ingest stays busy
    const turns = priority.consumer();
    const first = turns.take(() => 10, () => false);
    clock.ms += 4_999;
    expect(await settlesSoon(first)).to.equal(false);
    clock.ms += 1;
    expect(await settles(first)).to.equal(true);

    // Catching up: every chunk runs at once, however busy ingest is.
    expect(await settles(turns.take(() => 10, () => false))).to.equal(true);
    expect(await settles(turns.take(() => 10, () => false))).to.equal(true);

    // Caught up: the next chunk waits its turn again, for a full deferral.
    turns.caughtUp();
    const next = turns.take(() => 10, () => false);
    clock.ms += 4_000;
    expect(await settlesSoon(next)).to.equal(false);
    clock.ms += 1_000;
    expect(await settles(next)).to.equal(true);
  });

  it("each consumer keeps its own turns: one catching up does not let another skip its wait", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    openSubmission(priority);
    const indexer = priority.consumer();
    const folder = priority.consumer();
    const indexerTurn = indexer.take(() => 1_000, () => false); // at the lag bound
    expect(await settles(indexerTurn)).to.equal(true);
    expect(await settlesSoon(folder.take(() => 10, () => false))).to.equal(false);
  });

  it("ends the wait when the consumer is stopping", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    openSubmission(priority);
    let stopping = false;
    const turn = priority.consumer().take(() => 10, () => stopping);
    expect(await settlesSoon(turn)).to.equal(false);
    stopping = true;
    expect(await settles(turn)).to.equal(true);
  });

  it("runs while submissions come in but the process uses under 0.75 cores of CPU, and waits its turn again next time", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    openSubmission(priority);
    const turns = priority.consumer();
    clock.busyShare = 0.74;
    const light = turns.take(() => 10, () => false);
    clock.ms += 199;
    expect(await settlesSoon(light), "measured for 199 ms only").to.equal(false);
    clock.ms += 1;
    expect(await settles(light)).to.equal(true);
    // Not catching up: with the process busy again, the next chunk waits.
    clock.busyShare = 0.75;
    const busy = turns.take(() => 10, () => false);
    clock.ms += 200;
    expect(await settlesSoon(busy)).to.equal(false);
  });

  it("measures the load as the process's CPU by default", async function () {
    const priority = new IngestPriority({ maxLag: 1_000 });
    const cpuMs = (since: NodeJS.CpuUsage) => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1000;
    };
    // While this thread spins for 100 ms of CPU: at least its own share of the wall time.
    const busy = priority.load();
    const cpu = process.cpuUsage();
    const wall = performance.now();
    while (cpuMs(cpu) < 100); // spin
    const ownShare = cpuMs(cpu) / (performance.now() - wall);
    expect(busy()).to.be.at.least(ownShare * 0.9);
    // While it sleeps: the process's CPU over the wall time, as process.cpuUsage tells it.
    const idle = priority.load();
    const cpu2 = process.cpuUsage();
    const wall2 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const measured = idle();
    expect(measured).to.be.closeTo(cpuMs(cpu2) / (performance.now() - wall2), 0.2);
  });

  it("a consumer that does not catch up (the audit) waits before every chunk, each wait at most maxDeferMs, and stops waiting when stopped", async function () {
    const clock = new Clock();
    const priority = clock.priority();
    openSubmission(priority); // never ends: ingest stays busy
    const turns = priority.consumer({ catchesUp: false });
    for (let chunk = 0; chunk < 2; chunk++) {
      const turn = turns.take(() => 0, () => false);
      clock.ms += 4_999;
      expect(await settlesSoon(turn)).to.equal(false, `chunk ${chunk} waits`);
      clock.ms += 1;
      expect(await settles(turn)).to.equal(true);
    }
    let stopped = false;
    const last = turns.take(() => 0, () => stopped);
    expect(await settlesSoon(last)).to.equal(false);
    stopped = true;
    expect(await settles(last)).to.equal(true);
  });

  it("with maxDeferMs 0 never waits (DERIVED_MAX_DEFER_MS=0)", async function () {
    const clock = new Clock();
    const priority = clock.priority(0);
    openSubmission(priority);
    expect(await settles(priority.consumer().take(() => 10, () => false))).to.equal(true);
  });
});
