// Small hand-drawn SVG charts (no library, no CDN): horizontal bars, grouped or stacked.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

export const PALETTE = ["#1d5fa8", "#1b7f3b", "#b42318", "#9aa5b1", "#f5b700", "#6941c6", "#0e9384"];

function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// rows: [{label, values: [number|null, ...]}]; series: [{name, color}].
// stacked: bars of a row add up; otherwise one thin bar per series.
// max: a fixed top of the scale (1 for rates); floor: the smallest top, so that tiny values
// (a handling time of minutes) are not drawn as full bars.
export function barChart({ id, title, rows, series, stacked = false, max = null, floor = 1, format = String }) {
  const width = 420;
  const labelWidth = 120;
  const valueWidth = 64;
  const barArea = width - labelWidth - valueWidth;
  const band = stacked ? 22 : 10 * series.length + 8;
  const height = Math.max(rows.length, 1) * (band + 8) + 8;
  const total = (row) => row.values.reduce((a, v) => a + (v || 0), 0);
  const top = max ?? Math.max(floor, ...rows.map((r) => (stacked ? total(r) : Math.max(0, ...r.values.map((v) => v || 0)))));
  const scale = (v) => (Math.max(0, v || 0) / top) * barArea;

  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.appendChild(s("line", { class: "axis", x1: labelWidth, x2: labelWidth, y1: 0, y2: height }));
  rows.forEach((row, i) => {
    const y = 8 + i * (band + 8);
    const label = row.label.length > 10 ? `${row.label.slice(0, 9)}…` : row.label;
    svg.appendChild(s("text", { x: labelWidth - 6, y: y + band / 2 + 4, "text-anchor": "end" }, s("title", {}, row.label), label));
    let x = labelWidth;
    row.values.forEach((value, j) => {
      const w = scale(value);
      const bar = stacked
        ? s("rect", { x, y, width: w, height: band, fill: series[j].color })
        : s("rect", { x: labelWidth, y: y + j * 10, width: w, height: 8, fill: series[j].color });
      bar.appendChild(s("title", {}, `${row.label} · ${series[j].name}：${value === null ? "—" : format(value)}`));
      svg.appendChild(bar);
      if (stacked) x += w;
    });
    const shown = stacked ? format(total(row)) : row.values.map((v) => (v === null ? "—" : format(v))).join(" / ");
    const end = stacked ? x : labelWidth + Math.max(...row.values.map(scale));
    svg.appendChild(s("text", { x: end + 4, y: y + band / 2 + 4 }, shown));
  });
  return h(
    "figure",
    { class: "chart card", id },
    h("h3", {}, title),
    svg,
    series.length > 1 || stacked
      ? h("div", { class: "legend" }, series.map((ser) => h("span", {}, h("i", { style: `background:${ser.color}` }), ser.name)))
      : null,
  );
}
