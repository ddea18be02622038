/** Why a receipt failed verification; tests and callers match on `code`. */
export type ReceiptErrorCode =
  | "RECEIPT_MALFORMED"
  | "UNTRUSTED_LOG"
  | "ENVELOPE_MISMATCH"
  | "LEAF_HASH_MISMATCH"
  | "INCLUSION_PROOF_INVALID"
  | "WRONG_CHAIN"
  | "CONTRACT_NOT_FOUND"
  | "ROOT_NOT_ANCHORED"
  | "ROOT_MISMATCH"
  | "CHAIN_UNREACHABLE";

export class ReceiptError extends Error {
  readonly code: ReceiptErrorCode;

  constructor(code: ReceiptErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ReceiptError";
    this.code = code;
  }
}
