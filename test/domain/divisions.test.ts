/**
 * isWithin (server/domain/divisions.ts) remembers each jurisdiction's prefix; it must
 * answer exactly as the definition does, for any division and jurisdiction — grids,
 * every level, codes that are not divisions — and however often it is asked.
 */
import { expect } from "chai";
import fc from "fast-check";
import { divisionPrefix, isDivision, isWithin, levelOf } from "../../server/domain/divisions";

/** The definition, worked out afresh every time. */
function withinByDefinition(division: string, jurisdiction: string): boolean {
  if (!isDivision(division) || !isDivision(jurisdiction)) return false;
  if (levelOf(jurisdiction) === "grid") return division === jurisdiction;
  return division.startsWith(divisionPrefix(jurisdiction));
}

const digits = (n: number) => fc.array(fc.constantFrom("0", "1", "2", "3"), { minLength: n, maxLength: n }).map((d) => d.join(""));
// Codes from a small alphabet, so that divisions often lie inside one another; zero tails give every level.
const code = fc.tuple(digits(12), fc.integer({ min: 0, max: 12 })).map(([d, keep]) => d.slice(0, keep).padEnd(12, "0"));
const division = fc.oneof(code, fc.tuple(code, fc.constantFrom("A1", "7", "x")).map(([c, g]) => `${c}-G${g}`), fc.constantFrom("", "33010", "330102000000:dept", "abc"));

describe("divisions: isWithin", function () {
  it("answers as the definition does, for any pair, asked again and again", function () {
    fc.assert(
      fc.property(fc.array(fc.tuple(division, division), { minLength: 1, maxLength: 30 }), (pairs) => {
        for (let round = 0; round < 2; round++) {
          for (const [d, j] of pairs) expect(isWithin(d, j), `${d} in ${j}`).to.equal(withinByDefinition(d, j));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("knows the levels it stands for", function () {
    expect(isWithin("330102003004", "330000000000")).to.equal(true);
    expect(isWithin("330102003004", "330102003000")).to.equal(true);
    expect(isWithin("330102003004", "330103000000")).to.equal(false);
    expect(isWithin("330102003004-GA1", "330102003004")).to.equal(true);
    expect(isWithin("330102003004", "330102003004-GA1")).to.equal(false);
    expect(isWithin("330102003004-GA1", "330102003004-GA1")).to.equal(true);
    expect(isWithin("330102003004", "not a division")).to.equal(false);
  });
});
