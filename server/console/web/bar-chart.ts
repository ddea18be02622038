/**
 * Events per day as an SVG bar chart, with the numbers also as a table (for
 * screen readers and for anyone who wants the figures).
 */
import { h, s } from "./dom";

export interface DayCount {
  day: string;
  count: number;
}

/** Every day from `from` to `to` (YYYY-MM-DD, UTC), with zero for days absent from `byDay`. */
export function fillDays(from: string, to: string, byDay: Record<string, number>): DayCount[] {
  const days: DayCount[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`) && days.length < 400; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    days.push({ day, count: byDay[day] ?? 0 });
  }
  return days;
}

function niceMax(max: number): number {
  if (max <= 4) return Math.max(1, max);
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

export function barChart(days: DayCount[], caption: string): HTMLElement {
  const width = 1200;
  const height = 170;
  const left = 36;
  const bottom = 22;
  const top = 8;
  const plotHeight = height - bottom - top;
  const max = niceMax(Math.max(0, ...days.map((d) => d.count)));
  const slot = (width - left) / Math.max(1, days.length);
  const total = days.reduce((sum, d) => sum + d.count, 0);
  const ticks = [0, max / 2, max].filter((v, i, all) => Number.isInteger(v) && all.indexOf(v) === i);
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "bar-chart", role: "img", "aria-label": `${caption}: ${total.toLocaleString()} events in ${days.length} days; the table below lists each day.` },
    ticks.map((v) => {
      const y = top + plotHeight - (v / max) * plotHeight;
      return [
        s("line", { x1: left, x2: width, y1: y, y2: y, class: "grid-line" }),
        s("text", { x: left - 6, y: y + 4, class: "axis-label", "text-anchor": "end" }, String(v)),
      ];
    }),
    days.map((d, i) => {
      const barHeight = (d.count / max) * plotHeight;
      const x = left + i * slot + slot * 0.15;
      return s(
        "rect",
        { x, y: top + plotHeight - barHeight, width: Math.max(1, slot * 0.7), height: Math.max(d.count > 0 ? 1 : 0, barHeight), class: "bar" },
        s("title", {}, `${d.day}: ${d.count}`),
      );
    }),
    days.map((d, i) =>
      i % Math.ceil(days.length / 6) === 0 || i === days.length - 1
        ? s("text", { x: left + i * slot + slot / 2, y: height - 6, class: "axis-label", "text-anchor": "middle" }, d.day.slice(5))
        : null,
    ),
  );
  const table = h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "Show the figures"),
    h("table", {}, h("caption", {}, caption), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col" }, "Events"))), h("tbody", {}, days.filter((d) => d.count > 0).map((d) => h("tr", {}, h("td", {}, d.day), h("td", { class: "num" }, d.count))))),
  );
  return h("figure", { class: "chart" }, svg, h("figcaption", {}, `${caption} — ${total.toLocaleString()} in total`), table);
}
