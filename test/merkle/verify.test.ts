/**
 * Verification: generate-then-verify, then mutate (flipped bits, wrong index or size,
 * truncated or extended proof) and check each mutation fails the way the API says:
 * `verify*` returns false and `assert*` throws a MerkleError with a given code.
 * Malformed input (wrong-length hashes, bad numbers) throws from both.
 */
import { expect } from "chai";
import fc from "fast-check";
import {
  EMPTY_ROOT,
  MerkleError,
  assertConsistency,
  assertInclusion,
  consistencyProof,
  consistencyProofFromLeafHashes,
  consistencyRanges,
  hashLeaf,
  inclusionProof,
  inclusionProofFromLeafHashes,
  inclusionRanges,
  isProofFailure,
  rootFromInclusionProof,
  rootFromLeafHashes,
  rootHash,
  verifyConsistency,
  verifyInclusion,
  type MerkleErrorCode,
} from "../../server/merkle";
import { hex, makeLeaves } from "./reference";

/** The MerkleError that `fn` throws; fails the test if it throws nothing or another error. */
function merkleErrorOf(fn: () => unknown): MerkleError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MerkleError);
    return err as MerkleError;
  }
  expect.fail("expected a MerkleError, nothing was thrown");
}

function expectCode(fn: () => unknown, code: MerkleErrorCode): void {
  expect(merkleErrorOf(fn).code).to.equal(code);
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes); // not slice(): a Buffer's slice shares memory
  copy[Math.floor(bit / 8) % copy.length] ^= 1 << bit % 8;
  return copy;
}

// A tree of distinct leaves (each starts with its index), so that no two leaf hashes
// coincide and a proof for one leaf cannot pass for another by accident.
interface Tree {
  size: number;
  hashes: Uint8Array[];
  roots: Uint8Array[]; // roots[s] = root of the first s leaves
}

const trees = new Map<number, Tree>();
function tree(size: number): Tree {
  let t = trees.get(size);
  if (!t) {
    const leaves = makeLeaves(size, size);
    const hashes = leaves.map(hashLeaf);
    const roots = Array.from({ length: size + 1 }, (_, s) => rootHash(leaves.slice(0, s)));
    t = { size, hashes, roots };
    trees.set(size, t);
  }
  return t;
}

/** (tree, index) with 1 <= size <= 96. */
const inclusionCase = fc
  .integer({ min: 1, max: 96 })
  .chain((size) => fc.record({ size: fc.constant(size), index: fc.nat({ max: size - 1 }) }))
  .map(({ size, index }) => {
    const t = tree(size);
    return { ...t, index, proof: inclusionProofFromLeafHashes(index, t.hashes) };
  });

/** (tree, oldSize) with 0 <= oldSize <= newSize <= 96. */
const consistencyCase = fc
  .integer({ min: 0, max: 96 })
  .chain((size) => fc.record({ size: fc.constant(size), oldSize: fc.nat({ max: size }) }))
  .map(({ size, oldSize }) => {
    const t = tree(size);
    return {
      ...t,
      oldSize,
      oldRoot: t.roots[oldSize],
      newRoot: t.roots[size],
      proof: consistencyProofFromLeafHashes(oldSize, t.hashes),
    };
  });

const wrongLengthHash = fc
  .integer({ min: 0, max: 64 })
  .filter((n) => n !== 32)
  .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

const notACount = fc.oneof(
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true }).filter((x) => !Number.isInteger(x)),
  fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, -0.5),
);

// A proof's shape: for each hash, whether it goes to the left or the right (and, for
// consistency, whether it seeds the computation). RFC 9162 verification sees nothing
// else of the sizes, so a wrong size whose proof has the same shape still verifies:
// the sizes are bound by the signed or anchored checkpoint, not by the proof.
function inclusionShape(index: number, size: number): string {
  if (index >= size) return "out of range";
  return inclusionRanges(index, size)
    .map((r) => (r.begin > index ? "R" : "L"))
    .join("");
}

function consistencyShape(oldSize: number, newSize: number): string {
  if (oldSize === 0 || oldSize >= newSize) return `trivial ${oldSize}/${newSize}`;
  const seeded = !Number.isInteger(Math.log2(oldSize));
  const shape = consistencyRanges(oldSize, newSize).map((r, i) =>
    i === 0 && seeded ? "S" : r.end <= oldSize ? "L" : "R",
  );
  return (seeded ? "" : "P") + shape.join("");
}

