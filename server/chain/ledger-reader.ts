import { Contract, type JsonRpcProvider } from "ethers";
import type { LedgerReader } from "../receipts/verify-receipt";
import { VERIFIER_ABI } from "./ledger-abi";

/** The chain side of receipt verification, over any JSON-RPC endpoint. */
export function ledgerReader(provider: JsonRpcProvider): LedgerReader {
  return {
    async chainId() {
      return Number((await provider.getNetwork()).chainId);
    },
    async hasCode(address) {
      return (await provider.getCode(address)) !== "0x";
    },
    async rootAt(contract, logId, treeSize) {
      return (await new Contract(contract, VERIFIER_ABI, provider).rootAt(logId, treeSize)) as string;
    },
  };
}
