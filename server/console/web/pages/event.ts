import { call, describeFailure } from "../api";
import { facts, formatTime, h, notice, replace, verbatim, type Child } from "../dom";
import { t, tEnum } from "../i18n/i18n";
import type { Page, PageContext } from "./page";

/**
 * One event (#/event?index=N, from GET /v1/events/:index): what was done to
 * which data and why (legal basis, purpose), who did it (operator, organisation,
 * system) and for whom (recipient), the alerts raised on it, and its receipt to
 * verify. Organisation names come from the registry when it lists them.
 */

interface EventAnswer {
  index: number;
  envelope: { receivedAt: string; submitter: string; event: Record<string, any> };
  flags?: { id: string; kind: string; severity: string; ruleId?: string; message: string; createdAt: string }[];
}

export const eventPage: Page = {
  get title() {
    return t("event.title");
  },
  async render({ main, params, signal }: PageContext) {
    const raw = params.get("index") ?? "";
    const heading = h("h1", { tabindex: "-1" }, /^\d+$/.test(raw) ? t("event.heading", { index: Number(raw) }) : t("event.title"));
    const body = h("div", { id: "event-detail", "aria-busy": "true" }, h("p", { class: "loading" }, t("app.loading")));
    replace(main, h("p", { class: "back" }, h("a", { href: "#/events" }, t("event.back"))), heading, body);
    if (!/^\d+$/.test(raw)) {
      replace(body, notice("error", t("event.badIndex", { index: raw })));
      body.removeAttribute("aria-busy");
      return;
    }
    const index = Number(raw);
    const names = call<{ orgs: { id: string; name: string }[] }>("/v1/orgs", { signal }).then((a) => new Map(a.body.orgs.map((o) => [o.id, o.name])), () => new Map<string, string>());
    try {
      const { body: answer } = await call<EventAnswer>(`/v1/events/${index}`, { signal });
      const orgNames = await names;
      if (signal.aborted) return;
      replace(body, detail(answer, orgNames));
    } catch (error) {
      if (!signal.aborted) replace(body, notice("error", describeFailure(error, t("what.event", { index }))));
    } finally {
      body.removeAttribute("aria-busy");
    }
  },
};

function detail(answer: EventAnswer, orgNames: Map<string, string>): HTMLElement {
  const e = answer.envelope.event;
  const org = (id: string | undefined): Child => (id ? h("span", { class: "org", translate: "no" }, orgNames.get(id) ?? id, orgNames.has(id) ? h("small", {}, id) : null) : "—");
  const code = (value: unknown) => (value === undefined ? "—" : h("code", { translate: "no" }, String(value)));
  const attributes = Object.entries((e.attributes ?? {}) as Record<string, unknown>);
  const flags = answer.flags;
  return h(
    "div",
    { class: "cards event-detail" },
    h(
      "section",
      { class: "card", "aria-labelledby": "event-what" },
      h("h2", { id: "event-what" }, t("event.what")),
      facts([
        [t("event.field.index"), code(answer.index)],
        [t("event.field.type"), h("span", { class: `badge type-${e.type}` }, tEnum("eventType", e.type))],
        [t("event.field.occurredAt"), formatTime(e.occurredAt)],
        [t("event.field.receivedAt"), formatTime(answer.envelope.receivedAt)],
        [t("event.field.dataset"), code(e.dataset)],
        [t("event.field.fields"), h("ul", { class: "inline-list" }, (e.fields ?? []).map((f: string) => h("li", {}, h("code", { translate: "no" }, f))))],
        ...(e.subject !== undefined ? ([[t("event.field.subject"), code(e.subject)]] as [string, Child][]) : []),
        [t("event.field.legalBasis"), verbatim(e.legalBasis)],
        [t("event.field.purpose"), verbatim(e.purpose)],
        ...(attributes.length ? ([[t("event.field.attributes"), h("ul", { class: "inline-list" }, attributes.map(([k, v]) => h("li", {}, h("code", { translate: "no" }, `${k}=${String(v)}`))))]] as [string, Child][]) : []),
      ]),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "event-who" },
      h("h2", { id: "event-who" }, t("event.who")),
      facts([
        [t("event.field.operator"), code(e.actor?.operator)],
        [t("event.field.org"), org(e.actor?.org)],
        [t("event.field.system"), code(e.actor?.system)],
        [t("event.field.recipient"), org(e.recipient?.org)],
        [t("event.field.submitter"), code(answer.envelope.submitter)],
        [t("event.field.requestId"), code(e.requestId)],
      ]),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "event-flags", id: "event-flag-list" },
      h("h2", { id: "event-flags" }, t("event.flags")),
      flags === undefined
        ? notice("info", t("failure.noRoute", { what: t("what.eventFlags") }))
        : flags.length === 0
          ? notice("success", t("event.noFlags"))
          : h(
              "ul",
              { class: "alert-list" },
              flags.map((f) =>
                h(
                  "li",
                  { class: "flag-item", "data-kind": f.kind },
                  h("p", { class: "alert-head" }, h("span", { class: `badge severity-${f.severity}` }, tEnum("severity", f.severity)), " ", h("strong", {}, tEnum("alertKind", f.kind)), f.ruleId ? [" · ", h("code", { translate: "no" }, f.ruleId)] : null),
                  h("p", { class: "alert-message" }, verbatim(f.message)),
                  h("p", { class: "muted" }, t("event.flag.raised", { time: formatTime(f.createdAt) })),
                ),
              ),
            ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "event-receipt" },
      h("h2", { id: "event-receipt" }, t("event.receiptHeading")),
      h("p", {}, t("event.receiptText")),
      h("p", { class: "actions" }, h("a", { href: `#/verify?index=${answer.index}`, class: "button", id: "event-verify" }, t("event.verify"))),
    ),
  );
}
