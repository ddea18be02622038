import type { Logger } from "pino";
import type { Anchorer, Checkpoint } from "../anchor/anchorer";
import type { EventLog } from "../log/event-log";
import { storedTreeReader, type MerkleStoreScanDb, type MerkleTreeStore } from "../merkle";
import type { Database } from "../store/database";
import { WakeableSleep } from "../util/wakeable-sleep";
import type { NoteSigner } from "./note";
import { verifierKey } from "./note";
import { CheckpointSigner, type SignedCheckpoint } from "./note-signer";
import { TileStore } from "./tile-store";

/**
 * The open log (DESIGN.md, "The open log — C2SP for monitors"): the hash tiles, built as
 * the tree grows, and a signed note for each anchored checkpoint. A checkpoint is published
 * (its note served) only once the tiles cover it, so whatever a published note needs, a
 * client can fetch. Only anchored checkpoints are signed: the contract has already checked
 * that each extends the one before.
 */

export interface OpenLogParameters {
  db: Database;
  log: EventLog;
  tree: MerkleTreeStore;
  anchorer: Anchorer;
  signer: NoteSigner;
  origin: string;
  logger: Logger;
  /** How often the tiles catch up with the tree between anchors. */
  idleMs?: number;
}

export class OpenLog {
  private running = false;
  private loop?: Promise<void>;
  private readonly pause = new WakeableSleep();
  private publishing: Promise<unknown> = Promise.resolve();
  lastError?: string;
  private readonly onAnchored = (checkpoint: Checkpoint) => void this.publish(checkpoint).catch(() => undefined);

  private constructor(
    private readonly p: OpenLogParameters,
    readonly tiles: TileStore,
    readonly notes: CheckpointSigner,
  ) {}

  static async start(p: OpenLogParameters): Promise<OpenLog> {
    const treeDb = p.db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as unknown as MerkleStoreScanDb;
    const tiles = await TileStore.open(p.db, storedTreeReader(treeDb), p.tree.size);
    const notes = await CheckpointSigner.open({ db: p.db, signer: p.signer, origin: p.origin, tree: p.tree });
    const openLog = new OpenLog(p, tiles, notes);
    openLog.running = true;
    p.anchorer.on("anchored", openLog.onAnchored);
    const latest = await p.anchorer.checkpoints.latest();
    if (latest) void openLog.publish(latest).catch(() => undefined);
    openLog.loop = openLog.run();
    return openLog;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.p.anchorer.off("anchored", this.onAnchored);
    this.pause.wake();
    await this.loop;
    await this.publishing;
  }

  get origin(): string {
    return this.p.origin;
  }

  /** The note verifier key string (`noteKey` of the log list). */
  get noteKey(): string {
    return verifierKey(this.p.signer);
  }

  get publicKey(): Uint8Array {
    return this.p.signer.publicKey;
  }

  /** The latest published checkpoint: tiles cover it and its note is signed and stored. */
  latest(): SignedCheckpoint | undefined {
    return this.notes.latest();
  }

  /** Builds the tiles up to an anchored checkpoint, then signs it. One at a time, in order. */
  publish(checkpoint: { treeSize: number; rootHash: string }): Promise<SignedCheckpoint> {
    const run = this.publishing.then(async () => {
      await this.tiles.buildTo(checkpoint.treeSize);
      return this.notes.sign(checkpoint.treeSize, checkpoint.rootHash);
    });
    this.publishing = run.catch((error) => {
      this.lastError = (error as Error).message;
      this.p.logger.error({ err: error, treeSize: checkpoint.treeSize }, "cannot publish the checkpoint");
    });
    return run;
  }

  status() {
    return { origin: this.p.origin, noteKey: this.noteKey, publishedSize: this.latest()?.treeSize ?? 0, tiledSize: this.tiles.size, state: this.lastError ?? "ok" };
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (this.tiles.size < this.p.tree.size) await this.tiles.buildTo(this.p.tree.size);
      } catch (error) {
        this.lastError = (error as Error).message;
        this.p.logger.error({ err: error }, "building tiles failed; will retry");
      }
      if (this.running) await this.pause.sleep(this.p.idleMs ?? 1_000);
    }
  }
}
