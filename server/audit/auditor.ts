/**
 * The checking logic of the audit, with no I/O: it is fed the records in
 * position order together with the stored tree nodes that each position
 * completes, and keeps two compact ranges (right frontiers, O(log n) hashes):
 *
 * - `recomputed`: the tree rebuilt from the record bytes alone;
 * - `stored`: the stored tree's own nodes, each checked against the hash of
 *   its two stored children, so a single missing or altered node is named
 *   exactly and does not cascade.
 *
 * At each checkpoint size the recomputed root is compared with the checkpoint
 * record and, when the caller supplies it, the chain's root. Memory does not
 * grow with the log: frontiers, the checkpoint list, a capped divergence list.
 */
import { EMPTY_ROOT, hashChildren, hashLeaf, rootOfPerfectSubtrees, type NodeId } from "../merkle";
import { toHex, type Hex } from "../hex";
import { MAX_LISTED_DIVERGENCES, type Divergence, type LeafRange } from "./report";

/** The part of a confirmed checkpoint the audit compares. */
export interface CheckpointRoot {
  treeSize: number;
  rootHash: string;
  /** A confirmed checkpoint record (default), or the chain's latest checkpoint that has no local record. */
  source?: "record" | "chain";
  /** The record is marked lost from the chain: the gateway is anchoring it again. */
  lost?: boolean;
}

/** A stored record as read, before it is trusted: its bytes are attacker-controlled. */
export interface InspectedRecord {
  position: number;
  leafHash: Uint8Array;
  /** The envelope's own `index` and `log`, when the bytes are an envelope at all. */
  envelope?: { index: number; log: unknown };
  /** Why the bytes are not a readable envelope. */
  corrupt?: string;
}

/** The stored hash of a node, or undefined when the store has none. */
export type StoredNodeLookup = (level: number, index: number) => Uint8Array | undefined;

/** A checkpoint whose size the audit has reached, waiting for the chain's root. */
export interface DueCheckpoint {
  treeSize: number;
  recorded: string;
}

const ZERO_ROOT = "0x" + "0".repeat(64);
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The nodes completed by appending leaf `position`: (0, position), then each parent it closes, bottom up. */
export function nodesCompletedBy(position: number): NodeId[] {
  const nodes: NodeId[] = [{ level: 0, index: position }];
  let index = position;
  let level = 0;
  while (index % 2 === 1) {
    index = (index - 1) / 2;
    level += 1;
    nodes.push({ level, index });
  }
  return nodes;
}

/** Parses a record's bytes defensively: it may be anything. */
export function inspectRecord(position: number, bytes: Uint8Array): InspectedRecord {
  const leafHash = hashLeaf(bytes);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { position, leafHash, corrupt: "its bytes are not UTF-8" };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { position, leafHash, corrupt: `it is not JSON (${(error as Error).message})` };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { position, leafHash, corrupt: "it is JSON but not an envelope object" };
  }
  const { index, log } = parsed as { index?: unknown; log?: unknown };
  if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0) {
    return { position, leafHash, corrupt: `its envelope has no valid index (got ${JSON.stringify(index) ?? "nothing"})` };
  }
  return { position, leafHash, envelope: { index, log } };
}

/** The leaf range covered by node (level, index). */
export function nodeLeafRange({ level, index }: NodeId): LeafRange {
  const width = 2 ** level;
  return { first: index * width, last: (index + 1) * width - 1 };
}

export interface LedgerAuditorParameters {
  /** Leaves in the stored tree: positions below it are checked against stored nodes. */
  treeSize: number;
  /** Confirmed checkpoints, any order. */
  checkpoints: readonly CheckpointRoot[];
  /** The log every envelope must name; when absent, the first readable envelope's log. */
  logId?: string;
  /**
   * The chain's latest checkpoint, read before the tree size: beyond the tree it means
   * leaves are gone; within it without a local record, it is checked as a checkpoint too
   * (a running gateway may not have recorded its confirmation yet).
   */
  chainLatest?: { treeSize: number; rootHash: string };
  maxListed?: number;
}

