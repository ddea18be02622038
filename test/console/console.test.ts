/**
 * The web console in a real headless Chromium (the one inside @sparticuz/chromium,
 * driven by puppeteer-core) against a real gateway: Anvil, LevelDB, HTTP.
 *
 * When a regulator signs in, then the overview shows the latest checkpoint and
 * its transaction; filtering events by type and organisation lists only matching
 * events; an event's receipt verifies in the page in three green steps, and a
 * tampered or forged one fails at the right step with its reason; the alerts page
 * shows the negative-list violation and the warning; the audit page runs an
 * audit (when the gateway offers the audit API); and a regulator of another
 * county sees none of it. Screenshots of each page go to test-output/console/.
 */
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import {
  clone,
  independentLeafHash,
  makeEvent,
  makeTempDir,
  removeDir,
  startTestGateway,
  stopAndRemove,
  waitFor,
  waitForReceipt,
  type EventOverrides,
  type TestGateway,
} from "../support/gateway-harness";
import { readRecord, withDb, writeRecord } from "../audit/support/ledger-fixture";
import { launchChromium, newPageInLanguage, recordProblems, screenshot, SCREENSHOT_DIR, consoleNavigation } from "./support/browser";

// The callbacks given to page.evaluate/$eval run in the browser. This Node project has no
// DOM typings (they clash with Node's), so the few browser names those callbacks use are declared here.
declare const document: any, location: any, window: any, sessionStorage: any;
type HTMLElement = any;
type HTMLInputElement = any;
type HTMLTextAreaElement = any;
type HTMLProgressElement = any;

const CIVIL = "330102003004:civil-affairs";
const STREET = "330102003000:civil-affairs";
const HEALTH = "330102000000:health";
const INSURER = "330102000000:commercial-insurer";
const GRID = "330102003004-G01:grid-office";
const WAIT = { timeout: 15_000 };

const REGISTRY = {
  divisions: [
    { code: "330000000000", name: "Zhejiang Province" },
    { code: "330100000000", name: "Hangzhou" },
    { code: "330102000000", name: "Shangcheng District" },
    { code: "330102003000", name: "Hubin Street" },
    { code: "330102003004", name: "Dongpo Road Community" },
    { code: "330102003004-G01", name: "Dongpo Road grid 1" },
    { code: "330106000000", name: "Xihu District" },
  ],
  orgs: [
    { id: CIVIL, name: "Dongpo Road residents' committee" },
    { id: STREET, name: "Hubin Street civil affairs office" },
    { id: HEALTH, name: "Shangcheng health commission" },
    { id: INSURER, name: "Commercial insurer (registered partner)" },
    { id: GRID, name: "Grid 1 work station" },
    { id: "330106000000:civil-affairs", name: "Xihu civil affairs bureau" },
  ],
};

const POLICY = {
  version: 1,
  negativeList: [
    {
      id: "NL-ID-COMMERCIAL",
      description: "ID numbers must not be shared with commercial organisations",
      severity: "critical",
      eventTypes: ["share", "export"],
      fields: ["id-number"],
      recipient: { orgs: ["*:commercial-*"] },
    },
    {
      id: "NL-HR-EXPORT-PURPOSE",
      description: "Household registry exports only for statutory purposes",
      severity: "warning",
      eventTypes: ["export"],
      datasets: ["cat:household-registry"],
      purposes: { allowed: ["statutory*"] },
    },
  ],
};

const day = (daysAgo: number, hour = 10) => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - daysAgo, hour - 8)).toISOString();

