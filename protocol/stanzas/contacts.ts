/**
 * Contacts' characteristics (XEP-draft.md § 5.15, the patent's FIG. 8): what the sharing manager
 * knows of when the members of a space are online and how fast data moves to and from them, for
 * a member's scheduler to order its transfers.
 *
 *   get  <contacts space='S'/>
 *   res  <contacts space='S' kept='672'>
 *          <member jid='bob@example.org' online='false' hours='42' usual='18 19 20'
 *                  session='1500' last-seen='2026-11-25T20:41:00Z' up='250000' down='1200000'/>
 *        </contacts>
 *
 * `kept`: the UTC hours of history the component keeps (its window). Per member: `online`, a
 * sharing client of theirs online now; `hours`, in how many of the kept hours one was (≤ kept);
 * `usual`, the hours of the day (UTC, ascending) in which they usually are; `session`, a typical
 * time online at a stretch, in seconds; `last-seen`, when one of their sharing clients was last
 * online; `up`/`down`, bytes per second recently seen from them / to them. Everything but `jid`,
 * `online` and `hours` is optional (absent: not known).
 */
import { badRequest } from "../errors.ts";
import { spaceId, type BareJid, type SpaceId } from "../ids.ts";
import { parseBareJid } from "../jid.ts";
import { NS } from "../ns.ts";
import { Element, childrenNamed, elements, expectElement, formatDateTime, optionalAttr, optionalBool, optionalUint, requiredAttr, requiredDateTime, requiredUint } from "../xml.ts";

/** More members than any space has: a longer answer is refused, not read. */
export const MAX_CONTACTS = 10_000;

export interface Contact {
  readonly jid: BareJid;
  readonly online: boolean;
  /** Kept hours during which a sharing client of theirs was online (≤ `Contacts.keptHours`). */
  readonly hours: number;
  /** UTC hours of the day (0–23, ascending, distinct) they are usually online in. */
  readonly usual?: readonly number[];
  /** A typical session, in seconds. */
  readonly sessionS?: number;
  readonly lastSeenMs?: number;
  /** Bytes per second recently received from them (their uploads). */
  readonly upBps?: number;
  /** Bytes per second recently sent to them (their downloads). */
  readonly downBps?: number;
}

export interface Contacts {
  readonly space: SpaceId;
  /** Hours of history the component keeps. */
  readonly keptHours: number;
  readonly members: readonly Contact[];
}

export function buildContactsRequest(space: SpaceId): Element {
  return new Element("contacts", { xmlns: NS.share, space });
}

export function parseContactsRequest(el: Element): SpaceId {
  expectElement(el, "contacts");
  if (elements(el).length > 0 || el.attrs.kept !== undefined) throw badRequest("A contacts request names a space and nothing else");
  return spaceId(requiredAttr(el, "space"));
}

export function buildContacts(c: Contacts): Element {
  const el = new Element("contacts", { xmlns: NS.share, space: c.space, kept: String(c.keptHours) });
  for (const m of c.members) {
    const attrs: Record<string, string> = { jid: m.jid, online: String(m.online), hours: String(m.hours) };
    if (m.usual && m.usual.length > 0) attrs.usual = m.usual.join(" ");
    if (m.sessionS !== undefined) attrs.session = String(m.sessionS);
    if (m.lastSeenMs !== undefined) attrs["last-seen"] = formatDateTime(m.lastSeenMs);
    if (m.upBps !== undefined) attrs.up = String(m.upBps);
    if (m.downBps !== undefined) attrs.down = String(m.downBps);
    el.c("member", attrs);
  }
  return el;
}

function parseUsual(el: Element): number[] | undefined {
  const v = optionalAttr(el, "usual");
  if (v === undefined) return undefined;
  const hours = v.split(" ").map((s) => {
    if (!/^(0|[1-9][0-9]?)$/.test(s) || Number(s) > 23) throw badRequest(`<member usual/> must list hours 0-23 separated by spaces: ${JSON.stringify(v)}`);
    return Number(s);
  });
  for (let i = 1; i < hours.length; i++) if (hours[i]! <= hours[i - 1]!) throw badRequest(`<member usual/> must list distinct hours in ascending order: ${JSON.stringify(v)}`);
  return hours;
}

function parseContact(el: Element, kept: number): Contact {
  const online = optionalAttr(el, "online");
  if (online === undefined) throw badRequest("<member/> lacks attribute 'online'");
  const hours = requiredUint(el, "hours");
  if (hours > kept) throw badRequest(`<member hours/> (${hours}) exceeds <contacts kept/> (${kept})`);
  const usual = parseUsual(el);
  const sessionS = optionalUint(el, "session");
  const lastSeenMs = optionalAttr(el, "last-seen") === undefined ? undefined : requiredDateTime(el, "last-seen");
  const upBps = optionalUint(el, "up");
  const downBps = optionalUint(el, "down");
  return {
    jid: parseBareJid(requiredAttr(el, "jid")),
    online: optionalBool(el, "online", false),
    hours,
    ...(usual ? { usual } : {}),
    ...(sessionS !== undefined ? { sessionS } : {}),
    ...(lastSeenMs !== undefined ? { lastSeenMs } : {}),
    ...(upBps !== undefined ? { upBps } : {}),
    ...(downBps !== undefined ? { downBps } : {}),
  };
}

export function parseContacts(el: Element): Contacts {
  expectElement(el, "contacts");
  const space = spaceId(requiredAttr(el, "space"));
  const keptHours = requiredUint(el, "kept");
  const kids = childrenNamed(el, "member");
  if (kids.length > MAX_CONTACTS) throw badRequest(`<contacts/> lists more than ${MAX_CONTACTS} members`);
  const members = kids.map((m) => parseContact(m, keptHours));
  if (new Set(members.map((m) => m.jid)).size !== members.length) throw badRequest("<contacts/> lists a member twice");
  return { space, keptHours, members };
}
