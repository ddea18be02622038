import { randomBytes } from "node:crypto";
import { SYNCED, type Database } from "./database";

/** Facts about this gateway's log that never change once set. */
export interface LogMeta {
  logId: string;
  createdAt: string;
}

/**
 * Returns the stored log identity, creating it on first start: the configured
 * LOG_ID, or a random one. A data directory never silently changes its log.
 */
export async function loadOrCreateLogMeta(db: Database, configuredLogId?: string): Promise<LogMeta> {
  const meta = db.sublevel<string, string>("meta", { valueEncoding: "utf8" });
  const stored = await meta.get("log");
  if (stored !== undefined) {
    const parsed = JSON.parse(stored) as LogMeta;
    if (configuredLogId && configuredLogId.toLowerCase() !== parsed.logId) {
      throw new Error(`LOG_ID ${configuredLogId} differs from the log ${parsed.logId} already stored in this data directory`);
    }
    return parsed;
  }
  const created: LogMeta = {
    logId: (configuredLogId ?? "0x" + randomBytes(32).toString("hex")).toLowerCase(),
    createdAt: new Date().toISOString(),
  };
  await meta.put("log", JSON.stringify(created), SYNCED);
  return created;
}
