// 事项定义: the versioned bundle definitions. Everyone signed in reads them (versions, steps,
// the diff between two versions); only admins publish a new version or retire one.

import { ApiError, describe, get, post, postText } from "../api.js";
import { empty, h, replace, table } from "../dom.js";
import { when } from "../format.js";
import * as labels from "../labels.js";

function groupByCode(versions) {
  const groups = new Map();
  for (const v of versions) {
    if (!groups.has(v.code)) groups.set(v.code, []);
    groups.get(v.code).push(v);
  }
  return groups;
}

function errorText(err) {
  if (!(err instanceof ApiError)) return String(err);
  if (!err.issues.length) return describe(err);
  return err.issues
    .map((i) => `${i.line ? `第${i.line}行 ` : ""}${i.field || "body"}：${i.reason}`)
    .join("\n");
}

function publishForm(onPublished) {
  const yaml = h("textarea", { id: "publish-yaml", rows: 10, spellcheck: "false", placeholder: "粘贴事项定义 YAML" });
  const result = h("pre", { class: "result", id: "publish-result", role: "alert" });
  async function submit(event) {
    event.preventDefault();
    replace(result);
    result.className = "result";
    try {
      const out = await postText("/api/bundles", yaml.value);
      const v = out.version;
      const what = out.created ? "已发布新版本" : out.retired ? "内容与已停用版本相同，未发布" : "内容未变化，沿用现有版本";
      const warnings = out.warnings.map((w) => `\n提示：${w.field || ""} ${w.reason}`).join("");
      replace(result, `${what}：${v.code} 第${v.version}版${warnings}`);
      result.classList.add("ok");
      await onPublished();
    } catch (err) {
      replace(result, errorText(err));
      result.classList.add("error");
    }
  }
  return h(
    "details",
    { class: "card", id: "publish-panel" },
    h("summary", {}, "发布新版本"),
    h("form", { id: "publish-form", onsubmit: submit }, yaml, h("button", { type: "submit" }, "校验并发布")),
    result,
  );
}

async function bundleTable() {
  const versions = await get("/api/bundles");
  const rows = [...groupByCode(versions)].map(([code, list]) => {
    const active = list.filter((v) => v.status === "active");
    const latest = list[list.length - 1];
    return h(
      "tr",
      { dataset: { bundle: code } },
      h("td", {}, h("a", { href: `#/admin/${encodeURIComponent(code)}` }, code)),
      h("td", {}, latest.name),
      h("td", {}, list.length),
      h("td", {}, active.length ? active.map((v) => `第${v.version}版`).join("、") : "无"),
      h("td", {}, when(latest.published_at)),
    );
  });
  return [
    h("p", { class: "sub" }, `共 ${rows.length} 个一件事`),
    rows.length ? table(["编码", "名称", "版本数", "在用版本", "最近发布"], rows, { class: "grid", id: "bundles" }) : empty("尚无已发布的定义。"),
  ];
}

async function renderList(ctx) {
  const list = h("div", { id: "bundle-list" }, await bundleTable());
  const reload = async () => replace(list, await bundleTable());
  replace(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", {}, "事项定义")),
    ctx.me.role === "admin" ? publishForm(reload) : null,
    list,
  );
}

function stepsTable(definition) {
  const rows = definition.steps.map((s) =>
    h(
      "tr",
      { dataset: { step: s.id } },
      h("td", {}, s.item, h("div", { class: "sub" }, s.id)),
      h("td", {}, h("code", {}, s.department)),
      h("td", {}, labels.mode(s.mode)),
      h("td", {}, (s.depends_on || []).join("、") || "—"),
      h("td", {}, labels.duration(s.time_limit)),
      h("td", {}, labels.duration(s.warn_before) || "—"),
      h("td", {}, labels.duration(s.extension) || "—"),
      h("td", {}, { escalate: "督办/提级", deem_approved: "默认通过", reject: "不予通过" }[s.on_timeout] || s.on_timeout || ""),
    ),
  );
  return table(["事项", "部门", "方式", "前置环节", "办理时限", "预警提前", "可延期", "超期处理"], rows, {
    class: "grid",
    id: "definition-steps",
  });
}

