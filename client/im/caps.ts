/**
 * Which contacts' clients support sharing, the XEP-0115 way: a resource's presence names its
 * capabilities by a verification string (`ver`); the features behind a ver are asked once
 * (disco#info of `node#ver` to a resource that announced it) and kept for every later resource
 * that announces the same ver.
 *
 * Invariants: a ver is never trusted without a disco answer. An answer is kept for the ver
 * only when it hashes to that ver (XEP-0115 § 5.1, SHA-1, no data forms: those we cannot hash
 * the same way); otherwise it counts for the resource that gave it, and the next resource
 * announcing that ver is asked again. One request per ver is in flight at a time; a failed
 * request (an error, a timeout) leaves the ver unknown (asked again at its next presence).
 */
import { type DiscoInfo, capsVer, supportsSharing } from "../../protocol/stanzas/disco.ts";
import type { Caps } from "./stanzas.ts";

/** disco#info of `node` at `jid` (rejects on an error answer or a timeout). */
export type AskDisco = (jid: string, node: string) => Promise<{ info: DiscoInfo; hasForms: boolean }>;

/** Verified vers kept at most (a contact cannot make us hold unbounded state). */
const MAX_VERS = 1000;

export class CapsCache {
  readonly #ask: AskDisco;
  /** ver → whether its features include urn:xmpp:share:0 (verified answers only). */
  readonly #known = new Map<string, boolean>();
  /** ver → the request in flight. */
  readonly #asking = new Map<string, Promise<boolean | undefined>>();

  constructor(ask: AskDisco) {
    this.#ask = ask;
  }

  /** What is known of this ver without asking (undefined: not verified yet). */
  known(caps: Caps): boolean | undefined {
    return this.#known.get(key(caps));
  }

  /**
   * Whether the resource `jid` announcing `caps` supports sharing: from the cache, else from
   * its disco answer. undefined when it could not be learnt.
   */
  async supportsSharing(jid: string, caps: Caps): Promise<boolean | undefined> {
    const k = key(caps);
    const cached = this.#known.get(k);
    if (cached !== undefined) return cached;
    let pending = this.#asking.get(k);
    const mine = !pending;
    if (!pending) {
      pending = this.#learn(jid, caps).finally(() => this.#asking.delete(k));
      this.#asking.set(k, pending);
    }
    const answer = await pending;
    if (this.#known.has(k)) return this.#known.get(k);
    // Unverified: this resource's own answer counts for it; another's says nothing: ask it.
    return mine ? answer : this.supportsSharing(jid, caps);
  }

  async #learn(jid: string, caps: Caps): Promise<boolean | undefined> {
    let answer;
    try {
      answer = await this.#ask(jid, `${caps.node}#${caps.ver}`);
    } catch {
      return undefined;
    }
    const sharing = supportsSharing(answer.info);
    if (caps.hash === "sha-1" && !answer.hasForms && capsVer(answer.info) === caps.ver) {
      if (this.#known.size >= MAX_VERS) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(key(caps), sharing);
    }
    return sharing;
  }
}

function key(caps: Caps): string {
  return `${caps.hash} ${caps.ver}`;
}
