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
 * SNM (FIG. 10): an IQ set with one space and the sender's vector (or only its digest).
 *
 *   <snm xmlns='urn:xmpp:share:0' space='s-4mKq' replica='laptop-7f3a'><vector>…</vector></snm>
 */
import { badRequest } from "../errors.ts";
import { spaceId, type ReplicaId, type SpaceId } from "../ids.ts";
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

export interface SpaceDigest {
  readonly space: SpaceId;
  readonly digest: string;
}

export interface Digests {
  /** The replica whose vectors these are; the component uses its own replica id. */
  readonly replica: ReplicaId;
  readonly spaces: readonly SpaceDigest[];
}

export function buildDigests(d: Digests): Element {
  const el = new Element("digests", { xmlns: NS.share, replica: d.replica });
  for (const s of d.spaces) el.c("space", { id: s.space, digest: s.digest });
  return el;
}

export function parseDigests(el: Element): Digests {
  expectElement(el, "digests");
  const replica = replicaId(requiredAttr(el, "replica"));
  const seen = new Set<string>();
  const spaces = childrenNamed(el, "space").map((s): SpaceDigest => {
    const space = spaceId(requiredAttr(s, "id"));
    if (seen.has(space)) throw badRequest(`<digests/> names space ${space} twice`);
    seen.add(space);
    return { space, digest: checkDigest(requiredAttr(s, "digest"), "<space digest/>") };
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
