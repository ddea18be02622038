/**
 * Open log: serving a full hash tile over HTTP (the gateway's /v1/log router on its tile
 * store) against a bare node:http server answering the same 8 KiB; and the monitor's
 * follower over a log's tiles against the bare SHA-256 calls it must make (one interior
 * hash per leaf), then with entry bundles (re-hash and envelope shape). In-process: the
 * follower is what `ledger monitor` runs on the tiles it fetched (no network here).
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { Level } from "level";
import { MerkleTreeStore, hashLeaf, storedTreeReader, type MerkleStoreScanDb } from "../server/merkle";
import { TileStore } from "../server/openlog/tile-store";
import { createOpenLogRouter } from "../server/openlog/routes";
import type { OpenLog } from "../server/openlog/open-log";
import { TreeFollower, checkEntryBundle } from "../server/openlog/follow";
import { envelopeProblem } from "../server/openlog/envelope-shape";
import { encodeEntryBundle, TILE_WIDTH } from "../server/openlog/tiles";
import { BENCH_LOG_ID, envelopeLeaves } from "./events";
import { formatCount, gc, median, ms, paired, percentile, perSecond, progress, tempDir, type BenchOptions } from "./common";

const SUITE = "openlog";

function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.keepAliveTimeout = 65_000;
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

async function fetchMs(url: string, samples: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    const response = await fetch(url.replace("{i}", String(i % 64).padStart(3, "0")));
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  return times;
}

/** The floor of the follower: exactly one SHA-256 over 65 bytes per leaf, in a dependency chain. */
function bareInteriorHashes(count: number): Buffer {
  const node = Buffer.alloc(65);
  node[0] = 0x01;
  let digest = Buffer.alloc(32);
  for (let i = 1; i < count; i++) {
    digest.copy(node, 1);
    digest = createHash("sha256").update(node).digest();
  }
  return digest;
}

export async function openlogBench({ quick, report }: BenchOptions): Promise<void> {
  const leaves = quick ? 100_000 : 1_000_000;
  const tmp = tempDir("bench-openlog-");
  const db = new Level<string, string>(tmp.dir);
  await db.open();
  try {
    progress(`${SUITE}: building a tree and its tiles of ${formatCount(leaves)} leaves`);
    const envelopes = envelopeLeaves(leaves);
    const leafHashes = envelopes.map((e) => hashLeaf(e));
    const treeDb = db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as unknown as MerkleStoreScanDb;
    const tree = await MerkleTreeStore.open(treeDb, { sync: false });
    for (let i = 0; i < leaves; i += 20_000) await tree.append(leafHashes.slice(i, i + 20_000));
    const tiles = await TileStore.open(db as never, storedTreeReader(treeDb), 0);
    await tiles.buildTo(leaves);

    // --- serving a full tile -------------------------------------------------------------
    const openLog = { latest: () => ({ treeSize: leaves, rootHash: "", note: "" }), tiles, notes: { at: async () => undefined } } as unknown as OpenLog;
    const app = express();
    app.use("/v1/log", createOpenLogRouter({ openLog, keys: undefined as never, log: undefined as never, tree, checkpoints: undefined as never }));
    const gateway = await listen(app);
    const fixed = Buffer.alloc(8192, 7);
    const bare = await listen((_req, res) => res.writeHead(200, { "content-type": "application/octet-stream" }).end(fixed));
    try {
      const samples = quick ? 500 : 3000;
      const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/v1/log/tile/0/{i}`;
      const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/tile/0/{i}`;
      await fetchMs(gatewayUrl, 100);
      await fetchMs(bareUrl, 100);
      const ours: number[] = [];
      const floor: number[] = [];
      for (let round = 0; round < 5; round++) {
        floor.push(...(await fetchMs(bareUrl, samples / 5)));
        ours.push(...(await fetchMs(gatewayUrl, samples / 5)));
      }
      report.add({
        suite: SUITE,
        metric: `serve a full hash tile over HTTP (keep-alive), median (p99 ${ms(percentile(ours, 99))})`,
        value: Number(median(ours).toFixed(3)),
        unit: "ms",
        baseline: `${median(floor).toFixed(3)} ms bare node:http answering 8 KiB`,
        ratio: median(ours) / median(floor),
        floor: "< 1 ms",
        ok: median(ours) < 1,
      });
    } finally {
      gateway.close();
      bare.close();
      gateway.closeAllConnections();
      bare.closeAllConnections();
    }

    // --- the monitor's follower ------------------------------------------------------------
    const tileBytes: Buffer[] = [];
    for (let t = 0; t * TILE_WIDTH < leaves; t++) tileBytes.push(Buffer.from((await tiles.read(0, t))!));
    const follow = () => {
      const follower = new TreeFollower({ size: 0, frontier: [] });
      tileBytes.forEach((bytes, t) => follower.appendLeafTile(t, bytes.length / 32, bytes));
      return follower.root();
    };
    const result = await paired(quick ? 3 : 5, follow, () => bareInteriorHashes(leaves), `${SUITE}: follower`);
    report.add({
      suite: SUITE,
      metric: `monitor: verify ${formatCount(leaves)} leaves from level-0 tiles (no entries)`,
      value: perSecond(leaves, result.oursMs),
      unit: "leaves/s",
      baseline: `${ms(result.baselineMs)} for the ${formatCount(leaves - 1)} bare SHA-256 interior hashes`,
      ratio: 1 / result.ratio,
      floor: "≥ 0.5x of the SHA-256 floor",
      ok: 1 / result.ratio >= 0.5,
      note: "ratio = floor time ÷ follower time (higher is better); in-process, tiles already fetched",
    });

    gc();
    const bundles: Buffer[] = [];
    for (let t = 0; t * TILE_WIDTH < leaves; t++) bundles.push(encodeEntryBundle(envelopes.slice(t * TILE_WIDTH, (t + 1) * TILE_WIDTH)));
    const started = performance.now();
    let checked = 0;
    bundles.forEach((bundle, t) => {
      const width = Math.min(TILE_WIDTH, leaves - t * TILE_WIDTH);
      const hashes = Array.from({ length: width }, (_, i) => tileBytes[t]!.subarray(i * 32, i * 32 + 32));
      checked += checkEntryBundle({ index: t, width, bundle, leafHashes: hashes, fromIndex: 0, treeSize: leaves, checkEntry: (entry, leafIndex) => envelopeProblem(entry, leafIndex, BENCH_LOG_ID) });
    });
    const elapsed = performance.now() - started;
    gc();
    const hashStarted = performance.now();
    for (const envelope of envelopes) hashLeaf(envelope);
    const hashMs = performance.now() - hashStarted;
    report.add({
      suite: SUITE,
      metric: `monitor: re-hash and shape-check ${formatCount(checked)} entries from bundles`,
      value: perSecond(checked, elapsed),
      unit: "events/s",
      baseline: `${formatCount(perSecond(leaves, hashMs))}/s bare leaf hashing of the same entries`,
      ratio: perSecond(checked, elapsed) / perSecond(leaves, hashMs),
      floor: "≥ 50,000/s",
      ok: perSecond(checked, elapsed) >= 50_000,
      note: "in-process, bundles already fetched; envelope shape = RFC 8785 form, envelope fields, event schema",
    });
  } finally {
    await db.close();
    await tmp.remove();
  }
}