export class LedgerAuditor {
  readonly treeSize: number;
  private expectedLog: string | undefined;
  private readonly maxListed: number;
  /** Checkpoints within the tree, ascending; those beyond it are reported at the end. */
  private readonly checkpoints: CheckpointRoot[];
  private readonly beyondTree: CheckpointRoot[];
  private nextCheckpoint = 0;
  private position = 0;
  private readonly recomputed: Uint8Array[] = [];
  private readonly stored: (Uint8Array | undefined)[] = [];
  /** First position whose record is missing: from there on the tree cannot be recomputed. */
  private removedFrom: number | undefined;
  private leafDivergences = 0;
  private lastMatchingCheckpoint = 0;
  private readonly listed: Divergence[] = [];
  private count = 0;
  eventsChecked = 0;
  unfoldedEvents = 0;
  checkpointsChecked = 0;
  chainComparisons = 0;

  private readonly chainLatest?: { treeSize: number; rootHash: string };

  constructor({ treeSize, checkpoints, logId, chainLatest, maxListed }: LedgerAuditorParameters) {
    this.treeSize = treeSize;
    this.expectedLog = logId?.toLowerCase();
    this.maxListed = maxListed ?? MAX_LISTED_DIVERGENCES;
    this.chainLatest = chainLatest;
    const all = [...checkpoints];
    if (chainLatest && chainLatest.treeSize > 0 && !all.some((c) => c.treeSize === chainLatest.treeSize)) {
      all.push({ treeSize: chainLatest.treeSize, rootHash: chainLatest.rootHash, source: "chain" });
    }
    const sorted = all.sort((a, b) => a.treeSize - b.treeSize);
    this.checkpoints = sorted.filter((c) => c.treeSize > 0 && c.treeSize <= treeSize);
    this.beyondTree = sorted.filter((c) => c.treeSize > treeSize);
  }

  /** The next position to feed. */
  get nextPosition(): number {
    return this.position;
  }

  get divergences(): readonly Divergence[] {
    return this.listed;
  }

  get divergenceCount(): number {
    return this.count;
  }

  /** Checkpoint sizes to compare, ascending (for prefetching the chain's roots). */
  get checkpointSizes(): number[] {
    return this.checkpoints.map((c) => c.treeSize);
  }

  /** The recomputed root of the leaves fed so far; undefined once a record is missing. */
  recomputedRoot(): Uint8Array | undefined {
    if (this.removedFrom !== undefined) return undefined;
    return this.recomputed.length === 0 ? EMPTY_ROOT : rootOfPerfectSubtrees(this.recomputed);
  }

  /**
   * Feeds tree position `position` (must be nextPosition, below treeSize): its record
   * (undefined when none is stored) and the stored nodes it completes, plus, for a
   * record whose envelope names another index j, stored leaf j. Returns the
   * checkpoint reached at this size, if any, to settle with {@link settleCheckpoint}.
   */
  addLeaf(record: InspectedRecord | undefined, storedNode: StoredNodeLookup): DueCheckpoint | undefined {
    const position = this.position;
    if (position >= this.treeSize) throw new RangeError(`position ${position} is beyond the tree (${this.treeSize}); use addUnfolded`);
    const storedLeaf = storedNode(0, position);
    let leafHash: Uint8Array;
    if (record) {
      this.eventsChecked += 1;
      leafHash = record.leafHash;
      this.checkRecord(record, storedLeaf, storedNode);
    } else {
      this.noteRemoved(position);
      // A stand-in keeps the positions of later leaves; the recomputed root is void from here.
      leafHash = storedLeaf ?? EMPTY_ROOT;
    }
    if (storedLeaf === undefined) {
      this.add({
        kind: "tree-node-mismatch",
        index: position,
        node: { level: 0, index: position },
        leafRange: { first: position, last: position },
        message: `the stored tree has no hash for leaf ${position} (node (0, ${position}) is missing)`,
      });
    }
    this.appendToFrontiers(position, leafHash, storedLeaf, storedNode);
    this.position += 1;
    const due = this.checkpoints[this.nextCheckpoint];
    if (due && due.treeSize === this.position) {
      return { treeSize: due.treeSize, recorded: due.rootHash };
    }
    return undefined;
  }

