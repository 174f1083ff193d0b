/**
 * The web interface's router: every request under `/web` that the component's HTTP server
 * (component/http.ts) receives is handed here, and from here to the handler registered for its
 * method and the longest matching path prefix. The sign-in pages (sign-in.ts) and the browsing
 * pages (files.ts) register themselves; neither knows about the other.
 *
 *   webRouter.route("GET", "/web/login", handler)   exact path, or the prefix followed by "/"
 *   webRouter.route("*",   "/web/files/", handler)  a prefix ending in "/" matches everything under it
 *
 * Invariants: a handler sees only requests for its method ("*": any; HEAD falls back to a GET
 * route) and its prefix; the longest prefix wins; a path that matches nothing is 404, a path
 * that matches only with another method is 405 with `Allow`. A handler that throws is answered
 * 500 (or the connection is cut if it had started answering) and logged; it never crashes the
 * process. Every answer made here (404, 405, 500) is an HTML page with the strict headers of
 * html.ts. Paths are matched on the raw, percent-encoded path: handlers decode and check
 * (protocol/paths.ts checkPath) what they take from it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { sendPage } from "./html.ts";

/**
 * Answers one request. `url` is the parsed request URL (origin = the public URL's). The path
 * beyond the matched prefix is `url.pathname.slice(prefix.length)`.
 */
export type WebHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

interface Route {
  readonly method: string;
  readonly prefix: string;
  readonly handler: WebHandler;
}

export class WebRouter {
  readonly #routes: Route[] = [];
  readonly #log: Logger;
  readonly #base: string;

  /** `publicUrl`: the component's public base URL (ending in `/`), the origin of `url`. */
  constructor(log: Logger, publicUrl: string) {
    this.#log = log;
    this.#base = publicUrl;
  }

  /** Registers `handler` for `method` ("GET", "POST", …, or "*") and `prefix` (starting "/web"). */
  route(method: string, prefix: string, handler: WebHandler): this {
    if (!prefix.startsWith("/web")) throw new Error(`web route ${prefix} must start with /web`);
    const m = method.toUpperCase();
    if (this.#routes.some((r) => r.method === m && r.prefix === prefix)) throw new Error(`two web routes for ${m} ${prefix}`);
    this.#routes.push({ method: m, prefix, handler });
    // Longest prefix first: the first match is the most specific.
    this.#routes.sort((a, b) => b.prefix.length - a.prefix.length);
    return this;
  }

  /** Whether a request path belongs to the web interface (what http.ts hands here). */
  static owns(path: string): boolean {
    return path === "/web" || path.startsWith("/web/");
  }

  /** Answers a request under `/web` (always: 404/405 when nothing matches). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", this.#base);
    } catch {
      return sendPage(res, 400, "Bad request", "<p>That address is not valid.</p>");
    }
    const path = url.pathname;
    const method = (req.method ?? "GET").toUpperCase();
    const matching = this.#routes.filter((r) => matches(r.prefix, path));
    const route =
      matching.find((r) => r.method === method) ??
      (method === "HEAD" ? matching.find((r) => r.method === "GET") : undefined) ??
      matching.find((r) => r.method === "*");
    if (!route) {
      if (matching.length === 0) return sendPage(res, 404, "Not found", "<p>There is nothing at this address.</p>");
      const allow = [...new Set(matching.map((r) => r.method))].join(", ");
      res.setHeader("Allow", allow);
      return sendPage(res, 405, "Method not allowed", `<p>Use ${allow}.</p>`);
    }
    try {
      await route.handler(req, res, url);
    } catch (err) {
      this.#log.error({ err, method, path }, "web handler failed");
      if (res.headersSent) res.destroy();
      else sendPage(res, 500, "Something went wrong", "<p>The sharing manager could not answer this request. Try again.</p>");
    }
  }
}

function matches(prefix: string, path: string): boolean {
  if (prefix.endsWith("/")) return path.startsWith(prefix) || path === prefix.slice(0, -1);
  return path === prefix || path.startsWith(`${prefix}/`);
}
