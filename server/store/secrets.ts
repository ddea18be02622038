import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { writeFileAtomically } from "./atomic-file";

/**
 * A 32-byte secret kept in a file readable by its owner only, created on first
 * use. Used for the subject pseudonymisation key. Written to a temporary file,
 * fsynced and renamed, so a crash during the first start never leaves an empty
 * or partial secret behind.
 */
export function loadOrCreateSecret(file: string): Buffer {
  if (existsSync(file)) {
    const secret = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
    if (secret.length !== 32) throw new Error(`${file} must hold 32 bytes as hex`);
    return secret;
  }
  const secret = randomBytes(32);
  writeFileAtomically(file, secret.toString("hex") + "\n");
  return secret;
}
