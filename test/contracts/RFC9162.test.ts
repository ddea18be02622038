/**
 * The Solidity library RFC9162 (through contracts/test/RFC9162Harness.sol) against the
 * TypeScript module server/merkle: the same proofs, the same mutations, the same answers.
 *
 * Mutation names follow transparency-dev/merkle's test vectors: `truncated-proof`,
 * `extended-proof`, `modified-proof@<node>-bit@<bit>`, `wrong-index`, `wrong-size+1` …
 * Mutations that must be refused are asserted false on both sides; a wrong index or size
 * is only asserted to get the same answer on both sides, because RFC 9162 verification
 * rightly accepts some of them (the proof of leaf 0 in a tree of 3 is also the proof of
 * leaf 0 in a tree of 4 with the same root, since the size only fixes the path's shape).
 */
import { loadFixture } from "@nomicfoundation/hardhat-toolbox/network-helpers";
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import * as merkle from "../../server/merkle";
import type { RFC9162Harness } from "../../typechain-types";
import { SubtreeTable, flipBit, hex, hexProof, largeTree, leafBytes, leaves } from "./support/merkle-fixtures";
import { seededRandom } from "../support/seeded-random";

interface InclusionCase {
  label: string;
  index: number;
  size: number;
  leafHash: Uint8Array;
  proof: Uint8Array[];
  root: Uint8Array;
  /** true: must verify; false: must be refused; undefined: only agreement is asserted. */
  expected?: boolean;
}

interface ConsistencyCase {
  label: string;
  oldSize: number;
  newSize: number;
  oldRoot: Uint8Array;
  newRoot: Uint8Array;
  proof: Uint8Array[];
  expected?: boolean;
}

/**
 * Work per eth_call, counted as proof nodes plus two per case (its head words and the final
 * comparison). Hardhat's EVM (EDR 0.12) keeps a trace of every opcode a call executes in
 * the call's response, in native memory that V8 does not account for, and large traces are
 * not given back: with 200 cases a call (up to ~1M steps, ~300 MB) this file peaked at
 * 8.4 GB RSS. Calls of at most 400 units (~100k steps) are freed as they go, run faster,
 * and stay far below the Osaka transaction gas cap (2^24).
 */
const MAX_WORK_PER_CALL = 400;

