import { Contract, Interface, NonceManager, Wallet, ZeroHash, formatEther, id, isError, type JsonRpcProvider, type TransactionReceipt } from "ethers";
import { describeChainError } from "./chain-errors";
import { deployLedger } from "./deploy";
import { LEDGER_ABI, LEDGER_ERRORS } from "./ledger-abi";

/**
 * Administering a ProvenanceLedger on any EVM chain: deploy it, register a log, change
 * a log's anchorer, and read what the contract says. Each transaction is sent through
 * one NonceManager on a provider without ethers' request cache (`connectProvider`): a
 * cached nonce read is what makes the obvious script fail with "nonce has already been
 * used" on a second transaction.
 */

const ADMIN_ABI = [...LEDGER_ABI, ...LEDGER_ERRORS];
const ADMIN_IFACE = new Interface(ADMIN_ABI);

/** What a transaction cost, for the operator who pays for it. */
export interface TransactionCost {
  txHash: string;
  blockNumber: number;
  gasUsed: bigint;
  /** Wei, gas used × effective gas price. */
  fee: bigint;
}

/** A refusal or a transport failure, said in one line; `refused` when the chain answered no. */
export class ChainAdminError extends Error {
  override name = "ChainAdminError";
  constructor(
    message: string,
    readonly refused: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function describeCost(cost: TransactionCost): string {
  return `gas ${cost.gasUsed.toLocaleString("en-US")}, fee ${formatEther(cost.fee)} (tx ${cost.txHash}, block ${cost.blockNumber})`;
}

function costOf(receipt: TransactionReceipt): TransactionCost {
  return { txHash: receipt.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, fee: receipt.gasUsed * receipt.gasPrice };
}

async function send(what: string, call: () => Promise<TransactionReceipt | null>): Promise<TransactionCost> {
  try {
    const receipt = await call();
    if (!receipt || receipt.status !== 1) throw new ChainAdminError(`${what}: the transaction failed`, true);
    return costOf(receipt);
  } catch (error) {
    if (error instanceof ChainAdminError) throw error;
    const refused = isError(error, "CALL_EXCEPTION") || isError(error, "INSUFFICIENT_FUNDS");
    throw new ChainAdminError(`${what}: ${describeChainError(error, ADMIN_IFACE)}${hintFor(error)}`, refused, { cause: error });
  }
}

const ROLE_NAMES: Record<string, string> = {
  [ZeroHash]: "the admin role (DEFAULT_ADMIN_ROLE)",
  [id("LOG_ADMIN_ROLE")]: "the log admin role (LOG_ADMIN_ROLE)",
};

/** What an operator should do about the refusals they will meet most. */
function hintFor(error: unknown): string {
  if (isError(error, "INSUFFICIENT_FUNDS")) return " — the sending account must hold enough to pay for gas";
  let revert = (error as { revert?: { name: string; args: unknown[] } }).revert;
  const data = (error as { data?: string }).data;
  if (!revert && data) {
    const parsed = (() => {
      try {
        return ADMIN_IFACE.parseError(data);
      } catch {
        return null;
      }
    })();
    if (parsed) revert = { name: parsed.name, args: [...parsed.args] };
  }
  if (revert?.name === "AccessControlUnauthorizedAccount") {
    const [account, role] = revert.args as [string, string];
    return ` — the sending account ${account} lacks ${ROLE_NAMES[role.toLowerCase()] ?? `role ${role}`}; ask the contract's admin to grant it`;
  }
  return "";
}

export function adminSigner(provider: JsonRpcProvider, privateKey: string): NonceManager {
  return new NonceManager(new Wallet(privateKey, provider));
}

export async function deployLedgerContract(signer: NonceManager, admin?: string): Promise<{ address: string } & TransactionCost> {
  let address = "";
  const cost = await send("deploy", async () => {
    const deployed = await deployLedger({ deployer: signer, admin });
    address = deployed.address;
    return signer.provider!.getTransactionReceipt(deployed.txHash);
  });
  return { address, ...cost };
}

export interface LogRegistration {
  contract: string;
  logId: string;
  anchorer: string;
  name: string;
  division: string;
}

export async function registerLogOnChain(signer: NonceManager, p: LogRegistration): Promise<TransactionCost> {
  const ledger = new Contract(p.contract, ADMIN_ABI, signer);
  return send("register-log", async () => (await ledger.registerLog(p.logId, p.anchorer, p.name, p.division)).wait());
}

export async function setAnchorerOnChain(signer: NonceManager, contract: string, logId: string, anchorer: string): Promise<TransactionCost> {
  const ledger = new Contract(contract, ADMIN_ABI, signer);
  return send("set-anchorer", async () => (await ledger.setAnchorer(logId, anchorer)).wait());
}

export interface LogOnChain {
  logId: string;
  anchorer: string;
  name: string;
  division: string;
  /** The anchorer's balance in wei: anchoring stops when it cannot pay. */
  anchorerBalance: bigint;
  latest: { treeSize: number; rootHash: string };
}

export interface LedgerStatus {
  chainId: number;
  blockNumber: number;
  contract: string;
  hasCode: boolean;
  paused?: boolean;
  logs: LogOnChain[];
}

/**
 * What the contract holds: the chain, whether the contract is there and paused, and each
 * log asked for (by default every log its `LogRegistered` events name since `fromBlock`).
 */
export async function readLedgerStatus(provider: JsonRpcProvider, contract: string, options: { logIds?: string[]; fromBlock?: number } = {}): Promise<LedgerStatus> {
  try {
    const [network, blockNumber, code] = await Promise.all([provider.getNetwork(), provider.getBlockNumber(), provider.getCode(contract)]);
    const status: LedgerStatus = { chainId: Number(network.chainId), blockNumber, contract: contract.toLowerCase(), hasCode: code !== "0x", logs: [] };
    if (!status.hasCode) return status;
    const ledger = new Contract(contract, ADMIN_ABI, provider);
    status.paused = (await ledger.paused()) as boolean;
    let logIds = options.logIds;
    if (!logIds) {
      const registered = await ledger.queryFilter(ledger.filters.LogRegistered!(), options.fromBlock ?? 0);
      logIds = registered.map((event) => ADMIN_IFACE.parseLog(event)!.args[0] as string);
    }
    for (const logId of logIds) {
      const [anchorer, name, division] = (await ledger.logInfo(logId)) as [string, string, string];
      const [treeSize, rootHash] = (await ledger.latest(logId)) as [bigint, string];
      status.logs.push({
        logId: logId.toLowerCase(),
        anchorer: anchorer.toLowerCase(),
        name,
        division,
        anchorerBalance: await provider.getBalance(anchorer),
        latest: { treeSize: Number(treeSize), rootHash },
      });
    }
    return status;
  } catch (error) {
    if (error instanceof ChainAdminError) throw error;
    throw new ChainAdminError(`status: ${describeChainError(error, ADMIN_IFACE)}`, isError(error, "CALL_EXCEPTION"), { cause: error });
  }
}
