import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Level } from "level";
import type { Stores } from "../store/database";
import { BackupError, BackupWriter, readBackup, type BackupDatabase, type BackupTrailer } from "./backup-file";

/**
 * A consistent copy of a data directory, taken while the gateway runs, and its restore
 * into a new directory.
 *
 * Order matters. The chain's state is taken first, then `db/`, then `records/`, each
 * from one LevelDB snapshot (an iterator reads the database as it was when it was
 * made). So the records hold at least every leaf the derived data in `db/` speaks of
 * (the tree and the indexes are refolded from the log on start), and the chain holds
 * no anchor that `db/` does not know of: a checkpoint `db/` has and the chain lacks is
 * re-anchored, exactly, by the anchorer on start.
 */

/** Files and folders of a data directory that are the databases, or not worth keeping. */
const SKIPPED = new Set(["db", "records", "anvil.pid", "control.sock"]);
const SKIPPED_SUFFIXES = [".tmp", ".partial", ".sock", ".pid"];
/** The embedded chain's state, relative to the data directory (server/chain/embedded-chain.ts). */
export const CHAIN_STATE_FILE = "chain/anvil-state.json";

export interface BackupSource {
  stores: Stores;
  dataDir: string;
  logId: string;
  /** The embedded chain's state as JSON, taken now (Anvil's anvil_dumpState); absent for an external chain. */
  chainState?: () => Promise<Buffer>;
  onProgress?: (message: string) => void;
}

export interface BackupSummary extends BackupTrailer {
  file: string;
  bytes: number;
  logId: string;
}

const CHUNK = 1_000;

export async function writeBackup(source: BackupSource, file: string): Promise<BackupSummary> {
  const target = path.resolve(file);
  if (existsSync(target)) throw new BackupError(`${target} exists already; name a new file`);
  if (!existsSync(path.dirname(target))) throw new BackupError(`the folder ${path.dirname(target)} does not exist`);
  const progress = source.onProgress ?? (() => undefined);
  const writer = new BackupWriter(target, { createdAt: new Date().toISOString(), logId: source.logId });
  try {
    const chainState = source.chainState ? await source.chainState() : undefined;
    for (const relative of dataFiles(source.dataDir)) {
      const absolute = path.join(source.dataDir, relative);
      const data = relative === CHAIN_STATE_FILE && chainState ? chainState : readFileSync(absolute);
      await writer.addFile(relative, statSync(absolute).mode & 0o777, data);
    }
    if (chainState && !existsSync(path.join(source.dataDir, CHAIN_STATE_FILE))) await writer.addFile(CHAIN_STATE_FILE, 0o600, chainState);
    await copyDatabase("db", source.stores.db as unknown as Level<Uint8Array, Uint8Array>, writer, progress);
    await copyDatabase("records", source.stores.records as unknown as Level<Uint8Array, Uint8Array>, writer, progress);
    const trailer = await writer.finish();
    return { ...trailer, file: target, bytes: statSync(target).size, logId: source.logId };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

async function copyDatabase(name: BackupDatabase, db: Level<Uint8Array, Uint8Array>, writer: BackupWriter, progress: (message: string) => void): Promise<void> {
  let keys: Uint8Array[] = [];
  let values: Uint8Array[] = [];
  let copied = 0;
  let reported = Date.now();
  // One iterator, one snapshot: the whole database as it was at this moment.
  for await (const [key, value] of db.iterator({ keyEncoding: "view", valueEncoding: "view" } as never) as AsyncIterable<[Uint8Array, Uint8Array]>) {
    keys.push(key);
    values.push(value);
    if (keys.length === CHUNK) {
      await writer.addEntries(name, keys, values);
      copied += keys.length;
      keys = [];
      values = [];
      if (Date.now() - reported > 1_000) {
        progress(`backup: ${copied.toLocaleString("en-US")} entries of ${name}/ so far`);
        reported = Date.now();
      }
    }
  }
  if (keys.length) await writer.addEntries(name, keys, values);
  progress(`backup: ${(copied + keys.length).toLocaleString("en-US")} entries of ${name}/`);
}

/** Every regular file of the data directory but the databases, "/"-separated, sorted. */
function dataFiles(dataDir: string, below = ""): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(dataDir, below), { withFileTypes: true })) {
    const relative = below ? `${below}/${entry.name}` : entry.name;
    if (SKIPPED.has(relative) || SKIPPED.has(entry.name) || SKIPPED_SUFFIXES.some((suffix) => entry.name.endsWith(suffix))) continue;
    if (entry.isDirectory()) found.push(...dataFiles(dataDir, relative));
    else if (entry.isFile()) found.push(relative);
  }
  return found.sort();
}

