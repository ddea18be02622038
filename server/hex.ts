/** 0x-prefixed lowercase hex, the one spelling of hashes in envelopes, receipts and the API. */
export type Hex = `0x${string}`;

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

export function isHex32(value: unknown): value is Hex {
  return typeof value === "string" && /^0x[0-9a-f]{64}$/.test(value);
}

/** Parses 0x + 64 hex digits (any case) into 32 bytes; undefined if it is not that. */
export function fromHex32(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value)) return undefined;
  return Uint8Array.from(Buffer.from(value.slice(2), "hex"));
}
