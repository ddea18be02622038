/**
 * The web console in Chinese, in a real headless Chromium whose language is
 * zh-CN, against a real gateway.
 *
 * When a regulator signs in from a Chinese browser, then every page speaks
 * Simplified Chinese (`<html lang="zh-CN">`, no English left outside codes,
 * hashes, ids and standards), dates and numbers are in the zh-CN format, the
 * date filters read and write 年/月/日, the header shows the key's role and
 * jurisdiction, the flagged event is marked and its detail view shows what was
 * done, why, by whom, its alerts and its receipt; switching to English and back
 * is remembered across a reload; and at 390 px the header fits. Screenshots of
 * each page in zh-CN and en go to test-output/console/.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { makeEvent, makeTempDir, removeDir, startTestGateway, stopAndRemove, waitFor, waitForReceipt, type EventOverrides, type TestGateway } from "../support/gateway-harness";
import { LAPTOP_VIEWPORT, launchChromium, newPageInLanguage, recordProblems, screenshot, consoleNavigation } from "./support/browser";

// The callbacks given to page.evaluate run in the browser (see console.test.ts).
declare const document: any, location: any, window: any, localStorage: any, NodeFilter: any;
type HTMLElement = any;
type HTMLInputElement = any;

const CIVIL = "330102003004:civil-affairs";
const STREET = "330102003000:civil-affairs";
const HEALTH = "330102000000:health";
const INSURER = "330102000000:commercial-insurer";
const GRID = "330102003004-G01:grid-office";
const WAIT = { timeout: 15_000 };
const PHONE = { width: 390, height: 844 };

const REGISTRY = {
  divisions: [
    { code: "330000000000", name: "浙江省" },
    { code: "330100000000", name: "杭州市" },
    { code: "330102000000", name: "上城区" },
    { code: "330102003000", name: "湖滨街道" },
    { code: "330102003004", name: "东坡路社区" },
    { code: "330102003004-G01", name: "东坡路社区第一网格" },
  ],
  orgs: [
    { id: CIVIL, name: "东坡路社区居民委员会" },
    { id: STREET, name: "湖滨街道民政办" },
    { id: HEALTH, name: "上城区卫生健康局" },
    { id: INSURER, name: "商业保险公司（合作机构）" },
    { id: GRID, name: "第一网格工作站" },
  ],
};

const POLICY = {
  version: 1,
  negativeList: [
    { id: "NL-ID-COMMERCIAL", description: "身份证号码不得共享给商业机构", severity: "critical", eventTypes: ["share", "export"], fields: ["id-number"], recipient: { orgs: ["*:commercial-*"] } },
  ],
};

const day = (daysAgo: number, hour = 10) => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - daysAgo, hour - 8)).toISOString();
const LEGAL = "《中华人民共和国个人信息保护法》第十三条";
const SEEDS: EventOverrides[] = [
  { type: "collect", actor: { org: CIVIL }, occurredAt: day(3), purpose: "年度住户调查", legalBasis: LEGAL },
  { type: "share", actor: { org: CIVIL }, recipient: { org: HEALTH }, occurredAt: day(2), purpose: "疫苗接种随访", legalBasis: LEGAL },
  { type: "share", actor: { org: CIVIL }, recipient: { org: INSURER }, occurredAt: day(1), fields: ["name", "id-number"], purpose: "保险推介", legalBasis: LEGAL },
  { type: "access", actor: { org: GRID }, occurredAt: day(0, 9), purpose: "入户走访", legalBasis: LEGAL },
  { type: "use", actor: { org: STREET }, dataset: "cat:social-assistance", occurredAt: day(0, 11), purpose: "最低生活保障复核", legalBasis: LEGAL },
];
const FLAGGED = 2;
const PAGES = ["overview", "events", `event?index=${FLAGGED}`, `verify?index=${FLAGGED}`, "audit", "alerts"];

describe("console: the web console in Chinese (zh-CN), switchable to English", function () {
  this.timeout(60_000);

  let test: TestGateway;
  let filesDir: string;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  before(async function () {
    this.timeout(120_000);
    filesDir = makeTempDir("console-zh-files-");
    writeFileSync(path.join(filesDir, "policy.json"), JSON.stringify(POLICY));
    writeFileSync(path.join(filesDir, "orgs.json"), JSON.stringify(REGISTRY));
    [test, browser] = await Promise.all([
      startTestGateway({ env: { CHAIN_PORT: "0", LOG_NAME: "上城区数据共享网关", POLICY_FILE: path.join(filesDir, "policy.json"), ORGS_FILE: path.join(filesDir, "orgs.json") } }),
      launchChromium("zh-CN"),
    ]);
    const submitted = await test.api("POST", "/v1/events", { key: test.keys.submitter.key, json: { events: SEEDS.map((s) => makeEvent(s)) } });
    expect(submitted.status, submitted.text).to.equal(201);
    await waitForReceipt(test.url, test.keys.auditor.key, SEEDS.length - 1);
    await waitFor("the negative-list alert", async () => {
      const alerts = await test.api("GET", "/v1/alerts?kind=negative-list", { key: test.keys.admin.key });
      return alerts.body?.alerts?.length >= 1 ? true : undefined;
    });
    page = await newPageInLanguage(browser, ["zh-CN", "zh"]);
    problems = recordProblems(page);
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close().catch(() => undefined);
    await stopAndRemove(test);
    removeDir(filesDir);
  });

  afterEach(function () {
    expect(problems, "errors reported by the page").to.deep.equal([]);
  });

  const { settled, go, text } = consoleNavigation(() => page, WAIT);
  const lang = () => page.evaluate(() => document.documentElement.lang as string);

  /**
   * English words left on the page: text nodes (and aria-label, title,
   * placeholder and the document title) outside what is verbatim — elements
   * marked translate="no" (gateway messages, names, ids), code, and text in
   * another language on purpose (the language switch, lang="en"). A word with a
   * digit or a code's punctuation (ids, hashes, org ids, datasets), or in upper
   * case (API, RFC, rule ids), is a code, not English.
   */
  async function englishLeft(): Promise<string[]> {
    return page.evaluate(() => {
      // Runs of printable ASCII between spaces and Chinese text; codes (NL-ID-COMMERCIAL, API) are upper case.
      const allowed = new Set(["Merkle", "rootAt"]);
      const words = (s: string) =>
        s
          .split(/[^\x21-\x7e]+/)
          .map((w) => w.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, ""))
          .filter((w) => /[A-Za-z]{2}/.test(w) && !/[0-9:._/@#]/.test(w) && !/^[A-Z0-9_-]+$/.test(w) && !allowed.has(w));
      const exempt = (e: HTMLElement | null) => {
        if (!e) return false;
        if (e.closest("[translate=no], code, script, style, noscript")) return true;
        const other = e.closest("[lang]:not(html)");
        return !!other && !other.getAttribute("lang").startsWith("zh");
      };
      const found: string[] = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (exempt(node.parentElement)) continue;
        for (const w of words(node.textContent ?? "")) found.push(`${w} in “${(node.textContent ?? "").trim().slice(0, 80)}”`);
      }
      for (const element of document.body.querySelectorAll("[aria-label], [title], [placeholder]")) {
        if (exempt(element)) continue;
        for (const attribute of ["aria-label", "title", "placeholder"]) for (const w of words(element.getAttribute(attribute) ?? "")) found.push(`${w} in ${attribute}="${element.getAttribute(attribute)}"`);
      }
      for (const w of words(document.title)) found.push(`${w} in the title “${document.title}”`);
      return found;
    });
  }

  const headerFits = () => page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth as number, headerRight: document.querySelector("header").getBoundingClientRect().right as number, width: window.innerWidth as number }));

  it("speaks Chinese on the sign-in page of a Chinese browser: lang, title, labels, no English", async function () {
    await page.goto(`${test.url}/console/`, { waitUntil: "load" });
    await page.waitForSelector("#api-key", WAIT);
    expect(await lang()).to.equal("zh-CN");
    expect(await page.title()).to.equal("登录 — 数据溯源存证账本控制台");
    expect(await text("label[for=api-key]")).to.equal("API 密钥");
    expect(await text("#sign-in-button")).to.equal("登录");
    expect(await text("#lang-switch")).to.equal("English");
    expect(await englishLeft()).to.deep.equal([]);
    await page.type("#api-key", "pl_000000000000_not-a-real-key");
    await page.click("#sign-in-button");
    await page.waitForSelector("#sign-in-error .notice-error", WAIT);
    expect(await text("#sign-in-error")).to.match(/^网关不接受此密钥：/);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-sign-in")}`);
  });

  it("signs in and shows the overview in Chinese, with the key's role and jurisdiction in the header", async function () {
    await page.$eval("#api-key", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("#api-key", test.keys.regulator.key);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#nav:not([hidden])", WAIT);
    await settled("#/overview");
    expect(await text("main h1")).to.equal("账本概览");
    expect(await page.$$eval("#nav a", (links) => links.map((a) => (a as HTMLElement).textContent))).to.deep.equal(["概览", "事件", "验证回执", "审计", "告警"]);
    await page.waitForFunction(() => document.getElementById("session-scope").textContent !== "", WAIT);
    expect(await text("#session-scope")).to.equal(`监管机构 · 上城区（${test.keys.regulator.record.jurisdiction}）`);
    expect(await page.title()).to.equal("概览 — 数据溯源存证账本控制台");
    expect(await text("[data-section=log]")).to.include("已上链锚定");
    // zh-CN dates: 2026/12/03 14:05:09.
    expect(await text("[data-section=checkpoint]")).to.match(/锚定时间\s+\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}/);
    expect(await text("[data-section=chart] figcaption")).to.match(/^每日事件数（\d{4}\/\d{2}\/\d{2} 至 \d{4}\/\d{2}\/\d{2}） — 共 5 个$/);
    expect(await text("[data-section=chart]")).to.include("按行政层级").and.include("村/社区").and.include("网格");
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-overview")}`);
  });

  it("lists events in Chinese, marks the flagged one, and filters by dates typed as 年/月/日", async function () {
    await go("#/events");
    expect(await page.$$eval("#event-table thead th", (ths) => ths.map((th) => (th as HTMLElement).textContent))).to.deep.equal(["序号", "发生时间", "类型", "操作方", "数据集", "接收方", "目的", "标记", "回执"]);
    expect(await text("#event-summary")).to.equal("本页共 5 个事件，按时间由新到旧排列。");
    const groups = await page.$$eval("#f-org optgroup", (gs) => gs.map((g) => g.getAttribute("label")));
    expect(groups).to.deep.equal(["浙江省 · 省", "浙江省 › 杭州市 · 市", "浙江省 › 杭州市 › 上城区 · 县", "浙江省 › 杭州市 › 上城区 › 湖滨街道 · 乡镇/街道", "浙江省 › 杭州市 › 上城区 › 湖滨街道 › 东坡路社区 · 村/社区", "浙江省 › 杭州市 › 上城区 › 湖滨街道 › 东坡路社区 › 东坡路社区第一网格 · 网格"]);
    const flagged = await page.$$eval("#event-table tbody tr", (rows) => rows.filter((r) => (r as HTMLElement).dataset.flagged === "true").map((r) => Number((r as HTMLElement).dataset.index)));
    expect(flagged).to.deep.equal([FLAGGED]);
    expect(await text(`#event-table tr[data-index="${FLAGGED}"] td.flags`)).to.equal("⚑ 1 条告警");
    expect(await text(`#event-table tr[data-index="${FLAGGED}"]`)).to.include("共享").and.include("商业保险公司（合作机构）");
    // Dates in the zh-CN format (not Chromium's mm/dd/yyyy).
    const from = await page.$eval("#f-from", (e) => ({ type: (e as HTMLInputElement).type, placeholder: e.getAttribute("placeholder") }));
    expect(from).to.deep.equal({ type: "text", placeholder: "年/月/日 时:分" });
    expect(await text("#f-from-hint")).to.match(/^格式为 年\/月\/日 时:分，例如 \d{4}\/12\/03 09:30；时间可省略。$/);
    expect(await text("#event-table tbody tr td.nowrap")).to.match(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-events")}`);

    await page.type("#f-from", "12/01/2026");
    await page.click("#apply-filters");
    await page.waitForSelector("#f-from[aria-invalid=true]", WAIT);
    expect(await text("#f-from-error")).to.equal("“12/01/2026”不是 年/月/日 时:分 格式的日期。");
    expect(await page.evaluate(() => location.hash)).to.equal("#/events");
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-events-date-invalid")}`);
    const yesterday = await page.evaluate(() => {
      const d = new Date(Date.now() - 36 * 3600_000);
      return `${d.getFullYear()}/${String(d.getMonth() + 1).padStart(2, "0")}/${String(d.getDate()).padStart(2, "0")}`;
    });
    await page.$eval("#f-from", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("#f-from", `${yesterday} 00:00`);
    await page.click("#apply-filters");
    await settled("from=");
    const iso = await page.evaluate((text) => {
      const [y, m, d] = text.split("/").map(Number);
      return new Date(y!, m! - 1, d!).toISOString();
    }, yesterday);
    expect(decodeURIComponent(await page.evaluate(() => location.hash))).to.include(`from=${iso}`);
    expect(await page.$eval("#f-from", (e) => (e as HTMLInputElement).value)).to.equal(`${yesterday} 00:00`);
    const shown = await page.$$eval("#event-table tbody tr", (rows) => rows.map((r) => Number((r as HTMLElement).dataset.index)));
    expect(shown.length).to.be.greaterThan(0).and.lessThan(SEEDS.length);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-events-date-filter")}`);
    await go("#/events");
  });

  it("opens the flagged event's detail view: fields, legal basis, purpose, operator, organisations, flags, receipt", async function () {
    await page.click(`#event-table tr[data-index="${FLAGGED}"] a.event-link`);
    await settled(`#/event?index=${FLAGGED}`);
    expect(await text("main h1")).to.equal(`事件 ${FLAGGED}`);
    const detail = await text("#event-detail");
    for (const part of ["处理内容", "法律依据", LEGAL, "目的", "保险推介", "涉及字段", "id-number", "经办人", "op-7731", "所属机构", "东坡路社区居民委员会", "接收方", "商业保险公司（合作机构）", "此事件的告警", "严重", "负面清单", "NL-ID-COMMERCIAL", "验证其回执"]) {
      expect(detail, part).to.include(part);
    }
    expect(await page.$$eval("#event-flag-list .flag-item", (items) => items.map((i) => (i as HTMLElement).dataset.kind))).to.deep.equal(["negative-list"]);
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-event-detail")}`);

    await page.click("#event-verify");
    await settled(`#/verify?index=${FLAGGED}`);
    await page.waitForSelector("#download-receipt", WAIT);
    await page.waitForFunction(() => (document.getElementById("rpc-url") as HTMLInputElement).value !== "", WAIT);
    // The file picker's own words (Chromium's follow its UI language) are replaced by the catalogue's.
    expect(await text("label.button[for=receipt-file]")).to.equal("选择文件");
    expect(await text("#receipt-file-name")).to.equal("未选择文件");
    await page.click("#verify-button");
    await page.waitForSelector("#verdict", WAIT);
    expect(await page.$$eval("#verify-steps li", (lis) => lis.map((li) => (li as HTMLElement).dataset.state))).to.deep.equal(["pass", "pass", "pass", "pass"]);
    expect(await text("#verdict")).to.match(/^✓ 回执有效。/);
    expect(await page.$$eval("#verify-steps .step-title", (ps) => ps.map((p) => (p as HTMLElement).innerText))).to.deep.equal(["可信日志 — 通过", "叶子哈希 — 通过", "包含证明 — 通过", "链上根哈希 — 通过"]);
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-verify-pass")}`);

    // A tampered receipt: the failure is explained in Chinese, the verifier's own words kept as they are.
    await page.$eval("#receipt-text", (e) => {
      const receipt = JSON.parse((e as any).value);
      receipt.entry.envelope.event.purpose = "篡改";
      (e as any).value = JSON.stringify(receipt, null, 2);
      e.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await page.click("#verify-button");
    await page.waitForSelector("#verdict.verdict-fail", WAIT);
    expect(await text("#verdict")).to.match(/^✗ 回执无效。信封的叶子哈希与回执记载的不同/).and.include("LEAF_HASH_MISMATCH");
    expect(await text("#step-inclusion")).to.include("未执行").and.include("未校验：前一步骤未通过。");
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-verify-fail")}`);
  });

  it("shows alerts and runs an audit in Chinese", async function () {
    await go("#/alerts");
    const row = await text("#alert-table tbody tr");
    expect(row).to.include("严重").and.include("负面清单").and.include("NL-ID-COMMERCIAL").and.include("确认");
    expect(await text("#alert-summary")).to.equal("共 1 条告警，按时间由新到旧排列。");
    expect(await page.$$eval("#a-severity option", (os) => os.map((o) => (o as HTMLElement).textContent))).to.deep.equal(["全部级别", "提示", "警告", "严重"]);
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-alerts")}`);

    await go("#/audit");
    await page.waitForSelector("#start-audit:not([disabled])", WAIT);
    await page.click("#start-audit");
    await page.waitForFunction(() => document.getElementById("audit-state")?.textContent === "已完成", { timeout: 30_000 });
    await page.waitForSelector("#audit-verdict", WAIT);
    expect(await text("#audit-verdict")).to.match(/^✓ 未发现不一致。所有记录、Merkle 树、\d+ 个检查点与链上数据均一致。$/);
    expect(await englishLeft()).to.deep.equal([]);
    console.log(`      screenshot: ${await screenshot(page, "zh-CN-audit")}`);
  });

  it("switches to English and back from the header, remembered across a reload", async function () {
    await go("#/overview");
    await page.click("#lang-switch");
    await settled("#/overview");
    expect(await lang()).to.equal("en");
    expect(await text("main h1")).to.equal("Ledger overview");
    expect(await page.$$eval("#nav a", (links) => links.map((a) => (a as HTMLElement).textContent))).to.deep.equal(["Overview", "Events", "Verify a receipt", "Audit", "Alerts"]);
    expect(await text("#lang-switch")).to.equal("中文");
    expect(await page.evaluate(() => localStorage.getItem("ledger-console.locale"))).to.equal("en");

    await page.reload({ waitUntil: "load" });
    await settled("#/overview");
    expect(await lang()).to.equal("en");
    expect(await page.title()).to.equal("Overview — Provenance ledger console");
    await page.waitForFunction(() => document.getElementById("session-scope").textContent !== "", WAIT);
    expect(await text("#session-scope")).to.equal(`Regulator · 上城区 (${test.keys.regulator.record.jurisdiction})`);
    // en dates: 12/03/2026, 14:05:09.
    expect(await text("[data-section=checkpoint]")).to.match(/Anchored at\s+\d{2}\/\d{2}\/\d{4}, \d{2}:\d{2}:\d{2}/);
    for (const route of PAGES) {
      await go(`#/${route}`);
      if (route === "events") expect(await page.$eval("#f-from", (e) => e.getAttribute("placeholder"))).to.equal("mm/dd/yyyy, hh:mm");
      console.log(`      screenshot: ${await screenshot(page, `en-${route.replace(/\?index=/, "-")}`)}`);
    }

    await page.click("#lang-switch");
    await page.waitForFunction(() => document.documentElement.lang === "zh-CN", WAIT);
    await page.reload({ waitUntil: "load" });
    await settled("#/alerts");
    expect(await lang()).to.equal("zh-CN");
    expect(await text("main h1")).to.equal("告警");
    expect(await page.evaluate(() => localStorage.getItem("ledger-console.locale"))).to.equal("zh-CN");
  });

  it("fits a 390 px phone: the header wraps, no page is wider than the screen, in both languages", async function () {
    await page.setViewport(PHONE);
    try {
      for (const locale of ["zh-CN", "en"]) {
        if ((await lang()) !== locale) {
          await page.click("#lang-switch");
          await page.waitForFunction((l) => document.documentElement.lang === l, WAIT, locale);
        }
        for (const route of PAGES) {
          await go(`#/${route}`);
          const fit = await headerFits();
          expect(fit.scrollWidth, `${locale} #/${route}: page width`).to.be.at.most(PHONE.width);
          expect(fit.headerRight, `${locale} #/${route}: header`).to.be.at.most(PHONE.width);
          if (route === "overview" || route === "events") console.log(`      screenshot: ${await screenshot(page, `${locale}-phone-${route}`)}`);
        }
      }
      expect(await page.$eval("#lang-switch", (e) => e.checkVisibility())).to.equal(true);
      expect(await page.$eval("#sign-out", (e) => e.checkVisibility())).to.equal(true);
    } finally {
      await page.setViewport(LAPTOP_VIEWPORT);
      if ((await lang()) !== "zh-CN") await page.click("#lang-switch");
    }
  });

  it("leaves no English on any page in zh-CN", async function () {
    const left: string[] = [];
    for (const route of PAGES) {
      await go(`#/${route}`);
      if (route.startsWith("verify")) await page.waitForSelector("#download-receipt", WAIT);
      left.push(...(await englishLeft()).map((w) => `#/${route}: ${w}`));
    }
    expect(left).to.deep.equal([]);
  });
});
