/**
 * The fast in-memory code against the RFC-text reference: every root and proof for
 * every size 0..64, and samples at random larger sizes.
 */
import { expect } from "chai";
import fc from "fast-check";
import {
  consistencyProof,
  consistencyProofFromLeafHashes,
  inclusionProof,
  inclusionProofFromLeafHashes,
  rootFromLeafHashes,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "../../server/merkle";
import { rangeNodes, frontierNodes, largestPowerOfTwoBelow } from "../../server/merkle/compact";
import { Mismatches } from "./helpers";
import { hex, hexes, makeLeaves, mth, path, proof, referenceLeafHashes } from "./reference";

const MAX = 64;
const LEAVES = makeLeaves(MAX);
const LEAF_HASHES = referenceLeafHashes(LEAVES);
const ROOTS = Array.from({ length: MAX + 1 }, (_, n) => mth(LEAVES.slice(0, n)));

describe("merkle: in-memory trees against the RFC 9162 reference", () => {
  it(`rootHash and rootFromLeafHashes equal MTH for every size 0..${MAX}`, () => {
    const check = new Mismatches();
    for (let n = 0; n <= MAX; n++) {
      check.equal(hex(rootHash(LEAVES.slice(0, n))), hex(ROOTS[n]), `rootHash, size ${n}`);
      check.equal(
        hex(rootFromLeafHashes(LEAF_HASHES.slice(0, n))),
        hex(ROOTS[n]),
        `rootFromLeafHashes, size ${n}`,
      );
    }
    check.none();
  });

  it(`every inclusion proof equals PATH and verifies, for every size 1..${MAX}`, () => {
    const check = new Mismatches();
    for (let n = 1; n <= MAX; n++) {
      const leaves = LEAVES.slice(0, n);
      const hashes = LEAF_HASHES.slice(0, n);
      for (let m = 0; m < n; m++) {
        const want = hexes(path(m, leaves));
        const got = inclusionProofFromLeafHashes(m, hashes);
        check.equal(hexes(got), want, `PATH(${m}, D[${n}])`);
        // The raw-leaf variant only hashes the leaves first: check it at the edges.
        if (m === 0 || m === n - 1)
          check.equal(hexes(inclusionProof(m, leaves)), want, `raw PATH(${m}, D[${n}])`);
        check.equal(verifyInclusion(m, n, hashes[m], got, ROOTS[n]), true, `verify ${m}/${n}`);
      }
    }
    check.none();
  });

  it(`every consistency proof equals PROOF and verifies, for every 1 <= m <= n <= ${MAX}`, () => {
    const check = new Mismatches();
    for (let n = 1; n <= MAX; n++) {
      const leaves = LEAVES.slice(0, n);
      const hashes = LEAF_HASHES.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const want = hexes(proof(m, leaves));
        const got = consistencyProofFromLeafHashes(m, hashes);
        check.equal(hexes(got), want, `PROOF(${m}, D[${n}])`);
        if (m === 1 || m === n - 1)
          check.equal(hexes(consistencyProof(m, leaves)), want, `raw PROOF(${m}, D[${n}])`);
        check.equal(verifyConsistency(m, n, ROOTS[m], ROOTS[n], got), true, `verify ${m}->${n}`);
      }
    }
    check.none();
  });

  it("consistency from the empty tree is the empty proof, and it verifies", () => {
    const check = new Mismatches();
    for (let n = 0; n <= MAX; n++) {
      const got = consistencyProof(0, LEAVES.slice(0, n));
      check.equal(got, [], `PROOF(0, D[${n}])`);
      check.equal(verifyConsistency(0, n, ROOTS[0], ROOTS[n], got), true, `verify 0->${n}`);
    }
    check.none();
  });

  it("agrees with the reference at random sizes up to 4096 (sampled proofs)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX + 1, max: 4096 }),
        fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
        (n, picks) => {
          const leaves = makeLeaves(n, n);
          const root = mth(leaves);
          const check = new Mismatches();
          check.equal(hex(rootHash(leaves)), hex(root), `root of ${n}`);
          // Always the edges, plus random picks.
          for (const m of [0, n - 1, ...picks.map((p) => p % n)]) {
            const got = inclusionProof(m, leaves);
            check.equal(hexes(got), hexes(path(m, leaves)), `PATH(${m}, D[${n}])`);
            const leafHash = referenceLeafHashes([leaves[m]])[0];
            check.equal(verifyInclusion(m, n, leafHash, got, root), true, `verify ${m}/${n}`);
          }
          for (const m of [1, n - 1, ...picks.map((p) => 1 + (p % n))]) {
            const got = consistencyProof(m, leaves);
            check.equal(hexes(got), hexes(proof(m, leaves)), `PROOF(${m}, D[${n}])`);
            check.equal(
              verifyConsistency(m, n, mth(leaves.slice(0, m)), root, got),
              true,
              `verify ${m}->${n}`,
            );
          }
          check.none();
        },
      ),
      { numRuns: 6 },
    );
  });
});

describe("merkle: compact ranges", () => {
  it("largestPowerOfTwoBelow(n) is the k with k < n <= 2k", () => {
    const check = new Mismatches();
    for (let n = 2; n <= 1025; n++) {
      const k = largestPowerOfTwoBelow(n);
      check.equal(k < n && n <= 2 * k && Number.isInteger(Math.log2(k)), true, `n=${n}, k=${k}`);
    }
    check.none();
    expect(largestPowerOfTwoBelow(2 ** 53)).to.equal(2 ** 52);
    expect(largestPowerOfTwoBelow(2 ** 53 - 1)).to.equal(2 ** 52);
  });

  it("rangeNodes covers [begin, end) exactly with aligned perfect subtrees", () => {
    fc.assert(
      fc.property(fc.nat({ max: 5000 }), fc.nat({ max: 5000 }), (a, b) => {
        const [begin, end] = a <= b ? [a, b] : [b, a];
        let at = begin;
        for (const { level, index } of rangeNodes(begin, end)) {
          const width = 2 ** level;
          if (index * width !== at) return false;
          at += width;
        }
        return at === end;
      }),
    );
  });

  it("the frontier of size n has one node per set bit of n, largest first", () => {
    const check = new Mismatches();
    for (let n = 0; n <= 300; n++) {
      const levels = frontierNodes(n).map((node) => node.level);
      const bits = n.toString(2);
      const want = [...bits].flatMap((bit, i) => (bit === "1" ? [bits.length - 1 - i] : []));
      check.equal(levels, want, `n=${n}`);
    }
    check.none();
    // Past 32 bits, where bitwise operators would wrap.
    const big = 2 ** 52 + 2 ** 40 + 3;
    expect(frontierNodes(big)).to.deep.equal([
      { level: 52, index: 0 },
      { level: 40, index: 2 ** 12 },
      { level: 1, index: (2 ** 52 + 2 ** 40) / 2 },
      { level: 0, index: 2 ** 52 + 2 ** 40 + 2 },
    ]);
  });
});
