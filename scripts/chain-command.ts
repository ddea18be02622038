/**
 * `ledger chain`: deploy ProvenanceLedger on an external EVM chain, register a gateway's
 * log, change its anchorer, and show what the contract holds.
 *
 * The private key comes from LEDGER_CHAIN_PRIVATE_KEY or --key-file (a key given with
 * --key shows in the process list). Exit codes: 0 done, 1 the chain refused (a revert,
 * a missing role, no funds), 2 usage or I/O (unreadable key, unreachable chain).
 */
import { Command, InvalidArgumentError } from "commander";
import { readFileSync } from "node:fs";
import { formatEther, getAddress, isAddress } from "ethers";
import { connectProvider } from "../server/chain/provider";
import { probeChainId } from "../server/chain/external-chain";
import {
  ChainAdminError,
  adminSigner,
  deployLedgerContract,
  describeCost,
  readLedgerStatus,
  registerLogOnChain,
  setAnchorerOnChain,
  type LedgerStatus,
} from "../server/chain/ledger-admin";
import { CliError } from "./cli-support";

interface ChainOptions {
  rpc?: string;
  key?: string;
  keyFile?: string;
}

const hex32 = (what: string) => (value: string) => {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError(`${what} must be 32 bytes as 0x + 64 hex digits`);
  return value.toLowerCase();
};
const address = (value: string) => {
  if (!isAddress(value)) throw new InvalidArgumentError("must be an address, 0x + 40 hex digits");
  return getAddress(value);
};
const division = (value: string) => {
  if (!/^\d{12}$/.test(value)) throw new InvalidArgumentError("must be a 12-digit administrative division code");
  return value;
};

function withChain(command: Command, signs: boolean): Command {
  command.requiredOption("--rpc <url>", "JSON-RPC endpoint of the chain (env LEDGER_RPC_URL)", process.env.LEDGER_RPC_URL);
  if (signs) {
    command
      .option("--key-file <file>", "file holding the sending account's private key (0x + 64 hex digits)")
      .option("--key <hex>", "the private key itself; prefer LEDGER_CHAIN_PRIVATE_KEY or --key-file");
  }
  return command;
}

