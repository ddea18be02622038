/**
 * What every `ledger` command shares: its error type (with the exit code), a
 * call to a running gateway, and opening a stopped gateway's databases.
 */
import { openStores, type OpenStores, type Stores } from "../server/store/database";
import { upgradeRecordsLayout } from "../server/log/event-log";

/** A failure the CLI reports in one line: 1 a refusal or finding, 2 usage or I/O. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2) {
    super(message);
  }
}

export interface GatewayTarget {
  url?: string;
  key?: string;
}

export async function callGateway(target: GatewayTarget, method: string, route: string, body?: unknown): Promise<unknown> {
  if (!target.key) throw new CliError("--key <API key> (or LEDGER_API_KEY) is required with --url", 2);
  let response: Response;
  try {
    response = await fetch(new URL(route, target.url), {
      method,
      headers: { authorization: `Bearer ${target.key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CliError(`cannot reach the gateway at ${target.url}: ${(error as Error).message}`, 2);
  }
  const answer = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) throw new CliError(`the gateway refused (${response.status} ${answer.error?.code ?? ""}): ${answer.error?.message ?? response.statusText}`, 1);
  return answer;
}

/**
 * Runs `work` on the databases in `dataDir` of a stopped gateway, and closes them. A data
 * directory of an older layout is upgraded first, as the gateway's next start would
 * (`onProgress` is told, by default on stderr).
 */
export async function withStores<T>(dataDir: string, work: (stores: Stores) => Promise<T>, onProgress: (message: string) => void = (message) => console.error(message)): Promise<T> {
  let stores: OpenStores;
  try {
    stores = await openStores(dataDir);
  } catch (error) {
    throw new CliError(`${(error as Error).message}; to reach a running gateway use --url and --key`, 2);
  }
  try {
    await upgradeRecordsLayout(stores, onProgress);
    return await work(stores);
  } finally {
    await stores.close();
  }
}
