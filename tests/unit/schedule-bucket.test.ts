/**
 * Rate caps and the hashing CPU share (client/schedule/bucket.ts), on a fake clock: a bucket
 * lets its burst go at once and then its rate; over a simulated minute the caps hold to within
 * a few percent whatever the rate, chunk size and number of concurrent transfers; and in no
 * interval does more than rate × t + burst get through (property).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CpuPacer, hashPause, Limiter, RateLimits, TokenBucket } from "../../client/schedule/bucket.ts";
import { parsePolicy } from "../../client/schedule/policy.ts";

/** A clock that moves only when told to. */
function fakeClock(start = 0) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

describe("TokenBucket", () => {
  it("starts full: the burst goes at once, then the rate, first come first served", () => {
    const clock = fakeClock(5_000);
    const b = new TokenBucket(1000, 1000, clock.now);
    expect(b.reserve(600)).toBe(0);
    expect(b.reserve(400)).toBe(0);
    expect(b.reserve(500)).toBe(500);
    expect(b.reserve(500)).toBe(1000); // queued behind the previous one
    clock.advance(1000);
    expect(b.reserve(1)).toBe(1);
  });

  it("refills while idle, up to the burst and no more", () => {
    const clock = fakeClock();
    const b = new TokenBucket(1000, 1000, clock.now);
    expect(b.reserve(1000)).toBe(0);
    clock.advance(250);
    expect(b.reserve(250)).toBe(0);
    expect(b.reserve(1)).toBe(1);
    clock.advance(60_000);
    expect(b.reserve(1000)).toBe(0);
    expect(b.reserve(100)).toBe(100);
  });

  it("a reservation larger than the burst waits for a full bucket, goes, and leaves a debt", () => {
    const clock = fakeClock();
    const b = new TokenBucket(1000, 1000, clock.now);
    expect(b.reserve(3000)).toBe(0);
    expect(b.reserve(1)).toBe(2001);
    // A stream of such chunks goes at the rate exactly: one every 3 s.
    const c = new TokenBucket(1000, 1000, clock.now);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const ms = c.reserve(3000);
      waits.push(ms);
      clock.advance(ms);
    }
    expect(waits).toEqual([0, 3000, 3000, 3000]);
  });

  it("rounds waits up to whole milliseconds without drifting", () => {
    const clock = fakeClock();
    const b = new TokenBucket(3, 1, clock.now); // a byte every 333.33 ms
    let sent = 0;
    while (clock.now() < 1_000_000 && sent < 10_000) {
      clock.advance(b.reserve(1));
      sent++;
    }
    expect(sent).toBe(3001); // 3 per second for 1000 s, and the one the full bucket held
  });

  it("refuses what cannot be", () => {
    const now = () => 0;
    expect(() => new TokenBucket(0, 10, now)).toThrow("a token bucket needs a rate above 0 bytes per second, got 0");
    expect(() => new TokenBucket(10, -1, now)).toThrow("a token bucket needs a burst above 0 bytes, got -1");
    expect(() => new TokenBucket(10, 10, now).reserve(Number.NaN)).toThrow("cannot reserve NaN bytes");
  });
});

/**
 * `workers` transfers, each reserving `chunk` bytes then sleeping as told, for `ms` of fake
 * time. Returns the bytes each limiter let go before `ms`.
 */
function simulate(limiters: readonly Limiter[], clock: ReturnType<typeof fakeClock>, chunk: number, ms: number): number[] {
  const ready = limiters.map(() => clock.now());
  const sent = limiters.map(() => 0);
  for (let steps = 0; ; steps++) {
    if (steps > 5_000_000) throw new Error("the clock does not move: nothing ever waits");
    let i = 0;
    for (let k = 1; k < ready.length; k++) if ((ready[k] ?? 0) < (ready[i] ?? 0)) i = k;
    const at = ready[i] ?? 0;
    if (at >= ms) return sent;
    clock.advance(at - clock.now());
    const wait = limiters[i]?.reserve(chunk) ?? 0;
    const goes = clock.now() + wait;
    if (goes < ms) sent[i] = (sent[i] ?? 0) + chunk;
    ready[i] = goes;
  }
}

