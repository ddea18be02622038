import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadOrCreateSecret } from "../store/secrets";
import { OpenLogError } from "./errors";
import { decodeBase64Strict, isValidKeyName, noteSignerFromSeed, verifierKey, type NoteSigner } from "./note";

/**
 * The log's Ed25519 note key: `note-key` in the data directory (32-byte seed as hex, mode
 * 0600, made on first start), or LOG_NOTE_KEY_FILE, which must exist and holds either such a
 * hex seed or a Go `golang.org/x/mod/sumdb/note` private key (`PRIVATE+KEY+name+hash+base64`),
 * so one key works with both tools. The key name is always the log's origin.
 */
export function loadNoteSigner({ dataDir, keyFile, origin }: { dataDir: string; keyFile?: string; origin: string }): NoteSigner {
  if (keyFile === undefined) return noteSignerFromSeed(origin, loadOrCreateSecret(path.join(dataDir, "note-key")));
  if (!existsSync(keyFile)) throw new Error(`LOG_NOTE_KEY_FILE ${keyFile} does not exist`);
  return noteSignerFromSeed(origin, parseSeed(readFileSync(keyFile, "utf8").trim(), keyFile));
}

function parseSeed(text: string, file: string): Uint8Array {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  // Base64 may contain "+": the key is everything after the fourth one.
  const parts = text.split("+");
  if (parts.length >= 5 && parts[0] === "PRIVATE" && parts[1] === "KEY" && isValidKeyName(parts[2]!)) {
    const key = decodeBase64Strict(parts.slice(4).join("+"));
    if (key && key.length === 33 && key[0] === 0x01) return key.subarray(1);
  }
  throw new OpenLogError({ code: "MALFORMED_KEY", message: `${file}: want a 32-byte Ed25519 seed as hex, or a note private key PRIVATE+KEY+name+hash+base64` });
}

/**
 * The default origin line: names the chain, the contract and the log, so two logs never
 * share one (a log id is unique within a contract, a contract within a chain).
 */
export function defaultOrigin({ chainId, contract, logId }: { chainId: number; contract: string; logId: string }): string {
  return `provenance-ledger/${chainId}/${contract.toLowerCase()}/${logId.toLowerCase()}`;
}

/** The log's note verifier key string, for the log list's `noteKey` and /v1/status. */
export function noteVerifierKey(signer: NoteSigner): string {
  return verifierKey(signer);
}
