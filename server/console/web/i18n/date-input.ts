/**
 * Date and time typed as text in the locale's own order (zh-CN 2026/12/03 09:30,
 * en 12/03/2026, 09:30). A datetime-local input would show the browser's UI
 * locale instead of the page's, so a zh-CN page in an English Chromium showed
 * mm/dd/yyyy. The order and separators come from Intl.DateTimeFormat, so they
 * are the locale's, and ISO 8601 (2026-12-03 09:30) is accepted in any locale.
 */
import { activeLocale, t } from "./i18n";

const PARTS: Intl.DateTimeFormatOptions = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
type Field = "year" | "month" | "day" | "hour" | "minute";
const FIELDS = new Set<string>(["year", "month", "day", "hour", "minute"]);
const ISO = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2}))?\s*$/;

/** The locale's parts in order: fields and the literal text between them. */
function layout(): { type: string; value: string }[] {
  return new Intl.DateTimeFormat(activeLocale(), PARTS).formatToParts(new Date(2026, 11, 3, 9, 30)).filter((p) => FIELDS.has(p.type) || p.type === "literal");
}

/** The format as shown to the user, e.g. "yyyy/mm/dd hh:mm" or "年/月/日 时:分". */
export function dateInputFormat(): string {
  const token: Record<Field, string> = { year: t("dateFormat.year"), month: t("dateFormat.month"), day: t("dateFormat.day"), hour: t("dateFormat.hour"), minute: t("dateFormat.minute") };
  return layout().map((p) => (FIELDS.has(p.type) ? token[p.type as Field] : p.value)).join("");
}

/** An example in the format: 3 December of this year, 09:30. */
export function dateInputExample(): string {
  return new Intl.DateTimeFormat(activeLocale(), PARTS).format(new Date(new Date().getFullYear(), 11, 3, 9, 30));
}

/** An RFC 3339 time → the input's text, in local time. */
export function toDateInput(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : new Intl.DateTimeFormat(activeLocale(), PARTS).format(date);
}

/**
 * The input's text (local time) → RFC 3339 in UTC: undefined when empty,
 * null when it is not a date in the locale's format or ISO 8601. A day without
 * a time is its start, or with `endOfDay` its last minute (an "until" filter
 * includes the day it names).
 */
export function fromDateInput(text: string, endOfDay = false): string | undefined | null {
  if (text.trim() === "") return undefined;
  const fields = matchLocale(text) ?? matchIso(text);
  if (!fields) return null;
  const { year, month, day, hour = endOfDay ? 23 : 0, minute = endOfDay ? 59 : 0 } = fields;
  const date = new Date(year, month - 1, day, hour, minute);
  // Reject 2026/02/31 and 25:00 rather than rolling them over.
  if (date.getFullYear() !== year || date.getMonth() !== month - 1 || date.getDate() !== day || date.getHours() !== hour || date.getMinutes() !== minute) return null;
  return date.toISOString();
}

type Fields = { year: number; month: number; day: number; hour?: number; minute?: number };

function matchIso(text: string): Fields | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), ...(m[4] ? { hour: Number(m[4]), minute: Number(m[5]) } : {}) };
}

/** The locale's layout as a regular expression; the time part (after the last date field) is optional. */
function matchLocale(text: string): Fields | undefined {
  const parts = layout();
  const lastDate = Math.max(...["year", "month", "day"].map((f) => parts.findIndex((p) => p.type === f)));
  const order: Field[] = [];
  const source = (list: typeof parts) =>
    list
      .map((p) => {
        if (!FIELDS.has(p.type)) return p.value.trim() === "" ? "\\s+" : `\\s*${escape(p.value.trim())}\\s*`;
        order.push(p.type as Field);
        return p.type === "year" ? "(\\d{4})" : "(\\d{1,2})";
      })
      .join("");
  const date = source(parts.slice(0, lastDate + 1));
  const time = source(parts.slice(lastDate + 1));
  const m = new RegExp(`^\\s*${date}(?:${time})?\\s*$`).exec(text);
  if (!m) return undefined;
  const values: Partial<Record<Field, number>> = {};
  order.forEach((field, i) => {
    if (m[i + 1] !== undefined) values[field] = Number(m[i + 1]);
  });
  return values.year === undefined || values.month === undefined || values.day === undefined ? undefined : (values as Fields);
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
