/**
 * The local UI's HTTP server (`xshare ui`), run by `xshare run` on loopback only (see
 * client/ui/module.ts for how modules plug in, static/app.js for the page's side).
 *
 * Who may use it: only whoever can read `<stateDir>/ui.json` (mode 0600), the user. Per start a
 * random secret goes into the URL `xshare ui` prints; opening `/?k=<secret>` sets a cookie
 * (HttpOnly, SameSite=Strict, named after the port: two daemons on one machine do not share
 * one) and redirects to `/`. Every other request needs that cookie, else 401.
 *
 * Checks, in order, on every request:
 * 1. Host must be `127.0.0.1:<port>` or `localhost:<port>`, else 421: a page of another site
 *    whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing, not even the 401.
 * 2. Anything but GET/HEAD needs `Origin: http://<that host>` and `X-Xshare: 1`, else 403: a
 *    cross-site form or fetch cannot send the header without a CORS preflight, and no CORS
 *    header is ever sent, so no preflight succeeds.
 * 3. The cookie (or the secret, at `/?k=`), compared in constant time.
 * Every answer carries a strict Content-Security-Policy (no inline script or style, nothing
 * from elsewhere), nosniff, no-referrer, and is not framed.
 *
 * What it serves: the page (static/index.html, with a stylesheet link per module that has
 * one), static/<name>.js|.css|.svg, `GET /api/state` (every module's snapshot, by name, in the
 * order of client/ui/modules.ts), `GET /api/events` (server-sent events of what modules
 * `publish`, a heartbeat comment every `heartbeatMs`; ended when the server closes), and
 * `/api/<module>/…` (the module's own `handle`).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HttpError, methodOf, sendError, sendJson } from "./http.ts";
import type { UiContext, UiModule, UiModuleFactory } from "./module.ts";

/** client/ui/static/: beside this file, or, run from bin/launch.js's bundle in .build/, from there. */
export const STATIC_DIR = [new URL("./static/", import.meta.url), new URL("../client/ui/static/", import.meta.url)].map((u) => fileURLToPath(u)).find((d) => existsSync(join(d, "index.html"))) ?? fileURLToPath(new URL("./static/", import.meta.url));

/** The Content-Security-Policy of every answer. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  html: "text/html; charset=utf-8",
};

/** Names a module, a static file's stem and an event type may have. */
const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const STATIC_FILE = /^([a-z][a-z0-9-]{0,63})\.(js|css|svg)$/;

/** Bytes an event stream may have waiting to be read before it is cut (see publish). */
const MAX_BACKLOG = 1 << 20;

/** Open event streams at most (each holds a socket; the page needs one). */
const MAX_STREAMS = 32;

export interface UiServerOptions {
  /** The port (default 0: a free one). */
  readonly port?: number;
  /** The modules (default: client/ui/modules.ts's list; tests pass their own). */
  readonly modules: readonly UiModuleFactory[];
  /** How often an open event stream gets a comment, so proxies and the browser keep it (default 15 s). */
  readonly heartbeatMs?: number;
  /** Where index.html, app.js and the modules' files are (default STATIC_DIR). */
  readonly staticDir?: string;
  /** One line per thing worth telling (an unexpected error in a module). */
  readonly log?: (line: string) => void;
}

/** What `xshare ui` needs, as `<stateDir>/ui.json` holds it. */
export interface UiInfo {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
}

