import { expect } from "chai";
import canonicalize from "canonicalize";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { eventFactory } from "../../bench/events";
import { canonicalBytes, canonicalJson, envelopeUtf8Writer, pseudonymise, type Envelope } from "../../server/domain/envelope";
import { eventSchema } from "../../server/domain/event-schema";

/** The same entries with the keys inserted in sorted order (as far as a JS object keeps it). */
function keysInserted(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object).sort()) Object.defineProperty(out, key, { value: object[key], enumerable: true, writable: true, configurable: true });
  return out;
}

describe("domain: the envelope's canonical JSON", () => {
  it("envelopeUtf8Writer splices the event's canonical JSON exactly as RFC 8785 serialises the whole envelope, in UTF-8", () => {
    let tried = 0;
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
        fc.string({ unit: "grapheme" }),
        fc.string({ unit: "binary" }),
        fc.string(),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (event, log, submitter, receivedAt, index) => {
          tried += 1;
          const envelope = { v: 1, log, index, receivedAt, submitter, event } as unknown as Envelope;
          const write = envelopeUtf8Writer({ log, receivedAt, submitter });
          expect(write(Buffer.from(canonicalJson(event), "utf8"), index).toString("hex")).to.equal(canonicalBytes(envelope).toString("hex"));
        },
      ),
      { numRuns: 500 },
    );
    expect(tried).to.equal(500);
  });

  it("canonicalJson gives exactly the `canonicalize` package's text, for any JSON value", () => {
    // Keys that sort differently by code unit than by code point or numerically, escapes, surrogates.
    const key = fc.oneof(fc.string({ unit: "binary" }), fc.constantFrom("10", "9", "a", "B", "é", "\ud83d\ude00", "\uffff", "__proto__", "", '"', "\\"));
    const leaf = fc.oneof(fc.string({ unit: "binary" }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null));
    const { tree } = fc.letrec((tie) => ({
      // Objects in any key order, and objects already in order (used as they are, unless a part inside is not).
      tree: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("tree")), fc.dictionary(key, tie("tree")), fc.dictionary(key, tie("tree")).map(keysInserted)),
    }));
    fc.assert(
      fc.property(fc.oneof(tree, fc.jsonValue()), (value) => {
        expect(canonicalJson(value)).to.equal(canonicalize(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it("a validated, pseudonymised event is already in RFC 8785 key order (so it is serialised without a copy)", () => {
    // The property event-schema.ts's key order exists for: a key added out of order fails here.
    const make = eventFactory("key-order", 11);
    const secret = randomBytes(32);
    for (let i = 0; i < 200; i++) {
      const raw = { ...make(i), subject: `citizen-${i}`, recipient: { org: "330102001000:health" }, attributes: { a: 1, b: "x" } };
      const stored = pseudonymise(eventSchema.parse(raw), secret);
      expect(JSON.stringify(stored)).to.equal(canonicalize(stored));
      expect(stored).to.have.property("subjectRef").that.matches(/^0x[0-9a-f]{64}$/);
      expect(stored).not.to.have.property("subject");
    }
  });

  it("canonicalJson refuses NaN and infinities, anywhere", () => {
    for (const value of [NaN, Infinity, [1, -Infinity], { a: { b: NaN } }]) expect(() => canonicalJson(value)).to.throw(/not allowed/);
  });

  it("refuses an index that is not a non-negative safe integer", () => {
    for (const index of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) {
      expect(() => envelopeUtf8Writer({ log: "l", receivedAt: "t", submitter: "s" })(Buffer.from("{}"), index)).to.throw(TypeError);
    }
  });
});
