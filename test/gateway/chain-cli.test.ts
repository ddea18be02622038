/**
 * `ledger chain` on a separately started Anvil, as an operator of an external chain
 * would use it: deploy the contract, register a log (warned that its anchorer holds no
 * funds), fund the anchorer, start a gateway on that chain, and see its checkpoints in
 * `ledger chain status`; then the refusals an operator meets — a second registration,
 * a sender without the log admin role, no key, an unreachable chain.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { JsonRpcProvider, Wallet, parseEther } from "ethers";
import { startAnvil, type AnvilNode } from "../../server/chain/anvil";
import { ANVIL_ADMIN_KEY, externalChainEnv } from "../support/chain-harness";
import { makeEvents, makeTempDir, removeDir, runCli, startTestGateway, waitForReceipt, type TestGateway } from "../support/gateway-harness";

describe("ledger chain: deploy and register on an external chain", function () {
  this.timeout(180_000);
  let anvil: AnvilNode;
  let gateway: TestGateway | undefined;
  const dirs: string[] = [];
  const admin = { LEDGER_CHAIN_PRIVATE_KEY: ANVIL_ADMIN_KEY };

  before(async () => {
    anvil = await startAnvil();
  });
  after(async () => {
    await gateway?.stop();
    await anvil?.stop();
    for (const dir of dirs) removeDir(dir);
  });

  const chain = (args: string[], env: Record<string, string> = admin) => runCli(["chain", ...args, "--rpc", anvil.rpcUrl], { env, timeoutMs: 60_000 });

  it("deploys, registers a log, and a gateway started on that chain anchors where status shows it", async () => {
    const deployed = await chain(["deploy"]);
    expect(deployed.code, deployed.stderr).to.equal(0);
    const contract = deployed.stdout.trim();
    expect(contract).to.match(/^0x[0-9a-f]{40}$/);
    expect(deployed.stderr).to.match(/deployed ProvenanceLedger on chain 31337: gas [\d,]+, fee/);
    const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true });
    try {
      expect(await provider.getCode(contract)).to.not.equal("0x");

      const logId = "0x" + randomBytes(32).toString("hex");
      const anchorer = Wallet.createRandom();
      const registered = await chain(["register-log", "--contract", contract, "--log-id", logId, "--anchorer", anchorer.address, "--name", "Shangcheng gateway", "--division", "330102000000"]);
      expect(registered.code, registered.stderr).to.equal(0);
      expect(registered.stdout).to.include(`registered log ${logId}`).and.match(/gas [\d,]+/);
      expect(registered.stderr).to.match(/holds no funds/);

      const before = await chain(["status", "--contract", contract, "--json"]);
      expect(before.code, before.stderr).to.equal(0);
      const listed = JSON.parse(before.stdout);
      expect(listed.logs).to.have.length(1);
      expect(listed.logs[0]).to.include({ logId, anchorer: anchorer.address.toLowerCase(), name: "Shangcheng gateway", division: "330102000000", anchorerBalance: "0" });
      expect((await chain(["status", "--contract", contract])).stdout).to.match(/unfunded, anchoring will fail/);

      // The operator funds the anchorer with an ordinary transfer.
      const funder = new Wallet(ANVIL_ADMIN_KEY, provider);
      await (await funder.sendTransaction({ to: anchorer.address, value: parseEther("1") })).wait();

      const dataDir = makeTempDir("ledger-chain-cli-");
      dirs.push(dataDir);
      gateway = await startTestGateway({ dataDir, env: externalChainEnv(anvil.rpcUrl, contract, { logId, anchorerKey: anchorer.privateKey, anchorer: anchorer.address }) });
      const posted = await gateway.api("POST", "/v1/events", { key: gateway.keys.submitter.key, json: { events: makeEvents(5) } });
      expect(posted.status, JSON.stringify(posted.body)).to.equal(201);
      const receipt = await waitForReceipt(gateway.url, gateway.keys.admin.key, 4, 30_000);
      expect(receipt.log).to.include({ id: logId, contract, chainId: 31337 });

      const after = JSON.parse((await chain(["status", "--contract", contract, "--log-id", logId, "--json"])).stdout);
      // Five events, one checkpoint: the one the receipt names.
      expect(after.logs[0].latest).to.deep.equal({ treeSize: 5, rootHash: receipt.checkpoint.rootHash });
      expect(BigInt(after.logs[0].anchorerBalance) < parseEther("1")).to.equal(true, "the anchorer paid for its anchors");

      // Refusals, each with exit 1 and the reason.
      const again = await chain(["register-log", "--contract", contract, "--log-id", logId, "--anchorer", anchorer.address, "--name", "x", "--division", "330102000000"]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.match(/ProvenanceLedgerLogExists/);
      const stranger = Wallet.createRandom();
      await (await funder.sendTransaction({ to: stranger.address, value: parseEther("1") })).wait();
      const unauthorised = await chain(["set-anchorer", "--contract", contract, "--log-id", logId, "--anchorer", stranger.address], { LEDGER_CHAIN_PRIVATE_KEY: stranger.privateKey });
      expect(unauthorised.code).to.equal(1);
      expect(unauthorised.stderr).to.match(/lacks the log admin role/);

      const next = Wallet.createRandom();
      const moved = await chain(["set-anchorer", "--contract", contract, "--log-id", logId, "--anchorer", next.address]);
      expect(moved.code, moved.stderr).to.equal(0);
      const movedStatus = JSON.parse((await chain(["status", "--contract", contract, "--log-id", logId, "--json"])).stdout);
      expect(movedStatus.logs[0].anchorer).to.equal(next.address.toLowerCase());
    } finally {
      provider.destroy();
    }
  });

  it("says what is missing: no key (exit 2), an unreachable chain (exit 2), no contract (exit 1)", async () => {
    const noKey = await chain(["deploy"], {});
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.match(/LEDGER_CHAIN_PRIVATE_KEY, --key-file FILE or --key HEX/);
    const unreachable = await runCli(["chain", "deploy", "--rpc", "http://127.0.0.1:9"], { env: admin });
    expect(unreachable.code).to.equal(2);
    expect(unreachable.stderr).to.match(/cannot reach the chain at http:\/\/127\.0\.0\.1:9/);
    const nothing = await chain(["status", "--contract", Wallet.createRandom().address]);
    expect(nothing.code).to.equal(1);
    expect(nothing.stdout).to.match(/no contract at/);
  });
});
