// 登录: an officer pastes the bearer token they were given; it lives in sessionStorage only, so
// closing the tab signs them out.

import { ApiError, clearToken, get, setToken } from "../api.js";
import { h, replace } from "../dom.js";
import * as labels from "../labels.js";

export async function renderLogin(ctx) {
  const input = h("textarea", {
    id: "token",
    name: "token",
    rows: 3,
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "粘贴发给您的访问令牌（Bearer token）",
    autofocus: true,
  });
  const error = h("p", { class: "error", id: "login-error", role: "alert" });

  async function submit(event) {
    event.preventDefault();
    replace(error);
    const value = input.value.trim();
    if (!value) {
      replace(error, "令牌：不能为空");
      return;
    }
    setToken(value);
    try {
      const me = await get("/api/me");
      ctx.flash(`已登录：${me.subject}（${labels.role(me.role)}）`, "ok");
      ctx.signIn(me);
    } catch (err) {
      clearToken();
      replace(error, err instanceof ApiError ? `令牌无效：${err.message}` : String(err));
    }
  }

  replace(
    ctx.view,
    h(
      "section",
      { class: "card narrow" },
      h("h1", {}, "登录"),
      h("p", { class: "hint" }, "经办人、督办人和管理员使用各自的访问令牌登录；令牌只保存在本标签页。"),
      h(
        "form",
        { id: "login-form", onsubmit: submit },
        h("label", { for: "token" }, "访问令牌"),
        input,
        error,
        h("button", { type: "submit", id: "login-submit" }, "登录"),
      ),
    ),
  );
}
