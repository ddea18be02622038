import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

/**
 * A 32-byte secret kept in a file readable by its owner only, created on first
 * use. Used for the subject pseudonymisation key.
 */
export function loadOrCreateSecret(file: string): Buffer {
  if (existsSync(file)) {
    const secret = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
    if (secret.length !== 32) throw new Error(`${file} must hold 32 bytes as hex`);
    return secret;
  }
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  return secret;
}
