import { ApiError, call, describeFailure } from "../api";
import { facts, formatDuration, formatNumber, formatTime, h, notice, replace, verbatim } from "../dom";
import { t, tp, tParts } from "../i18n/i18n";
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
  get title() {
    return t("audit.title");
  },
  async render({ main, signal }: PageContext) {
    const start = h("button", { type: "button", id: "start-audit" }, t("audit.start"));
    const progress = h("div", { id: "audit-progress", "aria-live": "polite" });
    const report = h("div", { id: "audit-report" });
    replace(
      main,
      h("h1", { tabindex: "-1" }, t("audit.title")),
      h("p", { class: "lead" }, t("audit.lead")),
      h("div", { class: "actions" }, start),
      h(
        "div",
        { class: "cards" },
        h("section", { "aria-labelledby": "audit-status-heading", class: "card" }, h("h2", { id: "audit-status-heading" }, t("audit.progress")), progress),
        h("section", { "aria-labelledby": "audit-report-heading", class: "card" }, h("h2", { id: "audit-report-heading" }, t("audit.report")), report),
      ),
    );

    const show = (job: AuditJob | undefined) => {
      if (!job) {
        replace(progress, notice("info", t("audit.none")));
        replace(report, notice("info", t("audit.startToSee")));
        return;
      }
      const percent = job.total > 0 ? Math.min(100, Math.floor((job.processed / job.total) * 100)) : job.state === "running" ? 0 : 100;
      replace(
        progress,
        h("p", { id: "audit-state", class: `state state-${job.state}` }, t(`audit.state.${job.state}`)),
        h("progress", { id: "audit-bar", max: 100, value: percent, "aria-label": t("audit.progressLabel"), "aria-valuetext": t("audit.percent", { percent }) }),
        h("p", {}, job.eventsPerSecond ? t("audit.checkedRate", { processed: job.processed, total: job.total, percent, rate: Math.round(job.eventsPerSecond) }) : t("audit.checked", { processed: job.processed, total: job.total, percent })),
        facts([
          [t("audit.job"), h("code", { translate: "no" }, job.id)],
          [t("audit.started"), formatTime(job.startedAt)],
          [t("audit.finished"), formatTime(job.finishedAt)],
        ]),
      );
      if (job.state === "failed") {
        replace(report, notice("error", tParts("audit.couldNotRun", { message: job.error ? verbatim(job.error) : t("audit.unknownError") })));
      } else if (job.state === "running" || !job.report) {
        replace(report, h("p", { class: "loading" }, t("audit.reportLater")));
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
        if (!signal.aborted) replace(progress, notice("error", describeFailure(error, t("what.audits"))));
        start.disabled = false;
      }
    });

    try {
      const { body } = await call<{ job: AuditJob }>("/v1/audit/latest", { signal });
      show(body.job);
      // Followed in the background: the page is drawn, the progress keeps coming.
      if (body.job.state === "running") follow(body.job.id).catch((error) => signal.aborted || replace(progress, notice("error", describeFailure(error, t("what.auditProgress")))));
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 404 && !error.noRoute) show(undefined);
      else {
        replace(progress, notice("error", describeFailure(error, t("what.audits"))));
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
    notice("error", tp("audit.notAnchored", { count: missing.length, sizes: missing.map((d) => t("audit.leaves", { count: formatNumber(d.treeSize!) })).join(", ") })),
  );
}

function reportView(report: NonNullable<AuditJob["report"]>): HTMLElement {
  const d = report.firstDivergence;
  return h(
    "div",
    {},
    report.ok
      ? h("div", { class: "verdict verdict-pass", id: "audit-verdict" }, h("strong", {}, t("audit.pass")), tp(report.chainChecked ? "audit.passChain" : "audit.passNoChain", { count: report.checkpointsChecked }))
      : h("div", { class: "verdict verdict-fail", id: "audit-verdict" }, h("strong", {}, tp("audit.fail", { count: report.divergenceCount })), t("audit.firstBelow")),
    notAnchoredView(report),
    facts([
      [t("audit.treeSize"), formatNumber(report.treeSize)],
      [t("audit.eventsChecked"), formatNumber(report.eventsChecked)],
      [t("audit.checkpointsChecked"), formatNumber(report.checkpointsChecked)],
      [t("audit.chainCompared"), report.chainChecked ? t("audit.yes") : t("audit.no")],
      [t("audit.root"), report.rootHash ? h("code", { translate: "no" }, report.rootHash) : "—"],
      [t("audit.duration"), formatDuration(report.durationMs)],
    ]),
    d
      ? h(
          "section",
          { class: "divergence", "aria-labelledby": "divergence-heading" },
          h("h3", { id: "divergence-heading" }, t("audit.firstDivergence")),
          facts([
            [t("audit.kind"), h("code", { translate: "no" }, d.kind)],
            ...(d.index !== undefined ? ([[t("audit.event"), h("a", { href: `#/verify?index=${d.index}` }, String(d.index))]] as [string, Node | string][]) : []),
            ...(d.treeSize !== undefined ? ([[t("audit.checkpoint"), tp("audit.leaves", { count: d.treeSize })]] as [string, string][]) : []),
            ...(d.leafRange ? ([[t("audit.leafRange"), t("audit.leafRangeValue", { first: d.leafRange.first, last: d.leafRange.last })]] as [string, string][]) : []),
            [t("audit.what"), h("span", { translate: "no" }, d.message)],
            ...(d.expected ? ([[t("audit.expected"), h("code", { translate: "no" }, d.expected)]] as [string, Node][]) : []),
            ...(d.actual ? ([[t("audit.found"), h("code", { translate: "no" }, d.actual)]] as [string, Node][]) : []),
          ]),
        )
      : null,
  );
}
