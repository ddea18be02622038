import { hashLeaf, type MerkleTreeStore } from "../merkle";
import type { EventLog } from "../log/event-log";

// Small enough that a chunk's hashing and write do not hold up requests for long.
const FOLD_CHUNK = 5_000;

/**
 * Brings the Merkle tree up to the log, awaiting `beforeChunk` before each chunk. The log is the source of truth and the
 * tree's append is atomic, so after a crash folding simply resumes at tree.size.
 */
export async function foldLogIntoTree(log: EventLog, tree: MerkleTreeStore, beforeChunk?: () => Promise<void>): Promise<number> {
  let folded = 0;
  // Fold up to the size the log had on entry: under sustained ingest the log keeps
  // growing, and chasing it would never return to let the anchorer anchor.
  const target = log.size;
  while (tree.size < target) {
    await beforeChunk?.();
    const from = tree.size;
    const to = Math.min(target, from + FOLD_CHUNK);
    const leaves = await log.readLeaves(from, to);
    if (leaves.length !== to - from) {
      throw new Error(`log records ${from}..${to - 1} are incomplete: read ${leaves.length}, want ${to - from}`);
    }
    await tree.append(leaves.map((leaf) => hashLeaf(leaf)));
    folded += leaves.length;
  }
  return folded;
}
