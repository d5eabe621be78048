// Chinese labels for the domain's codes; an unknown code is shown as it is.

const CASE_STATUS = {
  running: "办理中",
  completed: "已办结",
  rejected: "不予通过",
  withdrawn: "已撤回",
};

const STEP_STATUS = {
  waiting: "等待前置环节",
  checking: "自动核验中",
  awaiting_decision: "待审批",
  supplementing: "补正中（停表）",
  approved: "已通过",
  deemed_approved: "默认通过（承诺制）",
  rejected: "不予通过",
  withdrawn: "已撤回",
  cancelled: "未启动",
};

const DECISION = {
  approve: "通过",
  reject: "不予通过",
  supplement: "补正",
  extend: "延期",
};

const MODE = { manual: "人工审批", automatic: "自动核验" };

const CHANNEL = { web: "网上办", app: "掌上办", hall: "窗口办" };

const ROLE = { applicant: "申请人", officer: "经办人", supervisor: "督办人", admin: "管理员" };

const VERSION_STATUS = { active: "在用", retired: "已停用" };

const UNIT = { working_days: "个工作日", calendar_days: "个自然日", hours: "小时", minutes: "分钟" };

const ESCALATION = { 0: "", 1: "督办", 2: "提级办理" };

const EVENT = {
  submitted: "提交申请",
  step_started: "环节启动",
  dispatched: "推送至部门",
  dispatch_failed: "推送失败",
  automatic_check_failed: "自动核验失败",
  warning: "预警",
  overdue: "超期",
  case_overdue: "整体承诺时限超期",
  supervision: "督办",
  escalation: "提级办理",
  approved: "通过",
  deemed_approved: "默认通过",
  rejected: "不予通过",
  supplement_requested: "要求补正（停表）",
  supplemented: "补正完成（恢复计时）",
  extended: "延期",
  outcome_not_recorded: "结果未记录",
  cancelled: "未启动",
  withdrawn: "撤回",
  withdraw_failed: "撤回失败",
  delivered: "结果送达",
  completed: "办结",
  rated: "好差评",
  rectification_opened: "差评整改启动",
  rectification_overdue: "整改超期",
  rectified: "整改完成",
};

const RECTIFICATION = { open: "整改中", done: "已整改" };

function lookup(table, code) {
  if (code === null || code === undefined) return "";
  return table[code] || String(code);
}

export const caseStatus = (code) => lookup(CASE_STATUS, code);
export const stepStatus = (code) => lookup(STEP_STATUS, code);
export const decision = (code) => lookup(DECISION, code);
export const mode = (code) => lookup(MODE, code);
export const channel = (code) => lookup(CHANNEL, code);
export const role = (code) => lookup(ROLE, code);
export const versionStatus = (code) => lookup(VERSION_STATUS, code);
export const eventKind = (code) => lookup(EVENT, code);
export const escalation = (level) => lookup(ESCALATION, level || 0);
export const rectification = (code) => lookup(RECTIFICATION, code);

export function duration(value) {
  if (!value) return "";
  return `${value.amount}${lookup(UNIT, value.unit)}`;
}

export const CASE_STATUSES = Object.keys(CASE_STATUS);
export const RATING_LEVELS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"];
