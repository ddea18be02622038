import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { OpenLogError } from "./errors";

/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and the checkpoint body they
 * carry (c2sp.org/tlog-checkpoint). Pure functions: no I/O. Everything parsed here may come
 * from an attacker (a gateway answer, a file), so parsing is strict and bounded.
 */

/** Ed25519's signature type byte in key ids and verifier keys. */
const ED25519 = 0x01;
const EM_DASH_PREFIX = "\u2014 ";
const MAX_NOTE_BYTES = 1 << 20;
const MAX_SIGNATURES = 100;
// DER wrappers for raw Ed25519 keys (RFC 8410): what node:crypto imports.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** An Ed25519 note signer: its name (the key name in signatures), its key id and keys. */
export interface NoteSigner {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

export interface NoteVerifier {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

/** A key name: non-empty, no Unicode spaces and no "+" (signed-note). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

/** The 4-byte key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. */
export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  const hash = createHash("sha256").update(name, "utf8").update(Uint8Array.of(0x0a, ED25519)).update(publicKey).digest();
  return new Uint8Array(hash.subarray(0, 4));
}

/** A signer from a 32-byte Ed25519 seed (RFC 8032 private key). */
export function noteSignerFromSeed(name: string, seed: Uint8Array): NoteSigner {
  if (!isValidKeyName(name)) throw new OpenLogError({ code: "MALFORMED_KEY", message: `key name ${JSON.stringify(name)} is empty or has a space or "+"` });
  if (seed.length !== 32) throw new OpenLogError({ code: "MALFORMED_KEY", message: `Ed25519 seed: got ${seed.length} bytes, want 32` });
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return { name, keyId: noteKeyId(name, publicKey), publicKey, privateKey };
}

/** The verifier key string `name+hex(keyID)+base64(0x01 ‖ public key)`: the log list's `noteKey`. */
export function verifierKey(v: { name: string; publicKey: Uint8Array }): string {
  const id = Buffer.from(noteKeyId(v.name, v.publicKey)).toString("hex");
  return `${v.name}+${id}+${Buffer.from([ED25519, ...v.publicKey]).toString("base64")}`;
}

/** Parses a verifier key string (attacker-controlled when it comes from a file or a gateway). */
export function parseVerifierKey(text: string): NoteVerifier {
  const bad = (why: string) => new OpenLogError({ code: "MALFORMED_KEY", message: `verifier key ${JSON.stringify(text.slice(0, 200))}: ${why}` });
  // The base64 key may itself contain "+": it is everything after the second one.
  const parts = text.split("+");
  if (parts.length < 3) throw bad("want name+hash+key");
  const [name, hashHex] = parts as [string, string];
  const keyB64 = parts.slice(2).join("+");
  if (!isValidKeyName(name)) throw bad("bad key name");
  if (!/^[0-9a-f]{8}$/.test(hashHex)) throw bad("key hash must be 8 lowercase hex digits");
  const key = decodeBase64Strict(keyB64);
  if (!key || key.length !== 33 || key[0] !== ED25519) throw bad("want base64 of 0x01 and a 32-byte Ed25519 public key");
  const publicKey = new Uint8Array(key.subarray(1));
  const keyId = noteKeyId(name, publicKey);
  if (Buffer.from(keyId).toString("hex") !== hashHex) throw bad(`key hash ${hashHex} does not match the key (want ${Buffer.from(keyId).toString("hex")})`);
  return { name, keyId, publicKey };
}

/** Signs `text` (which must end with a newline): the signed note text, with one signature line. */
export function signNote(text: string, signer: NoteSigner): string {
  if (!text.endsWith("\n") || text.includes("\n\n")) throw new OpenLogError({ code: "MALFORMED_NOTE", message: "note text must end with a newline and have no blank line" });
  const signature = sign(null, Buffer.from(text, "utf8"), signer.privateKey);
  return `${text}\n${EM_DASH_PREFIX}${signer.name} ${Buffer.concat([signer.keyId, signature]).toString("base64")}\n`;
}

/**
 * Opens a signed note: returns its text once a signature by `verifier` checks out. Throws
 * MALFORMED_NOTE, UNKNOWN_KEY (no signature by this key: signed by another one) or BAD_SIGNATURE.
 */
export function openNote(note: string, verifier: NoteVerifier): string {
  const malformed = (why: string) => new OpenLogError({ code: "MALFORMED_NOTE", message: `malformed note: ${why}` });
  if (Buffer.byteLength(note, "utf8") > MAX_NOTE_BYTES) throw malformed("larger than 1 MiB");
  if (!note.endsWith("\n")) throw malformed("does not end with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw malformed("no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  let found = false;
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match) throw malformed(`bad signature line ${JSON.stringify(line.slice(0, 200))}`);
    const [, name, b64] = match as unknown as [string, string, string];
    const bytes = decodeBase64Strict(b64);
    if (!bytes || bytes.length < 5) throw malformed(`bad signature encoding for ${name}`);
    if (name !== verifier.name || !equalBytes(bytes.subarray(0, 4), verifier.keyId)) continue;
    found = true;
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_ED25519, verifier.publicKey]), format: "der", type: "spki" });
    if (bytes.length === 68 && verify(null, Buffer.from(text, "utf8"), publicKey, bytes.subarray(4))) return text;
  }
  if (!found) throw new OpenLogError({ code: "UNKNOWN_KEY", message: `the note has no signature by ${verifier.name}+${Buffer.from(verifier.keyId).toString("hex")}` });
  throw new OpenLogError({ code: "BAD_SIGNATURE", message: `invalid signature for key ${verifier.name}+${Buffer.from(verifier.keyId).toString("hex")}` });
}

