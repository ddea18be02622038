import type { Hex } from "../hex";

/**
 * What an audit answers: whether every stored record, the stored tree, the
 * recorded checkpoints and the chain still agree, and where they first do not.
 */

export type DivergenceKind =
  /** A record's bytes no longer hash to the leaf hash the tree stores for its position. */
  | "leaf-altered"
  /** No record is stored at a position the tree (or a later record) says exists. */
  | "leaf-removed"
  /** A record sits at a position other than its own: its envelope names another index or log. */
  | "leaf-reordered"
  /** A record (or its key) is not a readable envelope: not UTF-8, not JSON, not an object with an index. */
  | "record-corrupt"
  /** A checkpoint's root differs from the root recomputed from the records, or from the chain's. */
  | "checkpoint-mismatch"
  /** A confirmed checkpoint (receipts may have been served from it) that the chain does not hold. */
  | "checkpoint-not-anchored"
  /** Counts disagree: the tree, a checkpoint or the chain covers more leaves than are stored. */
  | "size-mismatch"
  /** A stored tree node is missing, or differs from the hash of its stored children. */
  | "tree-node-mismatch";

export const DIVERGENCE_KINDS: readonly DivergenceKind[] = [
  "leaf-altered",
  "leaf-removed",
  "leaf-reordered",
  "record-corrupt",
  "checkpoint-mismatch",
  "checkpoint-not-anchored",
  "size-mismatch",
  "tree-node-mismatch",
];

/** Leaves first..last, both included. */
export interface LeafRange {
  first: number;
  last: number;
}

export interface Divergence {
  kind: DivergenceKind;
  /** The leaf (position) concerned; for a range, its first leaf. */
  index?: number;
  /** The checkpoint (tree size) concerned. */
  treeSize?: number;
  /** The leaves within which the divergence lies (a removed run, a node's subtree, between two checkpoints). */
  leafRange?: LeafRange;
  /** A stored tree node: the perfect subtree of 2^level leaves starting at leaf index·2^level. */
  node?: { level: number; index: number };
  /** What the trusted side says (the chain, the checkpoint record, the stored tree). */
  expected?: string;
  /** What was found or recomputed. */
  actual?: string;
  message: string;
}

export interface AuditReport {
  ok: boolean;
  logId?: string;
  /** Leaves in the stored tree when the audit began: the size it audits. */
  treeSize: number;
  /** Records read and checked (including records not yet folded into the tree). */
  eventsChecked: number;
  /** Records beyond the tree (appended, not yet folded); checked as records only. */
  unfoldedEvents: number;
  checkpointsChecked: number;
  /** True when every checkpoint was also compared with the chain. */
  chainChecked: boolean;
  /** Root recomputed from the records for `treeSize` leaves; absent when records are missing. */
  rootHash?: Hex;
  firstDivergence?: Divergence;
  /** The first divergences in the order found (at most MAX_LISTED_DIVERGENCES). */
  divergences: Divergence[];
  /** All divergences found, including those not listed. */
  divergenceCount: number;
  startedAt: string;
  durationMs: number;
  eventsPerSecond: number;
}

export interface AuditProgress {
  /** Leaf positions done so far. */
  processed: number;
  /** Positions to do (tree size, or the log's when larger). */
  total: number;
  elapsedMs: number;
  eventsPerSecond: number;
}

export const MAX_LISTED_DIVERGENCES = 25;
