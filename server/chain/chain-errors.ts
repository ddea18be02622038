import type { Interface } from "ethers";

/** True when the chain answered and refused (a revert), as opposed to not answering. */
export function isRevert(error: unknown): boolean {
  const e = error as { code?: string; diverged?: boolean };
  return e?.code === "CALL_EXCEPTION" || e?.diverged === true;
}

/**
 * One line saying what went wrong with a chain call: a decoded custom error
 * (`ProvenanceLedgerEnforcedPause()`), or the transport failure. Never includes
 * request bodies, which could carry signed transactions.
 */
export function describeChainError(error: unknown, iface?: Interface): string {
  const e = error as { code?: string; data?: string; shortMessage?: string; message?: string; revert?: { name: string; args: unknown[] } };
  if (e?.code === "CALL_EXCEPTION") {
    if (e.revert) return `reverted: ${e.revert.name}(${e.revert.args.map(String).join(", ")})`;
    if (e.data && iface) {
      try {
        const parsed = iface.parseError(e.data);
        if (parsed) return `reverted: ${parsed.name}(${parsed.args.map(String).join(", ")})`;
      } catch {
        /* not one of ours */
      }
    }
    return `reverted: ${e.data && e.data !== "0x" ? e.data : e.shortMessage ?? "no reason"}`;
  }
  return e?.shortMessage ?? e?.message ?? String(error);
}
