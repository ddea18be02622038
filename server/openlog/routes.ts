import express, { type Request, type Response } from "express";
import { AppError } from "../errors";
import { toHex } from "../hex";
import type { KeyStore, Principal } from "../auth/key-store";
import { principalFromAuthorization } from "../api/authenticate";
import { parseIndex } from "../api/params";
import type { CheckpointStore } from "../anchor/checkpoint-store";
import type { EventLog } from "../log/event-log";
import type { MerkleTreeStore } from "../merkle";
import type { OpenLog } from "./open-log";
import { encodeEntryBundle, HASH_SIZE, parseTilePath, tileWidthAt, TILE_WIDTH } from "./tiles";
import { formatTlogProof } from "./tlog-proof";

/**
 * `/v1/log/…`: the C2SP endpoints (c2sp.org/tlog-tiles, tlog-checkpoint). Checkpoint, hash
 * tiles and consistency proofs hold only hashes and are public; entry bundles hold event
 * content and need a key whose scope is the whole log. Everything is bounded by the latest
 * published (signed, anchored) checkpoint: nothing is served that no signed note commits to.
 */

export interface OpenLogRoutesParameters {
  openLog: OpenLog;
  keys: KeyStore;
  log: EventLog;
  tree: MerkleTreeStore;
  checkpoints: CheckpointStore;
}

const IMMUTABLE = "public, max-age=31536000, immutable";

/** May this key read every entry of the log (entry bundles)? Admin, monitor, an auditor bound to nothing. */
export function canReadWholeLog(principal: Principal): boolean {
  return principal.role === "admin" || principal.role === "monitor" || (principal.role === "auditor" && !principal.datasets && !principal.orgs);
}

export function createOpenLogRouter({ openLog, keys, log, tree, checkpoints }: OpenLogRoutesParameters): express.Router {
  const router = express.Router();
  const publishedSize = () => openLog.latest()?.treeSize ?? 0;

  router.get("/checkpoint", async (req: Request, res: Response) => {
    // `?size=N`: the note signed for an earlier anchored size (an extension; monitors use it).
    const signed = req.query.size === undefined ? openLog.latest() : await openLog.notes.at(parseIndex(req.query.size, "size"));
    if (!signed) throw new AppError({ code: "NOT_FOUND", message: req.query.size === undefined ? "no checkpoint has been signed yet" : `no signed checkpoint of size ${String(req.query.size)}` });
    res.set("Cache-Control", req.query.size === undefined ? "no-cache" : IMMUTABLE).type("text/plain; charset=utf-8").send(signed.note);
  });

  router.get(/^\/tile\/(.+)$/, async (req: Request, res: Response) => {
    const tile = parseTilePath((req.params as unknown as string[])[0] ?? "");
    if (!tile) throw new AppError({ code: "NOT_FOUND", message: `not a tile path: ${req.path}` });
    const level = tile.level === "entries" ? 0 : tile.level;
    const available = tileWidthAt(publishedSize(), level, tile.index);
    if (tile.width > available) {
      throw new AppError({ code: "NOT_FOUND", message: `tile ${req.path} is beyond the latest signed checkpoint (${publishedSize()} leaves)` });
    }
    if (tile.level === "entries") {
      const principal = principalFromAuthorization(keys, req.headers.authorization);
      if (!canReadWholeLog(principal)) {
        throw new AppError({ code: "FORBIDDEN", message: `entry bundles hold every event: they need a key whose scope is the whole log (admin, monitor, or an auditor bound to no dataset or organisation); this key's role is ${principal.role}` });
      }
      const from = tile.index * TILE_WIDTH;
      const leaves = await log.readLeaves(from, from + tile.width);
      if (leaves.length !== tile.width) throw new AppError({ code: "INTERNAL", message: `log records ${from}..${from + tile.width - 1} are incomplete` });
      res.set("Cache-Control", "private, no-store").type("application/octet-stream").send(encodeEntryBundle(leaves));
      return;
    }
    const stored = await openLog.tiles.read(tile.level, tile.index);
    if (!stored || stored.length < tile.width * HASH_SIZE) throw new AppError({ code: "NOT_FOUND", message: `tile ${req.path} is not stored yet` });
    res
      .set("Cache-Control", tile.width === TILE_WIDTH ? IMMUTABLE : "public, max-age=60")
      .type("application/octet-stream")
      .send(Buffer.from(stored.buffer, stored.byteOffset, tile.width * HASH_SIZE));
  });

  router.get("/proof/consistency", async (req: Request, res: Response) => {
    const from = parseIndex(req.query.from, "from");
    const to = parseIndex(req.query.to, "to");
    if (from > to) throw new AppError({ code: "BAD_REQUEST", message: `from (${from}) must not exceed to (${to})` });
    const [old, current] = await Promise.all([anchoredAt(checkpoints, from), anchoredAt(checkpoints, to)]);
    if (!old || !current) throw new AppError({ code: "NOT_FOUND", message: `both sizes must be anchored checkpoints; ${!old ? from : to} is not` });
    const proof = await tree.consistencyProof(from, to);
    res.json({ from: { treeSize: from, rootHash: old.rootHash }, to: { treeSize: to, rootHash: current.rootHash }, proof: proof.map(toHex) });
  });

  return router;
}

/** The anchored checkpoint of exactly this size, if any. */
async function anchoredAt(checkpoints: CheckpointStore, treeSize: number) {
  if (treeSize === 0) return undefined;
  const covering = await checkpoints.covering(treeSize - 1);
  return covering?.treeSize === treeSize ? covering : undefined;
}

/**
 * The receipt of leaf `index` as `c2sp.org/tlog-proof@v1` text, against the latest signed
 * checkpoint; undefined while no signed checkpoint covers it. The caller checks access.
 */
export async function tlogProofOf(openLog: OpenLog, tree: MerkleTreeStore, index: number): Promise<string | undefined> {
  const signed = openLog.latest();
  if (!signed || index >= signed.treeSize) return undefined;
  return formatTlogProof({ index, proof: await tree.inclusionProof(index, signed.treeSize), checkpoint: signed.note });
}
