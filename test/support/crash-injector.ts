/**
 * Preloaded into a gateway child process (`node -r ... -r crash-injector.ts scripts/start.ts`)
 * to SIGKILL the process itself at an exact moment, the `CRASH_ON_HIT`-th time it
 * passes `CRASH_POINT`:
 *
 * - `log-written`          a batch of events is durably written; no answer has been sent yet
 * - `tree-appended`        leaves were folded into the Merkle tree; not yet anchored
 * - `inflight-saved`       the signed anchor transaction is stored; not yet broadcast
 * - `anchor-broadcast`     the anchor transaction was broadcast; its confirmation not yet recorded
 * - `checkpoint-confirmed` the confirmed checkpoint was recorded; in-memory state not yet updated
 *
 * It wraps the real methods and changes nothing else; the kill is a real SIGKILL
 * (no handler runs, no buffer is flushed). Before it, one line goes to stderr
 * synchronously: `crash-injector: SIGKILL at <point> (hit <n>)`.
 */
import { writeSync } from "node:fs";
import { EventLog } from "../../server/log/event-log";
import { MerkleTreeStore } from "../../server/merkle";
import { CheckpointStore } from "../../server/anchor/checkpoint-store";
import { Anchorer } from "../../server/anchor/anchorer";

export const CRASH_POINTS = ["log-written", "tree-appended", "inflight-saved", "anchor-broadcast", "checkpoint-confirmed"] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const point = process.env.CRASH_POINT as CrashPoint | undefined;
const onHit = Number(process.env.CRASH_ON_HIT ?? "1");
let hits = 0;

function reached(at: CrashPoint): void {
  if (at !== point) return;
  hits += 1;
  if (hits < onHit) return;
  writeSync(2, `crash-injector: SIGKILL at ${at} (hit ${hits})\n`);
  process.kill(process.pid, "SIGKILL");
}

/** Wraps an async method so that `at` is reached after it resolves. */
function after(proto: object, method: string, at: CrashPoint): void {
  const target = proto as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = target[method];
  if (typeof original !== "function") throw new Error(`crash-injector: no method ${method} to wrap`);
  target[method] = async function (this: unknown, ...args: unknown[]) {
    const result = await original.apply(this, args);
    reached(at);
    return result;
  };
}

if (point) {
  if (!(CRASH_POINTS as readonly string[]).includes(point)) throw new Error(`crash-injector: unknown CRASH_POINT ${point}`);
  // "appended" is emitted synchronously right after a synced batch settles its requests' promises,
  // before any continuation (the HTTP answer) can run.
  const emit = EventLog.prototype.emit;
  EventLog.prototype.emit = function (this: EventLog, event: string | symbol, ...args: unknown[]) {
    if (event === "appended") reached("log-written");
    return emit.call(this, event, ...args);
  };
  after(MerkleTreeStore.prototype, "append", "tree-appended");
  after(CheckpointStore.prototype, "saveInflight", "inflight-saved");
  after(Anchorer.prototype, "broadcast", "anchor-broadcast");
  after(CheckpointStore.prototype, "confirm", "checkpoint-confirmed");
}
