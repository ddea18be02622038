import { EVENT_TYPES } from "../../../domain/event-schema";
import { call, describeFailure } from "../api";
import { formatTime, h, notice, replace } from "../dom";
import { buildOrgTree, divisionGroups, type RegistryDivision, type RegistryOrg } from "../org-tree";
import { navigate, routeHash, type Page, type PageContext } from "./page";

/**
 * The event explorer: the filters of GET /v1/events (organisation tree by
 * administrative level, dataset, type, subject, recipient, time range), a page
 * of events newest first, and each event's receipt one click away. Filters live
 * in the address (#/events?type=share&…) so a view can be bookmarked — except
 * the data subject's id, which stays in memory only.
 */

const HASH_FILTERS = ["org", "subtree", "division", "dataset", "type", "recipient", "from", "to", "limit"] as const;
let subjectFilter = "";
/** Page cursors seen, to step back to newer pages: cursor → the cursor of the page before it. */
const previousCursor = new Map<string, string>();

export const eventsPage: Page = {
  title: "Events",
  async render({ main, params, signal }: PageContext) {
    const filters = Object.fromEntries(HASH_FILTERS.map((name) => [name, params.get(name) ?? undefined])) as Record<(typeof HASH_FILTERS)[number], string | undefined>;
    const cursor = params.get("cursor") ?? undefined;
    const formSlot = h("div", { class: "filters-slot" }, h("p", { class: "loading" }, "Loading the filters…"));
    const summary = h("p", { id: "event-summary", class: "summary" }, "Loading…");
    const results = h("div", { id: "event-results", class: "table-wrap", "aria-busy": "true" });
    const pager = h("nav", { class: "pager", "aria-label": "Event pages" });
    replace(
      main,
      h("h1", { tabindex: "-1" }, "Events"),
      h("p", { class: "lead" }, "Filter the provenance events this key may see; open an event's receipt to verify it in this browser."),
      formSlot,
      h("section", { "aria-labelledby": "events-results-heading", class: "results" }, h("h2", { id: "events-results-heading", class: "visually-hidden" }, "Results"), h("div", { "aria-live": "polite" }, summary), results, pager),
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
      summary.textContent = events.length === 0 ? "No events match these filters." : `${events.length} event${events.length === 1 ? "" : "s"} on this page, newest first${cursor ? ` (older than event ${cursor})` : ""}.`;
      replace(results, events.length === 0 ? null : eventTable(events, await orgNames));
      if (body.next) previousCursor.set(body.next, cursor ?? "");
      const back = cursor === undefined ? undefined : previousCursor.get(cursor);
      replace(
        pager,
        cursor !== undefined ? h("a", { href: routeHash("events", { ...filters }), class: "button secondary" }, "⇤ Newest") : null,
        back ? h("a", { href: routeHash("events", { ...filters, cursor: back }), class: "button secondary", rel: "prev" }, "← Newer") : null,
        body.next ? h("a", { href: routeHash("events", { ...filters, cursor: body.next }), class: "button secondary", rel: "next" }, "Older →") : null,
      );
    } catch (error) {
      if (signal.aborted) return;
      summary.textContent = "";
      replace(results, notice("error", describeFailure(error, "events")));
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
    h("option", { value: "" }, "Any organisation"),
    groups.map((g) => {
      const name = g.path[g.path.length - 1]!;
      const group = h(
        "optgroup",
        { label: `${g.path.join(" › ")} · ${g.level}` },
        h("option", { value: `division:${g.code}`, selected: selected === `division:${g.code}` }, `All of ${name} (${g.level} ${g.code})`),
        g.orgs.map((o) => h("option", { value: `org:${o.id}`, selected: selected === `org:${o.id}` }, `${o.name} — ${o.id}`)),
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
  const typeSelect = h("select", { id: "f-type", name: "type" }, h("option", { value: "" }, "Any type"), EVENT_TYPES.map((t) => h("option", { value: t, selected: filters.type === t }, t)));
  const limitSelect = h("select", { id: "f-limit", name: "limit" }, ["20", "50", "100"].map((n) => h("option", { value: n, selected: (filters.limit ?? "20") === n }, n)));
  const from = h("input", { type: "datetime-local", id: "f-from", name: "from", value: toLocalInput(filters.from) });
  const to = h("input", { type: "datetime-local", id: "f-to", name: "to", value: toLocalInput(filters.to) });
  const dataset = text("f-dataset", "dataset", filters.dataset, { placeholder: "e.g. cat:household-registry" });
  const subject = text("f-subject", "subject", subjectFilter, { "aria-describedby": "f-subject-hint" });
  const recipient = text("f-recipient", "recipient", filters.recipient, { placeholder: "e.g. 330102003004:health", "aria-describedby": "f-recipient-hint" });
  const field = (id: string, label: string, control: HTMLElement, hint?: string) =>
    h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null);

  const form = h(
    "form",
    { id: "event-filters", class: "filters", role: "search", "aria-label": "Event filters", novalidate: true },
    h(
      "div",
      { class: "field field-org" },
      h("label", { for: "f-org" }, "Organisation or division"),
      orgSelect,
      h("small", { id: "f-org-hint", class: "hint" }, "By administrative level: province › city › county › township › village › grid. An organisation matches as actor or recipient."),
      h("label", { class: "check" }, subtree, " Include every unit in the organisation's division"),
    ),
    field("f-type", "Type", typeSelect),
    field("f-dataset", "Dataset", dataset),
    field("f-subject", "Data subject id", subject, "Matched by its keyed hash; not kept in the address bar."),
    field("f-recipient", "Recipient organisation", recipient, "Organisation id, as <division>:<department>."),
    field("f-from", "Occurred from", from),
    field("f-to", "Occurred until", to),
    field("f-limit", "Per page", limitSelect),
    h("div", { class: "actions" }, h("button", { type: "submit", id: "apply-filters" }, "Apply filters"), h("button", { type: "button", class: "secondary", id: "clear-filters", onclick: () => ((subjectFilter = ""), navigate("#/events")) }, "Clear")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const choice = orgSelect.value;
    subjectFilter = subject.value.trim();
    const next: Record<string, string | undefined> = {
      org: choice.startsWith("org:") ? choice.slice(4) : undefined,
      division: choice.startsWith("division:") ? choice.slice(9) : undefined,
      subtree: choice.startsWith("org:") && subtree.checked ? "true" : undefined,
      type: typeSelect.value || undefined,
      dataset: dataset.value.trim() || undefined,
      recipient: recipient.value.trim() || undefined,
      from: fromLocalInput(from.value),
      to: fromLocalInput(to.value),
      limit: limitSelect.value === "20" ? undefined : limitSelect.value,
    };
    navigate(routeHash("events", next));
  });
  return form;
}

function eventTable(events: { index: number; envelope: any }[], orgNames: Map<string, string>): HTMLTableElement {
  const org = (id: string | undefined) => (id ? h("span", { class: "org" }, orgNames.get(id) ?? id, orgNames.has(id) ? h("small", {}, id) : null) : "—");
  return h(
    "table",
    { id: "event-table", class: "data" },
    h("caption", { class: "visually-hidden" }, "Events"),
    h("thead", {}, h("tr", {}, ["#", "Occurred", "Type", "Actor", "Dataset", "Recipient", "Purpose", "Receipt"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      events.map(({ index, envelope }) => {
        const e = envelope.event ?? {};
        const row = h(
          "tr",
          {},
          h("td", { class: "num" }, index),
          h("td", { class: "nowrap" }, formatTime(e.occurredAt)),
          h("td", {}, h("span", { class: `badge type-${e.type}` }, e.type)),
          h("td", { "data-org": e.actor?.org ?? "" }, org(e.actor?.org)),
          h("td", {}, h("code", {}, e.dataset)),
          h("td", { "data-org": e.recipient?.org ?? "" }, org(e.recipient?.org)),
          h("td", { class: "purpose" }, e.purpose),
          h("td", {}, h("a", { href: `#/verify?index=${index}`, "aria-label": `Open the receipt of event ${index}` }, "Receipt")),
        );
        row.dataset.index = String(index);
        row.dataset.type = String(e.type);
        return row;
      }),
    ),
  );
}

/** RFC 3339 (from the address) → the value of a datetime-local input, in local time. */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local value (local time) → RFC 3339 in UTC, as the query API wants. */
function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
