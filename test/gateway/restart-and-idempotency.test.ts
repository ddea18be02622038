/**
 * A real gateway stopped and started again on the same data directory keeps every
 * event, index, envelope, tree root, checkpoint, key, contract and chain state, and
 * goes on at the next index; submissions are idempotent on (submitter, requestId).
 */
import { expect } from "chai";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Contract, JsonRpcProvider } from "ethers";
import { openStores } from "../../server/store/database";
import {
  anvilPidsFor,
  makeEvent,
  makeEvents,
  makeTempDir,
  removeDir,
  rpcAnswers,
  runCli,
  startTestGateway,
  stopAndRemove,
  trustArgs,
  waitForReceipt,
  type TestGateway,
} from "../support/gateway-harness";

const hex = (bytes: Uint8Array) => "0x" + Buffer.from(bytes).toString("hex");

describe("gateway: stop and restart on the same data directory", function () {
  this.timeout(120_000);

  let dataDir: string;
  let g: TestGateway | undefined;
  const before1 = {
    url: "",
    rpcUrl: "",
    logId: "",
    contract: "",
    chainId: 0,
    keysJson: "",
    noteKey: "",
    size: 0,
    envelopes: [] as unknown[],
    roots: [] as string[],
    checkpoints: [] as unknown[],
    receipt: undefined as any,
    submitted: [] as ReturnType<typeof makeEvent>[],
    lastBeforeStop: undefined as ReturnType<typeof makeEvent> | undefined,
  };

  before(async () => {
    dataDir = makeTempDir("ledger-restart-");
    g = await startTestGateway({ dataDir });
    expect(anvilPidsFor(g.gateway.config.dataDir)).to.have.length(1);
    const one = makeEvent();
    const single = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: one });
    expect(single.status).to.equal(201);
    const nine = makeEvents(9, (i) => ({ subject: `person-${i}` }));
    const batch = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: nine } });
    expect(batch.status).to.equal(201);
    before1.submitted = [one, ...nine];
    before1.receipt = await waitForReceipt(g.url, g.keys.auditor.key, 9);
    // One more, right before stopping: it may or may not be anchored (or in flight) when the gateway stops.
    before1.lastBeforeStop = makeEvent();
    const last = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: before1.lastBeforeStop });
    expect(last.body).to.deep.equal({ index: 10, created: true });

    before1.url = g.url;
    before1.rpcUrl = g.gateway.chain.rpcUrl;
    before1.logId = g.gateway.logId;
    before1.contract = g.gateway.chain.contract;
    before1.chainId = g.gateway.chain.chainId;
    before1.keysJson = readFileSync(path.join(dataDir, "keys.json"), "utf8");
    before1.noteKey = g.gateway.openLog.noteKey;
    before1.size = g.gateway.log.size;
    for (let i = 0; i < before1.size; i++) {
      before1.envelopes.push((await g.api("GET", `/v1/events/${i}`, { key: g.keys.auditor.key })).body);
    }
    await g.gateway.anchorer.runOnce(); // fold event 10 into the tree (anchoring it or not)
    for (let s = 1; s <= g.gateway.tree.size; s++) before1.roots.push(hex(await g.gateway.tree.root(s)));
    before1.checkpoints = (await g.api("GET", "/v1/checkpoints", { key: g.keys.auditor.key })).body.checkpoints;

    await g.stop();
    g = await startTestGateway({ dataDir });
  });

  after(async () => {
    await stopAndRemove(g);
    removeDir(dataDir);
  });

  it("stopped the first instance's Anvil and runs exactly one for this data directory", async () => {
    expect(anvilPidsFor(g!.gateway.config.dataDir)).to.have.length(1);
    if (before1.rpcUrl !== g!.gateway.chain.rpcUrl) expect(await rpcAnswers(before1.rpcUrl)).to.equal(false);
    if (before1.url !== g!.url) {
      const old = await fetch(before1.url + "/healthz").then(
        (r) => r.status,
        () => "refused",
      );
      expect(old).to.equal("refused");
    }
  });

  it("keeps the log identity, the contract, the chain and the keys", async () => {
    expect(g!.gateway.logId).to.equal(before1.logId);
    expect(g!.gateway.chain.contract).to.equal(before1.contract);
    expect(g!.gateway.chain.chainId).to.equal(before1.chainId);
    expect(readFileSync(path.join(dataDir, "keys.json"), "utf8")).to.equal(before1.keysJson);
    const status = await g!.api("GET", "/v1/status", { key: g!.keys.admin.key });
    expect(status.status).to.equal(200);
    // The embedded chain listens on a new port after a restart (CHAIN_PORT 0); the rest is the same.
    const { noteKey, origin, ...identity } = status.body.log;
    expect(identity).to.deep.equal({ chainId: before1.chainId, contract: before1.contract, logId: before1.logId, rpcUrl: g!.gateway.chain.rpcUrl });
    // The open log's key and origin survive the restart too (DATA_DIR/note-key).
    expect(origin).to.equal(`provenance-ledger/${before1.chainId}/${before1.contract}/${before1.logId}`);
    expect(noteKey).to.equal(before1.noteKey);
    const keys = await g!.api("GET", "/v1/keys", { key: g!.keys.admin.key });
    expect(keys.body.keys.map((k: { id: string }) => k.id).sort()).to.deep.equal(
      [g!.keys.admin, g!.keys.submitter, g!.keys.auditor, g!.keys.regulator, g!.keys.citizenPortal].map((k) => k.record.id).sort(),
    );
  });

  it("keeps every event at its index with the identical envelope", async () => {
    expect(g!.gateway.log.size).to.equal(before1.size);
    for (let i = 0; i < before1.size; i++) {
      const read = await g!.api("GET", `/v1/events/${i}`, { key: g!.keys.auditor.key });
      expect(read.status).to.equal(200);
      expect(read.body, `event ${i}`).to.deep.equal(before1.envelopes[i]);
    }
    const beyond = await g!.api("GET", `/v1/events/${before1.size}`, { key: g!.keys.auditor.key });
    expect(beyond.status).to.equal(404);
  });

  it("has the same tree root for every size", async () => {
    expect(g!.gateway.tree.size).to.be.at.least(before1.roots.length);
    for (let s = 1; s <= before1.roots.length; s++) {
      expect(hex(await g!.gateway.tree.root(s)), `root of size ${s}`).to.equal(before1.roots[s - 1]);
    }
  });

  it("keeps its checkpoints, which still verify on the same chain", async () => {
    const list = (await g!.api("GET", "/v1/checkpoints", { key: g!.keys.auditor.key })).body.checkpoints as { treeSize: number; rootHash: string }[];
    // Newest first: the old list is the tail of the new one (event 10 may have been anchored since).
    expect(list.slice(list.length - before1.checkpoints.length)).to.deep.equal(before1.checkpoints);
    const provider = new JsonRpcProvider(g!.gateway.chain.rpcUrl, g!.gateway.chain.chainId, { staticNetwork: true });
    try {
      const ledger = new Contract(g!.gateway.chain.contract, ["function rootAt(bytes32, uint256) view returns (bytes32)"], provider);
      for (const cp of before1.checkpoints as { treeSize: number; rootHash: string }[]) {
        expect(((await ledger.rootAt(before1.logId, cp.treeSize)) as string).toLowerCase()).to.equal(cp.rootHash);
      }
    } finally {
      provider.destroy();
    }
  });

  it("verifies a receipt issued before the restart, through the API and the CLI against the restarted chain", async () => {
    const verified = await g!.api("POST", "/v1/verify", { key: g!.keys.auditor.key, json: before1.receipt });
    expect(verified.body).to.include({ valid: true, index: 9 });
    const again = await g!.api("GET", "/v1/receipts/9", { key: g!.keys.auditor.key });
    expect(again.body).to.deep.equal(before1.receipt);
    const file = path.join(dataDir, "old-receipt.json");
    writeFileSync(file, JSON.stringify(before1.receipt));
    const cli = await runCli(["verify", file, "--rpc", g!.gateway.chain.rpcUrl, ...trustArgs(g!.gateway)]);
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.match(/^valid: event 9 /);
  });

  it("anchors the event stored just before the stop, and continues at the next index with new checkpoints", async () => {
    const r10 = await waitForReceipt(g!.url, g!.keys.auditor.key, 10);
    expect((await g!.api("POST", "/v1/verify", { key: g!.keys.auditor.key, json: r10 })).body).to.include({ valid: true });

    const next = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { events: makeEvents(3) } });
    expect(next.status).to.equal(201);
    expect(next.body.events).to.deep.equal([11, 12, 13].map((index) => ({ index, created: true })));
    const r13 = await waitForReceipt(g!.url, g!.keys.auditor.key, 13);
    expect(r13.checkpoint.treeSize).to.equal(14);
    // The contract accepted it only with a consistency proof from the pre-restart checkpoint.
    expect((await g!.api("POST", "/v1/verify", { key: g!.keys.auditor.key, json: r13 })).body).to.include({ valid: true });
    const latest = await g!.api("GET", "/v1/checkpoints/latest", { key: g!.keys.auditor.key });
    expect(latest.body.treeSize).to.equal(14);
  });

  it("still recognises requests made before the restart as repeats", async () => {
    const repeatOne = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: before1.submitted[0] });
    expect(repeatOne.status).to.equal(200);
    expect(repeatOne.body).to.deep.equal({ index: 0, created: false });
    const repeatBatch = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { events: before1.submitted.slice(1) } });
    expect(repeatBatch.status).to.equal(200);
    expect(repeatBatch.body.events).to.deep.equal(before1.submitted.slice(1).map((_, i) => ({ index: i + 1, created: false })));
    const conflict = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { ...before1.lastBeforeStop, purpose: "changed" } });
    expect(conflict.status).to.equal(409);
    expect(g!.gateway.log.size).to.equal(14);
  });
});