/** Consecutive batches of `cases`, each at most MAX_WORK_PER_CALL (and at least one case). */
function callBatches<C extends { proof: readonly Uint8Array[] }>(cases: C[]): C[][] {
  const batches: C[][] = [];
  let batch: C[] = [];
  let work = 0;
  for (const c of cases) {
    const caseWork = c.proof.length + 2;
    if (batch.length > 0 && work + caseWork > MAX_WORK_PER_CALL) {
      batches.push(batch);
      batch = [];
      work = 0;
    }
    batch.push(c);
    work += caseWork;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** A fixed bit of proof node `node`, so that failures reproduce. */
const bitFor = (node: number, salt: number): number => (node * 67 + salt * 13) % 256;

/** Proof nodes to flip a bit in: every node, or for long proofs the first, middle and last. */
function nodesToModify(length: number, all: boolean): number[] {
  const nodes = Array.from({ length }, (_, node) => node);
  return all ? nodes : [...new Set([0, length >> 1, length - 1])].filter((node) => node >= 0 && node < length);
}

/** The valid case first, then its mutations. */
function inclusionMutations(base: Omit<InclusionCase, "label" | "expected">, everyNode = true): InclusionCase[] {
  const { index, size, leafHash, proof, root } = base;
  const cases: InclusionCase[] = [{ ...base, label: "valid", expected: true }];
  nodesToModify(proof.length, everyNode).forEach((node) => {
    const bit = bitFor(node, index);
    const modified = proof.map((p, j) => (j === node ? flipBit(p, bit) : p));
    cases.push({ ...base, proof: modified, label: `modified-proof@${node}-bit@${bit}`, expected: false });
  });
  if (proof.length > 0) cases.push({ ...base, proof: proof.slice(0, -1), label: "truncated-proof", expected: false });
  cases.push({ ...base, proof: [...proof, leafHash], label: "extended-proof", expected: false });
  cases.push({ ...base, leafHash: flipBit(leafHash, 255), label: "modified-leaf-hash", expected: false });
  cases.push({ ...base, root: flipBit(root, 0), label: "modified-root", expected: false });
  cases.push({ ...base, index: size, label: "index-equals-size", expected: false });
  cases.push({ ...base, index: index + 1, label: "wrong-index+1" });
  if (index > 0) cases.push({ ...base, index: index - 1, label: "wrong-index-1" });
  cases.push({ ...base, size: size + 1, label: "wrong-size+1" });
  cases.push({ ...base, size: size - 1, label: "wrong-size-1" });
  return cases;
}

/** The valid case first, then its mutations. */
function consistencyMutations(
  base: Omit<ConsistencyCase, "label" | "expected">,
  otherOldRoot: Uint8Array,
  everyNode = true
): ConsistencyCase[] {
  const { oldSize, newSize, oldRoot, newRoot, proof } = base;
  const cases: ConsistencyCase[] = [{ ...base, label: "valid", expected: true }];
  nodesToModify(proof.length, everyNode).forEach((node) => {
    const bit = bitFor(node, oldSize + newSize);
    const modified = proof.map((p, j) => (j === node ? flipBit(p, bit) : p));
    cases.push({ ...base, proof: modified, label: `modified-proof@${node}-bit@${bit}`, expected: false });
  });
  if (proof.length > 0) {
    cases.push({ ...base, proof: proof.slice(0, -1), label: "truncated-proof", expected: false });
    cases.push({ ...base, proof: [], label: "empty-proof", expected: false });
  }
  cases.push({ ...base, proof: [...proof, oldRoot], label: "extended-proof", expected: false });
  cases.push({ ...base, oldRoot: otherOldRoot, label: "different-old-tree", expected: false });
  cases.push({ ...base, newRoot: flipBit(newRoot, 7), label: "modified-new-root", expected: false });
  if (oldSize < newSize) {
    cases.push({ ...base, oldRoot: newRoot, newRoot: oldRoot, label: "swapped-roots", expected: false });
  }
  cases.push({ ...base, oldSize: newSize + 1, label: "old-size-above-new-size", expected: false });
  cases.push({ ...base, oldSize: oldSize + 1, label: "wrong-old-size+1" });
  cases.push({ ...base, oldSize: oldSize - 1, label: "wrong-old-size-1" });
  cases.push({ ...base, newSize: newSize + 1, label: "wrong-new-size+1" });
  cases.push({ ...base, newSize: newSize - 1, label: "wrong-new-size-1" });
  return cases;
}

function tsVerifyInclusion(c: InclusionCase): boolean {
  return merkle.verifyInclusion(c.index, c.size, c.leafHash, c.proof, c.root);
}

function tsVerifyConsistency(c: ConsistencyCase): boolean {
  return merkle.verifyConsistency(c.oldSize, c.newSize, c.oldRoot, c.newRoot, c.proof);
}

/** A 32-byte big-endian word (sizes and indices stay below 2^53). */
function word(n: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64BE(BigInt(n), 24);
  return b;
}

/** Cases packed as the harness's `*Packed` functions read them: head words, proof length, proof. */
function pack(head: Array<Buffer | Uint8Array>, proof: readonly Uint8Array[]): Buffer[] {
  return [...head, word(proof.length), ...proof].map((part) =>
    Buffer.from(part.buffer, part.byteOffset, part.byteLength)
  );
}

async function solVerifyInclusion(harness: RFC9162Harness, cases: InclusionCase[]): Promise<boolean[]> {
  const results: boolean[] = [];
  for (const batch of callBatches(cases)) {
    const packed = batch.flatMap((c) => pack([word(c.index), word(c.size), c.leafHash, c.root], c.proof));
    results.push(...(await harness.verifyInclusionPacked(batch.length, Buffer.concat(packed))));
  }
  return results;
}

async function solVerifyConsistency(harness: RFC9162Harness, cases: ConsistencyCase[]): Promise<boolean[]> {
  const results: boolean[] = [];
  for (const batch of callBatches(cases)) {
    const packed = batch.flatMap((c) => pack([word(c.oldSize), word(c.newSize), c.oldRoot, c.newRoot], c.proof));
    results.push(...(await harness.verifyConsistencyPacked(batch.length, Buffer.concat(packed))));
  }
  return results;
}

/**
 * Asserts that both implementations answer every case the same, and as expected where an
 * expectation is set. Collects all disagreements into one failure message.
 */
function expectSameAnswers<C extends { label: string; expected?: boolean }>(
  cases: C[],
  ts: (c: C) => boolean,
  sol: boolean[],
  describeCase: (c: C) => string
): void {
  expect(sol).to.have.length(cases.length);
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const tsAnswer = ts(c);
    if (c.expected !== undefined && tsAnswer !== c.expected) {
      failures.push(`${describeCase(c)} ${c.label}: server/merkle says ${tsAnswer}, want ${c.expected}`);
    }
    if (sol[i] !== tsAnswer) {
      failures.push(`${describeCase(c)} ${c.label}: Solidity says ${sol[i]}, server/merkle says ${tsAnswer}`);
    }
  });
  expect(failures, failures.slice(0, 20).join("\n")).to.deep.equal([]);
}

