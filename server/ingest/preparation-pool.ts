import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { prepareBatchBody, type PreparedEvent } from "./prepared-events";

/**
 * Prepares large batch bodies (prepareBatchBody) on a worker thread, so the gateway's
 * one JavaScript thread keeps to HTTP and the log while a second core validates,
 * pseudonymises and canonicalises. Indexing and folding, the other big users of that
 * thread, wait during bursts (server/log/ingest-priority.ts), which is what leaves a
 * core for this.
 *
 * When the worker cannot take a body — starting, busy with enough already, or crashed —
 * the body is prepared on the calling thread with the same function: the thread has time
 * too, and the function costs it less than the ordinary path (body parser, text walk,
 * validation) and allocates less on its heap. Either way the answer is undefined when
 * the batch is not all valid, and the caller then takes the ordinary path, which reports
 * the problem. A crashed worker is started again on the next request, up to
 * MAX_RESTARTS times.
 */

export interface PreparationPoolOptions {
  subjectSecret: Uint8Array;
  /** Bodies smaller than this are prepared inline: the hop would cost more than it saves. */
  minBytes?: number;
  logger: Logger;
}

/** Requests queued on the worker before further ones are prepared on the calling thread. */
const MAX_QUEUED = 3;
const MAX_RESTARTS = 5;

interface Pending {
  resolve: (events: PreparedEvent[] | undefined) => void;
}

export class PreparationPool {
  private worker?: Worker;
  private ready = false;
  private restarts = 0;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private whenReady?: Promise<void>;
  readonly minBytes: number;
  /** Batches the worker prepared (tests read it). */
  preparedByWorker = 0;
  /** Batches prepared on the calling thread because the worker could not take them (tests read it). */
  preparedInline = 0;

  constructor(private readonly options: PreparationPoolOptions) {
    this.minBytes = options.minBytes ?? 64 * 1024;
  }

  /**
   * Whether `prepare` takes a body of this size (else it answers undefined at once). The
   * first call for a large enough body starts the worker.
   */
  wouldTake(byteLength: number): boolean {
    if (this.closed || byteLength < this.minBytes) return false;
    this.running();
    return true;
  }

  /** The prepared events of `body` (on the worker when it has room), or undefined: prepare them on the ordinary path. */
  prepare(body: Uint8Array): Promise<PreparedEvent[] | undefined> {
    if (!this.wouldTake(body.byteLength)) return Promise.resolve(undefined);
    const worker = this.worker;
    if (!worker || !this.ready || this.pending.size >= MAX_QUEUED) {
      const events = prepareBatchBody(body, this.options.subjectSecret);
      if (events) this.preparedInline += 1;
      return Promise.resolve(events);
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, {
        resolve: (events) => {
          if (events) this.preparedByWorker += 1;
          resolve(events);
        },
      });
      worker.postMessage({ id, body });
    });
  }

  /** Starts the worker if it is not running, and resolves once it takes work (tests; a bounded wait). */
  async started(timeoutMs = 30_000): Promise<void> {
    if (!this.running()) throw new Error("the batch preparation worker cannot be started");
    if (this.ready) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the batch preparation worker was not ready within ${timeoutMs} ms`)), timeoutMs)));
    try {
      await Promise.race([this.whenReady!, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.settleAll();
    await worker?.terminate();
  }

  private running(): Worker | undefined {
    if (this.worker || this.closed || this.restarts > MAX_RESTARTS) return this.worker;
    const worker = startWorker(this.options.subjectSecret);
    this.worker = worker;
    this.ready = false;
    let resolveReady!: () => void;
    this.whenReady = new Promise((resolve) => (resolveReady = resolve));
    worker.on("message", (message: { ready?: true; id?: number; events?: PreparedEvent[] }) => {
      if (message.ready) {
        this.ready = true;
        resolveReady();
        return;
      }
      const pending = this.pending.get(message.id!);
      this.pending.delete(message.id!);
      pending?.resolve(message.events);
    });
    const lost = (reason: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.restarts += 1;
      this.settleAll();
      if (!this.closed) this.options.logger.error({ reason, restarts: this.restarts }, "the batch preparation worker stopped; batches are prepared inline until it is back");
    };
    worker.on("error", (error) => lost(error.message));
    worker.on("exit", (code) => lost(`exit code ${code}`));
    // The worker must not keep the process alive on its own.
    worker.unref();
    return worker;
  }

  private settleAll(): void {
    for (const { resolve } of this.pending.values()) resolve(undefined);
    this.pending.clear();
  }
}

/**
 * Starts the worker on the module next to this one, with esbuild's require hook when
 * the gateway runs from TypeScript sources (npm start, tests): a worker does not share
 * its parent's hooks, and ts-node's cost every worker ~2 s of CPU to start.
 */
function startWorker(subjectSecret: Uint8Array): Worker {
  const file = path.join(__dirname, `preparation-worker${path.extname(__filename)}`);
  const bootstrap = `
    const { workerData } = require("node:worker_threads");
    if (workerData.file.endsWith(".ts") && !require.extensions[".ts"]) require("esbuild-register/dist/node").register({ target: "node" + process.versions.node.split(".")[0] });
    require(workerData.file);
  `;
  return new Worker(bootstrap, { eval: true, workerData: { file, subjectSecret } });
}

