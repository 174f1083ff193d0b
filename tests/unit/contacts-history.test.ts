/**
 * The component's presence history and throughput (component/modules/contacts.ts) on a fake
 * clock and the in-memory store: a bit per UTC hour online, at most one write per hour while a
 * member stays online, the session recorded when they go, and nothing kept past KEEP_HOURS.
 */
import { describe, expect, it } from "vitest";
import { HOUR_MS, KEEP_HOURS, MIN_SAMPLE_BYTES, PresenceRecorder, Throughput, USUAL_MIN_DAYS, movingAverage, usualHours } from "../../component/modules/contacts.ts";
import { MemoryMetadataStore } from "../../component/store/memory-metadata.ts";
import type { BareJid } from "../../protocol/ids.ts";

const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
const T0 = Date.UTC(2026, 10, 25, 9, 50, 0);
const H0 = Math.floor(T0 / HOUR_MS); // 09:00 on 2026-11-25
const MIN = 60_000;

function setup() {
  const store = new MemoryMetadataStore();
  let clock = T0;
  const writes: string[] = [];
  // Counts the writes the recorder makes (what must stay cheap).
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "markOnline" || prop === "putPresenceSummary" || prop === "forgetPresenceBefore") writes.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const rec = new PresenceRecorder(counted, () => clock);
  return { store, rec, writes, at: (ms: number) => (clock = ms), advance: (ms: number) => (clock += ms) };
}

describe("presence history (a bit per UTC hour)", () => {
  it("records every hour a member was online in, one write per new hour, the session when they go", async () => {
    const t = setup();
    await t.rec.came(bob); // 09:50
    expect(await t.store.onlineHours(bob, 0)).toEqual([H0]);
    t.writes.length = 0;
    t.advance(9 * MIN); // 09:59: a keepalive, the same hour
    await t.rec.stays(bob);
    expect(t.writes).toEqual([]);
    t.advance(2 * MIN); // 10:01: a new hour, one write (and the hourly pruning of the window)
    await t.rec.stays(bob);
    expect(t.writes).toEqual(["forgetPresenceBefore", "markOnline"]);
    t.writes.length = 0;
    t.advance(2 * HOUR_MS + 29 * MIN); // 12:30, no presence in between: 11 and 12 are recorded when he goes
    await t.rec.went(bob);
    expect(t.writes).toEqual(["forgetPresenceBefore", "markOnline", "putPresenceSummary"]);
    expect(await t.store.onlineHours(bob, 0)).toEqual([H0, H0 + 1, H0 + 2, H0 + 3]);
    expect(await t.store.presenceSummary(bob)).toEqual({ lastSeenMs: T0 + 160 * MIN, sessionMs: 160 * MIN });
    // Going again (a second unavailable) records nothing more.
    t.writes.length = 0;
    await t.rec.went(bob);
    expect(t.writes).toEqual([]);
  });

  it("keeps a moving average of session lengths, and describes a member as the answer says it", async () => {
    const t = setup();
    await t.rec.came(bob);
    t.advance(10 * MIN);
    await t.rec.went(bob);
    t.advance(HOUR_MS);
    await t.rec.came(bob);
    t.advance(20 * MIN);
    await t.rec.went(bob);
    const session = movingAverage(10 * MIN, 20 * MIN, 0.3);
    expect(await t.store.presenceSummary(bob)).toEqual({ lastSeenMs: T0 + 90 * MIN, sessionMs: session });
    // 09:50-10:00:00 (online at the first instant of 10:00 too) and 11:00-11:20.
    // (Usual hours need USUAL_MIN_DAYS days online: none yet.)
    expect(await t.rec.describe(bob, false)).toEqual({ jid: bob, online: false, hours: 3, sessionS: session / 1000, lastSeenMs: T0 + 90 * MIN });
    expect(await t.rec.describe(carol, false)).toEqual({ jid: carol, online: false, hours: 0 });
  });

  it("forgets hours older than the window (28 days), pruning once per hour", async () => {
    const t = setup();
    await t.rec.came(bob);
    await t.rec.went(bob);
    expect(await t.store.onlineHours(bob, 0)).toEqual([H0]);
    // Still inside the window on its last hour.
    t.at(T0 + (KEEP_HOURS - 1) * HOUR_MS);
    await t.rec.came(carol);
    expect(await t.store.onlineHours(bob, 0)).toEqual([H0]);
    expect((await t.rec.describe(bob, false)).hours).toBe(1);
    // One hour later Bob's hour is out of it: gone from the store, and from the answer.
    t.advance(HOUR_MS);
    t.writes.length = 0;
    await t.rec.stays(carol);
    expect(t.writes).toEqual(["forgetPresenceBefore", "markOnline"]);
    expect(await t.store.onlineHours(bob, 0)).toEqual([]);
    expect((await t.rec.describe(bob, false)).hours).toBe(0);
    // Bob's summary (last seen 28 days ago) goes with it.
    expect(await t.store.presenceSummary(bob)).toBeUndefined();
    // A session longer than the window records only the window's hours.
    t.advance(40 * 24 * HOUR_MS);
    await t.rec.went(carol);
    expect(await t.store.onlineHours(carol, 0)).toHaveLength(KEEP_HOURS);
  });

  it("a member online now is described as seen now, with the current hour recorded", async () => {
    const t = setup();
    await t.rec.came(bob);
    t.advance(HOUR_MS);
    const d = await t.rec.describe(bob, true);
    expect(d).toMatchObject({ online: true, hours: 2, lastSeenMs: T0 + HOUR_MS });
    expect(d.sessionS).toBeUndefined();
  });
});

describe("usual hours", () => {
  it("are the hours of the day online on at least half of the days online at all, once there are USUAL_MIN_DAYS such days", () => {
    const day = (d: number, ...hs: number[]) => hs.map((h) => (1000 + d) * 24 + h);
    expect(usualHours([])).toEqual([]);
    expect(usualHours([...day(0, 18, 19, 20), ...day(1, 19, 20), ...day(2, 8, 20), ...day(3, 20)])).toEqual([19, 20]);
    expect(usualHours([...day(5, 23, 0), ...day(6, 23), ...day(9, 0, 23)])).toEqual([0, 23]);
    // One or two days online say nothing about habits.
    expect(USUAL_MIN_DAYS).toBe(3);
    expect(usualHours(day(5, 23, 0))).toEqual([]);
    expect(usualHours([...day(5, 23, 0), ...day(6, 23)])).toEqual([]);
  });
});

describe("throughput", () => {
  it("averages bytes per second per member and direction, ignoring small batches", () => {
    const m = new Throughput();
    expect(m.of(bob)).toEqual({});
    m.record(bob, "down", MIN_SAMPLE_BYTES - 1, 1);
    m.record(bob, "up", 4_000_000, Number.NaN);
    expect(m.of(bob)).toEqual({});
    m.record(bob, "down", 4_000_000, 2000); // 2 MB/s
    m.record(bob, "down", 4_000_000, 1000); // 4 MB/s
    m.record(bob, "up", 1_000_000, 0); // 0 ms counts as 1 ms
    expect(m.of(bob)).toEqual({ downBps: Math.round(movingAverage(2_000_000, 4_000_000, 0.3)), upBps: 1_000_000_000 });
    expect(m.of(carol)).toEqual({});
  });
});
