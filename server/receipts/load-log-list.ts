import { readFileSync } from "node:fs";
import { parseLogListText, TrustAnchorError, type LogList } from "./trust-anchor";

/** Reads and parses a log list file (the CLI's --trust, the gateway's TRUSTED_LOGS); throws TrustAnchorError. */
export function readLogListFile(file: string): LogList {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new TrustAnchorError("LOG_LIST_UNREADABLE", `cannot read the log list ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseLogListText(text, `the log list ${file}`);
}
