import { canonicalUtf8 } from "../domain/envelope";
import { hashLeaf, rootFromInclusionProof } from "../merkle";
import { fromHex32, toHex, type Hex } from "../hex";
import { ReceiptError } from "./receipt-error";
import { receiptSchema, type Receipt } from "./receipt";
import { trustedLogFor, type LogIdentity, type TrustAnchor } from "./trust-anchor";

/**
 * Receipt verification, split as sigstore-js splits it: `verifyReceiptProof` is
 * pure (no I/O) and checks everything the receipt proves about itself;
 * `verifyReceipt` adds the one question only the chain can answer, through a
 * small reader interface the caller supplies. Only `verifyReceipt` says a
 * receipt is valid, and only for a log of the trust anchor it is given.
 */

export interface ProofCheck {
  receipt: Receipt;
  leafHash: Hex;
  rootHash: Hex;
}

/** The receipt's shape only (attacker-controlled input); throws ReceiptError RECEIPT_MALFORMED. */
export function parseReceipt(input: unknown): Receipt {
  const parsed = receiptSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ReceiptError("RECEIPT_MALFORMED", `receipt is malformed at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data as unknown as Receipt;
}

/**
 * Parses and checks the envelope, leaf hash and inclusion proof; throws ReceiptError.
 * This is what the receipt proves about itself, not that it is genuine: a forger's
 * receipt passes it. Validity is `verifyReceipt`'s.
 */
export function verifyReceiptProof(input: unknown): ProofCheck {
  const receipt = parseReceipt(input);
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

export interface VerifiedReceipt<T extends LogIdentity = LogIdentity> extends ProofCheck {
  chainId: number;
  /** The trust anchor's entry the receipt's log matched. */
  trustedLog: T;
}

const ZERO = "0x" + "00".repeat(32);

/**
 * Whether a receipt is genuine: its log is one of `trust` (checked first, before the
 * proof and any chain call, so no answer of a contract the receipt merely names can
 * count), its proof holds, and the trusted contract on the trusted chain anchored its root.
 * The trust anchor is required: without one there is no valid receipt.
 */
export async function verifyReceipt<T extends LogIdentity>(input: unknown, trust: TrustAnchor<T>, reader: LedgerReader): Promise<VerifiedReceipt<T>> {
  const trustedLog = trustedLogFor(parseReceipt(input).log, trust);
  const check = verifyReceiptProof(input);
  const { checkpoint } = check.receipt;
  const chainId = await ask(() => reader.chainId());
  // The RPC endpoint is the caller's choice, not the anchor's: it must serve the trusted chain.
  if (chainId !== trustedLog.chainId) {
    throw new ReceiptError("WRONG_CHAIN", `the RPC endpoint serves chain ${chainId}, the receipt and its trusted log are for chain ${trustedLog.chainId}`);
  }
  // From here on the anchor's contract and log id are asked, never the receipt's own words for them.
  const { contract, logId } = trustedLog;
  if (!(await ask(() => reader.hasCode(contract)))) {
    throw new ReceiptError("CONTRACT_NOT_FOUND", `no contract at ${contract} on chain ${chainId}`);
  }
  let onChain: string;
  try {
    onChain = (await reader.rootAt(contract, logId, checkpoint.treeSize)).toLowerCase();
  } catch (error) {
    if ((error as { code?: string }).code === "CALL_EXCEPTION" || (error as { code?: string }).code === "BAD_DATA") {
      throw new ReceiptError("CONTRACT_NOT_FOUND", `the contract at ${contract} does not answer rootAt(); is it a ProvenanceLedger?`, { cause: error });
    }
    throw new ReceiptError("CHAIN_UNREACHABLE", `cannot reach the chain: ${(error as Error).message}`, { cause: error });
  }
  if (onChain === ZERO) {
    throw new ReceiptError("ROOT_NOT_ANCHORED", `log ${logId} has no checkpoint of ${checkpoint.treeSize} leaves on chain ${chainId}`);
  }
  if (onChain !== checkpoint.rootHash) {
    throw new ReceiptError(
      "ROOT_MISMATCH",
      `the chain's root for ${checkpoint.treeSize} leaves is ${onChain}, the receipt says ${checkpoint.rootHash}`,
    );
  }
  return { ...check, chainId, trustedLog };
}

async function ask<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new ReceiptError("CHAIN_UNREACHABLE", `cannot reach the chain: ${(error as Error).message}`, { cause: error });
  }
}