/** The seeded events, oldest first; their leaf indexes are their positions. */
const SEEDS: EventOverrides[] = [
  { type: "access", actor: { org: CIVIL }, occurredAt: day(6) },
  { type: "collect", actor: { org: CIVIL }, occurredAt: day(5), purpose: "annual household survey" },
  { type: "share", actor: { org: CIVIL }, recipient: { org: HEALTH }, occurredAt: day(4), purpose: "vaccination follow-up" },
  { type: "access", actor: { org: HEALTH }, dataset: "cat:health-records", occurredAt: day(4), fields: ["vaccinations"] },
  { type: "share", actor: { org: HEALTH }, recipient: { org: CIVIL }, dataset: "cat:health-records", occurredAt: day(3), fields: ["disability-status"], purpose: "care allowance" },
  { type: "use", actor: { org: STREET }, dataset: "cat:social-assistance", occurredAt: day(3), purpose: "minimum living allowance review" },
  { type: "share", actor: { org: CIVIL }, recipient: { org: INSURER }, occurredAt: day(2), fields: ["name", "id-number"], purpose: "insurance offer" },
  { type: "export", actor: { org: STREET }, occurredAt: day(1), purpose: "academic research", fields: ["name", "age"] },
  { type: "access", actor: { org: GRID }, occurredAt: day(1), purpose: "door-to-door visit" },
  { type: "share", actor: { org: STREET }, recipient: { org: GRID }, occurredAt: day(0, 9), purpose: "elderly care visits" },
  { type: "access", actor: { org: CIVIL }, occurredAt: day(0, 11) },
  { type: "modify", actor: { org: HEALTH }, dataset: "cat:health-records", occurredAt: day(0, 12), fields: ["address"], purpose: "address correction" },
];
const VIOLATION = 6;
const WARNING = 7;

