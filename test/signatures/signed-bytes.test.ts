/**
 * The signed bytes of DESIGN.md "Signed evidence", written out by hand here so that a
 * change in canonicalisation or in the batch construction fails: one event's text, and
 * a batch root that every member's inclusion proof leads back to.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { hashLeaf, inclusionProof, rootHash } from "../../server/merkle";
import { toHex } from "../../server/hex";
import { batchRoot, batchRootFromProof, batchSigningBytes, eventSigningBytes } from "../../server/signatures";

const event = (n: number) => ({
  type: "access",
  requestId: `r-${n}`,
  actor: { system: "s", org: "330102003004:civil-affairs", operator: "op-1" },
  fields: ["name", "address"],
  dataset: "cat:household-registry",
  occurredAt: "2026-11-26T10:00:00+08:00",
});
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("signed bytes", () => {
  it("signs one event as RFC 8785 JSON of { type: provenance-event/v1, event } without its signature", () => {
    const signed = { ...event(1), signature: { keyId: "0x" + "ab".repeat(32), alg: "ed25519", value: "AAAA" } };
    const expected =
      '{"event":{"actor":{"operator":"op-1","org":"330102003004:civil-affairs","system":"s"},"dataset":"cat:household-registry",' +
      '"fields":["name","address"],"occurredAt":"2026-11-26T10:00:00+08:00","requestId":"r-1","type":"access"},"type":"provenance-event/v1"}';
    expect(text(eventSigningBytes(signed))).to.equal(expected);
    expect(text(eventSigningBytes(event(1)))).to.equal(expected);
  });

  it("signs a batch as { root, size, type: provenance-batch/v1 }, the root over the events' signing bytes", () => {
    const events = Array.from({ length: 7 }, (_, i) => event(i));
    const root = batchRoot(events);
    const leaves = events.map((e) => new TextEncoder().encode(JSON.stringify({ event: sortKeys(e), type: "provenance-event/v1" })));
    expect(root).to.equal(toHex(rootHash(leaves)));
    expect(text(batchSigningBytes(root, 7))).to.equal(`{"root":"${root}","size":7,"type":"provenance-batch/v1"}`);
    // One event alone: the root is its leaf hash, SHA-256(0x00 ‖ bytes).
    const single = createHash("sha256").update(Buffer.concat([Buffer.from([0]), Buffer.from(leaves[0]!)])).digest();
    expect(batchRoot(events.slice(0, 1))).to.equal(toHex(single));
    expect(toHex(hashLeaf(leaves[0]!))).to.equal(toHex(single));
  });

  it("leads from each member, with its inclusion proof, to the batch root, and from nothing else", () => {
    for (const size of [1, 2, 3, 5, 8, 13]) {
      const events = Array.from({ length: size }, (_, i) => event(i));
      const leaves = events.map(eventSigningBytes);
      const root = batchRoot(events);
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(index, leaves).map(toHex);
        expect(batchRootFromProof(events[index]!, index, size, proof), `${index} of ${size}`).to.equal(root);
        expect(batchRootFromProof({ ...events[index]!, dataset: "cat:other" }, index, size, proof)).to.not.equal(root);
        if (size > 1) expect(batchRootFromProof(events[index]!, (index + 1) % size, size, proof)).to.not.equal(root);
      }
      expect(batchRootFromProof(events[0]!, size, size, [])).to.equal(undefined);
      expect(batchRootFromProof(events[0]!, 0, size, ["0x12"])).to.equal(undefined);
    }
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
}
