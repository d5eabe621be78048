// 办件: one case's live state (the workflow Query through the API): steps with deadlines,
// the clock-stop ledger (停表), the timeline, and the decide actions for the officer's own
// department. A refused action shows the API's message next to the buttons.

import { describe, get, post } from "../api.js";
import { empty, h, replace, table } from "../dom.js";
import { span, when } from "../format.js";
import * as labels from "../labels.js";
import { RATING_LEVELS } from "../labels.js";

// Steps still at the department (the clock runs, or is stopped for 补正).
const OPEN = new Set(["awaiting_decision", "supplementing", "checking"]);

function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, id: "case-status" }, labels.caseStatus(status));
}

function stepFlags(step) {
  const out = [];
  if (step.overdue) out.push(h("span", { class: "tag overdue" }, "超期"));
  else if (step.warned) out.push(h("span", { class: "tag warning" }, "预警"));
  if (step.escalation_level > 0) {
    out.push(h("span", { class: "tag escalated" }, labels.escalation(step.escalation_level)));
  }
  if (step.extension_used) out.push(h("span", { class: "tag extended" }, "已延期"));
  return out;
}

function remainingCell(step) {
  if (!OPEN.has(step.status)) return "—";
  if (step.status === "supplementing") return "停表中";
  return span(step.remaining_seconds);
}

function stepRow(step) {
  const rowClass = !OPEN.has(step.status)
    ? null
    : step.overdue
      ? "row-overdue"
      : step.status === "supplementing"
        ? "row-stopped"
        : step.warned
          ? "row-warning"
          : null;
  return h(
    "tr",
    { class: rowClass, dataset: { step: step.id } },
    h("td", {}, step.item, h("div", { class: "sub" }, step.id)),
    h("td", {}, h("code", {}, step.department)),
    h("td", {}, labels.mode(step.mode)),
    h("td", { class: "step-status", dataset: { status: step.status } }, labels.stepStatus(step.status)),
    // Day limits end with their last working day; the instant is the midnight after it.
    h("td", { class: "due", title: when(step.due_at) }, step.due_date ? `${step.due_date} 当日` : when(step.due_at)),
    h("td", { class: "remaining" }, remainingCell(step)),
    h(
      "td",
      {},
      step.decision ? labels.decision(step.decision) : "",
      step.officer_id ? h("div", { class: "sub" }, step.officer_id) : null,
      step.reason ? h("div", { class: "sub" }, step.reason) : null,
      step.status === "supplementing" && step.requested_materials.length
        ? h("div", { class: "sub" }, `待补交：${step.requested_materials.join("、")}`)
        : null,
    ),
    h("td", {}, stepFlags(step)),
  );
}

