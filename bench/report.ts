/**
 * Benchmark results: one row per figure, each with the baseline measured in the same
 * run, printed as a Markdown table and written as JSON.
 *
 * `ratio` is always value ÷ baseline, in the row's own unit, so its meaning follows the
 * unit: for a time, lower is better (1.3x = 30 % slower than the baseline); for a rate,
 * higher is better (0.4x = 40 % of the baseline's rate). A floor, when the project sets
 * one, is checked on the ratio or on the value, as the row's `floor` text says.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Row {
  suite: string;
  metric: string;
  value: number | string;
  unit: string;
  /** What the figure is compared with, measured in the same run, e.g. "0.83 s bare SHA-256". */
  baseline?: string;
  /** value ÷ baseline. */
  ratio?: number;
  /** The project's floor, in words, e.g. "≤ 2x" or "≥ 20,000/s". */
  floor?: string;
  /** Whether the floor holds; undefined when the row has none. */
  ok?: boolean;
  /** Anything a reader needs to read the row right; JSON only. */
  note?: string;
}

export interface RunInfo {
  startedAt: string;
  wallTimeSeconds: number;
  mode: "full" | "quick";
  suites: string[];
  node: string;
  cpus: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  commit?: string;
  failures: { suite: string; error: string }[];
}

export class Report {
  readonly rows: Row[] = [];

  add(row: Row): Row {
    this.rows.push(row);
    const ratio = row.ratio === undefined ? "" : ` (${formatRatio(row.ratio)}${row.baseline ? ` of ${row.baseline}` : ""})`;
    const verdict = row.ok === undefined ? "" : row.ok ? "  ok" : `  MISSED floor ${row.floor}`;
    process.stderr.write(`  = ${row.suite} / ${row.metric}: ${formatValue(row.value)} ${row.unit}${ratio}${verdict}\n`);
    return row;
  }

  markdown(): string {
    const header = ["suite", "metric", "value", "unit", "baseline (same run)", "ratio", "floor", "ok"];
    const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
    for (const row of this.rows) {
      const cells = [
        row.suite,
        row.metric,
        formatValue(row.value),
        row.unit,
        row.baseline ?? "—",
        row.ratio === undefined ? "—" : formatRatio(row.ratio),
        row.floor ?? "—",
        row.ok === undefined ? "—" : row.ok ? "yes" : "**no**",
      ];
      lines.push(`| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`);
    }
    return lines.join("\n");
  }

  write(file: string, info: RunInfo): void {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ ...info, rows: this.rows }, null, 2) + "\n");
  }
}

/** Three significant digits, thousands separated; integers as they are. */
export function formatValue(value: number | string): string {
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return Number(value.toPrecision(3)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  // A tiny ratio reads better as a fraction: 1/24,381 rather than 0.000041x.
  if (ratio > 0 && ratio < 0.01) return `1/${Math.round(1 / ratio).toLocaleString("en-US")}`;
  return `${ratio >= 100 ? Math.round(ratio).toLocaleString("en-US") : Number(ratio.toPrecision(3))}x`;
}
