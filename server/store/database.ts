import { Level } from "level";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The gateway's LevelDB (`db/` in the data directory) and the log's records (`records/`,
 * below). Each module owns its sublevels; this table is the map of the whole on-disk
 * layout, each owner's file details its keys.
 *
 * | sublevel     | owner                        | keys → values                                       |
 * |--------------|------------------------------|-----------------------------------------------------|
 * | idem         | log/event-log.ts             | submitter \0 requestId → { index }                  |
 * | idem-size    | log/event-log.ts             | "size" → the records `idem` covers                  |
 * | log          | log/event-log.ts             | (records before they had their own database)        |
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
 * | tiles        | openlog/tile-store.ts        | C2SP hash tiles (level, index) → up to 256 hashes    |
 * | notes        | openlog/note-signer.ts       | every signed checkpoint note, by tree size          |
 */
export type Database = Level<string, string>;

/**
 * The log's records, alone in their own LevelDB: 16-hex leaf index → envelope bytes
 * (the leaf). Their keys only ever grow, so LevelDB moves their files down the levels
 * instead of rewriting them. Sharing one database with the random keys of the
 * idempotency index and the query index made every compaction rewrite the records
 * around them: a quarter of the gateway's CPU during sustained ingest (measured).
 */
export type RecordsDatabase = Level<string, Uint8Array>;

/** A data directory's two databases: its `db/` (everything in the table above) and `records/`. */
export interface Stores {
  db: Database;
  records: RecordsDatabase;
}

/** Stores as `openStores` hands them over: whoever opened them closes them. */
export interface OpenStores extends Stores {
  close(): Promise<void>;
}

export async function openDatabase(path: string): Promise<Database> {
  return openLevel(new Level<string, string>(path, { keyEncoding: "utf8", valueEncoding: "utf8", writeBufferSize: WRITE_BUFFER_SIZE }), path);
}

/** Opens both databases of a data directory (creating them when new). */
export async function openStores(dataDir: string): Promise<OpenStores> {
  const db = await openDatabase(join(dataDir, "db"));
  let records: RecordsDatabase;
  try {
    const path = join(dataDir, "records");
    records = await openLevel(new Level<string, Uint8Array>(path, { keyEncoding: "utf8", valueEncoding: "view", writeBufferSize: WRITE_BUFFER_SIZE }), path);
  } catch (error) {
    await db.close();
    throw error;
  }
  return { db, records, close: async () => void (await Promise.all([records.close(), db.close()])) };
}

// A larger memtable than LevelDB's 4 MiB default: fewer, larger level-0 files, so
// sustained ingest spends less CPU rewriting the same entries in compactions.
const WRITE_BUFFER_SIZE = 32 * 1024 * 1024;

async function openLevel<L extends Level<string, string> | Level<string, Uint8Array>>(db: L, path: string): Promise<L> {
  mkdirSync(path, { recursive: true });
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

export { SYNCED_BATCH, UNSYNCED_BATCH } from "./batch-options";

/** A put for putAll: into `sublevel` (of the database written to, with utf8 keys) when given. */
export interface Put<V> {
  key: string;
  value: V;
  sublevel?: { prefixKey(key: string, keyFormat: "utf8"): string };
}

/**
 * Writes puts as one chained batch. An array batch costs the calling thread ~2 µs a
 * put, as classic-level reads each operation's properties one by one through N-API; a
 * chained batch hands key and value over in one call, ~1 µs (measured, 1,000 puts a
 * batch). A sublevel's put gets its prefix here: the chained batch's own `sublevel`
 * option costs ~10 µs a put. For small values only: classic-level frees a chained
 * batch's native copy of its keys and values when the batch object is garbage-collected,
 * not when it is written.
 */
export async function putAll<V>(db: Level<string, V>, puts: readonly Put<V>[], options: { readonly sync?: boolean }): Promise<void> {
  const batch = db.batch();
  try {
    for (const { key, value, sublevel } of puts) batch.put(sublevel ? sublevel.prefixKey(key, "utf8") : key, value);
  } catch (error) {
    await batch.close();
    throw error;
  }
  await batch.write(options as never);
}
