/**
 * The chain, as `verifyReceipt` needs it (server/receipts/verify-receipt.ts,
 * `LedgerReader`), over raw JSON-RPC with fetch: eth_chainId, eth_getCode, and
 * an eth_call of `rootAt(bytes32,uint256)` encoded by hand, its selector
 * derived from the ABI the gateway itself uses (server/chain/ledger-abi.ts).
 * Errors carry the codes ethers would give (CALL_EXCEPTION, BAD_DATA), which is
 * what verifyReceipt distinguishes.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { LEDGER_ABI } from "../../chain/ledger-abi";
import type { LedgerReader } from "../../receipts/verify-receipt";
import { toHex } from "../../hex";

/** `function rootAt(bytes32 logId, uint256 treeSize) view returns (bytes32)` → `rootAt(bytes32,uint256)`. */
export function canonicalSignature(humanReadable: string): string {
  const match = /^function\s+(\w+)\s*\(([^)]*)\)/.exec(humanReadable.trim());
  if (!match) throw new TypeError(`not a function fragment: ${humanReadable}`);
  const types = match[2]!
    .split(",")
    .map((p) => p.trim().split(/\s+/)[0]!)
    .filter((t) => t.length > 0);
  return `${match[1]}(${types.join(",")})`;
}

/** The 4-byte function selector: keccak-256 of the canonical signature. */
export function functionSelector(humanReadable: string): string {
  return toHex(keccak_256(new TextEncoder().encode(canonicalSignature(humanReadable))).slice(0, 4));
}

const ROOT_AT = LEDGER_ABI.find((f) => f.startsWith("function rootAt("))!;
export const ROOT_AT_SELECTOR = functionSelector(ROOT_AT);

/** Calldata of rootAt(logId, treeSize). */
export function encodeRootAt(logId: string, treeSize: number): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(logId)) throw new TypeError(`log id must be 32 bytes of hex; got ${logId}`);
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new TypeError(`tree size must be a non-negative integer; got ${treeSize}`);
  return ROOT_AT_SELECTOR + logId.slice(2).toLowerCase() + BigInt(treeSize).toString(16).padStart(64, "0");
}

class RpcCallError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface JsonRpcReaderOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export function jsonRpcReader(url: string, options: JsonRpcReaderOptions = {}): LedgerReader & { calls: string[] } {
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  const timeoutMs = options.timeoutMs ?? 10_000;
  let id = 0;
  const calls: string[] = [];
  const rpc = async (method: string, params: unknown[]): Promise<unknown> => {
    calls.push(method);
    const response = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    const body = (await response.json()) as { result?: unknown; error?: { code?: number; message?: string } };
    if (body.error) throw new RpcCallError(`${method}: ${body.error.message ?? "error"} (${body.error.code ?? "?"})`, "CALL_EXCEPTION");
    return body.result;
  };
  return {
    calls,
    async chainId() {
      const result = await rpc("eth_chainId", []);
      if (typeof result !== "string" || !/^0x[0-9a-fA-F]+$/.test(result)) throw new Error(`eth_chainId answered ${JSON.stringify(result)}`);
      return Number(BigInt(result));
    },
    async hasCode(address: string) {
      const result = await rpc("eth_getCode", [address, "latest"]);
      if (typeof result !== "string") throw new Error(`eth_getCode answered ${JSON.stringify(result)}`);
      return result !== "0x" && result !== "0x0";
    },
    async rootAt(contract: string, logId: string, treeSize: number) {
      const result = await rpc("eth_call", [{ to: contract, data: encodeRootAt(logId, treeSize) }, "latest"]);
      if (typeof result !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(result)) {
        throw new RpcCallError(`rootAt answered ${JSON.stringify(result)}, not 32 bytes`, "BAD_DATA");
      }
      return result.toLowerCase();
    },
  };
}