describe("merkle: inclusion verification", () => {
  it("a generated proof verifies, and rootFromInclusionProof gives the root", () => {
    fc.assert(
      fc.property(inclusionCase, ({ size, index, hashes, roots, proof }) => {
        expect(verifyInclusion(index, size, hashes[index], proof, roots[size])).to.equal(true);
        expect(hex(rootFromInclusionProof(index, size, hashes[index], proof))).to.equal(
          hex(roots[size]),
        );
        assertInclusion(index, size, hashes[index], proof, roots[size]);
      }),
    );
  });

  it("modified-proof@i-bit@j fails with ROOT_MISMATCH", () => {
    fc.assert(
      fc.property(inclusionCase, fc.nat(), fc.nat({ max: 255 }), (c, at, bit) => {
        fc.pre(c.proof.length > 0);
        const proof = c.proof.slice();
        const i = at % proof.length;
        proof[i] = flipBit(proof[i], bit);
        expect(
          verifyInclusion(c.index, c.size, c.hashes[c.index], proof, c.roots[c.size]),
        ).to.equal(false);
        expectCode(
          () => assertInclusion(c.index, c.size, c.hashes[c.index], proof, c.roots[c.size]),
          "ROOT_MISMATCH",
        );
      }),
    );
  });

  it("a modified leaf hash or root fails with ROOT_MISMATCH carrying got and want", () => {
    fc.assert(
      fc.property(inclusionCase, fc.nat({ max: 255 }), (c, bit) => {
        const leaf = flipBit(c.hashes[c.index], bit);
        const root = flipBit(c.roots[c.size], bit);
        expect(verifyInclusion(c.index, c.size, leaf, c.proof, c.roots[c.size])).to.equal(false);
        expect(verifyInclusion(c.index, c.size, c.hashes[c.index], c.proof, root)).to.equal(false);
        const err = merkleErrorOf(() =>
          assertInclusion(c.index, c.size, c.hashes[c.index], c.proof, root),
        );
        expect(err.code).to.equal("ROOT_MISMATCH");
        expect(hex(err.got as Uint8Array)).to.equal(hex(c.roots[c.size]));
        expect(hex(err.want as Uint8Array)).to.equal(hex(root));
      }),
    );
  });

  it("a wrong index fails: ROOT_MISMATCH or INVALID_PROOF_LENGTH inside the tree, INDEX_OUT_OF_RANGE past it", () => {
    fc.assert(
      fc.property(inclusionCase, fc.nat({ max: 200 }), (c, wrong) => {
        fc.pre(wrong !== c.index);
        const args = [c.hashes[c.index], c.proof, c.roots[c.size]] as const;
        expect(verifyInclusion(wrong, c.size, ...args)).to.equal(false);
        const code = merkleErrorOf(() => assertInclusion(wrong, c.size, ...args)).code;
        if (wrong >= c.size) expect(code).to.equal("INDEX_OUT_OF_RANGE");
        else expect(code).to.be.oneOf(["ROOT_MISMATCH", "INVALID_PROOF_LENGTH"]);
      }),
    );
  });

  it("a wrong size fails unless its proof has the same shape (RFC 9162 cannot tell those apart)", () => {
    fc.assert(
      fc.property(inclusionCase, fc.integer({ min: 1, max: 200 }), (c, wrong) => {
        fc.pre(wrong !== c.size);
        const args = [c.hashes[c.index], c.proof, c.roots[c.size]] as const;
        const sameShape = inclusionShape(c.index, wrong) === inclusionShape(c.index, c.size);
        expect(verifyInclusion(c.index, wrong, ...args)).to.equal(sameShape);
        if (!sameShape) {
          expect(merkleErrorOf(() => assertInclusion(c.index, wrong, ...args)).code).to.be.oneOf([
            "ROOT_MISMATCH",
            "INVALID_PROOF_LENGTH",
            "INDEX_OUT_OF_RANGE",
          ]);
        }
      }),
    );
  });

  it("a truncated or extended proof fails with INVALID_PROOF_LENGTH", () => {
    fc.assert(
      fc.property(inclusionCase, fc.nat(), fc.integer({ min: 1, max: 3 }), (c, at, extra) => {
        const leaf = c.hashes[c.index];
        const root = c.roots[c.size];
        const longer = [
          ...c.proof,
          ...Array.from({ length: extra }, (_, i) => c.hashes[(at + i) % c.size]),
        ];
        expect(verifyInclusion(c.index, c.size, leaf, longer, root)).to.equal(false);
        expectCode(
          () => assertInclusion(c.index, c.size, leaf, longer, root),
          "INVALID_PROOF_LENGTH",
        );
        if (c.proof.length > 0) {
          const cut = c.proof.slice(0, at % c.proof.length);
          expect(verifyInclusion(c.index, c.size, leaf, cut, root)).to.equal(false);
          expectCode(
            () => assertInclusion(c.index, c.size, leaf, cut, root),
            "INVALID_PROOF_LENGTH",
          );
        }
      }),
    );
  });

  it("wrong-length hashes throw INVALID_HASH_LENGTH, whatever else is wrong", () => {
    fc.assert(
      fc.property(inclusionCase, wrongLengthHash, fc.nat(), (c, bad, at) => {
        const leaf = c.hashes[c.index];
        const root = c.roots[c.size];
        const calls: (() => unknown)[] = [
          () => verifyInclusion(c.index, c.size, bad, c.proof, root),
          () => verifyInclusion(c.index, c.size, leaf, c.proof, bad),
          () => rootFromInclusionProof(c.index, c.size, bad, c.proof),
          () => assertInclusion(c.index, c.size, leaf, c.proof, bad),
          // Even with an index past the tree: the malformed hash is reported first.
          () => verifyInclusion(c.size + 5, c.size, bad, c.proof, root),
        ];
        if (c.proof.length > 0) {
          const proof = c.proof.slice();
          proof[at % proof.length] = bad;
          calls.push(() => verifyInclusion(c.index, c.size, leaf, proof, root));
        }
        for (const call of calls) expectCode(call, "INVALID_HASH_LENGTH");
      }),
    );
    expectCode(
      () => verifyInclusion(0, 1, EMPTY_ROOT, [null as unknown as Uint8Array], EMPTY_ROOT),
      "INVALID_HASH_LENGTH",
    );
    expectCode(
      () => verifyInclusion(0, 1, "00".repeat(32) as unknown as Uint8Array, [], EMPTY_ROOT),
      "INVALID_HASH_LENGTH",
    );
  });

  it("a bad index or size throws INVALID_INDEX or INVALID_TREE_SIZE", () => {
    fc.assert(
      fc.property(inclusionCase, notACount, (c, bad) => {
        const args = [c.hashes[c.index], c.proof, c.roots[c.size]] as const;
        expectCode(() => verifyInclusion(bad, c.size, ...args), "INVALID_INDEX");
        expectCode(() => verifyInclusion(c.index, bad, ...args), "INVALID_TREE_SIZE");
        expectCode(() => rootFromInclusionProof(bad, c.size, args[0], args[1]), "INVALID_INDEX");
      }),
    );
  });
});

