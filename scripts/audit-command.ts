/**
 * `ledger audit`: the full audit, against a running gateway (--url, as a job
 * polled until done) or a stopped gateway's data directory (--data-dir, run
 * here, with --rpc to compare the checkpoints with the chain).
 *
 * Trust anchor (--trust FILE, or --log-id/--contract/--chain-id): with --url it is
 * required, and the log the gateway says it keeps must be one of it, since the CLI
 * would otherwise relay an audit against whatever contract the gateway names. With
 * --data-dir it is optional (the directory is the operator's own); when given, the
 * directory's log id, contract and chain must be one of its logs.
 *
 * Exit codes as for the rest of the CLI: 0 the ledger is intact, 1 a divergence
 * (printed precisely) or a refused request, 2 a usage or I/O problem.
 */
import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { JsonRpcProvider } from "ethers";
import { connectProvider } from "../server/chain/provider";
import { openDatabase, type Database } from "../server/store/database";
import { AuditError, runAudit } from "../server/audit/audit";
import type { AuditJob } from "../server/audit/audit-jobs";
import type { AuditProgress, AuditReport, Divergence } from "../server/audit/report";
import { contractAuditChain, levelAuditSources, type AuditChain } from "../server/audit/sources";
import { callGateway, CliError, NO_TRUST_ANCHOR, trustAnchorFromOptions, withStores, withTrustOptions, type TrustOptions } from "./cli-support";
import { ReceiptError } from "../server/receipts/receipt-error";
import { trustedLogFor, type TrustAnchor } from "../server/receipts/trust-anchor";

export interface AuditCommandOptions extends TrustOptions {
  url?: string;
  key?: string;
  dataDir: string;
  rpc?: string;
  contract?: string;
  json?: boolean;
}

/** Where the command writes; the process's streams by default, captured in tests. */
export interface AuditCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal: a single updating progress line, else plain periodic lines. */
  stderrIsTTY: boolean;
}

export interface RegisterAuditCommandOptions {
  io?: AuditCommandIo;
  /** Receives the exit code; default sets process.exitCode. */
  exit?: (code: ExitCode) => void;
  /** How often a gateway job is polled (default 500 ms). */
  pollMs?: number;
}

export type ExitCode = 0 | 1 | 2;


const PROCESS_IO: AuditCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  get stderrIsTTY() {
    return Boolean(process.stderr.isTTY);
  },
};

export function registerAuditCommand(program: Command, options: RegisterAuditCommandOptions = {}): Command {
  const io = options.io ?? PROCESS_IO;
  const exit = options.exit ?? ((code: ExitCode) => void (process.exitCode = code));
  const command = program
    .command("audit")
    .description("recompute the tree from every stored record, check every checkpoint (and the chain), report the first divergence")
    .option("--url <url>", "a running gateway (env LEDGER_URL): run the audit there as a job; needs a trust anchor", process.env.LEDGER_URL)
    .option("--key <key>", "API key for --url: admin, auditor or regulator (env LEDGER_API_KEY)", process.env.LEDGER_API_KEY)
    .option("--data-dir <dir>", "data directory of a stopped gateway (env DATA_DIR)", process.env.DATA_DIR ?? "./data")
    .option("--rpc <url>", "with --data-dir: JSON-RPC endpoint to compare checkpoints with the chain (env LEDGER_RPC_URL)", process.env.LEDGER_RPC_URL);
  return withTrustOptions(command, "with --rpc: the ProvenanceLedger contract (default: DATA_DIR/chain/deployment.json); with --log-id and --chain-id: the trusted log's")
    .option("--json", "print the report as JSON")
    .action(async (commandOptions: AuditCommandOptions) => {
      exit(await runAuditCommand(commandOptions, io, options.pollMs));
    });
}

