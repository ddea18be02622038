/** Helpers shared by the Merkle tests. */
import { expect } from "chai";
import { isDeepStrictEqual } from "node:util";

/** Splits `items` into batches of the given sizes, repeated (uneven on purpose). */
export function batchesOf<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  for (let at = 0, i = 0; at < items.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(items.slice(at, at + n));
    at += n;
  }
  return out;
}

/**
 * Collects mismatches in loops of thousands of checks and asserts once at the end:
 * under Hardhat each chai `expect` costs about 0.3 ms, which would dominate these
 * tests. The failure lists every case that went wrong.
 */
export class Mismatches {
  readonly found: string[] = [];

  equal(got: unknown, want: unknown, what: string): void {
    if (!isDeepStrictEqual(got, want)) {
      this.found.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  }

  none(): void {
    expect(this.found.slice(0, 20), `${this.found.length} mismatches`).to.deep.equal([]);
  }
}
