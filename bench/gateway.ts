/**
 * The gateway as a child process (so that the load generator never shares its event
 * loop), on a temporary data directory with its embedded Anvil, and a keep-alive HTTP
 * client for it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { isAlive, killPid, onCleanup, progress, stopChild, tempDir } from "./common";

const ROOT = path.resolve(__dirname, "..");

export interface DemoKeys {
  admin: string;
  submitter: string;
  regulator: string;
  auditor: string;
  submitterId: string;
}

export interface GatewayChild {
  url: string;
  pid: number;
  dataDir: string;
  keys: DemoKeys;
  /** Pids of the processes the gateway started (its Anvil). */
  descendants(): number[];
  stop(): Promise<void>;
}

/** Environment for a benchmark gateway: rate limits out of the way, request logging off. */
export const BENCH_GATEWAY_ENV: Record<string, string> = {
  HOST: "127.0.0.1",
  PORT: "0",
  // The embedded chain on a free port, so that a bench never collides with a running gateway.
  CHAIN_PORT: "0",
  RATE_LIMIT_PER_SECOND: "1000000000",
  RATE_LIMIT_BURST: "1000000000",
  LOG_LEVEL: "warn",
  BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
};

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return settled;
}

/** Children of `pid` (Linux), recursively. */
function descendantsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

export interface StartGatewayChildOptions {
  env?: Record<string, string>;
  /** How long a stop waits after SIGTERM before SIGKILL (the data is thrown away anyway). */
  stopGraceMs?: number;
}

/**
 * The node arguments `npm start` uses (package.json's start script, minus `node`), so
 * a benchmark measures the gateway exactly as it is run — GC settings included.
 */
export function startScriptArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const [command, ...args] = scripts.start.trim().split(/\s+/);
  if (command !== "node" || args[args.length - 1] !== "scripts/start.ts") throw new Error(`package.json's start script is not "node … scripts/start.ts": ${scripts.start}`);
  return args;
}

