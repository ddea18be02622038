/**
 * The gateway and the verifiers call ProvenanceLedger through the hand-written
 * LEDGER_ABI (server/chain/ledger-abi.ts): every entry must exist, with the same
 * signature, mutability and outputs, in the compiled contract.
 */
import { expect } from "chai";
import hre from "hardhat";
import { EventFragment, FunctionFragment, Interface } from "ethers";
import { LEDGER_ABI, VERIFIER_ABI } from "../../server/chain/ledger-abi";

describe("gateway: LEDGER_ABI against the compiled ProvenanceLedger", () => {
  let compiled: Interface;
  const declared = new Interface(LEDGER_ABI as unknown as string[]);

  before(async () => {
    const artifact = await hre.artifacts.readArtifact("ProvenanceLedger");
    compiled = new Interface(artifact.abi);
  });

  it("parses every entry (no entry silently dropped)", () => {
    expect(declared.fragments).to.have.length(LEDGER_ABI.length);
  });

  for (const text of LEDGER_ABI) {
    it(text, () => {
      const fragment = declared.fragments[LEDGER_ABI.indexOf(text)]!;
      if (fragment instanceof FunctionFragment) {
        const actual = compiled.getFunction(fragment.selector);
        expect(actual, `no function ${fragment.format("sighash")} in the compiled contract`).to.not.equal(null);
        expect(actual!.format("sighash")).to.equal(fragment.format("sighash"));
        expect(actual!.stateMutability).to.equal(fragment.stateMutability);
        expect(actual!.outputs.map((o) => o.format("sighash"))).to.deep.equal(fragment.outputs.map((o) => o.format("sighash")));
        // The full minimal form (types, mutability, outputs) agrees too.
        expect(actual!.format("minimal")).to.equal(fragment.format("minimal"));
      } else if (fragment instanceof EventFragment) {
        const actual = compiled.getEvent(fragment.topicHash);
        expect(actual, `no event ${fragment.format("sighash")} in the compiled contract`).to.not.equal(null);
        expect(actual!.format("sighash")).to.equal(fragment.format("sighash"));
        expect(actual!.inputs.map((i) => i.indexed === true)).to.deep.equal(fragment.inputs.map((i) => i.indexed === true));
        expect(actual!.anonymous).to.equal(fragment.anonymous);
      } else {
        expect.fail(`unexpected ABI entry kind ${fragment.type}: ${text}`);
      }
    });
  }

  it("keeps the four signatures that DESIGN.md fixes for outside verifiers", () => {
    const fixed = [
      "function anchor(bytes32,uint256,bytes32,bytes32[])",
      "function latest(bytes32) view returns (uint256,bytes32)",
      "function rootAt(bytes32,uint256) view returns (bytes32)",
      "function verifyInclusion(bytes32,uint256,uint256,bytes32,bytes32[]) view returns (bool)",
    ];
    for (const text of fixed) {
      const wanted = FunctionFragment.from(text);
      const actual = compiled.getFunction(wanted.selector);
      expect(actual, text).to.not.equal(null);
      expect(actual!.format("minimal"), text).to.equal(wanted.format("minimal"));
      expect(declared.getFunction(wanted.selector)?.format("minimal"), text).to.equal(wanted.format("minimal"));
    }
    expect(new Interface(VERIFIER_ABI as unknown as string[]).fragments.map((f) => (f as FunctionFragment).name).sort()).to.deep.equal(["latest", "rootAt", "verifyInclusion"]);
  });
});
