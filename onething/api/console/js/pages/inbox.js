// 待办: the steps waiting for the officer's department, earliest deadline first, with overdue
// (超期) and warning (预警) rows highlighted and the remaining working time.

import { get } from "../api.js";
import { empty, h, replace, table } from "../dom.js";
import { when } from "../format.js";
import * as labels from "../labels.js";

export function flags(item) {
  const out = [];
  if (item.overdue) out.push(h("span", { class: "tag overdue" }, "超期"));
  else if (item.warning) out.push(h("span", { class: "tag warning" }, "预警"));
  if (item.escalation_level > 0) {
    out.push(h("span", { class: "tag escalated" }, labels.escalation(item.escalation_level)));
  }
  if (item.status === "supplementing") out.push(h("span", { class: "tag stopped" }, "停表"));
  return out;
}

function rowClass(item) {
  if (item.overdue) return "row-overdue";
  if (item.warning) return "row-warning";
  return null;
}

function row(item) {
  const link = `#/case/${encodeURIComponent(item.case_code)}`;
  return h(
    "tr",
    { class: rowClass(item), dataset: { case: item.case_code, step: item.step_id } },
    h("td", {}, h("a", { href: link, class: "case-link" }, item.case_code)),
    h("td", {}, item.item, h("div", { class: "sub" }, item.step_id)),
    h("td", {}, item.bundle_code),
    h("td", {}, labels.stepStatus(item.status)),
    h("td", {}, when(item.submitted_at)),
    h("td", {}, when(item.due_at)),
    h("td", { class: "remaining" }, item.remaining_text),
    h("td", {}, flags(item)),
  );
}

export async function renderInbox(ctx) {
  const items = await get("/api/inbox");
  const overdue = items.filter((i) => i.overdue).length;
  const warning = items.filter((i) => i.warning && !i.overdue).length;
  replace(
    ctx.view,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "待办"),
      h("span", { class: "sub" }, ctx.me.department || ""),
      h("button", { type: "button", id: "refresh", onclick: () => renderInbox(ctx) }, "刷新"),
    ),
    h(
      "div",
      { class: "stats" },
      h("div", { class: "stat" }, h("b", { id: "count-pending" }, items.length), "待办"),
      h("div", { class: "stat overdue" }, h("b", { id: "count-overdue" }, overdue), "超期"),
      h("div", { class: "stat warning" }, h("b", { id: "count-warning" }, warning), "预警"),
    ),
    items.length
      ? table(
          ["办件编号", "事项", "一件事", "状态", "提交时间", "办理时限", "剩余时间", "标记"],
          items.map(row),
          { id: "inbox", class: "grid" },
        )
      : empty("暂无待办。"),
  );
}
