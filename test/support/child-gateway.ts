/**
 * The gateway as a real child process (`scripts/start.ts`, as `npm start` runs it),
 * so a test can SIGKILL it, read everything it logs, and start it again on the
 * same data directory. Optional preload modules (e.g. `crash-injector.ts`) run in
 * the child before the gateway starts.
 *
 * Every wait is bounded in time and fails with the child's output.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { readDemoKeys, request, ROOT, sleep, TEST_LIMITS, type ApiResponse, type DemoKeys, type RequestOptions } from "./gateway-harness";

export interface ChildGateway {
  child: ChildProcess;
  pid: number;
  url: string;
  dataDir: string;
  keys: DemoKeys;
  api: (method: string, route: string, options?: RequestOptions) => Promise<ApiResponse>;
  /** Everything the child wrote so far, stdout and stderr interleaved in arrival order. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (a clean stop), then waits for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnGatewayOptions {
  dataDir: string;
  /** Extra environment (overrides the test defaults below). */
  env?: Record<string, string>;
  /** Modules preloaded with -r (paths relative to the repository root). */
  preload?: string[];
  /** Extra options for node itself (e.g. --expose-gc), before the preloads. */
  nodeArgs?: string[];
  timeoutMs?: number;
  /** Keep at most this many characters of output (the newest); default 8 MB. */
  maxOutput?: number;
  /** Called with the child process as soon as it is spawned (to kill it while it starts). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Test defaults: any free ports, fast anchoring, quiet logs. */
export const CHILD_DEFAULTS: Record<string, string> = {
  PORT: "0",
  CHAIN_PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  CHECKPOINT_MAX_AGE_MS: "200",
  ANCHOR_POLL_MS: "100",
  ANCHOR_MAX_BACKOFF_MS: "1000",
  ...TEST_LIMITS,
};

export function spawnGateway(options: SpawnGatewayOptions): Promise<ChildGateway> {
  const env: Record<string, string | undefined> = { ...process.env, ...CHILD_DEFAULTS, DATA_DIR: options.dataDir, ...options.env };
  for (const name of ["RPC_URL", "CONTRACT_ADDRESS", "ANCHOR_PRIVATE_KEY", "LOG_ID", "CHAIN_ID", "PUBLIC_RPC_URL", "ORGS_FILE", "POLICY_FILE"]) {
    if (!(options.env && name in options.env)) delete env[name];
  }
  const preload = (options.preload ?? []).flatMap((file) => ["-r", path.resolve(ROOT, file)]);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "-r", "esbuild-register", ...preload, "scripts/start.ts"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  const maxOutput = options.maxOutput ?? 8 * 1024 * 1024;
  let output = "";
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > maxOutput) output = output.slice(output.length - maxOutput);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const timeoutMs = options.timeoutMs ?? 60_000;

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the gateway printed no "listening on" within ${timeoutMs} ms\n${output}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code ?? signal}) before listening\n${output}`));
    });
    const onData = () => {
      const url = /listening on (http:\/\/[^\s]+)/.exec(output)?.[1];
      if (!url || !output.includes("Press Ctrl-C")) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      const keysFile = path.join(options.dataDir, "keys.json");
      const keys = existsSync(keysFile) ? readDemoKeys(options.dataDir) : (undefined as unknown as DemoKeys);
      resolve({
        child,
        pid: child.pid!,
        url,
        dataDir: options.dataDir,
        keys,
        api: (method, route, requestOptions) => request(url, method, route, requestOptions),
        output: () => output,
        exited,
        alive,
        async kill() {
          if (alive()) child.kill("SIGKILL");
          await exited;
        },
        async stop(stopTimeoutMs = 30_000) {
          if (!alive()) return exited;
          child.kill("SIGTERM");
          const result = await Promise.race([exited, sleep(stopTimeoutMs).then(() => undefined)]);
          if (result) return result;
          child.kill("SIGKILL");
          throw new Error(`the gateway did not stop within ${stopTimeoutMs} ms of SIGTERM\n${output.slice(-4000)}`);
        },
      });
    };
    child.stdout!.on("data", onData);
  });
}
