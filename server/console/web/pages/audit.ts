import { ApiError, call, describeFailure } from "../api";
import { facts, formatDuration, formatTime, h, notice, plural, replace } from "../dom";
import { pause, type Page, type PageContext } from "./page";

/**
 * The full audit (server/audit): start one, watch its progress, read its
 * report — the first divergence between records, tree, checkpoints and chain
 * when there is one. Uses POST /v1/audit, GET /v1/audit/:id and /v1/audit/latest.
 */

interface AuditJob {
  id: string;
  state: "running" | "done" | "failed";
  processed: number;
  total: number;
  eventsPerSecond: number;
  startedAt: string;
  finishedAt?: string;
  error?: string;
  report?: {
    ok: boolean;
    treeSize: number;
    eventsChecked: number;
    unfoldedEvents: number;
    checkpointsChecked: number;
    chainChecked: boolean;
    rootHash?: string;
    divergenceCount: number;
    durationMs: number;
    firstDivergence?: Divergence;
    divergences?: Divergence[];
  };
}

interface Divergence {
  kind: string;
  index?: number;
  treeSize?: number;
  leafRange?: { first: number; last: number };
  expected?: string;
  actual?: string;
  message: string;
}

export const auditPage: Page = {
  title: "Audit",
  async render({ main, signal }: PageContext) {
    const start = h("button", { type: "button", id: "start-audit" }, "Start a full audit");
    const progress = h("div", { id: "audit-progress", "aria-live": "polite" });
    const report = h("div", { id: "audit-report" });
    replace(
      main,
      h("h1", { tabindex: "-1" }, "Audit"),
      h(
        "p",
        { class: "lead" },
        "A full audit re-reads every stored event, recomputes the Merkle tree from them, and compares it with the stored tree, every recorded checkpoint and the roots on chain. It reports the first place where they disagree.",
      ),
      h("div", { class: "actions" }, start),
      h(
        "div",
        { class: "cards" },
        h("section", { "aria-labelledby": "audit-status-heading", class: "card" }, h("h2", { id: "audit-status-heading" }, "Progress"), progress),
        h("section", { "aria-labelledby": "audit-report-heading", class: "card" }, h("h2", { id: "audit-report-heading" }, "Report"), report),
      ),
    );

    const show = (job: AuditJob | undefined) => {
      if (!job) {
        replace(progress, notice("info", "No audit has been run yet."));
        replace(report, notice("info", "Start an audit to see its report."));
        return;
      }
      const percent = job.total > 0 ? Math.min(100, Math.floor((job.processed / job.total) * 100)) : job.state === "running" ? 0 : 100;
      replace(
        progress,
        h("p", { id: "audit-state", class: `state state-${job.state}` }, job.state === "running" ? "Running" : job.state === "done" ? "Finished" : "Failed"),
        h("progress", { id: "audit-bar", max: 100, value: percent, "aria-label": "Audit progress", "aria-valuetext": `${percent}%` }),
        h("p", {}, `${job.processed.toLocaleString()} of ${job.total.toLocaleString()} leaf positions checked (${percent}%)`, job.eventsPerSecond ? `, ${Math.round(job.eventsPerSecond).toLocaleString()} events/s` : "", "."),
        facts([
          ["Job", h("code", {}, job.id)],
          ["Started", formatTime(job.startedAt)],
          ["Finished", formatTime(job.finishedAt)],
        ]),
      );
      if (job.state === "failed") {
        replace(report, notice("error", `The audit could not run to the end: ${job.error ?? "unknown error"}`));
      } else if (job.state === "running" || !job.report) {
        replace(report, h("p", { class: "loading" }, "The report appears when the audit finishes."));
      } else {
        replace(report, reportView(job.report));
      }
    };

    const follow = async (id: string) => {
      start.disabled = true;
      try {
        for (;;) {
          const { body } = await call<{ job: AuditJob }>(`/v1/audit/${id}`, { signal });
          if (signal.aborted) return;
          show(body.job);
          if (body.job.state !== "running") return;
          await pause(400, signal);
        }
      } finally {
        start.disabled = false;
      }
    };

    start.addEventListener("click", async () => {
      start.disabled = true;
      try {
        const { body } = await call<{ job: AuditJob; started: boolean }>("/v1/audit", { method: "POST", signal });
        show(body.job);
        await follow(body.job.id);
      } catch (error) {
        if (!signal.aborted) replace(progress, notice("error", describeFailure(error, "audits")));
        start.disabled = false;
      }
    });

    try {
      const { body } = await call<{ job: AuditJob }>("/v1/audit/latest", { signal });
      show(body.job);
      // Followed in the background: the page is drawn, the progress keeps coming.
      if (body.job.state === "running") follow(body.job.id).catch((error) => signal.aborted || replace(progress, notice("error", describeFailure(error, "the audit's progress"))));
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 404 && !error.noRoute) show(undefined);
      else {
        replace(progress, notice("error", describeFailure(error, "audits")));
        replace(report);
        if (error instanceof ApiError && (error.noRoute || error.status === 403)) start.disabled = true;
      }
    }
  },
};

