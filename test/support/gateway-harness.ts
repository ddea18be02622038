/**
 * Helpers for end-to-end tests of the gateway: a real gateway in-process on a
 * temporary data directory (real Anvil, real LevelDB, real HTTP), its demo keys,
 * authenticated requests with global fetch, valid events, bounded waits for
 * receipts, and the `ledger` CLI run as a child process.
 *
 * Nothing is mocked. Every wait is bounded in time and fails with a message.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import canonicalize from "canonicalize";
import { loadConfig } from "../../server/config";
import { startGateway, type Gateway } from "../../server/gateway";
import type { Logger } from "pino";

export const ROOT = path.resolve(__dirname, "..", "..");
export const LEDGER_BIN = path.join(ROOT, "bin", "ledger.js");

/** Fast anchoring for tests: a checkpoint ~200 ms after the oldest unanchored event. */
export const FAST_ANCHORING: Record<string, string> = {
  CHECKPOINT_MAX_AGE_MS: "200",
  ANCHOR_POLL_MS: "100",
};

/**
 * Suites probe bad keys by the hundred from 127.0.0.1 and audit several times with
 * one key; the throttles' own tests (test/security/auth-throttle, audit-throttle)
 * set the real limits.
 */
export const TEST_LIMITS: Record<string, string> = {
  AUTH_FAILURE_LIMIT: "100000",
  AUDIT_MIN_INTERVAL_MS: "1",
};

export interface DemoKey {
  key: string;
  record: { id: string; name: string; role: string; jurisdiction?: string; createdAt: string; revokedAt?: string };
}

export interface DemoKeys {
  admin: DemoKey;
  submitter: DemoKey;
  auditor: DemoKey;
  regulator: DemoKey;
  citizenPortal: DemoKey;
}

export function makeTempDir(prefix = "ledger-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  // Retries: a node process that was just stopped may still be finishing a last write there.
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

export interface TestGateway {
  gateway: Gateway;
  dataDir: string;
  url: string;
  /** The demo keys written on first start of this data directory. */
  keys: DemoKeys;
  /** Authenticated request against this gateway. */
  api: (method: string, route: string, options?: RequestOptions) => Promise<ApiResponse>;
  stop: () => Promise<void>;
}

/**
 * Starts a gateway on `dataDir` (a new temp dir if omitted) with fast-anchoring
 * test settings; `env` overrides any setting (as environment variables); `logger`
 * replaces the silent one.
 */
export async function startTestGateway(
  options: { dataDir?: string; env?: Record<string, string>; logger?: Logger; onProgress?: (message: string) => void } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? makeTempDir();
  const config = loadConfig({ DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "silent", ...FAST_ANCHORING, ...TEST_LIMITS, ...options.env });
  const gateway = await startGateway(config, { onProgress: options.onProgress ?? (() => undefined), ...(options.logger ? { logger: options.logger } : {}) });
  const keys = readDemoKeys(dataDir);
  let stopped = false;
  return {
    gateway,
    dataDir,
    url: gateway.url,
    keys,
    api: (method, route, requestOptions) => request(gateway.url, method, route, requestOptions),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await gateway.stop();
    },
  };
}

/**
 * Two gateways for the two ways a batch body is prepared: `inline` never hands one to its
 * worker thread, `onWorker` hands it every one (its worker started).
 */
export async function startOnBothPreparationPaths(): Promise<{ inline: TestGateway; onWorker: TestGateway }> {
  const inline = await startTestGateway({ env: { INGEST_WORKER_MIN_BYTES: "1000000000" } });
  try {
    const onWorker = await startTestGateway({ env: { INGEST_WORKER_MIN_BYTES: "0" } });
    await onWorker.gateway.preparation.started();
    return { inline, onWorker };
  } catch (error) {
    await stopAndRemove(inline);
    throw error;
  }
}

/** Stops the gateway (if any) and removes its data directory. */
export async function stopAndRemove(test: TestGateway | undefined): Promise<void> {
  if (!test) return;
  try {
    await test.stop();
  } finally {
    removeDir(test.dataDir);
  }
}

export function readDemoKeys(dataDir: string): DemoKeys {
  return JSON.parse(readFileSync(path.join(dataDir, "keys.json"), "utf8")) as DemoKeys;
}

export interface RequestOptions {
  /** API key; sent as `Authorization: Bearer <key>`. */
  key?: string;
  /** A JSON body (serialised here, with Content-Type: application/json). */
  json?: unknown;
  /** A raw body, sent as given (set the content type yourself in `headers`). */
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined when the body is not JSON. */
  body: T;
  text: string;
}

