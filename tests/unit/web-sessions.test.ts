/**
 * The web interface's sign-in state on a fake clock: sessions (component/web/sessions.ts:
 * idle and absolute expiry, forged cookies, CSRF, cookie attributes), the rate limits
 * (rate-limit.ts), one-time links (links.ts) and confirmation attempts (confirmations.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import type { BareJid } from "../../protocol/ids.ts";
import { NS } from "../../protocol/ns.ts";
import { buildDenial, parseConfirm } from "../../protocol/stanzas/http-auth.ts";
import { Element } from "../../protocol/xml.ts";
import { Confirmations } from "../../component/web/confirmations.ts";
import { LoginLinks, MAX_PER_MEMBER } from "../../component/web/links.ts";
import { RateLimit } from "../../component/web/rate-limit.ts";
import { COOKIE, WebSessions } from "../../component/web/sessions.ts";

const alice = "alice@example.org" as BareJid;
const MIN = 60_000;

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function counter(prefix: string) {
  let n = 0;
  return () => `${prefix}${String(++n).padStart(24, "0")}`;
}

/** A response that only records headers (all sessions.ts touches). */
function fakeRes() {
  const headers = new Map<string, unknown>();
  return {
    headers,
    getHeader: (k: string) => headers.get(k.toLowerCase()),
    setHeader: (k: string, v: unknown) => headers.set(k.toLowerCase(), v),
  } as unknown as ServerResponse & { headers: Map<string, unknown> };
}

function reqWith(cookie?: string): IncomingMessage {
  return { headers: cookie === undefined ? {} : { cookie } } as IncomingMessage;
}

function cookieOf(res: { headers: Map<string, unknown> }): string {
  const list = res.headers.get("set-cookie") as string[];
  const value = list.at(-1)!.split(";")[0]!;
  return value;
}

function sessions(c = clock(), secure = false) {
  return { c, s: new WebSessions({ now: c.now, random: counter("t"), idleMs: 30 * MIN, maxMs: 12 * 60 * MIN, secure }) };
}

describe("web sessions", () => {
  it("a new session's cookie names its user; HttpOnly, SameSite=Strict, Path=/web", () => {
    const { s } = sessions();
    const res = fakeRes();
    const user = s.create(res, alice);
    const header = (res.headers.get("set-cookie") as string[])[0]!;
    expect(header).toMatch(new RegExp(`^${COOKIE}=t0+1; `));
    expect(header).toContain("HttpOnly");
    expect(header).toContain("SameSite=Strict");
    expect(header).toContain("Path=/web");
    expect(header).not.toContain("Secure");
    expect(s.user(reqWith(`other=1; ${cookieOf(res)}`))).toEqual(user);
    expect(user.csrf).not.toBe(cookieOf(res).split("=")[1]);
  });

  it("is Secure when the public URL is https", () => {
    const { s } = sessions(clock(), true);
    const res = fakeRes();
    s.create(res, alice);
    expect((res.headers.get("set-cookie") as string[])[0]).toContain("; Secure");
  });

  it("a forged, malformed or missing cookie is no session", () => {
    const { s } = sessions();
    const res = fakeRes();
    s.create(res, alice);
    expect(s.user(reqWith())).toBeUndefined();
    expect(s.user(reqWith(`${COOKIE}=t000000000000000000000099`))).toBeUndefined();
    expect(s.user(reqWith(`${COOKIE}=<script>`))).toBeUndefined();
    expect(s.user(reqWith(`${COOKIE}=`))).toBeUndefined();
  });

  it("ends after the idle time without requests, and a request restarts the idle timer", () => {
    const { c, s } = sessions();
    const res = fakeRes();
    s.create(res, alice);
    const req = reqWith(cookieOf(res));
    c.advance(29 * MIN);
    expect(s.user(req)?.jid).toBe(alice);
    c.advance(29 * MIN);
    expect(s.user(req)?.jid).toBe(alice);
    c.advance(30 * MIN);
    expect(s.user(req)).toBeUndefined();
    // Gone for good, even if the clock went back.
    c.advance(-30 * MIN);
    expect(s.user(req)).toBeUndefined();
  });

  it("ends at the absolute limit however busy it is", () => {
    const { c, s } = sessions();
    const res = fakeRes();
    s.create(res, alice);
    const req = reqWith(cookieOf(res));
    for (let i = 0; i < 12 * 6 - 1; i++) {
      c.advance(10 * MIN);
      expect(s.user(req)?.jid).toBe(alice);
    }
    c.advance(10 * MIN);
    expect(s.user(req)).toBeUndefined();
  });

  it("checks the CSRF token of the session, not another's", () => {
    const { s } = sessions();
    const a = s.create(fakeRes(), alice);
    const b = s.create(fakeRes(), "bob@example.org" as BareJid);
    expect(s.checkCsrf(a, a.csrf)).toBe(true);
    expect(s.checkCsrf(a, b.csrf)).toBe(false);
    expect(s.checkCsrf(a, undefined)).toBe(false);
    expect(s.checkCsrf(a, "")).toBe(false);
    expect(s.checkCsrf(a, `${a.csrf}x`)).toBe(false);
  });

  it("sign-out ends the session and clears the cookie", () => {
    const { s } = sessions();
    const res = fakeRes();
    s.create(res, alice);
    const req = reqWith(cookieOf(res));
    const out = fakeRes();
    s.destroy(req, out);
    expect(s.user(req)).toBeUndefined();
    expect((out.headers.get("set-cookie") as string[])[0]).toMatch(new RegExp(`^${COOKIE}=; .*Max-Age=0`));
  });
});

