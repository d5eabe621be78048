// 办件查询: search the read model by status, bundle, department, overdue and submission date
// (an applicant sees only their own cases); anyone can also open a case by its code.

import { describe, get } from "../api.js";
import { empty, h, replace, table } from "../dom.js";
import { when } from "../format.js";
import * as labels from "../labels.js";

function row(item) {
  return h(
    "tr",
    { class: item.overdue ? "row-overdue" : null, dataset: { case: item.case_code } },
    h("td", {}, h("a", { href: `#/case/${encodeURIComponent(item.case_code)}` }, item.case_code)),
    h("td", {}, item.bundle_code, item.bundle_version ? ` v${item.bundle_version}` : ""),
    h("td", {}, labels.caseStatus(item.status)),
    h("td", {}, item.applicant_name_masked || "", " ", h("span", { class: "sub" }, item.applicant_id_masked || "")),
    h("td", {}, (item.pending_departments || []).map((d) => h("code", { class: "chip" }, d))),
    h("td", {}, when(item.submitted_at)),
    h("td", {}, when(item.closed_at)),
    h("td", {}, item.overdue ? h("span", { class: "tag overdue" }, "超期") : ""),
  );
}

function field(label, input) {
  return h("label", {}, label, input);
}

export async function renderCases(ctx) {
  const code = h("input", { type: "text", id: "open-code", placeholder: "办件编号", required: true });
  const open = h(
    "form",
    {
      class: "inline",
      id: "open-case",
      onsubmit: (e) => {
        e.preventDefault();
        if (code.value.trim()) ctx.navigate(`#/case/${encodeURIComponent(code.value.trim())}`);
      },
    },
    field("按编号打开", code),
    h("button", { type: "submit" }, "打开"),
  );
  // Applicants get their own cases from the same listing; the API filters by their ID.
  const parts = [h("div", { class: "page-head" }, h("h1", {}, ctx.me.role === "applicant" ? "我的办件" : "办件查询")), open];

  const status = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, "全部状态"),
    labels.CASE_STATUSES.map((s) => h("option", { value: s }, labels.caseStatus(s))),
  );
  const bundle = h("input", { type: "text", name: "bundle", placeholder: "一件事编码" });
  const department = h("input", { type: "text", name: "department", placeholder: "部门编码" });
  const from = h("input", { type: "date", name: "submitted_from" });
  const to = h("input", { type: "date", name: "submitted_to" });
  const overdue = h("input", { type: "checkbox", name: "overdue" });
  const results = h("div", { id: "results" });

  // Only the latest search may fill the table: an earlier, slower answer must not replace it.
  let latest = 0;
  async function search(event) {
    if (event) event.preventDefault();
    const mine = ++latest;
    replace(results, h("p", { class: "hint" }, "查询中…"));
    try {
      const rows = await get("/api/cases", {
        status: status.value,
        bundle: bundle.value.trim(),
        department: department.value.trim(),
        overdue: overdue.checked ? "true" : "",
        submitted_from: from.value,
        submitted_to: to.value,
      });
      if (mine !== latest) return;
      replace(
        results,
        rows.length
          ? table(["办件编号", "一件事", "状态", "申请人", "待办部门", "提交时间", "办结时间", "标记"], rows.map(row), {
              class: "grid",
              id: "case-list",
            })
          : empty("没有符合条件的办件。"),
      );
    } catch (err) {
      if (mine !== latest) return;
      replace(results, h("p", { class: "error", role: "alert" }, describe(err)));
    }
  }

  parts.push(
    h(
      "form",
      { class: "filters", id: "case-search", onsubmit: search },
      field("状态", status),
      field("一件事", bundle),
      field("部门", department),
      field("提交自", from),
      field("提交至", to),
      h("label", { class: "check" }, overdue, "仅超期"),
      h("button", { type: "submit" }, "查询"),
    ),
    results,
  );
  replace(ctx.view, parts);
  await search();
}