export async function request(baseUrl: string, method: string, route: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | Uint8Array | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(new URL(route, baseUrl), {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

let requestCounter = 0;

/** A unique requestId for this test process. */
export function nextRequestId(prefix = "req"): string {
  requestCounter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${requestCounter}`;
}

export interface TestEvent {
  type: string;
  actor: { org: string; system: string; operator: string };
  dataset: string;
  subject?: string;
  recipient?: { org: string };
  purpose: string;
  legalBasis: string;
  fields: string[];
  occurredAt: string;
  requestId: string;
  attributes?: Record<string, string | number | boolean>;
  [extra: string]: unknown;
}

export type EventOverrides = Partial<Omit<TestEvent, "actor">> & { actor?: Partial<TestEvent["actor"]> };

/**
 * A valid access event (the example of the brief) with a fresh requestId;
 * `overrides` replace top-level fields, and `actor` is merged field by field.
 * A key set to undefined is removed.
 */
export function makeEvent(overrides: EventOverrides = {}): TestEvent {
  const { actor, ...rest } = overrides;
  const event: TestEvent = {
    type: "access",
    actor: { org: "330102003004:civil-affairs", system: "minzheng-app", operator: "op-7731", ...actor },
    dataset: "cat:household-registry",
    subject: "330102199001011234",
    purpose: "subsidy eligibility check",
    legalBasis: "Regulation 12",
    fields: ["name", "address"],
    occurredAt: "2026-11-26T10:00:00+08:00",
    requestId: nextRequestId(),
    ...rest,
  };
  for (const key of Object.keys(event)) if (event[key] === undefined) delete event[key];
  return event;
}

export function makeEvents(count: number, overrides: (i: number) => EventOverrides = () => ({})): TestEvent[] {
  return Array.from({ length: count }, (_, i) => makeEvent(overrides(i)));
}

/**
 * Polls GET /v1/receipts/:index until it answers 200 (the receipt) or the time
 * is up; any answer other than 200/202 fails at once.
 */
export async function waitForReceipt(baseUrl: string, key: string, index: number, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: ApiResponse | undefined;
  while (Date.now() < deadline) {
    last = await request(baseUrl, "GET", `/v1/receipts/${index}`, { key });
    if (last.status === 200) return last.body;
    if (last.status !== 202) throw new Error(`GET /v1/receipts/${index} answered ${last.status}: ${last.text}`);
    await sleep(100);
  }
  throw new Error(`no receipt for event ${index} within ${timeoutMs} ms; last answer ${last?.status}: ${last?.text}`);
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/ledger.js <args>` and captures its output; killed after `timeoutMs`. */
export function runCli(args: string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env };
    // Keep the caller's environment from choosing a gateway, key, chain or data dir for the CLI.
    for (const name of ["LEDGER_URL", "LEDGER_API_KEY", "LEDGER_RPC_URL", "DATA_DIR"]) if (!(options.env && name in options.env)) delete env[name];
    const child = spawn(process.execPath, [LEDGER_BIN, ...args], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ledger ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** RFC 9162 leaf hash of a JSON value's RFC 8785 bytes, computed independently of the server code. */
export function independentLeafHash(value: unknown): string {
  const json = canonicalize(value);
  if (json === undefined) throw new TypeError("no canonical form");
  return "0x" + createHash("sha256").update(Buffer.from([0])).update(Buffer.from(json, "utf8")).digest("hex");
}

function hashChildren(left: Buffer, right: Buffer): Buffer {
  return createHash("sha256").update(Buffer.from([1])).update(left).update(right).digest();
}

/**
 * RFC 9162 §2.1.3.2 inclusion verification, written from the RFC text, independent of
 * server/merkle: the root that `proof` leads to from `leafHash`, or undefined when the
 * proof does not fit (wrong length, index outside the tree).
 */
export function independentRootFromInclusion(index: number, size: number, leafHash: string, proof: string[]): string | undefined {
  if (index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash.slice(2), "hex");
  for (const p of proof) {
    if (sn === 0) return undefined;
    const node = Buffer.from(p.slice(2), "hex");
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(node, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, node);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return undefined;
  return "0x" + r.toString("hex");
}

/** A deep copy, for tampering with a receipt without touching the original. */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Pids of Anvil processes whose command line names `dataDir` (their state file lives under it). */
export function anvilPidsFor(dataDir: string): number[] {
  const out = execFileSync("ps", ["-ww", "-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /\banvil\b/.test(line) && line.includes(dataDir) && line.includes("--state"))
    .map((line) => Number(line.split(/\s+/)[0]));
}

/** Whether a JSON-RPC endpoint answers eth_chainId within `timeoutMs`. */
export async function rpcAnswers(rpcUrl: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.ok;
  } catch {
    return false;
  }
}

/** The gateway's own log as a trust anchor, built from what it runs with (not from GET /v1/log-list). */
export function trustOf(gateway: Pick<Gateway, "logId" | "chain">): { logs: { logId: `0x${string}`; chainId: number; contract: `0x${string}` }[] } {
  return { logs: [{ logId: gateway.logId.toLowerCase() as `0x${string}`, chainId: gateway.chain.chainId, contract: gateway.chain.contract.toLowerCase() as `0x${string}` }] };
}

/** `ledger verify`'s options trusting this gateway's log alone. */
export function trustArgs(gateway: Pick<Gateway, "logId" | "chain">): string[] {
  const [log] = trustOf(gateway).logs;
  return ["--log-id", log!.logId, "--contract", log!.contract, "--chain-id", String(log!.chainId)];
}
