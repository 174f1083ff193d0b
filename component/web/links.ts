/**
 * One-time sign-in links (`xshare web-login`, XEP-draft.md § 5.17): a token bound to the bare
 * JID that asked for it over XMPP, good for one sign-in, for `ttlMs`. At most
 * MAX_PER_MEMBER live links per member (asking for another drops the oldest). Kept in memory:
 * a restart of the component voids them. Clock and randomness are injected.
 */
import type { BareJid } from "../../protocol/ids.ts";

export const MAX_PER_MEMBER = 5;
export const LINK_TOKEN = /^[A-Za-z0-9_-]{20,200}$/;

export interface LinkOptions {
  readonly now: () => number;
  readonly random: () => string;
  readonly ttlMs: number;
}

export class LoginLinks {
  readonly #links = new Map<string, { jid: BareJid; expiresMs: number }>();
  readonly #opts: LinkOptions;

  constructor(opts: LinkOptions) {
    this.#opts = opts;
  }

  issue(jid: BareJid): { token: string; expiresMs: number } {
    this.#sweep();
    const mine = [...this.#links].filter(([, l]) => l.jid === jid);
    for (const [t] of mine.slice(0, Math.max(0, mine.length - MAX_PER_MEMBER + 1))) this.#links.delete(t);
    const token = this.#opts.random();
    const expiresMs = this.#opts.now() + this.#opts.ttlMs;
    this.#links.set(token, { jid, expiresMs });
    return { token, expiresMs };
  }

  /** Whose live link this is, without using it up. */
  peek(token: string): BareJid | undefined {
    const l = this.#links.get(token);
    if (!l) return undefined;
    if (l.expiresMs <= this.#opts.now()) {
      this.#links.delete(token);
      return undefined;
    }
    return l.jid;
  }

  /** Uses the link up: whose it was, once; undefined when unknown, used or expired. */
  consume(token: string): BareJid | undefined {
    const jid = this.peek(token);
    this.#links.delete(token);
    return jid;
  }

  #sweep(): void {
    const now = this.#opts.now();
    for (const [t, l] of this.#links) if (l.expiresMs <= now) this.#links.delete(t);
  }
}
