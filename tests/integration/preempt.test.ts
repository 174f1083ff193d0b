/**
 * Pre-emption and resume of large transfers (issue 9), in process: the real sync engine and
 * HTTP data path against the component's router (fixtures/sharing.ts), the fixture's fake clock,
 * fake transfer failures by wrapping `Remote.download`. Nothing sleeps.
 *
 * Alice and Bob share "Trip"; a 24 MiB video (six 4 MiB windows, streamed by apply.ts) goes
 * from Alice to Bob. Stories: its window closes mid-file and it pauses at a window boundary,
 * then resumes when the window opens again; a document that matters more arrives meanwhile and
 * goes first; the download fails mid-file and the next sync goes on from what it had; a partial
 * that was damaged costs downloads, not a wrong file; a partial of an older version is dropped;
 * an upload paused mid-file does not send its stored chunks again. Every story counts the
 * bytes fetched for the video over all its attempts and compares the content byte for byte.
 */
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeMarker } from "../../client/marker.ts";
import { RealFs } from "../../client/fs/real.ts";
import type { EngineSchedule } from "../../client/engine/context.ts";
import { WINDOW } from "../../client/engine/disk.ts";
import { Preemption } from "../../client/engine/schedule.ts";
import { inspectSpace, type SyncReport } from "../../client/engine/sync.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import { parsePolicy } from "../../client/schedule/policy.ts";
import { TEMP_PREFIX } from "../../protocol/paths.ts";
import type { BareJid, ReplicaId } from "../../protocol/ids.ts";
import { startSharing, type Sharing } from "./fixtures/sharing.ts";
import { type Device, noise, scheduledKit } from "./fixtures/scheduled.ts";

let world: Sharing;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});

const { replicas, advanceTo, schedule, sync, pair } = scheduledKit(() => world);
const T = (iso: string) => Date.parse(iso);

/** Alice's file `name` (SIZE bytes of noise from `seed`) synced to the sharing manager, not yet to Bob. */
async function sent(seed: number, name = "holiday.mov") {
  const p = await pair();
  const movie = noise(SIZE, seed);
  p.afs.writeFile(name, movie, { mtimeMs: 1000 });
  await sync(p.a, p.space.id);
  return { ...p, movie };
}

const SIZE = 24 * 1024 * 1024;
const temps = async (fs: MemoryFs) => (await fs.readdir("")).filter((n) => n.startsWith(TEMP_PREFIX));
/** Bytes downloaded, counted as the engine reports them (each verified chunk once). */
const downloads = () => {
  const seen = { bytes: 0, on: (_: number) => undefined as void };
  return {
    seen,
    onProgress: (e: { phase: "upload" | "download"; bytes: number }) => {
      if (e.phase !== "download") return;
      seen.bytes += e.bytes;
      seen.on(seen.bytes);
    },
  };
};

const VIDEO_WINDOW = { rules: [{ match: "*.docx", priority: "high" as const }, { match: "*.mov", priority: "low" as const, window: "* 2-5 * * *" }] };

