import { SEVERITIES } from "../../../alerts/policy";
import { ALERT_KINDS } from "../alert-kinds";
import { ApiError, call, describeFailure } from "../api";
import { formatTime, h, notice, replace } from "../dom";
import { t, tEnum, tp } from "../i18n/i18n";
import { navigate, routeHash, type Page, type PageContext } from "./page";

/**
 * Alerts: negative-list violations, behavioural warnings, anchoring and policy
 * problems, newest first, filtered by kind, severity and whether acknowledged;
 * acknowledging one is a button (for keys allowed to).
 */

const FILTERS = ["kind", "severity", "acknowledged"] as const;

const previousCursor = new Map<string, string>();

export const alertsPage: Page = {
  get title() {
    return t("alerts.title");
  },
  async render({ main, params, signal }: PageContext) {
    const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? undefined])) as Record<(typeof FILTERS)[number], string | undefined>;
    const cursor = params.get("cursor") ?? undefined;
    const select = (id: string, label: string, any: string, options: readonly string[], value: string | undefined, names: Record<string, string> = {}) =>
      h("div", { class: "field" }, h("label", { for: id }, label), h("select", { id, name: id.slice(2) }, h("option", { value: "" }, any), options.map((o) => h("option", { value: o, selected: value === o }, names[o] ?? o))));
    const namesOf = (group: string, options: readonly string[]) => Object.fromEntries(options.map((o) => [o, tEnum(group, o)]));
    const form = h(
      "form",
      { id: "alert-filters", class: "filters filters-inline", role: "search", "aria-label": t("alerts.filters"), novalidate: true },
      select("a-kind", t("alerts.kind"), t("alerts.anyKind"), ALERT_KINDS, filters.kind, namesOf("alertKind", ALERT_KINDS)),
      select("a-severity", t("alerts.severity"), t("alerts.anySeverity"), SEVERITIES, filters.severity, namesOf("severity", SEVERITIES)),
      select("a-acknowledged", t("alerts.status"), t("alerts.anyStatus"), ["false", "true"], filters.acknowledged, { false: t("alerts.awaiting"), true: t("alerts.acknowledgedStatus") }),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("alerts.apply"))),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = (id: string) => (form.querySelector(`#${id}`) as HTMLSelectElement).value || undefined;
      navigate(routeHash("alerts", { kind: value("a-kind"), severity: value("a-severity"), acknowledged: value("a-acknowledged") }));
    });
    const summary = h("p", { id: "alert-summary", class: "summary" }, t("app.loading"));
    const list = h("div", { id: "alert-results", class: "table-wrap", "aria-busy": "true" });
    const pager = h("nav", { class: "pager", "aria-label": t("alerts.pages") });
    const live = h("div", { "aria-live": "polite", id: "alert-live" });
    replace(
      main,
      h("h1", { tabindex: "-1" }, t("alerts.title")),
      h("p", { class: "lead" }, t("alerts.lead")),
      form,
      h("div", { "aria-live": "polite" }, summary),
      live,
      list,
      pager,
    );
    try {
      const { body } = await call<{ alerts: any[]; next: string | null }>("/v1/alerts", { query: { ...filters, cursor, limit: "25" }, signal });
      if (signal.aborted) return;
      summary.textContent = body.alerts.length === 0 ? t("alerts.none") : tp(body.next ? "alerts.summaryPage" : "alerts.summary", { count: body.alerts.length });
      replace(list, body.alerts.length ? alertTable(body.alerts, live) : null);
      if (body.next) previousCursor.set(body.next, cursor ?? "");
      const back = cursor === undefined ? undefined : previousCursor.get(cursor);
      replace(
        pager,
        cursor !== undefined ? h("a", { href: routeHash("alerts", filters), class: "button secondary" }, t("pager.newest")) : null,
        back ? h("a", { href: routeHash("alerts", { ...filters, cursor: back }), class: "button secondary" }, t("pager.newer")) : null,
        body.next ? h("a", { href: routeHash("alerts", { ...filters, cursor: body.next }), class: "button secondary" }, t("pager.older")) : null,
      );
    } catch (error) {
      if (signal.aborted) return;
      summary.textContent = "";
      replace(list, notice("error", describeFailure(error, t("what.alerts"))));
    } finally {
      list.removeAttribute("aria-busy");
    }
  },
};

function alertTable(alerts: any[], live: HTMLElement): HTMLTableElement {
  return h(
    "table",
    { id: "alert-table", class: "data" },
    h("caption", { class: "visually-hidden" }, t("alerts.title")),
    h("thead", {}, h("tr", {}, (["raised", "severity", "kind", "rule", "what", "event", "status"] as const).map((c) => h("th", { scope: "col" }, t(`alerts.col.${c}`))))),
    h(
      "tbody",
      {},
      alerts.map((a) => {
        const status = h("td", {}, a.acknowledgedAt ? h("span", { class: "muted" }, t("alerts.acknowledgedAt", { time: formatTime(a.acknowledgedAt) })) : ackButton(a, live));
        const row = h(
          "tr",
          { class: a.acknowledgedAt ? "acknowledged" : "" },
          h("td", { class: "nowrap" }, formatTime(a.createdAt)),
          h("td", {}, h("span", { class: `badge severity-${a.severity}` }, tEnum("severity", a.severity))),
          h("td", { class: "nowrap" }, tEnum("alertKind", a.kind)),
          h("td", {}, a.ruleId ? h("code", { translate: "no" }, a.ruleId) : "—"),
          h("td", { class: "message" }, h("span", { translate: "no" }, a.message), a.actorOrg ? h("small", { class: "muted block", translate: "no" }, `${a.actorOrg}${a.recipientOrg ? ` → ${a.recipientOrg}` : ""}${a.dataset ? ` · ${a.dataset}` : ""}`) : null),
          h("td", {}, a.eventIndex !== undefined ? h("a", { href: `#/verify?index=${a.eventIndex}`, "aria-label": t("receiptLink.label", { index: a.eventIndex }) }, String(a.eventIndex)) : "—"),
          status,
        );
        row.dataset.alertId = a.id;
        row.dataset.kind = a.kind;
        return row;
      }),
    ),
  );

  function ackButton(alert: any, liveRegion: HTMLElement): HTMLButtonElement {
    const button = h("button", { type: "button", class: "secondary small", "aria-label": t("alerts.acknowledgeLabel", { id: alert.ruleId ?? alert.id }) }, t("alerts.acknowledge"));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const { body } = await call(`/v1/alerts/${alert.id}/ack`, { method: "POST" });
        const cell = button.parentElement!;
        replace(cell, h("span", { class: "muted" }, t("alerts.acknowledgedAt", { time: formatTime(body.acknowledgedAt) })));
        cell.parentElement?.classList.add("acknowledged");
        replace(liveRegion, h("p", { class: "visually-hidden" }, t("alerts.acknowledgedLive", { id: alert.ruleId ?? alert.id })));
      } catch (error) {
        button.disabled = false;
        replace(liveRegion, notice("error", error instanceof ApiError && error.status === 403 ? t("alerts.mayNotAcknowledge") : describeFailure(error, t("what.acknowledgement"))));
      }
    });
    return button;
  }
}