describe("caps over a simulated minute", () => {
  const cases: [number, number][] = [];
  for (const rate of [2_000, 64_000, 500_000, 10_000_000]) for (const chunk of [512, 4096, 65_536, 1_048_576]) if (chunk * 20 <= rate * 60) cases.push([rate, chunk]);

  it.each(cases)("%d B/s in chunks of %d bytes, one transfer", (rate, chunk) => {
    const clock = fakeClock();
    const limits = new RateLimits(parsePolicy({ upload: rate }), clock.now);
    const [sent = 0] = simulate([limits.limiter("s", "up")], clock, chunk, 60_000);
    // The first second's burst comes on top: at most 1/60 over.
    expect(sent / 60 / rate).toBeGreaterThan(0.97);
    expect(sent / 60 / rate).toBeLessThan(1.03);
  });

  it.each(cases)("%d B/s in chunks of %d bytes, four transfers sharing the device cap", (rate, chunk) => {
    const clock = fakeClock();
    const limits = new RateLimits(parsePolicy({ download: rate }), clock.now);
    const sent = simulate(["a", "b", "c", "d"].map((s) => limits.limiter(s, "down")), clock, chunk, 60_000);
    const total = sent.reduce((a, b) => a + b, 0);
    expect(total / 60 / rate).toBeGreaterThan(0.97);
    expect(total / 60 / rate).toBeLessThan(1.03);
  });

  it("a space's own cap holds inside the device's, and the others share the rest", () => {
    const clock = fakeClock();
    const limits = new RateLimits(parsePolicy({ upload: "300kB/s", spaces: { slow: { upload: "100kB/s" } } }), clock.now);
    const [slow = 0, fast1 = 0, fast2 = 0] = simulate([limits.limiter("slow", "up"), limits.limiter("x", "up"), limits.limiter("y", "up")], clock, 16_384, 60_000);
    expect(slow / 60 / 100_000).toBeGreaterThan(0.97);
    expect(slow / 60 / 100_000).toBeLessThan(1.03);
    expect((slow + fast1 + fast2) / 60 / 300_000).toBeGreaterThan(0.97);
    expect((slow + fast1 + fast2) / 60 / 300_000).toBeLessThan(1.03);
  });

  it("chunks larger than the burst still go, at the rate on average", () => {
    const clock = fakeClock();
    const limits = new RateLimits(parsePolicy({ upload: "100kB/s" }), clock.now); // burst 100 kB
    const [sent = 0] = simulate([limits.limiter("s", "up")], clock, 1_048_576, 600_000);
    expect(sent).toBeLessThanOrEqual(100_000 * 600 + 1_048_576);
    expect(sent).toBeGreaterThan(100_000 * 600 - 1_048_576);
  });
});

describe("never more than rate × t + burst in any interval", () => {
  /** The most bytes whose send times fall in an interval of t ms, minus what the bound allows. */
  function worstExcess(sends: readonly { at: number; bytes: number }[], rate: number, allowance: number): number {
    let worst = -Infinity;
    for (let i = 0; i < sends.length; i++) {
      let sum = 0;
      for (let j = i; j < sends.length; j++) {
        sum += sends[j]?.bytes ?? 0;
        const t = (sends[j]?.at ?? 0) - (sends[i]?.at ?? 0);
        worst = Math.max(worst, sum - ((rate * t) / 1000 + allowance));
      }
    }
    return worst;
  }

  const step = fc.record({ idle: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })), bytes: fc.integer({ min: 0, max: 5000 }) });

  it("one bucket, reservations up to the burst, at any times", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 5000 }), fc.array(step, { maxLength: 60 }), (rate, burst, steps) => {
        const clock = fakeClock(1_000_000);
        const b = new TokenBucket(rate, burst, clock.now);
        const sends = steps.map(({ idle, bytes }) => {
          clock.advance(idle);
          const n = Math.min(bytes, burst);
          return { at: clock.now() + b.reserve(n), bytes: n };
        });
        // Waits are whole milliseconds, rounded up: a send may be up to 1 ms late.
        expect(worstExcess(sends, rate, burst + rate / 1000)).toBeLessThanOrEqual(1e-6);
      }),
      { numRuns: 300 },
    );
  });

  it("with reservations over the burst, the largest one takes the burst's place", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 2000 }), fc.array(step, { maxLength: 60 }), (rate, burst, steps) => {
        const clock = fakeClock();
        const b = new TokenBucket(rate, burst, clock.now);
        const sends = steps.map(({ idle, bytes }) => {
          clock.advance(idle);
          return { at: clock.now() + b.reserve(bytes), bytes };
        });
        const largest = Math.max(burst, ...steps.map((s) => s.bytes));
        expect(worstExcess(sends, rate, largest + rate / 1000)).toBeLessThanOrEqual(1e-6);
      }),
      { numRuns: 300 },
    );
  });

  it("a limiter keeps every one of its buckets' bounds", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }), (steps, which) => {
        const clock = fakeClock();
        const device = new TokenBucket(8000, 4000, clock.now);
        const space = new TokenBucket(2000, 1000, clock.now);
        const inSpace = new Limiter([device, space], clock.now);
        const outside = new Limiter([device], clock.now);
        const all: { at: number; bytes: number }[] = [];
        const own: { at: number; bytes: number }[] = [];
        steps.forEach(({ idle, bytes }, i) => {
          clock.advance(idle);
          const mine = which[i] === true;
          const n = Math.min(bytes, mine ? 1000 : 4000);
          const send = { at: clock.now() + (mine ? inSpace : outside).reserve(n), bytes: n };
          all.push(send);
          if (mine) own.push(send);
        });
        all.sort((a, b) => a.at - b.at);
        expect(worstExcess(all, 8000, 4000 + 8)).toBeLessThanOrEqual(1e-6);
        expect(worstExcess(own, 2000, 1000 + 2)).toBeLessThanOrEqual(1e-6);
      }),
      { numRuns: 200 },
    );
  });
});

