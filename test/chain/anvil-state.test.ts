/**
 * The embedded chain's state file: a mined transaction counts as safe only once a
 * complete file holds it (checked against a real Anvil), and a file torn by a kill
 * mid-write is replaced by the kept copy before Anvil starts.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { startAnvil } from "../../server/chain/anvil";
import { AnvilStateError, AnvilStateWitness, confirmedCopyOf, restoreTornState } from "../../server/chain/anvil-state";
import { ANVIL_ADMIN_KEY } from "../support/chain-harness";
import { makeTempDir, removeDir, waitFor } from "../support/gateway-harness";

describe("chain: Anvil's state file", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir("ledger-anvil-state-");
  });
  afterEach(() => removeDir(dir));

  it("holds a mined transaction only after Anvil has written it, and then keeps a whole copy", async () => {
    const stateFile = path.join(dir, "anvil-state.json");
    const anvil = await startAnvil({ stateFile });
    const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true });
    try {
      const witness = new AnvilStateWitness(stateFile);
      const tx = await new Wallet(ANVIL_ADMIN_KEY, provider).sendTransaction({ to: Wallet.createRandom().address, value: 1n });
      const receipt = (await tx.wait())!;
      const before = await witness.holds(tx.hash, receipt.blockHash);
      const after = await waitFor("the state file to hold the transaction", async () => ((await witness.holds(tx.hash, receipt.blockHash)) ? true : undefined), 5_000, 50);
      expect(after).to.equal(true);
      expect(await witness.holds(tx.hash, "0x" + "11".repeat(32)), "the same transaction in another block").to.equal(false);
      const copy = JSON.parse(readFileSync(confirmedCopyOf(stateFile), "utf8"));
      expect(copy.transactions.map((t: { info: { transaction_hash: string } }) => t.info.transaction_hash)).to.include(tx.hash);
      console.log(`      held right after mining: ${before}; held within a state interval: ${after}`);
    } finally {
      provider.destroy();
      await anvil.stop();
    }
  });

  it("replaces a torn state file by the kept copy, and refuses to guess without one", () => {
    const stateFile = path.join(dir, "anvil-state.json");
    const whole = JSON.stringify({ best_block_number: "0x2", transactions: [] });
    writeFileSync(stateFile, whole);
    expect(restoreTornState(stateFile), "a whole file is left alone").to.equal(undefined);
    writeFileSync(stateFile, whole.slice(0, 10));
    expect(() => restoreTornState(stateFile)).to.throw(AnvilStateError);
    writeFileSync(confirmedCopyOf(stateFile), whole);
    expect(restoreTornState(stateFile)).to.match(/restored/);
    expect(readFileSync(stateFile, "utf8")).to.equal(whole);
    expect(readFileSync(`${stateFile}.torn`, "utf8")).to.equal(whole.slice(0, 10));
  });
});
