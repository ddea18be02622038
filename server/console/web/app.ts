/**
 * The web console: sign-in with an API key, hash routing between the pages,
 * and the page frame (navigation, sign-out). Plain DOM, no framework; every
 * byte is served by the gateway.
 */
import "./zod-jitless";
import { ApiError, call, clearKey, keyId, storedKey, storeKey, whenUnauthenticated } from "./api";
import { h, notice, replace, verbatim, type Child } from "./dom";
import { activeLocale, t, tParts } from "./i18n/i18n";
import { applyLocale, chosenLocale, rememberLocale } from "./i18n/locale-choice";
import { alertsPage } from "./pages/alerts";
import { auditPage } from "./pages/audit";
import { eventPage } from "./pages/event";
import { eventsPage } from "./pages/events";
import { overviewPage } from "./pages/overview";
import type { Page } from "./pages/page";
import { verifyPage } from "./pages/verify";
import { describeScope, keyScope } from "./session-scope";

const ROUTES: Record<string, Page> = {
  overview: overviewPage,
  events: eventsPage,
  event: eventPage,
  verify: verifyPage,
  audit: auditPage,
  alerts: alertsPage,
};
const DEFAULT_ROUTE = "overview";

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const session = document.getElementById("session") as HTMLElement;
const langSwitch = document.getElementById("lang-switch") as HTMLButtonElement;
let leave: AbortController | undefined;
let signInMessage: Child | undefined;

function parseHash(): { route: string; params: URLSearchParams } | undefined {
  const hash = location.hash;
  if (hash === "" || hash === "#" || hash === "#/") return { route: DEFAULT_ROUTE, params: new URLSearchParams() };
  if (!hash.startsWith("#/")) return undefined; // an in-page anchor such as the skip link's #main
  const [path, query] = hash.slice(2).split("?", 2) as [string, string | undefined];
  return { route: path, params: new URLSearchParams(query ?? "") };
}

async function render(moveFocus: boolean): Promise<void> {
  const target = parseHash();
  if (!target) return;
  leave?.abort(new DOMException("left the page", "AbortError"));
  leave = new AbortController();
  const key = storedKey();
  if (!key) {
    showSignIn();
    return;
  }
  showFrame(key);
  const page = ROUTES[target.route];
  // An event's detail view belongs to the events section.
  const section = target.route === "event" ? "events" : target.route;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${section}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!page) {
    document.title = t("app.documentTitle", { page: t("app.notFound.title") });
    replace(main, h("h1", { tabindex: "-1" }, t("app.notFound.heading")), notice("error", tParts("app.notFound.text", { route: verbatim(target.route), link: h("a", { href: "#/overview" }, t("app.notFound.link")) })));
    focusHeading(moveFocus);
    return;
  }
  document.title = t("app.documentTitle", { page: page.title });
  const signal = leave.signal;
  // Which view is drawn, and busy until its data has arrived (assistive technology and tests wait on it).
  main.dataset.view = location.hash || `#/${DEFAULT_ROUTE}`;
  main.setAttribute("aria-busy", "true");
  const rendering = Promise.resolve(page.render({ main, params: target.params, signal }));
  focusHeading(moveFocus);
  try {
    await rendering;
  } catch (error) {
    if (!signal.aborted) replace(main, h("h1", { tabindex: "-1" }, page.title), notice("error", tParts("app.pageFailed", { message: verbatim((error as Error).message) })));
  } finally {
    if (!signal.aborted) main.removeAttribute("aria-busy");
  }
}

/** After a route change, move focus to the new page's heading so keyboard and screen-reader users start there. */
function focusHeading(moveFocus: boolean): void {
  if (!moveFocus) return;
  (main.querySelector("h1") as HTMLElement | null)?.focus({ preventScroll: false });
}

function showFrame(key: string): void {
  nav.hidden = false;
  session.hidden = false;
  const info = document.getElementById("session-key") as HTMLElement;
  const id = keyId(key);
  info.textContent = id ? t("session.key", { id }) : t("session.signedIn");
  const scope = document.getElementById("session-scope") as HTMLElement;
  if (scope.dataset.key !== id) replace(scope);
  scope.dataset.key = id ?? "";
  void keyScope(key).then((found) => {
    if (!found || storedKey() !== key) return;
    scope.textContent = describeScope(found);
  });
}

function showSignIn(): void {
  main.dataset.view = "sign-in";
  main.removeAttribute("aria-busy");
  nav.hidden = true;
  session.hidden = true;
  document.title = t("app.documentTitle", { page: t("signIn.title") });
  const input = h("input", { type: "password", id: "api-key", name: "api-key", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "api-key-hint" });
  const error = h("div", { id: "sign-in-error", "aria-live": "assertive" }, signInMessage ? notice("error", signInMessage) : null);
  signInMessage = undefined;
  const button = h("button", { type: "submit", id: "sign-in-button" }, t("signIn.button"));
  const form = h(
    "form",
    { id: "sign-in", class: "sign-in card", "aria-labelledby": "sign-in-heading", novalidate: true },
    h("h1", { id: "sign-in-heading", tabindex: "-1" }, t("signIn.title")),
    h("p", {}, t("signIn.intro")),
    h("div", { class: "field" }, h("label", { for: "api-key" }, t("signIn.keyLabel")), input, h("small", { id: "api-key-hint", class: "hint" }, t("signIn.keyHint"))),
    error,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      replace(error, notice("error", t("signIn.empty")));
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      // Any authenticated call tells a good key from a bad one; 403 is a good key whose role has no status view.
      await call("/v1/status", { key }).catch((e) => {
        if (e instanceof ApiError && e.status === 403) return undefined;
        throw e;
      });
      storeKey(key);
      if (!parseHash() || location.hash === "") location.hash = `#/${DEFAULT_ROUTE}`;
      await render(true);
    } catch (e) {
      replace(error, notice("error", tParts(e instanceof ApiError && e.status === 401 ? "signIn.rejected" : "signIn.failed", { message: verbatim((e as Error).message) })));
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  input.focus();
}

function signOut(message?: Child): void {
  clearKey();
  leave?.abort(new DOMException("signed out", "AbortError"));
  signInMessage = message;
  showSignIn();
}

whenUnauthenticated((message) => signOut(tParts("signIn.revoked", { message: verbatim(message) })));
document.getElementById("sign-out")!.addEventListener("click", () => signOut());
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => void render(true));

/** The header's switch offers the other language, named in that language. */
function showLanguageSwitch(): void {
  const other = activeLocale() === "zh-CN" ? "en" : "zh-CN";
  langSwitch.textContent = t("lang.switch");
  langSwitch.lang = other;
  langSwitch.setAttribute("aria-label", t("lang.switchLabel"));
  langSwitch.onclick = () => {
    rememberLocale(other);
    showLanguageSwitch();
    // Everything drawn is in the old language: draw the view again (a sign-in form loses what was typed).
    void render(false);
  };
}

applyLocale(chosenLocale());
showLanguageSwitch();
void render(false);
