import { Level } from "level";
import { mkdirSync } from "node:fs";

/**
 * The gateway's one LevelDB. Each module owns its sublevels; this table is the
 * map of the whole on-disk layout, each owner's file details its keys.
 *
 * | sublevel     | owner                        | keys → values                                       |
 * |--------------|------------------------------|-----------------------------------------------------|
 * | log          | log/event-log.ts             | 16-hex leaf index → envelope bytes (the leaf)       |
 * | idem         | log/event-log.ts             | submitter \0 requestId → { index }                  |
 * | tree         | merkle/tree-store.ts         | node (level, index) → 32-byte hash; size            |
 * | anchor       | anchor/checkpoint-store.ts   | inflight; cp:<16-hex size> → checkpoint             |
 * | idx, stats   | query/event-index.ts         | index watermark; day|org|type counters              |
 * | plist        | query/event-index.ts         | posting-list blocks: term + first index → entries   |
 * | alerts       | alerts/keys.ts               | alerts, event → alert index, webhook outbox         |
 * | alert-state  | alerts/keys.ts               | operator-hour and department-day threshold state    |
 * | audit        | audit/audit-jobs.ts          | "latest" → the last finished audit job              |
 * | orgs         | orgs/org-registry.ts         | organisations and division names                    |
 * | keys         | auth/key-store.ts            | key id → { hash, role, scope… }                     |
 * | meta         | store/meta.ts                | the log's identity                                  |
 */
export type Database = Level<string, string>;

export async function openDatabase(path: string): Promise<Database> {
  mkdirSync(path, { recursive: true });
  // A larger memtable than LevelDB's 4 MiB default: fewer, larger level-0 files, so
  // sustained ingest spends less CPU rewriting the same records in compactions.
  const db = new Level<string, string>(path, { keyEncoding: "utf8", valueEncoding: "utf8", writeBufferSize: 32 * 1024 * 1024 });
  try {
    await db.open();
  } catch (error) {
    const locked = String((error as { cause?: { message?: string } }).cause?.message ?? "").includes("lock");
    throw new Error(
      locked
        ? `the database at ${path} is in use by another process (is the gateway running?)`
        : `cannot open the database at ${path}`,
      { cause: error },
    );
  }
  return db;
}

/** Fixed-width hex so that LevelDB's byte order is numeric order. */
export function indexKey(index: number): string {
  return index.toString(16).padStart(16, "0");
}

export function parseIndexKey(key: string): number {
  return parseInt(key, 16);
}

/**
 * Write options that fsync before resolving. classic-level honours `sync` and
 * sublevels pass options through, but abstract-level's types do not declare it.
 */
export const SYNCED = { sync: true } as Record<string, unknown>;

export { SYNCED_BATCH } from "./batch-options";
