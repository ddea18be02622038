/**
 * Looking messages up and formatting numbers and dates in the console's
 * locale. No DOM here (the tests run it under Node); locale-choice.ts chooses
 * the locale in the browser and calls `useLocale` before anything is drawn.
 */
import { en, zhCN, type MessageKey } from "./messages";

export const LOCALES = ["zh-CN", "en"] as const;
export type Locale = (typeof LOCALES)[number];

export const CATALOGUES: Record<Locale, Record<MessageKey, string>> = { "zh-CN": zhCN, en };

let current: Locale = "en";

export function useLocale(locale: Locale): void {
  current = locale;
}

export function activeLocale(): Locale {
  return current;
}

/** zh-* → zh-CN, anything else → en; the first language the user lists decides. */
export function localeFor(languages: readonly string[]): Locale {
  const first = languages.find((l) => l.trim() !== "");
  return first && /^zh\b/i.test(first) ? "zh-CN" : "en";
}

/** The `{name}` placeholders of an English message, as a type: `t()` asks for exactly these. */
type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
type Value = string | number;
type ParamsOf<K extends MessageKey, V = Value> = [Placeholders<(typeof en)[K]>] extends [never] ? [] : [params: Record<Placeholders<(typeof en)[K]>, V>];

/** The placeholder names of a message, in order of appearance (the catalogue test compares them). */
export function placeholders(message: string): string[] {
  return Array.from(message.matchAll(/\{([A-Za-z0-9_]+)\}/g), (m) => m[1]!);
}

function show(value: Value): string {
  return typeof value === "number" ? formatNumber(value) : value;
}

/** The message `key` in the active locale, its placeholders filled (numbers formatted for the locale). */
export function t<K extends MessageKey>(key: K, ...params: ParamsOf<K>): string {
  const values = (params[0] ?? {}) as Record<string, Value>;
  return CATALOGUES[current][key].replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => (name in values ? show(values[name]!) : whole));
}

/** Keys that come as a `.one`/`.other` pair, without the suffix. */
type PluralBase<K> = K extends `${infer Base}.one` ? (`${Base}.other` extends MessageKey ? Base : never) : never;
export type PluralKey = PluralBase<MessageKey>;

/** A counted message: `tp("audit.leaves", { count: 3 })`, its form chosen by Intl.PluralRules. */
export function tp(base: PluralKey, values: { count: number } & Record<string, Value>): string {
  const form = new Intl.PluralRules(current).select(Number(values.count)) === "one" ? "one" : "other";
  return (t as (key: MessageKey, values: Record<string, Value>) => string)(`${base}.${form}` as MessageKey, values);
}

/**
 * A message whose placeholders are filled with nodes (links, code) as well as
 * text: the translated sentence is split around them, so word order is the
 * translation's, not the code's.
 */
export function tParts<K extends MessageKey, N>(key: K, ...params: ParamsOf<K, Value | N>): (string | N)[] {
  const values = (params[0] ?? {}) as Record<string, Value | N>;
  const parts: (string | N)[] = [];
  let at = 0;
  const message = CATALOGUES[current][key];
  for (const match of message.matchAll(/\{([A-Za-z0-9_]+)\}/g)) {
    if (match.index! > at) text(message.slice(at, match.index));
    const value = values[match[1]!];
    if (typeof value === "string" || typeof value === "number") text(show(value));
    else parts.push(value as N);
    at = match.index! + match[0].length;
  }
  if (at < message.length) text(message.slice(at));
  return parts;

  /** Adjacent text in one piece, so a sentence stays one text node. */
  function text(piece: string): void {
    if (typeof parts[parts.length - 1] === "string") parts[parts.length - 1] += piece;
    else parts.push(piece);
  }
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current).format(n);
}

const DATE_TIME: Intl.DateTimeFormatOptions = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };

/** An RFC 3339 time in the locale's format and the browser's time zone; "—" when absent. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(current, DATE_TIME).format(date);
}

/** A calendar day (YYYY-MM-DD, UTC) in the locale's format; `short` leaves the year out. */
export function formatDay(day: string, short = false): string {
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return day;
  return new Intl.DateTimeFormat(current, { ...(short ? {} : { year: "numeric" }), month: "2-digit", day: "2-digit", timeZone: "UTC" }).format(date);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return ms < 0 ? t("duration.underSecond") : t("duration.ms", { ms: Math.round(ms) });
  if (ms < 60_000) return t("duration.s", { s: new Intl.NumberFormat(current, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ms / 1000) });
  if (ms < 3_600_000) return t("duration.min", { min: Math.floor(ms / 60_000), s: Math.round((ms % 60_000) / 1000) });
  return t("duration.h", { h: Math.floor(ms / 3_600_000), min: Math.round((ms % 3_600_000) / 60_000) });
}

/** A message by a key known only at run time (a role, a level, a `data-i18n` attribute), without placeholders. */
export function tKey(key: MessageKey): string {
  return CATALOGUES[current][key];
}

/** The name of a value of an enumeration (`tEnum("level", "county")`), or the value itself when the catalogue has none. */
export function tEnum(group: string, value: string): string {
  const key = `${group}.${value}`;
  return key in en ? tKey(key as MessageKey) : value;
}
