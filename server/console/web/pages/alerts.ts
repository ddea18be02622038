import { SEVERITIES } from "../../../alerts/policy";
import { ALERT_KINDS } from "../alert-kinds";
import { ApiError, call, describeFailure } from "../api";
import { formatTime, h, notice, replace } from "../dom";
import { navigate, routeHash, type Page, type PageContext } from "./page";

/**
 * Alerts: negative-list violations, behavioural warnings, anchoring and policy
 * problems, newest first, filtered by kind, severity and whether acknowledged;
 * acknowledging one is a button (for keys allowed to).
 */

const FILTERS = ["kind", "severity", "acknowledged"] as const;

const previousCursor = new Map<string, string>();

export const alertsPage: Page = {
  title: "Alerts",
  async render({ main, params, signal }: PageContext) {
    const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? undefined])) as Record<(typeof FILTERS)[number], string | undefined>;
    const cursor = params.get("cursor") ?? undefined;
    const select = (id: string, label: string, any: string, options: readonly string[], value: string | undefined, names: Record<string, string> = {}) =>
      h("div", { class: "field" }, h("label", { for: id }, label), h("select", { id, name: id.slice(2) }, h("option", { value: "" }, any), options.map((o) => h("option", { value: o, selected: value === o }, names[o] ?? o))));
    const form = h(
      "form",
      { id: "alert-filters", class: "filters filters-inline", role: "search", "aria-label": "Alert filters", novalidate: true },
      select("a-kind", "Kind", "Any kind", ALERT_KINDS, filters.kind),
      select("a-severity", "Severity", "Any severity", SEVERITIES, filters.severity),
      select("a-acknowledged", "Status", "Any status", ["false", "true"], filters.acknowledged, { false: "Awaiting attention", true: "Acknowledged" }),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply filters")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = (id: string) => (form.querySelector(`#${id}`) as HTMLSelectElement).value || undefined;
      navigate(routeHash("alerts", { kind: value("a-kind"), severity: value("a-severity"), acknowledged: value("a-acknowledged") }));
    });
    const summary = h("p", { id: "alert-summary", class: "summary" }, "Loading…");
    const list = h("div", { id: "alert-results", class: "table-wrap", "aria-busy": "true" });
    const pager = h("nav", { class: "pager", "aria-label": "Alert pages" });
    const live = h("div", { "aria-live": "polite", id: "alert-live" });
    replace(
      main,
      h("h1", { tabindex: "-1" }, "Alerts"),
      h("p", { class: "lead" }, "Negative-list violations and early warnings raised on the events this key may see, and problems of the ledger itself (anchoring, policy)."),
      form,
      h("div", { "aria-live": "polite" }, summary),
      live,
      list,
      pager,
    );
    try {
      const { body } = await call<{ alerts: any[]; next: string | null }>("/v1/alerts", { query: { ...filters, cursor, limit: "25" }, signal });
      if (signal.aborted) return;
      summary.textContent = body.alerts.length === 0 ? "No alerts match." : `${body.alerts.length} alert${body.alerts.length === 1 ? "" : "s"}${body.next ? " on this page" : ""}, newest first.`;
      replace(list, body.alerts.length ? alertTable(body.alerts, live) : null);
      if (body.next) previousCursor.set(body.next, cursor ?? "");
      const back = cursor === undefined ? undefined : previousCursor.get(cursor);
      replace(
        pager,
        cursor !== undefined ? h("a", { href: routeHash("alerts", filters), class: "button secondary" }, "⇤ Newest") : null,
        back ? h("a", { href: routeHash("alerts", { ...filters, cursor: back }), class: "button secondary" }, "← Newer") : null,
        body.next ? h("a", { href: routeHash("alerts", { ...filters, cursor: body.next }), class: "button secondary" }, "Older →") : null,
      );
    } catch (error) {
      if (signal.aborted) return;
      summary.textContent = "";
      replace(list, notice("error", describeFailure(error, "alerts")));
    } finally {
      list.removeAttribute("aria-busy");
    }
  },
};

function alertTable(alerts: any[], live: HTMLElement): HTMLTableElement {
  return h(
    "table",
    { id: "alert-table", class: "data" },
    h("caption", { class: "visually-hidden" }, "Alerts"),
    h("thead", {}, h("tr", {}, ["Raised", "Severity", "Kind", "Rule", "What", "Event", "Status"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      alerts.map((a) => {
        const status = h("td", {}, a.acknowledgedAt ? h("span", { class: "muted" }, `Acknowledged ${formatTime(a.acknowledgedAt)}`) : ackButton(a, live));
        const row = h(
          "tr",
          { class: a.acknowledgedAt ? "acknowledged" : "" },
          h("td", { class: "nowrap" }, formatTime(a.createdAt)),
          h("td", {}, h("span", { class: `badge severity-${a.severity}` }, a.severity)),
          h("td", { class: "nowrap" }, a.kind),
          h("td", {}, a.ruleId ? h("code", {}, a.ruleId) : "—"),
          h("td", { class: "message" }, a.message, a.actorOrg ? h("small", { class: "muted block" }, `${a.actorOrg}${a.recipientOrg ? ` → ${a.recipientOrg}` : ""}${a.dataset ? ` · ${a.dataset}` : ""}`) : null),
          h("td", {}, a.eventIndex !== undefined ? h("a", { href: `#/verify?index=${a.eventIndex}`, "aria-label": `Open the receipt of event ${a.eventIndex}` }, String(a.eventIndex)) : "—"),
          status,
        );
        row.dataset.alertId = a.id;
        row.dataset.kind = a.kind;
        return row;
      }),
    ),
  );

  function ackButton(alert: any, liveRegion: HTMLElement): HTMLButtonElement {
    const button = h("button", { type: "button", class: "secondary small", "aria-label": `Acknowledge alert ${alert.ruleId ?? alert.id}` }, "Acknowledge");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const { body } = await call(`/v1/alerts/${alert.id}/ack`, { method: "POST" });
        const cell = button.parentElement!;
        replace(cell, h("span", { class: "muted" }, `Acknowledged ${formatTime(body.acknowledgedAt)}`));
        cell.parentElement?.classList.add("acknowledged");
        replace(liveRegion, h("p", { class: "visually-hidden" }, `Alert ${alert.ruleId ?? alert.id} acknowledged.`));
      } catch (error) {
        button.disabled = false;
        replace(liveRegion, notice("error", error instanceof ApiError && error.status === 403 ? "This key may not acknowledge alerts." : describeFailure(error, "the acknowledgement")));
      }
    });
    return button;
  }
}
