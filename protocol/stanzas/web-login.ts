/**
 * One-time sign-in links for the web interface (XEP-draft.md § 5.17, `xshare web-login`): a
 * sharing client asks the component, in an IQ set, for a link that signs its user in once.
 *
 *   set  <web-login xmlns='urn:xmpp:share:0'/>
 *   res  <web-login url='https://share.example.org/web/login/link/Xb3…' expires='2026-11-25T10:05:00Z'/>
 *
 * The link is for the requester's bare JID only, works once, and expires within minutes.
 */
import { badRequest } from "../errors.ts";
import { NS } from "../ns.ts";
import { Element, elements, expectElement, formatDateTime, requiredAttr, requiredDateTime, requiredHttpUrl } from "../xml.ts";

export interface WebLoginLink {
  readonly url: string;
  readonly expiresMs: number;
}

export function buildWebLoginRequest(): Element {
  return new Element("web-login", { xmlns: NS.share });
}

export function parseWebLoginRequest(el: Element): void {
  expectElement(el, "web-login");
  if (elements(el).length > 0 || Object.keys(el.attrs).some((k) => k !== "xmlns")) throw badRequest("A web-login request is empty");
}

export function buildWebLogin(l: WebLoginLink): Element {
  return new Element("web-login", { xmlns: NS.share, url: l.url, expires: formatDateTime(l.expiresMs) });
}

export function parseWebLogin(el: Element): WebLoginLink {
  expectElement(el, "web-login");
  const url = requiredHttpUrl(el, "url");
  return { url, expiresMs: requiredDateTime(el, "expires") };
}