/** A checkpoint (c2sp.org/tlog-checkpoint): origin, tree size, root hash. */
export interface CheckpointBody {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
}

export function formatCheckpoint({ origin, treeSize, rootHash }: CheckpointBody): string {
  if (origin.length === 0 || origin.includes("\n")) throw new OpenLogError({ code: "MALFORMED_CHECKPOINT", message: "origin must be one non-empty line" });
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new OpenLogError({ code: "MALFORMED_CHECKPOINT", message: `tree size ${treeSize}` });
  if (rootHash.length !== 32) throw new OpenLogError({ code: "MALFORMED_CHECKPOINT", message: `root: got ${rootHash.length} bytes, want 32` });
  return `${origin}\n${treeSize}\n${Buffer.from(rootHash).toString("base64")}\n`;
}

/** Parses a checkpoint body (a note's verified text); extension lines are allowed and ignored. */
export function parseCheckpoint(text: string): CheckpointBody {
  const bad = (why: string) => new OpenLogError({ code: "MALFORMED_CHECKPOINT", message: `malformed checkpoint: ${why}` });
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") throw bad("want origin, size and root lines, each ending with a newline");
  const [origin, size, root] = lines as [string, string, string];
  if (origin.length === 0) throw bad("empty origin");
  if (!/^(0|[1-9]\d{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw bad(`tree size ${JSON.stringify(size.slice(0, 40))}`);
  const rootHash = decodeBase64Strict(root);
  if (!rootHash || rootHash.length !== 32) throw bad("root must be base64 of 32 bytes");
  return { origin, treeSize: Number(size), rootHash: new Uint8Array(rootHash) };
}

/** Opens a signed checkpoint: signature by `verifier`, then the expected origin. */
export function openCheckpoint(note: string, verifier: NoteVerifier, origin: string): CheckpointBody {
  const checkpoint = parseCheckpoint(openNote(note, verifier));
  if (checkpoint.origin !== origin) {
    throw new OpenLogError({ code: "WRONG_ORIGIN", message: `checkpoint origin: got ${JSON.stringify(checkpoint.origin)}, want ${JSON.stringify(origin)}` });
  }
  return checkpoint;
}

/** Standard base64 (with padding), refusing anything that does not round-trip. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
