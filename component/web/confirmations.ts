/**
 * Sign-in by confirmation (XEP-0070, XEP-draft.md § 5.17): a sign-in attempt asks every
 * sharing client of the user online now to confirm the transaction id the page shows.
 *
 * - The attempt is bound to the browser that started it by a secret of its own (a cookie,
 *   sign-in.ts), not by the transaction id, which is shown and may be seen by others.
 * - The first IQ result signs the attempt in (`confirmed`); a denial (`not-authorized`) from
 *   any client refuses it at once; other errors and timeouts count as "no", and once every
 *   client has said no in one of these ways the attempt is refused. An attempt not decided
 *   within `confirmMs` is expired. Once decided, an attempt never changes state again, and a
 *   confirmed one is used up by the first `take` (one session per confirmation).
 * - Attempts are in memory and forgotten a while after they end. Clock and randomness are
 *   injected.
 */
import type { BareJid } from "../../protocol/ids.ts";
import { buildConfirm, isDenial } from "../../protocol/stanzas/http-auth.ts";
import { Element } from "../../protocol/xml.ts";

export type AttemptState = "pending" | "confirmed" | "refused" | "expired";

export interface Attempt {
  readonly jid: BareJid;
  /** The transaction id the page shows and the clients show, to compare. */
  readonly tx: string;
  state: AttemptState;
  /** Why it was refused, for the page. */
  reason?: string;
  readonly expiresMs: number;
}

export interface ConfirmationOptions {
  readonly now: () => number;
  /** An unguessable secret (the browser's cookie). */
  readonly random: () => string;
  /** Random bytes for transaction ids. */
  readonly randomBytes: (n: number) => Buffer;
  readonly confirmMs: number;
  /** The component's domain (`from` of the requests) and the URL they name. */
  readonly domain: string;
  readonly loginUrl: string;
  /** Sends an IQ, resolves with its result, rejects on an error (Error.reply) or a timeout. */
  readonly request: (iq: Element, timeoutMs: number) => Promise<Element>;
}

/** Crockford's base32 without look-alikes: what a person compares at a glance. */
const ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789";
/** Ended attempts are kept this long, so a page polling a little late still learns the outcome. */
const KEEP_ENDED_MS = 5 * 60_000;

export class Confirmations {
  readonly #attempts = new Map<string, Attempt>();
  readonly #opts: ConfirmationOptions;

  constructor(opts: ConfirmationOptions) {
    this.#opts = opts;
  }

  /** A transaction id like `K7QX-4MDP`. */
  newTx(): string {
    const bytes = this.#opts.randomBytes(8);
    let s = "";
    for (let i = 0; i < 8; i++) s += (i === 4 ? "-" : "") + ALPHABET[bytes[i]! % ALPHABET.length];
    return s;
  }

  /** Starts an attempt for `jid`, asking each of `clients` (full JIDs); returns its secret. */
  start(jid: BareJid, clients: readonly string[]): { secret: string; attempt: Attempt } {
    this.#sweep();
    const secret = this.#opts.random();
    const attempt: Attempt = { jid, tx: this.newTx(), state: "pending", expiresMs: this.#opts.now() + this.#opts.confirmMs };
    this.#attempts.set(secret, attempt);
    let noes = 0;
    for (const to of clients) {
      const iq = new Element("iq", { type: "get", to, from: this.#opts.domain });
      iq.cnode(buildConfirm({ id: attempt.tx, method: "POST", url: this.#opts.loginUrl }));
      this.#opts.request(iq, this.#opts.confirmMs).then(
        () => this.#decide(attempt, "confirmed"),
        (err: unknown) => {
          const reply = (err as { reply?: Element }).reply;
          if (reply && isDenial(reply)) return this.#decide(attempt, "refused", "The sign-in was denied on your device.");
          if (++noes === clients.length) this.#decide(attempt, "refused", "Your sharing client did not confirm the sign-in in time.");
        },
      );
    }
    if (clients.length === 0) this.#decide(attempt, "refused", "No sharing client of yours is online.");
    return { secret, attempt };
  }

  /** The attempt a browser's secret names (expired ones marked so). */
  get(secret: string): Attempt | undefined {
    const a = this.#attempts.get(secret);
    if (a && a.state === "pending" && a.expiresMs <= this.#opts.now()) this.#decide(a, "expired", "Nobody confirmed the sign-in in time.");
    return a;
  }

  /** A confirmed attempt's JID, once: the attempt is used up. */
  take(secret: string): BareJid | undefined {
    const a = this.get(secret);
    if (!a || a.state !== "confirmed") return undefined;
    this.#attempts.delete(secret);
    return a.jid;
  }

  #decide(a: Attempt, state: Exclude<AttemptState, "pending">, reason?: string): void {
    if (a.state !== "pending") return;
    if (state === "confirmed" && a.expiresMs <= this.#opts.now()) [state, reason] = ["expired", "Nobody confirmed the sign-in in time."];
    a.state = state;
    if (reason) a.reason = reason;
  }

  #sweep(): void {
    const now = this.#opts.now();
    for (const [s, a] of this.#attempts) if (a.expiresMs + KEEP_ENDED_MS <= now) this.#attempts.delete(s);
  }
}