const page401 = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>xshare: not signed in</title><link rel="icon" href="data:,"></head>
<body><h1>This page needs its key</h1><p>Run <code>xshare ui</code> on this computer and open the link it prints (or <code>xshare ui --open</code>). The link changes every time <code>xshare run</code> starts.</p></body></html>
`;

export class UiServer {
  readonly #ctx: UiContext;
  readonly #opts: UiServerOptions;
  readonly #secret = randomBytes(32).toString("base64url");
  readonly #session = randomBytes(32).toString("base64url");
  readonly #modules: UiModule[] = [];
  readonly #streams = new Set<ServerResponse>();
  #server: Server | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #port = 0;
  #closed = false;

  constructor(ctx: Omit<UiContext, "publish" | "log">, opts: UiServerOptions) {
    this.#opts = opts;
    this.#ctx = { ...ctx, publish: (type, data) => this.publish(type, data), log: (line) => opts.log?.(line) };
    const names = new Set<string>();
    for (const factory of opts.modules) {
      const m = factory(this.#ctx);
      if (!NAME.test(m.name) || names.has(m.name) || m.name === "state" || m.name === "events") throw new Error(`UI module name ${JSON.stringify(m.name)}: lower case, unique, not "state" or "events"`);
      names.add(m.name);
      this.#modules.push(m);
    }
  }

  /** Listens on 127.0.0.1; rejects with a sentence when the port is taken. */
  async listen(): Promise<UiInfo> {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(new Error(err.code === "EADDRINUSE" ? `the UI port ${this.#opts.port} is in use; pick another with --ui-port, or leave it out for a free one` : `the UI cannot listen on 127.0.0.1:${this.#opts.port ?? 0}: ${err.message}`)),
      );
      server.listen(this.#opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    server.on("error", (err) => this.#opts.log?.(`UI server: ${err.message}`));
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.#heartbeat = setInterval(() => {
      for (const s of this.#streams) s.write(": heartbeat\n\n");
    }, this.#opts.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
    return this.info;
  }

  /** The URL with the secret, the port, this process. */
  get info(): UiInfo {
    return { url: `http://127.0.0.1:${this.#port}/?k=${this.#secret}`, port: this.#port, pid: process.pid };
  }

  /** The session cookie's name: one per port, so that two daemons' pages do not mix. */
  get cookieName(): string {
    return `xshare_ui_${this.#port}`;
  }

  /** Sends a server-sent event to every open page. */
  publish(type: string, data: unknown): void {
    if (!NAME.test(type)) throw new Error(`event type ${JSON.stringify(type)}: lower case letters, digits and dashes`);
    const text = `event: ${type}\ndata: ${JSON.stringify(data ?? null)}\n\n`;
    for (const s of this.#streams) {
      // A page that stopped reading (a frozen tab) is cut rather than buffered without end;
      // its EventSource reconnects and reloads the state when it wakes.
      if (s.writableLength > MAX_BACKLOG) {
        s.destroy();
        this.#streams.delete(s);
      } else s.write(text);
    }
  }

  /** Ends the event streams, closes every connection and the modules. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const s of this.#streams) s.end();
    this.#streams.clear();
    const server = this.#server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    for (const m of this.#modules) await Promise.resolve(m.close?.()).catch((err: unknown) => this.#opts.log?.(`UI module ${m.name}: ${(err as Error).message}`));
  }

  // ---------------------------------------------------------------- requests

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    try {
      await this.#route(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) return sendError(res, err.status, err.message);
      this.#opts.log?.(`UI: ${req.method} ${req.url?.split("?")[0]}: ${(err as Error).message}`);
      sendError(res, 500, `Something went wrong: ${(err as Error).message}`);
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = String(req.headers.host ?? "");
    if (host !== `127.0.0.1:${this.#port}` && host !== `localhost:${this.#port}`) {
      res.writeHead(421, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(`This server answers only at http://127.0.0.1:${this.#port}/ (run xshare ui).\n`);
      return;
    }
    const method = methodOf(req);
    if (method !== "GET" && method !== "HEAD") {
      if (req.headers.origin !== `http://${host}` || req.headers["x-xshare"] !== "1") {
        req.resume();
        return sendError(res, 403, "Cross-site requests are refused (this request lacks the page's Origin or its X-Xshare header).");
      }
    }
    const url = new URL(req.url ?? "/", `http://${host}`);
    if (url.pathname === "/" && url.searchParams.has("k")) return this.#signIn(res, url.searchParams.get("k") ?? "");
    if (!this.#hasCookie(req)) {
      req.resume();
      if (url.pathname.startsWith("/api/")) return sendError(res, 401, "Not signed in: run `xshare ui` and open the link it prints.");
      res.writeHead(401, { "Content-Type": TYPES.html!, "Cache-Control": "no-store" });
      res.end(page401);
      return;
    }
    const path = url.pathname;
    if (path === "/" || path === "/index.html") return this.#page(req, res);
    if (path.startsWith("/static/")) return this.#static(req, res, path.slice("/static/".length));
    if (path === "/api/state") return this.#state(req, res);
    if (path === "/api/events") return this.#events(req, res);
    const m = /^\/api\/([a-z][a-z0-9-]*)(\/.*)?$/.exec(path);
    const module = m ? this.#modules.find((x) => x.name === m[1]) : undefined;
    if (module && (await module.handle(req, res, url))) return;
    req.resume();
    sendError(res, 404, `Nothing here: ${path}`);
  }

  #signIn(res: ServerResponse, key: string): void {
    if (!same(key, this.#secret)) {
      res.writeHead(401, { "Content-Type": TYPES.html!, "Cache-Control": "no-store" });
      res.end(page401);
      return;
    }
    res.writeHead(303, {
      Location: "/",
      "Set-Cookie": `${this.cookieName}=${this.#session}; HttpOnly; SameSite=Strict; Path=/`,
      "Cache-Control": "no-store",
    });
    res.end();
  }

  #hasCookie(req: IncomingMessage): boolean {
    const header = String(req.headers.cookie ?? "");
    for (const part of header.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === this.cookieName && same(part.slice(eq + 1).trim(), this.#session)) return true;
    }
    return false;
  }

  async #page(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!getOnly(req, res)) return;
    const dir = this.#opts.staticDir ?? STATIC_DIR;
    const html = await readFile(join(dir, "index.html"), "utf8");
    const links = this.#modules.filter((m) => existsSync(join(dir, `${m.name}.css`))).map((m) => `<link rel="stylesheet" href="/static/${m.name}.css">`);
    const body = html.replace("<!--module-styles-->", links.join("\n"));
    res.writeHead(200, { "Content-Type": TYPES.html!, "Cache-Control": "no-store" });
    res.end(body);
  }

  async #static(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (!getOnly(req, res)) return;
    const m = STATIC_FILE.exec(name);
    const dir = this.#opts.staticDir ?? STATIC_DIR;
    // Only names listed in the folder: nothing else is ever read (no path is built from input).
    const listed = m ? (await readdir(dir)).includes(name) : false;
    if (!m || !listed) return sendError(res, 404, `No such file: ${name}`);
    const body = await readFile(join(dir, name));
    res.writeHead(200, { "Content-Type": TYPES[m[2]!]!, "Cache-Control": "no-cache", "Content-Length": body.length });
    res.end(body);
  }

  #state(req: IncomingMessage, res: ServerResponse): void {
    if (!getOnly(req, res)) return;
    const state: Record<string, unknown> = {};
    for (const m of this.#modules) state[m.name] = m.snapshot?.() ?? null;
    sendJson(res, 200, state);
  }

  #events(req: IncomingMessage, res: ServerResponse): void {
    if (!getOnly(req, res)) return;
    if (this.#streams.size >= MAX_STREAMS) return sendError(res, 503, "Too many open pages; close some and reload.");
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    if (methodOf(req) === "HEAD") return void res.end();
    res.write("retry: 2000\n: connected\n\n");
    this.#streams.add(res);
    const drop = () => this.#streams.delete(res);
    req.on("close", drop);
    res.on("close", drop);
  }
}

/** GET and HEAD only (405 otherwise). */
function getOnly(req: IncomingMessage, res: ServerResponse): boolean {
  const m = methodOf(req);
  if (m === "GET" || m === "HEAD") return true;
  req.resume();
  res.setHeader("Allow", "GET, HEAD");
  sendError(res, 405, "Use GET here.");
  return false;
}

/** Constant-time comparison of two secrets (different lengths: false at once, which says nothing). */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
