/**
 * Gas of ProvenanceLedger on a tree of about 1,000,000 leaves, under Hardhat's default
 * hardfork. The figures are printed, not asserted; what is asserted is the design rule that
 * the cost of one anchor does not depend on how many events it covers: anchors that add 1
 * or 100,000 leaves differ only by what their consistency proofs' lengths explain.
 */
import { loadFixture } from "@nomicfoundation/hardhat-toolbox/network-helpers";
import { expect } from "chai";
import { ethers, network } from "hardhat";
import * as merkle from "../../server/merkle";
import { hex, hexProof, largeTree } from "./support/merkle-fixtures";

const LOG_ID = ethers.id("log:330102:health-commission:data-sharing");
const BASE_SIZE = 1_000_000;

/**
 * The most one more consistency proof node may add to an anchor: 32 bytes of calldata at
 * 16 gas a byte (512), copying it to memory, and at most two SHA-256 precompile calls of
 * about 230 gas each with the loop around them.
 */
const MAX_GAS_PER_PROOF_NODE = 1_200;

/**
 * What else may differ between two anchors: zero bytes in roots and proof nodes cost 4 gas
 * instead of 16, and the RFC's right-shifts take a step more or less.
 */
const GAS_SLACK = 600;

/** EIP-7623 (Prague and later): the calldata floor a transaction pays at least. */
function calldataFloor(data: string): bigint {
  const bytes = ethers.getBytes(data);
  const zeros = bytes.filter((b) => b === 0).length;
  const tokens = zeros + 4 * (bytes.length - zeros);
  return 21_000n + 10n * BigInt(tokens);
}

describe("ProvenanceLedger gas at about 1,000,000 leaves", function () {
  before(function () {
    this.timeout(120_000);
    largeTree();
    const hardfork = "hardfork" in network.config ? network.config.hardfork : "(not the Hardhat network)";
    console.log(`      hardfork: ${hardfork}`);
  });

  async function millionLeafLogFixture() {
    const [admin, anchorer] = await ethers.getSigners();
    const ledger = await ethers.deployContract("ProvenanceLedger", [admin.address]);
    await ledger.registerLog(LOG_ID, anchorer.address, "杭州市上城区卫生健康局 数据共享日志", "330102");
    const { table } = largeTree();
    const first = await (
      await ledger.connect(anchorer).anchor(LOG_ID, BASE_SIZE, hex(table.root(BASE_SIZE)), [])
    ).wait();
    const harness = await ethers.deployContract("RFC9162Harness");
    return { ledger, anchorer, harness, firstAnchorGas: first!.gasUsed };
  }

  it("anchoring costs the same whether it adds 1 or 100,000 events, up to the proof length", async function () {
    this.timeout(120_000);
    const { table } = largeTree();
    const { firstAnchorGas } = await loadFixture(millionLeafLogFixture);
    console.log(`      first anchor (1,000,000 leaves, no proof): ${firstAnchorGas} gas`);

    const growths = [1, 7, 1_000, 48_576, 100_000];
    const measured: Array<{ growth: number; nodes: number; gas: bigint; floor: bigint }> = [];
    for (const growth of growths) {
      // Every anchor starts from the same state: the log anchored at 1,000,000 leaves.
      const { ledger, anchorer } = await loadFixture(millionLeafLogFixture);
      const size = BASE_SIZE + growth;
      const proof = table.consistencyProof(BASE_SIZE, size);
      const newRoot = table.root(size);
      expect(merkle.verifyConsistency(BASE_SIZE, size, table.root(BASE_SIZE), newRoot, proof)).to.equal(true);

      const tx = await ledger.connect(anchorer).anchor(LOG_ID, size, hex(newRoot), hexProof(proof));
      const receipt = (await tx.wait())!;
      expect(await ledger.latest(LOG_ID)).to.deep.equal([BigInt(size), hex(newRoot)]);
      measured.push({ growth, nodes: proof.length, gas: receipt.gasUsed, floor: calldataFloor(tx.data) });
    }

    for (const m of measured) {
      console.log(
        `      anchor 1,000,000 -> ${(BASE_SIZE + m.growth).toLocaleString("en")} (+${m.growth.toLocaleString(
          "en"
        )}): ` + `${m.nodes} proof nodes, ${m.gas} gas (EIP-7623 calldata floor ${m.floor})`
      );
    }
    const one = measured[0];
    const hundredThousand = measured[measured.length - 1];
    const perNode = Number(hundredThousand.gas - one.gas) / (hundredThousand.nodes - one.nodes);
    console.log(
      `      +100,000 vs +1: ${hundredThousand.gas - one.gas} gas for ${
        hundredThousand.nodes - one.nodes
      } more nodes (${perNode.toFixed(0)} gas a node)`
    );

    for (const a of measured) {
      for (const b of measured) {
        const difference = a.gas > b.gas ? a.gas - b.gas : b.gas - a.gas;
        const explained = BigInt(MAX_GAS_PER_PROOF_NODE * Math.abs(a.nodes - b.nodes) + GAS_SLACK);
        expect(difference, `+${a.growth} vs +${b.growth}`).to.be.at.most(explained);
      }
    }
  });

  it("verifyInclusion at 1,000,000 leaves", async function () {
    this.timeout(120_000);
    const { table } = largeTree();
    const { ledger, harness } = await loadFixture(millionLeafLogFixture);
    for (const index of [0, 123_456, 524_288, BASE_SIZE - 1]) {
      const proof = table.inclusionProof(index, BASE_SIZE);
      const leafHash = hex(table.leafHash(index));
      expect(await ledger.verifyInclusion(LOG_ID, BASE_SIZE, index, leafHash, hexProof(proof))).to.equal(true);
      const estimate = await ledger.verifyInclusion.estimateGas(LOG_ID, BASE_SIZE, index, leafHash, hexProof(proof));
      const [ok, libraryGas] = await harness.measureVerifyInclusion(
        index,
        BASE_SIZE,
        leafHash,
        hexProof(proof),
        hex(table.root(BASE_SIZE))
      );
      expect(ok).to.equal(true);
      console.log(
        `      verifyInclusion(leaf ${index.toLocaleString("en")} of 1,000,000): ${proof.length} proof nodes, ` +
          `estimateGas ${estimate} (as a transaction), RFC9162.verifyInclusion alone ${libraryGas}`
      );
    }
  });
});
