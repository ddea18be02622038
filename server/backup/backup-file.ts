import { createHash, type Hash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { createGunzip, createGzip } from "node:zlib";
import { z } from "zod";

/**
 * The backup file: gzip of JSON lines, one header, then the data directory's files
 * and both databases' entries (keys and values as base64, byte for byte), then a
 * trailer that counts them and carries the SHA-256 of every line before it — so a
 * truncated or altered backup is refused before anything is restored from it.
 */

export const BACKUP_FORMAT = "provenance-ledger-backup";

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

const headerLine = z.strictObject({
  kind: z.literal("header"),
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(1),
  createdAt: z.string(),
  logId: z.string(),
});
const fileLine = z.strictObject({
  kind: z.literal("file"),
  /** Relative to the data directory, "/"-separated, never leaving it. */
  path: z.string().regex(/^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[\w./-]+$/, "a relative path inside the data directory"),
  mode: z.number().int().min(0).max(0o777),
  data: base64,
});
const entriesLine = z.strictObject({
  kind: z.literal("entries"),
  db: z.enum(["db", "records"]),
  keys: z.array(base64),
  values: z.array(base64),
});
const trailerLine = z.strictObject({
  kind: z.literal("end"),
  files: z.number().int().min(0),
  entries: z.strictObject({ db: z.number().int().min(0), records: z.number().int().min(0) }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export type BackupHeader = z.infer<typeof headerLine>;
export type BackupFile = z.infer<typeof fileLine>;
export type BackupEntries = z.infer<typeof entriesLine>;
export type BackupTrailer = z.infer<typeof trailerLine>;
export type BackupDatabase = BackupEntries["db"];
export type BackupLine = BackupHeader | BackupFile | BackupEntries;

export class BackupError extends Error {
  override name = "BackupError";
}

/**
 * Writes a backup to `file` through a temporary file that is fsynced and renamed at
 * `finish`, so `file` is either absent or a whole backup.
 */
export class BackupWriter {
  private readonly hash: Hash = createHash("sha256");
  private readonly gzip = createGzip({ level: 6 });
  private readonly output;
  private readonly temporary: string;
  private readonly done: Promise<void>;
  private files = 0;
  private readonly entries = { db: 0, records: 0 };

  constructor(
    private readonly file: string,
    header: Omit<BackupHeader, "kind" | "format" | "version">,
  ) {
    this.temporary = `${file}.${process.pid}.partial`;
    // wx: never write over what is there (the caller checked `file`; this guards the temporary).
    this.output = createWriteStream(this.temporary, { flags: "wx", mode: 0o600 });
    this.gzip.pipe(this.output);
    this.done = new Promise((resolve, reject) => {
      this.output.once("close", resolve);
      this.output.once("error", reject);
      this.gzip.once("error", reject);
    });
    this.done.catch(() => undefined);
    this.line({ kind: "header", format: BACKUP_FORMAT, version: 1, ...header });
  }

  async addFile(path: string, mode: number, data: Buffer): Promise<void> {
    this.files++;
    await this.line({ kind: "file", path, mode, data: data.toString("base64") });
  }

  async addEntries(db: BackupDatabase, keys: Uint8Array[], values: Uint8Array[]): Promise<void> {
    this.entries[db] += keys.length;
    await this.line({ kind: "entries", db, keys: keys.map(b64), values: values.map(b64) });
  }

  async finish(): Promise<BackupTrailer> {
    const trailer: BackupTrailer = { kind: "end", files: this.files, entries: { ...this.entries }, sha256: this.hash.digest("hex") };
    this.gzip.end(JSON.stringify(trailer) + "\n");
    await this.done;
    const fd = openSync(this.temporary, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.temporary, this.file);
    return trailer;
  }

  /** Drops the temporary file after a failure. */
  async abort(): Promise<void> {
    this.gzip.destroy();
    this.output.destroy();
    rmSync(this.temporary, { force: true });
  }

  private async line(value: BackupHeader | BackupLine): Promise<void> {
    const text = JSON.stringify(value) + "\n";
    this.hash.update(text);
    if (!this.gzip.write(text)) await once(this.gzip, "drain");
  }
}

/**
 * Reads a backup line by line, checked against its schema; the trailer's counts and
 * hash are checked last, and `lines` throws BackupError if they do not hold.
 */
export async function* readBackup(file: string): AsyncGenerator<BackupHeader | BackupLine, BackupTrailer> {
  const hash = createHash("sha256");
  const counts = { files: 0, db: 0, records: 0 };
  const input = createReadStream(file).on("error", () => undefined);
  const gunzip = createGunzip();
  const lines = createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity });
  let number = 0;
  let trailer: BackupTrailer | undefined;
  try {
    for await (const text of lines) {
      number++;
      if (trailer) throw new BackupError(`line ${number}: data after the end of the backup`);
      const value = parseLine(text, number);
      if (value.kind === "end") {
        trailer = trailerLine.parse(value);
        continue;
      }
      hash.update(text + "\n");
      if (number === 1 && value.kind !== "header") throw new BackupError("not a backup of this ledger (no header)");
      if (value.kind === "file") counts.files++;
      if (value.kind === "entries") {
        if (value.keys.length !== value.values.length) throw new BackupError(`line ${number}: ${value.keys.length} keys for ${value.values.length} values`);
        counts[value.db] += value.keys.length;
      }
      yield value;
    }
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`cannot read the backup ${file}: ${(error as Error).message}`);
  } finally {
    input.destroy();
  }
  if (!trailer) throw new BackupError(`the backup ${file} is incomplete: it has no end line (truncated?)`);
  if (trailer.sha256 !== hash.digest("hex")) throw new BackupError(`the backup ${file} is damaged: its content does not match its checksum`);
  if (trailer.files !== counts.files || trailer.entries.db !== counts.db || trailer.entries.records !== counts.records) {
    throw new BackupError(`the backup ${file} is damaged: its counts do not match what it holds`);
  }
  return trailer;
}

function parseLine(text: string, number: number): BackupHeader | BackupLine | BackupTrailer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupError(`line ${number} is not JSON: the backup is damaged`);
  }
  const kind = (json as { kind?: unknown })?.kind;
  const schema = kind === "header" ? headerLine : kind === "file" ? fileLine : kind === "entries" ? entriesLine : kind === "end" ? trailerLine : undefined;
  const parsed = schema?.safeParse(json);
  if (!parsed?.success) throw new BackupError(`line ${number} is not a backup line${parsed ? `: ${parsed.error.issues[0]?.message}` : ""}`);
  return parsed.data;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
