/**
 * The full audit: recompute the tree from every stored record, check every stored
 * tree node, compare each confirmed checkpoint with the recomputed root and with
 * the chain, and report the first divergence precisely.
 *
 * This file is the I/O shell: it streams the records once, in key order, in chunks;
 * reads the stored nodes each chunk completes with one `getMany`; asks the chain
 * for checkpoint roots a few ahead; and hands everything to the synchronous
 * {@link LedgerAuditor}. Memory is bounded by the chunk size, O(log n) frontier
 * hashes and the checkpoint list, so a log of millions of events is audited in
 * one pass.
 */
import type { NodeId } from "../merkle";
import { LedgerAuditor, inspectRecord, nodesCompletedBy, type CheckpointRoot, type InspectedRecord } from "./auditor";
import type { AuditReport, AuditProgress } from "./report";
import type { AuditChain, AuditCheckpoints, AuditLog, AuditTree, RawRecord } from "./sources";

export interface RunAuditParameters {
  log: AuditLog;
  tree: AuditTree;
  checkpoints: AuditCheckpoints;
  /** The contract's views for this log; without it checkpoints are compared with their local records only. */
  chain?: AuditChain;
  /** The log every envelope must name (the meta sublevel's); otherwise the first envelope's. */
  logId?: string;
  /** Called every `progressEveryMs` (default 200) and once at the end. */
  onProgress?: (progress: AuditProgress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
  /**
   * Turn-taking with ingest (IngestPriority.consumer({ catchesUp: false })): asked before
   * each chunk, so an audit waits, within bounds, while submissions keep the gateway busy.
   */
  turns?: { take(lag: () => number, stopped: () => boolean): Promise<void> };
  /** Records per chunk (default 2048): one node read per chunk. */
  chunkSize?: number;
  /** Chain calls in flight ahead of the scan (default 8). */
  chainLookahead?: number;
  now?: () => number;
}

/** The audit could not run to the end (the chain or the store could not be read, or it was aborted). */
export class AuditError extends Error {
  override name = "AuditError";
  constructor(
    readonly code: "CHAIN_UNREACHABLE" | "STORE_UNREADABLE" | "ABORTED",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const KEY_PATTERN = /^[0-9a-f]{16}$/;

interface Slot {
  position: number;
  record?: InspectedRecord;
}

interface PendingChunk {
  chunk: Slot[];
  /** Per level, the index of the first node the chunk completes. */
  firsts: number[];
  /** Leaves named by misplaced envelopes (read separately). */
  claimed: number[];
  /** Per level, the stored nodes the chunk completes; then the claimed leaves. */
  values: Promise<[(Uint8Array | undefined)[][], (Uint8Array | undefined)[]]>;
}

export async function runAudit(p: RunAuditParameters): Promise<AuditReport> {
  const now = p.now ?? Date.now;
  const started = now();
  const startedAt = new Date(started).toISOString();
  const chunkSize = p.chunkSize ?? 2048;
  const signal = p.signal;
  checkAborted(signal);

  // Read in this order, the checkpoint records, the chain's latest and the tree size
  // are each no larger than the next on an honest gateway that keeps running meanwhile.
  const checkpoints = await readAllCheckpoints(p.checkpoints);
  let chainLatest: { treeSize: number; rootHash: string } | undefined;
  if (p.chain?.latest) {
    try {
      chainLatest = await p.chain.latest();
    } catch (error) {
      throw chainError("the latest checkpoint", error);
    }
  }
  const treeSize = p.tree.size;
  const auditor = new LedgerAuditor({ treeSize, checkpoints, chainLatest, logId: p.logId });
  const chainRoots = p.chain ? lookahead(auditor.checkpointSizes, (size) => p.chain!.rootAt(size), p.chainLookahead ?? 8) : undefined;

  let total = treeSize;
  let lastProgress = started;
  const progress = (force = false) => {
    if (!p.onProgress) return;
    const at = now();
    if (!force && at - lastProgress < (p.progressEveryMs ?? 200)) return;
    lastProgress = at;
    const processed = auditor.nextPosition;
    total = Math.max(total, processed);
    const elapsedMs = at - started;
    p.onProgress({ processed, total, elapsedMs, eventsPerSecond: rate(processed, elapsedMs) });
  };

  // Chunks are pipelined: the stored nodes of one chunk are read while the previous one is checked.
  let slots: Slot[] = [];
  let inFlight: PendingChunk | undefined;

  const startChunk = (chunk: Slot[]): PendingChunk => {
    // Positions inside the tree are contiguous (a missing record still has a slot).
    const inTree = chunk.filter((slot) => slot.position < treeSize);
    const claimed: number[] = [];
    for (const { position, record } of inTree) {
      const index = record?.envelope?.index;
      if (index !== undefined && index !== position && index < treeSize) claimed.push(index);
    }
    const reads: Promise<(Uint8Array | undefined)[]>[] = [];
    const firsts: number[] = [];
    if (inTree.length > 0) {
      const a = inTree[0]!.position;
      const b = inTree[inTree.length - 1]!.position;
      // Node (level, i) is completed by position (i + 1)·2^level − 1.
      for (let level = 0, width = 1; width <= b + 1; level++, width *= 2) {
        const first = Math.ceil((a + 1) / width) - 1;
        const end = Math.floor((b + 1) / width);
        firsts.push(first);
        reads.push(end > first ? p.tree.nodeRange(level, first, end) : Promise.resolve([]));
      }
    }
    const claimedRead = claimed.length > 0 ? p.tree.nodes(claimed.map((index) => ({ level: 0, index }))) : Promise.resolve([]);
    const values = Promise.all([Promise.all(reads), claimedRead]);
    values.catch(() => undefined); // awaited in checkChunk
    return { chunk, firsts, claimed, values };
  };

  const checkChunk = async ({ chunk, firsts, claimed, values: pending }: PendingChunk) => {
    let levels: (Uint8Array | undefined)[][];
    let claimedValues: (Uint8Array | undefined)[];
    try {
      [levels, claimedValues] = await pending;
    } catch (error) {
      throw new AuditError("STORE_UNREADABLE", `cannot read the stored tree: ${(error as Error).message}`, { cause: error });
    }
    const claimedLeaves = new Map<number, Uint8Array | undefined>();
    claimed.forEach((index, i) => claimedLeaves.set(index, claimedValues[i]));
    const lookup = (level: number, index: number): Uint8Array | undefined => {
      const values = levels[level];
      const at = values === undefined ? -1 : index - firsts[level]!;
      if (at >= 0 && at < values!.length) return values![at];
      return level === 0 ? claimedLeaves.get(index) : undefined;
    };
    for (const slot of chunk) {
      if (slot.position >= treeSize) {
        auditor.addUnfolded(slot.record!);
        continue;
      }
      const due = auditor.addLeaf(slot.record, lookup);
      if (due) auditor.settleCheckpoint(chainRoots ? await chainRoot(chainRoots, due.treeSize) : undefined);
    }
  };

  const flush = async () => {
    // Never behind in the priority's sense (lag 0): only quiet, light load or the longest wait let it go on.
    await p.turns?.take(() => 0, () => signal?.aborted === true);
    checkAborted(signal);
    const next = slots.length > 0 ? startChunk(slots) : undefined;
    slots = [];
    if (inFlight) await checkChunk(inFlight);
    inFlight = next;
    progress();
  };

  const drain = async () => {
    await flush();
    if (inFlight) await checkChunk(inFlight);
    inFlight = undefined;
  };

  const push = async (slot: Slot) => {
    slots.push(slot);
    if (slots.length >= chunkSize) await flush();
  };

  let expected = 0;
  try {
    for await (const raw of p.log.records()) {
      const position = parseKey(raw);
      if (position === undefined) {
        auditor.addCorruptKey(raw.key);
        continue;
      }
      if (position < expected) continue; // impossible in key order; ignore rather than double-count
      // Missing records inside the tree are fed one by one (each has its stored nodes to check).
      while (expected < position && expected < treeSize) await push({ position: expected++ });
      if (expected < position) {
        await drain();
        auditor.addUnfoldedGap(expected, position);
        expected = position;
      }
      await push({ position, record: inspectRecord(position, raw.value) });
      expected = position + 1;
    }
  } catch (error) {
    if (error instanceof AuditError) throw error;
    throw new AuditError("STORE_UNREADABLE", `cannot read the log: ${(error as Error).message}`, { cause: error });
  }
  // The tree has leaves the log no longer has.
  while (expected < treeSize) await push({ position: expected++ });
  await drain();

  let treeRoot: Uint8Array | Error;
  try {
    treeRoot = await p.tree.root(treeSize);
  } catch (error) {
    treeRoot = error as Error;
  }
  auditor.finish({ treeRoot });
  progress(true);

  const durationMs = Math.max(0, now() - started);
  const divergences = [...auditor.divergences];
  return {
    ok: auditor.divergenceCount === 0,
    ...(p.logId ? { logId: p.logId } : {}),
    treeSize,
    eventsChecked: auditor.eventsChecked,
    unfoldedEvents: auditor.unfoldedEvents,
    checkpointsChecked: auditor.checkpointsChecked,
    chainChecked: p.chain !== undefined && auditor.chainComparisons === auditor.checkpointsChecked,
    ...(auditor.finalRoot() ? { rootHash: auditor.finalRoot() } : {}),
    ...(divergences[0] ? { firstDivergence: divergences[0] } : {}),
    divergences,
    divergenceCount: auditor.divergenceCount,
    startedAt,
    durationMs,
    eventsPerSecond: rate(auditor.nextPosition, durationMs),
  };
}

function parseKey(raw: RawRecord): number | undefined {
  if (!KEY_PATTERN.test(raw.key)) return undefined;
  const position = parseInt(raw.key, 16);
  return Number.isSafeInteger(position) ? position : undefined;
}

async function readAllCheckpoints(store: AuditCheckpoints): Promise<CheckpointRoot[]> {
  const all: CheckpointRoot[] = [];
  let beforeSize: number | undefined;
  for (;;) {
    const page = await store.list({ beforeSize, limit: 1000 });
    for (const { treeSize, rootHash, lost } of page) all.push({ treeSize, rootHash, source: "record", ...(lost ? { lost: true } : {}) });
    if (page.length < 1000) break;
    beforeSize = page[page.length - 1]!.treeSize;
  }
  return all.reverse();
}

/** Fetches values for `keys`, asked for in order, keeping up to `window` requests in flight ahead. */
function lookahead<T>(keys: readonly number[], fetch: (key: number) => Promise<T>, window: number) {
  const pending = new Map<number, Promise<T>>();
  let started = 0;
  let cursor = 0;
  return {
    get(key: number): Promise<T> {
      while (cursor < keys.length && keys[cursor] !== key) cursor++;
      while (started < keys.length && started <= cursor + window) {
        const next = keys[started++]!;
        const promise = fetch(next);
        promise.catch(() => undefined); // observed by get(); never an unhandled rejection
        pending.set(next, promise);
      }
      const promise = pending.get(key) ?? fetch(key);
      pending.delete(key);
      return promise;
    },
  };
}

type Lookahead = ReturnType<typeof lookahead<string>>;

async function chainRoot(roots: Lookahead, treeSize: number): Promise<string> {
  try {
    return await roots.get(treeSize);
  } catch (error) {
    throw chainError(`checkpoint ${treeSize}`, error);
  }
}

function chainError(what: string, error: unknown): AuditError {
  const e = error as { shortMessage?: string; message?: string };
  return new AuditError("CHAIN_UNREACHABLE", `cannot read ${what} from the chain: ${e?.shortMessage ?? e?.message ?? String(error)}`, { cause: error });
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AuditError("ABORTED", "the audit was stopped");
}

function rate(count: number, ms: number): number {
  return ms > 0 ? Math.round((count * 1000) / ms) : count;
}
