import { EventEmitter } from "node:events";
import { Contract, Interface, keccak256, Transaction, type JsonRpcProvider, type TransactionReceipt, type Wallet } from "ethers";
import type { Logger } from "pino";
import { foldLogIntoTree } from "../tree/tree-folder";
import type { EventLog } from "../log/event-log";
import type { DerivedWorkTurns } from "../log/ingest-priority";
import type { MerkleTreeStore } from "../merkle";
import type { Database } from "../store/database";
import { CheckpointStore, type Checkpoint, type InflightAnchor } from "./checkpoint-store";

export type { Checkpoint } from "./checkpoint-store";
import { LEDGER_ABI, LEDGER_ERRORS } from "../chain/ledger-abi";
import { describeChainError, isRevert } from "../chain/chain-errors";
import { toHex } from "../hex";
import { WakeableSleep } from "../util/wakeable-sleep";

/**
 * Publishes the tree's checkpoints to ProvenanceLedger and keeps track of them.
 *
 * Crash safety rests on one rule: the signed transaction is stored before it is
 * broadcast. After any crash the same signed transaction (same nonce, same hash)
 * is looked up or broadcast again, so a checkpoint is never sent twice under two
 * nonces; the contract refuses a non-growing size in any case. A checkpoint is
 * recorded locally only once it has the configured confirmations (and, on a chain
 * that keeps its state in a file, once that file holds it), in the same atomic
 * write that clears the in-flight transaction.
 *
 * Receipts are served from those records, so the chain must keep every one: when
 * it no longer holds some (it lost blocks, or reorganised deeper than the
 * confirmations), exactly those sizes and roots are anchored again, oldest first,
 * before anything newer.
 */

export type AnchorState =
  | "starting"
  | "idle"
  | "batching"
  | "waiting-confirmations"
  | "chain-unreachable"
  | "rejected"
  | "diverged"
  | "stopped";

export interface AnchorStatus {
  state: AnchorState;
  treeSize: number;
  logSize: number;
  anchoredSize: number;
  pendingEvents: number;
  inflight?: { treeSize: number; txHash: string; nonce: number; broadcasts: number };
  lastError?: string;
  lastAnchoredAt?: string;
  retryInMs?: number;
}

export interface AnchorerParameters {
  db: Database;
  log: EventLog;
  tree: MerkleTreeStore;
  provider: JsonRpcProvider;
  wallet: Wallet;
  contractAddress: string;
  chainId: number;
  logId: string;
  confirmations: number;
  maxEvents: number;
  maxAgeMs: number;
  pollMs: number;
  maxBackoffMs: number;
  logger: Logger;
  now?: () => number;
  /** Makes way for ingest while folding (server/log/ingest-priority.ts); without it, folding never waits. */
  turns?: DerivedWorkTurns;
  /** Whether the chain can no longer lose a mined transaction (the embedded chain: its state file holds it); without it, confirmations suffice. */
  durability?: AnchorDurability;
}

/** A chain-specific check that a mined anchor survives the chain's own crash. */
export interface AnchorDurability {
  holds(txHash: string, blockHash: string): Promise<boolean>;
}

export class Anchorer extends EventEmitter {
  readonly checkpoints: CheckpointStore;
  private readonly contract: Contract;
  /** The calls, and the errors, so that a refusal is reported by name. */
  private readonly iface = new Interface([...LEDGER_ABI, ...LEDGER_ERRORS]);
  private readonly p: AnchorerParameters;
  private readonly now: () => number;
  private running = false;
  private loop?: Promise<void>;
  private readonly pause = new WakeableSleep();
  private backoffMs = 0;
  private currentState: AnchorState = "starting";
  private lastError?: string;
  private anchoredSize = 0;
  private lastAnchoredAt?: string;
  private inflight?: InflightAnchor;
  /** The in-flight transaction last reported as vanished from the node, until the node knows it again. */
  private vanishedReported?: string;
  /** Tail of the queue of passes (runOnce); never rejects. */
  private passes: Promise<void> = Promise.resolve();
  /** The log's size when the latest pass began. */
  private logSizeAtPass = 0;
  // Appends wake the loop only once a full batch has arrived since the latest pass began;
  // smaller ones are folded and anchored on the next poll. Waking whenever a full batch
  // merely *waits* made every small commit of a backlog start a pass with its RPC calls.
  private readonly onAppended = () => {
    if (this.p.log.size - this.logSizeAtPass >= this.p.maxEvents) this.pause.wake();
  };

  constructor(parameters: AnchorerParameters) {
    super();
    this.p = parameters;
    this.now = parameters.now ?? Date.now;
    this.checkpoints = new CheckpointStore(parameters.db);
    this.contract = new Contract(parameters.contractAddress, this.iface, parameters.provider);
  }