/** Runs `ledger audit` with parsed options; returns the exit code and never throws. */
export async function runAuditCommand(options: AuditCommandOptions, io: AuditCommandIo = PROCESS_IO, pollMs = 500): Promise<ExitCode> {
  const progress = new ProgressLine(io);
  try {
    const trust = trustAnchorFromOptions(options, true);
    const report = options.url ? await auditThroughGateway(options, trust, io, progress, pollMs) : await auditDataDir(options, trust, io, progress);
    progress.end();
    printReport(report, options, io);
    return report.ok ? 0 : 1;
  } catch (error) {
    progress.end();
    if (error instanceof CliError) {
      io.stderr(`ledger: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof AuditError) {
      io.stderr(`ledger: the audit could not finish: ${error.message}\n`);
      return 2;
    }
    io.stderr(`ledger: unexpected error: ${(error as Error)?.message ?? String(error)}\n`);
    return 2;
  }
}

// ---------------------------------------------------------------------------
// A stopped gateway's data directory
// ---------------------------------------------------------------------------

interface Deployment {
  chainId?: number;
  contract?: string;
  logId?: string;
}

async function auditDataDir(options: AuditCommandOptions, trust: TrustAnchor | undefined, io: AuditCommandIo, progress: ProgressLine): Promise<AuditReport> {
  const dataDir = path.resolve(options.dataDir);
  const dbDir = path.join(dataDir, "db");
  if (!existsSync(dbDir)) throw new CliError(`no ledger database in ${dataDir} (looked for ${dbDir}); give --data-dir, or --url and --key for a running gateway`, 2);
  if (options.contract && !options.rpc) throw new CliError("--contract needs --rpc <url>", 2);
  return withStores(dataDir, async (stores) => {
    const sources = await levelAuditSources(stores);
    const chain = options.rpc ? await connectChain(options, dataDir, sources.logId) : undefined;
    try {
      if (trust) checkDataDirTrusted(trust, dataDir, options, sources.logId, chain?.chainId);
      return await runAudit({ ...sources, logId: sources.logId, chain: chain?.reader, onProgress: (p) => progress.update(p) });
    } finally {
      chain?.provider.destroy();
    }
  }, (message) => io.stderr(`ledger: ${message}\n`));
}

function readDeployment(dataDir: string): { deploymentFile: string; deployment: Deployment } {
  const deploymentFile = path.join(dataDir, "chain", "deployment.json");
  let deployment: Deployment = {};
  if (existsSync(deploymentFile)) {
    try {
      deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as Deployment;
    } catch (error) {
      throw new CliError(`cannot read ${deploymentFile}: ${(error as Error).message}`, 2);
    }
  }
  return { deploymentFile, deployment };
}

/** The data directory's log (its id, the contract audited against, the chain) must be a trusted one. */
function checkDataDirTrusted(trust: TrustAnchor, dataDir: string, options: AuditCommandOptions, metaLogId: string | undefined, rpcChainId: number | undefined): void {
  const { deploymentFile, deployment } = readDeployment(dataDir);
  const logId = metaLogId ?? deployment.logId;
  const contract = options.contract ?? deployment.contract;
  const chainId = rpcChainId ?? deployment.chainId;
  if (!logId || !contract || chainId === undefined) {
    throw new CliError(`cannot check ${dataDir} against the trust anchor: ${deploymentFile} does not name its ${!logId ? "log id" : !contract ? "contract" : "chain id"}; give --rpc and --contract`, 2);
  }
  try {
    trustedLogFor({ id: logId, contract, chainId }, trust);
  } catch (error) {
    if (error instanceof ReceiptError) throw new CliError(`UNTRUSTED_LOG: the data directory's ${error.message.replace(/^the receipt's /, "")}`, 1);
    throw error;
  }
}

async function connectChain(options: AuditCommandOptions, dataDir: string, metaLogId: string | undefined): Promise<{ provider: JsonRpcProvider; reader: AuditChain; chainId: number }> {
  const { deploymentFile, deployment } = readDeployment(dataDir);
  const contract = options.contract ?? deployment.contract;
  if (!contract) throw new CliError(`--rpc needs the contract address: ${deploymentFile} is missing; give --contract <address>`, 2);
  if (!/^0x[0-9a-fA-F]{40}$/.test(contract)) throw new CliError(`--contract must be a 0x-prefixed 20-byte address; got ${JSON.stringify(contract)}`, 2);
  const logId = metaLogId ?? deployment.logId;
  if (!logId) throw new CliError(`the data directory names no log id (meta sublevel or ${deploymentFile})`, 2);
  const provider = connectProvider(options.rpc!, { timeoutMs: 15_000 });
  let chainId: number;
  try {
    chainId = Number((await provider.getNetwork()).chainId);
    if (deployment.chainId !== undefined && !options.contract && chainId !== deployment.chainId) {
      throw new CliError(`${options.rpc} serves chain ${chainId}, but the ledger was deployed on chain ${deployment.chainId}`, 2);
    }
    if ((await provider.getCode(contract)) === "0x") throw new CliError(`no contract at ${contract} on chain ${chainId} (${options.rpc})`, 2);
  } catch (error) {
    provider.destroy();
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot reach the chain at ${options.rpc}: ${(error as { shortMessage?: string }).shortMessage ?? (error as Error).message}`, 2);
  }
  return { provider, reader: contractAuditChain(provider, contract, logId), chainId };
}

// ---------------------------------------------------------------------------
// A running gateway
// ---------------------------------------------------------------------------

