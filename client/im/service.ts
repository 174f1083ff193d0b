/**
 * Instant messaging over the daemon's own XMPP session, for the local UI's `im` module
 * (client/ui/im.ts): the roster, each contact's presence and whether their client shares
 * folders, and one-to-one chat with a local history.
 *
 * - Roster (RFC 6121 § 2): fetched at every session; pushes applied when trusted
 *   (stanzas.ts) and answered; untrusted ones get `service-unavailable` and change nothing.
 * - Presence: per contact, every available resource with its show; the contact shows the best
 *   (stanzas.ts bestShow). A lost session forgets them all (the next session's presence tells
 *   again). The user's own presence stays the daemon's: priority -1 (DESIGN.md decision 6).
 * - Sharing indicator: a resource whose XEP-0115 caps are known (caps.ts) to include
 *   urn:xmpp:share:0; only resources online now count.
 * - Chat: `<message type='chat'>` to the full JID the contact last wrote from while that
 *   resource is online, else to the bare JID (RFC 6121 § 5.1). Messages from anyone are kept
 *   (history.ts); senders outside the roster are listed as such.
 * - Carbons (XEP-0280): enabled at every session when the server's disco#info lists
 *   urn:xmpp:carbons:2, so the user's other clients' conversations appear here too; a carbon
 *   counts only from the user's own bare JID (stanzas.ts readMessage). With priority -1, a
 *   message to the bare JID reaches this session only as a carbon.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Element as XmppElement } from "@xmpp/xml";
import { NS } from "../../protocol/ns.ts";
import { parseDiscoInfo } from "../../protocol/stanzas/disco.ts";
import { Element, parseXml } from "../../protocol/xml.ts";
import type { ClientConnection } from "../xmpp-connection.ts";
import { CapsCache } from "./caps.ts";
import type { History, StoredMessage } from "./history.ts";
import { type Caps, type ContactShow, MAX_BODY, NS_CARBONS, NS_DATA_FORMS, NS_ROSTER, type RosterItem, bareJid, bestShow, readMessage, readPresence, rosterItems, rosterPushTrusted } from "./stanzas.ts";

export interface ContactView {
  readonly jid: string;
  readonly name?: string;
  /** RFC 6121 subscription state; undefined for someone outside the roster who wrote. */
  readonly subscription?: RosterItem["subscription"];
  readonly inRoster: boolean;
  readonly show: ContactShow | "offline";
  readonly status?: string;
  /** A client of theirs online now supports sharing (urn:xmpp:share:0 in its caps). */
  readonly shares: boolean;
  readonly last?: { readonly body: string; readonly at: number; readonly dir: "in" | "out" };
}

export interface ImEvents {
  contact: [ContactView];
  roster: [ContactView[]];
  message: [StoredMessage];
  failed: [{ contact: string; text: string }];
  carbons: [boolean];
}

interface Resource {
  show: ContactShow;
  status?: string;
  caps?: Caps;
  shares?: boolean;
}