  /**
   * Compares the checkpoint just reached with the recomputed root and, when given,
   * the chain's root for its size (the chain answers all zeros for a size it never
   * anchored).
   */
  settleCheckpoint(chainRoot?: string): void {
    const checkpoint = this.checkpoints[this.nextCheckpoint];
    if (!checkpoint || checkpoint.treeSize !== this.position) throw new Error("no checkpoint is due at this position");
    this.nextCheckpoint += 1;
    this.checkpointsChecked += 1;
    if (chainRoot !== undefined) this.chainComparisons += 1;

    const size = checkpoint.treeSize;
    const root = this.recomputedRoot();
    const recomputed = root && toHex(root);
    const recorded = checkpoint.rootHash.toLowerCase();
    const recordedBy = checkpoint.source === "chain" ? "chain" : "checkpoint record";
    const chain = chainRoot?.toLowerCase();
    const problems: string[] = [];
    if (recomputed === undefined) {
      problems.push(`leaf ${this.removedFrom} was removed, so its root can no longer be recomputed`);
    } else if (recomputed !== recorded) {
      problems.push(`recomputed ${recomputed}, ${recordedBy} ${recorded}`);
    }
    if (chain !== undefined && !(checkpoint.source === "chain" && chain === recorded)) {
      if (chain === ZERO_ROOT) problems.push(`the chain holds no checkpoint of ${size} leaves`);
      else if (recomputed !== undefined && recomputed !== chain) problems.push(`recomputed ${recomputed}, chain ${chain}`);
      else if (recomputed === undefined && recorded !== chain) problems.push(`checkpoint record ${recorded}, chain ${chain}`);
    }
    if (problems.length === 0) {
      this.lastMatchingCheckpoint = size;
      return;
    }
    const range: LeafRange = { first: this.lastMatchingCheckpoint, last: size - 1 };
    if (chain === ZERO_ROOT && problems.length === 1 && checkpoint.source !== "chain") {
      // The local side is intact; only the chain lacks it. Receipts served from it fail with ROOT_NOT_ANCHORED.
      this.add({
        kind: "checkpoint-not-anchored",
        treeSize: size,
        index: range.first,
        leafRange: range,
        expected: recorded,
        actual: ZERO_ROOT,
        message:
          `checkpoint ${size} was confirmed, so receipts may have been served from it, but the chain holds no checkpoint of ${size} leaves: ` +
          `those receipts do not verify until it is anchored again` +
          (checkpoint.lost ? " (the gateway has noticed and is anchoring it again)" : ""),
      });
      return;
    }
    const onlyChain = chain !== undefined && recomputed !== undefined && recomputed === recorded && this.leafDivergences === 0;
    const where =
      this.lastMatchingCheckpoint === 0
        ? `the divergence lies in leaves 0..${size - 1} (no earlier checkpoint matches)`
        : `the divergence lies in leaves ${range.first}..${range.last}, after checkpoint ${this.lastMatchingCheckpoint}, which still matches`;
    this.add({
      kind: "checkpoint-mismatch",
      treeSize: size,
      index: range.first,
      leafRange: range,
      expected: chain !== undefined && chain !== ZERO_ROOT ? chain : recorded,
      actual: recomputed,
      message:
        `checkpoint ${size} no longer matches: ${problems.join("; ")}; ${where}` +
        (onlyChain ? "; the records, the stored tree and the checkpoint record agree with each other, so the tree store was rewritten consistently with altered records" : ""),
    });
  }

  /** Feeds a record beyond the tree (appended but not yet folded): checked as a record only. */
  addUnfolded(record: InspectedRecord): void {
    this.position = record.position + 1;
    this.eventsChecked += 1;
    this.unfoldedEvents += 1;
    this.checkRecord(record, undefined, () => undefined);
  }

  /** Positions [from, to) beyond the tree hold no record though a later record exists. */
  addUnfoldedGap(from: number, to: number): void {
    this.noteRemoved(from, to - 1);
    this.position = to;
  }

  /** A key in the log that is not a leaf index at all. */
  addCorruptKey(key: string): void {
    this.add({
      kind: "record-corrupt",
      message: `the log holds a record under key ${JSON.stringify(key.slice(0, 40))}, which is not a 16-digit hex leaf index`,
    });
  }

