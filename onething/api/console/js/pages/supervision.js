// 督办: overdue and escalated steps (督办 level 1, 提级办理 level 2) a supervisor chases.

import { get } from "../api.js";
import { empty, h, replace, table } from "../dom.js";
import { when } from "../format.js";
import * as labels from "../labels.js";

function row(item) {
  return h(
    "tr",
    { class: item.overdue ? "row-overdue" : null, dataset: { case: item.case_code, step: item.step_id } },
    h("td", {}, h("a", { href: `#/case/${encodeURIComponent(item.case_code)}` }, item.case_code)),
    h("td", {}, item.item, h("div", { class: "sub" }, item.step_id)),
    h("td", {}, h("code", {}, item.department)),
    h("td", {}, labels.stepStatus(item.status)),
    h("td", {}, when(item.due_at)),
    h("td", { class: "remaining" }, item.remaining_text),
    h(
      "td",
      {},
      item.escalation_level > 0
        ? h("span", { class: `tag escalated level-${item.escalation_level}` }, labels.escalation(item.escalation_level))
        : item.overdue
          ? h("span", { class: "tag overdue" }, "超期")
          : "",
    ),
  );
}

export async function renderSupervision(ctx) {
  const items = await get("/api/supervision");
  const level = (n) => items.filter((i) => i.escalation_level === n).length;
  replace(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", {}, "督办"), h("button", { type: "button", onclick: () => renderSupervision(ctx) }, "刷新")),
    h(
      "div",
      { class: "stats" },
      h("div", { class: "stat overdue" }, h("b", {}, items.filter((i) => i.overdue).length), "超期"),
      h("div", { class: "stat warning" }, h("b", {}, level(1)), "督办"),
      h("div", { class: "stat escalated" }, h("b", {}, level(2)), "提级办理"),
    ),
    items.length
      ? table(["办件编号", "事项", "部门", "状态", "办理时限", "剩余时间", "督办级别"], items.map(row), {
          id: "supervision",
          class: "grid",
        })
      : empty("没有超期或督办中的事项。"),
  );
}
