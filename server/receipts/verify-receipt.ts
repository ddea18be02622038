import { canonicalUtf8 } from "../domain/envelope";
import { hashLeaf, rootFromInclusionProof } from "../merkle";
import { fromHex32, toHex, type Hex } from "../hex";
import { ReceiptError } from "./receipt-error";
import { receiptSchema, type Receipt } from "./receipt";

/**
 * Receipt verification, split as sigstore-js splits it: `verifyReceiptProof` is
 * pure (no I/O) and checks everything the receipt proves about itself;
 * `verifyReceipt` adds the one question only the chain can answer, through a
 * small reader interface the caller supplies.
 */

export interface ProofCheck {
  receipt: Receipt;
  leafHash: Hex;
  rootHash: Hex;
}

/** Parses and checks the envelope, leaf hash and inclusion proof; throws ReceiptError. */
export function verifyReceiptProof(input: unknown): ProofCheck {
  const parsed = receiptSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ReceiptError("RECEIPT_MALFORMED", `receipt is malformed at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const receipt = parsed.data as unknown as Receipt;
  const { entry, checkpoint, log } = receipt;
  if (entry.index >= checkpoint.treeSize) {
    throw new ReceiptError("RECEIPT_MALFORMED", `entry index ${entry.index} is outside a tree of ${checkpoint.treeSize} leaves`);
  }
  if (entry.envelope.index !== entry.index || entry.envelope.log !== log.id) {
    throw new ReceiptError(
      "ENVELOPE_MISMATCH",
      `the envelope says log ${String(entry.envelope.log)} index ${String(entry.envelope.index)}, the receipt log ${log.id} index ${entry.index}`,
    );
  }
  let leafBytes: Uint8Array;
  try {
    // The envelope exactly as given, not the schema's copy: that copy drops an own `__proto__` key,
    // so a receipt carrying extra content under it would hash as the genuine one and verify.
    leafBytes = canonicalUtf8((input as { entry: { envelope: unknown } }).entry.envelope);
  } catch (error) {
    throw new ReceiptError("RECEIPT_MALFORMED", "the envelope cannot be canonicalised (RFC 8785)", { cause: error });
  }
  const leafHash = toHex(hashLeaf(leafBytes));
  if (leafHash !== entry.leafHash) {
    throw new ReceiptError("LEAF_HASH_MISMATCH", `leaf hash of the envelope is ${leafHash}, the receipt says ${entry.leafHash}`);
  }
  const proof = receipt.inclusionProof.map((h) => fromHex32(h)!);
  let computed: Hex;
  try {
    computed = toHex(rootFromInclusionProof(entry.index, checkpoint.treeSize, fromHex32(leafHash)!, proof));
  } catch (error) {
    throw new ReceiptError("INCLUSION_PROOF_INVALID", `inclusion proof is malformed: ${(error as Error).message}`, { cause: error });
  }
  if (computed !== checkpoint.rootHash) {
    throw new ReceiptError(
      "INCLUSION_PROOF_INVALID",
      `inclusion proof leads to root ${computed}, the checkpoint says ${checkpoint.rootHash}`,
    );
  }
  return { receipt, leafHash, rootHash: computed };
}

/** What `verifyReceipt` needs to ask the chain. */
export interface LedgerReader {
  chainId(): Promise<number>;
  hasCode(address: string): Promise<boolean>;
  /** ProvenanceLedger.rootAt; the zero hash when that size was never anchored. */
  rootAt(contract: string, logId: string, treeSize: number): Promise<string>;
}

export interface VerifiedReceipt extends ProofCheck {
  chainId: number;
}

const ZERO = "0x" + "00".repeat(32);

export async function verifyReceipt(input: unknown, reader: LedgerReader): Promise<VerifiedReceipt> {
  const check = verifyReceiptProof(input);
  const { log, checkpoint } = check.receipt;
  const chainId = await ask(() => reader.chainId());
  if (chainId !== log.chainId) {
    throw new ReceiptError("WRONG_CHAIN", `the RPC endpoint serves chain ${chainId}, the receipt is for chain ${log.chainId}`);
  }
  if (!(await ask(() => reader.hasCode(log.contract)))) {
    throw new ReceiptError("CONTRACT_NOT_FOUND", `no contract at ${log.contract} on chain ${chainId}`);
  }
  let onChain: string;
  try {
    onChain = (await reader.rootAt(log.contract, log.id, checkpoint.treeSize)).toLowerCase();
  } catch (error) {
    if ((error as { code?: string }).code === "CALL_EXCEPTION" || (error as { code?: string }).code === "BAD_DATA") {
      throw new ReceiptError("CONTRACT_NOT_FOUND", `the contract at ${log.contract} does not answer rootAt(); is it a ProvenanceLedger?`, { cause: error });
    }
    throw new ReceiptError("CHAIN_UNREACHABLE", `cannot reach the chain: ${(error as Error).message}`, { cause: error });
  }
  if (onChain === ZERO) {
    throw new ReceiptError("ROOT_NOT_ANCHORED", `log ${log.id} has no checkpoint of ${checkpoint.treeSize} leaves on chain ${chainId}`);
  }
  if (onChain !== checkpoint.rootHash) {
    throw new ReceiptError(
      "ROOT_MISMATCH",
      `the chain's root for ${checkpoint.treeSize} leaves is ${onChain}, the receipt says ${checkpoint.rootHash}`,
    );
  }
  return { ...check, chainId };
}

async function ask<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new ReceiptError("CHAIN_UNREACHABLE", `cannot reach the chain: ${(error as Error).message}`, { cause: error });
  }
}