describe("a large download pauses at a window boundary and resumes without losing bytes", () => {
  it("its window closes mid-file: it stops at the next window boundary, waits with how much it has and why, and completes at 02:00 with exactly its size fetched in all", async () => {
    const { a, b, space, bfs, movie } = await sent(11);

    advanceTo(T("2026-11-26T05:59:00Z"));
    const bob = schedule(VIDEO_WINDOW);
    const d1 = downloads();
    // 06:00 comes once 6 MiB are in: the window "* 2-5 * * *" has closed.
    d1.seen.on = (n) => void (n >= 6 * 1024 * 1024 && advanceTo(T("2026-11-26T06:00:00Z")));
    const r1 = await sync(b, space.id, { schedule: bob, onProgress: d1.onProgress });
    expect(r1.status).toBe("in-sync");
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();

    const [partial] = b.state.partials(space.id);
    expect(partial).toMatchObject({ path: "holiday.mov", direction: "down", size: SIZE, reason: "waits for its window * 2-5 * * * until Fri 02:00" });
    // At a window boundary, not mid-window; and what was fetched is what the partial holds
    // (the windows already downloading when it stopped were written, not thrown away).
    expect(partial!.bytes).toBeGreaterThanOrEqual(6 * 1024 * 1024);
    expect(partial!.bytes).toBeLessThan(SIZE);
    expect(d1.seen.bytes).toBe(partial!.bytes);
    expect(partial!.temps).toHaveLength(1);
    expect(Buffer.from(bfs.readFile(partial!.temps[0]!)).equals(movie.subarray(0, partial!.bytes))).toBe(true);
    // It waits in the state like a deferred download, saying how far it got.
    expect(b.state.waiting(space.id)).toMatchObject([{ version: { path: "holiday.mov" }, untilMs: T("2026-11-27T02:00:00Z") }]);
    expect(b.state.waiting(space.id)[0]!.reason).toMatch(/^paused at [\d.]+ MB of 24 MiB: waits for its window \* 2-5 \* \* \* until Fri 02:00$/);
    expect(r1.waiting).toMatchObject([{ path: "holiday.mov", timing: "later", paused: { bytes: partial!.bytes } }]);
    // `status` / `schedule` see it the same way (inspectSpace is what they run).
    const st = await inspectSpace({ state: b.state, remote: b.remote, fs: bfs, space: b.state.space(space.id)!, replica: "phone" as ReplicaId, me: b.member, now: world.now, schedule: bob });
    expect(st.queue).toMatchObject([{ path: "holiday.mov", timing: "later", paused: { bytes: partial!.bytes, reason: "waits for its window * 2-5 * * * until Fri 02:00" } }]);
    // A sync before the window opens keeps the partial (not a stale temp file).
    advanceTo(T("2026-11-27T01:59:00Z"));
    expect((await sync(b, space.id, { schedule: bob, holdsLock: true })).bytesDown).toBe(0);
    expect(await temps(bfs)).toEqual([partial!.temps[0]!]);

    advanceTo(T("2026-11-27T02:00:00Z"));
    const d2 = downloads();
    const r2 = await sync(b, space.id, { schedule: bob, onProgress: d2.onProgress, holdsLock: true });
    expect(r2).toMatchObject({ status: "in-sync", pulled: 1, waiting: [] });
    expect(d1.seen.bytes + d2.seen.bytes).toBe(SIZE);
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
    expect(b.state.partials(space.id)).toEqual([]);
    expect(await temps(bfs)).toEqual([]);
  });

  it("a resumed download can pause again: three attempts, two pauses, and still exactly its size fetched", async () => {
    const { b, space, bfs, movie } = await sent(21);
    const low = schedule({ rules: [{ match: "*.mov", priority: "low" }] });
    const attempt = async (stopAt?: number) => {
      const preempt = new Preemption();
      const d = downloads();
      if (stopAt !== undefined) d.seen.on = (n) => void (n >= stopAt && preempt.raise("high", "x"));
      await sync(b, space.id, { schedule: low, preempt, onProgress: d.onProgress, holdsLock: true });
      return d.seen.bytes;
    };
    const first = await attempt(5 * 1024 * 1024);
    const at1 = b.state.partials(space.id)[0]!.bytes;
    const second = await attempt(5 * 1024 * 1024);
    const at2 = b.state.partials(space.id)[0]!.bytes;
    // The second attempt took the first's prefix from disk, then fetched more before pausing.
    expect(at2).toBeGreaterThan(at1);
    expect(at2).toBeLessThan(SIZE);
    expect(await temps(bfs)).toHaveLength(1);
    const third = await attempt();
    expect(first + second + third).toBe(SIZE);
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
    expect(await temps(bfs)).toEqual([]);
  });

  it("metered switched on mid-file (the policy in force changes): it pauses, held, until metered is off again", async () => {
    const { a, b, space, bfs, movie } = await sent(12, "clip.bin");
    let policy = parsePolicy({ timezone: "UTC" });
    const bob: EngineSchedule = { ...schedule({}), latest: () => policy };
    const d1 = downloads();
    d1.seen.on = (n) => void (n >= 4 * 1024 * 1024 && (policy = parsePolicy({ timezone: "UTC", metered: true, meteredMaxBytes: "1MB" })));
    await sync(b, space.id, { schedule: bob, onProgress: d1.onProgress });
    expect(await bfs.lstat("clip.bin")).toBeUndefined();
    expect(b.state.partials(space.id)).toMatchObject([{ path: "clip.bin", reason: "metered: larger than 1 MB", bytes: d1.seen.bytes }]);

    const d2 = downloads();
    await sync(b, space.id, { schedule: schedule({}), onProgress: d2.onProgress });
    expect(d1.seen.bytes + d2.seen.bytes).toBe(SIZE);
    expect(Buffer.from(bfs.readFile("clip.bin")).equals(movie)).toBe(true);
  });
});

