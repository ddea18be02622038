/**
 * `ledger backup` and `ledger restore`: a consistent copy of a data directory — both
 * LevelDBs, the keys and secrets, the embedded chain's state — taken while the gateway
 * runs (through its control socket) or while it is stopped, and its restore into a new
 * directory. Exit codes: 0 done, 1 a refusal (damaged backup, target not empty), 2 I/O.
 */
import type { Command } from "commander";
import path from "node:path";
import { openStores } from "../server/store/database";
import { loadOrCreateLogMeta } from "../server/store/meta";
import { upgradeRecordsLayout } from "../server/log/event-log";
import { writeBackup, restoreBackup, type BackupSummary } from "../server/backup/backup";
import { BackupError } from "../server/backup/backup-file";
import { requestBackup } from "../server/backup/control-socket";
import { CliError } from "./cli-support";

const progress = (message: string) => console.error(message);

export function registerBackupCommands(program: Command): void {
  program
    .command("backup")
    .description("back up a data directory to one file, while its gateway runs or after it stopped")
    .option("--data-dir <dir>", "the gateway's data directory (env DATA_DIR)", process.env.DATA_DIR ?? "./data")
    .requiredOption("--to <file>", "the backup file to write (must not exist)")
    .action(async (options: { dataDir: string; to: string }) => {
      const dataDir = path.resolve(options.dataDir);
      const to = path.resolve(options.to);
      const summary = (await backupStopped(dataDir, to)) ?? (await backupRunning(dataDir, to));
      console.log(
        `backed up log ${summary.logId}: ${summary.entries.records.toLocaleString("en-US")} records, ` +
          `${summary.entries.db.toLocaleString("en-US")} other entries and ${summary.files} files, ${(summary.bytes / 1e6).toFixed(1)} MB → ${summary.file}`,
      );
    });

  program
    .command("restore")
    .description("restore a backup into a new data directory; check it after with `ledger audit --data-dir`")
    .requiredOption("--from <file>", "the backup file")
    .requiredOption("--data-dir <dir>", "the new data directory (must not exist, or be empty)")
    .action(async (options: { from: string; dataDir: string }) => {
      try {
        const restored = await restoreBackup(path.resolve(options.from), path.resolve(options.dataDir), progress);
        console.log(
          `restored log ${restored.logId} into ${restored.dataDir}: ${restored.entries.records.toLocaleString("en-US")} records, ` +
            `${restored.entries.db.toLocaleString("en-US")} other entries, ${restored.files} files`,
        );
      } catch (error) {
        if (error instanceof BackupError) throw new CliError(error.message, 1);
        throw error;
      }
    });
}

type Summary = BackupSummary;

/** The backup of a stopped gateway's directory; undefined when a running gateway holds it. */
async function backupStopped(dataDir: string, to: string): Promise<Summary | undefined> {
  let stores;
  try {
    stores = await openStores(dataDir);
  } catch (error) {
    if (/in use by another process/.test((error as Error).message)) return undefined;
    throw new CliError(`cannot open ${dataDir}: ${(error as Error).message}`, 2);
  }
  try {
    await upgradeRecordsLayout(stores, progress);
    const { logId } = await loadOrCreateLogMeta(stores.db);
    return await writeBackup({ stores, dataDir, logId, onProgress: progress }, to).catch(asCliError);
  } finally {
    await stores.close();
  }
}

async function backupRunning(dataDir: string, to: string): Promise<Summary> {
  progress(`the gateway is running on ${dataDir}: asking it for the backup`);
  try {
    return (await requestBackup(dataDir, to, progress)) as Summary;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ECONNREFUSED") {
      throw new CliError(`${dataDir} is in use, but no gateway answers on its control socket (an older version?): stop the gateway and back up again`, 2);
    }
    throw new CliError(`backup refused: ${(error as Error).message}`, 1);
  }
}

function asCliError(error: unknown): never {
  if (error instanceof BackupError) throw new CliError(error.message, 1);
  throw error;
}
