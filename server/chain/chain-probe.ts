/**
 * Whether the chain answers, asked cheaply for readiness checks (GET /readyz):
 * one `eth_blockNumber` with a short timeout, its answer kept for a moment, and
 * callers arriving while one is under way wait for that one. A flood of probes thus
 * costs the chain at most one call per `cacheMs` (plus `timeoutMs` while it hangs).
 *
 * Its own plain request rather than the anchorer's provider: a paused node leaves a
 * provider call pending for minutes, and the probe must give up after `timeoutMs`
 * (the abort closes the connection).
 */

export type ChainProbeResult = { reachable: true; blockNumber: number } | { reachable: false; reason: string };

export interface ChainProbeParameters {
  rpcUrl: string;
  /** Longest wait for the answer (default 1,000 ms). */
  timeoutMs?: number;
  /** How long an answer, good or bad, is reused (default 2,000 ms). */
  cacheMs?: number;
  now?: () => number;
}

export type ChainProbe = () => Promise<ChainProbeResult>;

export function cachedChainProbe({ rpcUrl, timeoutMs = 1_000, cacheMs = 2_000, now = Date.now }: ChainProbeParameters): ChainProbe {
  const { url, headers } = requestTarget(rpcUrl);
  let last: { at: number; result: ChainProbeResult } | undefined;
  let running: Promise<ChainProbeResult> | undefined;
  const ask = async (): Promise<ChainProbeResult> => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers,
        body: '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const answer = (await response.json().catch(() => undefined)) as { result?: unknown; error?: { message?: string } } | undefined;
      if (typeof answer?.result === "string" && /^0x[0-9a-f]+$/i.test(answer.result)) return { reachable: true, blockNumber: Number(answer.result) };
      return { reachable: false, reason: `eth_blockNumber answered HTTP ${response.status}${answer?.error?.message ? `: ${answer.error.message}` : " without a block number"}` };
    } catch (error) {
      const name = (error as Error).name;
      return { reachable: false, reason: name === "TimeoutError" ? `no answer to eth_blockNumber within ${timeoutMs} ms` : `eth_blockNumber failed: ${describe(error)}` };
    }
  };
  return () => {
    if (last && now() - last.at < cacheMs) return Promise.resolve(last.result);
    running ??= ask().then((result) => {
      last = { at: now(), result };
      running = undefined;
      return result;
    });
    return running;
  };
}

/** fetch refuses a URL with credentials in it: they go to an Authorization header (an RPC_URL may carry them). */
function requestTarget(rpcUrl: string): { url: string; headers: Record<string, string> } {
  const url = new URL(rpcUrl);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  return { url: url.toString(), headers };
}

/** The cause's message (fetch's own says only "fetch failed"), never the URL, which may hold credentials. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
