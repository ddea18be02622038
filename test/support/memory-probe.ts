/**
 * Preloaded into a gateway child process (with node --expose-gc) to report its
 * memory: every MEMORY_PROBE_MS (default 1000) it runs a full garbage collection
 * and writes one line to stderr, synchronously:
 * `memory-probe: {"t":…,"rss":…,"heapUsed":…,"external":…,"arrayBuffers":…}` (bytes).
 * Heap after a full collection is what stays reachable: the measure of a leak.
 */
import { writeSync } from "node:fs";

const gc = (globalThis as { gc?: () => void }).gc;
const every = Number(process.env.MEMORY_PROBE_MS ?? 1000);

const timer = setInterval(() => {
  gc?.();
  const m = process.memoryUsage();
  writeSync(2, `memory-probe: ${JSON.stringify({ t: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, gc: gc !== undefined })}\n`);
}, every);
timer.unref();