/** Confirmed checkpoints the chain does not hold: receipts served from them fail until they are anchored again. */
function notAnchoredView(report: NonNullable<AuditJob["report"]>): HTMLElement | null {
  const missing = (report.divergences ?? []).filter((d) => d.kind === "checkpoint-not-anchored" && d.treeSize !== undefined);
  if (missing.length === 0) return null;
  return h(
    "div",
    { id: "audit-not-anchored" },
    notice(
      "error",
      `${plural(missing.length, "confirmed checkpoint")} missing from the chain: ${missing.map((d) => `${d.treeSize!.toLocaleString()} leaves`).join(", ")}. ` +
        `Receipts served for ${missing.length === 1 ? "it" : "them"} do not verify until the gateway anchors ${missing.length === 1 ? "it" : "them"} again.`,
    ),
  );
}

function reportView(report: NonNullable<AuditJob["report"]>): HTMLElement {
  const d = report.firstDivergence;
  return h(
    "div",
    {},
    report.ok
      ? h("div", { class: "verdict verdict-pass", id: "audit-verdict" }, h("strong", {}, "✓ No divergence. "), `Every record, the tree, ${plural(report.checkpointsChecked, "checkpoint")} ${report.chainChecked ? "and the chain" : "(the chain was not compared)"} agree.`)
      : h("div", { class: "verdict verdict-fail", id: "audit-verdict" }, h("strong", {}, `✗ ${plural(report.divergenceCount, "divergence")} found. `), "The first one is below."),
    notAnchoredView(report),
    facts([
      ["Tree size audited", report.treeSize.toLocaleString()],
      ["Events checked", report.eventsChecked.toLocaleString()],
      ["Checkpoints checked", report.checkpointsChecked.toLocaleString()],
      ["Compared with the chain", report.chainChecked ? "yes" : "no"],
      ["Recomputed root", report.rootHash ? h("code", {}, report.rootHash) : "—"],
      ["Duration", formatDuration(report.durationMs)],
    ]),
    d
      ? h(
          "section",
          { class: "divergence", "aria-labelledby": "divergence-heading" },
          h("h3", { id: "divergence-heading" }, "First divergence"),
          facts([
            ["Kind", h("code", {}, d.kind)],
            ...(d.index !== undefined ? ([["Event", h("a", { href: `#/verify?index=${d.index}` }, String(d.index))]] as [string, Node | string][]) : []),
            ...(d.treeSize !== undefined ? ([["Checkpoint", `${d.treeSize} leaves`]] as [string, string][]) : []),
            ...(d.leafRange ? ([["Leaves", `${d.leafRange.first}–${d.leafRange.last}`]] as [string, string][]) : []),
            ["What", d.message],
            ...(d.expected ? ([["Expected", h("code", {}, d.expected)]] as [string, Node][]) : []),
            ...(d.actual ? ([["Found", h("code", {}, d.actual)]] as [string, Node][]) : []),
          ]),
        )
      : null,
  );
}
