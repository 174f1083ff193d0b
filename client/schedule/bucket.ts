/**
 * How fast: token buckets for the rate caps, and the CPU share of hashing. Pure arithmetic on
 * an injected clock (`now()` in ms); nothing here sets a timer, `acquire` sleeps through the
 * `sleep` it is given.
 *
 * `TokenBucket(rate, burst, now)` starts full: up to `burst` bytes may go at once, then `rate`
 * bytes per second. It keeps one number, the time the bucket is full again (GCRA), so waits are
 * exact to fractions of a millisecond and many small reservations do not drift.
 * - Reservations are first come, first served: `reserve` counts the bytes as sent at the moment
 *   it tells the caller to wait for, and the next reservation queues behind them.
 * - Over the burst: a reservation larger than `burst` is not split. It waits for a full bucket,
 *   goes at once, and leaves the bucket in debt that the reservations after it wait out. So
 *   over any interval of t seconds a bucket lets through at most
 *   rate × t + max(burst, largest reservation), and on average exactly `rate`. (Splitting would
 *   not help: the caller sends its chunk in one piece anyway.)
 * - A reservation whose transfer is then cancelled is not refunded (slower, never faster).
 *
 * `Limiter` holds every bucket one transfer is subject to (device-wide and its space's, for its
 * direction): the bytes go when all of them allow, and are counted in all of them then.
 * `RateLimits` builds and shares those buckets from the policy.
 *
 * Hashing: `hashPause` is how long to rest after a slice of hashing so that it uses at most
 * `hashCpu` of one core; `CpuPacer` adds the rests up so that tiny slices do not mean tiny sleeps.
 */
import type { SchedulePolicy } from "./policy.ts";

export class TokenBucket {
  /** Bytes per second. */
  readonly rate: number;
  /** Bytes that may go at once. */
  readonly burst: number;
  readonly #now: () => number;
  /** When the bucket is full again (ms, on `now`'s clock). */
  #full: number;

  constructor(bytesPerSecond: number, burstBytes: number, now: () => number) {
    if (!(bytesPerSecond > 0 && Number.isFinite(bytesPerSecond))) throw new RangeError(`a token bucket needs a rate above 0 bytes per second, got ${bytesPerSecond}`);
    if (!(burstBytes > 0 && Number.isFinite(burstBytes))) throw new RangeError(`a token bucket needs a burst above 0 bytes, got ${burstBytes}`);
    this.rate = bytesPerSecond;
    this.burst = burstBytes;
    this.#now = now;
    this.#full = now();
  }

  /** The earliest time (ms) at or after `notBefore` when `bytes` may go. Reserves nothing. */
  earliest(bytes: number, notBefore: number = this.#now()): number {
    // The bucket must hold `bytes`, or be full for more than it can hold.
    return Math.max(notBefore, this.#full - (Math.max(0, this.burst - bytes) * 1000) / this.rate);
  }

  /** Counts `bytes` as sent at `at`, which must not be before `earliest(bytes)`. */
  commit(bytes: number, at: number): void {
    this.#full = Math.max(this.#full, at) + (bytes * 1000) / this.rate;
  }

  /** Milliseconds to wait before `bytes` may go; they are counted as sent at that time. */
  reserve(bytes: number): number {
    checkBytes(bytes);
    const now = this.#now();
    const at = this.earliest(bytes, now);
    this.commit(bytes, at);
    return waitMs(at - now);
  }
}

function checkBytes(bytes: number): void {
  if (!(bytes >= 0 && Number.isFinite(bytes))) throw new RangeError(`cannot reserve ${bytes} bytes`);
}

/** Whole milliseconds, rounded up (a timer that fires early would let bytes go too soon). */
function waitMs(ms: number): number {
  return ms <= 1e-6 ? 0 : Math.ceil(ms - 1e-6);
}

/** Every cap one transfer is subject to; no buckets: unlimited. */
export class Limiter {
  readonly buckets: readonly TokenBucket[];
  readonly #now: () => number;

