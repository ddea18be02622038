/**
 * What every `ledger` command shares: its error type (with the exit code), a
 * call to a running gateway, opening a stopped gateway's databases, and the
 * trust anchor given by options.
 */
import { openStores, type OpenStores, type Stores } from "../server/store/database";
import { upgradeRecordsLayout } from "../server/log/event-log";
import type { Command } from "commander";
import { readLogListFile } from "../server/receipts/load-log-list";
import { singleLogAnchor, TrustAnchorError, type TrustAnchor } from "../server/receipts/trust-anchor";

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

/** How a command is given its trust anchor: a log list file, or one log by its three coordinates. */
export interface TrustOptions {
  trust?: string;
  logId?: string;
  contract?: string;
  chainId?: string;
}

export const NO_TRUST_ANCHOR =
  "no trust anchor: a receipt can name any contract, so only a log you trust can make it valid. Give --trust trusted-logs.json " +
  "(save the log list with `ledger log-list --url http://GATEWAY > trusted-logs.json`, and compare it with the one the log's operator publishes), " +
  "or --log-id ID --contract ADDRESS --chain-id N for one log";

export function withTrustOptions(command: Command, contractHelp = "with --log-id and --chain-id: the trusted log's contract"): Command {
  return command
    .option("--trust <file>", "log list file of the trusted logs (JSON, as `ledger log-list` prints it)")
    .option("--log-id <id>", "with --contract and --chain-id: trust this one log (32 bytes hex)")
    .option("--contract <address>", contractHelp)
    .option("--chain-id <n>", "with --log-id and --contract: the trusted log's chain id");
}

/**
 * The trust anchor the options give, or undefined when they give none. `contractAlone`: a
 * lone --contract is allowed (the audit's own meaning of it) rather than an incomplete triple.
 */
export function trustAnchorFromOptions(options: TrustOptions, contractAlone = false): TrustAnchor | undefined {
  const flags = [options.logId, options.chainId, contractAlone && !options.logId && !options.chainId ? undefined : options.contract];
  const given = flags.filter((f) => f !== undefined).length;
  if (options.trust !== undefined && given > 0) throw new CliError("give either --trust <file> or --log-id/--contract/--chain-id, not both", 2);
  try {
    if (options.trust !== undefined) return readLogListFile(options.trust);
    if (given === 0) return undefined;
    if (given < 3) throw new CliError("--log-id, --contract and --chain-id go together: give all three to trust one log", 2);
    const chainId = /^\d{1,15}$/.test(options.chainId!) ? Number(options.chainId) : options.chainId;
    return singleLogAnchor({ logId: options.logId, contract: options.contract, chainId }, "the log given by --log-id/--contract/--chain-id");
  } catch (error) {
    if (error instanceof TrustAnchorError) throw new CliError(error.message, 2);
    throw error;
  }
}