function diffPanel(code, versions) {
  const options = () => versions.map((v) => h("option", { value: v.version }, `第${v.version}版`));
  const a = h("select", { id: "diff-a" }, options());
  const b = h("select", { id: "diff-b" }, options());
  if (versions.length > 1) {
    a.value = String(versions[versions.length - 2].version);
    b.value = String(versions[versions.length - 1].version);
  }
  const out = h("div", { id: "diff-result" });
  async function compare(event) {
    event.preventDefault();
    try {
      const diff = await get(`/api/bundles/${encodeURIComponent(code)}/diff`, { a: a.value, b: b.value });
      replace(
        out,
        diff.changes.length
          ? h("ul", { class: "diff" }, diff.changes.map((c) => h("li", { class: `change-${c.kind}` }, c.text)))
          : empty("两个版本内容相同。"),
      );
    } catch (err) {
      replace(out, h("p", { class: "error", role: "alert" }, errorText(err)));
    }
  }
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "版本对比"),
    h("form", { class: "inline", id: "diff-form", onsubmit: compare }, h("label", {}, "从", a), h("label", {}, "到", b), h("button", { type: "submit" }, "对比")),
    out,
  );
}

async function renderBundle(ctx, code, selected) {
  const versions = (await get("/api/bundles")).filter((v) => v.code === code);
  if (!versions.length) throw new Error(`事项定义 ${code} 不存在`);
  const current = selected || versions.filter((v) => v.status === "active").pop()?.version || versions[versions.length - 1].version;
  const detail = await get(`/api/bundles/${encodeURIComponent(code)}`, { version: current });
  const message = h("p", { class: "error", role: "alert", id: "admin-error" });

  async function retire(version) {
    if (!window.confirm(`停用 ${code} 第${version}版？停用后新申请不再使用该版本，办理中的办件不受影响。`)) return;
    try {
      await post(`/api/bundles/${encodeURIComponent(code)}/versions/${version}/retire`);
      ctx.flash(`${code} 第${version}版已停用`, "ok");
      await renderBundle(ctx, code, current);
    } catch (err) {
      replace(message, errorText(err));
    }
  }

  const rows = versions.map((v) =>
    h(
      "tr",
      { class: v.version === current ? "selected" : null, dataset: { version: v.version } },
      h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); renderBundle(ctx, code, v.version); } }, `第${v.version}版`)),
      h("td", {}, h("span", { class: `badge version-${v.status}` }, labels.versionStatus(v.status))),
      h("td", {}, when(v.published_at)),
      h("td", {}, when(v.retired_at)),
      h("td", {}, h("code", { title: v.content_hash }, v.content_hash.slice(0, 12))),
      h(
        "td",
        {},
        ctx.me.role === "admin" && v.status === "active"
          ? h("button", { type: "button", class: "danger", onclick: () => retire(v.version) }, "停用")
          : null,
      ),
    ),
  );
  const def = detail.definition;
  replace(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", {}, def.name), h("code", {}, code), h("a", { href: "#/admin" }, "返回列表")),
    message,
    h("h2", {}, "版本"),
    table(["版本", "状态", "发布时间", "停用时间", "内容摘要", ""], rows, { class: "grid", id: "versions" }),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "承诺办结时限"),
      h("dd", {}, labels.duration(def.promised_limit)),
      h("dt", {}, "申请人类型"),
      h("dd", {}, { person: "个人", enterprise: "企业", either: "个人或企业" }[def.applicant_type] || def.applicant_type),
      h("dt", {}, "所需材料"),
      h("dd", {}, (def.materials || []).map((m) => `${m.name}${m.required ? "" : "（选交）"}`).join("、") || "—"),
    ),
    h("h2", {}, `第${current}版 办理环节`),
    stepsTable(def),
    versions.length > 1 ? diffPanel(code, versions) : null,
    h("details", { class: "card" }, h("summary", {}, "定义原文（YAML）"), h("pre", { class: "yaml" }, detail.source_yaml || JSON.stringify(def, null, 2))),
  );
}

export async function renderAdmin(ctx, code) {
  if (code) await renderBundle(ctx, code, null);
  else await renderList(ctx);
}