describe("rate limit", () => {
  it("allows `limit` attempts in any window, then says how long to wait", () => {
    const c = clock();
    const r = new RateLimit({ limit: 3, windowMs: 10 * MIN, now: c.now });
    expect([r.take("a"), r.take("a"), r.take("a")]).toEqual([0, 0, 0]);
    expect(r.take("a")).toBe(10 * MIN);
    expect(r.take("b")).toBe(0);
    c.advance(4 * MIN);
    expect(r.take("a")).toBe(6 * MIN);
    c.advance(6 * MIN);
    expect(r.take("a")).toBe(0);
  });

  it("keeps at most maxKeys keys", () => {
    const c = clock();
    const r = new RateLimit({ limit: 1, windowMs: 10 * MIN, now: c.now, maxKeys: 2 });
    r.take("a");
    r.take("b");
    r.take("c");
    // "a" was forgotten (the oldest), so it may try again; "c" may not.
    expect(r.take("a")).toBe(0);
    expect(r.take("c")).toBeGreaterThan(0);
  });
});

describe("one-time links", () => {
  it("work once, for their lifetime only", () => {
    const c = clock();
    const links = new LoginLinks({ now: c.now, random: counter("l"), ttlMs: 5 * MIN });
    const one = links.issue(alice);
    expect(links.peek(one.token)).toBe(alice);
    expect(links.consume(one.token)).toBe(alice);
    expect(links.consume(one.token)).toBeUndefined();
    const two = links.issue(alice);
    c.advance(5 * MIN);
    expect(links.consume(two.token)).toBeUndefined();
    expect(links.consume("nonsense")).toBeUndefined();
  });

  it("keeps at most MAX_PER_MEMBER live links per member, dropping the oldest", () => {
    const links = new LoginLinks({ now: clock().now, random: counter("l"), ttlMs: 5 * MIN });
    const tokens = Array.from({ length: MAX_PER_MEMBER + 1 }, () => links.issue(alice).token);
    expect(links.peek(tokens[0]!)).toBeUndefined();
    for (const t of tokens.slice(1)) expect(links.peek(t)).toBe(alice);
  });
});

