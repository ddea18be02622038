/**
 * A real gateway gives ingest priority over derived work: while submissions stream
 * in, indexing and folding into the tree wait (DERIVED_MAX_DEFER_MS), and once the
 * stream stops they catch up — every acknowledged event indexed, in the tree and
 * anchored. With a short deferral they also make progress during the stream.
 */
import { expect } from "chai";
import { makeEvents, startTestGateway, stopAndRemove, type TestGateway } from "../support/gateway-harness";

const BURST_MS = 2_000;
const CLIENTS = 4;

/** Submits batches of 50 events from CLIENTS clients back to back for BURST_MS; samples indexer and tree meanwhile. */
async function burst(g: TestGateway, tag: string): Promise<{ acknowledged: number; indexedDuring: number[]; foldedDuring: number[] }> {
  const { indexer, tree } = g.gateway;
  const indexedDuring: number[] = [];
  const foldedDuring: number[] = [];
  const sampler = setInterval(() => {
    indexedDuring.push(indexer.size);
    foldedDuring.push(tree.size);
  }, 50);
  const deadline = Date.now() + BURST_MS;
  let acknowledged = 0;
  let batch = 0;
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < deadline) {
          const n = batch++;
          const answer = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(50, (i) => ({ requestId: `${tag}-${n}-${i}` })) } });
          expect(answer.status, JSON.stringify(answer.body)).to.equal(201);
          acknowledged += 50;
        }
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  return { acknowledged, indexedDuring, foldedDuring };
}

async function settled(g: TestGateway, timeoutMs = 60_000): Promise<void> {
  const { log, indexer, tree, anchorer } = g.gateway;
  const deadline = Date.now() + timeoutMs;
  while (indexer.size < log.size || tree.size < log.size || anchorer.status().anchoredSize < log.size) {
    if (Date.now() > deadline) throw new Error(`not settled within ${timeoutMs} ms: ${JSON.stringify({ log: log.size, indexed: indexer.size, tree: tree.size, anchored: anchorer.status().anchoredSize })}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("gateway: ingest before derived work", function () {
  this.timeout(120_000);
  let g: TestGateway | undefined;

  afterEach(async () => {
    await stopAndRemove(g);
    g = undefined;
  });

  it("indexing and folding wait while submissions stream in, then catch up and anchor everything", async function () {
    // Busy from a quarter of a core: the stream below keeps one thread busy, even on a slow, shared machine.
    g = await startTestGateway({ env: { DERIVED_MAX_DEFER_MS: "60000", DERIVED_BUSY_CORES: "0.25" } });
    expect(g.gateway.config.derivedBusyCores).to.equal(0.25);
    const before = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(10, (i) => ({ requestId: `warm-${i}` })) } });
    expect(before.status).to.equal(201);
    await settled(g);
    const start = g.gateway.log.size;

    const { acknowledged, indexedDuring, foldedDuring } = await burst(g, "burst");
    expect(acknowledged).to.be.greaterThan(0);
    expect(g.gateway.log.size).to.equal(start + acknowledged);
    // Nothing was indexed or folded while the stream lasted.
    expect(Math.max(...indexedDuring)).to.equal(start);
    expect(Math.max(...foldedDuring)).to.equal(start);

    await settled(g);
    expect(g.gateway.indexer.size).to.equal(start + acknowledged);
  });

  it("with a short DERIVED_MAX_DEFER_MS, indexing and folding progress during the stream", async function () {
    g = await startTestGateway({ env: { DERIVED_MAX_DEFER_MS: "200" } });
    const start = g.gateway.log.size;
    const { acknowledged, indexedDuring, foldedDuring } = await burst(g, "short");
    expect(acknowledged).to.be.greaterThan(0);
    expect(Math.max(...indexedDuring)).to.be.greaterThan(start);
    expect(Math.max(...foldedDuring)).to.be.greaterThan(start);
    await settled(g);
    expect(g.gateway.tree.size).to.equal(start + acknowledged);
  });
});
