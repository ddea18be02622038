import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import path from "node:path";

/**
 * Writes `data` to `file` so that a crash at any moment leaves either the old file or
 * the new one, whole: a temporary file beside it, fsynced, renamed over it, and the
 * folder fsynced so the rename itself survives. Private to its owner by default.
 */
export function writeFileAtomically(file: string, data: string | Uint8Array, mode = 0o600): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  const dir = openSync(path.dirname(file), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