describe("merkle: consistency verification", () => {
  it("a generated proof verifies, for every 0 <= oldSize <= newSize", () => {
    fc.assert(
      fc.property(consistencyCase, (c) => {
        expect(verifyConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, c.proof)).to.equal(true);
        assertConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, c.proof);
      }),
    );
  });

  it("modified-proof@i-bit@j fails with ROOT_MISMATCH", () => {
    fc.assert(
      fc.property(consistencyCase, fc.nat(), fc.nat({ max: 255 }), (c, at, bit) => {
        fc.pre(c.proof.length > 0);
        const proof = c.proof.slice();
        const i = at % proof.length;
        proof[i] = flipBit(proof[i], bit);
        expect(verifyConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, proof)).to.equal(false);
        expectCode(
          () => assertConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, proof),
          "ROOT_MISMATCH",
        );
      }),
    );
  });

  it("a modified old root fails with ROOT_MISMATCH", () => {
    fc.assert(
      fc.property(consistencyCase, fc.nat({ max: 255 }), (c, bit) => {
        const oldRoot = flipBit(c.oldRoot, bit);
        expect(verifyConsistency(c.oldSize, c.size, oldRoot, c.newRoot, c.proof)).to.equal(false);
        expectCode(
          () => assertConsistency(c.oldSize, c.size, oldRoot, c.newRoot, c.proof),
          "ROOT_MISMATCH",
        );
      }),
    );
  });

  it("a modified new root fails with ROOT_MISMATCH (unless the old tree is empty)", () => {
    fc.assert(
      fc.property(consistencyCase, fc.nat({ max: 255 }), (c, bit) => {
        const newRoot = flipBit(c.newRoot, bit);
        if (c.oldSize === 0 && c.size > 0) {
          // Every tree extends the empty tree: nothing ties the new root to the proof.
          expect(verifyConsistency(0, c.size, c.oldRoot, newRoot, c.proof)).to.equal(true);
          return;
        }
        expect(verifyConsistency(c.oldSize, c.size, c.oldRoot, newRoot, c.proof)).to.equal(false);
        expectCode(
          () => assertConsistency(c.oldSize, c.size, c.oldRoot, newRoot, c.proof),
          "ROOT_MISMATCH",
        );
      }),
    );
  });

  it("wrong sizes fail unless their proof has the same shape (RFC 9162 cannot tell those apart)", () => {
    fc.assert(
      fc.property(consistencyCase, fc.nat({ max: 150 }), fc.nat({ max: 150 }), (c, a, b) => {
        const [oldSize, newSize] = a <= b ? [a, b] : [b, a];
        fc.pre(oldSize !== c.oldSize || newSize !== c.size);
        fc.pre(c.oldSize > 0 && c.oldSize < c.size); // a non-trivial proof to misuse
        const args = [c.oldRoot, c.newRoot, c.proof] as const;
        const sameShape =
          consistencyShape(oldSize, newSize) === consistencyShape(c.oldSize, c.size);
        expect(verifyConsistency(oldSize, newSize, ...args), `${oldSize}->${newSize}`).to.equal(
          sameShape,
        );
        if (!sameShape) {
          expect(
            merkleErrorOf(() => assertConsistency(oldSize, newSize, ...args)).code,
          ).to.be.oneOf(["ROOT_MISMATCH", "INVALID_PROOF_LENGTH"]);
        }
      }),
    );
  });

  it("an old size above the new size fails with TREE_TOO_SMALL", () => {
    fc.assert(
      fc.property(consistencyCase, fc.integer({ min: 1, max: 10 }), (c, more) => {
        const args = [c.oldRoot, c.newRoot, c.proof] as const;
        expect(verifyConsistency(c.size + more, c.size, ...args)).to.equal(false);
        expectCode(() => assertConsistency(c.size + more, c.size, ...args), "TREE_TOO_SMALL");
      }),
    );
  });

  it("a truncated or extended proof fails with INVALID_PROOF_LENGTH", () => {
    fc.assert(
      fc.property(consistencyCase, fc.nat(), fc.integer({ min: 1, max: 3 }), (c, at, extra) => {
        const longer = [
          ...c.proof,
          ...Array.from({ length: extra }, (_, i) => c.roots[(at + i) % (c.size + 1)]),
        ];
        expect(verifyConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, longer)).to.equal(false);
        expectCode(
          () => assertConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, longer),
          "INVALID_PROOF_LENGTH",
        );
        if (c.proof.length > 0) {
          const cut = c.proof.slice(0, at % c.proof.length);
          expect(verifyConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, cut)).to.equal(false);
          expectCode(
            () => assertConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, cut),
            "INVALID_PROOF_LENGTH",
          );
        }
      }),
    );
  });

  it("wrong-length hashes throw INVALID_HASH_LENGTH, whatever else is wrong", () => {
    fc.assert(
      fc.property(consistencyCase, wrongLengthHash, fc.nat(), (c, bad, at) => {
        const calls: (() => unknown)[] = [
          () => verifyConsistency(c.oldSize, c.size, bad, c.newRoot, c.proof),
          () => verifyConsistency(c.oldSize, c.size, c.oldRoot, bad, c.proof),
          () => assertConsistency(c.oldSize, c.size, bad, c.newRoot, c.proof),
          () => verifyConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, [bad]),
          // Even with the sizes the wrong way round.
          () => verifyConsistency(c.size + 1, c.size, bad, c.newRoot, c.proof),
        ];
        if (c.proof.length > 0) {
          const proof = c.proof.slice();
          proof[at % proof.length] = bad;
          calls.push(() => verifyConsistency(c.oldSize, c.size, c.oldRoot, c.newRoot, proof));
        }
        for (const call of calls) expectCode(call, "INVALID_HASH_LENGTH");
      }),
    );
  });

  it("a bad size throws INVALID_TREE_SIZE", () => {
    fc.assert(
      fc.property(consistencyCase, notACount, (c, bad) => {
        const args = [c.oldRoot, c.newRoot, c.proof] as const;
        expectCode(() => verifyConsistency(bad, c.size, ...args), "INVALID_TREE_SIZE");
        expectCode(() => verifyConsistency(c.oldSize, bad, ...args), "INVALID_TREE_SIZE");
      }),
    );
  });

  describe("edge cases", () => {
    const t = tree(8);
    it("equal sizes: the proof must be empty and the roots equal", () => {
      expect(verifyConsistency(5, 5, t.roots[5], t.roots[5], [])).to.equal(true);
      expect(verifyConsistency(5, 5, t.roots[5], t.roots[6], [])).to.equal(false);
      expectCode(
        () => assertConsistency(5, 5, t.roots[5], t.roots[5], [t.roots[1]]),
        "INVALID_PROOF_LENGTH",
      );
      expect(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])).to.equal(true);
      expect(verifyConsistency(0, 0, t.roots[1], t.roots[1], [])).to.equal(false);
    });

    it("old size 0: an empty proof from EMPTY_ROOT verifies, anything else fails", () => {
      expect(verifyConsistency(0, 8, EMPTY_ROOT, t.roots[8], [])).to.equal(true);
      expectCode(() => assertConsistency(0, 8, t.roots[1], t.roots[8], []), "ROOT_MISMATCH");
      expectCode(
        () => assertConsistency(0, 8, EMPTY_ROOT, t.roots[8], [t.roots[8]]),
        "INVALID_PROOF_LENGTH",
      );
    });

    it("RFC 9162 §2.1.4.2 step 1: an empty proof for 0 < old < new fails", () => {
      expectCode(() => assertConsistency(3, 8, t.roots[3], t.roots[8], []), "INVALID_PROOF_LENGTH");
      // Also when the old size is a power of two, where step 2 prepends the old root.
      expectCode(() => assertConsistency(4, 8, t.roots[4], t.roots[8], []), "INVALID_PROOF_LENGTH");
    });
  });
});

