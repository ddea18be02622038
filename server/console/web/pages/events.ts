import { EVENT_TYPES } from "../../../domain/event-schema";
import { call, describeFailure } from "../api";
import { formatTime, h, notice, replace } from "../dom";
import { dateInputExample, dateInputFormat, fromDateInput, toDateInput } from "../i18n/date-input";
import { t, tEnum, tp } from "../i18n/i18n";
import { buildOrgTree, divisionGroups, type RegistryDivision, type RegistryOrg } from "../org-tree";
import { navigate, routeHash, type Page, type PageContext } from "./page";

/**
 * The event explorer: the filters of GET /v1/events (organisation tree by
 * administrative level, dataset, type, subject, recipient, time range), a page
 * of events newest first, each marked when an alert was raised on it, with its
 * detail view (pages/event.ts) and its receipt one click away. Filters live
 * in the address (#/events?type=share&…) so a view can be bookmarked — except
 * the data subject's id, which stays in memory only.
 */

const HASH_FILTERS = ["org", "subtree", "division", "dataset", "type", "recipient", "from", "to", "limit"] as const;
let subjectFilter = "";
/** Page cursors seen, to step back to newer pages: cursor → the cursor of the page before it. */
const previousCursor = new Map<string, string>();

export const eventsPage: Page = {
  get title() {
    return t("events.title");
  },
  async render({ main, params, signal }: PageContext) {
    const filters = Object.fromEntries(HASH_FILTERS.map((name) => [name, params.get(name) ?? undefined])) as Record<(typeof HASH_FILTERS)[number], string | undefined>;
    const cursor = params.get("cursor") ?? undefined;
    const formSlot = h("div", { class: "filters-slot" }, h("p", { class: "loading" }, t("events.loadingFilters")));
    const summary = h("p", { id: "event-summary", class: "summary" }, t("app.loading"));
    const results = h("div", { id: "event-results", class: "table-wrap", "aria-busy": "true" });
    const pager = h("nav", { class: "pager", "aria-label": t("events.pages") });
    replace(
      main,
      h("h1", { tabindex: "-1" }, t("events.title")),
      h("p", { class: "lead" }, t("events.lead")),
      formSlot,
      h("section", { "aria-labelledby": "events-results-heading", class: "results" }, h("h2", { id: "events-results-heading", class: "visually-hidden" }, t("events.results")), h("div", { "aria-live": "polite" }, summary), results, pager),
    );
    const registry = call<{ divisions: RegistryDivision[]; orgs: RegistryOrg[] }>("/v1/orgs", { signal }).then((a) => a.body, () => ({ divisions: [], orgs: [] }));
    const drawForm = registry.then((r) => signal.aborted || replace(formSlot, filterForm(filters, r)));
    const orgNames = registry.then((r) => new Map(r.orgs.map((o) => [o.id, o.name])));

    try {
      const { body } = await call<{ events: { index: number; envelope: any }[]; next: string | null }>("/v1/events", {
        query: { ...filters, subject: subjectFilter || undefined, cursor, limit: filters.limit ?? "20" },
        signal,
      });
      if (signal.aborted) return;
      const events = body.events;
      summary.textContent = events.length === 0 ? t("events.none") : cursor ? tp("events.summaryOlder", { count: events.length, cursor }) : tp("events.summary", { count: events.length });
      replace(results, events.length === 0 ? null : eventTable(events, await orgNames));
      // The list answer carries no alerts; each event's own answer does (GET /v1/events/:index → flags).
      if (events.length > 0) await markFlagged(results, events, signal);
      if (body.next) previousCursor.set(body.next, cursor ?? "");
      const back = cursor === undefined ? undefined : previousCursor.get(cursor);
      replace(
        pager,
        cursor !== undefined ? h("a", { href: routeHash("events", { ...filters }), class: "button secondary" }, t("pager.newest")) : null,
        back ? h("a", { href: routeHash("events", { ...filters, cursor: back }), class: "button secondary", rel: "prev" }, t("pager.newer")) : null,
        body.next ? h("a", { href: routeHash("events", { ...filters, cursor: body.next }), class: "button secondary", rel: "next" }, t("pager.older")) : null,
      );
    } catch (error) {
      if (signal.aborted) return;
      summary.textContent = "";
      replace(results, notice("error", describeFailure(error, t("what.events"))));
    } finally {
      results.removeAttribute("aria-busy");
    }
    await drawForm;
  },
};

