/**
 * A receipt checked step by step in the browser, with the gateway's own pure
 * verification code (server/receipts/verify-receipt.ts → RFC 8785 + RFC 9162
 * in server/merkle) and the chain asked directly over JSON-RPC. The gateway's
 * opinion is never consulted: only the receipt, this code, the RPC endpoint and
 * the trust anchor (a log list), which says which logs a receipt may come from.
 */
import { canonicalUtf8 } from "../../domain/envelope";
import { toHex } from "../../hex";
import { hashLeaf } from "../../merkle";
import { ReceiptError, type ReceiptErrorCode } from "../../receipts/receipt-error";
import { parseReceipt, verifyReceipt, verifyReceiptProof, type LedgerReader } from "../../receipts/verify-receipt";
import type { Receipt } from "../../receipts/receipt";
import { trustedLogFor, type LogIdentity, type LogListEntry, type TrustAnchor } from "../../receipts/trust-anchor";

export type StepId = "log" | "leaf" | "inclusion" | "chain";
export type StepState = "pass" | "fail" | "skipped";

export interface Step {
  id: StepId;
  title: string;
  state: StepState;
  detail: string;
}

export interface ReceiptCheck {
  ok: boolean;
  steps: Step[];
  code?: ReceiptErrorCode;
  reason?: string;
  receipt?: Receipt;
}

export const STEP_TITLES: Record<StepId, string> = {
  log: "Trusted log",
  leaf: "Leaf hash",
  inclusion: "Inclusion proof",
  chain: "Root on chain",
};

/** Which step a failure belongs to (a receipt malformed in shape fails at "log" instead: checkReceipt parses it first). */
const STEP_OF: Record<ReceiptErrorCode, StepId> = {
  RECEIPT_MALFORMED: "leaf",
  UNTRUSTED_LOG: "log",
  ENVELOPE_MISMATCH: "leaf",
  LEAF_HASH_MISMATCH: "leaf",
  INCLUSION_PROOF_INVALID: "inclusion",
  WRONG_CHAIN: "chain",
  CONTRACT_NOT_FOUND: "chain",
  ROOT_NOT_ANCHORED: "chain",
  ROOT_MISMATCH: "chain",
  CHAIN_UNREACHABLE: "chain",
};

export const STEP_ORDER: StepId[] = ["log", "leaf", "inclusion", "chain"];
const ORDER = STEP_ORDER;

function result(failedAt: StepId | undefined, details: Partial<Record<StepId, string>>, failure?: { code: ReceiptErrorCode; reason: string }, receipt?: Receipt): ReceiptCheck {
  const failedIndex = failedAt === undefined ? ORDER.length : ORDER.indexOf(failedAt);
  const steps = ORDER.map((id, i): Step => {
    const state: StepState = i < failedIndex ? "pass" : i === failedIndex ? "fail" : "skipped";
    const detail = state === "fail" ? failure!.reason : state === "skipped" ? "Not checked: an earlier step failed." : details[id] ?? "";
    return { id, title: STEP_TITLES[id], state, detail };
  });
  return { ok: failedAt === undefined, steps, ...(failure ?? {}), receipt };
}

function failure(error: unknown): { code: ReceiptErrorCode; reason: string } {
  if (error instanceof ReceiptError) return { code: error.code, reason: error.message };
  throw error;
}

/**
 * Parses and checks a receipt given as text, in verifyReceipt's order: its log against
 * `trust` first (undefined: no trust anchor could be loaded, so nothing is valid), then
 * its proof, then the chain through `reader` (see json-rpc-reader.ts).
 */
export async function checkReceipt(text: string, trust: TrustAnchor | undefined, reader: LedgerReader | undefined): Promise<ReceiptCheck> {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    return result("log", {}, { code: "RECEIPT_MALFORMED", reason: `The receipt is not JSON: ${(error as Error).message}` });
  }
  let trusted: LogIdentity;
  try {
    const parsed = parseReceipt(input);
    if (!trust) return result("log", {}, { code: "UNTRUSTED_LOG", reason: "No trust anchor is loaded, so no log is trusted: load a log list file." }, parsed);
    trusted = trustedLogFor(parsed.log, trust);
  } catch (error) {
    return result("log", {}, failure(error));
  }
  const details: Partial<Record<StepId, string>> = { log: logDetail(trusted) };
  let proof: ReturnType<typeof verifyReceiptProof>;
  try {
    proof = verifyReceiptProof(input);
  } catch (error) {
    const f = failure(error);
    const step = STEP_OF[f.code];
    if (step === "inclusion") details.leaf = leafDetail(toHex(hashLeaf(canonicalUtf8((input as Receipt).entry.envelope))));
    return result(step, details, f);
  }
  const { receipt, leafHash, rootHash } = proof;
  details.leaf = leafDetail(leafHash);
  details.inclusion =
    `The ${receipt.inclusionProof.length}-hash proof for entry ${receipt.entry.index} of a ${receipt.checkpoint.treeSize}-leaf tree ` +
    `leads to root ${rootHash}, the checkpoint's root.`;
  if (!reader) {
    return result("chain", details, { code: "CHAIN_UNREACHABLE", reason: "No RPC endpoint was given, so the root could not be compared with the chain." }, receipt);
  }
  try {
    const verified = await verifyReceipt(input, trust, reader);
    details.chain =
      `The contract ${verified.trustedLog.contract} on chain ${verified.chainId} answers rootAt(log, ${receipt.checkpoint.treeSize}) = ${rootHash}, ` +
      `the checkpoint's root (anchored in block ${receipt.checkpoint.blockNumber}, transaction ${receipt.checkpoint.txHash}).`;
    return result(undefined, details, undefined, receipt);
  } catch (error) {
    const f = failure(error);
    return result(STEP_OF[f.code], details, f, receipt);
  }
}

function logDetail(log: LogIdentity): string {
  const name = (log as Partial<LogListEntry>).name;
  return `Log ${log.logId} at contract ${log.contract} on chain ${log.chainId}${name ? ` (${name})` : ""} is in the trust anchor.`;
}

function leafDetail(leafHash: string): string {
  return `SHA-256(0x00 ‖ RFC 8785 canonical envelope) = ${leafHash}, as the receipt says.`;
}
