/**
 * The part of `node:crypto` that the gateway's pure modules use (createHash and
 * createHmac with SHA-256), for the browser bundle only: esbuild maps
 * `node:crypto` here (server/console/bundle.ts). Built on @noble/hashes, which is
 * synchronous like Node's API (WebCrypto is not), so the shared code runs unchanged.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";

type Input = string | Uint8Array;

interface Sha256State {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

export interface HashLike {
  update(data: Input, encoding?: "utf8" | "utf-8"): HashLike;
  digest(): Uint8Array;
  digest(encoding: "hex"): string;
}

const encoder = new TextEncoder();

function wrap(state: Sha256State): HashLike {
  const hash = {
    update(data: Input, encoding?: string) {
      if (typeof data === "string" && encoding !== undefined && encoding !== "utf8" && encoding !== "utf-8") {
        throw new TypeError(`browser crypto shim: only utf8 strings; got encoding ${encoding}`);
      }
      state.update(typeof data === "string" ? encoder.encode(data) : data);
      return hash;
    },
    digest(encoding?: string) {
      const bytes = state.digest();
      if (encoding === undefined) return bytes;
      if (encoding !== "hex") throw new TypeError(`browser crypto shim: digest encoding ${encoding} is not supported`);
      return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    },
  };
  return hash as HashLike;
}

function requireSha256(algorithm: string): void {
  if (algorithm.toLowerCase() !== "sha256") throw new TypeError(`browser crypto shim: only sha256; got ${algorithm}`);
}

export function createHash(algorithm: string): HashLike {
  requireSha256(algorithm);
  return wrap(sha256.create());
}

export function createHmac(algorithm: string, key: Input): HashLike {
  requireSha256(algorithm);
  return wrap(hmac.create(sha256, typeof key === "string" ? encoder.encode(key) : key));
}

export default { createHash, createHmac };
