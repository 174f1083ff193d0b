/**
 * The sharing client's side of the web interface's sign-in (XEP-0070; XEP-draft.md § 5.17):
 * the sharing manager asks, with `<confirm id method url/>` in an IQ, whether the user is
 * signing in to its web interface; the daemon holds the request until the user accepts or
 * denies it (`xshare web-confirm`, the local UI's notice: client/ui/confirm.ts), and answers.
 *
 * - Only the configured sharing manager (its exact JID) may ask: anyone else gets
 *   `service-unavailable`, as from a client without the feature, and the user is not bothered.
 * - A malformed request gets `bad-request` and nothing is held. At most MAX_PENDING requests
 *   are held (more: `resource-constraint`); a transaction id already held: `conflict`.
 * - Accept: an empty IQ result. Deny, no answer within `ttlMs` (then the request is dropped),
 *   or the daemon stopping: `not-authorized` (XEP-0070 § 6), so the web page says "refused".
 * - Every change of the held list is told to `onChange` (the local UI publishes it live).
 */
import { ShareError } from "../protocol/errors.ts";
import { NS } from "../protocol/ns.ts";
import { buildDenial, parseConfirm } from "../protocol/stanzas/http-auth.ts";
import { Element } from "../protocol/xml.ts";

export const MAX_PENDING = 10;
/** How long a request waits for the user (the manager waits a little longer, 2 min by default). */
export const CONFIRM_TTL_MS = 100_000;

export interface PendingConfirm {
  /** The transaction id: the one the web page shows. */
  readonly id: string;
  readonly method: string;
  readonly url: string;
  /** The URL's host (what the user should recognise). */
  readonly host: string;
  /** Who asked (the sharing manager). */
  readonly from: string;
  readonly receivedMs: number;
  readonly expiresMs: number;
}

export interface WebConfirmOptions {
  /** The sharing manager's JID (config.component): the only one that may ask. */
  readonly component: string;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

interface Held {
  readonly view: PendingConfirm;
  readonly answer: (reply: Element | true) => void;
  readonly timer: NodeJS.Timeout;
}

function stanzaError(type: string, condition: string, text: string): Element {
  const err = new Element("error", { type });
  err.c(condition, { xmlns: NS.stanzas });
  err.c("text", { xmlns: NS.stanzas }).t(text);
  return err;
}

export class WebConfirm {
  readonly #held = new Map<string, Held>();
  readonly #opts: Required<WebConfirmOptions>;
  /** Called with the held requests whenever they change. */
  onChange: ((pending: PendingConfirm[]) => void) | undefined;

  constructor(opts: WebConfirmOptions) {
    this.#opts = { ttlMs: CONFIRM_TTL_MS, now: () => Date.now(), ...opts };
  }

  /**
   * An IQ `<confirm/>` from `from` (`payload`: the IQ's child). Resolves with the reply: true
   * (an empty result: accepted) or an `<error/>` element; never rejects.
   */
  handle(from: string, payload: Element | undefined): Promise<Element | true> {
    if (from !== this.#opts.component) return Promise.resolve(stanzaError("cancel", "service-unavailable", "Not accepted from this sender"));
    let req;
    try {
      if (!payload) throw new ShareError("bad-request", { text: "No <confirm/>" });
      req = parseConfirm(payload);
    } catch (err) {
      return Promise.resolve((err instanceof ShareError ? err : new ShareError("bad-request")).toElement());
    }
    if (this.#held.has(req.id)) return Promise.resolve(stanzaError("cancel", "conflict", "This transaction is already waiting for the user"));
    if (this.#held.size >= MAX_PENDING) return Promise.resolve(stanzaError("wait", "resource-constraint", "Too many sign-in requests are waiting"));
    const now = this.#opts.now();
    const view: PendingConfirm = { id: req.id, method: req.method, url: req.url, host: new URL(req.url).host, from, receivedMs: now, expiresMs: now + this.#opts.ttlMs };
    return new Promise<Element | true>((resolve) => {
      const timer = setTimeout(() => this.#finish(req.id, buildDenial("The user did not answer in time")), this.#opts.ttlMs);
      timer.unref();
      this.#held.set(req.id, { view, answer: resolve, timer });
      this.#changed();
    });
  }

  /** The requests waiting for the user, oldest first. */
  list(): PendingConfirm[] {
    return [...this.#held.values()].map((h) => h.view);
  }

  /** Accepts or denies a held request by transaction id (case-insensitive); false if none. */
  answer(id: string, accept: boolean): boolean {
    const key = this.#held.has(id) ? id : [...this.#held.keys()].find((k) => k.toUpperCase() === id.trim().toUpperCase());
    if (key === undefined) return false;
    return this.#finish(key, accept ? true : buildDenial("The user denied this sign-in"));
  }

  /** Denies everything held (the daemon stops). */
  close(): void {
    for (const id of [...this.#held.keys()]) this.#finish(id, buildDenial("The sharing client stopped"));
  }

  #finish(id: string, reply: Element | true): boolean {
    const h = this.#held.get(id);
    if (!h) return false;
    clearTimeout(h.timer);
    this.#held.delete(id);
    h.answer(reply);
    this.#changed();
    return true;
  }

  #changed(): void {
    this.onChange?.(this.list());
  }
}
