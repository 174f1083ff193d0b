/**
 * The web sign-in's HTTP side in-process (component/web/: router, sign-in pages, sessions,
 * confirmations, links) over a real HTTP server, with the IQ router of the service and a fake
 * XMPP side that records the confirmation requests and answers as told: the attempt is bound
 * to the browser that made it, cross-site posts and sign-out without the CSRF token are
 * refused, a one-time link from `<web-login/>` works once, sessions end on the fake clock.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NS } from "../../protocol/ns.ts";
import { buildDenial, parseConfirm } from "../../protocol/stanzas/http-auth.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import { buildWebLoginRequest, type WebLoginLink } from "../../protocol/stanzas/web-login.ts";
import { Element } from "../../protocol/xml.ts";
import { registerWebLogin } from "../../component/modules/web-login.ts";
import { buildWeb } from "../../component/web/web.ts";
import { DOMAIN, makeComponent } from "./fixtures/component.ts";

const ALICE = "alice@example.org";
const ALICE_CLIENT = `${ALICE}/xshare-laptop`;

let c: ReturnType<typeof makeComponent>;
let server: http.Server;
let base = "";
/** The confirmation requests sent, each with how to answer it. */
const asked: Array<{ iq: Element; accept: () => void; deny: () => void }> = [];

beforeAll(async () => {
  c = makeComponent();
  await c.ok(ALICE_CLIENT, "set", S.buildCreateSpace({ kind: "mine", name: "Mine", members: [] }));
  server = http.createServer((req, res) => void web.router.handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The public URL as the browser sees it (the origin posts must come from).
  (c.deps.config as { publicUrl: string }).publicUrl = `${base}/`;
  web = buildWeb(c.deps, {
    clients: (member) => (member === ALICE ? [ALICE_CLIENT] : []),
    request: (iq) =>
      new Promise<Element>((resolve, reject) => {
        asked.push({
          iq,
          accept: () => resolve(new Element("iq", { type: "result", from: iq.attrs.to })),
          deny: () => {
            const reply = new Element("iq", { type: "error", from: iq.attrs.to });
            reply.cnode(buildDenial("no"));
            reject(Object.assign(new Error("denied"), { reply }));
          },
        });
      }),
  });
  registerWebLogin(c.router, web.links, `${base}/`);
});
let web: ReturnType<typeof buildWeb>;

afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A browser of sorts: keeps its cookies, sends the site's Origin on posts. */
function browser() {
  const jar = new Map<string, string>();
  const send = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method,
      redirect: "manual",
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(body !== undefined ? { "content-type": "application/x-www-form-urlencoded", origin: base } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [k, v] = pair!.split("=") as [string, string];
      if (v === "") jar.delete(k);
      else jar.set(k, v);
    }
    return { status: res.status, location: res.headers.get("location"), text: await res.text(), cookies: res.headers.getSetCookie() };
  };
  return { jar, send };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("sign-in by confirmation, in-process", () => {
  it("asks Alice's sharing client with XEP-0070 <confirm/>; the confirmed attempt signs in only the browser that made it", async () => {
    const b = browser();
    const page = await b.send("POST", "/web/login", `jid=${encodeURIComponent(ALICE)}`);
    expect(page.status).toBe(200);
    const tx = /<p class="tx" id="tx">([^<]+)<\/p>/.exec(page.text)![1]!;
    const req = asked.at(-1)!;
    expect(req.iq.attrs).toMatchObject({ type: "get", to: ALICE_CLIENT, from: DOMAIN });
    expect(parseConfirm(req.iq.getChild("confirm", NS.httpAuth)!)).toEqual({ id: tx, method: "POST", url: `${base}/web/login` });
    expect(JSON.parse((await b.send("GET", "/web/login/wait")).text).state).toBe("pending");
    req.accept();
    await tick();
    expect(JSON.parse((await b.send("GET", "/web/login/wait")).text)).toMatchObject({ state: "confirmed", next: "/web/login/continue" });

    // Someone else who saw the code (or the URL) gets nothing: the attempt is this browser's.
    const other = browser();
    expect((await other.send("GET", "/web/login/continue")).status).toBe(403);
    expect(other.jar.has("xshare_web")).toBe(false);

    const attempt = b.jar.get("xshare_signin")!;
    const cont = await b.send("GET", "/web/login/continue");
    expect(cont.status).toBe(303);
    expect(cont.location).toBe("/web/");
    expect(cont.cookies.find((l) => l.startsWith("xshare_web="))).toMatch(/HttpOnly; SameSite=Strict/);
    const account = await b.send("GET", "/web/account");
    expect(account.status).toBe(200);
    expect(account.text).toContain(ALICE);
    // Used up: the same confirmation does not make a second session, even with its cookie kept.
    expect(b.jar.has("xshare_signin")).toBe(false);
    const replay = await browser().send("GET", "/web/login/continue", undefined, { cookie: `xshare_signin=${attempt}` });
    expect(replay.status).toBe(403);
    expect(replay.cookies.some((l) => l.startsWith("xshare_web="))).toBe(false);
  });

  it("a denial refuses; a post from another site is refused before anything is sent", async () => {
    const b = browser();
    await b.send("POST", "/web/login", `jid=${encodeURIComponent(ALICE)}`);
    asked.at(-1)!.deny();
    await tick();
    expect(JSON.parse((await b.send("GET", "/web/login/wait")).text)).toMatchObject({ state: "refused", text: "The sign-in was denied on your device." });
    expect((await b.send("GET", "/web/login/continue")).status).toBe(403);

    const n = asked.length;
    const evil = await browser().send("POST", "/web/login", `jid=${encodeURIComponent(ALICE)}`, { origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    expect(asked.length).toBe(n);
  });

  it("sign-out needs the session's CSRF token", async () => {
    const b = browser();
    await b.send("POST", "/web/login", `jid=${encodeURIComponent(ALICE)}`);
    asked.at(-1)!.accept();
    await tick();
    await b.send("GET", "/web/login/continue");
    const account = await b.send("GET", "/web/account");
    const csrf = /name="csrf" value="([^"]+)"/.exec(account.text)![1]!;
    expect((await b.send("POST", "/web/logout", "csrf=wrong")).status).toBe(403);
    expect((await b.send("POST", "/web/logout", "")).status).toBe(403);
    expect((await b.send("GET", "/web/account")).status).toBe(200);
    const out = await b.send("POST", "/web/logout", `csrf=${encodeURIComponent(csrf)}`);
    expect(out.location).toBe("/web/login?bye");
    expect((await b.send("GET", "/web/account")).location).toBe("/web/login");
  });

  it("a form of another type or too large is refused", async () => {
    const b = browser();
    expect((await b.send("POST", "/web/login", "{}", { "content-type": "application/json" })).status).toBe(415);
    expect((await b.send("POST", "/web/login", `jid=${"a".repeat(20_000)}`)).status).toBe(413);
  });
});

describe("one-time links in-process", () => {
  it("<web-login/> makes a link for the requester that signs in once; the session ends on the clock", async () => {
    const link = await c.ok<WebLoginLink>(ALICE_CLIENT, "set", buildWebLoginRequest());
    expect(link.url.startsWith(`${base}/web/login/link/`)).toBe(true);
    const path = new URL(link.url).pathname;
    const b = browser();
    const ask = await b.send("GET", path);
    expect(ask.text).toContain(`Sign in as ${ALICE}?`);
    expect(b.jar.has("xshare_web")).toBe(false); // looking does not sign in
    const used = await b.send("POST", path, "");
    expect(used.location).toBe("/web/");
    expect((await b.send("GET", "/web/account")).status).toBe(200);
    expect((await browser().send("POST", path, "")).status).toBe(410);
    expect((await browser().send("GET", path)).status).toBe(410);

    c.advance(c.deps.config.web.idleMs);
    expect((await b.send("GET", "/web/account")).location).toBe("/web/login");
  });
});