describe("gateway: a data directory of the earlier layout, its records in db/", function () {
  this.timeout(120_000);

  let g: TestGateway | undefined;
  const submitted = makeEvents(12, (i) => ({ subject: `earlier-${i}` }));
  const envelopes: unknown[] = [];
  let receipt: any;
  const progress: string[] = [];

  before(async () => {
    const dataDir = makeTempDir("ledger-earlier-layout-");
    g = await startTestGateway({ dataDir });
    expect((await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: submitted } })).status).to.equal(201);
    receipt = await waitForReceipt(g.url, g.keys.auditor.key, 11);
    for (let i = 0; i < submitted.length; i++) envelopes.push((await g.api("GET", `/v1/events/${i}`, { key: g.keys.auditor.key })).body);
    await g.stop();

    // Rewrite it as gateways before the records' own database left it: the records in db/'s
    // `log` sublevel, as UTF-8 strings, no records/ database, no `idem-size`.
    const stores = await openStores(dataDir);
    const legacy = stores.db.sublevel<string, string>("log", { valueEncoding: "utf8" });
    for await (const [key, value] of stores.records.iterator()) await legacy.put(key, Buffer.from(value).toString("utf8"));
    await stores.db.sublevel("idem-size").clear();
    await stores.close();
    rmSync(path.join(dataDir, "records"), { recursive: true });

    g = await startTestGateway({ dataDir, onProgress: (message) => progress.push(message) });
  });
  after(() => stopAndRemove(g));

  it("moves the records on start and says so", async () => {
    expect(progress).to.include("moved 12 records to their own database");
    expect(g!.gateway.log.size).to.equal(12);
    expect(await g!.gateway.stores.db.sublevel("log").keys().all()).to.deep.equal([]);
  });

  it("serves every event as before and verifies a receipt issued before the move", async () => {
    for (let i = 0; i < submitted.length; i++) expect((await g!.api("GET", `/v1/events/${i}`, { key: g!.keys.auditor.key })).body, `event ${i}`).to.deep.equal(envelopes[i]);
    const verified = await g!.api("POST", "/v1/verify", { key: g!.keys.auditor.key, json: receipt });
    expect(verified.body.valid, JSON.stringify(verified.body)).to.equal(true);
  });

  it("recognises the earlier requests as repeats and goes on at the next index", async () => {
    const repeat = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: submitted[4] });
    expect(repeat.body).to.deep.equal({ index: 4, created: false });
    const conflict = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: { ...submitted[5], purpose: "changed" } });
    expect(conflict.status).to.equal(409);
    const next = await g!.api("POST", "/v1/events", { key: g!.keys.submitter.key, json: makeEvent() });
    expect(next.body).to.deep.equal({ index: 12, created: true });
    expect((await waitForReceipt(g!.url, g!.keys.auditor.key, 12)).checkpoint.treeSize).to.be.at.least(13);
  });
});