export interface RestoreSummary extends BackupTrailer {
  dataDir: string;
  logId: string;
}

/**
 * Restores a backup into `dataDir`, which must not exist yet (or be empty). Everything
 * goes into a sibling folder first and is renamed into place only once the whole backup
 * has been read and its checksum holds, so a damaged backup leaves nothing behind.
 */
export async function restoreBackup(file: string, dataDir: string, onProgress: (message: string) => void = () => undefined): Promise<RestoreSummary> {
  const target = path.resolve(dataDir);
  if (existsSync(target) && readdirSync(target).length > 0) throw new BackupError(`${target} is not empty; restore into a new folder`);
  if (!existsSync(file)) throw new BackupError(`no backup at ${file}`);
  const staging = `${target}.restoring-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  const databases: Record<BackupDatabase, Level<Uint8Array, Uint8Array>> = {
    db: new Level<Uint8Array, Uint8Array>(path.join(staging, "db"), { keyEncoding: "view", valueEncoding: "view" }),
    records: new Level<Uint8Array, Uint8Array>(path.join(staging, "records"), { keyEncoding: "view", valueEncoding: "view" }),
  };
  try {
    await Promise.all([databases.db.open(), databases.records.open()]);
    const lines = readBackup(file);
    let logId = "";
    let restored = 0;
    const last: Partial<Record<BackupDatabase, { key: Buffer; value: Buffer }>> = {};
    let reported = Date.now();
    for (;;) {
      const next = await lines.next();
      if (next.done) {
        // A synced write syncs LevelDB's log with every write before it: rewrite one entry so.
        for (const name of ["db", "records"] as const) {
          const entry = last[name];
          if (entry) await databases[name].put(entry.key, entry.value, { sync: true } as never);
        }
        await Promise.all([databases.db.close(), databases.records.close()]);
        if (existsSync(target)) rmSync(target, { recursive: true });
        renameSync(staging, target);
        onProgress(`restore: ${next.value.entries.db + next.value.entries.records} entries and ${next.value.files} files into ${target}`);
        return { ...next.value, dataDir: target, logId };
      }
      const line = next.value;
      if (line.kind === "header") logId = line.logId;
      else if (line.kind === "file") {
        const destination = path.join(staging, ...line.path.split("/"));
        mkdirSync(path.dirname(destination), { recursive: true, mode: 0o700 });
        writeFileSync(destination, Buffer.from(line.data, "base64"), { mode: line.mode });
        chmodSync(destination, line.mode);
      } else {
        const batch = line.keys.map((key, i) => ({ type: "put" as const, key: Buffer.from(key, "base64"), value: Buffer.from(line.values[i]!, "base64") }));
        await databases[line.db].batch(batch);
        last[line.db] = batch[batch.length - 1];
        restored += batch.length;
        if (Date.now() - reported > 1_000) {
          onProgress(`restore: ${restored.toLocaleString("en-US")} entries so far`);
          reported = Date.now();
        }
      }
    }
  } catch (error) {
    await Promise.allSettled([databases.db.close(), databases.records.close()]);
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}
