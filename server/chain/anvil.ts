import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import path from "node:path";

/**
 * The embedded chain: Anvil from the npm package, with its state on disk.
 * `--state-interval 1` dumps every second so the chain survives a SIGKILL too.
 */

export interface AnvilNode {
  rpcUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartAnvilParameters {
  /** File for the chain state; omit for a throw-away chain (tests). */
  stateFile?: string;
  chainId?: number;
  port?: number;
  /** Extra command-line arguments, e.g. ["--block-time", "1"]. */
  args?: string[];
  timeoutMs?: number;
}

export function anvilBinary(): string {
  if (process.env.ANVIL_PATH) return process.env.ANVIL_PATH;
  const pkg = require.resolve("@foundry-rs/anvil-linux-amd64/package.json");
  return path.join(path.dirname(pkg), "bin", "anvil");
}

export async function startAnvil(parameters: StartAnvilParameters = {}): Promise<AnvilNode> {
  const args = ["--host", "127.0.0.1", "--port", String(parameters.port ?? 0), "--chain-id", String(parameters.chainId ?? 31337)];
  if (parameters.stateFile) {
    mkdirSync(path.dirname(parameters.stateFile), { recursive: true });
    args.push("--state", parameters.stateFile, "--state-interval", "1");
  }
  args.push(...(parameters.args ?? []));
  // Its own process group, so that Ctrl-C on `npm start` reaches the gateway, which stops Anvil cleanly.
  const child = spawn(anvilBinary(), args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const rpcUrl = await new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => fail(new Error(`anvil did not start within ${parameters.timeoutMs ?? 20_000} ms:\n${output}`)), parameters.timeoutMs ?? 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(`http://${match[1]}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error) => fail(new Error(`cannot run anvil (${anvilBinary()}): ${error.message}`)));
    child.once("exit", (code) => {
      const hint = /Address already in use/.test(output) ? ` (port ${parameters.port} is taken: set CHAIN_PORT to another port, or 0 for any)` : "";
      fail(new Error(`anvil exited with code ${code} before listening${hint}:\n${output.trim()}`));
    });
  });
  child.removeAllListeners("exit");
  // Keep draining output so a full pipe never blocks Anvil.
  child.stdout!.resume();
  child.stderr!.resume();
  child.unref();
  return {
    rpcUrl,
    process: child,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Anvil's whole state now, as the JSON its `--state` file holds (anvil_dumpState answers
 * it gzipped, as hex): what a backup keeps of the embedded chain, instead of the state
 * file, which Anvil may be rewriting at that moment.
 */
export async function dumpAnvilState(provider: { send(method: string, params: unknown[]): Promise<unknown> }): Promise<Buffer> {
  const dumped = (await provider.send("anvil_dumpState", [])) as string;
  return gunzipSync(Buffer.from(dumped.replace(/^0x/, ""), "hex"));
}
