import path from "node:path";
import { z } from "zod";
import { readLogListFile } from "./receipts/load-log-list";
import { TrustAnchorError, type LogList } from "./receipts/trust-anchor";

/**
 * Gateway configuration, read from the environment and validated at boot so a
 * typo fails fast with a message rather than surfacing later as odd behaviour.
 */

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "32 bytes as 0x-prefixed hex");
const positiveInt = z.coerce.number().int().positive();

const envSchema = z
  .object({
    DATA_DIR: z.string().min(1).default("./data"),
    HOST: z.string().min(1).default("127.0.0.1"),
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    CHAIN_PORT: z.coerce.number().int().min(0).max(65535).default(0),
    PUBLIC_RPC_URL: z.url().optional(),
    CHAIN_BLOCK_TIME: positiveInt.optional(),
    RPC_URL: z.url().optional(),
    CHAIN_ID: positiveInt.optional(),
    CONTRACT_ADDRESS: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address, 0x + 40 hex digits").optional(),
    ANCHOR_PRIVATE_KEY: hex32.optional(),
    LOG_ID: hex32.optional(),
    LOG_NAME: z.string().min(1).max(128).default("demo gateway"),
    LOG_DIVISION: z.string().regex(/^\d{12}$/).default("330102000000"),
    LOG_ORIGIN: z.string().min(1).max(256).regex(/^[^\s+]+$/, "one word: no spaces and no \"+\" (it is also the note key's name)").optional(),
    LOG_NOTE_KEY_FILE: z.string().min(1).optional(),
    CONFIRMATIONS: positiveInt.default(1),
    CHECKPOINT_MAX_EVENTS: positiveInt.default(1000),
    CHECKPOINT_MAX_AGE_MS: positiveInt.default(5000),
    ANCHOR_POLL_MS: positiveInt.default(500),
    ANCHOR_MAX_BACKOFF_MS: positiveInt.default(30_000),
    INGEST_MAX_BACKLOG: positiveInt.default(200_000),
    DERIVED_MAX_DEFER_MS: z.coerce.number().int().min(0).default(5_000),
    DERIVED_BUSY_CORES: z.coerce.number().positive().default(0.75),
    INGEST_WORKER_MIN_BYTES: z.coerce.number().int().min(0).default(65_536),
    BODY_LIMIT_BYTES: positiveInt.default(2 * 1024 * 1024),
    RATE_LIMIT_PER_SECOND: positiveInt.default(1000),
    RATE_LIMIT_BURST: positiveInt.default(2000),
    AUTH_FAILURE_LIMIT: positiveInt.default(20),
    AUTH_FAILURE_WINDOW_MS: positiveInt.default(60_000),
    AUDIT_MIN_INTERVAL_MS: z.coerce.number().int().min(0).default(600_000),
    ORGS_FILE: z.string().min(1).optional(),
    POLICY_FILE: z.string().min(1).optional(),
    POLICY_POLL_MS: positiveInt.default(1000),
    METRICS_TOKEN: z.string().min(16, "at least 16 characters").optional(),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    TRUSTED_LOGS: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    CONSOLE_SOURCE_MAPS: z.enum(["true", "false"]).default("false"),
  })
  .superRefine((env, ctx) => {
    if (env.RPC_URL) {
      for (const name of ["CONTRACT_ADDRESS", "ANCHOR_PRIVATE_KEY", "LOG_ID"] as const) {
        if (!env[name]) ctx.addIssue({ code: "custom", path: [name], message: `required when RPC_URL is set` });
      }
    }
  });