/** A sentence for the user, with the HTTP status the UI answers it with. */
export class ImError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ImServiceOptions {
  /** The user's bare JID. */
  readonly me: string;
  readonly history: History;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export class ImService extends EventEmitter<ImEvents> {
  readonly #me: string;
  readonly #domain: string;
  readonly #history: History;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #roster = new Map<string, RosterItem>();
  readonly #resources = new Map<string, Map<string, Resource>>();
  /** Per contact: the full JID they last wrote from (chat goes there while it is online). */
  readonly #lastFrom = new Map<string, string>();
  readonly #caps: CapsCache;
  #conn: ClientConnection | undefined;
  #carbons = false;

  constructor(opts: ImServiceOptions) {
    super();
    this.#me = bareJid(opts.me) ?? opts.me;
    this.#domain = this.#me.slice(this.#me.indexOf("@") + 1);
    this.#history = opts.history;
    this.#log = opts.log ?? (() => undefined);
    this.#now = opts.now ?? (() => Date.now());
    this.#caps = new CapsCache(async (jid, node) => {
      const q = await this.#disco(jid, node);
      return { info: parseDiscoInfo(q), hasForms: q.getChildren("x", NS_DATA_FORMS).length > 0 };
    });
  }

  /** Whether the server copies the user's other conversations here (XEP-0280 enabled). */
  get carbons(): boolean {
    return this.#carbons;
  }

  /** Listens to a new connection (before its first presence goes out: daemon "connection"). */
  attach(conn: ClientConnection): void {
    this.#conn = conn;
    conn.xmpp.on("stanza", (st: XmppElement) => {
      try {
        if (st.is("presence")) this.#onPresence(st as unknown as Element);
        else if (st.is("message")) this.#onMessage(st as unknown as Element);
      } catch (err) {
        this.#log(`im: a stanza could not be read: ${(err as Error).message}`);
      }
    });
    conn.xmpp.iqCallee.set(NS_ROSTER, "query", (ctx: { stanza: XmppElement; element: XmppElement }) => this.#onRosterPush(ctx.stanza as unknown as Element, ctx.element as unknown as Element));
    conn.on("online", () => void this.#session());
    conn.on("disconnect", () => {
      this.#resources.clear();
      this.#carbons = false;
      this.emit("roster", this.contacts());
    });
    void this.#session();
  }

  /** Roster contacts, then anyone else with a conversation. */
  contacts(): ContactView[] {
    const last = new Map(this.#history.contacts().map((c) => [c.contact, c.last]));
    const out = [...this.#roster.values()].map((item) => this.#view(item.jid, last.get(item.jid)));
    for (const [jid, m] of last) if (!this.#roster.has(jid)) out.push(this.#view(jid, m));
    return out;
  }

  conversation(jid: string): StoredMessage[] {
    const bare = bareJid(jid);
    if (!bare || jid.includes("/")) throw new ImError(400, `Not a bare JID: ${JSON.stringify(jid)}.`);
    return this.#history.conversation(bare);
  }

  /** Sends a chat message; resolves with it as kept in the history. */
  async send(jid: string, body: string): Promise<StoredMessage> {
    const contact = bareJid(jid);
    if (!contact || jid.includes("/") || contact === this.#me) throw new ImError(400, `Not a contact's address: ${JSON.stringify(jid)}.`);
    if (body.trim() === "") throw new ImError(400, "The message is empty.");
    if (body.length > MAX_BODY) throw new ImError(400, `The message is longer than ${MAX_BODY} characters.`);
    const conn = this.#conn;
    if (!conn?.online) throw new ImError(503, "Not connected to the XMPP server right now; try again in a moment.");
    const last = this.#lastFrom.get(contact);
    const to = last && this.#resources.get(contact)?.has(last) ? last : contact;
    const m = new Element("message", { type: "chat", to, id: randomUUID() });
    m.c("body").t(body);
    await conn.send(m);
    const stored = this.#history.add({ contact, dir: "out", body, at: this.#now() });
    this.emit("message", stored);
    return stored;
  }

  // ---------------------------------------------------------------- session

  async #session(): Promise<void> {
    const conn = this.#conn;
    if (!conn?.online) return;
    await Promise.all([this.#fetchRoster(conn), this.#enableCarbons(conn)]);
  }

  async #fetchRoster(conn: ClientConnection): Promise<void> {
    try {
      const iq = new Element("iq", { type: "get" });
      iq.c("query", { xmlns: NS_ROSTER });
      const reply = parseXml((await conn.request(iq, 15_000)).toString());
      this.#roster.clear();
      for (const item of rosterItems(reply.getChild("query", NS_ROSTER))) if (item.subscription !== "remove") this.#roster.set(item.jid, item);
      this.emit("roster", this.contacts());
    } catch (err) {
      this.#log(`im: the roster could not be fetched: ${(err as Error).message}`);
    }
  }

  async #enableCarbons(conn: ClientConnection): Promise<void> {
    try {
      const info = parseDiscoInfo(await this.#disco(this.#domain));
      if (!info.features.includes(NS_CARBONS)) {
        this.#log(`im: ${this.#domain} offers no message carbons; messages to ${this.#me} reach the UI only when written to this device`);
        return;
      }
      const iq = new Element("iq", { type: "set" });
      iq.c("enable", { xmlns: NS_CARBONS });
      await conn.request(iq, 15_000);
      this.#carbons = true;
      this.emit("carbons", true);
    } catch (err) {
      this.#log(`im: message carbons could not be enabled: ${(err as Error).message}`);
    }
  }

  async #disco(jid: string, node?: string): Promise<Element> {
    const conn = this.#conn;
    if (!conn?.online) throw new Error("not online");
    const iq = new Element("iq", { type: "get", to: jid });
    iq.c("query", node ? { xmlns: NS.discoInfo, node } : { xmlns: NS.discoInfo });
    const reply = parseXml((await conn.request(iq, 15_000)).toString());
    const q = reply.getChild("query", NS.discoInfo);
    if (!q) throw new Error(`no disco#info in ${jid}'s answer`);
    return q;
  }

  // ---------------------------------------------------------------- stanzas

  #onRosterPush(stanza: Element, query: Element): XmppElement | true {
    if (!rosterPushTrusted(stanza.attrs.from as string | undefined, this.#me)) {
      this.#log(`im: ignored a roster push from ${String(stanza.attrs.from)}`);
      return new Element("error", { type: "cancel" }).c("service-unavailable", { xmlns: NS.stanzas }).up() as unknown as XmppElement;
    }
    for (const item of rosterItems(query)) {
      if (item.subscription === "remove") this.#roster.delete(item.jid);
      else this.#roster.set(item.jid, item);
    }
    this.emit("roster", this.contacts());
    return true;
  }

  #onPresence(p: Element): void {
    const u = readPresence(p);
    if (!u || u.bare === this.#me) return;
    let rs = this.#resources.get(u.bare);
    if (u.show === undefined) {
      if (!rs) return;
      if (u.from === u.bare) rs.clear();
      else rs.delete(u.from);
      if (this.#lastFrom.get(u.bare) === u.from || rs.size === 0) this.#lastFrom.delete(u.bare);
      if (rs.size === 0) this.#resources.delete(u.bare);
      return this.#changed(u.bare);
    }
    if (!rs) this.#resources.set(u.bare, (rs = new Map()));
    const before = rs.get(u.from);
    const r: Resource = { show: u.show, ...(u.status ? { status: u.status } : {}), ...(u.caps ? { caps: u.caps } : {}) };
    // The same caps as before: what was learnt of them still holds.
    if (u.caps && before?.caps?.ver === u.caps.ver && before.caps.hash === u.caps.hash && before.shares !== undefined) r.shares = before.shares;
    else if (u.caps) {
      const known = this.#caps.known(u.caps);
      if (known !== undefined) r.shares = known;
      else this.#learnCaps(u.bare, u.from, u.caps);
    }
    rs.set(u.from, r);
    this.#changed(u.bare);
  }

  #learnCaps(bare: string, full: string, caps: Caps): void {
    void this.#caps.supportsSharing(full, caps).then((shares) => {
      const r = this.#resources.get(bare)?.get(full);
      if (shares === undefined || !r || r.caps?.ver !== caps.ver) return;
      r.shares = shares;
      this.#changed(bare);
    });
  }

  #onMessage(st: Element): void {
    const r = readMessage(st, this.#me);
    if (r.kind === "spoofed") return this.#log(`im: refused a carbon copy from ${r.from}: only ${this.#me} may send those`);
    if (r.kind === "error") return void this.emit("failed", { contact: r.contact, text: `A message to ${r.contact} was not delivered (${r.text}).` });
    if (r.kind !== "message") return;
    const m = r.message;
    if (m.dir === "in") this.#lastFrom.set(m.contact, m.peer);
    const stored = this.#history.add({ contact: m.contact, dir: m.dir, body: m.body, at: this.#now(), ...(m.via ? { via: m.via } : {}) });
    this.emit("message", stored);
  }

  #changed(bare: string): void {
    const last = this.#history.last(bare);
    if (this.#roster.has(bare) || last) this.emit("contact", this.#view(bare, last));
  }

  #view(jid: string, last: StoredMessage | undefined): ContactView {
    const item = this.#roster.get(jid);
    const rs = [...(this.#resources.get(jid)?.values() ?? [])];
    const show = bestShow(rs.map((r) => r.show));
    const status = rs.find((r) => r.show === show && r.status)?.status;
    return {
      jid,
      ...(item?.name ? { name: item.name } : {}),
      ...(item ? { subscription: item.subscription } : {}),
      inRoster: item !== undefined,
      show: show ?? "offline",
      ...(status ? { status } : {}),
      shares: rs.some((r) => r.shares === true),
      ...(last ? { last: { body: last.body.slice(0, 200), at: last.at, dir: last.dir } } : {}),
    };
  }
}
