import { call, describeFailure } from "../api";
import { barChart, fillDays } from "../bar-chart";
import { facts, formatDuration, formatTime, h, hash, notice, plural, replace } from "../dom";
import type { Page, PageContext } from "./page";

/**
 * Ledger overview: the log and its anchoring, the latest checkpoint with its
 * transaction and block, anchoring lag, events per day, and alerts awaiting
 * attention. Each section loads on its own, so a key that may not see one part
 * still sees the rest.
 */
export const overviewPage: Page = {
  title: "Overview",
  async render({ main, signal }: PageContext) {
    const sections = {
      log: section("log", "Log and anchoring"),
      checkpoint: section("checkpoint", "Latest checkpoint"),
      lag: section("lag", "Anchoring lag"),
      chart: section("chart", "Events per day"),
      alerts: section("alerts", "Alerts awaiting attention"),
    };
    replace(
      main,
      h("h1", { tabindex: "-1" }, "Ledger overview"),
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
      fill(sections.log.body, "the log status", signal, async () => {
        const { body } = await call("/v1/status", { signal });
        const a = body.anchoring ?? {};
        return facts([
          ["Log id", hash(body.log?.logId)],
          ["Chain", `${body.log?.chainId}`],
          ["Contract", hash(body.log?.contract)],
          ["RPC endpoint for verifiers", h("code", {}, body.log?.rpcUrl ?? "—")],
          ["Anchoring", h("span", { class: `state state-${a.lastError ? "bad" : "ok"}` }, a.state ?? "—")],
          ["Events recorded", (a.logSize ?? 0).toLocaleString()],
          ["In the Merkle tree", (a.treeSize ?? 0).toLocaleString()],
          ["Anchored on chain", (a.anchoredSize ?? 0).toLocaleString()],
          ["Waiting for a checkpoint", (a.pendingEvents ?? 0).toLocaleString()],
          ["Last anchored", formatTime(a.lastAnchoredAt)],
          ...(a.lastError ? ([["Last error", h("span", { class: "bad" }, String(a.lastError))]] as [string, string | Node][]) : []),
        ]);
      }),
      fill(sections.checkpoint.body, "checkpoints", signal, async () => {
        const { body } = await call("/v1/checkpoints/latest", { signal }).catch((error) => {
          if (error?.status === 404 && !error.noRoute) return { body: undefined };
          throw error;
        });
        if (!body) return notice("info", "No checkpoint has been anchored yet.");
        return facts([
          ["Tree size", plural(body.treeSize, "event")],
          ["Root hash", hash(body.rootHash)],
          ["Transaction", hash(body.txHash)],
          ["Block", String(body.blockNumber)],
          ["Anchored at", formatTime(body.anchoredAt)],
        ]);
      }),
      fill(sections.lag.body, "the anchoring history", signal, async () => {
        const { body } = await call("/v1/stats/anchoring", { query: { limit: "8" }, signal });
        const checkpoints: any[] = body.checkpoints ?? [];
        return [
          facts([
            ["Events waiting", (body.pendingEvents ?? 0).toLocaleString()],
            ["Oldest waiting for", body.pendingEvents > 0 ? formatDuration(body.oldestPendingAgeMs) : "—"],
          ]),
          checkpoints.length === 0
            ? notice("info", "No checkpoints yet.")
            : h(
                "table",
                { class: "compact" },
                h("caption", {}, "Recent checkpoints"),
                h("thead", {}, h("tr", {}, ["Tree size", "Events", "Block", "Transaction", "Lag"].map((t) => h("th", { scope: "col" }, t)))),
                h(
                  "tbody",
                  {},
                  checkpoints.map((c) => h("tr", {}, h("td", { class: "num" }, c.treeSize), h("td", { class: "num" }, c.events), h("td", { class: "num" }, c.blockNumber), h("td", {}, hash(c.txHash, 8)), h("td", { class: "num" }, formatDuration(c.lagMs)))),
                ),
              ),
        ];
      }),
      fill(sections.chart.body, "statistics", signal, async () => {
        const { body } = await call("/v1/stats", { signal });
        const types = Object.entries(body.byType as Record<string, number>).sort((a, b) => b[1] - a[1]);
        const levels = Object.entries(body.byLevel as Record<string, number>).filter(([, n]) => n > 0);
        return [
          barChart(fillDays(body.from, body.to, body.byDay), `Events per day, ${body.from} to ${body.to}`),
          h(
            "div",
            { class: "split" },
            h("div", {}, h("h3", {}, "By type"), types.length ? facts(types.map(([t, n]) => [t, n.toLocaleString()]), "facts inline") : notice("info", "No events.")),
            h("div", {}, h("h3", {}, "By administrative level"), levels.length ? facts(levels.map(([t, n]) => [t, n.toLocaleString()]), "facts inline") : notice("info", "No events.")),
          ),
        ];
      }),
      fill(sections.alerts.body, "alerts", signal, async () => {
        const { body } = await call("/v1/alerts", { query: { acknowledged: "false", limit: "5" }, signal });
        const alerts: any[] = body.alerts ?? [];
        if (alerts.length === 0) return notice("success", "No alerts await attention.");
        return [
          h(
            "ul",
            { class: "alert-list" },
            alerts.map((a) =>
              h(
                "li",
                {},
                h("p", { class: "alert-head" }, h("span", { class: `badge severity-${a.severity}` }, a.severity), " ", h("strong", {}, a.ruleId ?? a.kind), a.eventIndex !== undefined ? [" · ", h("a", { href: `#/verify?index=${a.eventIndex}`, "aria-label": `Open the receipt of event ${a.eventIndex}` }, `event ${a.eventIndex}`)] : null),
                h("p", { class: "alert-message", title: a.message }, a.message),
              ),
            ),
          ),
          h("p", {}, h("a", { href: "#/alerts?acknowledged=false" }, body.next ? "More alerts awaiting attention →" : "All alerts →")),
        ];
      }),
    ]);
  },
};

function section(id: string, title: string): { element: HTMLElement; body: HTMLElement } {
  const body = h("div", { class: "card-body", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading…"));
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
