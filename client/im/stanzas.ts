/**
 * Reading the instant-messaging stanzas the local UI's `im` module hears (client/im/service.ts):
 * RFC 6121 roster results and pushes, presence, one-to-one messages, and XEP-0280 carbons.
 * Pure: no I/O; every function returns undefined (or a refusal) for what it cannot read, never
 * throws on data from the network.
 *
 * Trust rules (the addresses are the ones the server stamped):
 * - A roster push counts only with no `from` or `from` = the user's bare JID (RFC 6121 § 2.1.6).
 * - A carbon (`<sent/>`/`<received/>` in urn:xmpp:carbons:2) counts only when the outer
 *   message's `from` is the user's own bare JID (XEP-0280 § 11, carbon spoofing): anyone else
 *   could wrap a made-up message "from" anybody. Inside, a sent copy must be from the user, a
 *   received one to the user.
 */
import type { Element } from "../../protocol/xml.ts";

export const NS_ROSTER = "jabber:iq:roster";
export const NS_CARBONS = "urn:xmpp:carbons:2";
export const NS_FORWARD = "urn:xmpp:forward:0";
export const NS_DATA_FORMS = "jabber:x:data";

/** Longest message body kept or sent (characters); longer ones are cut, with a mark. */
export const MAX_BODY = 10_000;

export type ContactShow = "chat" | "available" | "away" | "xa" | "dnd";

/** `local@domain` in lower case, or undefined (a domain, a malformed address). */
export function bareJid(jid: string | undefined): string | undefined {
  if (!jid) return undefined;
  const slash = jid.indexOf("/");
  const bare = (slash < 0 ? jid : jid.slice(0, slash)).normalize("NFC").toLowerCase();
  const at = bare.indexOf("@");
  if (at <= 0 || at === bare.length - 1 || bare.indexOf("@", at + 1) >= 0 || /[\s"&'<>/]/.test(bare) || bare.length > 2047) return undefined;
  return bare;
}

/** The resource of a full JID ("" for a bare one). */
export function resourceOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash < 0 ? "" : jid.slice(slash + 1);
}

export interface RosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly subscription: "none" | "to" | "from" | "both" | "remove";
  readonly ask?: boolean;
  readonly groups: readonly string[];
}

const SUBSCRIPTIONS = new Set(["none", "to", "from", "both", "remove"]);

/** The items of a roster `<query/>` (a result or a push); malformed items are skipped. */
export function rosterItems(query: Element | undefined): RosterItem[] {
  if (!query) return [];
  const out: RosterItem[] = [];
  for (const item of query.getChildren("item")) {
    const jid = bareJid(String(item.attrs.jid ?? ""));
    if (!jid || String(item.attrs.jid).includes("/")) continue;
    const sub = String(item.attrs.subscription ?? "none");
    const name = typeof item.attrs.name === "string" && item.attrs.name.trim() !== "" ? item.attrs.name.slice(0, 200) : undefined;
    const groups = item.getChildren("group").map((g) => g.getText().slice(0, 200)).filter(Boolean);
    out.push({ jid, subscription: (SUBSCRIPTIONS.has(sub) ? sub : "none") as RosterItem["subscription"], groups, ...(name ? { name } : {}), ...(item.attrs.ask === "subscribe" ? { ask: true } : {}) });
  }
  return out;
}

/** Whether a roster push comes from the server on the user's behalf (RFC 6121 § 2.1.6). */
export function rosterPushTrusted(from: string | undefined, me: string): boolean {
  return !from || bareJid(from) === me && !from.includes("/");
}

export interface Caps {
  readonly node: string;
  readonly ver: string;
  readonly hash: string;
}

export interface PresenceUpdate {
  /** The sender's full JID (or bare, for a presence about the whole account). */
  readonly from: string;
  readonly bare: string;
  /** undefined: unavailable (or an error); else the resource's show. */
  readonly show?: ContactShow;
  readonly status?: string;
  readonly priority: number;
  readonly caps?: Caps;
}

