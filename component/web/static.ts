/**
 * `GET /web/static/<name>`: the web interface's own style sheets, scripts and images, from
 * component/web/static/. Only flat names of known types are served (no path beyond the
 * folder, nothing hidden), each with its type, `nosniff` and the page headers of html.ts;
 * they change only with the component, so they may be cached briefly.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { securityHeaders, sendPage } from "./html.ts";
import type { WebRouter } from "./router.ts";

/** component/web/static/: beside this file, or, run from bin/launch.js's bundle in .build/, from there. */
const DIR = [new URL("./static/", import.meta.url), new URL("../component/web/static/", import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((d) => existsSync(join(d, "web.css"))) ?? fileURLToPath(new URL("./static/", import.meta.url));
const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};
const NAME = /^[a-z0-9][a-z0-9-]*\.(css|js|svg|png)$/;
export const STATIC_PREFIX = "/web/static/";

export function registerStatic(router: WebRouter): void {
  router.route("GET", STATIC_PREFIX, async (_req, res, url) => {
    const name = url.pathname.slice(STATIC_PREFIX.length);
    const m = NAME.exec(name);
    let bytes: Buffer | undefined;
    if (m) bytes = await readFile(join(DIR, name)).catch(() => undefined);
    if (!m || !bytes) return sendPage(res, 404, "Not found", "<p>There is nothing at this address.</p>");
    securityHeaders(res);
    res.setHeader("Cache-Control", "public, max-age=300");
    res.writeHead(200, { "Content-Type": TYPES[m[1]!]!, "Content-Length": bytes.length });
    res.end(bytes);
  });
}
