/**
 * XEP-0070 (Verifying HTTP Requests via XMPP) as the web interface's sign-in uses it
 * (XEP-draft.md § 5.17): the sharing manager asks each of the user's sharing clients online
 * whether the user made a sign-in request, naming its transaction id (shown on the web page,
 * for the user to compare), the HTTP method and the URL.
 *
 *   get  <confirm xmlns='http://jabber.org/protocol/http-auth' id='7QX-4KD' method='POST'
 *                 url='https://share.example.org/web/login'/>
 *   res  (empty, or the same <confirm/>): the user confirmed
 *   err  <error type='auth'><not-authorized/></error>: the user denied (or did not answer)
 *
 * XEP-0070 § 6 sends the request in an IQ of type `get`; a receiver here also takes `set`.
 */
import { ShareError, badRequest } from "../errors.ts";
import { NS } from "../ns.ts";
import { Element, elements, expectElement, requiredAttr, requiredHttpUrl } from "../xml.ts";

export interface ConfirmRequest {
  /** The transaction id the web page shows. */
  readonly id: string;
  /** The HTTP method of the request to confirm (upper case). */
  readonly method: string;
  /** The URL of the request to confirm (http or https). */
  readonly url: string;
}

/** What a transaction id may hold: printable ASCII without spaces, 1 to 64 characters. */
const TX = /^[\x21-\x7e]{1,64}$/;
/** An HTTP method (RFC 9110 token), upper case, as XEP-0070 shows them. */
const METHOD = /^[A-Z]{1,16}$/;
const MAX_URL = 2048;

export function buildConfirm(c: ConfirmRequest): Element {
  return new Element("confirm", { xmlns: NS.httpAuth, id: c.id, method: c.method, url: c.url });
}

/** Reads a `<confirm/>`; anything malformed is a `bad-request` ShareError. */
export function parseConfirm(el: Element): ConfirmRequest {
  expectElement(el, "confirm", NS.httpAuth);
  if (elements(el).length > 0) throw badRequest("<confirm/> has no children");
  const id = requiredAttr(el, "id");
  if (!TX.test(id)) throw badRequest("<confirm id/> must be 1 to 64 printable characters without spaces");
  const method = requiredAttr(el, "method");
  if (!METHOD.test(method)) throw badRequest("<confirm method/> must be an HTTP method such as GET or POST");
  const url = requiredHttpUrl(el, "url", MAX_URL);
  return { id, method, url };
}

/** The `<error/>` of a denial (XEP-0070 § 6: `auth` / `not-authorized`), with a reason. */
export function buildDenial(text: string): Element {
  return new ShareError("not-authorized", { text }).toElement();
}

/** Whether an IQ error reply to a confirm request is a denial (`not-authorized`). */
export function isDenial(reply: Element): boolean {
  const err = reply.getChild("error");
  return !!err && !!err.getChild("not-authorized", NS.stanzas);
}
