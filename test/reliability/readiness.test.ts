/**
 * GET /readyz (issue 16, item 6): /healthz stayed 200 while the chain was
 * unreachable. Liveness is unchanged; readiness is 503 with the reasons while the
 * chain does not answer (here: Anvil paused with SIGSTOP), while indexing is over
 * half INGEST_MAX_BACKLOG behind, or while the gateway closes — and a flood of
 * probes costs the chain one call a moment.
 */
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cachedChainProbe } from "../../server/chain/chain-probe";
import { checkReadiness } from "../../server/health/readiness";
import { externalChainEnv, startTestChain, type TestChain } from "../support/chain-harness";
import { makeEvents, request, startTestGateway, stopAndRemove, waitFor, type TestGateway } from "../support/gateway-harness";

describe("reliability: readiness (GET /readyz)", function () {
  this.timeout(120_000);
  let chain: TestChain | undefined;
  let g: TestGateway | undefined;

  before(async () => {
    chain = await startTestChain();
    const log = await chain.registerLog();
    g = await startTestGateway({ env: { ...externalChainEnv(chain.rpcUrl, chain.contract, log), INGEST_MAX_BACKLOG: "20" } });
  });

  after(async () => {
    chain?.anvil.process.kill("SIGCONT");
    await stopAndRemove(g);
    await chain?.stop();
  });

  const readyz = () => request(g!.url, "GET", "/readyz", { timeoutMs: 10_000 });
  const codes = (answer: { body: any }) => (answer.body.reasons ?? []).map((r: { code: string }) => r.code);

  it("is 200 without a key, 503 CHAIN_UNREACHABLE while the chain is paused (liveness stays 200), and 200 again once it resumes", async () => {
    const ready = await readyz();
    expect(ready.status, ready.text).to.equal(200);
    expect(ready.body).to.deep.equal({ ready: true });

    chain!.anvil.process.kill("SIGSTOP");
    const paused = await waitFor("readyz 503", async () => {
      const answer = await readyz();
      return answer.status === 503 ? answer : undefined;
    }, 15_000);
    expect(paused.body.ready).to.equal(false);
    expect(codes(paused)).to.deep.equal(["CHAIN_UNREACHABLE"]);
    expect(paused.body.reasons[0].message).to.be.a("string").and.not.equal("");
    expect((await request(g!.url, "GET", "/healthz")).status, "liveness unchanged").to.equal(200);
    // A flood of probes waits for one call at most (1 s timeout), then answers from it.
    const started = Date.now();
    const flood = await Promise.all(Array.from({ length: 50 }, () => readyz()));
    expect(flood.map((a) => a.status)).to.deep.equal(flood.map(() => 503));
    expect(Date.now() - started, "50 probes while paused, in ms").to.be.below(5_000);

    chain!.anvil.process.kill("SIGCONT");
    await waitFor("readyz 200 again", async () => ((await readyz()).status === 200 ? true : undefined), 15_000);
  });

  it("is 503 INDEXING_BEHIND while more than half INGEST_MAX_BACKLOG waits to be indexed", async () => {
    await g!.gateway.indexer.stop();
    const posted = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { events: makeEvents(11) } });
    expect(posted.status, posted.text).to.equal(201);
    const behind = await readyz();
    expect(behind.status).to.equal(503);
    expect(codes(behind)).to.deep.equal(["INDEXING_BEHIND"]);
    expect(behind.body.reasons[0].message).to.match(/^11 events/);
  });

  it("reports CLOSING; the chain probe asks once per moment however many callers, and gives up on a silent node", async () => {
    let calls = 0;
    let silent = false;
    const server: Server = createServer((req, res) => {
      calls += 1;
      req.resume();
      if (silent) return; // never answers
      res.setHeader("content-type", "application/json");
      res.end('{"jsonrpc":"2.0","id":1,"result":"0x2a"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const probe = cachedChainProbe({ rpcUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 300, cacheMs: 500 });
      const answers = await Promise.all(Array.from({ length: 100 }, () => probe()));
      expect(answers.every((a) => a.reachable && a.blockNumber === 42)).to.equal(true);
      expect(await probe()).to.deep.equal({ reachable: true, blockNumber: 42 });
      expect(calls, "one call for 101 probes").to.equal(1);
      silent = true;
      await new Promise((resolve) => setTimeout(resolve, 600));
      const gaveUp = await probe();
      expect(gaveUp).to.deep.equal({ reachable: false, reason: "no answer to eth_blockNumber within 300 ms" });
      expect(calls).to.equal(2);

      const closing = await checkReadiness({ chain: probe, backlog: () => 0, maxBacklog: 20, closing: () => true });
      expect(closing).to.deep.include({ ready: false });
      expect(closing.ready === false && closing.reasons.map((r) => r.code)).to.deep.equal(["CHAIN_UNREACHABLE", "CLOSING"]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
