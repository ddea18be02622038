/**
 * The open log over real HTTP, on a real gateway (embedded Anvil, LevelDB): the signed
 * checkpoint checked with the note key the contract holds, tiles that hash to the
 * anchored root, entry bundles for whole-log keys only, consistency proofs, tlog-proof
 * receipts, and a signer that refuses to sign an inconsistent checkpoint.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import { Contract, JsonRpcProvider } from "ethers";
import { startTestGateway, stopAndRemove, type TestGateway } from "../support/gateway-harness";
import { submitAndPublish } from "./support/publish";
import { decodeEntryBundle, openCheckpoint, parseTlogProof, parseVerifierKey, splitTile, type OpenLogError } from "../../server/openlog";
import { rootHash, rootFromLeafHashes, verifyConsistency, verifyInclusion } from "../../server/merkle";

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const fromHex = (hex: string) => new Uint8Array(Buffer.from(hex.slice(2), "hex"));

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(20_000) });
  return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) };
}

describe("open log: the C2SP endpoints of a running gateway", function () {
  this.timeout(120_000);
  let g: TestGateway;
  let firstSize: number;
  let secondSize: number;

  before(async () => {
    // A checkpoint per wave of events: only the age trigger, not the size one.
    g = await startTestGateway({ env: { CHECKPOINT_MAX_EVENTS: "100000" } });
    firstSize = await submitAndPublish(g, 300);
    secondSize = await submitAndPublish(g, 70);
  });
  after(() => stopAndRemove(g));

  it("registers the note key in the contract and shows it in /v1/status", async () => {
    const status = await g.api("GET", "/v1/status", { key: g.keys.admin.key });
    const { noteKey, origin, contract, chainId, logId } = status.body.log;
    expect(origin).to.equal(`provenance-ledger/${chainId}/${contract}/${logId}`);
    const verifier = parseVerifierKey(noteKey);
    expect(verifier.name).to.equal(origin);
    const provider = new JsonRpcProvider(g.gateway.chain.rpcUrl, undefined, { staticNetwork: true });
    try {
      const ledger = new Contract(contract, ["function logNoteKey(bytes32) view returns (bytes32)"], provider);
      expect(await ledger.logNoteKey(logId)).to.equal("0x" + Buffer.from(verifier.publicKey).toString("hex"));
    } finally {
      provider.destroy();
    }
    expect(statSync(path.join(g.dataDir, "note-key")).mode & 0o777).to.equal(0o600);
    expect(g.gateway.openLog.noteKey).to.equal(noteKey);
  });

  it("serves the latest anchored checkpoint as a signed note, without a key", async () => {
    const response = await get(`${g.url}/v1/log/checkpoint`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.equal("text/plain; charset=utf-8");
    expect(response.headers.get("cache-control")).to.equal("no-cache");
    const note = Buffer.from(response.bytes).toString("utf8");
    const checkpoint = openCheckpoint(note, parseVerifierKey(g.gateway.openLog.noteKey), g.gateway.openLog.origin);
    expect(checkpoint.treeSize).to.equal(secondSize);
    const anchored = await g.gateway.anchorer.checkpoints.latest();
    expect(anchored!.treeSize).to.equal(secondSize);
    expect("0x" + Buffer.from(checkpoint.rootHash).toString("hex")).to.equal(anchored!.rootHash);
    // The earlier one is kept and served too.
    const earlier = await get(`${g.url}/v1/log/checkpoint?size=${firstSize}`);
    expect(openCheckpoint(Buffer.from(earlier.bytes).toString(), parseVerifierKey(g.gateway.openLog.noteKey), g.gateway.openLog.origin).treeSize).to.equal(firstSize);
  });

  it("serves hash tiles that hash to the anchored root, full ones immutable, nothing beyond the checkpoint", async () => {
    // secondSize = 370: level 0 has a full tile and a partial of 114; level 1 a partial of 1.
    expect(secondSize).to.equal(370);
    const full = await get(`${g.url}/v1/log/tile/0/000`);
    expect(full.status).to.equal(200);
    expect(full.headers.get("cache-control")).to.equal("public, max-age=31536000, immutable");
    expect(full.headers.get("content-type")).to.equal("application/octet-stream");
    const partial = await get(`${g.url}/v1/log/tile/0/001.p/114`);
    expect(partial.status).to.equal(200);
    const level1 = await get(`${g.url}/v1/log/tile/1/000.p/1`);
    const leafHashes = [...splitTile(full.bytes, 256, "tile/0/000"), ...splitTile(partial.bytes, 114, "tile/0/001.p/114")];
    expect(Buffer.from(splitTile(level1.bytes, 1, "tile/1/000.p/1")[0]!)).to.deep.equal(Buffer.from(rootFromLeafHashes(leafHashes.slice(0, 256))));
    const anchored = await g.gateway.anchorer.checkpoints.latest();
    expect("0x" + Buffer.from(rootFromLeafHashes(leafHashes)).toString("hex")).to.equal(anchored!.rootHash);
    // A narrower partial tile of an earlier checkpoint (300 leaves: width 44) is its prefix.
    const older = await get(`${g.url}/v1/log/tile/0/001.p/44`);
    expect(Buffer.from(older.bytes)).to.deep.equal(Buffer.from(partial.bytes.subarray(0, 44 * 32)));
    for (const beyond of ["tile/0/001", "tile/0/001.p/115", "tile/0/002.p/1", "tile/1/000", "tile/0/x000/001", "tile/0/1"]) {
      expect((await get(`${g.url}/v1/log/${beyond}`)).status, beyond).to.equal(404);
    }
  });

  it("serves entry bundles only to keys whose scope is the whole log", async () => {
    const url = `${g.url}/v1/log/tile/entries/000`;
    expect((await get(url)).status).to.equal(401);
    for (const key of [g.keys.submitter.key, g.keys.regulator.key]) expect((await get(url, { authorization: `Bearer ${key}` })).status).to.equal(403);
    const scoped = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "scoped auditor", role: "auditor", datasets: ["cat:x"] } });
    expect((await get(url, { authorization: `Bearer ${scoped.body.key}` })).status).to.equal(403);
    const monitor = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "citizen group monitor", role: "monitor" } });
    expect(monitor.status, monitor.text).to.equal(201);
    // A monitor key reads bundles and nothing else.
    expect((await g.api("GET", "/v1/events/0", { key: monitor.body.key })).status).to.equal(403);
    expect((await g.api("GET", "/v1/status", { key: monitor.body.key })).status).to.equal(403);
    const tile = await get(`${g.url}/v1/log/tile/0/000`);
    for (const key of [monitor.body.key, g.keys.admin.key, g.keys.auditor.key]) {
      const bundle = await get(url, { authorization: `Bearer ${key}` });
      expect(bundle.status).to.equal(200);
      const entries = decodeEntryBundle(bundle.bytes);
      expect(entries).to.have.length(256);
      entries.forEach((entry, i) => expect(Buffer.from(sha(Uint8Array.of(0), entry))).to.deep.equal(Buffer.from(tile.bytes.subarray(i * 32, i * 32 + 32))));
      expect(JSON.parse(Buffer.from(entries[7]!).toString()).index).to.equal(7);
    }
    const partial = await get(`${g.url}/v1/log/tile/entries/001.p/114`, { authorization: `Bearer ${monitor.body.key}` });
    expect(decodeEntryBundle(partial.bytes)).to.have.length(114);
  });

  it("proves consistency between two anchored sizes, and refuses sizes that are not anchored", async () => {
    const response = await g.api("GET", `/v1/log/proof/consistency?from=${firstSize}&to=${secondSize}`);
    expect(response.status, response.text).to.equal(200);
    const { from, to, proof } = response.body;
    expect(verifyConsistency(firstSize, secondSize, fromHex(from.rootHash), fromHex(to.rootHash), proof.map(fromHex))).to.equal(true);
    expect((await g.api("GET", `/v1/log/proof/consistency?from=5&to=${secondSize}`)).status).to.equal(404);
    expect((await g.api("GET", `/v1/log/proof/consistency?from=${secondSize}&to=${firstSize}`)).status).to.equal(400);
  });

  it("answers a receipt as a c2sp.org/tlog-proof@v1 text that verifies against the signed checkpoint", async () => {
    const response = await g.api("GET", "/v1/receipts/41?format=tlog-proof", { key: g.keys.auditor.key });
    expect(response.status, response.text).to.equal(200);
    expect(response.headers.get("content-type")).to.equal("text/plain; charset=utf-8");
    const proof = parseTlogProof(response.text);
    expect(proof.index).to.equal(41);
    const checkpoint = openCheckpoint(proof.checkpoint, parseVerifierKey(g.gateway.openLog.noteKey), g.gateway.openLog.origin);
    const record = await g.gateway.log.get(41);
    expect(verifyInclusion(41, checkpoint.treeSize, sha(Uint8Array.of(0), record!.bytes), proof.proof, checkpoint.rootHash)).to.equal(true);
    // Scopes as for the JSON receipt.
    expect((await g.api("GET", "/v1/receipts/41?format=tlog-proof", { key: g.keys.regulator.key.replace(/.$/, "x") })).status).to.equal(401);
  });

  it("never signs a checkpoint inconsistent with what it signed, nor one the tree does not have", async () => {
    const before = g.gateway.openLog.latest();
    const wrong = "0x" + "ee".repeat(32);
    const attempts = [
      g.gateway.openLog.notes.sign(secondSize, wrong), // the same size, another root
      g.gateway.openLog.notes.sign(secondSize - 1, wrong), // an unsigned size, a root the tree does not have
      g.gateway.openLog.notes.sign(secondSize + 10_000, wrong), // beyond the tree
    ];
    for (const attempt of attempts) {
      const error = await attempt.then(() => undefined, (e: OpenLogError) => e);
      expect(error?.code).to.equal("INCONSISTENT_CHECKPOINT");
    }
    expect(g.gateway.openLog.latest()).to.deep.equal(before);
    expect(await g.gateway.openLog.notes.at(secondSize - 1)).to.equal(undefined);
    // A consistent, unanchored size is signed only when offered; the routes never offer one.
    const leaves = await g.gateway.log.readLeaves(0, secondSize);
    expect("0x" + Buffer.from(rootHash(leaves)).toString("hex")).to.equal(before!.rootHash);
  });
});
