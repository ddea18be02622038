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
import { t, tKey } from "./i18n/i18n";
import { trustedLogFor, type LogIdentity, type LogListEntry, type TrustAnchor } from "../../receipts/trust-anchor";

export type StepId = "log" | "leaf" | "inclusion" | "chain";
export type StepState = "pass" | "fail" | "skipped";

export interface Step {
  id: StepId;
  title: string;
  state: StepState;
  /** What was found, in the console's language; for a failed step, the verifier's reason (English, with the values that differ). */
  detail: string;
  /** A failed step only: what its failure code means, in the console's language. */
  explanation?: string;
}

export interface ReceiptCheck {
  ok: boolean;
  steps: Step[];
  code?: ReceiptErrorCode;
  /** The verifier's own words (English, with the values that differ). */
  reason?: string;
  /** What the code means, in the console's language. */
  explanation?: string;
  receipt?: Receipt;
}

/** A step's name in the console's language. */
export function stepTitle(id: StepId): string {
  return t(`step.${id}`);
}

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
    const detail = state === "fail" ? failure!.reason : state === "skipped" ? t("step.skippedDetail") : details[id] ?? "";
    return { id, title: stepTitle(id), state, detail, ...(state === "fail" ? { explanation: explain(failure!.code) } : {}) };
  });
  return { ok: failedAt === undefined, steps, ...(failure ? { ...failure, explanation: explain(failure.code) } : {}), receipt };
}

function explain(code: ReceiptErrorCode): string {
  return tKey(`receiptError.${code}`);
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
    return result("log", {}, { code: "RECEIPT_MALFORMED", reason: t("step.notJson", { message: (error as Error).message }) });
  }
  let trusted: LogIdentity;
  try {
    const parsed = parseReceipt(input);
    if (!trust) return result("log", {}, { code: "UNTRUSTED_LOG", reason: t("step.noTrustAnchor") }, parsed);
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
  details.inclusion = t("step.inclusionDetail", { length: receipt.inclusionProof.length, index: receipt.entry.index, treeSize: receipt.checkpoint.treeSize, rootHash });
  if (!reader) {
    return result("chain", details, { code: "CHAIN_UNREACHABLE", reason: t("step.noRpc") }, receipt);
  }
  try {
    const verified = await verifyReceipt(input, trust, reader);
    details.chain = t("step.chainDetail", {
      contract: verified.trustedLog.contract,
      chainId: String(verified.chainId),
      treeSize: String(receipt.checkpoint.treeSize),
      rootHash,
      block: String(receipt.checkpoint.blockNumber),
      tx: receipt.checkpoint.txHash,
    });
    return result(undefined, details, undefined, receipt);
  } catch (error) {
    const f = failure(error);
    return result(STEP_OF[f.code], details, f, receipt);
  }
}

function logDetail(log: LogIdentity): string {
  const name = (log as Partial<LogListEntry>).name;
  const where = { logId: log.logId, contract: log.contract, chainId: String(log.chainId) };
  return name ? t("step.logDetailNamed", { ...where, name }) : t("step.logDetail", where);
}

function leafDetail(leafHash: string): string {
  return t("step.leafDetail", { leafHash });
}