describe("confirmation attempts", () => {
  function setup(answers: Array<(iq: Element) => Promise<Element>>) {
    const c = clock();
    const asked: Element[] = [];
    let i = 0;
    const conf = new Confirmations({
      now: c.now,
      random: counter("s"),
      randomBytes: (n) => Buffer.alloc(n, 7),
      confirmMs: 2 * MIN,
      domain: "share.example.org",
      loginUrl: "https://share.example.org/web/login",
      request: (iq) => {
        asked.push(iq);
        return answers[i++]!(iq);
      },
    });
    return { c, conf, asked };
  }
  const later = <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const p = new Promise<T>((a, b) => ((resolve = a), (reject = b)));
    return { p, resolve, reject };
  };
  const denial = () => Object.assign(new Error("denied"), { reply: (() => { const iq = new Element("iq", { type: "error" }); iq.cnode(buildDenial("no")); return iq; })() });
  const tick = () => new Promise((r) => setImmediate(r));

  it("asks every client with XEP-0070's <confirm/> in an IQ get; the first result signs in, once", async () => {
    const first = later<Element>();
    const second = later<Element>();
    const { conf, asked } = setup([() => first.p, () => second.p]);
    const { secret, attempt } = conf.start(alice, ["alice@example.org/a", "alice@example.org/b"]);
    expect(asked.map((iq) => [iq.attrs.type, iq.attrs.to, iq.attrs.from])).toEqual([
      ["get", "alice@example.org/a", "share.example.org"],
      ["get", "alice@example.org/b", "share.example.org"],
    ]);
    expect(parseConfirm(asked[0]!.getChild("confirm", NS.httpAuth)!)).toEqual({ id: attempt.tx, method: "POST", url: "https://share.example.org/web/login" });
    expect(attempt.tx).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(conf.take(secret)).toBeUndefined();
    second.resolve(new Element("iq", { type: "result" }));
    await tick();
    expect(conf.get(secret)?.state).toBe("confirmed");
    // A later denial from the other device changes nothing.
    first.reject(denial());
    await tick();
    expect(conf.take(secret)).toBe(alice);
    expect(conf.take(secret)).toBeUndefined();
  });

  it("a denial from any client refuses at once", async () => {
    const first = later<Element>();
    const { conf } = setup([() => first.p, () => new Promise<Element>(() => undefined)]);
    const { secret } = conf.start(alice, ["alice@example.org/a", "alice@example.org/b"]);
    first.reject(denial());
    await tick();
    expect(conf.get(secret)?.state).toBe("refused");
    expect(conf.take(secret)).toBeUndefined();
  });

  it("other errors and timeouts refuse only once every client failed", async () => {
    const a = later<Element>();
    const b = later<Element>();
    const { conf } = setup([() => a.p, () => b.p]);
    const { secret } = conf.start(alice, ["alice@example.org/a", "alice@example.org/b"]);
    a.reject(new Error("no answer within 120000 ms"));
    await tick();
    expect(conf.get(secret)?.state).toBe("pending");
    b.reject(Object.assign(new Error("x"), { reply: new Element("iq", { type: "error" }) }));
    await tick();
    expect(conf.get(secret)?.state).toBe("refused");
  });

  it("an attempt nobody decides expires, and a late result does not sign it in", async () => {
    const a = later<Element>();
    const { c, conf } = setup([() => a.p]);
    const { secret } = conf.start(alice, ["alice@example.org/a"]);
    c.advance(2 * MIN);
    a.resolve(new Element("iq", { type: "result" }));
    await tick();
    expect(conf.get(secret)?.state).toBe("expired");
    expect(conf.take(secret)).toBeUndefined();
  });

  it("an unknown secret is no attempt", () => {
    const { conf } = setup([]);
    expect(conf.get("s-none")).toBeUndefined();
    expect(conf.take("s-none")).toBeUndefined();
  });
});
