/**
 * The console's message catalogue (server/console/web/i18n): every key in both
 * languages with the same placeholders, counted messages in pairs, no English
 * left in the Chinese catalogue; the lookup, plural and part functions; the
 * language chosen from the browser's list; and the date filter's text format
 * read and written in each locale.
 */
import { expect } from "chai";
import { en, zhCN, type MessageKey } from "../../server/console/web/i18n/messages";
import { formatDay, formatNumber, formatTime, localeFor, placeholders, t, tEnum, tp, tParts, useLocale } from "../../server/console/web/i18n/i18n";
import { dateInputFormat, fromDateInput, toDateInput } from "../../server/console/web/i18n/date-input";
import { LEVELS } from "../../server/domain/divisions";
import { EVENT_TYPES } from "../../server/domain/event-schema";
import { SEVERITIES } from "../../server/alerts/policy";
import { ALERT_KINDS } from "../../server/console/web/alert-kinds";
import { ROLES } from "../../server/auth/key-store";

/** Words that stay as they are in Chinese: standards, formats and names of things. */
const ALLOWED_ASCII = new Set(["Merkle", "rootAt"]);
/** Words of a message that would be English to a reader: not codes (upper case, digits, ids) and not allowed names. */
const englishWords = (text: string) =>
  text
    .split(/[^\x21-\x7e]+/)
    .map((w) => w.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, ""))
    .filter((w) => /[A-Za-z]{2}/.test(w) && !/[0-9:._/@#]/.test(w) && !/^[A-Z0-9_-]+$/.test(w) && !ALLOWED_ASCII.has(w));

describe("console: the message catalogue (zh-CN and en)", function () {
  afterEach(() => useLocale("en"));

  it("has every key in both languages, none empty, with the same placeholders", function () {
    const enKeys = Object.keys(en).sort();
    expect(Object.keys(zhCN).sort(), "keys of zhCN").to.deep.equal(enKeys);
    const differ: string[] = [];
    for (const key of enKeys as MessageKey[]) {
      if (!en[key].trim() || !zhCN[key].trim()) differ.push(`${key}: empty`);
      const want = placeholders(en[key]).sort();
      const got = placeholders(zhCN[key]).sort();
      if (JSON.stringify(want) !== JSON.stringify(got)) differ.push(`${key}: en has {${want.join("}, {")}}, zh-CN has {${got.join("}, {")}}`);
    }
    expect(differ).to.deep.equal([]);
  });

  it("fails when a key lacks a translation or a placeholder differs (the check above, on a broken copy)", function () {
    const broken: Record<string, string> = { ...zhCN, "events.summary.one": "本页共 {n} 个事件" };
    delete broken["audit.title"];
    const problems = (Object.keys(en) as MessageKey[]).filter((k) => broken[k] === undefined || JSON.stringify(placeholders(en[k]).sort()) !== JSON.stringify(placeholders(broken[k]!).sort()));
    expect(problems).to.deep.equal(["events.summary.one", "audit.title"]);
  });

  it("has counted messages in .one/.other pairs", function () {
    for (const key of Object.keys(en)) {
      if (key.endsWith(".one")) expect(en, key).to.have.property(key.replace(/\.one$/, ".other"));
      if (key.endsWith(".other")) expect(en, key).to.have.property(key.replace(/\.other$/, ".one"));
    }
  });

  it("leaves no English in the Chinese catalogue (outside standards and examples)", function () {
    const english: string[] = [];
    for (const [key, message] of Object.entries(zhCN)) {
      const text = message.replace(/\{[A-Za-z0-9_]+\}/g, "");
      // The switch names English in English, on purpose.
      if (key !== "lang.switch" && key !== "lang.switchLabel") for (const word of englishWords(text)) english.push(`${key}: ${word}`);
      if (!/[\u4e00-\u9fff]/.test(text) && !["lang.switch", "lang.switchLabel", "events.groupLabel", "events.orgOption", "audit.percent", "audit.leafRangeValue", "duration.underSecond", "pager.newest", "pager.newer", "pager.older"].includes(key)) {
        if (text.replace(/[\s\p{P}\p{S}\d]/gu, "") !== "") english.push(`${key}: no Chinese in “${message}”`);
      }
    }
    expect(english).to.deep.equal([]);
  });

  it("names every role, administrative level, event type, severity and alert kind in both languages", function () {
    const groups: [string, readonly string[]][] = [["role", ROLES], ["level", LEVELS], ["eventType", EVENT_TYPES], ["severity", SEVERITIES], ["alertKind", ALERT_KINDS]];
    for (const [group, values] of groups) for (const value of values) expect(en, `${group}.${value}`).to.have.property(`${group}.${value}`);
    useLocale("zh-CN");
    expect(LEVELS.map((l) => tEnum("level", l))).to.deep.equal(["省", "市", "县", "乡镇/街道", "村/社区", "网格"]);
    expect(tEnum("role", "regulator")).to.equal("监管机构");
    expect(tEnum("level", "no-such-level")).to.equal("no-such-level");
  });

  it("fills placeholders, numbers in the locale's format, and picks the plural form", function () {
    expect(t("audit.checked", { processed: 1234, total: 5000, percent: 24 })).to.equal("1,234 of 5,000 leaf positions checked (24%).");
    expect(tp("events.summary", { count: 1 })).to.equal("1 event on this page, newest first.");
    expect(tp("events.summary", { count: 3 })).to.equal("3 events on this page, newest first.");
    useLocale("zh-CN");
    expect(t("audit.checked", { processed: 1234, total: 5000, percent: 24 })).to.equal("已校验 1,234 / 5,000 个叶子位置（24%）。");
    expect(tp("events.summary", { count: 1 })).to.equal("本页共 1 个事件，按时间由新到旧排列。");
    const link = { node: "link" };
    expect(tParts("verify.loaded", { index: 6, save: link })).to.deep.equal(["已从网关载入事件 6 的回执。", link, "，以便日后脱离网关进行验证。"]);
  });

  it("formats dates and numbers with Intl for the chosen locale", function () {
    useLocale("zh-CN");
    expect(formatNumber(1234567.5)).to.equal("1,234,567.5");
    expect(formatDay("2026-12-03")).to.equal("2026/12/03");
    expect(formatTime("2026-12-03T01:02:03Z")).to.match(/^2026\/12\/0[23] \d\d:\d\d:03$/);
    useLocale("en");
    expect(formatDay("2026-12-03")).to.equal("12/03/2026");
  });

  it("chooses zh-CN for any zh-* first language, else English", function () {
    expect(localeFor(["zh-CN", "en"])).to.equal("zh-CN");
    expect(localeFor(["zh-TW"])).to.equal("zh-CN");
    expect(localeFor(["zh"])).to.equal("zh-CN");
    expect(localeFor(["en-US", "zh-CN"])).to.equal("en");
    expect(localeFor(["de-DE"])).to.equal("en");
    expect(localeFor([])).to.equal("en");
  });

  it("reads and writes the date filter in the locale's order, ISO 8601 in either, and refuses what is not a date", function () {
    useLocale("zh-CN");
    expect(dateInputFormat()).to.equal("年/月/日 时:分");
    const local = new Date(2026, 11, 3, 9, 30).toISOString();
    expect(toDateInput(local)).to.equal("2026/12/03 09:30");
    expect(fromDateInput("2026/12/03 09:30")).to.equal(local);
    expect(fromDateInput("2026/12/3")).to.equal(new Date(2026, 11, 3).toISOString());
    expect(fromDateInput("2026/12/3", true)).to.equal(new Date(2026, 11, 3, 23, 59).toISOString());
    expect(fromDateInput("2026-12-03 09:30")).to.equal(local);
    for (const bad of ["12/03/2026", "2026/02/31", "2026/12/03 25:00", "tomorrow"]) expect(fromDateInput(bad), bad).to.equal(null);
    expect(fromDateInput("  ")).to.equal(undefined);
    useLocale("en");
    expect(dateInputFormat()).to.equal("mm/dd/yyyy, hh:mm");
    expect(toDateInput(local)).to.equal("12/03/2026, 09:30");
    expect(fromDateInput("12/03/2026, 09:30")).to.equal(local);
    expect(fromDateInput("12/03/2026")).to.equal(new Date(2026, 11, 3).toISOString());
    expect(fromDateInput("2026/12/03")).to.equal(null);
  });
});
