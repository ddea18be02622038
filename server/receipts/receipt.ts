import { z } from "zod";
import type { Envelope } from "../domain/envelope";
import type { Hex } from "../hex";

/** The receipt of DESIGN.md: everything an auditor needs, with nothing but RFC 9162 and an RPC endpoint. */
export interface Receipt {
  version: 1;
  log: { id: Hex; chainId: number; contract: Hex };
  entry: { index: number; envelope: Envelope; leafHash: Hex };
  checkpoint: { treeSize: number; rootHash: Hex; txHash: Hex; blockNumber: number };
  inclusionProof: Hex[];
}

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/, "32 bytes as 0x + 64 lowercase hex digits");
const address = z.string().regex(/^0x[0-9a-f]{40}$/, "an address as 0x + 40 lowercase hex digits");
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Shape check of a receipt from anywhere (attacker-controlled). Extra fields are
 * allowed, as DESIGN.md promises receipts may grow; the envelope is kept as
 * given, since its exact content is what the leaf hash covers.
 */
export const receiptSchema = z.object({
  version: z.literal(1),
  log: z.object({ id: hex32, chainId: z.number().int().positive(), contract: address }),
  entry: z.object({
    index: count,
    envelope: z.record(z.string(), z.unknown()),
    leafHash: hex32,
  }),
  checkpoint: z.object({ treeSize: count.min(1), rootHash: hex32, txHash: hex32, blockNumber: count }),
  inclusionProof: z.array(hex32).max(64),
});