  /**
   * Ends the audit: reports checkpoints beyond the tree, compares the recomputed
   * root with the tree store's (`treeRoot`, or the error reading it), and the
   * chain's latest checkpoint when given.
   */
  finish(options: { treeRoot?: Uint8Array | Error }): void {
    if (this.position < this.treeSize) throw new Error(`finish() at position ${this.position}, before the end of the tree (${this.treeSize})`);
    for (const checkpoint of this.beyondTree) {
      if (checkpoint.source === "chain") continue; // reported below, once
      this.add({
        kind: "size-mismatch",
        treeSize: checkpoint.treeSize,
        expected: String(checkpoint.treeSize),
        actual: String(this.treeSize),
        message: `checkpoint ${checkpoint.treeSize} covers more leaves than the stored tree holds (${this.treeSize}): leaves ${this.treeSize}..${checkpoint.treeSize - 1} are gone`,
      });
    }
    const recomputed = this.treeSize === 0 ? EMPTY_ROOT : this.recomputedRoot();
    if (options.treeRoot instanceof Error) {
      this.add({
        kind: "tree-node-mismatch",
        treeSize: this.treeSize,
        message: `the tree store cannot give its root of ${this.treeSize} leaves: ${options.treeRoot.message}`,
      });
    } else if (options.treeRoot && recomputed && !equalBytes(options.treeRoot, recomputed)) {
      const explained = this.leafDivergences > 0 ? " (this follows from the leaf divergences above)" : "";
      this.add({
        kind: "tree-node-mismatch",
        treeSize: this.treeSize,
        expected: toHex(options.treeRoot),
        actual: toHex(recomputed),
        message: `the tree store's root of ${this.treeSize} leaves is ${toHex(options.treeRoot)}, recomputed from the records ${toHex(recomputed)}${explained}`,
      });
    }
    const latest = this.chainLatest;
    if (latest && latest.treeSize > this.treeSize) {
      this.add({
        kind: "size-mismatch",
        treeSize: latest.treeSize,
        expected: String(latest.treeSize),
        actual: String(this.treeSize),
        leafRange: { first: this.treeSize, last: latest.treeSize - 1 },
        message: `the chain has anchored ${latest.treeSize} leaves but the stored tree holds only ${this.treeSize}: leaves ${this.treeSize}..${latest.treeSize - 1} are gone`,
      });
    }
  }

  /** The recomputed root when the whole tree could be recomputed. */
  finalRoot(): Hex | undefined {
    const root = this.treeSize === 0 ? EMPTY_ROOT : this.recomputedRoot();
    return root && toHex(root);
  }

  // -------------------------------------------------------------------------

  private checkRecord(record: InspectedRecord, storedLeaf: Uint8Array | undefined, storedNode: StoredNodeLookup): void {
    const { position, leafHash } = record;
    if (record.corrupt === undefined && record.envelope!.index === position && storedLeaf && equalBytes(storedLeaf, leafHash)) {
      // The common case, kept cheap: a readable envelope at its own position, matching the stored leaf.
      if (this.expectedLog !== undefined && record.envelope!.log === this.expectedLog) return;
    }
    const hashes = storedLeaf ? { expected: toHex(storedLeaf), actual: toHex(leafHash) } : { actual: toHex(leafHash) };
    const hashNote = storedLeaf && !equalBytes(storedLeaf, leafHash) ? `; its bytes hash to ${toHex(leafHash)}, the tree stores ${toHex(storedLeaf)}` : "";
    if (record.corrupt !== undefined) {
      this.addLeafDivergence({ kind: "record-corrupt", index: position, ...hashes, message: `record ${position} is corrupt: ${record.corrupt}${hashNote}` });
      return;
    }
    const envelope = record.envelope!;
    if (envelope.index !== position) {
      const own = envelope.index < this.treeSize ? storedNode(0, envelope.index) : undefined;
      const intact = own !== undefined && equalBytes(own, leafHash);
      this.addLeafDivergence({
        kind: "leaf-reordered",
        index: position,
        ...hashes,
        message:
          `leaf ${position} was reordered: position ${position} holds the envelope of index ${envelope.index}` +
          (intact ? ` (unaltered: its bytes hash to stored leaf ${envelope.index})` : envelope.index < this.treeSize ? ` (whose bytes do not match stored leaf ${envelope.index} either)` : ""),
      });
      return;
    }
    const log = typeof envelope.log === "string" ? envelope.log.toLowerCase() : undefined;
    if (this.expectedLog === undefined && log !== undefined) this.expectedLog = log;
    if (log === undefined || log !== this.expectedLog) {
      this.addLeafDivergence({
        kind: "leaf-reordered",
        index: position,
        ...hashes,
        message: `leaf ${position} was moved in from another log: its envelope names log ${JSON.stringify(envelope.log)}, this log is ${this.expectedLog}`,
      });
      return;
    }
    if (storedLeaf && !equalBytes(storedLeaf, leafHash)) {
      this.addLeafDivergence({
        kind: "leaf-altered",
        index: position,
        ...hashes,
        message: `leaf ${position} was altered: its record hashes to ${toHex(leafHash)}, the tree stores ${toHex(storedLeaf)}`,
      });
    }
  }

