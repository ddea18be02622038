import { expect } from "chai";
import fc from "fast-check";
import { canonicalJson, envelopeJson, type Envelope } from "../../server/domain/envelope";

describe("domain: the envelope's canonical JSON", () => {
  it("envelopeJson splices the event's canonical JSON exactly as RFC 8785 serialises the whole envelope", () => {
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
          expect(envelopeJson(canonicalJson(event), { log, index, receivedAt, submitter })).to.equal(canonicalJson(envelope));
        },
      ),
      { numRuns: 500 },
    );
    expect(tried).to.equal(500);
  });

  it("refuses an index that is not a non-negative safe integer", () => {
    for (const index of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) {
      expect(() => envelopeJson("{}", { log: "l", index, receivedAt: "t", submitter: "s" })).to.throw(TypeError);
    }
  });
});
