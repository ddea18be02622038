import { Contract, FetchRequest, Wallet, isError, type JsonRpcProvider } from "ethers";
import { LEDGER_ABI } from "./ledger-abi";
import { connectProvider } from "./provider";

/**
 * Connecting to a chain the gateway does not run (RPC_URL): check at start that the
 * contract is there and this key anchors this log, so that a misconfiguration fails
 * at once rather than at the first anchor. A chain that does not answer is not a
 * misconfiguration: with CHAIN_ID known the gateway starts anyway — events are
 * accepted, anchoring retries with backoff, and a contract that then refuses the
 * anchor is reported by the anchorer.
 */

export interface ExternalChainSettings {
  rpcUrl: string;
  /** CHAIN_ID; required to start while the chain does not answer. */
  chainId?: number;
  contract: string;
  anchorPrivateKey: string;
  logId: string;
}

export interface ExternalChain {
  provider: JsonRpcProvider;
  wallet: Wallet;
  chainId: number;
  /** False when the gateway started while the chain did not answer (CHAIN_ID given). */
  reachable: boolean;
}

/** A configuration the chain contradicts: never worth starting with. */
export class ChainSetupError extends Error {
  override name = "ChainSetupError";
}

const PROBE_TIMEOUT_MS = 10_000;

export async function connectExternalChain(settings: ExternalChainSettings, warn: (message: string) => void): Promise<ExternalChain> {
  const { rpcUrl, contract, anchorPrivateKey, logId } = settings;
  let chainId = settings.chainId;
  try {
    const served = await probeChainId(rpcUrl);
    if (chainId !== undefined && served !== chainId) throw new ChainSetupError(`RPC_URL serves chain ${served}, CHAIN_ID says ${chainId}`);
    chainId = served;
  } catch (error) {
    if (error instanceof ChainSetupError) throw error;
    if (chainId === undefined) {
      throw new Error(`cannot reach the chain at RPC_URL ${rpcUrl} (${(error as Error).message}); set CHAIN_ID to start without it (anchoring then waits for the chain)`, { cause: error });
    }
    warn(`the chain at ${rpcUrl} does not answer (${(error as Error).message}): starting anyway; events are accepted and anchoring retries until it answers`);
    const provider = connectProvider(rpcUrl, { chainId });
    return { provider, wallet: new Wallet(anchorPrivateKey, provider), chainId, reachable: false };
  }

  const provider = connectProvider(rpcUrl, { chainId });
  const wallet = new Wallet(anchorPrivateKey, provider);
  try {
    await checkAnchoring(provider, contract, logId, wallet.address, chainId);
  } catch (error) {
    provider.destroy();
    throw error;
  }
  return { provider, wallet, chainId, reachable: true };
}

/** eth_chainId with a deadline (ethers' own network detection retries forever). */
export async function probeChainId(rpcUrl: string): Promise<number> {
  const request = new FetchRequest(rpcUrl);
  request.timeout = PROBE_TIMEOUT_MS;
  request.setHeader("content-type", "application/json");
  request.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  const response = await request.send();
  response.assertOk();
  const answer = response.bodyJson as { result?: string; error?: { message?: string } };
  if (typeof answer.result !== "string") throw new Error(`eth_chainId answered ${JSON.stringify(answer.error ?? answer).slice(0, 200)}`);
  return Number(BigInt(answer.result));
}

async function checkAnchoring(provider: JsonRpcProvider, contract: string, logId: string, anchorer: string, chainId: number): Promise<void> {
  if ((await provider.getCode(contract)) === "0x") throw new ChainSetupError(`no contract at CONTRACT_ADDRESS ${contract} on chain ${chainId}`);
  const ledger = new Contract(contract, LEDGER_ABI, provider);
  let info: [string];
  try {
    info = (await ledger.logInfo(logId)) as [string];
  } catch (error) {
    // A revert (UnknownLog) means unregistered; anything else (the node went away) is not an answer.
    if (isError(error, "CALL_EXCEPTION")) throw new ChainSetupError(`log ${logId} is not registered in the contract at ${contract}; ask its log admin to register it`);
    throw error;
  }
  if (info[0].toLowerCase() !== anchorer.toLowerCase()) {
    throw new ChainSetupError(`ANCHOR_PRIVATE_KEY's address ${anchorer} is not the anchorer of log ${logId} (${info[0]})`);
  }
}
