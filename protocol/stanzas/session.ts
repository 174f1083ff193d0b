/**
 * IQs over HTTP (XEP-draft.md § 5.11): servers throttle what clients send (Prosody: 10 kB/s per
 * client connection by default), so a client with a large commit or many slot requests asks for
 * a session and sends those IQs over HTTP instead, to the same handlers.
 *
 *   get  <session/>
 *   res  <session url='https://share.example.org/iq' token='…' expires='2026-11-25T10:00:00Z'/>
 *
 * Then `POST {url}` with `Authorization: Bearer {token}` and an `<iq type='get|set'>` as body;
 * the answer is the `<iq type='result|error'>` the XMPP path would have sent.
 */
import { badRequest } from "../errors.ts";
import { NS } from "../ns.ts";
import { Element, elements, expectElement, formatDateTime, requiredAttr, requiredDateTime, requiredHttpUrl } from "../xml.ts";

export interface Session {
  readonly url: string;
  readonly token: string;
  readonly expiresMs: number;
}

export function buildSessionRequest(): Element {
  return new Element("session", { xmlns: NS.share });
}

export function parseSessionRequest(el: Element): void {
  expectElement(el, "session");
  if (elements(el).length > 0 || el.attrs.token !== undefined) throw badRequest("A session request is empty");
}

export function buildSession(s: Session): Element {
  return new Element("session", { xmlns: NS.share, url: s.url, token: s.token, expires: formatDateTime(s.expiresMs) });
}

const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

export function parseSession(el: Element): Session {
  expectElement(el, "session");
  const url = requiredHttpUrl(el, "url");
  const token = requiredAttr(el, "token");
  if (!TOKEN.test(token)) throw badRequest("<session token/> is malformed");
  return { url, token, expiresMs: requiredDateTime(el, "expires") };
}
