/**
 * `ledger monitor` against a real gateway (embedded Anvil, LevelDB, HTTP), run in-process:
 * it verifies a healthy log and keeps its place between runs; and a tile store or a record
 * tampered on disk, a note whose root is not the chain's, and a note signed by another key
 * are each caught and named (code, size, tile, expected and found hash).
 */
import { expect } from "chai";
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { makeTempDir, removeDir, startTestGateway, stopAndRemove, type TestGateway } from "../support/gateway-harness";
import { submitAndPublish } from "./support/publish";
import { runMonitor, type MonitorOptions } from "../../scripts/monitor-command";
import { openStores, indexKey } from "../../server/store/database";
import { formatCheckpoint, noteSignerFromSeed, signNote } from "../../server/openlog";
import { TreeFollower, checkEntryBundle, tilesToFetch } from "../../server/openlog/follow";
import { hashLeaf, rootFromLeafHashes } from "../../server/merkle";
import { OpenLogError } from "../../server/openlog/errors";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function monitor(options: MonitorOptions): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await runMonitor(options, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe("ledger monitor: following a gateway's log from tiles and the chain", function () {
  this.timeout(180_000);
  let g: TestGateway;
  let work: string;
  let trust: string;
  let monitorKey: string;
  let env: Record<string, string>;

  const options = (state: string, extra: Partial<MonitorOptions> = {}): MonitorOptions => ({ url: g.url, trust, rpc: g.gateway.chain.rpcUrl, state: path.join(work, state), ...extra });

  /** Stops the gateway, lets `edit` change its data directory, starts it again on the same one. */
  async function whileStopped(edit: (dataDir: string) => Promise<void>, extraEnv: Record<string, string> = {}): Promise<void> {
    const dataDir = g.dataDir;
    await g.stop();
    await edit(dataDir);
    g = await startTestGateway({ dataDir, env: { ...env, ...extraEnv } });
  }

  before(async () => {
    work = makeTempDir("monitor-");
    env = { CHECKPOINT_MAX_EVENTS: "100000" };
    g = await startTestGateway({ env });
    await submitAndPublish(g, 300);
    await submitAndPublish(g, 70);
    const status = await g.api("GET", "/v1/status", { key: g.keys.admin.key });
    const { logId, chainId, contract, noteKey } = status.body.log;
    trust = path.join(work, "trusted-logs.json");
    writeFileSync(trust, JSON.stringify({ version: 1, logs: [{ logId, chainId, contract, name: "test gateway", division: "330102000000", noteKey }] }));
    monitorKey = (await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "monitor", role: "monitor" } })).body.key;
  });
  after(async () => {
    await stopAndRemove(g);
    removeDir(work);
  });

  it("verifies every anchored checkpoint from tiles, re-hashes every entry with a monitor key, and resumes from its state", async () => {
    const first = await monitor(options("plain"));
    expect(first.code, first.stdout + first.stderr).to.equal(0);
    expect(first.stdout).to.match(/^ok: log 0x[0-9a-f]{64} verified from tiles up to 370 leaves, root 0x[0-9a-f]{64}; 2 new checkpoint\(s\) checked against the chain, 2 signed note\(s\), 0 entries re-hashed\n$/);
    expect(first.stderr).to.match(/370 of 370 leaves hashed/);

    const withEntries = await monitor(options("entries", { key: monitorKey, json: true }));
    expect(withEntries.code, withEntries.stdout + withEntries.stderr).to.equal(0);
    expect(JSON.parse(withEntries.stdout)).to.include({ ok: true, treeSize: 370, checkpoints: 2, entries: 370 });

    // The next run starts where the last ended: only the new checkpoint.
    await submitAndPublish(g, 30);
    const again = await monitor(options("entries", { key: monitorKey, json: true }));
    expect(JSON.parse(again.stdout)).to.include({ ok: true, treeSize: 400, checkpoints: 1, entries: 30 });
  });

  it("names a tile changed in the gateway's tile store", async () => {
    let original: Uint8Array | undefined;
    const key = "t00" + indexKey(0);
    await whileStopped(async (dataDir) => {
      const stores = await openStores(dataDir);
      const tiles = stores.db.sublevel<string, Uint8Array>("tiles", { valueEncoding: "view" });
      original = await tiles.get(key);
      const tampered = new Uint8Array(original!);
      tampered[5 * 32] ^= 1;
      await tiles.put(key, tampered);
      await stores.close();
    });
    const run = await monitor(options("tile-tamper"));
    expect(run.code, run.stdout + run.stderr).to.equal(1);
    expect(run.stdout).to.match(/^DIVERGENCE ROOT_MISMATCH at tree size 300, tile\/0\/000: expected 0x[0-9a-f]{64}, found 0x[0-9a-f]{64} — tile\/0\/000 hashes to .* but tile\/1\/000\.p\/1 holds/);
    await whileStopped(async (dataDir) => {
      const stores = await openStores(dataDir);
      await stores.db.sublevel<string, Uint8Array>("tiles", { valueEncoding: "view" }).put(key, original!);
      await stores.close();
    });
    expect((await monitor(options("tile-restored"))).code).to.equal(0);
  });

  it("names an entry whose record was changed on disk (with a monitor key)", async () => {
    let original: Uint8Array | undefined;
    await whileStopped(async (dataDir) => {
      const stores = await openStores(dataDir);
      original = await stores.records.get(indexKey(7));
      await stores.records.put(indexKey(7), Buffer.from(Buffer.from(original!).toString().replace("op-7731", "op-7732")));
      await stores.close();
    });
    const run = await monitor(options("record-tamper", { key: monitorKey }));
    expect(run.code, run.stdout + run.stderr).to.equal(1);
    expect(run.stdout).to.match(/^DIVERGENCE ENTRY_HASH_MISMATCH at tree size 300, tile\/entries\/000: expected 0x[0-9a-f]{64}, found 0x[0-9a-f]{64} — entry 7 /);
    // Without a key the tiles alone are intact.
    expect((await monitor(options("record-tamper-no-key"))).code).to.equal(0);
    await whileStopped(async (dataDir) => {
      const stores = await openStores(dataDir);
      await stores.records.put(indexKey(7), original!);
      await stores.close();
    });
  });

  it("names a signed note whose root is not the one anchored on chain", async () => {
    let original: string | undefined;
    const size = 400;
    await whileStopped(async (dataDir) => {
      const stores = await openStores(dataDir);
      const notes = stores.db.sublevel<string, string>("notes", { valueEncoding: "utf8" });
      original = await notes.get(indexKey(size));
      // The log's own key signing a split view: another root for the same size.
      const signer = noteSignerFromSeed(g.gateway.openLog.origin, Buffer.from(readFileSync(path.join(dataDir, "note-key"), "utf8").trim(), "hex"));
      const forgedRoot = new Uint8Array(32).fill(0xab);
      const note = signNote(formatCheckpoint({ origin: g.gateway.openLog.origin, treeSize: size, rootHash: forgedRoot }), signer);
      await notes.put(indexKey(size), JSON.stringify({ treeSize: size, rootHash: "0x" + "ab".repeat(32), note }));
      await stores.close();
    });
    // With a gateway policy file, the divergence also goes to its webhooks, signed as the gateway signs.
    const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => (received.push({ headers: req.headers, body }), res.writeHead(204).end()));
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    const secret = "monitor-webhook-secret-0123456789";
    const policy = path.join(work, "policy.json");
    writeFileSync(policy, JSON.stringify({ version: 1, webhooks: [{ url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`, secret }] }));
    let run: Run;
    try {
      run = await monitor(options("note-root", { policy }));
    } finally {
      hook.close();
    }
    expect(run.code, run.stdout + run.stderr).to.equal(1);
    expect(run.stdout).to.match(new RegExp(`^DIVERGENCE NOTE_ROOT_MISMATCH at tree size ${size}, checkpoint: expected 0x[0-9a-f]{64}, found 0x${"ab".repeat(32)}`));
    expect(received).to.have.length(1);
    const { alert } = JSON.parse(received[0]!.body);
    expect(alert).to.include({ kind: "monitor", severity: "critical", code: "NOTE_ROOT_MISMATCH", treeSize: size, found: "0x" + "ab".repeat(32), logId: g.gateway.logId });
    expect(received[0]!.headers["x-ledger-signature"]).to.equal("sha256=" + createHmac("sha256", secret).update(received[0]!.body).digest("hex"));
    expect(received[0]!.headers["x-ledger-delivery"]).to.equal(alert.id);
    await whileStopped(async (dataDir) => {
      const stores = await openStores(dataDir);
      await stores.db.sublevel<string, string>("notes", { valueEncoding: "utf8" }).put(indexKey(size), original!);
      await stores.close();
    });
  });

  it("names a checkpoint note signed by a key other than the trusted one", async () => {
    const otherKey = path.join(work, "other-note-key");
    writeFileSync(otherKey, "11".repeat(32) + "\n", { mode: 0o600 });
    await whileStopped(async () => undefined, { LOG_NOTE_KEY_FILE: otherKey });
    await submitAndPublish(g, 5);
    const run = await monitor(options("other-key"));
    expect(run.code, run.stdout + run.stderr).to.equal(1);
    expect(run.stdout).to.match(/^DIVERGENCE UNKNOWN_KEY — the note has no signature by provenance-ledger\//);
  });
});

describe("ledger monitor: the follower's checks (pure)", () => {
  const leaves = Array.from({ length: 300 }, (_, i) => Buffer.from(`entry ${i}`));
  const leafHashes = leaves.map((l) => hashLeaf(l));
  const tile0 = Buffer.concat(leafHashes.slice(0, 256));
  const tile1 = Buffer.concat(leafHashes.slice(256, 300));
  const upper = Buffer.from(rootFromLeafHashes(leafHashes.slice(0, 256)));
  const root = rootFromLeafHashes(leafHashes);
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error as OpenLogError;
    }
    return undefined;
  };
  const run = (t0: Uint8Array, t1: Uint8Array, up: Uint8Array) => {
    const follower = new TreeFollower({ size: 0, frontier: [] });
    follower.appendLeafTile(0, 256, t0);
    follower.appendLeafTile(1, 44, t1);
    follower.finish(300, root, [{ level: 1, index: 0, width: 1, bytes: up }], "tile/0/000 … tile/0/001.p/44");
    return follower;
  };
  const flip = (bytes: Uint8Array, at: number) => {
    const copy = Buffer.from(bytes);
    copy[at]! ^= 1;
    return copy;
  };

  it("lists the tiles a step needs", () => {
    expect(tilesToFetch(0, 300).map((t) => `${t.level}/${t.index}/${t.width}`)).to.deep.equal(["0/0/256", "0/1/44", "1/0/1"]);
    expect(tilesToFetch(300, 370).map((t) => `${t.level}/${t.index}/${t.width}`)).to.deep.equal(["0/1/114"]);
  });

  it("accepts honest tiles and names each kind of tampering", () => {
    expect(Buffer.from(run(tile0, tile1, upper).root())).to.deep.equal(Buffer.from(root));
    const upperWrong = codeOf(() => run(tile0, tile1, flip(upper, 0)));
    expect([upperWrong?.code, upperWrong?.tile]).to.deep.equal(["TILE_HASH_MISMATCH", "tile/1/000.p/1"]);
    const leafWrong = codeOf(() => run(flip(tile0, 64), tile1, upper));
    expect([leafWrong?.code, leafWrong?.tile, leafWrong?.found]).to.deep.equal(["ROOT_MISMATCH", "tile/0/000", "0x" + Buffer.from(rootFromLeafHashes([...leafHashes.slice(0, 2), flip(leafHashes[2]!, 0), ...leafHashes.slice(3, 256)])).toString("hex")]);
    const partialWrong = codeOf(() => run(tile0, flip(tile1, 0), upper));
    expect([partialWrong?.code, partialWrong?.tile, partialWrong?.expected]).to.deep.equal(["ROOT_MISMATCH", "tile/0/000 … tile/0/001.p/44", "0x" + Buffer.from(root).toString("hex")]);
  });

  it("resumes from a saved frontier and checks entry bundles against leaf hashes", () => {
    const follower = new TreeFollower({ size: 0, frontier: [] });
    follower.appendLeafTile(0, 256, tile0);
    const resumed = new TreeFollower(follower.state);
    const hashes = resumed.appendLeafTile(1, 44, tile1);
    resumed.finish(300, root, [{ level: 1, index: 0, width: 1, bytes: upper }], "");
    const bundle = Buffer.concat(leaves.slice(256).flatMap((l) => [Buffer.from([l.length >> 8, l.length & 0xff]), l]));
    expect(checkEntryBundle({ index: 1, width: 44, bundle, leafHashes: hashes, fromIndex: 256, treeSize: 300 })).to.equal(44);
    const bad = codeOf(() => checkEntryBundle({ index: 1, width: 44, bundle: flip(bundle, 5), leafHashes: hashes, fromIndex: 256, treeSize: 300 }));
    expect([bad?.code, bad?.tile]).to.deep.equal(["ENTRY_HASH_MISMATCH", "tile/entries/001.p/44"]);
  });
});
