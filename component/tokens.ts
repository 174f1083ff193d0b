/**
 * Transfer tokens (XEP-draft.md § 5.9): short-lived bearer tokens bound to one member, one
 * space, one direction and a set of chunk hashes. Kept in memory only: after a restart a
 * client simply asks for new slots. Clock and randomness are injected.
 */
import type { BareJid, ChunkHash, SpaceId } from "../protocol/ids.ts";
import type { Direction } from "../protocol/stanzas/slots.ts";

export interface Grant {
  readonly member: BareJid;
  readonly space: SpaceId;
  readonly direction: Direction;
  /** The chunks covered, with the size the slot request declared for each (uploads must match). */
  readonly hashes: ReadonlyMap<ChunkHash, number>;
  readonly expiresMs: number;
}

export interface TokenOptions {
  readonly now: () => number;
  /** Returns a fresh unguessable token (e.g. 24 random bytes, base64url). */
  readonly random: () => string;
  readonly ttlMs: number;
}

export class TokenRegistry {
  readonly #grants = new Map<string, Grant>();
  readonly #opts: TokenOptions;

  constructor(opts: TokenOptions) {
    this.#opts = opts;
  }

  issue(member: BareJid, space: SpaceId, direction: Direction, chunks: Iterable<{ readonly hash: ChunkHash; readonly size: number }>): { token: string; expiresMs: number } {
    this.sweep();
    const token = this.#opts.random();
    const expiresMs = this.#opts.now() + this.#opts.ttlMs;
    this.#grants.set(token, { member, space, direction, hashes: new Map([...chunks].map((c) => [c.hash, c.size])), expiresMs });
    return { token, expiresMs };
  }

  /** The grant for `token` if it is live and covers `hash` in `direction`. */
  check(token: string, direction: Direction, hash: ChunkHash): Grant | undefined {
    const g = this.lookup(token);
    return g && g.direction === direction && g.hashes.has(hash) ? g : undefined;
  }

  /**
   * The grant for `token` if it is live, whatever it covers: lets HTTP tell an unknown or
   * expired token (401) from one that is valid but not for this chunk or direction (403).
   */
  lookup(token: string): Grant | undefined {
    const g = this.#grants.get(token);
    if (!g) return undefined;
    if (g.expiresMs <= this.#opts.now()) {
      this.#grants.delete(token);
      return undefined;
    }
    return g;
  }

  /** Forgets every grant of a member in a space (the member left or was removed). */
  revoke(member: BareJid, space: SpaceId): void {
    for (const [t, g] of this.#grants) if (g.member === member && g.space === space) this.#grants.delete(t);
  }

  /** Forgets every grant for a space (it was deleted: nobody may move its chunks any more). */
  revokeSpace(space: SpaceId): void {
    for (const [t, g] of this.#grants) if (g.space === space) this.#grants.delete(t);
  }

  sweep(): void {
    const now = this.#opts.now();
    for (const [t, g] of this.#grants) if (g.expiresMs <= now) this.#grants.delete(t);
  }

  get size(): number {
    return this.#grants.size;
  }
}

/**
 * Session tokens for protocol IQs over HTTP (XEP-draft.md § 5.11, "IQs over HTTP"): bound to one
 * member only; whatever that member may do over XMPP it may do with the token, nothing more.
 * Also the one-time sign-in links of the web interface (component/web/links.ts), which cap the
 * live tokens per member (`maxPerMember`: issuing another drops the oldest) and revoke a token
 * when it is used.
 */
export class SessionRegistry {
  readonly #members = new Map<string, { member: BareJid; expiresMs: number }>();
  readonly #opts: TokenOptions & { readonly maxPerMember?: number };

  constructor(opts: TokenOptions & { readonly maxPerMember?: number }) {
    this.#opts = opts;
  }

  issue(member: BareJid): { token: string; expiresMs: number } {
    const now = this.#opts.now();
    for (const [t, s] of this.#members) if (s.expiresMs <= now) this.#members.delete(t);
    const max = this.#opts.maxPerMember;
    if (max !== undefined) {
      // Map order is issue order: the member's oldest go first.
      const theirs = [...this.#members].filter(([, s]) => s.member === member);
      for (const [t] of theirs.slice(0, Math.max(0, theirs.length - max + 1))) this.#members.delete(t);
    }
    const token = this.#opts.random();
    const expiresMs = now + this.#opts.ttlMs;
    this.#members.set(token, { member, expiresMs });
    return { token, expiresMs };
  }

  /** The member a live token belongs to. */
  lookup(token: string): BareJid | undefined {
    const s = this.#members.get(token);
    if (!s) return undefined;
    if (s.expiresMs <= this.#opts.now()) {
      this.#members.delete(token);
      return undefined;
    }
    return s.member;
  }

  /** The token is no longer good. */
  revoke(token: string): void {
    this.#members.delete(token);
  }
}