export interface Config {
  dataDir: string;
  host: string;
  port: number;
  /** Port of the embedded chain's JSON-RPC endpoint (0: any free port). */
  chainPort: number;
  /** RPC endpoint shown to verifiers (receipt checks in the console); default: the gateway's own. */
  publicRpcUrl?: string;
  /** Embedded chain's seconds per block; by default one block per transaction, or 1 s blocks when CONFIRMATIONS > 1. */
  chainBlockTime?: number;
  /** Absent: run the embedded Anvil chain under dataDir. */
  chain?: { rpcUrl: string; chainId?: number; contract: string; anchorPrivateKey: string; logId: string };
  logName: string;
  logDivision: string;
  /** The checkpoint origin line and note key name; by default derived from chain, contract and log id. */
  logOrigin?: string;
  /** The log's Ed25519 note key; by default DATA_DIR/note-key, made on first start. */
  logNoteKeyFile?: string;
  confirmations: number;
  checkpointMaxEvents: number;
  checkpointMaxAgeMs: number;
  anchorPollMs: number;
  anchorMaxBackoffMs: number;
  bodyLimitBytes: number;
  /** Events acknowledged but not yet indexed and folded, beyond which ingest answers 503. */
  ingestMaxBacklog: number;
  /**
   * Longest time indexing and folding make way for a busy ingest (0: never). They also stop
   * waiting at half of ingestMaxBacklog behind (server/log/ingest-priority.ts).
   */
  derivedMaxDeferMs: number;
  /** The process's CPU use, in cores, above which ingest counts as busy for derived work. */
  derivedBusyCores: number;
  /** Batch bodies of at least this many bytes are validated and serialised on a worker thread (0: all). */
  ingestWorkerMinBytes: number;
  rateLimit: { ratePerSecond: number; burst: number };
  /** Failed authentications per client address or key id in a window beyond which they are answered 429. */
  authFailures: { maxFailures: number; windowMs: number };
  /** Shortest time between two audits started by one key (0: no limit). */
  auditMinIntervalMs: number;
  /** Organisation registry (JSON or CSV) loaded at boot, when set. */
  orgsFile?: string;
  /** Negative list and thresholds (JSON), hot-reloaded; none when unset. */
  policyFile?: string;
  policyPollMs: number;
  /** Logs besides its own whose receipts POST /v1/verify accepts (TRUSTED_LOGS, a log list file read at boot). */
  trustedLogs?: { file: string; list: LogList };
  logLevel: string;
  /** Bearer token for GET /metrics on the API's port; without it /metrics is served only on metricsPort. */
  metricsToken?: string;
  /** A port of its own for GET /metrics (no token), on the same host. */
  metricsPort?: number;
  /** Serve the console's source map (the whole browser source): for development only. */
  consoleSourceMaps: boolean;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  const trustedLogsFile = e.TRUSTED_LOGS === undefined ? undefined : path.resolve(e.TRUSTED_LOGS);
  let trustedLogs: Config["trustedLogs"];
  try {
    trustedLogs = trustedLogsFile === undefined ? undefined : { file: trustedLogsFile, list: readLogListFile(trustedLogsFile) };
  } catch (error) {
    if (error instanceof TrustAnchorError) throw new ConfigError([`TRUSTED_LOGS: ${error.message}`]);
    throw error;
  }
  return {
    dataDir: path.resolve(e.DATA_DIR),
    host: e.HOST,
    port: e.PORT,
    chainPort: e.CHAIN_PORT,
    publicRpcUrl: e.PUBLIC_RPC_URL,
    chainBlockTime: e.CHAIN_BLOCK_TIME ?? (e.CONFIRMATIONS > 1 ? 1 : undefined),
    chain: e.RPC_URL
      ? {
          rpcUrl: e.RPC_URL,
          chainId: e.CHAIN_ID,
          contract: e.CONTRACT_ADDRESS!.toLowerCase(),
          anchorPrivateKey: e.ANCHOR_PRIVATE_KEY!,
          logId: e.LOG_ID!.toLowerCase(),
        }
      : undefined,
    logName: e.LOG_NAME,
    logDivision: e.LOG_DIVISION,
    logOrigin: e.LOG_ORIGIN,
    logNoteKeyFile: e.LOG_NOTE_KEY_FILE === undefined ? undefined : path.resolve(e.LOG_NOTE_KEY_FILE),
    confirmations: e.CONFIRMATIONS,
    checkpointMaxEvents: e.CHECKPOINT_MAX_EVENTS,
    checkpointMaxAgeMs: e.CHECKPOINT_MAX_AGE_MS,
    anchorPollMs: e.ANCHOR_POLL_MS,
    anchorMaxBackoffMs: e.ANCHOR_MAX_BACKOFF_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    ingestMaxBacklog: e.INGEST_MAX_BACKLOG,
    derivedMaxDeferMs: e.DERIVED_MAX_DEFER_MS,
    derivedBusyCores: e.DERIVED_BUSY_CORES,
    ingestWorkerMinBytes: e.INGEST_WORKER_MIN_BYTES,
    rateLimit: { ratePerSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    authFailures: { maxFailures: e.AUTH_FAILURE_LIMIT, windowMs: e.AUTH_FAILURE_WINDOW_MS },
    auditMinIntervalMs: e.AUDIT_MIN_INTERVAL_MS,
    orgsFile: e.ORGS_FILE === undefined ? undefined : path.resolve(e.ORGS_FILE),
    policyFile: e.POLICY_FILE === undefined ? undefined : path.resolve(e.POLICY_FILE),
    policyPollMs: e.POLICY_POLL_MS,
    trustedLogs,
    logLevel: e.LOG_LEVEL,
    metricsToken: e.METRICS_TOKEN,
    metricsPort: e.METRICS_PORT,
    consoleSourceMaps: e.CONSOLE_SOURCE_MAPS === "true",
  };
}
