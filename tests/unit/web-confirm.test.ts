/**
 * The sharing client's side of the web sign-in (client/web-confirm.ts) and the stanzas it
 * reads (protocol/stanzas/http-auth.ts, web-login.ts): only the own sharing manager is heard,
 * malformed input gets a stanza error (never a throw), accept/deny/expiry answer the IQ.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ShareError } from "../../protocol/errors.ts";
import { NS } from "../../protocol/ns.ts";
import { buildConfirm, isDenial, parseConfirm } from "../../protocol/stanzas/http-auth.ts";
import { buildWebLogin, buildWebLoginRequest, parseWebLogin, parseWebLoginRequest } from "../../protocol/stanzas/web-login.ts";
import { type Element, parseXml } from "../../protocol/xml.ts";
import { WebConfirm, MAX_PENDING } from "../../client/web-confirm.ts";

const MANAGER = "share.example.org";
const good = () => buildConfirm({ id: "K7QX-4MDP", method: "POST", url: "https://share.example.org/web/login" });
const wire = (el: Element) => parseXml(el.toString());

function condition(reply: Element | true): string | undefined {
  if (reply === true) return undefined;
  return reply.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === NS.stanzas && c.name !== "text")?.name;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("XEP-0070 <confirm/>", () => {
  it("round-trips", () => {
    expect(parseConfirm(wire(good()))).toEqual({ id: "K7QX-4MDP", method: "POST", url: "https://share.example.org/web/login" });
  });

  it.each([
    ["no id", `<confirm xmlns='${NS.httpAuth}' method='POST' url='https://x.org/'/>`],
    ["empty id", `<confirm xmlns='${NS.httpAuth}' id='' method='POST' url='https://x.org/'/>`],
    ["id with a space", `<confirm xmlns='${NS.httpAuth}' id='a b' method='POST' url='https://x.org/'/>`],
    ["long id", `<confirm xmlns='${NS.httpAuth}' id='${"a".repeat(65)}' method='POST' url='https://x.org/'/>`],
    ["lower-case method", `<confirm xmlns='${NS.httpAuth}' id='a' method='post' url='https://x.org/'/>`],
    ["no url", `<confirm xmlns='${NS.httpAuth}' id='a' method='POST'/>`],
    ["javascript url", `<confirm xmlns='${NS.httpAuth}' id='a' method='POST' url='javascript:alert(1)'/>`],
    ["not a url", `<confirm xmlns='${NS.httpAuth}' id='a' method='POST' url='x'/>`],
    ["children", `<confirm xmlns='${NS.httpAuth}' id='a' method='POST' url='https://x.org/'><x/></confirm>`],
    ["other namespace", `<confirm xmlns='urn:other' id='a' method='POST' url='https://x.org/'/>`],
  ])("refuses %s with bad-request", (_what, xml) => {
    expect(() => parseConfirm(parseXml(xml))).toThrow(ShareError);
  });

  it("mutated confirms are parsed or refused with a ShareError, never a TypeError", () => {
    const attrs = ["id", "method", "url", "xmlns"];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...attrs), fc.option(fc.string({ maxLength: 80 }))), { maxLength: 6 }), (edits) => {
        const el = wire(good());
        for (const [k, v] of edits) {
          if (v === null) delete el.attrs[k];
          else el.attrs[k] = v;
        }
        try {
          parseConfirm(el);
        } catch (e) {
          if (!(e instanceof ShareError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("<web-login/>", () => {
  it("round-trips", () => {
    expect(() => parseWebLoginRequest(wire(buildWebLoginRequest()))).not.toThrow();
    const link = { url: "https://share.example.org/web/login/link/abcdefghijklmnopqrstuvwxyz", expiresMs: Date.UTC(2026, 10, 25, 10, 5) };
    expect(parseWebLogin(wire(buildWebLogin(link)))).toEqual(link);
  });

  it("refuses malformed ones", () => {
    expect(() => parseWebLoginRequest(parseXml(`<web-login xmlns='${NS.share}' token='x'/>`))).toThrow(ShareError);
    expect(() => parseWebLogin(parseXml(`<web-login xmlns='${NS.share}' url='ftp://x/' expires='2026-11-25T10:05:00Z'/>`))).toThrow(ShareError);
    expect(() => parseWebLogin(parseXml(`<web-login xmlns='${NS.share}' url='https://x/'/>`))).toThrow(ShareError);
  });
});

describe("WebConfirm (the daemon's held requests)", () => {
  it("holds a request from its sharing manager until the user accepts: an empty result", async () => {
    const c = new WebConfirm({ component: MANAGER });
    const seen: number[] = [];
    c.onChange = (list) => seen.push(list.length);
    const reply = c.handle(MANAGER, wire(good()));
    expect(c.list()).toMatchObject([{ id: "K7QX-4MDP", host: "share.example.org", method: "POST", from: MANAGER }]);
    expect(c.answer("k7qx-4mdp", true)).toBe(true);
    expect(await reply).toBe(true);
    expect(c.list()).toEqual([]);
    expect(seen).toEqual([1, 0]);
    expect(c.answer("K7QX-4MDP", true)).toBe(false);
  });

  it("a denial is not-authorized (XEP-0070 § 6)", async () => {
    const c = new WebConfirm({ component: MANAGER });
    const reply = c.handle(MANAGER, wire(good()));
    c.answer("K7QX-4MDP", false);
    const r = await reply;
    expect(condition(r)).toBe("not-authorized");
  });

  it("nobody but its own sharing manager is heard, and nothing is held", async () => {
    const c = new WebConfirm({ component: MANAGER });
    for (const from of ["evil.example.org", "share.example.org/res", "mallory@example.org/x", ""]) {
      expect(condition(await c.handle(from, wire(good())))).toBe("service-unavailable");
    }
    expect(c.list()).toEqual([]);
  });

  it("malformed requests get bad-request, nothing is held", async () => {
    const c = new WebConfirm({ component: MANAGER });
    expect(condition(await c.handle(MANAGER, undefined))).toBe("bad-request");
    expect(condition(await c.handle(MANAGER, parseXml(`<confirm xmlns='${NS.httpAuth}' id='a'/>`)))).toBe("bad-request");
    expect(condition(await c.handle(MANAGER, parseXml(`<confirm xmlns='${NS.httpAuth}' id='a' method='POST' url='file:///etc/passwd'/>`)))).toBe("bad-request");
    expect(c.list()).toEqual([]);
  });

  it("a duplicate transaction is a conflict; more than MAX_PENDING is resource-constraint", async () => {
    const c = new WebConfirm({ component: MANAGER });
    void c.handle(MANAGER, wire(good()));
    expect(condition(await c.handle(MANAGER, wire(good())))).toBe("conflict");
    for (let i = 1; i < MAX_PENDING; i++) void c.handle(MANAGER, wire(buildConfirm({ id: `T${i}`, method: "POST", url: "https://share.example.org/web/login" })));
    expect(condition(await c.handle(MANAGER, wire(buildConfirm({ id: "ONE-MORE", method: "POST", url: "https://share.example.org/web/login" }))))).toBe("resource-constraint");
    c.close();
    expect(c.list()).toEqual([]);
  });

  it("an unanswered request expires: not-authorized, and it is dropped", async () => {
    vi.useFakeTimers();
    const c = new WebConfirm({ component: MANAGER, ttlMs: 90_000 });
    const reply = c.handle(MANAGER, wire(good()));
    vi.advanceTimersByTime(89_999);
    expect(c.list()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    const r = await reply;
    expect(r !== true && isDenial(((): Element => { const iq = parseXml("<iq type='error'/>"); iq.cnode(r); return iq; })())).toBe(true);
    expect(c.list()).toEqual([]);
    expect(c.answer("K7QX-4MDP", true)).toBe(false);
  });

  it("stopping denies what is held", async () => {
    const c = new WebConfirm({ component: MANAGER });
    const reply = c.handle(MANAGER, wire(good()));
    c.close();
    expect(condition(await reply)).toBe("not-authorized");
  });
});
