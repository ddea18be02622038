import { Level } from "level";
import { mkdirSync } from "node:fs";

/**
 * The gateway's one LevelDB. Each module owns one sublevel, named here so the
 * whole on-disk layout can be read in one place:
 *
 * | sublevel | owner                      | keys → values                                        |
 * |----------|----------------------------|------------------------------------------------------|
 * | log      | log/event-log.ts           | 16-hex leaf index → envelope bytes (the leaf)        |
 * | idem     | log/event-log.ts           | submitter \0 requestId → { index, fp }               |
 * | tree     | merkle/tree-store.ts       | node (level, index) → 32-byte hash; size             |
 * | anchor   | anchor/anchorer.ts         | inflight; cp:<16-hex size> → checkpoint              |
 * | keys     | auth/key-store.ts          | key id → { hash, role, … }                           |
 * | meta     | store/meta.ts              | logId, createdAt                                     |
 */
export type Database = Level<string, string>;

export const SUBLEVELS = ["log", "idem", "tree", "anchor", "keys", "meta"] as const;
export type SublevelName = (typeof SUBLEVELS)[number];

export async function openDatabase(path: string): Promise<Database> {
  mkdirSync(path, { recursive: true });
  const db = new Level<string, string>(path, { keyEncoding: "utf8", valueEncoding: "utf8" });
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
