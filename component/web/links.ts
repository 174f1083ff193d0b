/**
 * One-time sign-in links (`xshare web-login`, XEP-draft.md § 5.17): a token bound to the bare
 * JID that asked for it over XMPP, good for one sign-in, for `ttlMs`. At most
 * MAX_PER_MEMBER live links per member (asking for another drops the oldest): a SessionRegistry
 * (component/tokens.ts) with that cap, whose tokens are revoked when used. Kept in memory:
 * a restart of the component voids them. Clock and randomness are injected.
 */
import type { BareJid } from "../../protocol/ids.ts";
import { SessionRegistry } from "../tokens.ts";

export const MAX_PER_MEMBER = 5;
export const LINK_TOKEN = /^[A-Za-z0-9_-]{20,200}$/;

export interface LinkOptions {
  readonly now: () => number;
  readonly random: () => string;
  readonly ttlMs: number;
}

export class LoginLinks {
  readonly #links: SessionRegistry;

  constructor(opts: LinkOptions) {
    this.#links = new SessionRegistry({ ...opts, maxPerMember: MAX_PER_MEMBER });
  }

  issue(jid: BareJid): { token: string; expiresMs: number } {
    return this.#links.issue(jid);
  }

  /** Whose live link this is, without using it up. */
  peek(token: string): BareJid | undefined {
    return this.#links.lookup(token);
  }

  /** Uses the link up: whose it was, once; undefined when unknown, used or expired. */
  consume(token: string): BareJid | undefined {
    const jid = this.#links.lookup(token);
    this.#links.revoke(token);
    return jid;
  }
}
