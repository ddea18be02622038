/**
 * `ledger`: verify receipts against a chain, manage API keys, show the ledger's status.
 *
 * Exit codes: 0 success (a valid receipt), 1 an invalid receipt (an untrusted log
 * among them) or a refused request, 2 a usage or I/O problem (no trust anchor,
 * unreadable file, unreachable chain or gateway).
 */
import { Command, InvalidArgumentError } from "commander";
import { readFileSync } from "node:fs";
import path from "node:path";
import { connectProvider } from "../server/chain/provider";
import { ledgerReader } from "../server/chain/ledger-reader";
import { verifyReceipt } from "../server/receipts/verify-receipt";
import { ReceiptError } from "../server/receipts/receipt-error";
import { ROLES, KeyStore, type Role } from "../server/auth/key-store";
import type { Stores } from "../server/store/database";
import { callGateway, CliError, NO_TRUST_ANCHOR, trustAnchorFromOptions, withStores, withTrustOptions, type TrustOptions } from "./cli-support";
import { parseLogListText, TrustAnchorError, type LogList } from "../server/receipts/trust-anchor";
import { EventLog } from "../server/log/event-log";
import { MerkleTreeStore } from "../server/merkle";
import { CheckpointStore } from "../server/anchor/checkpoint-store";
import { loadOrCreateLogMeta } from "../server/store/meta";
import { isAppError } from "../server/errors";
import { OrgRegistry, parseRegistryFile } from "../server/orgs/org-registry";
import { registerAuditCommand } from "./audit-command";
import { registerChainCommand } from "./chain-command";
import { registerBackupCommands } from "./backup-command";
import { registerMonitorCommand } from "./monitor-command";

const program = new Command()
  .name("ledger")
  .description("Provenance ledger: verify receipts, manage API keys, inspect the ledger")
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) })
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  });

withTrustOptions(
  program
    .command("verify")
    .description("verify a receipt of a trusted log: the log, leaf hash, inclusion proof, and the root anchored on chain")
    .argument("<receipt>", "receipt JSON file (- for standard input)")
    .option("--rpc <url>", "JSON-RPC endpoint of the receipt's chain (env LEDGER_RPC_URL)", process.env.LEDGER_RPC_URL)
    .option("--json", "print the result as JSON"),
).action(async (file: string, options: TrustOptions & { rpc?: string; json?: boolean }) => {
  const trust = trustAnchorFromOptions(options);
  if (!trust) throw new CliError(NO_TRUST_ANCHOR, 2);
  if (!options.rpc) throw new CliError("--rpc <url> is required (or set LEDGER_RPC_URL)", 2);
  const text = readInput(file);
  let receipt: unknown;
  try {
    receipt = JSON.parse(text);
  } catch (error) {
    return report(options.json, { valid: false, code: "RECEIPT_MALFORMED", reason: `${file} is not JSON: ${(error as Error).message}` });
  }
  // What GET /v1/receipts/:i answers (202) before the event's checkpoint is anchored: say so, not "malformed at version".
  const pending = receipt as { status?: unknown; index?: unknown; treeSize?: unknown; anchoredSize?: unknown; version?: unknown };
  if (pending?.status === "pending" && pending.version === undefined) {
    const what = typeof pending.index === "number" ? `event ${pending.index} is recorded but not yet in an anchored checkpoint (tree of ${String(pending.treeSize)}, ${String(pending.anchoredSize)} anchored)` : "its event is not yet in an anchored checkpoint";
    return report(options.json, { valid: false, code: "RECEIPT_PENDING", reason: `${file} is a pending answer, not a receipt: ${what}; fetch the receipt again once the checkpoint is anchored (by default within 5 s)` });
  }
  const provider = connectProvider(options.rpc, { timeoutMs: 15_000 });
  try {
    const verified = await verifyReceipt(receipt, trust, ledgerReader(provider));
    const { log, entry, checkpoint } = verified.receipt;
    const summary = `valid: event ${entry.index} of log ${log.id} is in the ${checkpoint.treeSize}-leaf checkpoint ${checkpoint.rootHash} anchored on chain ${log.chainId} in contract ${log.contract} (block ${checkpoint.blockNumber})`;
    if (options.json) console.log(JSON.stringify({ valid: true, index: entry.index, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, chainId: log.chainId }));
    else console.log(summary);
  } catch (error) {
    if (!(error instanceof ReceiptError)) throw error;
    if (error.code === "CHAIN_UNREACHABLE") throw new CliError(`cannot check the chain at ${options.rpc}: ${error.message}`, 2);
    return report(options.json, { valid: false, code: error.code, reason: error.message });
  } finally {
    provider.destroy();
  }
});

