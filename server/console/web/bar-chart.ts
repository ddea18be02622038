/**
 * Events per day as an SVG bar chart, with the numbers also as a table (for
 * screen readers and for anyone who wants the figures).
 */
import { h, s } from "./dom";
import { formatDay, formatNumber, t } from "./i18n/i18n";

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
    { viewBox: `0 0 ${width} ${height}`, class: "bar-chart", role: "img", "aria-label": t("chart.label", { caption, total, days: days.length }) },
    ticks.map((v) => {
      const y = top + plotHeight - (v / max) * plotHeight;
      return [
        s("line", { x1: left, x2: width, y1: y, y2: y, class: "grid-line" }),
        s("text", { x: left - 6, y: y + 4, class: "axis-label", "text-anchor": "end" }, formatNumber(v)),
      ];
    }),
    days.map((d, i) => {
      const barHeight = (d.count / max) * plotHeight;
      const x = left + i * slot + slot * 0.15;
      return s(
        "rect",
        { x, y: top + plotHeight - barHeight, width: Math.max(1, slot * 0.7), height: Math.max(d.count > 0 ? 1 : 0, barHeight), class: "bar" },
        s("title", {}, t("chart.bar", { day: formatDay(d.day), count: d.count })),
      );
    }),
    days.map((d, i) =>
      i % Math.ceil(days.length / 6) === 0 || i === days.length - 1
        ? s("text", { x: left + i * slot + slot / 2, y: height - 6, class: "axis-label", "text-anchor": "middle" }, formatDay(d.day, true))
        : null,
    ),
  );
  const table = h(
    "details",
    { class: "chart-table" },
    h("summary", {}, t("chart.showFigures")),
    h("table", {}, h("caption", {}, caption), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("chart.day")), h("th", { scope: "col" }, t("chart.events")))), h("tbody", {}, days.filter((d) => d.count > 0).map((d) => h("tr", {}, h("td", {}, formatDay(d.day)), h("td", { class: "num" }, formatNumber(d.count)))))),
  );
  return h("figure", { class: "chart" }, svg, h("figcaption", {}, t("chart.total", { caption, total })), table);
}
