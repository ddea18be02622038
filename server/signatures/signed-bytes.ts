import { canonicalUtf8 } from "../domain/envelope";
import { hashLeaf, rootFromInclusionProof, rootHash } from "../merkle";
import { fromHex32, toHex, type Hex } from "../hex";

/**
 * The bytes a department signs (DESIGN.md "Signed evidence"): one event, or the RFC 9162
 * root over a batch's events, so a batch costs one signature yet each stored event, with
 * its inclusion proof, verifies alone.
 */

/** RFC 8785 JSON of `{ type: "provenance-event/v1", event }`, `event` without its `signature`. */
export function eventSigningBytes(event: object): Uint8Array {
  return canonicalUtf8({ type: "provenance-event/v1", event: withoutSignature(event) });
}

/** RFC 8785 JSON of `{ type: "provenance-batch/v1", root, size }`. */
export function batchSigningBytes(root: Hex, size: number): Uint8Array {
  return canonicalUtf8({ type: "provenance-batch/v1", root, size });
}

/** The RFC 9162 root over the leaves `eventSigningBytes(Ei)`. */
export function batchRoot(events: readonly object[]): Hex {
  return toHex(rootHash(events.map(eventSigningBytes)));
}

/** The batch root that `proof` leads to from event `index` of a batch of `size`; undefined if it leads nowhere. */
export function batchRootFromProof(event: object, index: number, size: number, proof: readonly string[]): Hex | undefined {
  const nodes = proof.map((h) => fromHex32(h));
  if (nodes.some((n) => n === undefined) || !Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  try {
    return toHex(rootFromInclusionProof(index, size, hashLeaf(eventSigningBytes(event)), nodes as Uint8Array[]));
  } catch {
    return undefined;
  }
}

function withoutSignature(event: object): object {
  if (!("signature" in event)) return event;
  const { signature: _signature, ...rest } = event as { signature?: unknown };
  return rest;
}