program
  .command("log-list")
  .description("print a gateway's own log list (JSON) on stdout, to save as a trust anchor: ledger log-list --url URL > trusted-logs.json")
  .option("--url <url>", "a running gateway (env LEDGER_URL)", process.env.LEDGER_URL)
  .action(async (options: { url?: string }) => {
    if (!options.url) throw new CliError("--url <gateway> is required (or set LEDGER_URL)", 2);
    let response: Response;
    try {
      response = await fetch(new URL("/v1/log-list", options.url), { signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw new CliError(`cannot reach the gateway at ${options.url}: ${(error as Error).message}`, 2);
    }
    if (!response.ok) throw new CliError(`the gateway at ${options.url} answered ${response.status} for /v1/log-list`, 2);
    let list: LogList;
    try {
      list = parseLogListText(await response.text(), `the log list of ${options.url}`);
    } catch (error) {
      if (error instanceof TrustAnchorError) throw new CliError(error.message, 2);
      throw error;
    }
    console.log(JSON.stringify(list, null, 2));
    // The gateway vouches for itself here; a list from its operator, out of band, is what makes it a trust anchor.
    console.error(`ledger: ${list.logs.length} log(s) as ${options.url} describes itself; compare the contract and log id with those its operator publishes`);
  });

const keys = program.command("keys").description("create, revoke and list API keys");
withTarget(
  keys
    .command("create")
    .description("create an API key; it is printed once and only its hash is stored")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`, parseRole)
    .requiredOption("--name <name>", "who the key is for, e.g. the department system")
    .option("--jurisdiction <division>", "12-digit division code the key is bound to (required for regulators)"),
).action(async (options: TargetOptions & { role: Role; name: string; jurisdiction?: string }) => {
  const body = { name: options.name, role: options.role, jurisdiction: options.jurisdiction };
  const created = options.url
    ? ((await callGateway(options, "POST", "/v1/keys", body)) as { key: string; record: { id: string } })
    : await withDataDir(options, async ({ db }) => (await KeyStore.open(db)).create(body));
  console.log(`created ${options.role} key ${created.record.id}; store it now, it is not shown again:\n${created.key}`);
});
withTarget(keys.command("revoke").description("revoke an API key by its id").argument("<id>", "key id (the part after pl_)")).action(
  async (id: string, options: TargetOptions) => {
    const revoked = options.url
      ? await callGateway(options, "DELETE", `/v1/keys/${encodeURIComponent(id)}`)
      : await withDataDir(options, async ({ db }) => (await KeyStore.open(db)).revoke(id));
    console.log(`revoked key ${(revoked as { id: string }).id}`);
  },
);
withTarget(keys.command("list").description("list API keys (never their secrets)")).action(async (options: TargetOptions) => {
  const list = options.url
    ? ((await callGateway(options, "GET", "/v1/keys")) as { keys: unknown[] }).keys
    : await withDataDir(options, async ({ db }) => (await KeyStore.open(db)).list());
  for (const k of list as { id: string; role: string; name: string; jurisdiction?: string; revokedAt?: string }[]) {
    console.log(`${k.id}  ${k.role.padEnd(9)}  ${(k.jurisdiction ?? "-").padEnd(12)}  ${k.revokedAt ? "revoked " + k.revokedAt : "active"}  ${k.name}`);
  }
});

const orgs = program.command("orgs").description("the organisation registry: departments placed in the administrative hierarchy");
withTarget(
  orgs
    .command("import")
    .description("add or rename divisions and organisations from a JSON ({divisions, orgs}) or CSV (id,name) file")
    .argument("<file>", "registry file; .csv for CSV, otherwise JSON"),
).action(async (file: string, options: TargetOptions) => {
  let registry;
  try {
    registry = parseRegistryFile(readInput(file), file.endsWith(".csv") ? "csv" : "json");
  } catch (error) {
    if (!isAppError(error)) throw error;
    const details = (error.details as { path: string; message: string }[] | undefined)?.map((d) => `\n  ${d.path}: ${d.message}`).join("") ?? "";
    throw new CliError(`${file}: ${error.message}${details}`, 1);
  }
  const loaded = options.url
    ? ((await callGateway(options, "PUT", "/v1/orgs", registry)) as { divisions: number; orgs: number })
    : await withDataDir(options, ({ db }) => new OrgRegistry(db).upsert(registry));
  console.log(`imported ${loaded.orgs} organisations and ${loaded.divisions} divisions`);
});

withTarget(program.command("status").description("log size, tree size, anchored checkpoints and anchoring state")).action(
  async (options: TargetOptions) => {
    if (options.url) {
      console.log(JSON.stringify(await callGateway(options, "GET", "/v1/status"), null, 2));
      return;
    }
    const status = await withDataDir(options, async (stores) => {
      const { db } = stores;
      const meta = await loadOrCreateLogMeta(db);
      const log = await EventLog.open(stores, { logId: meta.logId });
      const tree = await MerkleTreeStore.open(db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as never);
      const checkpoints = new CheckpointStore(db);
      return { logId: meta.logId, events: log.size, treeSize: tree.size, latestCheckpoint: (await checkpoints.latest()) ?? null, inflight: (await checkpoints.inflight())?.txHash ?? null };
    });
    console.log(JSON.stringify(status, null, 2));
  },
);

interface TargetOptions {
  url?: string;
  key?: string;
  dataDir: string;
}

function withTarget(command: Command): Command {
  return command
    .option("--url <url>", "a running gateway (env LEDGER_URL); otherwise the data directory is opened directly", process.env.LEDGER_URL)
    .option("--key <key>", "API key for --url (env LEDGER_API_KEY)", process.env.LEDGER_API_KEY)
    .option("--data-dir <dir>", "data directory of a stopped gateway (env DATA_DIR)", process.env.DATA_DIR ?? "./data");
}

function parseRole(value: string): Role {
  if (!ROLES.includes(value as Role)) throw new InvalidArgumentError(`must be one of ${ROLES.join(", ")}`);
  return value as Role;
}

function readInput(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 2);
  }
}

function report(json: boolean | undefined, result: { valid: false; code: string; reason: string }): void {
  if (json) console.log(JSON.stringify(result));
  else console.error(`invalid (${result.code}): ${result.reason}`);
  process.exitCode = 1;
}

function withDataDir<T>(options: TargetOptions, work: (stores: Stores) => Promise<T>): Promise<T> {
  return withStores(path.resolve(options.dataDir), work);
}

registerAuditCommand(program);
registerChainCommand(program);
registerBackupCommands(program);
registerMonitorCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CliError) {
    console.error(`ledger: ${error.message}`);
    process.exit(error.exitCode);
  }
  if (isAppError(error)) {
    console.error(`ledger: ${error.message}`);
    process.exit(1);
  }
  console.error(`ledger: unexpected error: ${(error as Error).message ?? error}`);
  process.exit(2);
});
