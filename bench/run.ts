/**
 * `npm run bench [-- --quick] [-- --only tree,ingest,anchoring,queries,memory,audit]`
 *
 * Runs the benchmark suites one after the other, prints one Markdown table on stdout
 * (progress goes to stderr) and writes the same rows, with the run's facts, to
 * bench/results/latest.json (or --out FILE). Every figure comes with a baseline measured
 * in the same run, because absolute figures on a shared machine are noise.
 *
 * Exit code: 0 when every suite ran (missed floors are reported, not fatal: tests do not
 * assert timings, benchmarks report them), 1 when a suite failed, 2 on bad arguments.
 * `--strict` makes a missed floor exit 1 too.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { cleanUpAll, progress, type Suite } from "./common";
import { Report, type RunInfo } from "./report";

const SUITES: Record<string, () => Suite> = {
  tree: () => require("./tree.bench").treeBench,
  ingest: () => require("./ingest.bench").ingestBench,
  anchoring: () => require("./anchoring.bench").anchoringBench,
  queries: () => require("./queries.bench").queriesBench,
  memory: () => require("./memory.bench").memoryBench,
  audit: () => require("./audit.bench").auditBench,
  openlog: () => require("./openlog.bench").openlogBench,
};

interface Arguments {
  quick: boolean;
  strict: boolean;
  only: string[];
  out: string;
}

function parseArguments(argv: string[]): Arguments {
  const args: Arguments = { quick: false, strict: false, only: Object.keys(SUITES), out: path.join(__dirname, "results", "latest.json") };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.split("=", 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${name} needs a value`);
    if (name === "--quick") args.quick = true;
    else if (name === "--strict") args.strict = true;
    else if (name === "--only") {
      args.only = value().split(",").map((s) => s.trim()).filter(Boolean);
      const unknown = args.only.filter((s) => !(s in SUITES));
      if (unknown.length > 0 || args.only.length === 0) usage(`unknown suite ${unknown.join(", ")}; suites are ${Object.keys(SUITES).join(", ")}`);
    } else if (name === "--out") args.out = path.resolve(value());
    else if (name === "--help" || name === "-h") usage();
    else usage(`unknown argument ${arg}`);
  }
  return args;
}

function usage(problem?: string): never {
  if (problem) process.stderr.write(`${problem}\n`);
  process.stderr.write(
    [
      "usage: npm run bench -- [--quick] [--only SUITES] [--out FILE] [--strict]",
      `  --quick        smaller sizes (a smoke run of about two minutes)`,
      `  --only a,b     run only these suites: ${Object.keys(SUITES).join(", ")}`,
      `  --out FILE     JSON results (default bench/results/latest.json)`,
      `  --strict       exit 1 when a floor is missed`,
      "",
    ].join("\n"),
  );
  process.exit(problem ? 2 : 0);
}

function gitCommit(): string | undefined {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: __dirname, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2));
  const report = new Report();
  const started = Date.now();
  const loadAverageAtStart = os.loadavg().map((l) => Number(l.toFixed(2)));
  const failures: RunInfo["failures"] = [];
  progress(`bench (${args.quick ? "quick" : "full"}): ${args.only.join(", ")}; ${os.cpus().length} CPUs, load average ${loadAverageAtStart.join(" ")}`);

  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping child processes and removing temporary data…`);
    void cleanUpAll().finally(() => process.exit(130));
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  for (const name of args.only) {
    const suiteStarted = Date.now();
    progress(`── ${name} ──`);
    try {
      await SUITES[name]!()({ quick: args.quick, report });
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      failures.push({ suite: name, error: (error as Error).message ?? String(error) });
      progress(`${name} FAILED: ${message}`);
      const firstLine = ((error as Error).message ?? String(error)).split("\n")[0]!;
      report.add({ suite: name, metric: "suite failed (see stderr)", value: firstLine.length > 160 ? `${firstLine.slice(0, 160)}…` : firstLine, unit: "", ok: false, floor: "runs" });
    } finally {
      await cleanUpAll();
    }
    progress(`${name} took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
  }

  const info: RunInfo = {
    startedAt: new Date(started).toISOString(),
    wallTimeSeconds: Math.round((Date.now() - started) / 100) / 10,
    mode: args.quick ? "quick" : "full",
    suites: args.only,
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown"}`,
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
    commit: gitCommit(),
    failures,
  };
  report.write(args.out, info);
  process.stdout.write(
    [
      `## Benchmarks (${info.mode}, ${info.startedAt.slice(0, 16).replace("T", " ")} UTC, ${info.cpus}, node ${info.node}, commit ${info.commit ?? "?"})`,
      "",
      report.markdown(),
      "",
      `Wall time ${info.wallTimeSeconds} s; load average ${info.loadAverageAtStart.join(" ")} at start, ${info.loadAverageAtEnd.join(" ")} at end. ` +
        `Ratio = value ÷ baseline (time: lower is better; rate: higher is better). JSON: ${path.relative(process.cwd(), args.out)}`,
      "",
    ].join("\n"),
  );
  const missed = report.rows.filter((r) => r.ok === false);
  if (missed.length > 0) progress(`${missed.length} floor(s) missed: ${missed.map((r) => `${r.suite} / ${r.metric}`).join("; ")}`);
  if (failures.length > 0) return 1;
  return args.strict && missed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    await cleanUpAll();
    process.exit(1);
  },
);
