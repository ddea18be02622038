/**
 * Which language the console speaks in this browser: the user's choice from the
 * header switch (kept in localStorage), else the browser's first language
 * (navigator.languages: zh-* → zh-CN, otherwise English). Applying a locale
 * sets `<html lang>` and the static text of index.html (`data-i18n` attributes).
 */
import { LOCALES, localeFor, tKey, useLocale, type Locale } from "./i18n";
import type { MessageKey } from "./messages";

const ITEM = "ledger-console.locale";

export function chosenLocale(): Locale {
  const stored = localStorage.getItem(ITEM);
  if ((LOCALES as readonly string[]).includes(stored ?? "")) return stored as Locale;
  return localeFor(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

export function applyLocale(locale: Locale): void {
  useLocale(locale);
  document.documentElement.lang = locale;
  for (const element of document.querySelectorAll<HTMLElement>("[data-i18n]")) element.textContent = tKey(element.dataset.i18n as MessageKey);
  for (const element of document.querySelectorAll<HTMLElement>("[data-i18n-label]")) element.setAttribute("aria-label", tKey(element.dataset.i18nLabel as MessageKey));
}

/** The user's choice: applied now and remembered for the next visit. */
export function rememberLocale(locale: Locale): void {
  localStorage.setItem(ITEM, locale);
  applyLocale(locale);
}
