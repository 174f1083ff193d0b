/**
 * The authoritative digest of each space (XEP-draft.md § 5.12, the patent's FIG. 9), as the
 * component tells sharing clients in presence (sharing-presence.ts).
 *
 * A space's vector is the merge of its current versions' vectors; every accepted version
 * dominates the one it replaced, so this equals the merge over everything ever committed, and
 * a client that holds exactly the current versions computes the same value. Digests are cached
 * per space and recomputed only when the space's head moved.
 */
import type { ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { EMPTY, digest, merge } from "../../protocol/vv.ts";
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
}
