/**
 * What every suite shares: the run's options, timing and percentiles, progress lines
 * on stderr, and temporary directories and child processes that are cleaned up at the
 * end of the run, even when a suite fails or the run is interrupted.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import type { Report } from "./report";

export interface BenchOptions {
  quick: boolean;
  report: Report;
}

export type Suite = (options: BenchOptions) => Promise<void>;

// ---------------------------------------------------------------------------
// Timing and statistics
// ---------------------------------------------------------------------------

export function now(): number {
  return performance.now();
}

/** Milliseconds that `work` takes. */
export async function time(work: () => unknown): Promise<number> {
  const started = now();
  await work();
  return now() - started;
}

export function timeSync(work: () => unknown): number {
  const started = now();
  work();
  return now() - started;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs `ours` and `baseline` alternately `rounds` times (baseline first) and returns the
 * median time of each and the median of the per-round ratios ours ÷ baseline. Pairing
 * adjacent runs cancels most of the noise of a shared machine: both sides of a ratio see
 * about the same load.
 */
export async function paired(
  rounds: number,
  ours: () => unknown,
  baseline: () => unknown,
  label?: string,
): Promise<{ oursMs: number; baselineMs: number; ratio: number; rounds: { oursMs: number; baselineMs: number }[] }> {
  const results: { oursMs: number; baselineMs: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    gc();
    const baselineMs = await time(baseline);
    gc();
    const oursMs = await time(ours);
    results.push({ oursMs, baselineMs });
    if (label) progress(`${label}: round ${round + 1}/${rounds}: ${ms(oursMs)} vs baseline ${ms(baselineMs)}`);
  }
  return {
    oursMs: median(results.map((r) => r.oursMs)),
    baselineMs: median(results.map((r) => r.baselineMs)),
    ratio: median(results.map((r) => r.oursMs / r.baselineMs)),
    rounds: results,
  };
}

/**
 * A full garbage collection, so that one measurement does not pay for the garbage of the
 * previous one. Uses global.gc when node runs with --expose-gc, else turns the flag on
 * at run time and takes `gc` from a fresh context (a documented V8 idiom).
 */
export const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  })();

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toPrecision(3)} ms`;
}

export function perSecond(count: number, elapsedMs: number): number {
  return (count * 1000) / elapsedMs;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

const runStarted = now();

/** A progress line on stderr, stamped with the seconds since the run started. */
export function progress(message: string): void {
  process.stderr.write(`[${((now() - runStarted) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

// ---------------------------------------------------------------------------
// Cleanup: temporary directories and child processes
// ---------------------------------------------------------------------------

const cleanups: { label: string; run: () => Promise<void> | void }[] = [];

/** Registers `run` to be called (once, last registered first) when the run ends. */
export function onCleanup(label: string, run: () => Promise<void> | void): () => Promise<void> {
  const entry = { label, run };
  cleanups.push(entry);
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    const at = cleanups.indexOf(entry);
    if (at >= 0) cleanups.splice(at, 1);
    await run();
  };
}

/** Runs every registered cleanup; errors are reported and do not stop the others. */
export async function cleanUpAll(): Promise<void> {
  while (cleanups.length > 0) {
    const { label, run } = cleanups.pop()!;
    try {
      await run();
    } catch (error) {
      process.stderr.write(`cleanup of ${label} failed: ${(error as Error).message}\n`);
    }
  }
}

/** A fresh directory under os.tmpdir(), removed at the end of the run (or by the returned function). */
export function tempDir(prefix: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ledger-bench-${prefix}-`));
  const remove = onCleanup(`temporary directory ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return { dir, remove };
}

/** Whether a process with this pid still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops `child` with SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited.
 * Only this one process (by its pid) is signalled.
 */
export function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Sends SIGKILL to `pid` if it is still alive (a grandchild the run started through a child). */
export function killPid(pid: number): void {
  if (isAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}
