// The local UI's page (served by client/ui/server.ts): makes the `app` object every module's
// static/<name>.js gets in `mount(app)`, then loads and mounts the modules the server lists
// (the keys of GET /api/state, in the order of client/ui/modules.ts).
//
//   app.region(name)            the page's element for "account" (header), "contacts", "chat",
//                               "sharing" or "notices"; its placeholder goes on first use
//   app.api(path, {method, body})  fetch of /api/<path>, JSON in and out, with X-Xshare: 1;
//                               rejects with Error(the server's sentence) on 4xx/5xx
//   app.on(type, fn)            server-sent events of that type, and local ones (emit)
//   app.emit(type, data)        a local event to the other modules
//   app.state                   GET /api/state's snapshot, by module name (refreshed after a
//                               lost event stream comes back; then a local "resync" event)
//   app.el(tag, attrs, ...children)  DOM built with textContent only, never innerHTML
//   app.notify(text, {kind, key})  a line in the notices strip (kind "error"/"info"); the same
//                               key replaces the earlier line; returns a function that removes it
//
// Invariant: nothing a server or a contact sends is ever parsed as HTML. Names and messages
// arrive as text and become text nodes (el), attributes set with setAttribute (no `on…`
// attribute from data, no javascript: links).

const REGIONS = ["account", "contacts", "chat", "sharing", "notices"];
const listeners = new Map();
let source;

/** DOM from data: attrs (class, text, dataset, style object, on<event> functions, others as
 *  attributes), children (nodes, strings, numbers, arrays; null/false skipped). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k.startsWith("on")) throw new Error(`el: ${k} must be a function`);
    else if (k === "class") node.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : String(v);
    else if (k === "text") node.textContent = String(v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
    else if ((k === "href" || k === "src" || k === "action") && !/^(\/(?!\/)|#|https?:|data:image\/)/i.test(String(v))) continue;
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function region(name) {
  const node = document.querySelector(`[data-region="${name}"]`);
  if (!REGIONS.includes(name) || !node) throw new Error(`no region ${JSON.stringify(name)} (there are ${REGIONS.join(", ")})`);
  for (const p of node.querySelectorAll(":scope > .placeholder")) p.remove();
  return node;
}

async function api(path, opts = {}) {
  const method = (opts.method ?? (opts.body === undefined ? "GET" : "POST")).toUpperCase();
  const headers = { "X-Xshare": "1", Accept: "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(`/api/${String(path).replace(/^\/+/, "")}`, { method, headers, credentials: "same-origin", ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  } catch {
    throw new Error("xshare run does not answer (stopped?)");
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.status === 401) signedOut();
  if (!res.ok) throw new Error((data && typeof data.error === "string" && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

function dispatch(type, data) {
  for (const fn of listeners.get(type) ?? []) {
    try {
      fn(data);
    } catch (err) {
      console.error(`listener of ${type}:`, err);
    }
  }
}

function on(type, fn) {
  let set = listeners.get(type);
  if (!set) {
    listeners.set(type, (set = new Set()));
    source?.addEventListener(type, (e) => dispatch(type, parse(e.data)));
  }
  set.add(fn);
  return () => set.delete(fn);
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const notices = new Map();
function notify(text, opts = {}) {
  const strip = region("notices");
  const key = opts.key ?? `n${Math.random()}`;
  notices.get(key)?.remove();
  const close = () => {
    line.remove();
    if (notices.get(key) === line) notices.delete(key);
  };
  const line = el("div", { class: ["notice", `notice-${opts.kind ?? "info"}`], role: opts.kind === "error" ? "alert" : "status" }, el("span", { class: "notice-text", text }), el("button", { class: "notice-close", type: "button", title: "Dismiss", "aria-label": "Dismiss", onclick: close }, "×"));
  notices.set(key, line);
  strip.append(line);
  return close;
}

let out = false;
function signedOut() {
  if (out) return;
  out = true;
  source?.close();
  document.body.classList.add("signed-out");
  notify("This page is no longer signed in: xshare run was restarted or stopped. Run `xshare ui` for a new link.", { kind: "error", key: "signed-out" });
}

const app = { region, api, on, emit: dispatch, state: {}, el, notify };

function connectEvents() {
  source = new EventSource("/api/events");
  for (const type of listeners.keys()) source.addEventListener(type, (e) => dispatch(type, parse(e.data)));
  let lost = false;
  source.addEventListener("open", () => {
    if (!lost) return;
    lost = false;
    notices.get("events")?.remove();
    // What happened while the stream was down is in a fresh snapshot.
    api("state").then((s) => {
      app.state = s;
      dispatch("resync", s);
    }, () => undefined);
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (a restarted daemon: the cookie is stale).
      api("state").catch(() => undefined).finally(() => {
        if (!out) notify("Live updates stopped. Reload the page, or run `xshare ui` if xshare run was restarted.", { kind: "error", key: "events" });
      });
      return;
    }
    if (!lost) notify("Connection to xshare run lost; reconnecting…", { kind: "error", key: "events" });
    lost = true;
  });
}

async function start() {
  try {
    app.state = await api("state");
  } catch (err) {
    notify(`The page could not load: ${err.message}`, { kind: "error", key: "load" });
    return;
  }
  connectEvents();
  for (const name of Object.keys(app.state)) {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) continue;
    try {
      const mod = await import(`/static/${name}.js`);
      await mod.mount(app);
    } catch (err) {
      console.error(`module ${name}:`, err);
      notify(`The ${name} part of the page failed to load: ${err.message}`, { kind: "error", key: `module-${name}` });
    }
  }
  document.body.classList.add("ready");
}

// For tests and the console only: the same object the modules get.
window.xshare = app;
start();