  async start(): Promise<void> {
    this.inflight = await this.checkpoints.inflight();
    await this.refreshAnchored();
    this.running = true;
    this.p.log.on("appended", this.onAppended);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.p.log.off("appended", this.onAppended);
    this.pause.wake();
    await this.loop;
    this.currentState = "stopped";
  }

  status(): AnchorStatus {
    const treeSize = this.p.tree.size;
    return {
      state: this.currentState,
      treeSize,
      logSize: this.p.log.size,
      anchoredSize: this.anchoredSize,
      pendingEvents: this.p.log.size - this.anchoredSize,
      inflight: this.inflight && {
        treeSize: this.inflight.treeSize,
        txHash: this.inflight.txHash,
        nonce: this.inflight.nonce,
        broadcasts: this.inflight.broadcasts,
      },
      lastError: this.lastError,
      lastAnchoredAt: this.lastAnchoredAt,
      retryInMs: this.backoffMs || undefined,
    };
  }

  /** Runs one pass now, queued behind any pass in progress (tests use it to avoid waiting a poll interval). */
  runOnce(): Promise<void> {
    return this.pass();
  }

  /** One pass: fold the log into the tree, then anchor, confirm or wait. `turns`: make way for ingest while folding. */
  private pass(turns?: DerivedWorkTurns): Promise<void> {
    // One pass at a time: two concurrent folds would both read tree.size and append the same leaves twice.
    const pass = this.passes.then(async () => {
      const { log, tree } = this.p;
      this.logSizeAtPass = log.size;
      await foldLogIntoTree(log, tree, turns && (() => turns.take(() => log.size - tree.size, () => !this.running)));
      if (tree.size >= log.size) turns?.caughtUp();
      await this.step();
    });
    this.passes = pass.catch(() => undefined);
    return pass;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = this.p.pollMs;
      try {
        await this.pass(this.p.turns);
        this.backoffMs = 0;
        if (this.currentState === "chain-unreachable" || this.currentState === "rejected") this.currentState = "idle";
      } catch (error) {
        delay = this.onFailure(error);
      }
      if (this.running) await this.pause.sleep(delay);
    }
  }

  private onFailure(error: unknown): number {
    const rejected = isRevert(error);
    const message = describeChainError(error, this.iface);
    const state: AnchorState = (error as { diverged?: boolean }).diverged ? "diverged" : rejected ? "rejected" : "chain-unreachable";
    if (state !== this.currentState || message !== this.lastError) {
      if (state !== "diverged") {
        this.p.logger.warn({ state, err: message }, rejected ? "anchor refused by the contract" : "chain unreachable; will retry");
        this.emit("problem", { state, message });
      }
    }
    this.currentState = state;
    this.lastError = message;
    this.backoffMs = Math.min(this.p.maxBackoffMs, this.backoffMs ? this.backoffMs * 2 : this.p.pollMs);
    return this.backoffMs;
  }


  private async step(): Promise<void> {
    if (this.inflight) {
      await this.advanceInflight(this.inflight);
      return;
    }
    const [chainSizeBig, chainRoot] = (await this.contract.latest(this.p.logId)) as [bigint, string];
    const chainSize = Number(chainSizeBig);
    await this.checkAgreesWithChain(chainSize, chainRoot);
    const lost = await this.lostFromChain(chainSize);
    if (lost) {
      await this.beginAnchor(chainSize, lost.treeSize, lost.rootHash);
      return;
    }
    const pending = this.p.tree.size - chainSize;
    if (pending <= 0) {
      this.currentState = "idle";
      return;
    }
    const oldest = await this.p.log.get(chainSize);
    const ageMs = oldest ? this.now() - Date.parse(oldest.envelope.receivedAt) : 0;
    if (pending < this.p.maxEvents && ageMs < this.p.maxAgeMs) {
      this.currentState = "batching";
      return;
    }
    await this.beginAnchor(chainSize, this.p.tree.size);
  }

  /** The chain is the authority: our tree must extend what it holds, or we stop anchoring. */
  private async checkAgreesWithChain(chainSize: number, chainRoot: string): Promise<void> {
    if (chainSize > this.p.tree.size) {
      this.diverged(`the chain holds a checkpoint of ${chainSize} leaves but the local tree has only ${this.p.tree.size}`);
    }
    if (chainSize > 0) {
      const localRoot = toHex(await this.p.tree.root(chainSize));
      if (localRoot !== chainRoot.toLowerCase()) {
        this.diverged(`the chain's root for ${chainSize} leaves is ${chainRoot}, the local tree's is ${localRoot}`);
      }
    }
  }

  /**
   * The oldest recorded checkpoint the chain no longer holds, to anchor again before anything newer.
   * Receipts may have been served for it, so it keeps its size and root; it is marked lost (no new
   * receipt uses it) until its next confirmation replaces the record.
   */
  private async lostFromChain(chainSize: number): Promise<Checkpoint | undefined> {
    const missing = await this.checkpoints.above(chainSize);
    if (missing.length === 0) return undefined;
    const newlyLost = missing.filter((c) => !c.lost);
    if (newlyLost.length > 0) {
      await this.checkpoints.markLost(newlyLost, chainSize, new Date(this.now()).toISOString());
      const sizes = newlyLost.map((c) => c.treeSize);
      this.p.logger.warn({ chainSize, lost: sizes }, "confirmed checkpoints vanished from the chain; anchoring exactly those again, in order");
      this.emit("problem", {
        state: "reorganised",
        message: `confirmed checkpoints of ${sizes.join(", ")} leaves vanished from the chain (it holds ${chainSize}); anchoring them again, in order`,
      });
      await this.refreshAnchored();
    }
    return missing[0];
  }

  /** anchoredSize: the newest checkpoint the chain is known to hold. */
  private async refreshAnchored(): Promise<void> {
    const held = await this.checkpoints.latestHeld();
    this.anchoredSize = held?.treeSize ?? 0;
    this.lastAnchoredAt = held?.anchoredAt;
  }

  private diverged(message: string): never {
    // Checked again on every pass while log and chain disagree: report it when it begins, not each time.
    if (this.currentState !== "diverged") {
      this.p.logger.error({ err: message }, "local log diverges from the chain; anchoring stopped");
      this.emit("problem", { state: "diverged", message });
    }
    this.currentState = "diverged";
    this.lastError = message;
    throw Object.assign(new Error(message), { diverged: true });
  }

  /** `recordedRoot`: the root of a checkpoint anchored before (receipts carry it); the tree must still give it. */
  private async beginAnchor(previousTreeSize: number, treeSize: number, recordedRoot?: string): Promise<void> {
    const { tree, wallet, provider, logId, contractAddress, chainId } = this.p;
    const rootHash = toHex(await tree.root(treeSize));
    if (recordedRoot !== undefined && recordedRoot.toLowerCase() !== rootHash) {
      this.diverged(`the recorded checkpoint of ${treeSize} leaves has root ${recordedRoot}, the local tree's is ${rootHash}`);
    }
    const proof = previousTreeSize === 0 ? [] : (await tree.consistencyProof(previousTreeSize, treeSize)).map(toHex);
    const data = this.iface.encodeFunctionData("anchor", [logId, treeSize, rootHash, proof]);
    const request = { to: contractAddress, from: wallet.address, data };
    // Simulate first: a refusal (paused, wrong anchorer…) surfaces as a decoded error, not a burnt transaction.
    await provider.call(request);
    const [nonce, gas, fees] = await Promise.all([
      this.accountNonce("pending"),
      provider.estimateGas(request),
      provider.getFeeData(),
    ]);
    const rawTx = await wallet.signTransaction({
      type: 2,
      chainId,
      to: contractAddress,
      data,
      nonce,
      gasLimit: (gas * 12n) / 10n,
      maxFeePerGas: fees.maxFeePerGas ?? fees.gasPrice,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 0n,
    });
    const inflight: InflightAnchor = {
      treeSize,
      rootHash,
      previousTreeSize,
      nonce,
      rawTx,
      txHash: keccak256(rawTx),
      createdAt: new Date(this.now()).toISOString(),
      broadcasts: 0,
    };
    await this.checkpoints.saveInflight(inflight);
    this.inflight = inflight;
    this.p.logger.info({ treeSize, previousTreeSize, txHash: inflight.txHash }, "anchoring checkpoint");
    await this.broadcast(inflight);
  }

  /** Straight from the node: ethers' provider caches identical calls briefly, which would reuse a nonce. */
  private async accountNonce(blockTag: "latest" | "pending"): Promise<number> {
    return Number(await this.p.provider.send("eth_getTransactionCount", [this.p.wallet.address, blockTag]));
  }

  private async broadcast(inflight: InflightAnchor): Promise<void> {
    inflight.broadcasts += 1;
    try {
      await this.p.provider.broadcastTransaction(inflight.rawTx);
    } catch (error) {
      // Already in the pool or mined: that is what we wanted.
      if (!/already known|already imported|nonce too low|AlreadyKnown/i.test(String((error as Error).message))) throw error;
    }
    this.currentState = "waiting-confirmations";
  }

  private async advanceInflight(inflight: InflightAnchor): Promise<void> {
    const { provider, wallet } = this.p;
    let receipt = await provider.getTransactionReceipt(inflight.txHash);
    if (!receipt) {
      const accountNonce = await this.accountNonce("latest");
      if (accountNonce < inflight.nonce) {
        // Transactions of ours before this one vanished (a reorganisation deeper than the confirmations,
        // or a chain that lost blocks). If the pool holds them again (nodes put reorganised transactions
        // back), this one follows them: wait. Otherwise it can never be mined: the next pass forgets the
        // checkpoints that vanished and anchors again from what the chain holds.
        if ((await this.accountNonce("pending")) > inflight.nonce) {
          this.currentState = "waiting-confirmations";
          return;
        }
        await this.dropInflight(
          `anchor transaction ${inflight.txHash} (nonce ${inflight.nonce}) can no longer be mined: the chain holds the anchorer's transactions only up to nonce ${accountNonce - 1}`,
        );
        return;
      }
      if (accountNonce === inflight.nonce) {
        // Not yet mined, dropped from the pool, or undone by a reorganisation: send the same bytes again.
        if (inflight.broadcasts > 0) {
          const known = await provider.send("eth_getTransactionByHash", [inflight.txHash]);
          if (!known && this.vanishedReported !== inflight.txHash) {
            // Sent before, and now unknown to the node: say so (once, while it stays unknown), rather than retry in silence.
            const message = `anchor transaction ${inflight.txHash} (nonce ${inflight.nonce}) vanished from the node (dropped from its pool, or reorganised away); broadcasting it again`;
            this.lastError = message;
            this.p.logger.warn({ err: message }, "anchor transaction vanished; broadcasting it again");
            this.emit("problem", { state: "dropped", message });
          }
          this.vanishedReported = known ? undefined : inflight.txHash;
        }
        await this.broadcast(inflight);
        return;
      }
      // The nonce is used: by this very transaction, mined since its receipt was read, or by another one.
      receipt = await provider.getTransactionReceipt(inflight.txHash);
      if (!receipt) {
        // Our nonce was used by another transaction: this one can never be mined.
        await this.dropInflight(`anchor transaction ${inflight.txHash} was replaced (nonce ${inflight.nonce} used by another transaction)`);
        return;
      }
    }
    if (receipt.status !== 1) {
      const reason = await this.revertReason(inflight, receipt.blockNumber);
      const message = `anchor transaction ${inflight.txHash} was mined in block ${receipt.blockNumber} and reverted${reason ? ` (${reason})` : ""}`;
      await this.dropInflight(message);
      // shortMessage: what describeChainError shows in the status and the alert.
      throw Object.assign(new Error(message), { code: "CALL_EXCEPTION", shortMessage: message });
    }
    const head = await provider.getBlockNumber();
    if (head - receipt.blockNumber + 1 < this.p.confirmations) {
      this.currentState = "waiting-confirmations";
      return;
    }
    // Receipts are served from the moment of confirmation: wait until the chain cannot lose it.
    if (this.p.durability && !(await this.p.durability.holds(inflight.txHash, receipt.blockHash))) {
      this.currentState = "waiting-confirmations";
      return;
    }
    await this.confirm(inflight, receipt);
  }

  /** Why a mined anchor reverted: the same call simulated on the state its block left; undefined when that does not tell. */
  private async revertReason(inflight: InflightAnchor, blockNumber: number): Promise<string | undefined> {
    try {
      const tx = Transaction.from(inflight.rawTx);
      await this.p.provider.call({ to: tx.to, from: this.p.wallet.address, data: tx.data, blockTag: blockNumber });
      return undefined;
    } catch (error) {
      return isRevert(error) ? describeChainError(error, this.iface).replace(/^reverted: /, "") : undefined;
    }
  }

  private async confirm(inflight: InflightAnchor, receipt: TransactionReceipt): Promise<void> {
    const onChain = ((await this.contract.rootAt(this.p.logId, inflight.treeSize)) as string).toLowerCase();
    if (onChain !== inflight.rootHash) return; // reorganised away since the receipt was read; look again next pass
    const block = await this.p.provider.getBlock(receipt.blockNumber);
    const checkpoint: Checkpoint = {
      treeSize: inflight.treeSize,
      rootHash: inflight.rootHash,
      txHash: inflight.txHash,
      blockNumber: receipt.blockNumber,
      anchoredAt: new Date(Number(block?.timestamp ?? 0) * 1000).toISOString(),
      confirmedAt: new Date(this.now()).toISOString(),
    };
    await this.checkpoints.confirm(checkpoint);
    this.inflight = undefined;
    await this.refreshAnchored();
    this.currentState = "idle";
    this.lastError = undefined;
    this.p.logger.info({ treeSize: checkpoint.treeSize, txHash: checkpoint.txHash, block: checkpoint.blockNumber }, "checkpoint anchored");
    this.emit("anchored", checkpoint);
  }

  private async dropInflight(reason: string): Promise<void> {
    await this.checkpoints.clearInflight();
    this.inflight = undefined;
    this.lastError = reason;
    this.p.logger.warn({ err: reason }, "anchor transaction abandoned; will anchor again");
    this.emit("problem", { state: "dropped", message: reason });
  }
}
