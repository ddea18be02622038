/**
 * A receipt checked step by step in the browser, with the gateway's own pure
 * verification code (server/receipts/verify-receipt.ts → RFC 8785 + RFC 9162
 * in server/merkle) and the chain asked directly over JSON-RPC. The gateway's
 * opinion is never consulted: only the receipt, this code and the RPC endpoint.
 */
import { canonicalUtf8 } from "../../domain/envelope";
import { toHex } from "../../hex";
import { hashLeaf } from "../../merkle";
import { ReceiptError, type ReceiptErrorCode } from "../../receipts/receipt-error";
import { verifyReceipt, verifyReceiptProof, type LedgerReader } from "../../receipts/verify-receipt";
import type { Receipt } from "../../receipts/receipt";

export type StepId = "leaf" | "inclusion" | "chain";
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
  leaf: "Leaf hash",
  inclusion: "Inclusion proof",
  chain: "Root on chain",
};

/** Which step a failure belongs to. */
const STEP_OF: Record<ReceiptErrorCode, StepId> = {
  RECEIPT_MALFORMED: "leaf",
  ENVELOPE_MISMATCH: "leaf",
  LEAF_HASH_MISMATCH: "leaf",
  INCLUSION_PROOF_INVALID: "inclusion",
  WRONG_CHAIN: "chain",
  CONTRACT_NOT_FOUND: "chain",
  ROOT_NOT_ANCHORED: "chain",
  ROOT_MISMATCH: "chain",
  CHAIN_UNREACHABLE: "chain",
};

const ORDER: StepId[] = ["leaf", "inclusion", "chain"];

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

/** Parses and checks a receipt given as text; `reader` answers the chain step (see json-rpc-reader.ts). */
export async function checkReceipt(text: string, reader: LedgerReader | undefined): Promise<ReceiptCheck> {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    return result("leaf", {}, { code: "RECEIPT_MALFORMED", reason: `The receipt is not JSON: ${(error as Error).message}` });
  }
  let proof: ReturnType<typeof verifyReceiptProof>;
  try {
    proof = verifyReceiptProof(input);
  } catch (error) {
    const f = failure(error);
    const step = STEP_OF[f.code];
    const details: Partial<Record<StepId, string>> = {};
    if (step === "inclusion") details.leaf = leafDetail(toHex(hashLeaf(canonicalUtf8((input as Receipt).entry.envelope))));
    return result(step, details, f);
  }
  const { receipt, leafHash, rootHash } = proof;
  const details: Partial<Record<StepId, string>> = {
    leaf: leafDetail(leafHash),
    inclusion:
      `The ${receipt.inclusionProof.length}-hash proof for entry ${receipt.entry.index} of a ${receipt.checkpoint.treeSize}-leaf tree ` +
      `leads to root ${rootHash}, the checkpoint's root.`,
  };
  if (!reader) {
    return result("chain", details, { code: "CHAIN_UNREACHABLE", reason: "No RPC endpoint was given, so the root could not be compared with the chain." }, receipt);
  }
  try {
    const verified = await verifyReceipt(input, reader);
    details.chain =
      `The contract ${receipt.log.contract} on chain ${verified.chainId} answers rootAt(log, ${receipt.checkpoint.treeSize}) = ${rootHash}, ` +
      `the checkpoint's root (anchored in block ${receipt.checkpoint.blockNumber}, transaction ${receipt.checkpoint.txHash}).`;
    return result(undefined, details, undefined, receipt);
  } catch (error) {
    return result("chain", details, failure(error), receipt);
  }
}

function leafDetail(leafHash: string): string {
  return `SHA-256(0x00 ‖ RFC 8785 canonical envelope) = ${leafHash}, as the receipt says.`;
}
