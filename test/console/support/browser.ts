/**
 * A real headless Chromium for console tests: the one that @sparticuz/chromium
 * ships inside its npm package (so `npm ci && npm test` needs nothing else),
 * driven by puppeteer-core. `CHROME_PATH` overrides the binary.
 *
 * @sparticuz/chromium unpacks itself into os.tmpdir() and reuses what it finds
 * there, so TMPDIR points at the project's git-ignored .tmp/ while it loads and
 * launches, and is restored afterwards so other tests' temp dirs stay where they were.
 */
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { ROOT } from "../../support/gateway-harness";

export const BROWSER_TMP = path.join(ROOT, ".tmp");
export const SCREENSHOT_DIR = path.join(ROOT, "test-output", "console");
export const LAPTOP_VIEWPORT = { width: 1366, height: 768 };

// ts-node compiles import() to require(), which cannot load this ESM-only package.
const importEsm = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<any>;

async function withTmpDir<T>(run: () => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR;
  mkdirSync(BROWSER_TMP, { recursive: true });
  process.env.TMPDIR = BROWSER_TMP;
  try {
    return await run();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

/**
 * `lang` is the browser's language (`--lang`, which also sets Accept-Language); the
 * console picks its own language from it, so each console test says which it wants.
 */
export async function launchChromium(lang = "en-US"): Promise<Browser> {
  return withTmpDir(async () => {
    const puppeteer = (await import("puppeteer-core")).default;
    const chromium = (await importEsm("@sparticuz/chromium")).default;
    const args: string[] = [...chromium.args, `--lang=${lang}`];
    const launch = async () => {
      const executablePath = process.env.CHROME_PATH || (await chromium.executablePath());
      return puppeteer.launch({ executablePath, args, headless: "shell", defaultViewport: LAPTOP_VIEWPORT, timeout: 60_000, protocolTimeout: 60_000 });
    };
    try {
      return await launch();
    } catch (error) {
      if (process.env.CHROME_PATH) throw error;
      // A binary left half-unpacked by an interrupted run is reused as is; unpack afresh once.
      rmSync(path.join(BROWSER_TMP, "chromium"), { force: true });
      return launch();
    }
  });
}

/**
 * What the page reports that a test should fail on: uncaught errors and console
 * errors (CSP and Trusted Types violations among them). Chromium's own "Failed
 * to load resource" line for an HTTP error answer is left out: the console asks
 * for things a key may not see (403) or that do not exist yet (404) on purpose.
 */
/**
 * A new tab whose navigator.language(s) say `languages` (the headless shell does not
 * always take them from --lang), with nothing remembered from an earlier choice.
 */
export async function newPageInLanguage(browser: Browser, languages: string[]): Promise<Page> {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument((list: string[]) => {
    const nav = (globalThis as any).navigator;
    Object.defineProperty(Object.getPrototypeOf(nav), "languages", { get: () => list, configurable: true });
    Object.defineProperty(Object.getPrototypeOf(nav), "language", { get: () => list[0], configurable: true });
  }, languages);
  await page.setExtraHTTPHeaders({ "accept-language": languages.join(",") });
  return page;
}

export function recordProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${(error as Error).message ?? String(error)}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()} at ${JSON.stringify(message.stackTrace().slice(0, 3))}`);
    }
  });
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`) as `${string}.png`;
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

// The callbacks below run in the browser; this Node project has no DOM typings.
declare const document: any, location: any;

/**
 * Moving about the console the way every console test does: `settled` waits until the
 * view for the current address (which includes `part`) is drawn and its data loaded;
 * `go` changes the address and waits for that; `text` is an element's visible text.
 * `page` is asked for at each call, as tests open their page in a `before` hook.
 */
export function consoleNavigation(page: () => Page, wait: { timeout: number }) {
  const settled = (part: string) =>
    page().waitForFunction(
      (p: string) => {
        const main = document.getElementById("main")!;
        return location.hash.includes(p) && main.dataset.view === location.hash && !main.hasAttribute("aria-busy");
      },
      wait,
      part,
    );
  const go = async (hash: string) => {
    await page().evaluate((h: string) => (location.hash = h), hash);
    await settled(hash);
  };
  const text = (selector: string): Promise<string> => page().$eval(selector, (e) => (e as unknown as { innerText: string }).innerText);
  return { settled, go, text };
}
