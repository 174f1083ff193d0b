/**
 * A sliding-window limit on attempts per key (sign-in attempts per JID and per remote
 * address, sign-in.ts): at most `limit` attempts in any `windowMs`. Memory stays bounded: a
 * key's old attempts are dropped as it is used, idle keys at every `take`, and at most
 * `maxKeys` keys are kept (the oldest forgotten first). The clock is injected.
 */
export interface RateLimitOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly now: () => number;
  readonly maxKeys?: number;
}

export class RateLimit {
  readonly #hits = new Map<string, number[]>();
  readonly #opts: RateLimitOptions;

  constructor(opts: RateLimitOptions) {
    this.#opts = opts;
  }

  /** Counts an attempt for `key`: 0 when allowed, else the ms until one would be (not counted). */
  take(key: string): number {
    const now = this.#opts.now();
    const since = now - this.#opts.windowMs;
    const hits = (this.#hits.get(key) ?? []).filter((t) => t > since);
    if (hits.length >= this.#opts.limit) {
      this.#hits.set(key, hits);
      return hits[0]! + this.#opts.windowMs - now;
    }
    hits.push(now);
    this.#hits.delete(key); // re-inserted last: the Map's order is least recently used first
    this.#hits.set(key, hits);
    this.#prune(since);
    return 0;
  }

  #prune(since: number): void {
    const max = this.#opts.maxKeys ?? 100_000;
    for (const [k, hits] of this.#hits) {
      if (this.#hits.size <= max && hits[hits.length - 1]! > since) break;
      this.#hits.delete(k);
    }
  }
}
