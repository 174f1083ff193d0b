/**
 * The running daemon's schedule (client/daemon-schedule.ts) on a real home folder and fake
 * timers: schedule.json read at start (a bad one refused), re-read only when it changed (so the
 * rate buckets last), a bad edit while running logged once with the policy in force kept, and
 * the wake-up for the first transfer waiting for a window, at that time and not before.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DaemonSchedule } from "../../client/daemon-schedule.ts";
import type { QueuedTransfer } from "../../client/engine/schedule.ts";
import { resolveHome, type Home } from "../../client/home.ts";
import type { SpaceId } from "../../protocol/ids.ts";

let dir: string;
let home: Home;
let log: string[];
let clock: number;
const make = () => new DaemonSchedule(home, () => clock, (l) => log.push(l));
const write = (doc: unknown) => writeFile(join(dir, "schedule.json"), typeof doc === "string" ? doc : JSON.stringify(doc));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "xshare-dsched-"));
  home = resolveHome(dir);
  log = [];
  clock = Date.parse("2026-11-25T09:00:00Z");
  vi.useFakeTimers({ now: clock });
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

describe("reading schedule.json", () => {
  it("none, or {}: no schedule (the engine's unscheduled path)", async () => {
    const s = make();
    expect(await s.read(true)).toBe(false);
    expect(s.current).toBeUndefined();
    await write({});
    expect(await s.read(false)).toBe(true);
    expect(s.current).toBeUndefined();
  });

  it("a bad file at start is the start's error, naming the field", async () => {
    await write({ transfers: 0 });
    await expect(make().read(true)).rejects.toThrow(/schedule\.json: transfers: 0 is not a whole number from 1 to 64/);
  });

  it("re-read only when the text changed: the same policy object (and its buckets) stays; a bad edit is logged once and changes nothing", async () => {
    await write({ upload: "1MB/s" });
    const s = make();
    await s.read(true);
    const first = s.current;
    expect(first?.policy.upload).toBe(1_000_000);
    expect(await s.read(false)).toBe(false);
    expect(s.current).toBe(first);
    await write("{ not json");
    expect(await s.read(false)).toBe(false);
    expect(await s.read(false)).toBe(false);
    expect(s.current).toBe(first);
    expect(log.filter((l) => l.includes("not valid JSON"))).toHaveLength(1);
    expect(log[0]).toMatch(/schedule\.json: not valid JSON .*; the schedule in force stays$/);
    await write({ upload: "2MB/s" });
    expect(await s.read(false)).toBe(true);
    expect(s.current?.policy.upload).toBe(2_000_000);
    expect(log.at(-1)).toMatch(/^schedule: .*schedule\.json read again$/);
  });
});

describe("waking for waiting transfers", () => {
  const space = "s1" as SpaceId;
  const waits = (runAtMs: number | undefined, direction: "up" | "down" = "down"): QueuedTransfer => ({
    path: "holiday.mov", direction, size: 1, priority: "low", timing: runAtMs === undefined ? "held" : "later", reason: "…", ...(runAtMs !== undefined ? { runAtMs } : {}),
  });

  it("fires at the first waiting transfer's time, not a millisecond before, once", async () => {
    const s = make();
    const fired: boolean[] = [];
    const opens = Date.parse("2026-11-26T02:00:00Z");
    s.wakeFor(space, [waits(opens + 60_000, "up"), waits(opens)], (uploads) => fired.push(uploads));
    expect(s.waitingIn.has(space)).toBe(true);
    vi.advanceTimersByTime(opens - clock - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([true]);
    vi.advanceTimersByTime(86_400_000);
    expect(fired).toEqual([true]);
    expect(log).toContain(`s1: 2 transfer(s) waiting; next at 2026-11-26T02:00:00.000Z`);
  });

  it("a later sync replaces the timer; nothing waiting clears it; held transfers arm none", () => {
    const s = make();
    const fired: number[] = [];
    s.wakeFor(space, [waits(clock + 1000)], () => fired.push(1));
    s.wakeFor(space, [waits(clock + 5000)], () => fired.push(2));
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(4000);
    expect(fired).toEqual([2]);
    s.wakeFor(space, [waits(clock + 9000)], () => fired.push(3));
    s.wakeFor(space, [], () => fired.push(4));
    expect(s.waitingIn.has(space)).toBe(false);
    s.wakeFor(space, [waits(undefined)], () => fired.push(5));
    expect(s.waitingIn.has(space)).toBe(true);
    vi.advanceTimersByTime(86_400_000);
    expect(fired).toEqual([2]);
  });

  it("stop clears every timer", () => {
    const s = make();
    const fired: number[] = [];
    s.wakeFor(space, [waits(clock + 1000)], () => fired.push(1));
    s.stop();
    vi.advanceTimersByTime(10_000);
    expect(fired).toEqual([]);
  });
});
