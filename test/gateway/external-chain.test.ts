/**
 * A gateway on a chain it does not run (RPC_URL), against a real Anvil behind a
 * JSON-RPC proxy that can play dead: it starts while the chain does not answer
 * (given CHAIN_ID), accepts events, and anchors them once the chain is back, with
 * receipts that verify; without CHAIN_ID it says what to set; and a configuration
 * the chain contradicts (no contract, log not registered, another anchorer, another
 * chain id) stops it at start with the reason.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { externalChainEnv, startRpcProxy, startTestChain, type RegisteredLog, type RpcProxy, type TestChain } from "../support/chain-harness";
import { makeEvents, makeTempDir, removeDir, startTestGateway, waitFor, waitForReceipt, type TestGateway } from "../support/gateway-harness";

describe("gateway: external chain at start", function () {
  this.timeout(120_000);
  let chain: TestChain;
  let proxy: RpcProxy;
  let log: RegisteredLog;
  const dirs: string[] = [];
  const gateways: TestGateway[] = [];

  before(async () => {
    chain = await startTestChain();
    proxy = await startRpcProxy(chain.rpcUrl);
    log = await chain.registerLog("external chain test log");
  });
  after(async () => {
    await proxy?.close();
    await chain?.stop();
  });
  afterEach(async () => {
    proxy.down = false;
    for (const g of gateways.splice(0)) await g.stop().catch(() => undefined);
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  const start = async (env: Record<string, string>) => {
    const dataDir = makeTempDir("ledger-external-chain-");
    dirs.push(dataDir);
    const g = await startTestGateway({ dataDir, env });
    gateways.push(g);
    return g;
  };
  const refusal = (env: Record<string, string>) => start(env).then(
    () => undefined,
    (error: Error) => error.message,
  );
  const withoutChainId = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([name]) => name !== "CHAIN_ID"));

  it("starts while the chain does not answer (CHAIN_ID set), accepts events, and anchors them once it answers", async () => {
    proxy.down = true;
    const g = await start({ ...externalChainEnv(proxy.url, chain.contract, log), ANCHOR_MAX_BACKOFF_MS: "500" });
    const admin = g.keys.admin.key;
    const submitted = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(20) } });
    expect(submitted.status, JSON.stringify(submitted.body)).to.equal(201);
    const status = await waitFor("the anchorer reports the chain unreachable", async () => {
      const s = (await g.api("GET", "/v1/status", { key: admin })).body;
      return s.anchoring.state === "chain-unreachable" ? s : undefined;
    });
    expect(status.anchoring.anchoredSize).to.equal(0);
    expect(status.log.chainId).to.equal(31337);
    expect((await g.api("GET", "/v1/receipts/0", { key: admin })).status).to.equal(202);

    proxy.down = false;
    const receipt = await waitForReceipt(g.url, admin, 19, 30_000);
    expect(receipt.checkpoint.treeSize).to.be.at.least(20);
    const verified = await g.api("POST", "/v1/verify", { key: admin, json: receipt });
    expect(verified.body, JSON.stringify(verified.body)).to.include({ valid: true, chainId: 31337 });
  });

  it("without CHAIN_ID, a chain that does not answer stops the start with what to set", async () => {
    proxy.down = true;
    const message = await refusal(withoutChainId(externalChainEnv(proxy.url, chain.contract, log)));
    expect(message).to.match(/cannot reach the chain at RPC_URL .*set CHAIN_ID/);
  });

  it("a configuration the chain contradicts stops the start with the reason", async () => {
    const env = externalChainEnv(chain.rpcUrl, chain.contract, log);
    expect(await refusal({ ...env, CONTRACT_ADDRESS: Wallet.createRandom().address })).to.match(/no contract at CONTRACT_ADDRESS/);
    expect(await refusal({ ...env, LOG_ID: "0x" + "ab".repeat(32) })).to.match(/is not registered in the contract/);
    expect(await refusal({ ...env, ANCHOR_PRIVATE_KEY: Wallet.createRandom().privateKey })).to.match(/is not the anchorer of log/);
    expect(await refusal({ ...env, CHAIN_ID: "5" })).to.match(/RPC_URL serves chain 31337, CHAIN_ID says 5/);
    // And with the same settings it does start: the checks, not the harness, refused.
    const g = await start(withoutChainId(env));
    expect((await g.api("GET", "/v1/status", { key: g.keys.admin.key })).body.log.chainId).to.equal(31337);
  });
});
