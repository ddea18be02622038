import { createHash } from "node:crypto";
import { sm2 } from "sm-crypto-v2";

/**
 * SM2 signature verification as GB/T 32918.2 defines it, with SM3 and the user id of
 * GB/T 35276 (`1234567812345678`) in Z_A.
 *
 * Neither Node's `crypto.verify("sm3", …)` nor OpenSSL 3.0's `pkeyutl -digest sm3` does
 * that by default: both compute Z_A over an EMPTY user id unless one is set
 * (`-pkeyopt distid:1234567812345678`), and Node offers no way to set it. So the
 * arithmetic comes from sm-crypto-v2 (on @noble/curves); this module adds what it leaves
 * to the caller: strict DER, r and s in [1, n-1], and a point on the curve.
 */

export const SM2_DEFAULT_USER_ID = "1234567812345678";

/** The SM2 group order n (GB/T 32918.5). */
const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

/** SPKI DER of an SM2 key, up to its point: id-ecPublicKey with the SM2 curve (1.2.156.10197.1.301). */
const SM2_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01,
  0x82, 0x2d, 0x03, 0x42, 0x00,
]);

export interface Sm2PublicKey {
  /** The public point, with sm-crypto-v2's precomputed multiples (verification is mostly P·t). */
  point: ReturnType<typeof sm2.precomputePublicKey>;
  /** Z_A for the default user id, computed once per key. */
  za: Uint8Array;
}

/** The SM2 key in an SPKI DER, or undefined when the DER is not exactly one. */
export function sm2KeyFromSpki(spki: Uint8Array): Sm2PublicKey | undefined {
  if (spki.length !== SM2_SPKI_PREFIX.length + 65) return undefined;
  for (let i = 0; i < SM2_SPKI_PREFIX.length; i++) if (spki[i] !== SM2_SPKI_PREFIX[i]) return undefined;
  if (spki[SM2_SPKI_PREFIX.length] !== 0x04) return undefined;
  const pointHex = Buffer.from(spki.subarray(SM2_SPKI_PREFIX.length)).toString("hex");
  if (!sm2.verifyPublicKey(pointHex)) return undefined;
  return { point: sm2.precomputePublicKey(pointHex), za: sm2.getZ(pointHex, SM2_DEFAULT_USER_ID) };
}

/** Verifies a DER SM2 signature over `message`; false for anything that is not one. */
export function verifySm2(key: Sm2PublicKey, message: Uint8Array, derSignature: Uint8Array): boolean {
  const rs = parseDerSignature(derSignature);
  if (!rs) return false;
  const [r, s] = rs;
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return false;
  // e = SM3(Z_A ‖ M); Node's SM3 is OpenSSL's, and the library then checks r = e + x1 mod n.
  const e = createHash("sm3").update(key.za).update(message).digest();
  try {
    return sm2.doVerifySignature(e, r.toString(16).padStart(64, "0") + s.toString(16).padStart(64, "0"), key.point, { der: false, hash: false });
  } catch {
    return false;
  }
}

/**
 * SEQUENCE { INTEGER r, INTEGER s } in DER and nothing else: minimal lengths, no
 * leading zero bytes but the one a high bit needs, positive, no trailing bytes. One
 * signature has one encoding, so a stored signature cannot be re-spelt.
 */
export function parseDerSignature(der: Uint8Array): [bigint, bigint] | undefined {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  let at = 2;
  const integers: bigint[] = [];
  for (let n = 0; n < 2; n++) {
    if (der[at] !== 0x02) return undefined;
    const length = der[at + 1]!;
    const start = at + 2;
    if (length === 0 || length > 33 || start + length > der.length) return undefined;
    if (der[start]! & 0x80) return undefined;
    if (length > 1 && der[start] === 0 && !(der[start + 1]! & 0x80)) return undefined;
    integers.push(BigInt("0x" + Buffer.from(der.subarray(start, start + length)).toString("hex")));
    at = start + length;
  }
  return at === der.length ? [integers[0]!, integers[1]!] : undefined;
}