async function auditThroughGateway(options: AuditCommandOptions, trust: TrustAnchor | undefined, io: AuditCommandIo, progress: ProgressLine, pollMs: number): Promise<AuditReport> {
  if (!options.key) throw new CliError("--key <API key> (or LEDGER_API_KEY) is required with --url", 2);
  if (!trust) throw new CliError(NO_TRUST_ANCHOR.replace("a receipt can name any contract, so only a log you trust can make it valid", "the gateway audits against the contract it names, so the audit means something only for a log you trust"), 2);
  if (options.rpc) io.stderr("ledger: note: with --url the gateway compares with its own chain; --rpc is ignored (audit a copy of its data directory with --data-dir --rpc for a check of your own)\n");
  const { log } = (await callGateway(options, "GET", "/v1/status")) as { log: { logId: string; chainId: number; contract: string } };
  try {
    trustedLogFor({ id: log.logId, chainId: log.chainId, contract: log.contract }, trust);
  } catch (error) {
    if (error instanceof ReceiptError) throw new CliError(`UNTRUSTED_LOG: the gateway at ${options.url} keeps ${error.message.replace(/^the receipt's /, "")}`, 1);
    throw error;
  }
  let { job } = (await callGateway(options, "POST", "/v1/audit")) as { job: AuditJob };
  while (job.state === "running") {
    progress.update({ processed: job.processed, total: job.total, eventsPerSecond: job.eventsPerSecond, elapsedMs: Date.now() - Date.parse(job.startedAt) });
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    ({ job } = (await callGateway(options, "GET", `/v1/audit/${encodeURIComponent(job.id)}`)) as { job: AuditJob });
  }
  if (job.state === "failed" || !job.report) throw new CliError(`the gateway's audit failed: ${job.error ?? "no report"}`, 2);
  return job.report;
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

export function printReport(report: AuditReport, options: Pick<AuditCommandOptions, "json" | "url" | "rpc">, io: AuditCommandIo): void {
  if (options.json) {
    io.stdout(JSON.stringify(report, null, 2) + "\n");
    return;
  }
  const seconds = (report.durationMs / 1000).toFixed(1);
  const chain = report.chainChecked
    ? "each compared with the chain"
    : options.url
      ? "compared with their local records only (the gateway has no chain reader)"
      : "compared with their local records only (give --rpc to compare with the chain)";
  const unfolded = report.unfoldedEvents > 0 ? ` (${report.unfoldedEvents} not yet folded into the tree)` : "";
  const scope = `${report.eventsChecked} events${unfolded}, ${report.checkpointsChecked} checkpoints ${chain}; ${seconds} s, ${report.eventsPerSecond.toLocaleString("en-US")} events/s`;
  if (report.ok) {
    io.stdout(`intact: ${scope}\n  tree of ${report.treeSize} leaves, root ${report.rootHash ?? "(none)"}\n`);
    return;
  }
  const lines = [`DIVERGENCE: ${report.divergenceCount} found; ${scope}`, `first: ${describe(report.firstDivergence!)}`];
  const rest = report.divergences.slice(1);
  if (rest.length > 0) lines.push("then:", ...rest.map((d) => `  - ${describe(d)}`));
  if (report.divergenceCount > report.divergences.length) lines.push(`  … and ${report.divergenceCount - report.divergences.length} more (use --json for the listed ones)`);
  io.stdout(lines.join("\n") + "\n");
}

function describe(d: Divergence): string {
  const where = d.kind === "checkpoint-mismatch" || d.kind === "checkpoint-not-anchored" || d.kind === "size-mismatch" ? (d.treeSize !== undefined ? ` at checkpoint ${d.treeSize}` : "") : d.index !== undefined ? ` at leaf ${d.index}` : "";
  return `[${d.kind}${where}] ${d.message}`;
}

/** Progress on stderr: one updating line on a terminal, a plain line every few seconds otherwise. */
export class ProgressLine {
  private lastWrite = 0;
  private drawn = false;

  constructor(
    private readonly io: AuditCommandIo,
    private readonly now: () => number = Date.now,
  ) {}

  update(p: AuditProgress): void {
    const at = this.now();
    const every = this.io.stderrIsTTY ? 100 : 2_000;
    if (at - this.lastWrite < every) return;
    this.lastWrite = at;
    const total = Math.max(p.total, p.processed);
    const fraction = total > 0 ? p.processed / total : 1;
    const percent = (fraction * 100).toFixed(1).padStart(5);
    const eta = p.eventsPerSecond > 0 ? formatSeconds((total - p.processed) / p.eventsPerSecond) : "?";
    const counts = `${p.processed.toLocaleString("en-US")}/${total.toLocaleString("en-US")} events  ${p.eventsPerSecond.toLocaleString("en-US")} ev/s  ETA ${eta}`;
    if (this.io.stderrIsTTY) {
      const width = 24;
      const filled = Math.round(fraction * width);
      this.io.stderr(`\r\x1b[2Kaudit [${"#".repeat(filled)}${".".repeat(width - filled)}] ${percent}%  ${counts}`);
      this.drawn = true;
    } else {
      this.io.stderr(`audit: ${percent.trim()}%  ${counts}\n`);
    }
  }

  end(): void {
    if (this.drawn) this.io.stderr("\r\x1b[2K");
    this.drawn = false;
  }
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
