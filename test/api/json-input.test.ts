/**
 * The text rules of request bodies (server/api/json-input.ts): mayBreakTextRules, the
 * one scan of a batch's JSON text that lets the worker skip findNonText's walk, must
 * never pass a text whose parsed value the walk refuses.
 */
import { expect } from "chai";
import fc from "fast-check";
import { findNonText, mayBreakTextRules } from "../../server/api/json-input";

// Strings from every UTF-16 code unit (lone surrogates included), and the characters the rules are about.
const risky = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.constantFrom("a", "中", "\ud800", "\udfff", "\ufdd0", "\ufffe", "\uffff", "\u{1fffe}", "\u{10ffff}", "\\", "u", "_", "__proto__") }),
);
// JSON texts built directly (not by JSON.stringify of objects, which cannot hold a __proto__ key).
const jsonText = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, risky.map((s) => JSON.stringify(s)), fc.integer().map(String), fc.constant("null"), tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
  object: fc.array(fc.tuple(fc.oneof(risky, fc.constant("__proto__")), tie("value")), { maxLength: 4 }).map((entries) => `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`),
})).value as fc.Arbitrary<string>;

describe("api: the text rules of JSON bodies", function () {
  it("mayBreakTextRules passes no text whose parsed value findNonText refuses", function () {
    fc.assert(
      fc.property(jsonText, fc.boolean(), (text, escapeAll) => {
        let json = text;
        // The same value with every non-ASCII character as a \u escape: what a client may send as well.
        if (escapeAll) json = json.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
        if (!mayBreakTextRules(json)) expect(findNonText(JSON.parse(json))).to.equal(undefined);
      }),
      { numRuns: 3_000 },
    );
  });

  it("passes ordinary text, and sends each kind of risk to the walk", function () {
    expect(mayBreakTextRules(JSON.stringify({ events: [{ purpose: "最低生活保障资格核查", fields: ["id-number"] }] }))).to.equal(false);
    for (const [what, json] of [
      ["an escaped lone surrogate", '{"a":"\\ud800"}'],
      ["a raw lone surrogate", '{"a":"\ud800"}'],
      ["a noncharacter", '{"a":"\ufdd0"}'],
      ["a noncharacter of another plane", '{"a":"\u{10ffff}"}'],
      ["a __proto__ key", '{"__proto__":1}'],
      ["any escape", '{"a":"\\u0041"}'],
    ]) {
      expect(mayBreakTextRules(json!), what).to.equal(true);
    }
  });
});
