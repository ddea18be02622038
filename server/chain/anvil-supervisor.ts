import type { ChildProcess } from "node:child_process";
import type { AnvilNode } from "./anvil";

/**
 * Keeps the embedded chain running: when Anvil exits without being asked to (killed,
 * crashed, out of memory), it is started again from its state file on the same port,
 * so the gateway's provider, and every verifier given its RPC URL, reach it again.
 * Anchoring meanwhile reports the chain unreachable and retries; what the restarted
 * chain lost is anchored again by the anchorer.
 */

export interface SuperviseAnvilParameters {
  first: AnvilNode;
  /** Starts Anvil again (same port, same state file). */
  restart: () => Promise<AnvilNode>;
  /** Says what happened, for the log. */
  report: (message: string) => void;
  /** Delay before the first restart attempt; doubles while restarts fail, up to 5 s. */
  delayMs?: number;
}

const MAX_DELAY_MS = 5_000;

export function superviseAnvil({ first, restart, report, delayMs = 200 }: SuperviseAnvilParameters): AnvilNode {
  let current = first;
  let stopping = false;
  let restarting: Promise<void> | undefined;

  const watch = (node: AnvilNode) => {
    node.process.once("exit", (code, signal) => {
      if (stopping || node !== current) return;
      report(`the embedded chain (Anvil, pid ${node.process.pid}) exited unexpectedly (${signal ?? `code ${code}`}); starting it again from its state file`);
      restarting = keepRestarting();
    });
  };

  const keepRestarting = async () => {
    let delay = delayMs;
    while (!stopping) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping) return;
      try {
        const node = await restart();
        if (stopping) {
          await node.stop();
          return;
        }
        current = node;
        watch(node);
        report(`the embedded chain is running again (pid ${node.process.pid})`);
        return;
      } catch (error) {
        report(`the embedded chain did not start again: ${(error as Error).message}; retrying`);
        delay = Math.min(MAX_DELAY_MS, delay * 2);
      }
    }
  };

  watch(first);
  return {
    rpcUrl: first.rpcUrl,
    get process(): ChildProcess {
      return current.process;
    },
    async stop() {
      stopping = true;
      await restarting;
      await current.stop();
    },
  };
}
