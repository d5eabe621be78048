// 办理质效分析: per bundle and per department counts, on-time rate, handling time (median and
// 90th percentile in working days), open and overdue now, escalations and 好差评, as tables
// and hand-drawn SVG charts. Field meanings: onething/reports.py.

import { describe, get } from "../api.js";
import { barChart, PALETTE } from "../charts.js";
import { empty, h, replace, table } from "../dom.js";
import { percent, when } from "../format.js";
import { RATING_LEVELS } from "../labels.js";

const OUTCOMES = [
  { key: "completed", name: "办结", color: PALETTE[1] },
  { key: "rejected", name: "不予通过", color: PALETTE[2] },
  { key: "withdrawn", name: "撤回", color: PALETTE[3] },
  { key: "open_now", name: "在办", color: PALETTE[0] },
];
const RATING_COLORS = ["#1b7f3b", "#5cb85c", "#9aa5b1", "#f0883e", "#b42318"];

const label = (row) => row.name || row.code;
const days = (value) => (value === null || value === undefined ? "—" : value.toFixed(2));

function num(value, attrs = {}) {
  return h("td", { class: "num", ...attrs }, value);
}

function figuresTable(id, rows, unit) {
  const body = rows.map((r) =>
    h(
      "tr",
      { dataset: { code: r.code } },
      h("td", {}, label(r), r.name ? h("div", { class: "sub" }, r.code) : null),
      num(r.submitted, { "data-field": "submitted" }),
      num(r.completed, { "data-field": "completed" }),
      num(r.rejected, { "data-field": "rejected" }),
      num(r.withdrawn, { "data-field": "withdrawn" }),
      num(percent(r.on_time_rate), { "data-field": "on_time_rate" }),
      num(days(r.handling_median_days), { "data-field": "handling_median_days" }),
      num(days(r.handling_p90_days), { "data-field": "handling_p90_days" }),
      num(r.open_now, { "data-field": "open_now" }),
      num(r.overdue_now, { "data-field": "overdue_now", class: r.overdue_now ? "num error" : "num" }),
      num(`${r.escalations_level1} / ${r.escalations_level2}`, { "data-field": "escalations" }),
      num(`${r.bad_ratings}（${r.rectification_done} / ${r.rectification_open} / ${r.rectification_overdue}）`, {
        "data-field": "bad_ratings",
      }),
    ),
  );
  return rows.length
    ? table(
        [unit, "受理", "办结", "不予通过", "撤回", "按时办结率", "用时中位数", "用时90%分位", "在办", "超期", "督办 / 提级", "差评（已整改 / 整改中 / 整改超期）"],
        body,
        { class: "grid", id },
      )
    : empty("所选期间没有办件。");
}

function charts(prefix, rows) {
  if (!rows.length) return null;
  return h(
    "div",
    { class: "charts" },
    barChart({
      id: `${prefix}-outcomes`,
      title: "办件量（按结果）",
      stacked: true,
      series: OUTCOMES,
      rows: rows.map((r) => ({ label: label(r), values: OUTCOMES.map((o) => r[o.key]) })),
    }),
    barChart({
      id: `${prefix}-on-time`,
      title: "按时办结率",
      series: [{ name: "按时办结率", color: PALETTE[1] }],
      max: 1,
      format: percent,
      rows: rows.map((r) => ({ label: label(r), values: [r.on_time_rate] })),
    }),
    barChart({
      id: `${prefix}-handling`,
      title: "办理用时（工作日）：中位数 / 90%分位",
      series: [
        { name: "中位数", color: PALETTE[0] },
        { name: "90%分位", color: PALETTE[4] },
      ],
      format: days,
      rows: rows.map((r) => ({ label: label(r), values: [r.handling_median_days, r.handling_p90_days] })),
    }),
    barChart({
      id: `${prefix}-escalations`,
      title: "超期与督办",
      stacked: true,
      series: [
        { name: "当前超期", color: PALETTE[2] },
        { name: "督办", color: PALETTE[4] },
        { name: "提级办理", color: PALETTE[5] },
      ],
      rows: rows.map((r) => ({ label: label(r), values: [r.overdue_now, r.escalations_level1, r.escalations_level2] })),
    }),
    barChart({
      id: `${prefix}-ratings`,
      title: "好差评分布",
      stacked: true,
      series: RATING_LEVELS.map((name, i) => ({ name, color: RATING_COLORS[i] })),
      rows: rows.map((r) => ({ label: label(r), values: RATING_LEVELS.map((l) => r.ratings[l] || 0) })),
    }),
  );
}

function totals(t) {
  const stat = (id, value, title, kind = "") => h("div", { class: `stat ${kind}` }, h("b", { id }, value), title);
  return h(
    "div",
    { class: "stats", id: "report-total" },
    stat("total-submitted", t.submitted, "受理"),
    stat("total-completed", t.completed, "办结"),
    stat("total-on-time", percent(t.on_time_rate), "按时办结率"),
    stat("total-median", days(t.handling_median_days), "用时中位数（工作日）"),
    stat("total-overdue", t.overdue_now, "当前超期", "overdue"),
    stat("total-escalations", t.escalations_level1 + t.escalations_level2, "督办 / 提级", "escalated"),
    stat("total-bad", t.bad_ratings, "差评", "warning"),
  );
}

export async function renderReports(ctx) {
  const since = h("input", { type: "date", id: "since" });
  const out = h("div", { id: "report" });

  // Only the latest request may fill the page: an earlier, slower answer must not replace it.
  let latest = 0;
  async function load(event) {
    if (event) event.preventDefault();
    const mine = ++latest;
    replace(out, h("p", { class: "hint" }, "统计中…"));
    try {
      const report = await get("/api/reports", { since: since.value });
      if (mine !== latest) return;
      replace(
        out,
        h(
          "p",
          { class: "sub" },
          `统计时间 ${when(report.generated_at)}；`,
          report.since ? `${report.since} 起提交的办件` : "全部办件",
          `；工作日历 ${report.calendar_version}`,
          report.calendar_fallback_used ? "（部分年份无节假日数据，按周一至周五计）" : "",
        ),
        totals(report.total),
        h("h2", {}, "按一件事"),
        figuresTable("report-bundles", report.bundles, "一件事"),
        charts("bundles", report.bundles),
        h("h2", {}, "按部门"),
        figuresTable("report-departments", report.departments, "部门"),
        charts("departments", report.departments),
      );
    } catch (err) {
      if (mine !== latest) return;
      replace(out, h("p", { class: "error", role: "alert" }, describe(err)));
    }
  }

  replace(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", {}, "办理质效分析")),
    h(
      "form",
      { class: "inline", id: "report-form", onsubmit: load },
      h("label", {}, "提交日期自", since),
      h("button", { type: "submit" }, "统计"),
    ),
    out,
  );
  await load();
}