describe("merkle: proof generation errors", () => {
  const leaves = makeLeaves(8);
  const hashes = leaves.map(hashLeaf);

  it("rejects indices and sizes outside the tree with a code", () => {
    expectCode(() => inclusionProof(8, leaves), "INDEX_OUT_OF_RANGE");
    expectCode(() => inclusionProof(0, []), "INDEX_OUT_OF_RANGE");
    expectCode(() => inclusionProof(-1, leaves), "INVALID_INDEX");
    expectCode(() => inclusionProof(1.5, leaves), "INVALID_INDEX");
    expectCode(() => consistencyProof(9, leaves), "TREE_TOO_SMALL");
    expectCode(() => consistencyProof(-1, leaves), "INVALID_TREE_SIZE");
    expectCode(() => consistencyProofFromLeafHashes(9, hashes), "TREE_TOO_SMALL");
  });

  it("rejects malformed leaves and leaf hashes with a code", () => {
    expectCode(() => rootFromLeafHashes([hashes[0], hashes[1].subarray(1)]), "INVALID_HASH_LENGTH");
    expectCode(() => inclusionProofFromLeafHashes(0, [new Uint8Array(33)]), "INVALID_HASH_LENGTH");
    expectCode(() => rootHash(["leaf" as unknown as Uint8Array]), "INVALID_LEAF");
    expectCode(() => inclusionProof(0, [null as unknown as Uint8Array]), "INVALID_LEAF");
  });

  it("isProofFailure separates failed proofs from malformed input", () => {
    expect(isProofFailure(merkleErrorOf(() => inclusionProof(8, leaves)))).to.equal(true);
    expect(isProofFailure(merkleErrorOf(() => inclusionProof(-1, leaves)))).to.equal(false);
    expect(isProofFailure(merkleErrorOf(() => rootFromLeafHashes([new Uint8Array(3)])))).to.equal(
      false,
    );
    expect(isProofFailure(new Error("x"))).to.equal(false);
  });

  it("errors read 'got X, want Y'", () => {
    const err = merkleErrorOf(() => verifyInclusion(0, 1, new Uint8Array(31), [], EMPTY_ROOT));
    expect(err.message).to.match(/got 31 bytes, want 32/);
    expect(err.name).to.equal("MerkleError");
    expect(err.got).to.equal(31);
    expect(err.want).to.equal(32);
  });

  it("results do not alias EMPTY_ROOT", () => {
    const root = rootHash([]);
    root[0] ^= 1;
    expect(hex(EMPTY_ROOT)).to.equal(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});