function decideForm(ctx, state, step, rerender) {
  const id = (name) => `${name}-${step.id}`;
  const reason = h("input", { type: "text", id: id("reason"), name: "reason", placeholder: "理由（不予通过、补正、延期时必填）" });
  const amount = h("input", { type: "number", id: id("amount"), name: "amount", min: 1, step: 1, placeholder: "延期数量" });
  const materials = h("input", { type: "text", id: id("materials"), name: "materials", placeholder: "补正材料编号，逗号分隔" });
  const error = h("p", { class: "error decide-error", role: "alert" });
  const buttons = [];

  async function send(kind) {
    replace(error);
    const body = { decision: kind, reason: reason.value.trim() };
    if (kind === "extend" && amount.value) body.amount = Number(amount.value);
    if (kind === "supplement") {
      body.materials = materials.value.split(/[,，\s]+/).map((m) => m.trim()).filter(Boolean);
    }
    buttons.forEach((b) => (b.disabled = true));
    try {
      const path = `/api/cases/${encodeURIComponent(state.case_code)}/steps/${encodeURIComponent(step.id)}/decide`;
      const next = await post(path, body);
      ctx.flash(`${step.item}：已${labels.decision(kind)}`, "ok");
      rerender(next);
    } catch (err) {
      replace(error, describe(err));
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  for (const [kind, style] of [["approve", "primary"], ["reject", "danger"], ["supplement", ""], ["extend", ""]]) {
    buttons.push(
      h("button", { type: "button", class: style, dataset: { decision: kind }, onclick: () => send(kind) }, labels.decision(kind)),
    );
  }
  return h(
    "form",
    { class: "decide card", dataset: { step: step.id }, onsubmit: (e) => e.preventDefault() },
    h("h3", {}, `审批：${step.item}`, h("span", { class: "sub" }, ` ${labels.stepStatus(step.status)}`)),
    h(
      "div",
      { class: "fields" },
      h("label", {}, "理由", reason),
      h("label", {}, "延期数量", amount),
      h("label", {}, "补正材料", materials),
    ),
    h("div", { class: "actions" }, buttons),
    error,
  );
}

function ledger(state) {
  if (!state.clock_stops.length) return empty("无停表记录。");
  const rows = state.clock_stops.map((stop) => {
    const seconds = stop.ended_at ? (new Date(stop.ended_at) - new Date(stop.started_at)) / 1000 : null;
    return h(
      "tr",
      { class: stop.ended_at ? null : "row-stopped" },
      h("td", {}, stop.step_id),
      h("td", {}, when(stop.started_at)),
      h("td", {}, stop.ended_at ? when(stop.ended_at) : "停表中"),
      h("td", {}, seconds === null ? "—" : span(seconds).replace("剩余", "")),
      h("td", {}, stop.reason),
    );
  });
  return table(["环节", "停表开始", "恢复计时", "停表时长", "原因"], rows, { id: "ledger", class: "grid" });
}

function timeline(state) {
  const items = [...state.timeline].reverse().map((event) =>
    h(
      "li",
      { class: `event event-${event.kind}` },
      h("time", {}, when(event.at)),
      h("b", {}, labels.eventKind(event.kind)),
      event.step_id ? h("code", {}, event.step_id) : null,
      event.detail ? h("span", { class: "detail" }, event.detail) : null,
    ),
  );
  return h("ol", { class: "timeline", id: "timeline" }, items);
}

function rating(state) {
  if (!state.rating) return null;
  const rect = state.rectification;
  return h(
    "section",
    { class: "card", id: "rating" },
    h("h2", {}, "好差评"),
    h("p", {}, h("b", {}, state.rating.level), " ", when(state.rating.rated_at), " ", state.rating.comment),
    rect
      ? h(
          "p",
          { class: rect.overdue ? "error" : null },
          `差评整改：${labels.rectification(rect.status)}，时限 ${when(rect.due_at)}`,
          rect.note ? `，${rect.note}` : "",
        )
      : null,
  );
}

// The applicant's own moves: supply the material a 补正 asked for, and rate the service once
// the case has ended (好差评).
function applicantActions(ctx, state, rerender) {
  const base = `/api/cases/${encodeURIComponent(state.case_code)}`;
  const forms = [];
  const asked = state.steps.filter((s) => s.status === "supplementing");
  if (asked.length) {
    const wanted = [...new Set(asked.flatMap((s) => s.requested_materials))];
    const materials = h("input", { type: "text", name: "materials", value: wanted.join(","), required: true });
    const note = h("input", { type: "text", name: "note", placeholder: "说明（选填）" });
    const error = h("p", { class: "error", role: "alert" });
    forms.push(
      h(
        "form",
        {
          class: "card",
          id: "supplement-form",
          onsubmit: async (event) => {
            event.preventDefault();
            replace(error);
            const list = materials.value.split(/[,，\s]+/).filter(Boolean);
            try {
              const next = await post(`${base}/supplement`, { materials: list, note: note.value.trim() });
              ctx.flash("材料已补交，恢复计时", "ok");
              rerender(next);
            } catch (err) {
              replace(error, describe(err));
            }
          },
        },
        h("h3", {}, "补交材料（补正）"),
        h("p", { class: "sub" }, `需补交：${wanted.join("、")}`),
        h("div", { class: "fields" }, h("label", {}, "材料编号", materials), h("label", {}, "说明", note)),
        h("button", { type: "submit", class: "primary" }, "补交"),
        error,
      ),
    );
  }
  const open = state.rating_open_until && new Date(state.rating_open_until) > new Date();
  if (state.status !== "running" && !state.rating && open) {
    const level = h("select", { name: "level" }, RATING_LEVELS.map((l) => h("option", { value: l }, l)));
    const comment = h("input", { type: "text", name: "comment", placeholder: "意见（选填）" });
    const error = h("p", { class: "error", role: "alert" });
    forms.push(
      h(
        "form",
        {
          class: "card",
          id: "rate-form",
          onsubmit: async (event) => {
            event.preventDefault();
            replace(error);
            try {
              const next = await post(`${base}/rate`, { level: level.value, comment: comment.value.trim() });
              ctx.flash("感谢评价", "ok");
              rerender(next);
            } catch (err) {
              replace(error, describe(err));
            }
          },
        },
        h("h3", {}, "好差评"),
        h("div", { class: "fields" }, h("label", {}, "评价", level), h("label", {}, "意见", comment)),
        h("button", { type: "submit", class: "primary" }, "提交评价"),
        error,
      ),
    );
  }
  return forms;
}

function render(ctx, state) {
  const mine = ctx.me.role === "officer" ? state.steps.filter((s) => s.department === ctx.me.department) : [];
  // Only a step awaiting a decision takes one; during 补正 the applicant has the next move.
  const decidable = mine.filter((s) => s.status === "awaiting_decision");
  const waiting = mine.filter((s) => s.status === "supplementing");
  const rerender = (next) => render(ctx, next);
  replace(
    ctx.view,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "办件 ", h("code", { id: "case-code" }, state.case_code)),
      statusBadge(state.status),
      state.overdue ? h("span", { class: "tag overdue" }, "整体超期") : null,
      h("button", { type: "button", id: "refresh", onclick: () => renderCase(ctx, state.case_code) }, "刷新"),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "一件事"),
      h("dd", {}, `${state.bundle_name}（${state.bundle_code} 第${state.bundle_version}版）`),
      h("dt", {}, "渠道 / 区划"),
      h("dd", {}, `${labels.channel(state.channel)} / ${state.region}`),
      h("dt", {}, "提交时间"),
      h("dd", {}, when(state.submitted_at)),
      h("dt", {}, "承诺办结时限"),
      h("dd", {}, when(state.promised_due_at)),
      h("dt", {}, "办结时间"),
      h("dd", {}, when(state.closed_at)),
    ),
    h("h2", {}, "办理环节"),
    table(["事项", "部门", "方式", "状态", "时限", "剩余时间", "决定", "标记"], state.steps.map(stepRow), {
      id: "steps",
      class: "grid",
    }),
    decidable.length || waiting.length ? h("h2", {}, "审批操作") : null,
    decidable.map((step) => decideForm(ctx, state, step, rerender)),
    ctx.me.role === "applicant" ? applicantActions(ctx, state, rerender) : null,
    waiting.map((step) =>
      h(
        "p",
        { class: "card notice", dataset: { step: step.id } },
        `${step.item}：补正中，计时已暂停，等待申请人补交 ${step.requested_materials.join("、")}。`,
      ),
    ),
    h("h2", {}, "停表记录（补正、特别程序）"),
    ledger(state),
    rating(state),
    h("h2", {}, "办理过程"),
    timeline(state),
  );
}

export async function renderCase(ctx, code) {
  const state = await get(`/api/cases/${encodeURIComponent(code)}`);
  render(ctx, state);
}