export async function startGatewayChild(name: string, { env = {}, stopGraceMs = 20_000 }: StartGatewayChildOptions = {}): Promise<GatewayChild> {
  const { dir } = tempDir(name);
  // For diagnosis: BENCH_GATEWAY_CPU_PROF=DIR profiles the gateway (a .cpuprofile in DIR when
  // it stops); BENCH_GATEWAY_NODE_ARGS adds node options (e.g. "--trace-gc"), output to stderr.
  const profile = process.env.BENCH_GATEWAY_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(process.env.BENCH_GATEWAY_CPU_PROF)}`] : [];
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...profile, ...nodeArgs, ...startScriptArgs()], {
    cwd: ROOT,
    env: { ...process.env, ...BENCH_GATEWAY_ENV, DATA_DIR: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Remembered as soon as seen, so that they are stopped even if the gateway dies first.
  const known = new Set<number>();
  const remember = () => {
    if (child.pid !== undefined) for (const pid of descendantsOf(child.pid)) known.add(pid);
  };
  const stop = onCleanup(`gateway ${name} (pid ${child.pid})`, async () => {
    remember();
    const exited = exitOf(child);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    if (!(await within(exited, stopGraceMs))) {
      // Too slow: kill its Anvil first, while the gateway is alive to reap it (an orphan
      // killed later would stay a zombie where nothing reaps orphans), then the gateway.
      for (const pid of known) killPid(pid);
      await new Promise((resolve) => setTimeout(resolve, 500));
      child.kill("SIGKILL");
      await exited;
    }
    // The gateway stops its Anvil on SIGTERM; make sure of it (by pid, never by name).
    for (const pid of known) {
      for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      killPid(pid);
    }
  });

  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  if (nodeArgs.length > 0) child.stdout!.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start within 120 s:\n${output}`)), 120_000);
      const onData = () => {
        const match = /listening on (http:\/\/[^\s]+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on("data", onData);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited (${code ?? signal}) before listening:\n${output}`));
      });
    });
    child.removeAllListeners("exit");
    child.once("exit", (code, signal) => {
      if (code !== 0) progress(`gateway ${name} exited (${code ?? signal}); last output:\n${output.slice(-2000)}`);
    });
    remember();
    const keysFile = JSON.parse(readFileSync(path.join(dir, "keys.json"), "utf8")) as Record<string, { key: string; record: { id: string } }>;
    const keys: DemoKeys = {
      admin: keysFile.admin!.key,
      submitter: keysFile.submitter!.key,
      regulator: keysFile.regulator!.key,
      auditor: keysFile.auditor!.key,
      submitterId: keysFile.submitter!.record.id,
    };
    progress(`gateway ${name}: ${url} (pid ${child.pid}, data ${dir})`);
    return { url, pid: child.pid!, dataDir: dir, keys, descendants: () => (remember(), [...known]), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A floor server as a child process: "bare" is bench/http-floor-server.js (node:http, parse
 * the JSON body, answer 201); "app" is bench/http-app-stub.ts (the gateway's HTTP app
 * over a stub ledger). Returns its URL and pid; stopped at the end of the run.
 */
export async function startHttpFloorServer(kind: "bare" | "app"): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const args = kind === "bare" ? [path.join(__dirname, "http-floor-server.js")] : ["-r", "esbuild-register", path.join(__dirname, "http-app-stub.ts")];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let errors = "";
  child.stderr!.on("data", (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4000)));
  const stop = onCleanup(`${kind} HTTP floor server (pid ${child.pid})`, () => stopChild(child, 5_000));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`the ${kind} HTTP floor server did not start: ${output}${errors}`)), 60_000);
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once("exit", (code) => reject(new Error(`the ${kind} HTTP floor server exited (${code}): ${output}${errors}`)));
    });
    child.removeAllListeners("exit");
    return { url, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** A keep-alive HTTP client for one gateway; bodies are sent as prepared strings. */
export class Client {
  readonly agent: http.Agent;
  private readonly base: URL;

  constructor(url: string, maxSockets: number) {
    this.base = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, pathname: string, key: string, body?: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${key}` };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, method, path: pathname, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  async json<T>(method: string, pathname: string, key: string, body?: string): Promise<T> {
    const answer = await this.request(method, pathname, key, body);
    if (answer.status >= 300) throw new Error(`${method} ${pathname}: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`);
    return JSON.parse(answer.body) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Sends every body with `concurrency` requests in flight, each client taking the next
 * body as soon as its previous request is answered. Throws on the first answer that is
 * not 2xx. Returns each request's latency in ms, in completion order.
 */
export async function sendAll(client: Client, key: string, bodies: readonly string[], concurrency: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (failure === undefined && next < bodies.length) {
      const body = bodies[next++]!;
      const started = performance.now();
      const answer = await client.request("POST", "/v1/events", key, body);
      latencies.push(performance.now() - started);
      if (answer.status !== 201 && answer.status !== 200) failure ??= new Error(`POST /v1/events: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure) throw failure;
  return latencies;
}

export interface GatewayStatus {
  anchoring: { state: string; treeSize: number; logSize: number; anchoredSize: number; lastError?: string };
  indexedEvents: number;
}

/**
 * Waits until the gateway has indexed, folded and anchored everything it holds, so the
 * next measurement does not pay for the previous one's background work. Bounded.
 */
export async function waitUntilSettled(client: Client, adminKey: string, timeoutMs = 180_000): Promise<GatewayStatus> {
  const deadline = Date.now() + timeoutMs;
  let status: GatewayStatus;
  for (;;) {
    status = await client.json<GatewayStatus>("GET", "/v1/status", adminKey);
    const { logSize, treeSize, anchoredSize } = status.anchoring;
    if (status.indexedEvents >= logSize && treeSize >= logSize && anchoredSize >= logSize) return status;
    if (Date.now() > deadline) {
      progress(`gateway did not settle within ${timeoutMs / 1000} s: ${JSON.stringify(status)}; going on`);
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** VmRSS and VmHWM (peak) of a process, in bytes (Linux). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms (Linux, from
 * /proc/PID/stat in clock ticks of 10 ms). On a shared machine CPU per event is steadier
 * than events per second: it does not count the time the process waited for a core.
 */
export function cpuTimeOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return ticks * 10;
}
