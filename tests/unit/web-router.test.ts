/**
 * The web interface's router (component/web/router.ts) and page helpers (html.ts): longest
 * prefix wins, 404 and 405 with Allow, a throwing handler is a 500 page, and every
 * interpolated value of `html` is escaped.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CSP, html, sendPage } from "../../component/web/html.ts";
import { WebRouter } from "../../component/web/router.ts";

let server: http.Server;
let base = "";

beforeAll(async () => {
  const router = new WebRouter(pino({ level: "silent" }), "http://127.0.0.1/");
  const say = (what: string) => (_req: http.IncomingMessage, res: http.ServerResponse, url: URL) => sendPage(res, 200, what, html`<p>${what} ${url.pathname}</p>`);
  router
    .route("GET", "/web/login", say("login"))
    .route("POST", "/web/login", say("login-post"))
    .route("GET", "/web/files/", say("files"))
    .route("GET", "/web/files/special/", say("special"))
    .route("GET", "/web/boom", () => {
      throw new Error("boom");
    });
  server = http.createServer((req, res) => void router.handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function get(path: string, method = "GET") {
  const res = await fetch(base + path, { method });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe("web router", () => {
  it("routes by method and longest prefix", async () => {
    expect((await get("/web/login")).text).toContain("login /web/login");
    expect((await get("/web/login", "POST")).text).toContain("login-post");
    expect((await get("/web/files/a/b")).text).toContain("files /web/files/a/b");
    expect((await get("/web/files")).text).toContain("files /web/files");
    expect((await get("/web/files/special/x")).text).toContain("special /web/files/special/x");
  });

  it("does not match a prefix inside a longer name", async () => {
    expect((await get("/web/loginx")).status).toBe(404);
  });

  it("answers 405 with Allow for a known path and another method", async () => {
    const r = await get("/web/files/x", "DELETE");
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET");
  });

  it("answers a throwing handler with a 500 page, and the strict headers", async () => {
    const r = await get("/web/boom");
    expect(r.status).toBe(500);
    expect(r.headers.get("content-security-policy")).toBe(CSP);
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("html", () => {
  it("escapes every interpolated value, nested safe HTML stays", () => {
    const name = `<img src=x onerror=alert(1)>.txt`;
    const out = html`<li title="${name}">${name}${html`<b>${"&"}</b>`}${[name, html`<i></i>`]}</li>`.text;
    expect(out).toBe(`<li title="&lt;img src=x onerror=alert(1)&gt;.txt">&lt;img src=x onerror=alert(1)&gt;.txt<b>&amp;</b>&lt;img src=x onerror=alert(1)&gt;.txt<i></i></li>`);
    expect(html`${`'"`}`.text).toBe("&#39;&quot;");
  });
});
