// The JSON API client: bearer token from sessionStorage, errors as ApiError carrying the
// API's machine-readable code, the field it names and every issue it lists.

const TOKEN_KEY = "onething.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.error) || {};
    super(detail.message || `请求失败 (HTTP ${status})`);
    this.status = status;
    this.code = detail.code || "HTTP_ERROR";
    this.field = detail.field || null;
    this.issues = Array.isArray(detail.issues) ? detail.issues : [];
  }
}

// A request that hangs would leave the page waiting forever; give up and say so.
const TIMEOUT_MS = 30000;

export async function request(method, path, { query, json, text } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (text !== undefined) {
    headers["Content-Type"] = "text/plain; charset=utf-8";
    body = text;
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, { method, headers, body, signal: controller.signal });
  } catch (err) {
    const reason = err.name === "AbortError" ? `${TIMEOUT_MS / 1000} 秒内无响应` : err.message;
    throw new ApiError(0, { error: { code: "NETWORK", message: `无法连接服务：${reason}` } });
  } finally {
    clearTimeout(timer);
  }
  const raw = await response.text();
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401) clearToken();
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, json) => request("POST", path, { json });
export const postText = (path, text) => request("POST", path, { text });

// The message to show a person: the API's own words, led by the field it names unless the
// message already starts with it ("reason: required to reject ...").
export function describe(err) {
  if (!(err instanceof ApiError) || !err.field || err.message.startsWith(`${err.field}:`)) {
    return err.message;
  }
  return `${err.field}：${err.message}`;
}
