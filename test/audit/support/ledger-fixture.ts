/**
 * A real ledger on disk for audit tests: LevelDB in a temporary directory, events
 * appended through EventLog, folded into MerkleTreeStore by the gateway's own
 * folder, checkpoints recorded in CheckpointStore (and, when asked, anchored on a
 * chain with consistency proofs). Tampering goes straight at LevelDB.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CheckpointStore } from "../../../server/anchor/checkpoint-store";
import type { StoredEvent } from "../../../server/domain/event-schema";
import { toHex } from "../../../server/hex";
import { EventLog } from "../../../server/log/event-log";
import { MerkleTreeStore, hashLeaf } from "../../../server/merkle";
import { indexKey, openStores, type Database, type RecordsDatabase, type Stores } from "../../../server/store/database";
import { foldLogIntoTree } from "../../../server/tree/tree-folder";
import { runAudit } from "../../../server/audit/audit";
import { levelAuditSources, type AuditChain } from "../../../server/audit/sources";
import type { AuditProgress, AuditReport } from "../../../server/audit/report";

export const LOG_ID = "0x" + "ab".repeat(32);
const FIXED_NOW = () => new Date("2026-11-26T02:00:00.000Z");

export function makeTempDir(prefix = "ledger-audit-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A copy of a closed data directory, to tamper with. */
export function copyDataDir(from: string): string {
  const to = makeTempDir();
  cpSync(from, to, { recursive: true });
  return to;
}

export function dbPath(dataDir: string): string {
  return path.join(dataDir, "db");
}

export function makeStoredEvent(i: number): StoredEvent {
  return {
    type: "access",
    actor: { org: "330102003004:civil-affairs", system: "minzheng-app", operator: `op-${i % 97}` },
    dataset: "cat:household-registry",
    purpose: "subsidy eligibility check",
    legalBasis: "Regulation 12",
    fields: ["name", "address"],
    occurredAt: "2026-11-26T10:00:00+08:00",
    requestId: `req-${i}`,
  } as StoredEvent;
}

export interface Anchor {
  (treeSize: number, rootHash: string, consistencyProof: string[]): Promise<void>;
}

export interface BuildLedgerParameters {
  events: number;
  checkpointSizes: number[];
  /** Publishes each checkpoint (in order) on a chain. */
  anchor?: Anchor;
  /** Events appended to the log after folding and checkpointing (not in the tree). */
  unfolded?: number;
}

/** Builds the ledger in `dataDir` and closes its database. */
export async function buildLedger(dataDir: string, p: BuildLedgerParameters): Promise<{ checkpoints: { treeSize: number; rootHash: string }[] }> {
  return withDb(dataDir, async (db, records) => {
    const meta = db.sublevel<string, string>("meta", { valueEncoding: "utf8" });
    await meta.put("log", JSON.stringify({ logId: LOG_ID, createdAt: FIXED_NOW().toISOString() }));
    const log = await EventLog.open({ db, records }, { logId: LOG_ID, now: FIXED_NOW, sync: false });
    await appendEvents(log, 0, p.events);
    const tree = await MerkleTreeStore.open(treeSublevel(db), { sync: false });
    await foldLogIntoTree(log, tree);
    const store = new CheckpointStore(db);
    const checkpoints: { treeSize: number; rootHash: string }[] = [];
    let previous = 0;
    for (const treeSize of p.checkpointSizes) {
      const rootHash = toHex(await tree.root(treeSize));
      const proof = previous === 0 ? [] : (await tree.consistencyProof(previous, treeSize)).map(toHex);
      await p.anchor?.(treeSize, rootHash, proof);
      await store.confirm(checkpointRecord(treeSize, rootHash));
      checkpoints.push({ treeSize, rootHash });
      previous = treeSize;
    }
    if (p.unfolded) await appendEvents(log, p.events, p.unfolded);
    return { checkpoints };
  });
}

async function appendEvents(log: EventLog, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += 1000) {
    const end = Math.min(from + count, start + 1000);
    const submissions = [];
    for (let i = start; i < end; i++) submissions.push({ submitter: "k-demo", event: makeStoredEvent(i) });
    await log.append(submissions);
  }
}

export function checkpointRecord(treeSize: number, rootHash: string) {
  return {
    treeSize,
    rootHash,
    txHash: "0x" + treeSize.toString(16).padStart(64, "0"),
    blockNumber: treeSize,
    anchoredAt: FIXED_NOW().toISOString(),
    confirmedAt: FIXED_NOW().toISOString(),
  };
}

export function treeSublevel(db: Database) {
  return db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as never;
}

/** Runs `work` on the two databases of a closed data directory, and closes them. */
export async function withDb<T>(dataDir: string, work: (db: Database, records: RecordsDatabase) => Promise<T>): Promise<T> {
  const stores = await openStores(dataDir);
  try {
    return await work(stores.db, stores.records);
  } finally {
    await stores.close();
  }
}

export async function readRecord(records: RecordsDatabase, index: number): Promise<string> {
  const value = await records.get(indexKey(index));
  if (value === undefined) throw new Error(`no record ${index}`);
  return Buffer.from(value).toString("utf8");
}

export async function writeRecord(records: RecordsDatabase, index: number, value: string): Promise<void> {
  await records.put(indexKey(index), Buffer.from(value, "utf8"));
}

/**
 * Rewrites the stored tree consistently with the (tampered) log: drops the tree
 * sublevel and folds the log again, as an attacker with the gateway's code would.
 * Optionally rewrites the checkpoint records with the new roots too.
 */
export async function rewriteTree({ db, records }: Stores, options: { checkpointSizes?: number[]; treeSize?: number } = {}): Promise<void> {
  await db.sublevel("tree").clear();
  const log = await EventLog.open({ db, records }, { logId: LOG_ID, now: FIXED_NOW, sync: false });
  const tree = await MerkleTreeStore.open(treeSublevel(db), { sync: false });
  if (options.treeSize === undefined) await foldLogIntoTree(log, tree);
  else await tree.append((await log.readLeaves(0, options.treeSize)).map((leaf) => hashLeaf(leaf)));
  const store = new CheckpointStore(db);
  for (const size of options.checkpointSizes ?? []) await store.confirm(checkpointRecord(size, toHex(await tree.root(size))));
}

/** Tree sublevel key of node (level, index), written here independently of the code under test. */
export function treeNodeKey(level: number, index: number): Uint8Array {
  const key = Buffer.alloc(10);
  key[0] = 0x6e;
  key[1] = level;
  key.writeBigUInt64BE(BigInt(index), 2);
  return new Uint8Array(key);
}

export interface AuditDirOptions {
  chain?: AuditChain;
  /** Open MerkleTreeStore and audit through it, as the gateway does (default true). */
  liveStore?: boolean;
  onProgress?: (progress: AuditProgress) => void;
  signal?: AbortSignal;
  chunkSize?: number;
}

/** Runs the audit on a closed data directory. */
export async function auditDir(dataDir: string, options: AuditDirOptions = {}): Promise<AuditReport> {
  return withDb(dataDir, async (db, records) => {
    const store = options.liveStore === false ? undefined : await MerkleTreeStore.open(treeSublevel(db));
    const sources = await levelAuditSources({ db, records }, { store });
    return runAudit({ ...sources, logId: sources.logId, chain: options.chain, onProgress: options.onProgress, signal: options.signal, chunkSize: options.chunkSize });
  });
}
