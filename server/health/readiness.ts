import type { ChainProbe } from "../chain/chain-probe";

/**
 * Readiness (GET /readyz), apart from liveness (/healthz): whether this gateway
 * should be sent traffic now. Not ready while the chain does not answer (receipts
 * cannot be anchored or checked), while indexing and folding are far behind (over
 * half the backlog at which ingest answers 503, the point where they stop making way
 * for ingest), or while the gateway is closing.
 */

export type NotReadyCode = "CHAIN_UNREACHABLE" | "INDEXING_BEHIND" | "CLOSING";

export interface NotReadyReason {
  code: NotReadyCode;
  message: string;
}

export type Readiness = { ready: true } | { ready: false; reasons: NotReadyReason[] };

export interface ReadinessParameters {
  chain: ChainProbe;
  /** Events acknowledged but not yet both indexed and folded into the tree. */
  backlog: () => number;
  /** INGEST_MAX_BACKLOG: ingest answers 503 beyond it. */
  maxBacklog: number;
  /** True once the gateway has begun to stop, or its database is no longer open. */
  closing: () => boolean;
}

export async function checkReadiness({ chain, backlog, maxBacklog, closing }: ReadinessParameters): Promise<Readiness> {
  const probe = await chain();
  const reasons: NotReadyReason[] = [];
  if (!probe.reachable) reasons.push({ code: "CHAIN_UNREACHABLE", message: `the chain does not answer: ${probe.reason}` });
  const behind = backlog();
  const limit = Math.floor(maxBacklog / 2);
  if (behind > limit) {
    reasons.push({ code: "INDEXING_BEHIND", message: `${behind} events are not yet indexed and in the tree (ready up to ${limit}; ingest is refused beyond ${maxBacklog})` });
  }
  if (closing()) reasons.push({ code: "CLOSING", message: "the gateway is shutting down" });
  return reasons.length === 0 ? { ready: true } : { ready: false, reasons };
}
