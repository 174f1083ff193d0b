/**
 * Bare JIDs as they appear in payloads (member lists, invitations).
 *
 * Authorization never trusts these: it uses the `from` the XMPP server stamped.
 * Payload JIDs only name *other* people, and are compared after the same
 * normalisation on both sides (lower case, NFC; a pragmatic subset of RFC 7622
 * PRECIS that covers what ordinary servers hand out).
 */
import { badRequest } from "./errors.ts";
import type { BareJid } from "./ids.ts";

// RFC 7622 §3.3.1: these may not appear in a localpart.
const LOCAL_FORBIDDEN = /["&'/:<>@\s\u0000-\u001f\u007f]/u;
const DOMAIN = /^(?=.{1,1023}$)[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*$/u;

/** Parses `local@domain` (a localpart is required: sharing is between accounts). */
export function parseBareJid(raw: string): BareJid {
  const s = raw.normalize("NFC");
  const at = s.indexOf("@");
  if (at <= 0 || s.includes("/")) throw badRequest(`Not a bare JID: ${JSON.stringify(raw)}`);
  const local = s.slice(0, at).toLowerCase();
  const domain = s.slice(at + 1).toLowerCase();
  if (local.length > 1023 || LOCAL_FORBIDDEN.test(local) || !DOMAIN.test(domain)) {
    throw badRequest(`Not a bare JID: ${JSON.stringify(raw)}`);
  }
  return `${local}@${domain}` as BareJid;
}

/** The bare part of a full or bare JID string stamped by a server (`a@b/res` → `a@b`). */
export function bareOf(full: string): BareJid {
  const slash = full.indexOf("/");
  return parseBareJid(slash < 0 ? full : full.slice(0, slash));
}

/**
 * Whether two server-stamped addresses (bare, full, or a domain) name the same entity: local
 * and domain parts compared in lower case, the resource exactly. Used to accept an IQ answer
 * only from the address that was asked.
 */
export function sameAddress(a: string, b: string): boolean {
  const split = (j: string) => {
    const slash = j.indexOf("/");
    return slash < 0 ? [j.toLowerCase(), ""] : [j.slice(0, slash).toLowerCase(), j.slice(slash)];
  };
  const [x, y] = [split(a.normalize("NFC")), split(b.normalize("NFC"))];
  return x[0] === y[0] && x[1] === y[1];
}
