// The local UI server's gate (client/ui/server.ts): the secret and its cookie, the Host check
// (DNS rebinding), cross-site requests, the static files, the event stream. A test module
// stands for im/share/confirm; the daemon is not needed by the server itself.
import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Daemon } from "../../client/daemon.ts";
import { readJsonObject, sendJson } from "../../client/ui/http.ts";
import type { UiModuleFactory } from "../../client/ui/module.ts";
import { CSP, UiServer } from "../../client/ui/server.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: { Host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const posted: unknown[] = [];
const testModule: UiModuleFactory = (ctx) => ({
  name: "echo",
  snapshot: () => ({ hello: "world" }),
  async handle(req, res, url) {
    if (url.pathname !== "/api/echo/say") return false;
    const body = await readJsonObject(req, 1024);
    posted.push(body);
    ctx.publish("echo-said", body);
    sendJson(res, 200, { ok: true });
    return true;
  },
});

let server: UiServer;
let port: number;
let secret: string;
let cookie: string;

beforeEach(async () => {
  posted.length = 0;
  server = new UiServer({ daemon: {} as Daemon, home: { stateDir: "/nonexistent" } as never, config: {} as never }, { modules: [testModule], heartbeatMs: 50 });
  const info = await server.listen();
  port = info.port;
  secret = new URL(info.url).searchParams.get("k")!;
  const signIn = await call(port, `/?k=${encodeURIComponent(secret)}`);
  expect(signIn.status).toBe(303);
  cookie = String(signIn.headers["set-cookie"]).split(";")[0]!;
});

afterEach(async () => {
  await server.close();
});

describe("the secret and the cookie", () => {
  it("the right secret sets an HttpOnly, SameSite=Strict cookie for this port and redirects to /", async () => {
    const r = await call(port, `/?k=${secret}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe("/");
    const c = String(r.headers["set-cookie"]);
    expect(c).toMatch(new RegExp(`^xshare_ui_${port}=[A-Za-z0-9_-]{43}; `));
    expect(c).toContain("HttpOnly");
    expect(c).toContain("SameSite=Strict");
    expect(c).not.toContain(secret);
  });

  it("a wrong secret gets 401 and no cookie", async () => {
    for (const k of ["wrong", secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A"), ""]) {
      const r = await call(port, `/?k=${encodeURIComponent(k)}`);
      expect(r.status).toBe(401);
      expect(r.headers["set-cookie"]).toBeUndefined();
      expect(r.body).toContain("xshare ui");
    }
  });

  it("without the cookie: 401 for the page, the static files and the API", async () => {
    for (const path of ["/", "/static/app.js", "/api/state", "/api/events", "/api/echo/say"]) {
      const r = await call(port, path);
      expect(r.status, path).toBe(401);
      expect(r.body, path).toContain("xshare ui");
    }
    expect((await call(port, "/api/state", { headers: { Cookie: `xshare_ui_${port}=forged` } })).status).toBe(401);
    // Another port's cookie name with this value: not this server's session.
    expect((await call(port, "/api/state", { headers: { Cookie: `xshare_ui_1${cookie.slice(cookie.indexOf("="))}` } })).status).toBe(401);
  });

  it("with the cookie: the page, with the strict CSP and the module's stylesheet link only if it has one", async () => {
    const r = await call(port, "/", { headers: { Cookie: cookie } });
    expect(r.status).toBe(200);
    expect(r.headers["content-security-policy"]).toBe(CSP);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["referrer-policy"]).toBe("no-referrer");
    expect(r.body).toContain('<script type="module" src="/static/app.js">');
    expect(r.body).not.toContain("/static/echo.css"); // no such file
    expect(r.body).not.toContain("<!--module-styles-->");
  });

  it("GET /api/state: every module's snapshot by name", async () => {
    const r = await call(port, "/api/state", { headers: { Cookie: cookie } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ echo: { hello: "world" } });
  });
});

describe("the Host check (DNS rebinding)", () => {
  it("refuses any Host but 127.0.0.1:<port> and localhost:<port>, cookie or not", async () => {
    for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1:${port + 1}`, "127.0.0.1", `localhost.evil.example:${port}`, `[::1]:${port}`]) {
      const r = await call(port, "/api/state", { headers: { Host: host, Cookie: cookie } });
      expect(r.status, host).toBe(421);
      expect(r.body, host).not.toContain("hello");
      const s = await call(port, `/?k=${secret}`, { headers: { Host: host } });
      expect(s.status, host).toBe(421);
      expect(s.headers["set-cookie"], host).toBeUndefined();
    }
    expect((await call(port, "/api/state", { headers: { Host: `localhost:${port}`, Cookie: cookie } })).status).toBe(200);
  });
});