  /** Appends one leaf to both frontiers, checking every stored node it completes against its stored children. */
  private appendToFrontiers(position: number, leafHash: Uint8Array, storedLeaf: Uint8Array | undefined, storedNode: StoredNodeLookup): void {
    let recomputed = leafHash;
    let stored: Uint8Array | undefined = storedLeaf ?? leafHash;
    let index = position;
    let level = 0;
    while (index % 2 === 1) {
      const recomputedLeft = this.recomputed.pop()!;
      const storedLeft = this.stored.pop();
      const parent = hashChildren(recomputedLeft, recomputed);
      let fromChildren: Uint8Array | undefined;
      if (storedLeft !== undefined && stored !== undefined) {
        const same: boolean = equalBytes(storedLeft, recomputedLeft) && equalBytes(stored, recomputed);
        fromChildren = same ? parent : hashChildren(storedLeft, stored);
      }
      index = (index - 1) / 2;
      level += 1;
      const node = { level, index };
      const storedParent = storedNode(level, index);
      const range = nodeLeafRange(node);
      if (storedParent === undefined) {
        this.add({
          kind: "tree-node-mismatch",
          index: range.first,
          node,
          leafRange: range,
          ...(fromChildren ? { expected: toHex(fromChildren) } : {}),
          message: `the stored tree has no node (${level}, ${index}), the subtree over leaves ${range.first}..${range.last}`,
        });
      } else if (fromChildren !== undefined && !equalBytes(storedParent, fromChildren)) {
        this.add({
          kind: "tree-node-mismatch",
          index: range.first,
          node,
          leafRange: range,
          expected: toHex(fromChildren),
          actual: toHex(storedParent),
          message: `stored node (${level}, ${index}) over leaves ${range.first}..${range.last} is ${toHex(storedParent)}, but its stored children hash to ${toHex(fromChildren)}`,
        });
      }
      recomputed = parent;
      // A node that disagrees with its children is the suspect: carry what the children say.
      stored = fromChildren ?? storedParent;
    }
    this.recomputed.push(recomputed);
    this.stored.push(stored);
  }

  /** Records a missing record at positions position..last, merged with a run that ends just before. */
  private noteRemoved(position: number, last = position): void {
    if (position < this.treeSize) this.removedFrom ??= position;
    this.leafDivergences += 1;
    const run = this.removedRun;
    if (run && run.leafRange!.last === position - 1) {
      run.leafRange!.last = last;
      run.message = `leaves ${run.leafRange!.first}..${last} were removed: the log has no records for them`;
      return;
    }
    const divergence: Divergence = {
      kind: "leaf-removed",
      index: position,
      leafRange: { first: position, last },
      message: last === position ? `leaf ${position} was removed: the log has no record for it` : `leaves ${position}..${last} were removed: the log has no records for them`,
    };
    this.removedRun = divergence;
    this.add(divergence);
  }

  /** The last run of removed leaves (listed or not), so that a contiguous run is one divergence. */
  private removedRun: Divergence | undefined;

  private addLeafDivergence(divergence: Divergence): void {
    this.leafDivergences += 1;
    this.add(divergence);
  }

  private add(divergence: Divergence): void {
    this.count += 1;
    if (this.listed.length < this.maxListed) this.listed.push(divergence);
  }
}

/**
 * The root over consecutive perfect subtrees (a frontier), left to right: RFC 9162
 * splits at the largest power of two, so fold from the right. Requires one hash or more.
 */

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
