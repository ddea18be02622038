import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { toHex, type Hex } from "../hex";
import { sm2KeyFromSpki, verifySm2, type Sm2PublicKey } from "./sm2";

/**
 * Department signing keys (DESIGN.md "Signed evidence"): a public key travels as base64
 * SPKI DER, its id is the SHA-256 of that DER, and each algorithm has one signature
 * encoding — Ed25519's 64 bytes, P-256 as IEEE P1363 r ‖ s (what WebCrypto makes), SM2 as
 * DER (what OpenSSL makes).
 */

export const SIGNATURE_ALGORITHMS = ["ed25519", "ecdsa-p256-sha256", "sm2-sm3"] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export type SigningKeyErrorCode = "SIGNING_KEY_MALFORMED" | "SIGNING_KEY_ALG_MISMATCH";

export class SigningKeyError extends Error {
  readonly code: SigningKeyErrorCode;

  constructor(code: SigningKeyErrorCode, message: string) {
    super(message);
    this.name = "SigningKeyError";
    this.code = code;
  }
}

export interface SigningPublicKey {
  alg: SignatureAlgorithm;
  /** `0x` + hex SHA-256 of the SPKI DER. */
  keyId: Hex;
  /** The SPKI DER as base64, exactly as registered. */
  publicKey: string;
  /** True when `signature` is this key's signature over `message`; never throws. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export function keyIdOf(spkiDer: Uint8Array): Hex {
  return toHex(createHash("sha256").update(spkiDer).digest());
}

/** Standard base64 with padding, and only the one spelling of its bytes. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? new Uint8Array(bytes) : undefined;
}

/**
 * Reads a registered key: `publicKey` must be the SPKI DER of a key of `alg` and
 * nothing else (an EC key on the SM2 curve is SM2's, never P-256's, and vice versa).
 */
export function parseSigningPublicKey(alg: SignatureAlgorithm, publicKey: string): SigningPublicKey {
  const der = decodeBase64Strict(publicKey);
  if (!der) throw new SigningKeyError("SIGNING_KEY_MALFORMED", "publicKey is not canonical base64");
  const keyId = keyIdOf(der);
  const verifyWith = verifierFor(alg, der);
  return { alg, keyId, publicKey, verify: verifyWith };
}

type Verifier = (message: Uint8Array, signature: Uint8Array) => boolean;

function verifierFor(alg: SignatureAlgorithm, der: Uint8Array): Verifier {
  if (alg === "sm2-sm3") {
    const key: Sm2PublicKey | undefined = sm2KeyFromSpki(der);
    if (!key) throw new SigningKeyError("SIGNING_KEY_ALG_MISMATCH", "publicKey is not the SPKI DER of an SM2 key (id-ecPublicKey on curve 1.2.156.10197.1.301)");
    return (message, signature) => verifySm2(key, message, signature);
  }
  const key = nodeKeyFromSpki(der);
  if (alg === "ed25519") {
    if (key.asymmetricKeyType !== "ed25519") throw mismatch(alg);
    return (message, signature) => signature.length === 64 && safely(() => verify(null, message, key, signature));
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw mismatch(alg);
  return (message, signature) =>
    signature.length === 64 && safely(() => verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature));
}

function nodeKeyFromSpki(der: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
  } catch {
    throw new SigningKeyError("SIGNING_KEY_MALFORMED", "publicKey is not an SPKI DER public key");
  }
  // A key that re-exports to other bytes would have two ids; one key, one DER.
  if (!Buffer.from(der).equals(key.export({ format: "der", type: "spki" }))) {
    throw new SigningKeyError("SIGNING_KEY_MALFORMED", "publicKey is not in its canonical SPKI DER form");
  }
  return key;
}

function mismatch(alg: SignatureAlgorithm): SigningKeyError {
  return new SigningKeyError("SIGNING_KEY_ALG_MISMATCH", `publicKey is not a key of algorithm ${alg}`);
}

function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}
