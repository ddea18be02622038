import { call, describeFailure } from "../api";
import { barChart, fillDays } from "../bar-chart";
import { facts, formatDuration, formatNumber, formatTime, h, hash, notice, replace } from "../dom";
import { formatDay, t, tEnum, tp } from "../i18n/i18n";
import type { Page, PageContext } from "./page";

/**
 * Ledger overview: the log and its anchoring, the latest checkpoint with its
 * transaction and block, anchoring lag, events per day, and alerts awaiting
 * attention. Each section loads on its own, so a key that may not see one part
 * still sees the rest.
 */
export const overviewPage: Page = {
  get title() {
    return t("overview.title");
  },
  async render({ main, signal }: PageContext) {
    const sections = {
      log: section("log", t("overview.log")),
      checkpoint: section("checkpoint", t("overview.checkpoint")),
      lag: section("lag", t("overview.lag")),
      chart: section("chart", t("overview.chart")),
      alerts: section("alerts", t("overview.alerts")),
    };
    replace(
      main,
      h("h1", { tabindex: "-1" }, t("overview.heading")),
      h(
        "div",
        { class: "cards cards-3" },
        sections.log.element,
        h("div", { class: "stack" }, sections.checkpoint.element, sections.lag.element),
        sections.alerts.element,
        h("div", { class: "card-wide" }, sections.chart.element),
      ),
    );
    await Promise.all([
      fill(sections.log.body, t("what.logStatus"), signal, async () => {
        const { body } = await call("/v1/status", { signal });
        const a = body.anchoring ?? {};
        return facts([
          [t("overview.logId"), hash(body.log?.logId)],
          [t("overview.chain"), h("code", { translate: "no" }, `${body.log?.chainId}`)],
          [t("overview.contract"), hash(body.log?.contract)],
          [t("overview.rpc"), h("code", { translate: "no" }, body.log?.rpcUrl ?? "—")],
          [t("overview.anchoring"), h("span", { class: `state state-${a.lastError ? "bad" : "ok"}`, "data-state": a.state ?? "" }, a.state ? tEnum("anchorState", a.state) : "—")],
          [t("overview.recorded"), formatNumber(a.logSize ?? 0)],
          [t("overview.inTree"), formatNumber(a.treeSize ?? 0)],
          [t("overview.anchored"), formatNumber(a.anchoredSize ?? 0)],
          [t("overview.pending"), formatNumber(a.pendingEvents ?? 0)],
          [t("overview.lastAnchored"), formatTime(a.lastAnchoredAt)],
          ...(a.lastError ? ([[t("overview.lastError"), h("span", { class: "bad", translate: "no" }, String(a.lastError))]] as [string, string | Node][]) : []),
        ]);
      }),
      fill(sections.checkpoint.body, t("what.checkpoints"), signal, async () => {
        const { body } = await call("/v1/checkpoints/latest", { signal }).catch((error) => {
          if (error?.status === 404 && !error.noRoute) return { body: undefined };
          throw error;
        });
        if (!body) return notice("info", t("overview.noCheckpoint"));
        return facts([
          [t("overview.treeSize"), tp("overview.eventCount", { count: body.treeSize })],
          [t("overview.rootHash"), hash(body.rootHash)],
          [t("overview.transaction"), hash(body.txHash)],
          // The block number as it is (no digit grouping), to look it up in an explorer.
          [t("overview.block"), h("code", { translate: "no" }, String(body.blockNumber))],
          [t("overview.anchoredAt"), formatTime(body.anchoredAt)],
        ]);
      }),
      fill(sections.lag.body, t("what.anchoringHistory"), signal, async () => {
        const { body } = await call("/v1/stats/anchoring", { query: { limit: "8" }, signal });
        const checkpoints: any[] = body.checkpoints ?? [];
        return [
          facts([
            [t("overview.eventsWaiting"), formatNumber(body.pendingEvents ?? 0)],
            [t("overview.oldestWaiting"), body.pendingEvents > 0 ? formatDuration(body.oldestPendingAgeMs) : "—"],
          ]),
          checkpoints.length === 0
            ? notice("info", t("overview.noCheckpoints"))
            : h(
                "table",
                { class: "compact" },
                h("caption", {}, t("overview.recentCheckpoints")),
                h("thead", {}, h("tr", {}, [t("overview.col.treeSize"), t("overview.col.events"), t("overview.col.block"), t("overview.col.transaction"), t("overview.col.lag")].map((label) => h("th", { scope: "col" }, label)))),
                h(
                  "tbody",
                  {},
                  checkpoints.map((c) => h("tr", {}, h("td", { class: "num" }, formatNumber(c.treeSize)), h("td", { class: "num" }, formatNumber(c.events)), h("td", { class: "num" }, c.blockNumber), h("td", {}, hash(c.txHash, 8)), h("td", { class: "num" }, formatDuration(c.lagMs)))),
                ),
              ),
        ];
      }),
      fill(sections.chart.body, t("what.statistics"), signal, async () => {
        const { body } = await call("/v1/stats", { signal });
        const types = Object.entries(body.byType as Record<string, number>).sort((a, b) => b[1] - a[1]);
        const levels = Object.entries(body.byLevel as Record<string, number>).filter(([, n]) => n > 0);
        return [
          barChart(fillDays(body.from, body.to, body.byDay), t("overview.chartCaption", { from: formatDay(body.from), to: formatDay(body.to) })),
          h(
            "div",
            { class: "split" },
            h("div", {}, h("h3", {}, t("overview.byType")), types.length ? facts(types.map(([type, n]) => [tEnum("eventType", type), formatNumber(n)]), "facts inline") : notice("info", t("overview.noEvents"))),
            h("div", {}, h("h3", {}, t("overview.byLevel")), levels.length ? facts(levels.map(([level, n]) => [tEnum("level", level), formatNumber(n)]), "facts inline") : notice("info", t("overview.noEvents"))),
          ),
        ];
      }),
      fill(sections.alerts.body, t("what.alerts"), signal, async () => {
        const { body } = await call("/v1/alerts", { query: { acknowledged: "false", limit: "5" }, signal });
        const alerts: any[] = body.alerts ?? [];
        if (alerts.length === 0) return notice("success", t("overview.noAlerts"));
        return [
          h(
            "ul",
            { class: "alert-list" },
            alerts.map((a) =>
              h(
                "li",
                {},
                h("p", { class: "alert-head" }, h("span", { class: `badge severity-${a.severity}` }, tEnum("severity", a.severity)), " ", a.ruleId ? h("strong", { translate: "no" }, a.ruleId) : h("strong", {}, tEnum("alertKind", a.kind)), a.eventIndex !== undefined ? [" · ", h("a", { href: `#/verify?index=${a.eventIndex}`, "aria-label": t("receiptLink.label", { index: a.eventIndex }) }, t("overview.eventLink", { index: a.eventIndex }))] : null),
                h("p", { class: "alert-message", title: a.message, translate: "no" }, a.message),
              ),
            ),
          ),
          h("p", {}, h("a", { href: "#/alerts?acknowledged=false" }, body.next ? t("overview.moreAlerts") : t("overview.allAlerts"))),
        ];
      }),
    ]);
  },
};

function section(id: string, title: string): { element: HTMLElement; body: HTMLElement } {
  const body = h("div", { class: "card-body", "aria-busy": "true" }, h("p", { class: "loading" }, t("app.loading")));
  const element = h("section", { class: "card", "aria-labelledby": `overview-${id}` }, h("h2", { id: `overview-${id}` }, title), body);
  element.dataset.section = id;
  return { element, body };
}

async function fill(body: HTMLElement, what: string, signal: AbortSignal, load: () => Promise<Node | (Node | null)[]>): Promise<void> {
  try {
    const content = await load();
    if (signal.aborted) return;
    replace(body, content);
  } catch (error) {
    if (signal.aborted) return;
    replace(body, notice("error", describeFailure(error, what)));
  } finally {
    body.removeAttribute("aria-busy");
  }
}