const describeInclusion = (c: InclusionCase) => `inclusion(index ${c.index}, size ${c.size})`;
const describeConsistency = (c: ConsistencyCase) => `consistency(${c.oldSize} -> ${c.newSize})`;

/** A deterministic integer draw in [0, below), so that the large-tree samples reproduce. */
function prng(seed: number): (below: number) => number {
  const random = seededRandom(seed);
  return (below) => Math.floor(random() * below);
}

describe("RFC9162 (Solidity) against server/merkle (TypeScript)", function () {
  async function deployHarnessFixture() {
    const harness = await ethers.deployContract("RFC9162Harness");
    return { harness };
  }

  describe("hashChildren", function () {
    it("is SHA-256(0x01 ‖ left ‖ right), as in server/merkle", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          async (left, right) => {
            expect(await harness.hashChildren(hex(left), hex(right))).to.equal(hex(merkle.hashChildren(left, right)));
          }
        ),
        { numRuns: 25, seed: 9162 }
      );
    });
  });

  describe("every proof of every tree of 1..64 leaves", function () {
    const MAX_SIZE = 64;
    const treeA = leaves(MAX_SIZE, "a");
    const treeB = leaves(MAX_SIZE, "b");
    // Every mutation of every proof for these sizes (around powers of two, where the shape
    // changes); for the other sizes every proof and one mutation each, taken in turn from the
    // list so that all kinds recur. Each SHA-256 precompile call costs Hardhat's EVM about
    // 50 µs, and checking every mutation of every proof would take minutes.
    const EVERY_MUTATION = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64]);

    /** The valid case and either all its mutations or the `turn`-th one. */
    function select<C>(cases: C[], size: number, turn: number): C[] {
      return EVERY_MUTATION.has(size) ? cases : [cases[0], cases[1 + (turn % (cases.length - 1))]];
    }

    it("inclusion: every proof verifies, mutations get the same answer", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      const cases: InclusionCase[] = [];
      for (let size = 1; size <= MAX_SIZE; size++) {
        const tree = treeA.slice(0, size);
        const root = merkle.rootHash(tree);
        tree.forEach((leaf, index) => {
          const proof = merkle.inclusionProof(index, tree);
          const base = { index, size, leafHash: merkle.hashLeaf(leaf), proof, root };
          cases.push(...select(inclusionMutations(base), size, cases.length));
        });
      }
      expectSameAnswers(cases, tsVerifyInclusion, await solVerifyInclusion(harness, cases), describeInclusion);
    });

    it("consistency: every proof between sizes 1 <= m <= n verifies, mutations get the same answer", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      const cases: ConsistencyCase[] = [];
      for (let newSize = 1; newSize <= MAX_SIZE; newSize++) {
        const tree = treeA.slice(0, newSize);
        const newRoot = merkle.rootHash(tree);
        for (let oldSize = 1; oldSize <= newSize; oldSize++) {
          const base = {
            oldSize,
            newSize,
            oldRoot: merkle.rootHash(treeA.slice(0, oldSize)),
            newRoot,
            proof: merkle.consistencyProof(oldSize, tree),
          };
          const otherOldRoot = merkle.rootHash(treeB.slice(0, oldSize));
          cases.push(...select(consistencyMutations(base, otherOldRoot), newSize, cases.length));
        }
      }
      expectSameAnswers(cases, tsVerifyConsistency, await solVerifyConsistency(harness, cases), describeConsistency);
    });

    it("computes the same roots from inclusion and consistency proofs", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      for (const [index, size] of [
        [0, 1],
        [5, 13],
        [12, 13],
        [31, 32],
        [32, 33],
        [63, 64],
        [40, 64],
      ]) {
        const tree = treeA.slice(0, size);
        const leafHash = merkle.hashLeaf(tree[index]);
        const proof = merkle.inclusionProof(index, tree);
        const [wellFormed, root] = await harness.rootFromInclusionProof(index, size, hex(leafHash), hexProof(proof));
        expect(wellFormed).to.equal(true);
        expect(root).to.equal(hex(merkle.rootFromInclusionProof(index, size, leafHash, proof)));
      }
      for (const [oldSize, newSize] of [
        [1, 2],
        [3, 7],
        [4, 9],
        [6, 8],
        [13, 64],
        [32, 33],
        [63, 64],
      ]) {
        const tree = treeA.slice(0, newSize);
        const oldRoot = merkle.rootHash(tree.slice(0, oldSize));
        const proof = merkle.consistencyProof(oldSize, tree);
        const [wellFormed, first, second] = await harness.rootsFromConsistencyProof(
          oldSize,
          newSize,
          hex(oldRoot),
          hexProof(proof)
        );
        expect([wellFormed, first, second]).to.deep.equal([true, hex(oldRoot), hex(merkle.rootHash(tree))]);
      }
    });
  });

  describe("outside RFC 9162's 0 < oldSize < newSize", function () {
    const tree = leaves(5);
    const root5 = merkle.rootHash(tree);
    const empty = merkle.EMPTY_ROOT;

    it("oldSize == newSize: consistent only with an empty proof and equal roots", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      const cases: ConsistencyCase[] = [
        { label: "equal-roots", oldSize: 5, newSize: 5, oldRoot: root5, newRoot: root5, proof: [], expected: true },
        {
          label: "proof-given",
          oldSize: 5,
          newSize: 5,
          oldRoot: root5,
          newRoot: root5,
          proof: [root5],
          expected: false,
        },
        {
          label: "different-roots",
          oldSize: 5,
          newSize: 5,
          oldRoot: root5,
          newRoot: flipBit(root5, 3),
          proof: [],
          expected: false,
        },
        { label: "both-empty", oldSize: 0, newSize: 0, oldRoot: empty, newRoot: empty, proof: [], expected: true },
        {
          label: "both-empty-wrong-root",
          oldSize: 0,
          newSize: 0,
          oldRoot: root5,
          newRoot: root5,
          proof: [],
          expected: false,
        },
      ];
      expectSameAnswers(cases, tsVerifyConsistency, await solVerifyConsistency(harness, cases), describeConsistency);
    });

    it('oldSize == 0: every tree extends the empty tree (empty proof, old root SHA-256(""))', async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      expect(await harness.verifyConsistency(0, 5, hex(empty), hex(root5), [])).to.equal(true);
      expect(await harness.verifyConsistency(0, 5, hex(root5), hex(root5), [])).to.equal(false);
      expect(await harness.verifyConsistency(0, 5, hex(empty), hex(root5), [hex(root5)])).to.equal(false);
      // server/merkle's consistencyProof(0, leaves) is [], which its verifier is documented to accept.
      expect(merkle.consistencyProof(0, tree)).to.deep.equal([]);
      expect(merkle.verifyConsistency(0, 5, empty, root5, [])).to.equal(true);
    });

    it("never reverts on arbitrary sizes, indices and proofs (up to 2^256 - 1)", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      const uint256 = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });
      const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex);
      const proof = fc.array(hash, { maxLength: 40 });
      await fc.assert(
        fc.asyncProperty(uint256, uint256, uint256, hash, hash, proof, async (a, b, c, h1, h2, p) => {
          await harness.verifyInclusion(a, b, h1, p, h2);
          await harness.rootFromInclusionProof(a, b, h1, p);
          await harness.verifyConsistency(a, b, h1, h2, p);
          await harness.verifyConsistency(a < b ? a : b, a < b ? b : a, h1, h2, p);
          await harness.rootsFromConsistencyProof(c % 2n ** 64n, b, h1, p);
        }),
        { numRuns: 60, seed: 9162 }
      );
      // The largest sizes: a full-depth path of 256 nodes is consumed without overflow.
      const max = 2n ** 256n - 1n;
      const path = Array.from({ length: 256 }, (_, i) => hex(merkle.hashLeaf(leafBytes(i))));
      expect(await harness.verifyInclusion(max - 1n, max, path[0], path, path[1])).to.equal(false);
      expect(await harness.verifyConsistency(max - 1n, max, path[0], path[1], path)).to.equal(false);
    });
  });

  describe("a tree of about 1,000,000 leaves", function () {
    // Sizes around 1M, around 2^20 (where the tree shape changes) and up to 1.1M.
    const SIZES = [1_000_000, 1_000_001, 1_048_575, 1_048_576, 1_048_577, 1_100_000];

    before(function () {
      this.timeout(120_000); // about 5 s on an idle machine; the suite shares machines
      largeTree();
    });

    it("the subtree table gives server/merkle's own roots and proofs", function () {
      this.timeout(60_000);
      // A sample of proofs of a 1,000-leaf table against the module's direct functions …
      const small = leaves(1_000, "table").map(merkle.hashLeaf);
      const table = SubtreeTable.fromLeafHashes(small);
      for (const size of [1, 2, 3, 255, 256, 257, 511, 512, 513, 700, 999, 1_000]) {
        const tree = small.slice(0, size);
        expect(hex(table.root(size))).to.equal(hex(merkle.rootFromLeafHashes(tree)));
        for (let i = 0; i < size; i += 1 + (size >> 5)) {
          expect(hexProof(table.inclusionProof(i, size))).to.deep.equal(
            hexProof(merkle.inclusionProofFromLeafHashes(i, tree))
          );
          expect(hexProof(table.consistencyProof(i + 1, size))).to.deep.equal(
            hexProof(merkle.consistencyProofFromLeafHashes(i + 1, tree))
          );
        }
      }
      // … and the 1M-leaf root.
      const { table: large } = largeTree();
      expect(hex(large.root(1_000_000))).to.equal(hex(merkle.rootFromLeafHashes(large.leafHashViews(1_000_000))));
    });

    it("inclusion: a sample of leaves at each size verifies, mutations get the same answer", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      const { table } = largeTree();
      const random = prng(1);
      const cases: InclusionCase[] = [];
      for (const size of SIZES) {
        const root = table.root(size);
        const indices = [0, 1, size - 2, size - 1, 524_287, 524_288, ...Array.from({ length: 10 }, () => random(size))];
        for (const index of indices) {
          const base = { index, size, leafHash: table.leafHash(index), proof: table.inclusionProof(index, size), root };
          cases.push(...inclusionMutations(base, false));
        }
      }
      expectSameAnswers(cases, tsVerifyInclusion, await solVerifyInclusion(harness, cases), describeInclusion);
    });

    it("consistency: proofs between large sizes verify, mutations get the same answer", async function () {
      const { harness } = await loadFixture(deployHarnessFixture);
      const { table } = largeTree();
      const random = prng(2);
      const pairs: Array<[number, number]> = [
        [1_000_000, 1_000_001],
        [1_000_000, 1_100_000],
        [999_999, 1_000_000],
        [1, 1_000_000],
        [524_288, 1_000_000],
        [1_048_575, 1_048_576],
        [1_048_576, 1_048_577],
        [1_048_576, 1_100_000],
        [1_000_000, 1_000_000],
      ];
      for (let i = 0; i < 12; i++) {
        const a = 1 + random(1_100_000);
        const b = 1 + random(1_100_000);
        pairs.push([Math.min(a, b), Math.max(a, b)]);
      }
      const other = prng(3);
      const cases = pairs.flatMap(([oldSize, newSize]) =>
        consistencyMutations(
          {
            oldSize,
            newSize,
            oldRoot: table.root(oldSize),
            newRoot: table.root(newSize),
            proof: table.consistencyProof(oldSize, newSize),
          },
          // A root the old tree does not have (one bit flipped).
          flipBit(table.root(oldSize), other(256)),
          false
        )
      );
      expectSameAnswers(cases, tsVerifyConsistency, await solVerifyConsistency(harness, cases), describeConsistency);
    });
  });
});
