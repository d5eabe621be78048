// The console's shell: who is signed in, the navigation their role allows, and hash routing
// (#/inbox, #/case/CODE, ...) so a page can be bookmarked and the back button works.

import { ApiError, clearToken, get, token } from "./api.js";
import { h, replace } from "./dom.js";
import * as labels from "./labels.js";
import { renderAdmin } from "./pages/admin.js";
import { renderCase } from "./pages/case.js";
import { renderCases } from "./pages/cases.js";
import { renderInbox } from "./pages/inbox.js";
import { renderLogin } from "./pages/login.js";
import { renderReports } from "./pages/reports.js";
import { renderSupervision } from "./pages/supervision.js";

const NAV = [
  { hash: "#/inbox", title: "待办", roles: ["officer", "supervisor"] },
  { hash: "#/cases", title: "办件查询", roles: ["officer", "supervisor", "admin", "applicant"] },
  { hash: "#/supervision", title: "督办", roles: ["supervisor", "admin"] },
  { hash: "#/reports", title: "办理质效分析", roles: ["supervisor", "admin"] },
  { hash: "#/admin", title: "事项定义", roles: ["officer", "supervisor", "admin"] },
];

const ROUTES = [
  [/^#\/login$/, () => renderLogin],
  [/^#\/inbox$/, () => renderInbox],
  [/^#\/cases$/, () => renderCases],
  [/^#\/case\/([^/]+)$/, (m) => (ctx) => renderCase(ctx, decodeURIComponent(m[1]))],
  [/^#\/supervision$/, () => renderSupervision],
  [/^#\/reports$/, () => renderReports],
  [/^#\/admin$/, () => (ctx) => renderAdmin(ctx, null)],
  [/^#\/admin\/([^/]+)$/, (m) => (ctx) => renderAdmin(ctx, decodeURIComponent(m[1]))],
];

let me = null;
let generation = 0;

function home(identity) {
  if (identity.role === "officer" || identity.role === "supervisor") return "#/inbox";
  if (identity.role === "admin") return "#/admin";
  return "#/cases";
}

function flash(message, kind = "error") {
  const box = document.getElementById("flash");
  if (!message) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.className = `flash ${kind}`;
  replace(box, message);
  box.hidden = false;
}

function signOut() {
  clearToken();
  me = null;
  window.location.hash = "#/login";
}

function renderShell() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!me) {
    replace(nav);
    replace(who);
    return;
  }
  const current = window.location.hash.split("/").slice(0, 2).join("/");
  replace(
    nav,
    NAV.filter((item) => item.roles.includes(me.role)).map((item) =>
      h("a", { href: item.hash, class: item.hash === current ? "active" : null }, item.title),
    ),
  );
  replace(
    who,
    h("span", { class: "subject" }, me.subject),
    h("span", { class: "role" }, labels.role(me.role)),
    me.department ? h("code", { class: "dept", id: "my-department" }, me.department) : null,
    h("button", { type: "button", class: "link", onclick: signOut }, "退出"),
  );
}

async function route() {
  // Each route renders into its own holder, shown only if no later route started meanwhile:
  // a slow answer for the page just left must not replace the page now asked for.
  const mine = ++generation;
  const view = document.getElementById("view");
  let hash = window.location.hash || "";
  if (!token()) {
    me = null;
    if (hash !== "#/login") {
      window.location.hash = "#/login";
      return;
    }
  } else if (!me) {
    try {
      const identity = await get("/api/me");
      if (mine !== generation) return;
      me = identity;
    } catch (err) {
      if (mine !== generation) return;
      me = null;
      flash(err instanceof ApiError ? err.message : String(err));
      if (hash !== "#/login") {
        window.location.hash = "#/login";
        return;
      }
    }
  }
  if (me && (hash === "" || hash === "#/" || hash === "#/login")) {
    window.location.hash = home(me);
    return;
  }
  renderShell();
  const match = ROUTES.map(([pattern, make]) => [hash.match(pattern), make]).find(([m]) => m);
  if (!match) {
    replace(view, h("h1", {}, "页面不存在"), h("p", {}, h("a", { href: home(me) }, "返回首页")));
    return;
  }
  const [m, make] = match;
  const holder = h("div", { class: "page" });
  const ctx = {
    me,
    view: holder,
    flash,
    navigate: (to) => (window.location.hash = to),
    signIn: (identity) => {
      me = identity;
      window.location.hash = home(identity);
    },
  };
  view.setAttribute("aria-busy", "true");
  try {
    await make(m)(ctx);
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && err.status === 401) {
      signOut();
      flash(err.message);
      return;
    }
    replace(holder, h("h1", {}, "出错了"), h("p", { class: "error", id: "page-error" }, err.message));
  } finally {
    if (mine === generation) view.removeAttribute("aria-busy");
  }
  if (mine !== generation) return;
  replace(view, holder);
  const first = holder.querySelector("[autofocus]");
  if (first) first.focus();
}

window.addEventListener("hashchange", () => {
  flash(null);
  route();
});
route();
