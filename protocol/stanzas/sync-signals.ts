/**
 * The two patent embodiments of "are we in sync?" (XEP-draft.md § "Presence payload", § "SNM").
 *
 * Presence (FIG. 9): a client sends *directed* presence to the component carrying, per space,
 * the digest of its version vector; the component answers with directed presence carrying the
 * authoritative digest of each space the recipient is a member of. Broadcast presence never
 * carries this element (see § "Privacy Considerations").
 *
 *   <digests xmlns='urn:xmpp:share:0' replica='laptop-7f3a'>
 *     <space id='s-4mKq' digest='base64 SHA-256'/>
 *   </digests>
 *
 * The component's `<space/>` also lists the other members' sharing clients that are online
 * (`<peer jid replica digest? show?/>`): where a client sends its SNMs directly, and the digest
 * that peer last announced for the space, so that it is not told what it already has.
 *
 * SNM (FIG. 10): an IQ set with one space and the sender's vector (or only its digest).
 *
 *   <snm xmlns='urn:xmpp:share:0' space='s-4mKq' replica='laptop-7f3a'><vector>…</vector></snm>
 */
import { badRequest } from "../errors.ts";
import { spaceId, type ReplicaId, type SpaceId } from "../ids.ts";
import { parseBareJid } from "../jid.ts";
import { NS } from "../ns.ts";
import { replicaId, type VersionVector } from "../vv.ts";
import { Element, childrenNamed, expectElement, optionalAttr, optionalChild, requiredAttr } from "../xml.ts";
import { buildVector, parseVector } from "./vector.ts";

/** Base64 of 32 bytes: 43 characters and one `=`. */
const DIGEST = /^[A-Za-z0-9+/]{43}=$/;

function checkDigest(s: string, where: string): string {
  if (!DIGEST.test(s)) throw badRequest(`${where} is not a base64 SHA-256 digest`);
  return s;
}

/** Presence `<show/>` values (RFC 6121 § 4.7.2.1); absent means available. */
export const SHOWS = ["away", "chat", "dnd", "xa"] as const;
export type Show = (typeof SHOWS)[number];
export const isShow = (v: string): v is Show => (SHOWS as readonly string[]).includes(v);

/** Another member's sharing client that is online, as the component lists it. */
export interface Peer {
  /** Its full JID (`user@host/resource`): where SNMs for it go. */
  readonly jid: string;
  readonly replica: ReplicaId;
  /** The digest it last announced for this space, if it holds the space. */
  readonly digest?: string;
  readonly show?: Show;
}

export interface SpaceDigest {
  readonly space: SpaceId;
  readonly digest: string;
  /** Only from the component: the other members' sharing clients online now. */
  readonly peers?: readonly Peer[];
}

export interface Digests {
  /** The replica whose vectors these are; the component uses its own replica id. */
  readonly replica: ReplicaId;
  readonly spaces: readonly SpaceDigest[];
}

export function buildDigests(d: Digests): Element {
  const el = new Element("digests", { xmlns: NS.share, replica: d.replica });
  for (const s of d.spaces) {
    const sp = el.c("space", { id: s.space, digest: s.digest });
    for (const p of s.peers ?? []) {
      sp.c("peer", { jid: p.jid, replica: p.replica, ...(p.digest !== undefined ? { digest: p.digest } : {}), ...(p.show !== undefined ? { show: p.show } : {}) });
    }
  }
  return el;
}

/** A full JID: a bare JID as parseBareJid accepts it, a slash and a non-empty resource. */
function fullJid(raw: string): string {
  const slash = raw.indexOf("/");
  const resource = raw.slice(slash + 1);
  if (slash < 0 || resource.length === 0 || resource.length > 1023 || /[\u0000-\u001f\u007f]/.test(resource)) {
    throw badRequest(`<peer jid/> is not a full JID: ${JSON.stringify(raw)}`);
  }
  return `${parseBareJid(raw.slice(0, slash))}/${resource}`;
}

function parsePeer(p: Element): Peer {
  const digest = optionalAttr(p, "digest");
  const show = optionalAttr(p, "show");
  if (show !== undefined && !isShow(show)) throw badRequest(`<peer show/> must be one of ${SHOWS.join(", ")}`);
  return {
    jid: fullJid(requiredAttr(p, "jid")),
    replica: replicaId(requiredAttr(p, "replica")),
    ...(digest !== undefined ? { digest: checkDigest(digest, "<peer digest/>") } : {}),
    ...(show !== undefined ? { show } : {}),
  };
}

export function parseDigests(el: Element): Digests {
  expectElement(el, "digests");
  const replica = replicaId(requiredAttr(el, "replica"));
  const seen = new Set<string>();
  const spaces = childrenNamed(el, "space").map((s): SpaceDigest => {
    const space = spaceId(requiredAttr(s, "id"));
    if (seen.has(space)) throw badRequest(`<digests/> names space ${space} twice`);
    seen.add(space);
    const peers = childrenNamed(s, "peer").map(parsePeer);
    return { space, digest: checkDigest(requiredAttr(s, "digest"), "<space digest/>"), ...(peers.length ? { peers } : {}) };
  });
  return { replica, spaces };
}

/** A synchronization negotiation message: either the full vector or only its digest. */
export type Snm =
  | { readonly space: SpaceId; readonly replica: ReplicaId; readonly vector: VersionVector }
  | { readonly space: SpaceId; readonly replica: ReplicaId; readonly digest: string };

export function buildSnm(m: Snm): Element {
  const el = new Element("snm", { xmlns: NS.share, space: m.space, replica: m.replica });
  if ("vector" in m) el.cnode(buildVector(m.vector));
  else el.attrs.digest = m.digest;
  return el;
}

export function parseSnm(el: Element): Snm {
  expectElement(el, "snm");
  const space = spaceId(requiredAttr(el, "space"));
  const replica = replicaId(requiredAttr(el, "replica"));
  const v = optionalChild(el, "vector");
  const d = optionalAttr(el, "digest");
  if (v && d !== undefined) throw badRequest("<snm/> carries a vector or a digest, not both");
  if (v) return { space, replica, vector: parseVector(v) };
  if (d !== undefined) return { space, replica, digest: checkDigest(d, "<snm digest/>") };
  throw badRequest("<snm/> carries neither a <vector/> nor a digest");
}