/** A contact's availability presence (available/unavailable/error); subscriptions and probes: undefined. */
export function readPresence(p: Element): PresenceUpdate | undefined {
  const from = String(p.attrs.from ?? "");
  const bare = bareJid(from);
  if (!bare) return undefined;
  const type = p.attrs.type === undefined ? "available" : String(p.attrs.type);
  if (type !== "available" && type !== "unavailable" && type !== "error") return undefined;
  const status = p.getChildText("status")?.slice(0, 500) || undefined;
  if (type !== "available") return { from, bare, priority: 0, ...(status ? { status } : {}) };
  const showText = p.getChildText("show")?.trim();
  const show: ContactShow = showText === "chat" || showText === "away" || showText === "xa" || showText === "dnd" ? showText : "available";
  const prio = Number(p.getChildText("priority") ?? "0");
  const c = p.getChild("c", "http://jabber.org/protocol/caps");
  const caps = c && typeof c.attrs.node === "string" && typeof c.attrs.ver === "string" && c.attrs.ver !== "" ? { node: c.attrs.node, ver: c.attrs.ver, hash: String(c.attrs.hash ?? "") } : undefined;
  return { from, bare, show, priority: Number.isInteger(prio) && prio >= -128 && prio <= 127 ? prio : 0, ...(status ? { status } : {}), ...(caps ? { caps } : {}) };
}

const RANK: Record<ContactShow, number> = { chat: 5, available: 4, dnd: 3, away: 2, xa: 1 };

/** The best of a contact's resources' shows (chat > available > dnd > away > xa); undefined: offline. */
export function bestShow(shows: Iterable<ContactShow>): ContactShow | undefined {
  let best: ContactShow | undefined;
  for (const s of shows) if (!best || RANK[s] > RANK[best]) best = s;
  return best;
}

export interface ChatMessage {
  /** The other party's bare JID: the conversation it belongs to. */
  readonly contact: string;
  readonly dir: "in" | "out";
  readonly body: string;
  /** The other party's full JID for "in" (where to answer), the sending resource's for a sent carbon. */
  readonly peer: string;
  readonly id?: string;
  /** "carbon": a copy of what another client of the user sent or received. */
  readonly via?: "carbon";
}

export type MessageReading =
  | { readonly kind: "message"; readonly message: ChatMessage }
  | { readonly kind: "error"; readonly contact: string; readonly text: string; readonly id?: string }
  /** A carbon from someone else than the user's own account: dropped. */
  | { readonly kind: "spoofed"; readonly from: string }
  | { readonly kind: "ignored" };

function body(m: Element): string | undefined {
  const b = m.getChildText("body");
  if (b === null || b === undefined || b.trim() === "") return undefined;
  return b.length > MAX_BODY ? `${b.slice(0, MAX_BODY)} […]` : b;
}

/** What a `<message/>` received by the user's session means for the chat (see the trust rules). */
export function readMessage(m: Element, me: string): MessageReading {
  const from = String(m.attrs.from ?? "");
  const carbon = m.getChild("sent", NS_CARBONS) ?? m.getChild("received", NS_CARBONS);
  if (carbon) {
    if (from.normalize("NFC").toLowerCase() !== me) return { kind: "spoofed", from };
    const inner = carbon.getChild("forwarded", NS_FORWARD)?.getChild("message");
    if (!inner) return { kind: "ignored" };
    const type = String(inner.attrs.type ?? "normal");
    const text = body(inner);
    if ((type !== "chat" && type !== "normal") || text === undefined) return { kind: "ignored" };
    const innerFrom = String(inner.attrs.from ?? "");
    const innerTo = String(inner.attrs.to ?? "");
    const id = typeof inner.attrs.id === "string" ? inner.attrs.id : undefined;
    if (carbon.name === "sent") {
      const contact = bareJid(innerTo);
      if (bareJid(innerFrom) !== me || !contact || contact === me) return { kind: "ignored" };
      return { kind: "message", message: { contact, dir: "out", body: text, peer: innerFrom, via: "carbon", ...(id ? { id } : {}) } };
    }
    const contact = bareJid(innerFrom);
    if (bareJid(innerTo) !== me || !contact || contact === me) return { kind: "ignored" };
    return { kind: "message", message: { contact, dir: "in", body: text, peer: innerFrom, via: "carbon", ...(id ? { id } : {}) } };
  }
  const contact = bareJid(from);
  if (!contact || contact === me) return { kind: "ignored" };
  const type = String(m.attrs.type ?? "normal");
  const id = typeof m.attrs.id === "string" ? m.attrs.id : undefined;
  if (type === "error") {
    const err = m.getChild("error");
    const cond = err?.children.find((c): c is Element => typeof c !== "string" && c.name !== "text")?.name ?? "error";
    const detail = err?.getChildText("text")?.slice(0, 300);
    return { kind: "error", contact, text: `${cond.replace(/-/g, " ")}${detail ? `: ${detail}` : ""}`, ...(id ? { id } : {}) };
  }
  if (type !== "chat" && type !== "normal") return { kind: "ignored" };
  const text = body(m);
  if (text === undefined) return { kind: "ignored" };
  return { kind: "message", message: { contact, dir: "in", body: text, peer: from, ...(id ? { id } : {}) } };
}