function filterForm(filters: Record<string, string | undefined>, registry: { divisions: RegistryDivision[]; orgs: RegistryOrg[] }): HTMLFormElement {
  const groups = divisionGroups(buildOrgTree(registry.divisions, registry.orgs));
  const selected = filters.org ? `org:${filters.org}` : filters.division ? `division:${filters.division}` : "";
  const values = new Set(groups.flatMap((g) => [`division:${g.code}`, ...g.orgs.map((o) => `org:${o.id}`)]));
  const orgSelect = h(
    "select",
    { id: "f-org", name: "org", "aria-describedby": "f-org-hint" },
    h("option", { value: "" }, t("events.anyOrg")),
    groups.map((g) => {
      const name = g.path[g.path.length - 1]!;
      const level = tEnum("level", g.level);
      const group = h(
        "optgroup",
        { label: t("events.groupLabel", { path: g.path.join(" › "), level }) },
        h("option", { value: `division:${g.code}`, selected: selected === `division:${g.code}` }, t("events.allOfDivision", { name, level, code: g.code })),
        g.orgs.map((o) => h("option", { value: `org:${o.id}`, selected: selected === `org:${o.id}` }, t("events.orgOption", { name: o.name, id: o.id }))),
      );
      group.dataset.level = g.level;
      return group;
    }),
    // A filter from the address that the registry does not list still shows.
    selected && !values.has(selected) ? h("option", { value: selected, selected: true }, selected.slice(selected.indexOf(":") + 1)) : null,
  );
  const subtree = h("input", { type: "checkbox", id: "f-subtree", name: "subtree", checked: filters.subtree === "true" });
  const text = (id: string, name: string, value: string | undefined, extra: Record<string, string> = {}) =>
    h("input", { type: "text", id, name, value: value ?? "", autocomplete: "off", spellcheck: "false", ...extra });
  const typeSelect = h("select", { id: "f-type", name: "type" }, h("option", { value: "" }, t("events.anyType")), EVENT_TYPES.map((type) => h("option", { value: type, selected: filters.type === type }, tEnum("eventType", type))));
  const limitSelect = h("select", { id: "f-limit", name: "limit" }, ["20", "50", "100"].map((n) => h("option", { value: n, selected: (filters.limit ?? "20") === n }, n)));
  // Text, not datetime-local: that input shows the browser's UI locale's format, not the page's (i18n/date-input.ts).
  const dateHint = t("events.dateHint", { format: dateInputFormat(), example: dateInputExample() });
  const date = (id: string, name: string, value: string | undefined) =>
    text(id, name, toDateInput(value), { placeholder: dateInputFormat(), inputmode: "numeric", "aria-describedby": `${id}-hint ${id}-error` });
  const from = date("f-from", "from", filters.from);
  const to = date("f-to", "to", filters.to);
  const dataset = text("f-dataset", "dataset", filters.dataset, { placeholder: t("events.datasetPlaceholder") });
  const subject = text("f-subject", "subject", subjectFilter, { "aria-describedby": "f-subject-hint" });
  const recipient = text("f-recipient", "recipient", filters.recipient, { placeholder: t("events.recipientPlaceholder"), "aria-describedby": "f-recipient-hint" });
  const field = (id: string, label: string, control: HTMLElement, hint?: string, error?: boolean) =>
    h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null, error ? h("small", { id: `${id}-error`, class: "field-error", "aria-live": "polite" }) : null);

  const form = h(
    "form",
    { id: "event-filters", class: "filters", role: "search", "aria-label": t("events.filters"), novalidate: true },
    h(
      "div",
      { class: "field field-org" },
      h("label", { for: "f-org" }, t("events.org")),
      orgSelect,
      h("small", { id: "f-org-hint", class: "hint" }, t("events.orgHint")),
      h("label", { class: "check" }, subtree, " ", t("events.subtree")),
    ),
    field("f-type", t("events.type"), typeSelect),
    field("f-dataset", t("events.dataset"), dataset),
    field("f-subject", t("events.subject"), subject, t("events.subjectHint")),
    field("f-recipient", t("events.recipient"), recipient, t("events.recipientHint")),
    field("f-from", t("events.from"), from, dateHint, true),
    field("f-to", t("events.to"), to, dateHint, true),
    field("f-limit", t("events.limit"), limitSelect),
    h("div", { class: "actions" }, h("button", { type: "submit", id: "apply-filters" }, t("events.apply")), h("button", { type: "button", class: "secondary", id: "clear-filters", onclick: () => ((subjectFilter = ""), navigate("#/events")) }, t("events.clear"))),
  );
  /** The time typed in a date field as RFC 3339; null (and the field marked) when it is not a date. */
  const dateValue = (input: HTMLInputElement): string | undefined | null => {
    const value = fromDateInput(input.value, input === to);
    const error = form.querySelector(`#${input.id}-error`) as HTMLElement;
    error.textContent = value === null ? t("events.dateInvalid", { value: input.value.trim(), format: dateInputFormat() }) : "";
    if (value === null) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return value;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const [fromValue, toValue] = [dateValue(from), dateValue(to)];
    if (fromValue === null || toValue === null) {
      (fromValue === null ? from : to).focus();
      return;
    }
    const choice = orgSelect.value;
    subjectFilter = subject.value.trim();
    const next: Record<string, string | undefined> = {
      org: choice.startsWith("org:") ? choice.slice(4) : undefined,
      division: choice.startsWith("division:") ? choice.slice(9) : undefined,
      subtree: choice.startsWith("org:") && subtree.checked ? "true" : undefined,
      type: typeSelect.value || undefined,
      dataset: dataset.value.trim() || undefined,
      recipient: recipient.value.trim() || undefined,
      from: fromValue,
      to: toValue,
      limit: limitSelect.value === "20" ? undefined : limitSelect.value,
    };
    navigate(routeHash("events", next));
  });
  return form;
}