describe("gateway: idempotency on (submitter, requestId)", function () {
  this.timeout(60_000);

  let g: TestGateway;
  let otherSubmitter: string;

  before(async () => {
    g = await startTestGateway();
    const created = await g.api("POST", "/v1/keys", {
      key: g.keys.admin.key,
      json: { name: "second department system", role: "submitter", jurisdiction: "330102000000" },
    });
    expect(created.status, created.text).to.equal(201);
    otherSubmitter = created.body.key;
  });

  after(async () => {
    await stopAndRemove(g);
  });

  const post = (json: unknown, key = g.keys.submitter.key) => g.api("POST", "/v1/events", { key, json });

  it("answers a repeat with the same index, created: false and 200, storing nothing", async () => {
    const event = makeEvent();
    const first = await post(event);
    expect(first.status).to.equal(201);
    expect(first.body.created).to.equal(true);
    const size = g.gateway.log.size;
    const repeat = await post(event);
    expect(repeat.status).to.equal(200);
    expect(repeat.body).to.deep.equal({ index: first.body.index, created: false });
    // Key order is not part of the identity: the same event with its fields reordered is a repeat.
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    const repeat2 = await post(reordered);
    expect(repeat2.status).to.equal(200);
    expect(repeat2.body).to.deep.equal({ index: first.body.index, created: false });
    expect(g.gateway.log.size).to.equal(size);
  });

  it("answers a repeated batch with the original indices; a partly new batch stores only the new", async () => {
    const events = makeEvents(3);
    const first = await post({ events });
    expect(first.status).to.equal(201);
    const indices = first.body.events.map((e: { index: number }) => e.index);
    const size = g.gateway.log.size;
    const repeat = await post({ events });
    expect(repeat.status).to.equal(200);
    expect(repeat.body.events).to.deep.equal(indices.map((index: number) => ({ index, created: false })));
    expect(g.gateway.log.size).to.equal(size);

    const fresh = makeEvent();
    const mixed = await post({ events: [events[1], fresh] });
    expect(mixed.status).to.equal(201);
    expect(mixed.body.events).to.deep.equal([
      { index: indices[1], created: false },
      { index: size, created: true },
    ]);
    expect(g.gateway.log.size).to.equal(size + 1);
  });

  it("refuses the same requestId with a different body (409 CONFLICT) and stores nothing", async () => {
    const event = makeEvent();
    const first = await post(event);
    expect(first.status).to.equal(201);
    const size = g.gateway.log.size;
    const before = (await g.api("GET", `/v1/events/${first.body.index}`, { key: g.keys.auditor.key })).body;

    for (const changed of [
      { ...event, purpose: "another purpose" },
      { ...event, subject: "another-person" },
      { ...event, fields: ["name"] },
      { ...event, actor: { ...event.actor, operator: "op-other" } },
    ]) {
      const conflict = await post(changed);
      expect(conflict.status, conflict.text).to.equal(409);
      expect(conflict.body.error.code).to.equal("CONFLICT");
      expect(conflict.body.error.details).to.deep.equal({ requestId: event.requestId, index: first.body.index });
    }
    // In a batch beside a new event: the whole batch is refused.
    const fresh = makeEvent();
    const batch = await post({ events: [fresh, { ...event, purpose: "x" }] });
    expect(batch.status).to.equal(409);
    expect(g.gateway.log.size).to.equal(size);
    const after = (await g.api("GET", `/v1/events/${first.body.index}`, { key: g.keys.auditor.key })).body;
    expect(after).to.deep.equal(before);
    // The refused batch's new event was not stored: sending it now creates it.
    const later = await post(fresh);
    expect(later.status).to.equal(201);
    expect(later.body).to.deep.equal({ index: size, created: true });
  });

  it("lets two different submitters use the same requestId", async () => {
    const requestId = `shared-${Date.now()}`;
    const mine = makeEvent({ requestId });
    const theirs = makeEvent({ requestId, purpose: "a different purpose" });
    const a = await post(mine);
    const b = await post(theirs, otherSubmitter);
    expect(a.status).to.equal(201);
    expect(b.status).to.equal(201);
    expect(b.body.index).to.not.equal(a.body.index);
    // Each one's repeat finds its own.
    expect((await post(mine)).body).to.deep.equal({ index: a.body.index, created: false });
    expect((await post(theirs, otherSubmitter)).body).to.deep.equal({ index: b.body.index, created: false });
    // And the first submitter's different body still conflicts with its own, not the other's.
    expect((await post(theirs)).status).to.equal(409);
    const readB = await g.api("GET", `/v1/events/${b.body.index}`, { key: g.keys.auditor.key });
    expect(readB.body.envelope.event.requestId).to.equal(requestId);
    expect(readB.body.envelope.submitter).to.not.equal(g.keys.submitter.record.id);
  });

  it("refuses a batch with one requestId for two different bodies (400, naming both) and stores none of it", async () => {
    const size = g.gateway.log.size;
    const first = makeEvent();
    const dup = makeEvent({ requestId: "dup-in-batch" });
    const dupChanged = { ...dup, purpose: "changed within the batch" };
    const response = await post({ events: [first, dup, makeEvent(), dupChanged] });
    // Issue 16: this was 409 CONFLICT naming an index nothing had been stored at.
    expect(response.status, response.text).to.equal(400);
    expect(response.body.error.details.map((d: { path: string }) => d.path)).to.deep.equal(["events[1].requestId", "events[3].requestId"]);
    expect(g.gateway.log.size).to.equal(size);
    // None of the batch's requestIds was claimed.
    const retry = await post({ events: [first, dupChanged] });
    expect(retry.status).to.equal(201);
    expect(retry.body.events).to.deep.equal([
      { index: size, created: true },
      { index: size + 1, created: true },
    ]);
  });

  it("stores a requestId repeated with the same body within one batch once", async () => {
    const size = g.gateway.log.size;
    const event = makeEvent();
    const response = await post({ events: [event, makeEvent(), event] });
    expect(response.status).to.equal(201);
    expect(response.body.events).to.deep.equal([
      { index: size, created: true },
      { index: size + 1, created: true },
      { index: size, created: false },
    ]);
    expect(g.gateway.log.size).to.equal(size + 2);
  });

  it("stores concurrent identical submissions once, and lets exactly one of two concurrent conflicting ones in", async () => {
    const size = g.gateway.log.size;
    const event = makeEvent();
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(event)));
    const created = answers.filter((a) => a.body.created === true);
    expect(created).to.have.length(1);
    expect(new Set(answers.map((a) => a.body.index))).to.deep.equal(new Set([size]));
    expect(answers.map((a) => a.status).sort()).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(g.gateway.log.size).to.equal(size + 1);

    const contested = makeEvent();
    const [x, y] = await Promise.all([post(contested), post({ ...contested, purpose: "the other one" })]);
    expect([x.status, y.status].sort()).to.deep.equal([201, 409]);
    expect(g.gateway.log.size).to.equal(size + 2);
  });

  it("gives a repeated event one leaf and one receipt", async () => {
    const event = makeEvent();
    const first = await post(event);
    await post(event);
    const receipt = await waitForReceipt(g.url, g.keys.auditor.key, first.body.index);
    expect(receipt.entry.envelope.event.requestId).to.equal(event.requestId);
    // No other leaf carries this requestId from this submitter.
    let count = 0;
    for (let i = 0; i < g.gateway.log.size; i++) {
      const read = await g.gateway.log.get(i);
      if (read!.envelope.event.requestId === event.requestId && read!.envelope.submitter === g.keys.submitter.record.id) count++;
    }
    expect(count).to.equal(1);
  });
});
