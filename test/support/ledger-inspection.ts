/**
 * Reads a stopped (or killed) gateway's data directory straight from LevelDB and
 * checks it against itself, the chain and what clients were told:
 *
 * - the log is contiguous: record i sits at key i, names index i and this log;
 * - the stored tree is no larger than the log and its root equals the root
 *   recomputed here from the records' bytes, for its size and every checkpoint's;
 * - every recorded checkpoint, and every CheckpointAnchored event on chain, has
 *   the recomputed root of its size and covers no more leaves than are stored;
 * - the chain's checkpoints form one chain (each previousTreeSize is the one
 *   before) with no size twice, and no two mined anchor transactions carry the
 *   same checkpoint;
 * - every acknowledged event is at its acknowledged index, with its content.
 *
 * Problems are returned as sentences, so a failing test says what is wrong.
 */
import { createHmac, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { openStores } from "../../server/store/database";
import { EventLog } from "../../server/log/event-log";
import { appendToFrontier, hashLeaf, MerkleTreeStore, rootOfPerfectSubtrees, EMPTY_ROOT } from "../../server/merkle";
import { CheckpointStore, type Checkpoint, type InflightAnchor } from "../../server/anchor/checkpoint-store";
import { anchoredOnChain, minedTransactionsFrom, type AnchoredOnChain, type MinedTransaction, type RegisteredLog, type TestChain } from "./chain-harness";

const hex = (bytes: Uint8Array) => "0x" + Buffer.from(bytes).toString("hex");

export interface DiskRecord {
  index: number;
  bytes: Buffer;
  envelope: any;
}

export interface DiskState {
  logId?: string;
  records: DiskRecord[];
  treeSize: number;
  /** Stored tree root for each size asked for in `rootsAt` (plus the tree's own size). */
  storedRoots: Map<number, string>;
  checkpoints: Checkpoint[];
  inflight?: InflightAnchor;
}

/** Opens the data directory's databases (the gateway must not be running), reads everything, closes them. */
export async function readDataDir(dataDir: string, rootsAt: number[] = []): Promise<DiskState> {
  const stores = await openStores(dataDir);
  const { db } = stores;
  try {
    const meta = await db.sublevel<string, string>("meta", { valueEncoding: "utf8" }).get("log");
    const logId = meta === undefined ? undefined : (JSON.parse(meta) as { logId: string }).logId;
    const log = await EventLog.open(stores, { logId: logId ?? "" });
    const records: DiskRecord[] = [];
    for (const record of await log.read(0, log.size)) records.push({ index: record.index, bytes: Buffer.from(record.bytes), envelope: record.envelope });
    const tree = await MerkleTreeStore.open(db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as never);
    const checkpointStore = new CheckpointStore(db);
    const checkpoints = (await checkpointStore.list({ limit: 1_000_000 })).reverse();
    const storedRoots = new Map<number, string>();
    for (const size of new Set([tree.size, ...rootsAt, ...checkpoints.map((c) => c.treeSize)])) {
      if (size <= tree.size) storedRoots.set(size, hex(await tree.root(size)));
    }
    return { logId, records, treeSize: tree.size, storedRoots, checkpoints, inflight: await checkpointStore.inflight() };
  } finally {
    await stores.close();
  }
}

/** Roots recomputed from the records' bytes for each size in `sizes` (RFC 9162, one pass). */
export function recomputeRoots(records: DiskRecord[], sizes: Iterable<number>): Map<number, string> {
  const wanted = new Set(sizes);
  const roots = new Map<number, string>();
  if (wanted.has(0)) roots.set(0, hex(EMPTY_ROOT));
  const frontier: Uint8Array[] = [];
  records.forEach((record, i) => {
    appendToFrontier(frontier, i, hashLeaf(record.bytes));
    if (wanted.has(i + 1)) roots.set(i + 1, hex(rootOfPerfectSubtrees(frontier)));
  });
  return roots;
}

/** What a client was told: its event was stored at `index`. */
export interface Acknowledged {
  index: number;
  /** The event as submitted (with the clear subject, if any). */
  event: Record<string, unknown>;
  submitter: string;
}

export interface LedgerCheck {
  events: number;
  treeSize: number;
  checkpoints: number;
  chainAnchors: AnchoredOnChain[];
  anchorTransactions: MinedTransaction[];
  acknowledgedChecked: number;
  problems: string[];
  state: DiskState;
}

export interface CheckLedgerParameters {
  dataDir: string;
  chain?: TestChain;
  log?: RegisteredLog;
  acknowledged?: Iterable<Acknowledged>;
  /** Leaf bytes seen in earlier checks (index → sha256): history must not change. Updated in place. */
  history?: Map<number, string>;
  /** Accept a second anchor transaction for a checkpoint whose first one reverted (faults provoked on purpose). */
  allowRetryAfterRevert?: boolean;
}

export async function checkLedger(p: CheckLedgerParameters): Promise<LedgerCheck> {
  const problems: string[] = [];
  const chainAnchors = p.chain && p.log ? await anchoredOnChain(p.chain, p.log.logId) : [];
  const anchorTransactions = p.chain && p.log ? await minedTransactionsFrom(p.chain, p.log.anchorer) : [];
  const state = await readDataDir(p.dataDir, chainAnchors.map((a) => a.treeSize));
  const { records } = state;

  // The log: contiguous, each record where it says it is.
  records.forEach((record, i) => {
    if (record.index !== i) problems.push(`log: record at position ${i} has key ${record.index} (a gap or a reordering)`);
    if (record.envelope?.index !== record.index) problems.push(`log: record ${record.index} names index ${record.envelope?.index}`);
    if (state.logId && record.envelope?.log !== state.logId) problems.push(`log: record ${record.index} names log ${record.envelope?.log}, want ${state.logId}`);
  });

  // History never rewritten.
  if (p.history) {
    for (const [index, digest] of p.history) {
      const record = records[index];
      if (!record) problems.push(`history: record ${index}, seen before, is gone (log has ${records.length})`);
      else if (sha256(record.bytes) !== digest) problems.push(`history: record ${index} changed since it was first seen`);
    }
    for (const record of records) if (!p.history.has(record.index)) p.history.set(record.index, sha256(record.bytes));
  }

  // The tree against the recomputed tree.
  const sizes = [state.treeSize, ...state.checkpoints.map((c) => c.treeSize), ...chainAnchors.map((a) => a.treeSize)];
  const recomputed = recomputeRoots(records, sizes);
  if (state.treeSize > records.length) problems.push(`tree: ${state.treeSize} leaves but only ${records.length} records`);
  for (const [size, stored] of state.storedRoots) {
    const want = recomputed.get(size);
    if (want !== undefined && stored !== want) problems.push(`tree: stored root for ${size} leaves is ${stored}, recomputed ${want}`);
  }

  // Recorded checkpoints.
  let previous = 0;
  for (const checkpoint of state.checkpoints) {
    if (checkpoint.treeSize <= previous) problems.push(`checkpoints: ${checkpoint.treeSize} recorded after ${previous}`);
    previous = checkpoint.treeSize;
    if (checkpoint.treeSize > state.treeSize) problems.push(`checkpoints: ${checkpoint.treeSize} leaves recorded but the tree has ${state.treeSize}`);
    const want = recomputed.get(checkpoint.treeSize);
    if (want !== undefined && checkpoint.rootHash !== want) problems.push(`checkpoints: recorded root for ${checkpoint.treeSize} is ${checkpoint.rootHash}, recomputed ${want}`);
    if (p.chain && p.log) {
      const onChain = chainAnchors.find((a) => a.treeSize === checkpoint.treeSize);
      if (!onChain) problems.push(`checkpoints: ${checkpoint.treeSize} is recorded as anchored but no CheckpointAnchored event has that size`);
      else if (onChain.rootHash !== checkpoint.rootHash) problems.push(`checkpoints: ${checkpoint.treeSize} recorded with root ${checkpoint.rootHash}, the chain has ${onChain.rootHash}`);
    }
  }

  // The chain: one chain of checkpoints, each consistent with the log, none twice.
  let chainPrevious = 0;
  const seenSizes = new Set<number>();
  for (const anchor of chainAnchors) {
    if (seenSizes.has(anchor.treeSize)) problems.push(`chain: checkpoint of ${anchor.treeSize} leaves anchored twice`);
    seenSizes.add(anchor.treeSize);
    if (anchor.previousTreeSize !== chainPrevious) problems.push(`chain: checkpoint ${anchor.treeSize} extends ${anchor.previousTreeSize}, the one before is ${chainPrevious}`);
    chainPrevious = anchor.treeSize;
    if (anchor.treeSize > records.length) problems.push(`chain: checkpoint of ${anchor.treeSize} leaves but the log holds ${records.length} (events lost)`);
    const want = recomputed.get(anchor.treeSize);
    if (want !== undefined && want !== anchor.rootHash) problems.push(`chain: root for ${anchor.treeSize} is ${anchor.rootHash}, recomputed from the log ${want}`);
  }
  const bySize = new Map<number, MinedTransaction[]>();
  for (const tx of anchorTransactions) {
    if (!tx.anchor) continue;
    bySize.set(tx.anchor.treeSize, [...(bySize.get(tx.anchor.treeSize) ?? []), tx]);
  }
  for (const [size, txs] of bySize) {
    const landed = txs.filter((t) => t.status === 1);
    // A retry after a revert is legitimate where reverts were provoked; two that landed never are.
    if (landed.length > 1 || (txs.length > 1 && !p.allowRetryAfterRevert)) problems.push(`chain: ${txs.length} mined anchor transactions for the checkpoint of ${size} leaves (${txs.map((t) => `${t.hash} status ${t.status}`).join(", ")})`);
  }
  const nonces = anchorTransactions.map((t) => t.nonce).sort((a, b) => a - b);
  nonces.forEach((nonce, i) => nonce !== i && problems.push(`chain: the anchorer's mined nonces are not 0..${nonces.length - 1}: ${nonces.join(",")}`));

  // What clients were told.
  let acknowledgedChecked = 0;
  if (p.acknowledged) {
    const secret = Buffer.from(readFileSync(path.join(p.dataDir, "subject-secret"), "utf8").trim(), "hex");
    for (const ack of p.acknowledged) {
      acknowledgedChecked += 1;
      const record = records[ack.index];
      if (!record) {
        problems.push(`acknowledged event ${ack.index} (${String(ack.event.requestId)}) is missing; the log has ${records.length}`);
        continue;
      }
      const stored = record.envelope.event;
      const want = expectedStoredEvent(ack.event, secret);
      if (JSON.stringify(sortKeys(stored)) !== JSON.stringify(sortKeys(want)) || record.envelope.submitter !== ack.submitter) {
        problems.push(`acknowledged event ${ack.index} (${String(ack.event.requestId)}) differs from what was submitted: ${JSON.stringify(stored)}`);
      }
    }
  }
  return {
    events: records.length,
    treeSize: state.treeSize,
    checkpoints: state.checkpoints.length,
    chainAnchors,
    anchorTransactions,
    acknowledgedChecked,
    problems: [...new Set(problems)],
    state,
  };
}

/** The event as the gateway stores it: the subject replaced by HMAC-SHA256(secret, subject). */
export function expectedStoredEvent(event: Record<string, unknown>, secret: Buffer): Record<string, unknown> {
  const { subject, ...rest } = event;
  return subject === undefined ? rest : { ...rest, subjectRef: "0x" + createHmac("sha256", secret).update(String(subject), "utf8").digest("hex") };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
