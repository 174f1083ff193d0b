import { describe, expect, it } from "vitest";
import { ERRORS, type ErrorCode, ShareError, xmlSafe } from "../../protocol/errors.ts";
import { NS } from "../../protocol/ns.ts";
import { Element, parseXml } from "../../protocol/xml.ts";

const wire = (el: Element) => parseXml(el.toString());
const appOf = (code: ErrorCode): string | undefined => (ERRORS[code] as { app?: string }).app;

describe("ShareError", () => {
  it.each(Object.keys(ERRORS) as ErrorCode[])("%s survives toElement → fromElement", (code) => {
    const err = new ShareError(code, { text: "why", attrs: appOf(code) ? { reason: "r" } : {} });
    const back = ShareError.fromElement(wire(err.toElement()));
    expect(back.code).toBe(code);
    expect(back.type).toBe(ERRORS[code].type);
    expect(back.condition).toBe(ERRORS[code].condition);
    expect(back.message).toBe("why");
    if (appOf(code)) expect(back.attrs.reason).toBe("r");
  });

  it("a payload attribute cannot move the application condition into another namespace", () => {
    const el = new ShareError("invalid-path", { attrs: { xmlns: "urn:evil", reason: "dot" } }).toElement();
    expect(el.getChild("invalid-path", NS.errors)).toBeDefined();
  });

  it("characters XML cannot carry are written out, so the stanza stays well-formed", () => {
    const el = new ShareError("invalid-path", { text: "bad \u0001 name", attrs: { path: "a\u0000b\ud800" } }).toElement();
    const back = ShareError.fromElement(wire(el));
    expect(back.message).toBe("bad \\u{1} name");
    expect(back.attrs.path).toBe("a\\u{0}b\\u{d800}");
    expect(xmlSafe("plain ü 😀\n\t")).toBe("plain ü 😀\n\t");
  });

  it("reads errors from other software: defined condition, no text, no app condition", () => {
    const e = ShareError.fromElement(parseXml("<error type='wait'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"));
    expect(e.code).toBe("unavailable");
    expect(e.message).toBe(ERRORS.unavailable.text);
    const c = ShareError.fromElement(parseXml("<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"));
    expect(c.condition).toBe("conflict");
    const u = ShareError.fromElement(parseXml("<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"));
    expect(u.code).toBe("internal");
  });

  it("keeps the peer's error type when it differs from the registry's", () => {
    const e = ShareError.fromElement(parseXml("<error type='modify'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"));
    expect(e.code).toBe("not-found");
    expect(e.type).toBe("modify");
  });

  it("refuses what is not an <error/>", () => {
    expect(() => ShareError.fromElement(parseXml("<iq/>"))).toThrow(ShareError);
  });
});