  constructor(buckets: readonly TokenBucket[], now: () => number) {
    this.buckets = buckets;
    this.#now = now;
  }

  /** Milliseconds to wait before `bytes` may go under every bucket; counted in all of them at that time. */
  reserve(bytes: number): number {
    checkBytes(bytes);
    const now = this.#now();
    const at = this.buckets.reduce((t, b) => Math.max(t, b.earliest(bytes, now)), now);
    for (const b of this.buckets) b.commit(bytes, at);
    return waitMs(at - now);
  }

  /** Reserves `bytes`, then sleeps (through the injected `sleep`) until they may go. */
  async acquire(bytes: number, sleep: (ms: number) => Promise<void>): Promise<void> {
    const ms = this.reserve(bytes);
    if (ms > 0) await sleep(ms);
  }
}

/** A bucket's burst: this many seconds of its rate. */
export const BURST_SECONDS = 1;

export type Direction = "up" | "down";

/**
 * The policy's caps as shared buckets: one per direction device-wide, one per direction for
 * each space that sets its own. Build a new one when the policy changes.
 */
export class RateLimits {
  readonly #policy: Pick<SchedulePolicy, "upload" | "download" | "spaces">;
  readonly #now: () => number;
  readonly #burstSeconds: number;
  readonly #device = new Map<Direction, TokenBucket | undefined>();
  readonly #limiters = new Map<string, Limiter>();

  constructor(policy: Pick<SchedulePolicy, "upload" | "download" | "spaces">, now: () => number, burstSeconds = BURST_SECONDS) {
    this.#policy = policy;
    this.#now = now;
    this.#burstSeconds = burstSeconds;
  }

  #bucket(rate: number | undefined): TokenBucket | undefined {
    return rate === undefined ? undefined : new TokenBucket(rate, Math.max(1, rate * this.#burstSeconds), this.#now);
  }

  /** The limiter for transfers of `space` in `direction` (the same object every time). */
  limiter(space: string, direction: Direction): Limiter {
    const key = `${direction}\n${space}`;
    let l = this.#limiters.get(key);
    if (!l) {
      const field = direction === "up" ? "upload" : "download";
      if (!this.#device.has(direction)) this.#device.set(direction, this.#bucket(this.#policy[field]));
      const own = this.#bucket(this.#policy.spaces.get(space)?.[field]);
      l = new Limiter([this.#device.get(direction), own].filter((b): b is TokenBucket => b !== undefined), this.#now);
      this.#limiters.set(key, l);
    }
    return l;
  }
}

function checkShare(hashCpu: number): void {
  if (!(hashCpu > 0 && hashCpu <= 1)) throw new RangeError(`hashCpu must be more than 0 and at most 1, got ${hashCpu}`);
}

/**
 * How long to rest after hashing for `busyMs` so that hashing uses at most `hashCpu` of one
 * core: busy / (busy + rest) = hashCpu. 0 at hashCpu 1.
 */
export function hashPause(hashCpu: number, busyMs: number): number {
  checkShare(hashCpu);
  return busyMs <= 0 ? 0 : (busyMs * (1 - hashCpu)) / hashCpu;
}

/**
 * `hashPause` over many slices: `worked(ms)` after each slice returns how long to rest now, 0
 * until the rest owed reaches `minPauseMs` (then all of it, so the share holds on average).
 */
export class CpuPacer {
  readonly hashCpu: number;
  readonly minPauseMs: number;
  #owed = 0;

  constructor(hashCpu: number, minPauseMs = 10) {
    checkShare(hashCpu);
    this.hashCpu = hashCpu;
    this.minPauseMs = minPauseMs;
  }

  worked(busyMs: number): number {
    this.#owed += hashPause(this.hashCpu, busyMs);
    if (this.#owed < this.minPauseMs) return 0;
    const rest = this.#owed;
    this.#owed = 0;
    return rest;
  }
}