describe("cross-site requests", () => {
  const json = { "Content-Type": "application/json" };
  it("a POST needs the page's Origin and X-Xshare: 1; nothing is done otherwise", async () => {
    const body = JSON.stringify({ say: "hi" });
    const refused = [
      { ...json, Cookie: cookie, Origin: "http://evil.example", "X-Xshare": "1" },
      { ...json, Cookie: cookie, Origin: `http://127.0.0.1:${port}` },
      { ...json, Cookie: cookie, "X-Xshare": "1" },
      { ...json, Cookie: cookie, Origin: "null", "X-Xshare": "1" },
      { ...json, Cookie: cookie, Origin: `http://localhost:${port}`, "X-Xshare": "1" }, // Host says 127.0.0.1
    ];
    for (const headers of refused) {
      const r = await call(port, "/api/echo/say", { method: "POST", headers, body });
      expect(r.status).toBe(403);
      expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    }
    expect(posted).toEqual([]);
    const good = await call(port, "/api/echo/say", { method: "POST", headers: { ...json, Cookie: cookie, Origin: `http://127.0.0.1:${port}`, "X-Xshare": "1" }, body });
    expect(good.status).toBe(200);
    expect(posted).toEqual([{ say: "hi" }]);
  });

  it("a CORS preflight gets no CORS header", async () => {
    const r = await call(port, "/api/echo/say", { method: "OPTIONS", headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-xshare" } });
    expect(r.status).toBe(403);
    expect(Object.keys(r.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
  });

  it("the page's own POST with a bad body: 415, 413, 400, each with a sentence", async () => {
    const h = { Cookie: cookie, Origin: `http://127.0.0.1:${port}`, "X-Xshare": "1" };
    const form = await call(port, "/api/echo/say", { method: "POST", headers: { ...h, "Content-Type": "application/x-www-form-urlencoded" }, body: "say=hi" });
    expect(form.status).toBe(415);
    const big = await call(port, "/api/echo/say", { method: "POST", headers: { ...h, ...json }, body: JSON.stringify({ say: "x".repeat(2000) }) });
    expect(big.status).toBe(413);
    const bad = await call(port, "/api/echo/say", { method: "POST", headers: { ...h, ...json }, body: "{nope" });
    expect(bad.status).toBe(400);
    for (const r of [form, big, bad]) expect(typeof JSON.parse(r.body).error).toBe("string");
    expect(posted).toEqual([]);
  });
});

describe("static files", () => {
  it("serves the listed files with their types, nothing else", async () => {
    const js = await call(port, "/static/app.js", { headers: { Cookie: cookie } });
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toMatch(/^text\/javascript/);
    expect((await call(port, "/static/style.css", { headers: { Cookie: cookie } })).headers["content-type"]).toMatch(/^text\/css/);
    for (const path of ["/static/../server.ts", "/static/%2e%2e/server.ts", "/static/index.html", "/static/nope.js", "/static/APP.js", "/static/"]) {
      expect((await call(port, path, { headers: { Cookie: cookie } })).status, path).toBe(404);
    }
  });
});

describe("server-sent events", () => {
  it("streams what modules publish and heartbeat comments, and ends when the server closes", async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/api/events", headers: { Host: `127.0.0.1:${port}`, Cookie: cookie } }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
        let text = "";
        let published = false;
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
          if (!published && text.includes(": connected")) {
            published = true;
            // Through a module's request, as the page would.
            void call(port, "/api/echo/say", { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, Origin: `http://127.0.0.1:${port}`, "X-Xshare": "1" }, body: JSON.stringify({ say: "<b>hi</b>\nthere" }) });
          }
          if (text.includes("event: echo-said") && text.includes(": heartbeat")) void server.close();
        });
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    expect(got).toContain(`event: echo-said\ndata: ${JSON.stringify({ say: "<b>hi</b>\nthere" })}\n\n`);
    expect(got).toContain(": heartbeat\n\n");
  });

  it("HEAD of the stream answers and ends", async () => {
    const r = await call(port, "/api/events", { method: "HEAD", headers: { Cookie: cookie } });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/event-stream/);
  });

  it("cuts a stream whose reader stopped reading, instead of buffering without end", async () => {
    // A frozen tab: the page reads nothing while 32 MiB of events are published (more than the
    // kernel's socket buffers and the 1 MiB the server lets wait). When it reads again, its
    // stream has been ended; an event stream that was not cut would never end.
    const ended = await new Promise<boolean>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/api/events", headers: { Host: `127.0.0.1:${port}`, Cookie: cookie } }, (res) => {
        res.pause();
        const big = "x".repeat(64 * 1024);
        let sent = 0;
        const pump = () => {
          for (let i = 0; i < 16; i++, sent++) server.publish("bulk", big);
          if (sent < 512) return void setTimeout(pump, 2);
          res.on("end", () => resolve(true));
          res.on("error", () => resolve(true));
          res.on("close", () => resolve(true));
          res.resume();
        };
        pump();
      });
      req.on("error", () => resolve(true));
      req.end();
      setTimeout(() => reject(new Error("the stream was never cut")), 25_000);
    });
    expect(ended).toBe(true);
  });

  it("refuses event types that could break the stream", () => {
    expect(() => server.publish("a\ndata: x", {})).toThrow();
    expect(() => server.publish("", {})).toThrow();
  });
});
