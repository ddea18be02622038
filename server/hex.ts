/** 0x-prefixed lowercase hex, the one spelling of hashes in envelopes, receipts and the API. */
export type Hex = `0x${string}`;

// Plain Uint8Array code (no Buffer), so that the browser console runs this very module.
const BYTE_TO_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): Hex {
  let out = "0x";
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_HEX[bytes[i]!];
  return out as Hex;
}

export function isHex32(value: unknown): value is Hex {
  return typeof value === "string" && /^0x[0-9a-f]{64}$/.test(value);
}

/** Parses 0x + 64 hex digits (any case) into 32 bytes; undefined if it is not that. */
export function fromHex32(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value)) return undefined;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(value.slice(2 + 2 * i, 4 + 2 * i), 16);
  return bytes;
}
