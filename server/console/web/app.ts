/**
 * The web console: sign-in with an API key, hash routing between the pages,
 * and the page frame (navigation, sign-out). Plain DOM, no framework; every
 * byte is served by the gateway.
 */
import "./zod-jitless";
import { ApiError, call, clearKey, keyId, storedKey, storeKey, whenUnauthenticated } from "./api";
import { h, notice, replace } from "./dom";
import { alertsPage } from "./pages/alerts";
import { auditPage } from "./pages/audit";
import { eventsPage } from "./pages/events";
import { overviewPage } from "./pages/overview";
import type { Page } from "./pages/page";
import { verifyPage } from "./pages/verify";

const ROUTES: Record<string, Page> = {
  overview: overviewPage,
  events: eventsPage,
  verify: verifyPage,
  audit: auditPage,
  alerts: alertsPage,
};
const DEFAULT_ROUTE = "overview";

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const session = document.getElementById("session") as HTMLElement;
let leave: AbortController | undefined;
let signInMessage: string | undefined;

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
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${target.route}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!page) {
    document.title = "Not found — Provenance ledger console";
    replace(main, h("h1", { tabindex: "-1" }, "No such page"), notice("error", `There is no page “${target.route}”. `, h("a", { href: "#/overview" }, "Go to the overview.")));
    focusHeading(moveFocus);
    return;
  }
  document.title = `${page.title} — Provenance ledger console`;
  const signal = leave.signal;
  // Which view is drawn, and busy until its data has arrived (assistive technology and tests wait on it).
  main.dataset.view = location.hash || `#/${DEFAULT_ROUTE}`;
  main.setAttribute("aria-busy", "true");
  const rendering = Promise.resolve(page.render({ main, params: target.params, signal }));
  focusHeading(moveFocus);
  try {
    await rendering;
  } catch (error) {
    if (!signal.aborted) replace(main, h("h1", { tabindex: "-1" }, page.title), notice("error", `This page failed: ${(error as Error).message}`));
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
  info.textContent = keyId(key) ? `Key ${keyId(key)}` : "Signed in";
}

function showSignIn(): void {
  main.dataset.view = "sign-in";
  main.removeAttribute("aria-busy");
  nav.hidden = true;
  session.hidden = true;
  document.title = "Sign in — Provenance ledger console";
  const input = h("input", { type: "password", id: "api-key", name: "api-key", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "api-key-hint" });
  const error = h("div", { id: "sign-in-error", "aria-live": "assertive" }, signInMessage ? notice("error", signInMessage) : null);
  signInMessage = undefined;
  const button = h("button", { type: "submit", id: "sign-in-button" }, "Sign in");
  const form = h(
    "form",
    { id: "sign-in", class: "sign-in card", "aria-labelledby": "sign-in-heading", novalidate: true },
    h("h1", { id: "sign-in-heading", tabindex: "-1" }, "Sign in"),
    h("p", {}, "The console shows what your API key may see: a regulator's key its jurisdiction, an auditor's key the ledger it audits."),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input, h("small", { id: "api-key-hint", class: "hint" }, "Kept only in this browser tab (session storage) until you sign out or close it.")),
    error,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      replace(error, notice("error", "Enter your API key."));
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
      replace(error, notice("error", e instanceof ApiError && e.status === 401 ? `The gateway did not accept this key: ${e.message}` : `Could not sign in: ${(e as Error).message}`));
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  input.focus();
}

function signOut(message?: string): void {
  clearKey();
  leave?.abort(new DOMException("signed out", "AbortError"));
  signInMessage = message;
  showSignIn();
}

whenUnauthenticated((message) => signOut(`Signed out: the gateway no longer accepts this key (${message}).`));
document.getElementById("sign-out")!.addEventListener("click", () => signOut());
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => void render(true));
void render(false);