describe("Limiter and RateLimits", () => {
  it("acquire sleeps through the injected sleep, and not at all when it need not", async () => {
    const clock = fakeClock();
    const slept: number[] = [];
    const sleep = async (ms: number) => {
      slept.push(ms);
      clock.advance(ms);
    };
    const l = new Limiter([new TokenBucket(1000, 500, clock.now)], clock.now);
    await l.acquire(500, sleep);
    await l.acquire(250, sleep);
    await l.acquire(250, sleep);
    expect(slept).toEqual([250, 250]);
    expect(clock.now()).toBe(500);
  });

  it("no caps: nothing ever waits", async () => {
    const clock = fakeClock();
    const limits = new RateLimits(parsePolicy({}), clock.now);
    const l = limits.limiter("s", "up");
    expect(l.buckets).toEqual([]);
    for (let i = 0; i < 100; i++) expect(l.reserve(2 ** 30)).toBe(0);
    await l.acquire(2 ** 40, () => Promise.reject(new Error("slept")));
  });

  it("shares the device bucket across spaces, per direction, and hands out one limiter per space and direction", () => {
    const clock = fakeClock();
    const limits = new RateLimits(parsePolicy({ upload: "1kB/s", spaces: { s: { download: "2kB/s" } } }), clock.now);
    expect(limits.limiter("s", "up")).toBe(limits.limiter("s", "up"));
    expect(limits.limiter("s", "up").buckets).toHaveLength(1);
    expect(limits.limiter("s", "up").buckets[0]).toBe(limits.limiter("t", "up").buckets[0]);
    expect(limits.limiter("s", "down").buckets.map((b) => b.rate)).toEqual([2000]);
    expect(limits.limiter("t", "down").buckets).toEqual([]);
    expect(limits.limiter("s", "up").reserve(1000)).toBe(0);
    expect(limits.limiter("t", "up").reserve(1000)).toBe(1000); // same device bucket
    expect(limits.limiter("s", "down").reserve(1000)).toBe(0); // downloads are counted apart
  });
});

describe("hashing CPU share", () => {
  it.each([
    [1, 10, 0],
    [0.5, 10, 10],
    [0.25, 10, 30],
    [0.8, 40, 10],
    [0.5, 0, 0],
  ])("hashCpu %d after %d ms of hashing: rest %d ms", (share, busy, rest) => {
    expect(hashPause(share, busy)).toBeCloseTo(rest, 9);
  });

  it("refuses shares outside (0, 1]", () => {
    expect(() => hashPause(0, 10)).toThrow("hashCpu must be more than 0 and at most 1, got 0");
    expect(() => new CpuPacer(1.5)).toThrow("hashCpu must be more than 0 and at most 1, got 1.5");
  });

  it("CpuPacer gathers small rests into real pauses, keeping the share", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 1, noNaN: true }), fc.array(fc.double({ min: 0, max: 50, noNaN: true }), { minLength: 1, maxLength: 200 }), (share, slices) => {
        const pacer = new CpuPacer(share, 10);
        let busy = 0;
        let rest = 0;
        for (const s of slices) {
          busy += s;
          const r = pacer.worked(s);
          expect(r === 0 || r >= 10).toBe(true);
          rest += r;
        }
        // Whatever is still owed is below the minimum pause.
        const owed = hashPause(share, busy) - rest;
        expect(owed).toBeGreaterThanOrEqual(-1e-6);
        expect(owed).toBeLessThan(10 + 1e-6);
      }),
    );
  });
});
