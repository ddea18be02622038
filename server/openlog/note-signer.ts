import { SYNCED, indexKey, type Database } from "../store/database";
import { verifyConsistency, type MerkleTreeStore } from "../merkle";
import { OpenLogError } from "./errors";
import { formatCheckpoint, signNote, type NoteSigner } from "./note";

/**
 * Signs checkpoint notes, and keeps every note it signed (sublevel `notes`: 16-hex tree size
 * → { treeSize, rootHash, note }), synced before the note is served. A split view needs two
 * signed notes that disagree; so before signing it checks the new checkpoint against the
 * tree and against the signed neighbours on both sides (consistency proofs from our tree,
 * verified), and refuses — INCONSISTENT_CHECKPOINT — rather than sign. The callers only
 * offer anchored checkpoints, which the contract already holds consistent.
 */

export interface SignedCheckpoint {
  treeSize: number;
  /** 0x-prefixed hex. */
  rootHash: string;
  note: string;
}

export class CheckpointSigner {
  private readonly store;
  private latestSigned?: SignedCheckpoint;
  private signing: Promise<unknown> = Promise.resolve();

  private constructor(db: Database, private readonly signer: NoteSigner, private readonly origin: string, private readonly tree: MerkleTreeStore) {
    this.store = db.sublevel<string, string>("notes", { valueEncoding: "utf8" });
  }

  static async open(p: { db: Database; signer: NoteSigner; origin: string; tree: MerkleTreeStore }): Promise<CheckpointSigner> {
    const notes = new CheckpointSigner(p.db, p.signer, p.origin, p.tree);
    notes.latestSigned = await notes.neighbour(Number.MAX_SAFE_INTEGER, "below");
    return notes;
  }

  /** The latest signed checkpoint: what /v1/log/checkpoint serves. */
  latest(): SignedCheckpoint | undefined {
    return this.latestSigned;
  }

  async at(treeSize: number): Promise<SignedCheckpoint | undefined> {
    const value = await this.store.get(indexKey(treeSize));
    return value === undefined ? undefined : (JSON.parse(value) as SignedCheckpoint);
  }

  /** Signs (treeSize, rootHash) unless already signed; one at a time. */
  sign(treeSize: number, rootHash: string): Promise<SignedCheckpoint> {
    const run = this.signing.then(() => this.signNow(treeSize, rootHash.toLowerCase()));
    this.signing = run.catch(() => undefined);
    return run;
  }

  private async signNow(treeSize: number, rootHash: string): Promise<SignedCheckpoint> {
    const refuse = (why: string) =>
      new OpenLogError({ code: "INCONSISTENT_CHECKPOINT", treeSize, found: rootHash, message: `refusing to sign checkpoint ${treeSize} ${rootHash}: ${why}` });
    const existing = await this.at(treeSize);
    if (existing) {
      if (existing.rootHash !== rootHash) throw refuse(`size ${treeSize} was signed with root ${existing.rootHash}`);
      return existing;
    }
    if (treeSize > this.tree.size) throw refuse(`the tree has only ${this.tree.size} leaves`);
    const root = Buffer.from(await this.tree.root(treeSize));
    if ("0x" + root.toString("hex") !== rootHash) throw refuse(`the tree's root at that size is 0x${root.toString("hex")}`);
    for (const other of [await this.neighbour(treeSize, "below"), await this.neighbour(treeSize, "above")]) {
      if (!other) continue;
      const [small, large] = other.treeSize < treeSize ? [other, { treeSize, rootHash }] : [{ treeSize, rootHash }, other];
      if (large.treeSize > this.tree.size) throw refuse(`signed checkpoint ${large.treeSize} is beyond the tree`);
      const proof = await this.tree.consistencyProof(small.treeSize, large.treeSize);
      if (!verifyConsistency(small.treeSize, large.treeSize, hexBytes(small.rootHash), hexBytes(large.rootHash), proof)) {
        throw refuse(`it is not consistent with signed checkpoint ${other.treeSize} ${other.rootHash}`);
      }
    }
    const note = signNote(formatCheckpoint({ origin: this.origin, treeSize, rootHash: root }), this.signer);
    const signed: SignedCheckpoint = { treeSize, rootHash, note };
    await this.store.put(indexKey(treeSize), JSON.stringify(signed), SYNCED);
    if (!this.latestSigned || treeSize > this.latestSigned.treeSize) this.latestSigned = signed;
    return signed;
  }

  private async neighbour(treeSize: number, side: "below" | "above"): Promise<SignedCheckpoint | undefined> {
    const range = side === "below" ? { lt: indexKey(treeSize), reverse: true, limit: 1 } : { gt: indexKey(treeSize), limit: 1 };
    for await (const value of this.store.values(range)) return JSON.parse(value) as SignedCheckpoint;
    return undefined;
  }
}

function hexBytes(hex: string): Uint8Array {
  return Buffer.from(hex.slice(2), "hex");
}
