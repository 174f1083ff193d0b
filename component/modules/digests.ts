/**
 * Digests in presence, the component's side (XEP-draft.md § 5.12, the patent's FIG. 9): a
 * sharing client's directed presence carrying `<digests/>` is answered with directed presence
 * carrying the authoritative digest of every space its user belongs to.
 *
 * A space's vector is the merge of its current versions' vectors; every accepted version
 * dominates the one it replaced, so this equals the merge over everything ever committed, and
 * a client that holds exactly the current versions computes the same value. Digests are cached
 * per space and recomputed only when the space's head moved.
 */
import type { BareJid, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { bareOf } from "../../protocol/jid.ts";
import { NS } from "../../protocol/ns.ts";
import { buildDigests, parseDigests } from "../../protocol/stanzas/sync-signals.ts";
import { EMPTY, digest, merge } from "../../protocol/vv.ts";
import { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";

/** The component's own replica id in `<digests replica/>`: its domain as a token. */
export function componentReplica(domain: string): ReplicaId {
  return domain.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64) as ReplicaId;
}

export class SpaceDigests {
  readonly #cache = new Map<SpaceId, { head: number; digest: string }>();

  constructor(private readonly deps: Deps) {}

  /** The digest of a space's vector at its current head. */
  async of(space: SpaceId, head: number): Promise<string> {
    const hit = this.#cache.get(space);
    if (hit && hit.head === head) return hit.digest;
    let v = EMPTY;
    for (let after = 0; ; ) {
      const page = await this.deps.store.readIndex(space, after, 1000);
      for (const e of page) v = merge(v, e.vector);
      const last = page.at(-1);
      if (!last || page.length < 1000) break;
      after = last.seq;
    }
    const d = digest(v);
    this.#cache.set(space, { head, digest: d });
    return d;
  }

  /**
   * The answer to a presence stanza, or undefined when it carries no (valid) `<digests/>`:
   * presence gets no error replies, so malformed payloads are ignored.
   */
  async answer(stanza: Element): Promise<Element | undefined> {
    const from = String(stanza.attrs.from ?? "");
    const payload = stanza.getChild("digests", NS.share);
    if (!payload || !from.includes("/") || (stanza.attrs.type !== undefined && stanza.attrs.type !== "available")) return undefined;
    let member: BareJid;
    try {
      parseDigests(payload);
      member = bareOf(from);
    } catch {
      return undefined;
    }
    const spaces = [];
    for (const s of await this.deps.store.spacesOf(member)) spaces.push({ space: s.id, digest: await this.of(s.id, s.head) });
    const reply = new Element("presence", { to: from });
    reply.cnode(buildDigests({ replica: componentReplica(this.deps.config.domain), spaces }));
    return reply;
  }
}
