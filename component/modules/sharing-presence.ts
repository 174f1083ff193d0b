/**
 * Sharing clients online and their digests (XEP-draft.md § 5.12, the patent's FIG. 9).
 *
 * A sharing client says it is online with *directed* presence to the component carrying
 * `<digests/>`: its replica id and, per space it holds, the digest of its vector. The server
 * sends `unavailable` for it when it goes away (RFC 6121 § 4.6.3). The component keeps, per
 * client: its replica, its presence `<show/>` and its latest digest per space.
 *
 * Each client is told, with directed presence, the authoritative digest of every space its user
 * belongs to and, per space, the other members' sharing clients online now (`<peer/>`: where it
 * sends SNMs, and the digest that peer last announced). A client is sent this when it comes
 * online, and again whenever what it would be told changes because a peer came, went or
 * changed its show; never the same payload twice in a row. Nobody is told anything about a
 * space they are not a member of.
 *
 * Everything here is in memory: after a restart of the component, or of its link to the
 * server, clients are known again at their next presence (the daemon repeats its presence
 * every minute, see client/daemon.ts).
 *
 * `onMember` hears, per member, when their first sharing client comes, every later presence of
 * theirs (the keepalives), and when their last one goes, also when the link is lost: the
 * presence history of contacts.ts is kept from these.
 */
import type { BareJid, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { bareOf } from "../../protocol/jid.ts";
import { NS } from "../../protocol/ns.ts";
import { buildDigests, isShow, parseDigests, type Peer, type Show } from "../../protocol/stanzas/sync-signals.ts";
import { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import { componentReplica, type SpaceDigests } from "./digests.ts";

interface Client {
  readonly jid: string;
  readonly member: BareJid;
  replica: ReplicaId;
  show: Show | undefined;
  digests: Map<SpaceId, string>;
  /** The payload this client was last sent (to send nothing twice). */
  lastSent: string;
}

export class SharingPresence {
  readonly #clients = new Map<string, Client>();
  readonly #byMember = new Map<BareJid, Set<string>>();
  readonly #deps: Deps;
  readonly #digests: SpaceDigests;
  readonly #send: (el: Element) => void;
  /** Called once when a sharing client comes online (after it was answered). */
  onArrival: ((member: BareJid, jid: string) => void) | undefined;
  /** A member's first sharing client came, one of theirs sent presence again, their last one went. */
  onMember: ((member: BareJid, event: "came" | "stays" | "went") => void) | undefined;

  constructor(deps: Deps, digests: SpaceDigests, send: (el: Element) => void) {
    this.#deps = deps;
    this.#digests = digests;
    this.#send = send;
  }

  /** Full JIDs of a member's sharing clients online now. */
  clients(member: BareJid): string[] {
    return [...(this.#byMember.get(member) ?? [])];
  }

  /** Whether a member has a sharing client online other than `except`. */
  online(member: BareJid, except?: string): boolean {
    for (const jid of this.#byMember.get(member) ?? []) if (jid !== except) return true;
    return false;
  }

  /** After our own disconnect nothing we knew can be trusted. */
  clear(): void {
    for (const member of this.#byMember.keys()) this.onMember?.(member, "went");
    this.#clients.clear();
    this.#byMember.clear();
  }

  /**
   * A presence stanza addressed to the component. Malformed ones are ignored (presence gets no
   * error replies); presence without `<digests/>` is not from a sharing client.
   */
  async onPresence(stanza: Element): Promise<void> {
    const from = String(stanza.attrs.from ?? "");
    if (!from.includes("/")) return;
    let member: BareJid;
    try {
      member = bareOf(from);
    } catch {
      return;
    }
    const type = stanza.attrs.type;
    if (type === "unavailable") {
      if (!this.#clients.has(from)) return;
      this.#remove(from, member);
      if (!this.#byMember.has(member)) this.onMember?.(member, "went");
      await this.#tellPeersOf(member, from);
      return;
    }
    if (type !== undefined && type !== "available") return;
    const el = stanza.getChild("digests", NS.share);
    if (!el) return;
    let payload;
    try {
      payload = parseDigests(el);
    } catch {
      return;
    }
    const showText = stanza.getChildText("show");
    const show = showText !== null && isShow(showText) ? showText : undefined;
    const known = this.#clients.get(from);
    const client: Client = known ?? { jid: from, member, replica: payload.replica, show, digests: new Map(), lastSent: "" };
    const showChanged = known !== undefined && known.show !== show;
    client.replica = payload.replica;
    client.show = show;
    client.digests = new Map(payload.spaces.map((s) => [s.space, s.digest]));
    const first = !this.#byMember.has(member);
    if (!known) {
      this.#clients.set(from, client);
      const set = this.#byMember.get(member) ?? new Set<string>();
      set.add(from);
      this.#byMember.set(member, set);
    }
    this.onMember?.(member, first ? "came" : "stays");
    await this.#tell(client);
    if (!known || showChanged) await this.#tellPeersOf(member, from);
    if (!known) this.onArrival?.(member, from);
  }

  #remove(jid: string, member: BareJid): void {
    this.#clients.delete(jid);
    const set = this.#byMember.get(member);
    set?.delete(jid);
    if (set && set.size === 0) this.#byMember.delete(member);
  }

  /** Sends a client what it should know now, unless it was sent exactly that last time. */
  async #tell(client: Client): Promise<void> {
    const spaces = [];
    for (const s of await this.#deps.store.spacesOf(client.member)) {
      const peers: Peer[] = [];
      for (const m of await this.#deps.store.membersOf(s.id)) {
        for (const jid of this.#byMember.get(m) ?? []) {
          const c = this.#clients.get(jid);
          if (!c || jid === client.jid) continue;
          const d = c.digests.get(s.id);
          peers.push({ jid, replica: c.replica, ...(d !== undefined ? { digest: d } : {}), ...(c.show ? { show: c.show } : {}) });
        }
      }
      spaces.push({ space: s.id, digest: await this.#digests.of(s.id, s.head), ...(peers.length ? { peers } : {}) });
    }
    const payload = buildDigests({ replica: componentReplica(this.#deps.config.domain), spaces });
    const text = payload.toString();
    if (text === client.lastSent || !this.#clients.has(client.jid)) return;
    client.lastSent = text;
    const reply = new Element("presence", { to: client.jid });
    reply.cnode(payload);
    this.#send(reply);
  }

  /** A client of `member` came, went or changed its show: its peers' lists changed. */
  async #tellPeersOf(member: BareJid, except: string): Promise<void> {
    const others = new Set<string>();
    for (const s of await this.#deps.store.spacesOf(member)) {
      for (const m of await this.#deps.store.membersOf(s.id)) for (const jid of this.#byMember.get(m) ?? []) if (jid !== except) others.add(jid);
    }
    for (const jid of others) {
      const c = this.#clients.get(jid);
      if (c) await this.#tell(c);
    }
  }
}