function eventTable(events: { index: number; envelope: any }[], orgNames: Map<string, string>): HTMLTableElement {
  const org = (id: string | undefined) => (id ? h("span", { class: "org", translate: "no" }, orgNames.get(id) ?? id, orgNames.has(id) ? h("small", {}, id) : null) : "—");
  const columns = ["index", "occurred", "type", "actor", "dataset", "recipient", "purpose", "flags", "receipt"] as const;
  return h(
    "table",
    { id: "event-table", class: "data" },
    h("caption", { class: "visually-hidden" }, t("events.title")),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, t(`events.col.${c}`))))),
    h(
      "tbody",
      {},
      events.map(({ index, envelope }) => {
        const e = envelope.event ?? {};
        const row = h(
          "tr",
          {},
          h("td", { class: "num" }, h("a", { href: `#/event?index=${index}`, class: "event-link", "aria-label": t("detailLink.label", { index }) }, String(index))),
          h("td", { class: "nowrap" }, formatTime(e.occurredAt)),
          h("td", {}, h("span", { class: `badge type-${e.type}` }, tEnum("eventType", e.type))),
          h("td", { "data-org": e.actor?.org ?? "" }, org(e.actor?.org)),
          h("td", {}, h("code", { translate: "no" }, e.dataset)),
          h("td", { "data-org": e.recipient?.org ?? "" }, org(e.recipient?.org)),
          h("td", { class: "purpose", translate: "no" }, e.purpose),
          h("td", { class: "flags", "aria-busy": "true" }),
          h("td", {}, h("a", { href: `#/verify?index=${index}`, "aria-label": t("receiptLink.label", { index }) }, t("events.receipt"))),
        );
        row.dataset.index = String(index);
        row.dataset.type = String(e.type);
        return row;
      }),
    ),
  );
}

/** Fills each row's flags cell from the event's own answer; a row whose answer fails keeps an empty cell. */
async function markFlagged(table: HTMLElement, events: { index: number }[], signal: AbortSignal): Promise<void> {
  await Promise.all(
    events.map(async ({ index }) => {
      const cell = table.querySelector(`tr[data-index="${index}"] td.flags`) as HTMLElement | null;
      const flags = await call<{ flags?: unknown[] }>(`/v1/events/${index}`, { signal }).then((a) => a.body.flags, () => undefined);
      if (signal.aborted || !cell) return;
      cell.removeAttribute("aria-busy");
      if (flags === undefined) return;
      const count = flags.length;
      cell.parentElement!.dataset.flagged = String(count > 0);
      if (count > 0) cell.parentElement!.classList.add("flagged");
      replace(cell, count > 0 ? h("span", { class: "flag", title: tp("events.flaggedLabel", { count }) }, tp("events.flagged", { count })) : h("span", { class: "muted" }, t("events.notFlagged")));
    }),
  );
}
