/**
 * A few DOM helpers. Text always goes in as text nodes: the console never
 * parses strings as HTML (its CSP enforces Trusted Types, so it could not).
 */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttributeValue = string | number | boolean | null | undefined | ((event: any) => void);
export type Attributes = Record<string, AttributeValue>;

function apply(element: Element, attributes: Attributes | undefined): void {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "style") throw new Error("set styles through classes; the CSP forbids style attributes");
    else element.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
  }
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

/** An HTML element: `h("a", { href: "#/x", onclick: f }, "text", child)`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes?: Attributes, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  apply(element, attributes);
  append(element, children);
  return element;
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attributes?: Attributes, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  apply(element, attributes);
  append(element, children);
  return element;
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A definition list from label → value pairs (values may be nodes). */
export function facts(pairs: [string, Child][], className = "facts"): HTMLDListElement {
  return h("dl", { class: className }, pairs.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
}

/** A hash or address, shortened for display with the full value as its title and accessible name. */
export function hash(value: string | undefined | null, keep = 10): Child {
  if (!value) return "—";
  if (value.length <= keep * 2 + 3) return h("code", { translate: "no" }, value);
  return h("code", { title: value, "aria-label": value, class: "hash", translate: "no" }, `${value.slice(0, keep)}…${value.slice(-6)}`);
}

/** A notice in a page: info, error or success. */
export function notice(kind: "info" | "error" | "success" | "warning", ...children: Child[]): HTMLElement {
  return h("p", { class: `notice notice-${kind}`, ...(kind === "error" ? { role: "alert" } : {}) }, children);
}

/** Dates, durations and numbers are formatted for the console's locale (i18n/i18n.ts). */
export { formatDuration, formatNumber, formatTime } from "./i18n/i18n";

/**
 * Text from the gateway or its data (error messages, policy descriptions, names,
 * ids) as it came, marked `translate="no"`: it is not the console's own wording,
 * so it is not in the message catalogue, and the zh-CN test's English scan skips it.
 */
export function verbatim(text: string | number | undefined | null, tag: "span" | "code" = "span"): HTMLElement {
  return h(tag, { translate: "no", class: "verbatim" }, text === undefined || text === null || text === "" ? "—" : String(text));
}
