/**
 * The soak run: the reliability and security suites of test/reliability and
 * test/security, much longer than in `npm test` — hundreds of SIGKILLs, a long
 * sustained load, many more fuzz inputs, the chain faults again and again.
 *
 *   node -r esbuild-register scripts/soak.ts [options]
 *
 *   --kills N        SIGKILLs of the gateway in the crash suite (default 200)
 *   --minutes N      minutes of sustained ingest in the load suite (default 10)
 *   --clients N      concurrent clients in the load suite (default 32)
 *   --fuzz N         multiplier of the fuzz runs per property (default 20)
 *   --faults N       runs of the chain-fault suite (default 5)
 *   --only a,b       some of: crash, load, fuzz, faults, access (default all)
 *   --seed N         seed for the crash and load suites (default: time-based, printed)
 *
 * Each suite runs as `hardhat test <file>` in its own process, one after the other,
 * each bounded in time (killed past its deadline). Exit 0 when every suite passed.
 */
import { spawn } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const HARDHAT = path.join(ROOT, "node_modules", "hardhat", "internal", "cli", "bootstrap.js");

interface Options {
  kills: number;
  minutes: number;
  clients: number;
  fuzz: number;
  faults: number;
  only: Set<string>;
  seed: number;
}

const SUITES = ["crash", "load", "fuzz", "faults", "access"] as const;

function parseOptions(argv: string[]): Options {
  const options: Options = { kills: 200, minutes: 10, clients: 32, fuzz: 20, faults: 5, only: new Set(SUITES), seed: Date.now() % 1_000_000 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    const value = argv[i + 1];
    const number = () => {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) usage(`${name} needs a positive number`);
      i++;
      return n;
    };
    switch (name) {
      case "--kills": options.kills = number(); break;
      case "--minutes": options.minutes = number(); break;
      case "--clients": options.clients = number(); break;
      case "--fuzz": options.fuzz = number(); break;
      case "--faults": options.faults = number(); break;
      case "--seed": options.seed = number(); break;
      case "--only": {
        const chosen = (value ?? "").split(",").filter(Boolean);
        for (const s of chosen) if (!(SUITES as readonly string[]).includes(s)) usage(`unknown suite ${s}`);
        options.only = new Set(chosen);
        i++;
        break;
      }
      case "--help": usage();
      default: usage(`unknown option ${name}`);
    }
  }
  return options;
}

function usage(problem?: string): never {
  if (problem) console.error(`soak: ${problem}`);
  console.error("usage: scripts/soak.ts [--kills N] [--minutes N] [--clients N] [--fuzz N] [--faults N] [--only crash,load,fuzz,faults,access] [--seed N]");
  process.exit(2);
}

interface Run {
  suite: string;
  file: string;
  env: Record<string, string>;
  deadlineMs: number;
}

function plan(o: Options): Run[] {
  const runs: Run[] = [];
  if (o.only.has("crash")) runs.push({ suite: "crash", file: "test/reliability/crash.test.ts", env: { CRASH_KILLS: String(o.kills), CRASH_SEED: String(o.seed) }, deadlineMs: 300_000 + o.kills * 30_000 });
  if (o.only.has("load")) runs.push({ suite: "load", file: "test/reliability/load.test.ts", env: { LOAD_SECONDS: String(o.minutes * 60), LOAD_CLIENTS: String(o.clients), LOAD_SEED: String(o.seed) }, deadlineMs: o.minutes * 60_000 + 600_000 });
  if (o.only.has("fuzz")) runs.push({ suite: "fuzz", file: "test/security/fuzz.test.ts", env: { FUZZ_RUNS: String(o.fuzz) }, deadlineMs: 300_000 * o.fuzz });
  for (let i = 0; o.only.has("faults") && i < o.faults; i++) runs.push({ suite: `faults #${i + 1}`, file: "test/reliability/chain-faults.test.ts", env: {}, deadlineMs: 600_000 });
  if (o.only.has("access")) runs.push({ suite: "access", file: "test/security/access.test.ts", env: {}, deadlineMs: 600_000 });
  return runs;
}

function runSuite(run: Run): Promise<{ ok: boolean; seconds: number; how: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HARDHAT, "test", run.file], { cwd: ROOT, env: { ...process.env, ...run.env }, stdio: "inherit" });
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      console.error(`soak: ${run.suite} passed its deadline of ${Math.round(run.deadlineMs / 1000)} s; stopping it`);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    }, run.deadlineMs);
    child.once("exit", (code, signal) => {
      clearTimeout(deadline);
      const seconds = (Date.now() - started) / 1000;
      resolve({ ok: code === 0 && !timedOut, seconds, how: timedOut ? "timed out" : signal ? `killed by ${signal}` : `exit ${code}` });
    });
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const runs = plan(options);
  console.log(`soak: ${runs.map((r) => r.suite).join(", ")}; seed ${options.seed}`);
  const results: { suite: string; ok: boolean; seconds: number; how: string }[] = [];
  for (const run of runs) {
    console.log(`\nsoak: ${run.suite} (${run.file}${Object.keys(run.env).length ? ", " + Object.entries(run.env).map(([k, v]) => `${k}=${v}`).join(" ") : ""})`);
    results.push({ suite: run.suite, ...(await runSuite(run)) });
  }
  console.log("\nsoak results:");
  for (const r of results) console.log(`  ${r.ok ? "passed" : "FAILED"}  ${r.suite.padEnd(10)} ${r.seconds.toFixed(0).padStart(6)} s  (${r.how})`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

void main();
