import { copyFileSync, existsSync, readFileSync, renameSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomically } from "../store/atomic-file";

/**
 * What Anvil 1.7.1 keeps on disk with `--state FILE --state-interval 1`, and how the
 * embedded chain makes that safe to serve receipts from.
 *
 * Anvil serialises its whole chain (blocks, mined transactions, accounts) about once
 * a second and writes it *in place*: open with O_TRUNC, one write, no fsync, no
 * rename (seen with strace). Two consequences:
 * - a transaction mined less than a dump ago is lost if Anvil is killed, though its
 *   receipt and confirmations looked final: a checkpoint counts as confirmed only once
 *   a complete state file lists its transaction in its block (`AnvilStateWitness`);
 * - a kill during the write leaves a truncated file, and Anvil then refuses to start
 *   ("failed to parse json file"). The witness therefore keeps, atomically, a copy of
 *   every complete file that held a confirmation, and `restoreTornState` puts it back.
 */

/** The part of Anvil's state file read here. */
interface StateFile {
  best_block_number?: string | number;
  transactions?: { info?: { transaction_hash?: string }; block_hash?: string }[];
}

/** A state file that is not complete JSON (Anvil killed mid-write) and has no good copy to restore. */
export class AnvilStateError extends Error {
  override name = "AnvilStateError";
}

export function confirmedCopyOf(stateFile: string): string {
  return path.join(path.dirname(stateFile), path.basename(stateFile, ".json") + ".confirmed.json");
}

/** Parses a state file; undefined when it is missing or torn. */
function readState(file: string): { text: string; state: StateFile } | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  return parseState(text);
}

function parseState(text: string): { text: string; state: StateFile } | undefined {
  try {
    return { text, state: JSON.parse(text) as StateFile };
  } catch {
    return undefined;
  }
}


/**
 * Before Anvil starts: a torn state file is replaced by the copy that held the latest
 * confirmation. Returns what was done, for the log; throws AnvilStateError when the
 * file is torn and no copy exists (starting a fresh chain would lose the contract).
 */
export function restoreTornState(stateFile: string): string | undefined {
  if (!existsSync(stateFile) || readState(stateFile)) return undefined;
  const copy = confirmedCopyOf(stateFile);
  if (!readState(copy)) {
    throw new AnvilStateError(`the embedded chain's state file ${stateFile} is incomplete (Anvil was killed while writing it) and there is no confirmed copy to restore`);
  }
  copyFileSync(stateFile, `${stateFile}.torn`);
  copyFileSync(copy, `${stateFile}.tmp`);
  renameSync(`${stateFile}.tmp`, stateFile);
  return `the embedded chain's state file was incomplete (Anvil killed while writing it): restored the copy that holds every confirmed checkpoint (the torn file is kept as ${path.basename(stateFile)}.torn)`;
}

/** Tells whether Anvil's state file holds a mined transaction, re-reading the file only when it changed. */
export class AnvilStateWitness {
  /** The latest complete file read; `text` until it is kept as the confirmed copy. */
  private seen?: { mtimeMs: number; size: number; bestBlock: number; mined: Map<string, string>; text?: string };

  constructor(private readonly stateFile: string) {}

  async holds(txHash: string, blockHash: string): Promise<boolean> {
    const seen = await this.read();
    if (seen?.mined.get(txHash.toLowerCase()) !== blockHash.toLowerCase()) return false;
    this.keepCopy(seen);
    return true;
  }

  /** Waits until a complete state file holds block `blockNumber` (deployment), and keeps it. */
  async waitForBlock(blockNumber: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = await this.read();
      if (seen && seen.bestBlock >= blockNumber) return this.keepCopy(seen);
      if (Date.now() > deadline) throw new AnvilStateError(`Anvil's state file ${this.stateFile} did not reach block ${blockNumber} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async read(): Promise<AnvilStateWitness["seen"]> {
    const file = await stat(this.stateFile).catch(() => undefined);
    if (!file) return undefined;
    if (this.seen && this.seen.mtimeMs === file.mtimeMs && this.seen.size === file.size) return this.seen;
    const read = parseState(await readFile(this.stateFile, "utf8").catch(() => ""));
    if (!read) return this.seen; // being written, or torn: what was read before still stands
    const mined = new Map<string, string>();
    for (const t of read.state.transactions ?? []) {
      if (t.info?.transaction_hash && t.block_hash) mined.set(t.info.transaction_hash.toLowerCase(), t.block_hash.toLowerCase());
    }
    this.seen = { mtimeMs: file.mtimeMs, size: file.size, bestBlock: Number(read.state.best_block_number ?? 0), mined, text: read.text };
    return this.seen;
  }

  /** Keeps the complete file that holds a confirmation, for restoreTornState. */
  private keepCopy(seen: NonNullable<AnvilStateWitness["seen"]>): void {
    if (seen.text === undefined) return;
    writeFileAtomically(confirmedCopyOf(this.stateFile), seen.text);
    seen.text = undefined;
  }
}