function privateKeyOf(options: ChainOptions): string {
  let key = options.key ?? process.env.LEDGER_CHAIN_PRIVATE_KEY;
  if (options.keyFile) {
    try {
      key = readFileSync(options.keyFile, "utf8").trim();
    } catch (error) {
      throw new CliError(`cannot read ${options.keyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 2);
    }
  }
  if (!key) throw new CliError("give the sending account's private key: LEDGER_CHAIN_PRIVATE_KEY, --key-file FILE or --key HEX", 2);
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new CliError("the private key must be 32 bytes as 64 hex digits (0x optional)", 2);
  return key.startsWith("0x") ? key : `0x${key}`;
}

/** Runs one chain action with a provider that is always closed, mapping failures to exit codes. */
async function onChain<T>(rpc: string, work: (provider: ReturnType<typeof connectProvider>) => Promise<T>): Promise<T> {
  const chainId = await probeChainId(rpc).catch((error: Error) => {
    throw new CliError(`cannot reach the chain at ${rpc}: ${error.message}`, 2);
  });
  const provider = connectProvider(rpc, { timeoutMs: 30_000, chainId });
  try {
    return await work(provider);
  } catch (error) {
    if (error instanceof ChainAdminError) throw new CliError(error.message, error.refused ? 1 : 2);
    throw error;
  } finally {
    provider.destroy();
  }
}

export function registerChainCommand(program: Command): Command {
  const chain = program.command("chain").description("deploy the contract and register logs on an external EVM chain");

  withChain(chain.command("deploy").description("deploy ProvenanceLedger; prints its address (the sender becomes admin and log admin)"), true)
    .option("--admin <address>", "give the admin roles to this address instead of the sender", address)
    .action(async (options: ChainOptions & { admin?: string }) => {
      await onChain(options.rpc!, async (provider) => {
        const signer = adminSigner(provider, privateKeyOf(options));
        const deployed = await deployLedgerContract(signer, options.admin);
        const { chainId } = await provider.getNetwork();
        console.error(`deployed ProvenanceLedger on chain ${chainId}: ${describeCost(deployed)}; admin ${options.admin ?? (await signer.getAddress())}`);
        console.log(deployed.address);
      });
    });

  withChain(chain.command("register-log").description("register a gateway's log and its anchorer (needs the log admin role)"), true)
    .requiredOption("--contract <address>", "the ProvenanceLedger", address)
    .requiredOption("--log-id <id>", "the gateway's LOG_ID", hex32("--log-id"))
    .requiredOption("--anchorer <address>", "the address of the gateway's ANCHOR_PRIVATE_KEY", address)
    .requiredOption("--name <name>", "the log's name, e.g. the district gateway")
    .requiredOption("--division <code>", "the 12-digit division the log belongs to", division)
    .action(async (options: ChainOptions & { contract: string; logId: string; anchorer: string; name: string; division: string }) => {
      await onChain(options.rpc!, async (provider) => {
        const cost = await registerLogOnChain(adminSigner(provider, privateKeyOf(options)), options);
        console.log(`registered log ${options.logId} with anchorer ${options.anchorer}: ${describeCost(cost)}`);
        await warnIfUnfunded(provider, options.anchorer);
      });
    });

  withChain(chain.command("set-anchorer").description("give a log another anchorer (needs the log admin role)"), true)
    .requiredOption("--contract <address>", "the ProvenanceLedger", address)
    .requiredOption("--log-id <id>", "the log", hex32("--log-id"))
    .requiredOption("--anchorer <address>", "the new anchorer's address", address)
    .action(async (options: ChainOptions & { contract: string; logId: string; anchorer: string }) => {
      await onChain(options.rpc!, async (provider) => {
        const cost = await setAnchorerOnChain(adminSigner(provider, privateKeyOf(options)), options.contract, options.logId, options.anchorer);
        console.log(`log ${options.logId} is now anchored by ${options.anchorer}: ${describeCost(cost)}`);
        await warnIfUnfunded(provider, options.anchorer);
      });
    });

  withChain(chain.command("status").description("the chain, the contract, and its logs: anchorer, funds, latest checkpoint"), false)
    .requiredOption("--contract <address>", "the ProvenanceLedger", address)
    .option("--log-id <id>", "only this log (default: every registered log)", hex32("--log-id"))
    .option("--from-block <n>", "where to start looking for registered logs", (v) => Number.parseInt(v, 10), 0)
    .option("--json", "print JSON")
    .action(async (options: ChainOptions & { contract: string; logId?: string; fromBlock: number; json?: boolean }) => {
      await onChain(options.rpc!, async (provider) => {
        const status = await readLedgerStatus(provider, options.contract, { logIds: options.logId ? [options.logId] : undefined, fromBlock: options.fromBlock });
        if (options.json) console.log(JSON.stringify(status, (_key, value) => (typeof value === "bigint" ? value.toString() : value), 2));
        else printStatus(status);
        if (!status.hasCode) process.exitCode = 1;
      });
    });
  return chain;
}

async function warnIfUnfunded(provider: ReturnType<typeof connectProvider>, anchorer: string): Promise<void> {
  if ((await provider.getBalance(anchorer)) === 0n) {
    console.error(`warning: the anchorer ${anchorer} holds no funds; it pays about 90,000–100,000 gas per anchor, so fund it before starting the gateway`);
  }
}

function printStatus(status: LedgerStatus): void {
  console.log(`chain ${status.chainId}, block ${status.blockNumber}`);
  if (!status.hasCode) {
    console.log(`no contract at ${status.contract}`);
    return;
  }
  console.log(`contract ${status.contract}${status.paused ? " (PAUSED: anchoring refused)" : ""}; ${status.logs.length} log(s)`);
  for (const log of status.logs) {
    console.log(`- ${log.logId}  ${log.name} (${log.division})`);
    console.log(`  anchorer ${log.anchorer}, balance ${formatEther(log.anchorerBalance)}${log.anchorerBalance === 0n ? " — unfunded, anchoring will fail" : ""}`);
    console.log(`  latest checkpoint: ${log.latest.treeSize === 0 ? "none yet" : `${log.latest.treeSize} leaves, root ${log.latest.rootHash}`}`);
  }
}
