/**
 * `npm start` (scripts/start.ts) as a real child process: it starts the embedded chain
 * and the gateway, writes the demo keys with mode 0600, stops cleanly on SIGINT
 * (exit 0, "stopped", no Anvil left behind), and a second start on the same data
 * directory finds its events and its contract again. With the reader of its output
 * gone (EPIPE on every write) it still stops cleanly on SIGTERM.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { anvilPidsFor, makeEvent, makeTempDir, removeDir, request, ROOT, rpcAnswers, sleep, waitFor, type DemoKeys } from "../support/gateway-harness";

interface Started {
  child: ChildProcess;
  url: string;
  rpcUrl: string;
  contract: string;
  output: () => { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startNpmStart(dataDir: string, timeoutMs = 60_000, extraEnv: Record<string, string> = {}): Promise<Started> {
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "silent", CHECKPOINT_MAX_AGE_MS: "200", ANCHOR_POLL_MS: "100", ...extraEnv };
  for (const name of ["RPC_URL", "CONTRACT_ADDRESS", "ANCHOR_PRIVATE_KEY", "LOG_ID", "CHAIN_ID", "HOST"]) delete env[name];
  const child = spawn(process.execPath, ["-r", "esbuild-register", "scripts/start.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`npm start printed no "listening on" within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
    const onData = () => {
      const url = /listening on (http:\/\/[^\s]+)/.exec(stdout)?.[1];
      const contract = /contract\s+(0x[0-9a-f]{40})/.exec(stdout)?.[1];
      const rpcUrl = /chain\s+embedded Anvil (http:\/\/[^\s]+)/.exec(stdout)?.[1];
      if (url && contract && rpcUrl && stdout.includes("Press Ctrl-C")) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve({ child, url, rpcUrl, contract, exited, output: () => ({ stdout, stderr }) });
      }
    };
    child.stdout!.on("data", onData);
  });
}

async function interrupt(started: Started, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  started.child.kill("SIGINT");
  const result = await Promise.race([started.exited, sleep(timeoutMs).then(() => undefined)]);
  if (!result) {
    started.child.kill("SIGKILL");
    throw new Error(`npm start did not exit within ${timeoutMs} ms of SIGINT\n${JSON.stringify(started.output())}`);
  }
  return result;
}

describe("npm start: a real process, stopped with SIGINT and started again", function () {
  this.timeout(120_000);

  let dataDir: string;
  const running: Started[] = [];

  before(() => {
    dataDir = makeTempDir("ledger-npm-start-");
  });

  after(async () => {
    for (const started of running) {
      if (started.child.exitCode === null && started.child.signalCode === null) {
        started.child.kill("SIGKILL");
        await Promise.race([started.exited, sleep(5_000)]);
      }
    }
    // Never leave this test's chain running, whatever failed above.
    for (const pid of anvilPidsFor(dataDir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    removeDir(dataDir);
  });

  it("starts, serves, stops on SIGINT with exit 0, and comes back with its events and contract", async () => {
    // First start: a fresh chain, the contract deployed, demo keys written.
    const first = await startNpmStart(dataDir);
    running.push(first);
    expect(first.output().stdout).to.include("deploying ProvenanceLedger");
    const keysFile = path.join(dataDir, "keys.json");
    expect(existsSync(keysFile)).to.equal(true);
    expect(statSync(keysFile).mode & 0o777).to.equal(0o600);
    expect(first.output().stdout).to.include(keysFile);
    expect(statSync(path.join(dataDir, "chain", "anchor-key")).mode & 0o777).to.equal(0o600);
    const keys = JSON.parse(readFileSync(keysFile, "utf8")) as DemoKeys;

    expect(anvilPidsFor(dataDir)).to.have.length(1);
    expect(await rpcAnswers(first.rpcUrl)).to.equal(true);
    const health = await request(first.url, "GET", "/healthz");
    expect(health.status).to.equal(200);

    const event = makeEvent();
    const posted = await request(first.url, "POST", "/v1/events", { key: keys.submitter.key, json: event });
    expect(posted.status, posted.text).to.equal(201);
    expect(posted.body).to.deep.equal({ index: 0, created: true });
    const stored = (await request(first.url, "GET", "/v1/events/0", { key: keys.auditor.key })).body;
    // Let it be anchored, so the restart has a checkpoint to keep.
    const receipt = await waitFor("the first receipt", async () => {
      const r = await request(first.url, "GET", "/v1/receipts/0", { key: keys.auditor.key });
      return r.status === 200 ? r.body : undefined;
    });

    const stop = await interrupt(first);
    expect(stop, JSON.stringify(first.output())).to.deep.equal({ code: 0, signal: null });
    expect(first.output().stdout).to.include("SIGINT: stopping");
    expect(first.output().stdout).to.match(/stopped\.?\s*$/);
    // No Anvil left behind: no process for this data dir, and its RPC port no longer answers.
    await waitFor("Anvil to be gone", () => (anvilPidsFor(dataDir).length === 0 ? true : undefined), 10_000);
    expect(await rpcAnswers(first.rpcUrl)).to.equal(false);
    const gone = await fetch(first.url + "/healthz").then(
      () => "answered",
      () => "refused",
    );
    expect(gone).to.equal("refused");

    // Second start on the same directory: no redeploy, the same contract, the event still there.
    const second = await startNpmStart(dataDir);
    running.push(second);
    expect(second.output().stdout).to.not.include("deploying ProvenanceLedger");
    expect(second.contract).to.equal(first.contract);
    expect(JSON.parse(readFileSync(keysFile, "utf8"))).to.deep.equal(keys);
    expect(statSync(keysFile).mode & 0o777).to.equal(0o600);
    expect(anvilPidsFor(dataDir)).to.have.length(1);

    const again = await request(second.url, "GET", "/v1/events/0", { key: keys.auditor.key });
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal(stored);
    const repeat = await request(second.url, "POST", "/v1/events", { key: keys.submitter.key, json: event });
    expect(repeat.body).to.deep.equal({ index: 0, created: false });
    const verified = await request(second.url, "POST", "/v1/verify", { key: keys.auditor.key, json: receipt });
    expect(verified.body, verified.text).to.include({ valid: true, index: 0 });
    const next = await request(second.url, "POST", "/v1/events", { key: keys.submitter.key, json: makeEvent() });
    expect(next.body).to.deep.equal({ index: 1, created: true });

    const stop2 = await interrupt(second);
    expect(stop2, JSON.stringify(second.output())).to.deep.equal({ code: 0, signal: null });
    expect(second.output().stdout).to.match(/stopped\.?\s*$/);
    await waitFor("Anvil to be gone", () => (anvilPidsFor(dataDir).length === 0 ? true : undefined), 10_000);
    expect(await rpcAnswers(second.rpcUrl)).to.equal(false);
  });

  it("stops cleanly, leaving no Anvil behind, when its output's reader is gone", async () => {
    // The reader of its stdout goes away (a pipe to a process that ended, as when whatever
    // started it dies): its next line fails with EPIPE. That must stop it, not crash it.
    const started = await startNpmStart(dataDir, 60_000, { LOG_LEVEL: "info" });
    running.push(started);
    expect(anvilPidsFor(dataDir)).to.have.length(1);
    started.child.stdout!.destroy();
    started.child.kill("SIGTERM"); // its "stopping" line is the first write to the closed pipe
    const result = await Promise.race([started.exited, sleep(30_000).then(() => undefined)]);
    expect(result, `still running 30 s after SIGTERM; stderr: ${started.output().stderr}`).to.not.equal(undefined);
    expect(result, started.output().stderr).to.deep.equal({ code: 0, signal: null });
    await waitFor("Anvil to be gone", () => (anvilPidsFor(dataDir).length === 0 ? true : undefined), 10_000);
    expect(await rpcAnswers(started.rpcUrl)).to.equal(false);
  });
});