describe("higher-priority work pre-empts a low-priority large file", () => {
  it("a document arrives while the video downloads: the video pauses, the document goes first, then the video resumes; no byte fetched twice", async () => {
    const { a, b, space, afs, bfs, movie } = await sent(13);
    const policy = { rules: [{ match: "*.docx", priority: "high" as const }, { match: "*.mov", priority: "low" as const }] };
    const bob = schedule(policy);

    const preempt = new Preemption();
    let alice: Promise<SyncReport> | undefined;
    const d1 = downloads();
    d1.seen.on = (n) => {
      if (n < 6 * 1024 * 1024 || alice) return;
      // Alice saves the agenda meanwhile; Bob's daemon hears of it (an SNM) and raises the flag.
      afs.writeFile("agenda.docx", "1. the budget\n", { mtimeMs: 2000 });
      alice = sync(a, space.id);
      preempt.raise("normal", "Trip changed elsewhere");
    };
    // A raise of a priority that is not higher does not pre-empt.
    const ignored = new Preemption();
    ignored.raise("low", "another video");
    expect(ignored.above("low")).toBeUndefined();
    expect(ignored.above("normal")).toBeUndefined();

    const r1 = await sync(b, space.id, { schedule: bob, preempt, onProgress: d1.onProgress });
    expect(r1.status).toBe("incomplete");
    expect(r1.reason).toBe("holiday.mov paused for higher-priority work (pre-empted by normal priority: Trip changed elsewhere)");
    expect(r1.waiting).toMatchObject([{ path: "holiday.mov", timing: "now" }]);
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();
    const [partial] = b.state.partials(space.id);
    expect(partial!.bytes).toBe(d1.seen.bytes);
    expect(partial!.bytes).toBeLessThan(SIZE);
    await alice;

    const order: string[] = [];
    const rename = bfs.rename.bind(bfs);
    bfs.rename = async (from: string, to: string) => {
      await rename(from, to);
      order.push(to);
    };
    const d2 = downloads();
    const r2 = await sync(b, space.id, { schedule: bob, preempt: new Preemption(), onProgress: d2.onProgress });
    expect(r2).toMatchObject({ status: "in-sync", pulled: 2 });
    expect(order).toEqual(["agenda.docx", "holiday.mov"]);
    expect(d1.seen.bytes + d2.seen.bytes).toBe(SIZE + "1. the budget\n".length);
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
    expect(Buffer.from(bfs.readFile("agenda.docx")).toString()).toBe("1. the budget\n");
    expect(b.state.partials(space.id)).toEqual([]);
  });

  it("an upload pre-empted mid-file is announced pending (no content committed), and its resumption does not send the chunks already stored", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const movie = noise(SIZE, 14);
    afs.writeFile("holiday.mov", movie, { mtimeMs: 1000 });
    const alice = schedule({ rules: [{ match: "*.mov", priority: "low" }] });
    const preempt = new Preemption();
    let up = 0;
    const r1 = await sync(a, space.id, {
      schedule: alice,
      preempt,
      onProgress: (e) => {
        if (e.phase !== "upload") return;
        up += e.bytes;
        if (up >= 6 * 1024 * 1024) preempt.raise("high", "memo.docx changed on this device");
      },
    });
    expect(r1).toMatchObject({ status: "incomplete", pushed: 0, announced: 1 });
    expect(r1.bytesUp).toBeGreaterThanOrEqual(6 * 1024 * 1024);
    expect(r1.bytesUp).toBeLessThan(SIZE);
    // Committed pending (XEP-draft.md § 5.16): the others learn of it, its content waits.
    expect(a.state.entries(space.id).get("holiday.mov")?.version.pending).toEqual({});
    expect(a.state.partials(space.id)).toMatchObject([{ path: "holiday.mov", direction: "up", reason: "pre-empted by high priority: memo.docx changed on this device" }]);
    expect(a.state.partials(space.id)[0]!.bytes).toBeLessThanOrEqual(r1.bytesUp);
    await sync(b, space.id);
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();
    expect(b.state.waiting(space.id)).toMatchObject([{ version: { path: "holiday.mov" }, reason: "waits for alice@example.org's upload" }]);

    const r2 = await sync(a, space.id, { schedule: alice, preempt: new Preemption() });
    expect(r2).toMatchObject({ status: "in-sync", pushed: 1, completed: 1 });
    // What was stored is not sent again; the manifest of its chunk list (§ 5.7) is the only extra.
    expect(r1.bytesUp + r2.bytesUp).toBeGreaterThanOrEqual(SIZE);
    expect(r1.bytesUp + r2.bytesUp).toBeLessThan(SIZE + 64 * 1024);
    expect(a.state.partials(space.id)).toEqual([]);
    await sync(b, space.id);
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
  });
});