describe("console: the web console in a real browser", function () {
  this.timeout(60_000);

  let test: TestGateway;
  let filesDir: string;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let otherCountyKey: string;
  let otherCountyKeyId: string;
  let auditMounted: boolean;
  const gatewayEnv = () => ({ CHAIN_PORT: "0", POLICY_FILE: path.join(filesDir, "policy.json"), ORGS_FILE: path.join(filesDir, "orgs.json") });

  before(async function () {
    this.timeout(120_000);
    filesDir = makeTempDir("console-files-");
    writeFileSync(path.join(filesDir, "policy.json"), JSON.stringify(POLICY));
    writeFileSync(path.join(filesDir, "orgs.json"), JSON.stringify(REGISTRY));
    // In English: these assertions read the English console (console-zh.test.ts reads the Chinese one).
    [test, browser] = await Promise.all([startTestGateway({ env: gatewayEnv() }), launchChromium("en-US")]);
    const submitted = await test.api("POST", "/v1/events", { key: test.keys.submitter.key, json: { events: SEEDS.map((s) => makeEvent(s)) } });
    expect(submitted.status, submitted.text).to.equal(201);
    expect(submitted.body.events.map((e: { index: number }) => e.index)).to.deep.equal(SEEDS.map((_, i) => i));
    const other = await test.api("POST", "/v1/keys", { key: test.keys.admin.key, json: { name: "Xihu regulator", role: "regulator", jurisdiction: "330106000000" } });
    expect(other.status, other.text).to.equal(201);
    otherCountyKey = other.body.key;
    otherCountyKeyId = other.body.record.id;
    await waitForReceipt(test.url, test.keys.auditor.key, SEEDS.length - 1);
    await waitFor("the negative-list alerts", async () => {
      const alerts = await test.api("GET", "/v1/alerts?kind=negative-list", { key: test.keys.admin.key });
      return alerts.body?.alerts?.length >= 2 ? true : undefined;
    });
    const audit = await test.api("GET", "/v1/audit/latest", { key: test.keys.admin.key });
    auditMounted = !(audit.status === 404 && /^no route/.test(audit.body?.error?.message ?? ""));

    page = await newPageInLanguage(browser, ["en-US", "en"]);
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

  /**
   * Checks of the drawn page that need no tool: one h1, landmarks, every form
   * control labelled, every button and link named, tables with headers, the
   * chart labelled, and nothing wider than the 1366 px laptop viewport.
   */
  async function expectAccessibleAndFitting(): Promise<void> {
    const found = await page.evaluate(() => {
      const out: string[] = [];
      const main = document.getElementById("main")!;
      if (main.querySelectorAll("h1").length !== 1) out.push(`${main.querySelectorAll("h1").length} h1 elements in main`);
      if (!document.querySelector("header") || !document.querySelector("footer") || !document.querySelector("nav[aria-label]")) out.push("missing landmarks");
      for (const element of document.querySelectorAll("input, select, textarea")) {
        const control = element as HTMLInputElement;
        if (!control.labels?.length && !control.getAttribute("aria-label") && !control.getAttribute("aria-labelledby")) out.push(`unlabelled ${control.tagName.toLowerCase()}#${control.id}`);
      }
      for (const element of document.querySelectorAll("button, a[href]")) {
        if (!(element.textContent ?? "").trim() && !element.getAttribute("aria-label")) out.push(`nameless ${element.tagName.toLowerCase()}`);
      }
      for (const table of document.querySelectorAll("table")) if (!table.querySelector("th[scope]")) out.push("a table without header cells");
      for (const svg of document.querySelectorAll("svg[role=img]")) if (!svg.getAttribute("aria-label")) out.push("an unlabelled chart");
      if (document.documentElement.scrollWidth > window.innerWidth) out.push(`page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
      return out;
    });
    expect(found, "accessibility and fit").to.deep.equal([]);
  }

  async function signIn(key: string): Promise<void> {
    await page.goto(`${test.url}/console/`, { waitUntil: "load" });
    await page.waitForSelector("#api-key", WAIT);
    // By keyboard: the field has focus on arrival, Enter submits.
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("api-key");
    await page.keyboard.type(key);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#nav:not([hidden])", WAIT);
    await settled("#/overview");
  }

  it("serves the console with a strict CSP, and refuses a wrong key at sign-in", async function () {
    const response = await page.goto(`${test.url}/console`, { waitUntil: "load" });
    const csp = response!.headers()["content-security-policy"]!;
    expect(csp).to.include("script-src 'self'").and.include("require-trusted-types-for 'script'").and.not.include("unsafe-inline");
    await page.waitForSelector("#api-key", WAIT);
    expect(await page.$eval("label[for=api-key]", (e) => e.textContent)).to.equal("API key");
    expect(await page.$eval("#sign-out", (e) => e.checkVisibility())).to.equal(false);
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "sign-in")}`);
    await page.type("#api-key", "pl_000000000000_not-a-real-key");
    await page.click("#sign-in-button");
    await page.waitForSelector("#sign-in-error .notice-error", WAIT);
    expect(await text("#sign-in-error")).to.match(/did not accept this key/);
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
  });

  it("signs in with the regulator's key and shows the overview: latest checkpoint, its transaction, chart, alerts", async function () {
    await signIn(test.keys.regulator.key);
    expect(page.url()).to.match(/#\/overview$/);
    const latest = (await test.api("GET", "/v1/checkpoints/latest", { key: test.keys.regulator.key })).body;
    expect(await page.$("[data-section=checkpoint] .facts")).to.not.equal(null);
    const checkpoint = await page.$eval("[data-section=checkpoint]", (e) => [(e as HTMLElement).innerText, ...Array.from(e.querySelectorAll("[title]"), (t: any) => t.getAttribute("title"))].join("\n"));
    expect(checkpoint).to.include(latest.txHash).and.include(latest.rootHash).and.include(String(latest.blockNumber));
    expect(await page.$$eval("[data-section=chart] rect.bar", (bars) => bars.filter((b) => Number(b.getAttribute("height")) > 0).length)).to.be.at.least(6);
    expect(await text("[data-section=alerts]")).to.include("NL-ID-COMMERCIAL");
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "overview")}`);
  });

  it("filters events by type and organisation, listing only matching events, each with its receipt", async function () {
    await go("#/events");
    expect(await page.$$eval("#event-table tbody tr", (rows) => rows.length)).to.equal(SEEDS.length);
    // The organisation tree offers every level, down to the grid.
    const levels = await page.$$eval("#f-org optgroup", (groups) => groups.map((g) => (g as HTMLElement).dataset.level));
    expect(levels).to.deep.equal(["province", "city", "county", "township", "village", "grid", "county"]);
    // Pages of five, newest first; older and back to newer.
    const indexes = () => page.$$eval("#event-table tbody tr", (rows) => rows.map((r) => Number((r as HTMLElement).dataset.index)));
    await go("#/events?limit=5");
    expect(await indexes()).to.deep.equal([11, 10, 9, 8, 7]);
    await page.click(".pager a[rel=next]");
    await settled("cursor=7");
    expect(await indexes()).to.deep.equal([6, 5, 4, 3, 2]);
    await page.click(".pager a[rel=next]");
    await settled("cursor=2");
    expect(await indexes()).to.deep.equal([1, 0]);
    expect(await page.$(".pager a[rel=next]")).to.equal(null);
    await page.click(".pager a[rel=prev]");
    await settled("cursor=7");
    expect(await indexes()).to.deep.equal([6, 5, 4, 3, 2]);

    await page.select("#f-type", "share");
    await page.select("#f-org", `org:${CIVIL}`);
    await page.click("#apply-filters");
    await settled("type=share");
    const rows = await page.$$eval("#event-table tbody tr", (trs) =>
      trs.map((tr) => ({ index: Number((tr as HTMLElement).dataset.index), type: (tr as HTMLElement).dataset.type, orgs: Array.from(tr.querySelectorAll("[data-org]"), (td: any) => td.getAttribute("data-org") as string) })),
    );
    const expected = SEEDS.map((s, i) => ({ s, i })).filter(({ s }) => s.type === "share" && (s.actor?.org === CIVIL || (s.recipient as { org?: string } | undefined)?.org === CIVIL)).map(({ i }) => i);
    expect(rows.map((r) => r.index).sort((a, b) => a - b)).to.deep.equal(expected);
    for (const row of rows) {
      expect(row.type).to.equal("share");
      expect(row.orgs).to.include(CIVIL);
    }
    expect(await text("#event-summary")).to.match(/^3 events on this page/);
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "events")}`);
  });

  it("opens an event's receipt and verifies it in the page: leaf hash, inclusion proof, root on chain", async function () {
    await page.click(`#event-table tbody tr[data-index="${VIOLATION}"] a[href^="#/verify"]`);
    await settled(`#/verify?index=${VIOLATION}`);
    await page.waitForSelector("#download-receipt", WAIT);
    await page.waitForFunction(() => (document.getElementById("rpc-url") as HTMLInputElement).value !== "", WAIT);
    expect(await page.$eval("#rpc-url", (e) => (e as HTMLInputElement).value)).to.equal(test.gateway.chain.rpcUrl);
    const receipt = JSON.parse(await page.$eval("#receipt-text", (e) => (e as HTMLTextAreaElement).value));
    expect(receipt.entry.index).to.equal(VIOLATION);
    await page.click("#verify-button");
    await page.waitForSelector("#verdict", WAIT);
    expect(await page.$$eval("#verify-steps li", (lis) => lis.map((li) => (li as HTMLElement).dataset.state))).to.deep.equal(["pass", "pass", "pass", "pass"]);
    expect(await text("#verdict")).to.match(/Valid receipt/);
    expect(await text("#step-log")).to.include(receipt.log.id).and.include(receipt.log.contract);
    expect(await text("#trust-source")).to.include("this gateway's own log list");
    expect(await text("#step-leaf")).to.include(receipt.entry.leafHash);
    expect(await text("#step-chain")).to.include(receipt.log.contract).and.include(receipt.checkpoint.rootHash);
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "verify-pass")}`);
  });

  it("a tampered receipt fails with its reason: altered envelope, altered proof, forged checkpoint", async function () {
    const original = JSON.parse(await page.$eval("#receipt-text", (e) => (e as HTMLTextAreaElement).value));
    const verify = async (receipt: unknown) => {
      await page.$eval("#receipt-text", (e, value) => {
        (e as HTMLTextAreaElement).value = value;
        e.dispatchEvent(new Event("input", { bubbles: true }));
      }, JSON.stringify(receipt, null, 2));
      await page.waitForFunction(() => !document.getElementById("verdict"), WAIT);
      await page.click("#verify-button");
      await page.waitForSelector("#verdict", WAIT);
      return {
        states: await page.$$eval("#verify-steps li", (lis) => lis.map((li) => (li as HTMLElement).dataset.state)),
        verdict: await text("#verdict"),
      };
    };

    // One character of the envelope: the leaf hash no longer matches.
    const envelope = clone(original);
    envelope.entry.envelope.event.purpose = "insurance offes";
    const altered = await verify(envelope);
    expect(altered.states).to.deep.equal(["pass", "fail", "skipped", "skipped"]);
    expect(altered.verdict).to.match(/Not valid/).and.include("LEAF_HASH_MISMATCH").and.match(/leaf hash of the envelope is 0x[0-9a-f]{64}, the receipt says/);
    console.log(`      screenshot: ${await screenshot(page, "verify-fail")}`);

    // One byte of the proof: the proof leads elsewhere.
    const proof = clone(original);
    const first: string = proof.inclusionProof[0];
    proof.inclusionProof[0] = first.slice(0, 10) + (first[10] === "0" ? "1" : "0") + first.slice(11);
    const badProof = await verify(proof);
    expect(badProof.states).to.deep.equal(["pass", "pass", "fail", "skipped"]);
    expect(badProof.verdict).to.include("INCLUSION_PROOF_INVALID").and.match(/inclusion proof leads to root/);

    // A self-consistent forgery (its own one-leaf "tree"), dropped in as a file: only the chain can tell.
    const forged = clone(original);
    forged.entry.index = 0;
    forged.entry.envelope.index = 0;
    forged.entry.envelope.event.purpose = "nothing to see";
    forged.entry.leafHash = independentLeafHash(forged.entry.envelope);
    forged.checkpoint.treeSize = 1;
    forged.checkpoint.rootHash = forged.entry.leafHash;
    forged.inclusionProof = [];
    const file = path.join(filesDir, "forged-receipt.json");
    writeFileSync(file, JSON.stringify(forged));
    const input = await page.$("#receipt-file");
    await (input as any).uploadFile(file);
    await page.waitForFunction(() => (document.getElementById("receipt-source") as HTMLElement).innerText.includes("forged-receipt.json"), WAIT);
    await page.click("#verify-button");
    await page.waitForSelector("#verdict", WAIT);
    expect(await page.$$eval("#verify-steps li", (lis) => lis.map((li) => (li as HTMLElement).dataset.state))).to.deep.equal(["pass", "pass", "pass", "fail"]);
    expect(await text("#verdict")).to.match(/ROOT_NOT_ANCHORED|ROOT_MISMATCH/);
  });

  it("the alerts page shows the negative-list violation and the warning, and acknowledges one", async function () {
    await go("#/alerts");
    const alerts = await page.$$eval("#alert-table tbody tr", (trs) => trs.map((tr) => ({ kind: (tr as HTMLElement).dataset.kind, text: (tr as HTMLElement).innerText })));
    const violation = alerts.find((a) => a.text.includes("NL-ID-COMMERCIAL"));
    expect(violation, JSON.stringify(alerts)).to.not.equal(undefined);
    expect(violation!.kind).to.equal("negative-list");
    expect(violation!.text).to.include("critical").and.include(String(VIOLATION));
    const warning = alerts.find((a) => a.text.includes("NL-HR-EXPORT-PURPOSE"));
    expect(warning!.text).to.include("warning").and.include(String(WARNING));
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "alerts")}`);

    const ackButton = await page.waitForSelector(`#alert-table tbody tr:has(a[href="#/verify?index=${WARNING}"]) button`, WAIT);
    await ackButton!.click();
    await page.waitForFunction((i) => document.querySelector(`#alert-table tbody tr:has(a[href="#/verify?index=${i}"])`)?.classList.contains("acknowledged"), WAIT, WARNING);
    await page.select("#a-acknowledged", "false");
    await page.click("#alert-filters button[type=submit]");
    await settled("acknowledged=false");
    const open = await page.$$eval("#alert-table tbody tr", (trs) => trs.map((tr) => (tr as HTMLElement).innerText));
    expect(open.some((t) => t.includes("NL-ID-COMMERCIAL"))).to.equal(true);
    expect(open.some((t) => t.includes("NL-HR-EXPORT-PURPOSE"))).to.equal(false);
  });

  it("the audit page runs a full audit to completion (or says the gateway offers none)", async function () {
    await go("#/audit");
    if (!auditMounted) {
      await page.waitForSelector("#audit-progress .notice-error", WAIT);
      expect(await text("#audit-progress")).to.match(/does not offer audits/);
      console.log(`      screenshot: ${await screenshot(page, "audit")} (the audit API is not mounted in this gateway)`);
      return;
    }
    await page.waitForSelector("#start-audit:not([disabled])", WAIT);
    await page.click("#start-audit");
    await page.waitForFunction(() => document.getElementById("audit-state")?.textContent === "Finished", { timeout: 30_000 });
    await page.waitForSelector("#audit-verdict", WAIT);
    expect(await text("#audit-verdict")).to.match(/No divergence/);
    expect(await page.$eval("#audit-bar", (e) => (e as HTMLProgressElement).value)).to.equal(100);
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "audit")}`);
  });

  it("signs out, and a regulator of another county sees none of these events or alerts", async function () {
    await page.click("#sign-out");
    await page.waitForSelector("#api-key", WAIT);
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
    expect(await page.$eval("#nav", (e) => e.checkVisibility())).to.equal(false);
    expect(await page.$eval("#sign-out", (e) => e.checkVisibility())).to.equal(false);

    await page.type("#api-key", otherCountyKey);
    await page.click("#sign-in-button");
    await page.waitForSelector("#nav:not([hidden])", WAIT);
    await go("#/events");
    expect(await text("#event-summary")).to.equal("No events match these filters.");
    expect(await page.$("#event-table")).to.equal(null);
    await go(`#/verify?index=${VIOLATION}`);
    expect(await text("#receipt-source")).to.match(/Could not load the receipt of event 6: no event 6 visible to this key/);
    await go("#/alerts");
    expect(await text("#alert-summary")).to.equal("No alerts match.");
    await go("#/overview");
    expect(await text("[data-section=chart] figcaption")).to.match(/— 0 in total$/);

    // A key revoked while signed in: the next call signs out, saying why.
    const revoked = await test.api("DELETE", `/v1/keys/${otherCountyKeyId}`, { key: test.keys.admin.key });
    expect(revoked.status, revoked.text).to.equal(200);
    await page.evaluate(() => (location.hash = "#/events"));
    await page.waitForSelector("#sign-in-error .notice-error", WAIT);
    expect(await text("#sign-in-error")).to.match(/no longer accepts this key/);
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
  });

  it("when the chain lost a confirmed checkpoint, the audit page says which, and that its receipts do not verify", async function () {
    if (!auditMounted) this.skip();
    const anchorer = test.gateway.anchorer;
    const latest = (await anchorer.checkpoints.latest())!;
    const served = await waitForReceipt(test.url, test.keys.auditor.key, latest.treeSize - 1);
    // Anchoring paused, so that the gateway does not anchor it again before the audit looks.
    await anchorer.stop();
    await new JsonRpcProvider(test.gateway.chain.rpcUrl).send("anvil_rollback", [1]);
    await signIn(test.keys.regulator.key);
    await go("#/audit");
    await page.click("#start-audit");
    await page.waitForSelector("#audit-not-anchored", { timeout: 30_000 });
    expect(await text("#audit-verdict")).to.match(/divergences? found/);
    expect(await text("#audit-not-anchored")).to.include(`missing from the chain: ${latest.treeSize.toLocaleString()} leaves`).and.include("do not verify");
    expect(await text(".divergence")).to.include("checkpoint-not-anchored");
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "audit-not-anchored")}`);
    // Anchoring again puts the same checkpoint back.
    await anchorer.start();
    await waitFor("the receipt served before verifies again", async () => {
      const verified = await test.api("POST", "/v1/verify", { key: test.keys.auditor.key, json: served });
      return verified.body.valid === true ? true : undefined;
    }, 20_000);
    const again = await test.api("POST", "/v1/audit", { key: test.keys.admin.key });
    const job = await waitFor("the audit after re-anchoring", async () => {
      const state = (await test.api("GET", `/v1/audit/${again.body.job.id}`, { key: test.keys.admin.key })).body.job;
      return state.state === "running" ? undefined : state;
    });
    expect(job.report.ok, JSON.stringify(job.report.firstDivergence)).to.equal(true);
  });

  it("after a stored event is altered behind the gateway's back, the audit page shows the first divergence", async function () {
    if (!auditMounted) this.skip();
    this.timeout(90_000);
    const altered = 3;
    await test.stop();
    await withDb(test.dataDir, async (_db, records) => {
      const record = JSON.parse(await readRecord(records, altered));
      record.event.purpose = "something else";
      await writeRecord(records, altered, JSON.stringify(record));
    });
    test = await startTestGateway({ dataDir: test.dataDir, env: gatewayEnv() });
    await signIn(test.keys.regulator.key);
    await go("#/audit");
    await page.click("#start-audit");
    // The page first shows the last audit from before the restart (finished, intact); wait for the new verdict.
    await page
      .waitForFunction(() => /divergences? found/.test(document.getElementById("audit-verdict")?.textContent ?? ""), { timeout: 30_000 })
      .catch(() => undefined);
    expect(await text("#audit-verdict")).to.match(/divergences? found/);
    const divergence = await text(".divergence");
    expect(divergence).to.include("leaf-altered").and.match(new RegExp(`Event\\s+${altered}\\b`));
    await expectAccessibleAndFitting();
    console.log(`      screenshot: ${await screenshot(page, "audit-divergence")} (screenshots in ${SCREENSHOT_DIR})`);
  });
});
