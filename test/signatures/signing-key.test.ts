/**
 * Department signing keys against outside implementations: Debian's `openssl` (OpenSSL 3)
 * makes and checks the SM2 and P-256 signatures, @noble/curves the Ed25519 ones, and each
 * signature of ours is checked there too. What the gateway must refuse is made for real:
 * an ECDSA signature over the SM2 curve, an SM2 signature over an empty user id (OpenSSL's
 * and Node's default), re-spelt DER, keys of another algorithm.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sm2 } from "sm-crypto-v2";
import {
  SigningKeyError,
  keyIdOf,
  parseDerSignature,
  parseSigningPublicKey,
  type SignatureAlgorithm,
} from "../../server/signatures";

const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

describe("signing keys and signatures", () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  /** openssl's verdict on a signature file: true when it printed "Signature Verified Successfully". */
  const opensslVerifies = (...args: string[]) => {
    try {
      return openssl("pkeyutl", "-verify", ...args).toString().includes("Verified Successfully");
    } catch {
      return false;
    }
  };
  const message = new TextEncoder().encode('{"event":{"type":"access"},"type":"provenance-event/v1"}');

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "signing-keys-"));
    writeFileSync(file("msg"), message);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh openssl key pair: the private key file and the public key's SPKI DER as base64. */
  function opensslKey(name: string, ...genpkey: string[]): string {
    openssl("genpkey", ...genpkey, "-out", file(`${name}.pem`));
    openssl("pkey", "-in", file(`${name}.pem`), "-pubout", "-outform", "DER", "-out", file(`${name}.spki`));
    return readFileSync(file(`${name}.spki`)).toString("base64");
  }

  it("names a key by the SHA-256 of its SPKI DER, as sha256sum of openssl's DER says", () => {
    const spki = opensslKey("id-ed", "-algorithm", "ed25519");
    const outside = createHash("sha256").update(readFileSync(file("id-ed.spki"))).digest("hex");
    expect(parseSigningPublicKey("ed25519", spki).keyId).to.equal(`0x${outside}`);
    expect(keyIdOf(Buffer.from(spki, "base64"))).to.equal(`0x${outside}`);
  });

  describe("ed25519", () => {
    it("verifies @noble/curves signatures and refuses altered ones", () => {
      const secret = ed25519.utils.randomSecretKey();
      const raw = ed25519.getPublicKey(secret);
      // SPKI of an Ed25519 key: the fixed 12-byte header of RFC 8410, then the 32-byte key.
      const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]).toString("base64");
      const key = parseSigningPublicKey("ed25519", spki);
      const signature = ed25519.sign(message, secret);
      expect(key.verify(message, signature)).to.equal(true);
      const altered = Uint8Array.from(message);
      altered[5] ^= 1;
      expect(key.verify(altered, signature)).to.equal(false);
      expect(key.verify(message, signature.subarray(0, 63))).to.equal(false);
      const flipped = Uint8Array.from(signature);
      flipped[40] ^= 0x10;
      expect(key.verify(message, flipped)).to.equal(false);
    });

    it("signs, with Node, what @noble/curves and openssl verify", () => {
      const spki = opensslKey("ed", "-algorithm", "ed25519");
      const privateKey = readFileSync(file("ed.pem"));
      const signature = sign(null, message, privateKey);
      writeFileSync(file("ed.sig"), signature);
      expect(parseSigningPublicKey("ed25519", spki).verify(message, signature)).to.equal(true);
      expect(ed25519.verify(signature, message, Buffer.from(spki, "base64").subarray(12))).to.equal(true);
      expect(opensslVerifies("-rawin", "-pubin", "-keyform", "DER", "-inkey", file("ed.spki"), "-in", file("msg"), "-sigfile", file("ed.sig"))).to.equal(true);
    });
  });

  describe("ecdsa-p256-sha256", () => {
    it("verifies openssl's signatures as IEEE P1363 r ‖ s, not as DER", () => {
      const spki = opensslKey("p256", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256");
      const key = parseSigningPublicKey("ecdsa-p256-sha256", spki);
      for (let round = 0; round < 5; round++) {
        const der = openssl("dgst", "-sha256", "-sign", file("p256.pem"), file("msg"));
        const p1363 = derToP1363(der);
        expect(key.verify(message, p1363), `round ${round}`).to.equal(true);
        expect(key.verify(message, der), "DER is not the wire form").to.equal(false);
        const altered = Uint8Array.from(message);
        altered[0] ^= 1;
        expect(key.verify(altered, p1363)).to.equal(false);
      }
    });

    it("makes, as WebCrypto does, P1363 signatures that openssl verifies", () => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const spki = publicKey.export({ format: "der", type: "spki" });
      writeFileSync(file("p256b.spki"), spki);
      const p1363 = sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
      expect(p1363.length).to.equal(64);
      expect(parseSigningPublicKey("ecdsa-p256-sha256", spki.toString("base64")).verify(message, p1363)).to.equal(true);
      writeFileSync(file("p256b.sig"), p1363ToDer(p1363));
      // pkeyutl without -rawin checks a digest: SHA-256 of the message, as ECDSA-SHA256 signs.
      writeFileSync(file("msg.sha256"), createHash("sha256").update(message).digest());
      expect(opensslVerifies("-pubin", "-keyform", "DER", "-inkey", file("p256b.spki"), "-in", file("msg.sha256"), "-sigfile", file("p256b.sig"))).to.equal(true);
    });
  });

  describe("sm2-sm3 (GB/T 32918.2, user id 1234567812345678)", () => {
    let spki: string;
    before(() => {
      spki = opensslKey("sm2", "-algorithm", "SM2");
    });

    it("verifies openssl's signatures made with the standard's default user id", () => {
      const key = parseSigningPublicKey("sm2-sm3", spki);
      for (let round = 0; round < 5; round++) {
        openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", file("sm2.pem"), "-in", file("msg"), "-out", file("sm2.sig"), "-pkeyopt", "distid:1234567812345678");
        const signature = readFileSync(file("sm2.sig"));
        expect(key.verify(message, signature), `round ${round}`).to.equal(true);
        const altered = Uint8Array.from(message);
        altered[3] ^= 1;
        expect(key.verify(altered, signature)).to.equal(false);
      }
    });

    it("refuses what OpenSSL 3.0 and Node sign by default: Z_A over an empty user id", () => {
      // `openssl pkeyutl -sign -rawin -digest sm3` with no distid, and Node's crypto.sign("sm3")
      // with an SM2 key, both hash an empty id into Z_A; GB/T 32918.2 with GB/T 35276 uses 1234567812345678.
      openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", file("sm2.pem"), "-in", file("msg"), "-out", file("sm2-empty.sig"));
      const emptyId = readFileSync(file("sm2-empty.sig"));
      expect(opensslVerifies("-rawin", "-digest", "sm3", "-pubin", "-keyform", "DER", "-inkey", file("sm2.spki"), "-in", file("msg"), "-sigfile", file("sm2-empty.sig"), "-pkeyopt", "distid:"), "openssl's default is the empty id").to.equal(true);
      const key = parseSigningPublicKey("sm2-sm3", spki);
      expect(key.verify(message, emptyId)).to.equal(false);
      const nodeSigned = sign("sm3", message, readFileSync(file("sm2.pem")));
      expect(key.verify(message, nodeSigned)).to.equal(false);
    });

    it("refuses an ECDSA signature over the SM2 curve (what crypto.sign makes from a plain EC key)", () => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "SM2" });
      const ecdsa = sign("sm3", message, privateKey);
      const key = parseSigningPublicKey("sm2-sm3", publicKey.export({ format: "der", type: "spki" }).toString("base64"));
      expect(key.verify(message, ecdsa)).to.equal(false);
    });

    it("signs, with sm-crypto-v2, what openssl verifies with the default user id and refuses without it", () => {
      const pair = sm2.generateKeyPairHex();
      const spkiDer = Buffer.concat([Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex"), Buffer.from(pair.publicKey, "hex")]);
      writeFileSync(file("ours.spki"), spkiDer);
      const signature = Buffer.from(sm2.doSignature(message, pair.privateKey, { der: true, hash: true, userId: "1234567812345678" }), "hex");
      writeFileSync(file("ours.sig"), signature);
      const args = ["-rawin", "-digest", "sm3", "-pubin", "-keyform", "DER", "-inkey", file("ours.spki"), "-in", file("msg"), "-sigfile", file("ours.sig")];
      expect(opensslVerifies(...args, "-pkeyopt", "distid:1234567812345678")).to.equal(true);
      expect(opensslVerifies(...args)).to.equal(false);
      expect(parseSigningPublicKey("sm2-sm3", spkiDer.toString("base64")).verify(message, signature)).to.equal(true);
    });

    it("refuses re-spelt DER and r, s outside [1, n-1]", () => {
      openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", file("sm2.pem"), "-in", file("msg"), "-out", file("sm2.sig"), "-pkeyopt", "distid:1234567812345678");
      const signature = readFileSync(file("sm2.sig"));
      const key = parseSigningPublicKey("sm2-sm3", spki);
      expect(key.verify(message, signature)).to.equal(true);
      const [r, s] = parseDerSignature(signature)!;
      expect(key.verify(message, derOf([r, s]))).to.equal(true);
      expect(key.verify(message, derOf([r + SM2_N, s])), "r + n").to.equal(false);
      expect(key.verify(message, derOf([r, s + SM2_N])), "s + n").to.equal(false);
      expect(key.verify(message, derOf([0n, s]))).to.equal(false);
      expect(key.verify(message, Buffer.concat([signature, Buffer.from([0])])), "trailing byte").to.equal(false);
      // r with a needless leading zero byte: the same integer, another spelling.
      const padded = Buffer.concat([Buffer.from([0x30, signature[1]! + 1, 0x02, signature[3]! + 1, 0x00]), signature.subarray(4)]);
      expect(parseDerSignature(padded)).to.equal(undefined);
      expect(key.verify(message, padded)).to.equal(false);
    });
  });

  describe("registration", () => {
    it("refuses a key of another algorithm than the one named, whichever way round", () => {
      const keys: Record<SignatureAlgorithm, string> = {
        ed25519: opensslKey("r-ed", "-algorithm", "ed25519"),
        "ecdsa-p256-sha256": opensslKey("r-p256", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
        "sm2-sm3": opensslKey("r-sm2", "-algorithm", "SM2"),
      };
      const secp256k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey.export({ format: "der", type: "spki" }).toString("base64");
      for (const named of Object.keys(keys) as SignatureAlgorithm[]) {
        expect(() => parseSigningPublicKey(named, keys[named])).not.to.throw();
        for (const other of Object.keys(keys) as SignatureAlgorithm[]) {
          if (other === named) continue;
          expect(() => parseSigningPublicKey(named, keys[other]), `${other} key as ${named}`).to.throw(SigningKeyError).with.property("code", "SIGNING_KEY_ALG_MISMATCH");
        }
        expect(() => parseSigningPublicKey(named, secp256k1)).to.throw(SigningKeyError);
      }
    });

    it("refuses bytes that are not one canonical SPKI DER in canonical base64", () => {
      const ed = opensslKey("m-ed", "-algorithm", "ed25519");
      const der = Buffer.from(ed, "base64");
      const cases: [string, string][] = [
        ["empty", ""],
        ["not base64", "%%%%"],
        ["unpadded", ed.replace(/=+$/, "")],
        ["url alphabet", Buffer.from(randomBytes(45)).toString("base64url")],
        ["truncated DER", der.subarray(0, der.length - 1).toString("base64")],
        ["trailing byte", Buffer.concat([der, Buffer.from([0])]).toString("base64")],
        ["random bytes", randomBytes(44).toString("base64")],
      ];
      for (const [what, publicKey] of cases) {
        for (const alg of ["ed25519", "ecdsa-p256-sha256", "sm2-sm3"] as const) {
          expect(() => parseSigningPublicKey(alg, publicKey), `${what} as ${alg}`).to.throw(SigningKeyError);
        }
      }
    });
  });
});

/** DER ECDSA-Sig-Value → r ‖ s, 32 bytes each (read here, not with the module under test). */
function derToP1363(der: Buffer): Buffer {
  const rLength = der[3]!;
  const r = der.subarray(4, 4 + rLength);
  const s = der.subarray(6 + rLength, 6 + rLength + der[5 + rLength]!);
  const fixed = (x: Buffer) => Buffer.concat([Buffer.alloc(32), x.subarray(x.length > 32 ? x.length - 32 : 0)]).subarray(-32);
  return Buffer.concat([fixed(r), fixed(s)]);
}

function p1363ToDer(signature: Buffer): Buffer {
  return derOf([BigInt("0x" + signature.subarray(0, 32).toString("hex")), BigInt("0x" + signature.subarray(32).toString("hex"))]);
}

function derOf(integers: bigint[]): Buffer {
  const parts = integers.map((n) => {
    let hex = n.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    let bytes = Buffer.from(hex, "hex");
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  });
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
