import { FetchRequest, JsonRpcProvider } from "ethers";

/**
 * A JSON-RPC provider that fails fast: a bounded timeout per call and no
 * endless network detection, so an unreachable chain shows up as an error the
 * anchorer can back off from, rather than a hung promise. No answer is served
 * from ethers' short-lived request cache (250 ms by default): the anchorer decides
 * from what the chain holds now, and a cached "no receipt yet" read just after a
 * broadcast made it take its own mined anchor for a replaced one.
 */
export function connectProvider(rpcUrl: string, options: { timeoutMs?: number; chainId?: number } = {}): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl);
  request.timeout = options.timeoutMs ?? 10_000;
  return new JsonRpcProvider(request, options.chainId, {
    staticNetwork: options.chainId !== undefined,
    batchMaxCount: 1,
    polling: true,
    pollingInterval: 250,
    cacheTimeout: -1,
  });
}