describe("a stopped download resumes from what it has, whoever stopped it", () => {
  it("the download fails mid-file (the connection drops): the sync fails, the prefix stays, and the next sync (no schedule) fetches only the rest", async () => {
    const { b, space, bfs, movie } = await sent(15);

    const download = b.remote.download.bind(b.remote);
    let calls = 0;
    b.remote.download = async (...args: Parameters<typeof download>) => {
      // The third window's request fails: windows 1 and 2 are on disk by then or arriving.
      if (++calls === 3) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      return download(...args);
    };
    const d1 = downloads();
    await expect(sync(b, space.id, { onProgress: d1.onProgress })).rejects.toThrow("socket hang up");
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();
    const [partial] = b.state.partials(space.id);
    expect(partial).toMatchObject({ path: "holiday.mov", direction: "down" });
    expect(partial!.bytes).toBeGreaterThan(0);
    expect(partial!.bytes).toBeLessThanOrEqual(2 * WINDOW);
    expect(Buffer.from(bfs.readFile(partial!.temps[0]!)).equals(movie.subarray(0, partial!.bytes))).toBe(true);

    b.remote.download = download;
    const d2 = downloads();
    const r2 = await sync(b, space.id, { onProgress: d2.onProgress, holdsLock: true });
    expect(r2.status).toBe("in-sync");
    // The second attempt fetches exactly what the partial lacked; over both attempts at most
    // the windows in flight when it failed came twice.
    expect(d2.seen.bytes).toBe(SIZE - partial!.bytes);
    expect(d1.seen.bytes + d2.seen.bytes).toBeLessThanOrEqual(SIZE + 3 * WINDOW);
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
    expect(await temps(bfs)).toEqual([]);
    expect(b.state.partials(space.id)).toEqual([]);
  });

  it("on a real disk, a download that never ends (the process killed mid-file) left a temp file recorded at its creation: the next run reads back what it holds", async () => {
    const { a, space, movie } = await sent(22);
    const dir = await mkdtemp(join(tmpdir(), "xshare-preempt-"));
    try {
      const c = world.device("bob@example.org" as BareJid, "desk", new RealFs(dir));
      replicas.set(c, "desk");
      c.state.putSpace(space);
      c.state.setFolder(space.id, dir);
      await writeMarker(c.fs, space.id);
      const download = c.remote.download.bind(c.remote);
      let calls = 0;
      // From the fourth window on, nothing comes back: the sync hangs as a killed process stops.
      c.remote.download = (...args: Parameters<typeof download>) => (++calls >= 4 ? new Promise<never>(() => undefined) : download(...args));
      const d1 = downloads();
      void sync(c, space.id, { onProgress: d1.onProgress });
      // Until most of the windows that came are on disk (real I/O: polled, the clock is not involved).
      const written = async () => {
        const [row] = c.state.partials(space.id);
        return row ? ((await stat(join(dir, row.temps[0]!)).catch(() => undefined))?.size ?? 0) : 0;
      };
      for (let i = 0; i < 500 && (await written()) < 1.5 * WINDOW; i++) await new Promise((r) => setTimeout(r, 20));
      // Recorded before any byte was written, with no reason (it never stopped by itself).
      const [row] = c.state.partials(space.id);
      expect(row).toMatchObject({ path: "holiday.mov", direction: "down", bytes: 0 });
      expect(row!.reason).toBeUndefined();
      // (What the O_DIRECT writer still held in memory is lost, as a kill would lose it.)
      expect(await written()).toBeGreaterThanOrEqual(1.5 * WINDOW);
      const names = (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
      expect(names).toEqual([row!.temps[0]]);

      // The "next run": the same state database, the lock held (every other temp file is stale).
      c.remote.download = download;
      const d2 = downloads();
      const r2 = await sync(c, space.id, { onProgress: d2.onProgress, holdsLock: true });
      expect(r2.status).toBe("in-sync");
      expect((await readFile(join(dir, "holiday.mov"))).equals(movie)).toBe(true);
      // What the killed attempt had written was taken from its temp file, not fetched again.
      expect(d2.seen.bytes).toBeLessThan(SIZE - WINDOW);
      expect((await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
      expect(c.state.partials(space.id)).toEqual([]);
      c.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a damaged partial (a crash tore it: bytes flipped, the end cut off) never makes a wrong file: its bad chunks are fetched again", async () => {
    const { b, space, bfs, movie } = await sent(16);
    const preempt = new Preemption();
    const d1 = downloads();
    d1.seen.on = (n) => void (n >= 12 * 1024 * 1024 && preempt.raise("high", "x"));
    await sync(b, space.id, { schedule: schedule({ rules: [{ match: "*.mov", priority: "low" }] }), preempt, onProgress: d1.onProgress });
    const [partial] = b.state.partials(space.id);
    const temp = partial!.temps[0]!;
    const torn = Buffer.from(bfs.readFile(temp)).subarray(0, partial!.bytes - 1000);
    torn[5 * 1024 * 1024]! ^= 0xff;
    bfs.writeFile(temp, torn);

    const d2 = downloads();
    const r2 = await sync(b, space.id, { onProgress: d2.onProgress, holdsLock: true });
    expect(r2.status).toBe("in-sync");
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
    // More than the missing part (the flipped and the cut chunks), far less than the whole.
    expect(d2.seen.bytes).toBeGreaterThan(SIZE - partial!.bytes);
    expect(d2.seen.bytes).toBeLessThan(SIZE - partial!.bytes + 512 * 1024);
    expect(await temps(bfs)).toEqual([]);
  });

  it("a partial whose remote version changed is discarded: its temp file and record go, the new version is written whole", async () => {
    const { a, b, space, afs, bfs } = await sent(17);
    const preempt = new Preemption();
    const d1 = downloads();
    d1.seen.on = (n) => void (n >= 6 * 1024 * 1024 && preempt.raise("high", "x"));
    await sync(b, space.id, { schedule: schedule({ rules: [{ match: "*.mov", priority: "low" }] }), preempt, onProgress: d1.onProgress });
    const [old] = b.state.partials(space.id);
    expect(old).toBeDefined();

    const edited = noise(SIZE, 18);
    afs.writeFile("holiday.mov", edited, { mtimeMs: 3000 });
    await sync(a, space.id);
    const r2 = await sync(b, space.id, { holdsLock: true });
    expect(r2.status).toBe("in-sync");
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(edited)).toBe(true);
    expect(await bfs.lstat(old!.temps[0]!)).toBeUndefined();
    expect(b.state.partials(space.id)).toEqual([]);
  });

  it("a partial no longer wanted (the file was deleted elsewhere) is removed with its record at the next sync", async () => {
    const { a, b, space, afs, bfs } = await sent(19);
    const preempt = new Preemption();
    const d1 = downloads();
    d1.seen.on = (n) => void (n >= 6 * 1024 * 1024 && preempt.raise("high", "x"));
    await sync(b, space.id, { schedule: schedule({ rules: [{ match: "*.mov", priority: "low" }] }), preempt, onProgress: d1.onProgress });
    const [old] = b.state.partials(space.id);
    await afs.remove("holiday.mov");
    await sync(a, space.id);
    expect((await sync(b, space.id)).status).toBe("in-sync");
    expect(await bfs.lstat(old!.temps[0]!)).toBeUndefined();
    expect(b.state.partials(space.id)).toEqual([]);
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();
  });
});
