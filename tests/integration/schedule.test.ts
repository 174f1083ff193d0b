/**
 * The sync engine under a schedule (issue 9), in process: real sync engine, real HTTP data path
 * and the component's router (tests/integration/fixtures/sharing.ts), the fixture's fake clock
 * for the windows and the rate caps (a cap's wait advances the clock; nothing sleeps).
 *
 * Alice and Bob share "Trip". Stories: a video outside its window waits while the document
 * beside it goes at once, in both directions, and goes when the window opens (at that minute,
 * not one before); what runs, runs in plan order; caps hold over a simulated minute; without a
 * schedule nothing changes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EngineSchedule } from "../../client/engine/context.ts";
import type { SyncContext, SyncReport } from "../../client/engine/sync.ts";
import { ErrorFs } from "../../client/fs/errorfs.ts";
import type { Known } from "../../client/scanner.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import type { SpaceId } from "../../protocol/ids.ts";
import { startSharing, type Sharing } from "./fixtures/sharing.ts";
import { withOldState } from "./fixtures/old-state.ts";
import { type Device, noise, scheduledKit } from "./fixtures/scheduled.ts";

let world: Sharing;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});

const kit = scheduledKit(() => world);
const { replicas, advanceTo, schedule, pair } = kit;

function sync(d: Device, space: SpaceId, sched?: EngineSchedule, onProgress?: (e: { phase: "upload" | "download"; bytes: number }) => void, extra: Partial<SyncContext> = {}): Promise<SyncReport> {
  return kit.sync(d, space, { ...(sched ? { schedule: sched } : {}), ...(onProgress ? { onProgress } : {}), ...extra });
}

const text = (fs: MemoryFs, p: string) => Buffer.from(fs.readFile(p)).toString();
const has = async (fs: MemoryFs, p: string) => (await fs.lstat(p)) !== undefined;
const T = (iso: string) => Date.parse(iso);
// The fixture's clock starts at 2026-11-25 09:00 UTC, a Wednesday.
const WINDOW = { rules: [{ match: "*.docx", priority: "high" as const }, { match: "*.mov", priority: "low" as const, window: "* 2-5 * * *" }] };

describe("a video outside its window waits; the document beside it goes at once", () => {
  it("download side: Bob receives the document now, the video waits in his state, and arrives at 02:00, not at 01:59", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const movie = noise(600_000, 7);
    afs.writeFile("agenda.docx", "1. the budget\n", { mtimeMs: 1000 });
    afs.writeFile("holiday.mov", movie, { mtimeMs: 1000 });
    expect((await sync(a, space.id)).status).toBe("in-sync");

    const bob = schedule(WINDOW);
    const r1 = await sync(b, space.id, bob);
    expect(r1.status).toBe("in-sync");
    expect(text(bfs, "agenda.docx")).toBe("1. the budget\n");
    expect(await has(bfs, "holiday.mov")).toBe(false);
    expect(r1.bytesDown).toBeLessThan(10_000);
    expect(r1.waiting).toEqual([
      { path: "holiday.mov", direction: "down", size: 600_000, priority: "low", timing: "later", reason: "waits for its window * 2-5 * * * until Thu 02:00", runAtMs: T("2026-11-26T02:00:00Z") },
    ]);
    // Kept in the state's waiting table, with why and until when.
    expect(b.state.waiting(space.id)).toMatchObject([{ version: { path: "holiday.mov", size: 600_000 }, reason: "waits for its window * 2-5 * * * until Thu 02:00", untilMs: T("2026-11-26T02:00:00Z") }]);
    // Indexed and announced: Bob's vector has it, as the sharing manager's digest does.
    expect(b.state.vector(space.id)).toEqual(a.state.vector(space.id));

    advanceTo(T("2026-11-26T01:59:00Z"));
    const r2 = await sync(b, space.id, bob);
    expect(await has(bfs, "holiday.mov")).toBe(false);
    expect(r2.waiting?.map((w) => w.path)).toEqual(["holiday.mov"]);
    expect(r2.bytesDown).toBe(0);

    advanceTo(T("2026-11-26T02:00:00Z"));
    const r3 = await sync(b, space.id, bob);
    expect(r3).toMatchObject({ status: "in-sync", pulled: 1, waiting: [] });
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
    expect(b.state.waiting(space.id)).toEqual([]);
    // And it is synced, not fetched again.
    expect((await sync(b, space.id, bob)).bytesDown).toBe(0);
  });

  it("upload side: Alice commits the document now and announces the video (pending, none of its bytes sent) until 02:00", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const alice = schedule(WINDOW);
    const movie = noise(600_000, 9);
    afs.writeFile("agenda.docx", "1. the budget\n", { mtimeMs: 1000 });
    afs.writeFile("holiday.mov", movie, { mtimeMs: 1000 });
    const r1 = await sync(a, space.id, alice);
    expect(r1).toMatchObject({ status: "in-sync", pushed: 1, announced: 1 });
    expect(r1.bytesUp).toBeLessThan(10_000);
    expect(r1.waiting).toMatchObject([{ path: "holiday.mov", direction: "up", timing: "later", runAtMs: T("2026-11-26T02:00:00Z") }]);
    expect(r1.waiting?.[0]?.reason).toMatch(/announced to the members/);
    // The video is committed pending (XEP-draft.md § 5.16): in the state, marked, not waiting.
    expect(a.state.entries(space.id).get("holiday.mov")?.version.pending).toEqual({});
    expect(a.state.waiting(space.id)).toEqual([]);
    await sync(b, space.id);
    expect(text(bfs, "agenda.docx")).toBe("1. the budget\n");
    expect(await has(bfs, "holiday.mov")).toBe(false);
    expect(b.state.waiting(space.id)).toMatchObject([{ version: { path: "holiday.mov", pending: { by: "alice@example.org" } }, reason: "waits for alice@example.org's upload" }]);

    // The announced video is known to the state: it is not read again at every sync.
    const hashCache = new Map<string, Known>();
    advanceTo(T("2026-11-26T01:59:58Z"));
    expect((await sync(a, space.id, alice, undefined, { hashCache })).pushed).toBe(0);
    advanceTo(T("2026-11-26T01:59:59Z"));
    const spy = new ErrorFs(afs, []);
    expect((await sync(a, space.id, alice, undefined, { hashCache, fs: spy })).pushed).toBe(0);
    expect(spy.calls.filter((c) => (c.method === "read" || c.method === "readRange") && c.path === "holiday.mov")).toEqual([]);

    advanceTo(T("2026-11-26T02:00:00Z"));
    const r3 = await sync(a, space.id, alice, undefined, { hashCache });
    expect(r3).toMatchObject({ status: "in-sync", pushed: 1, completed: 1, waiting: [] });
    expect(r3.bytesUp).toBeGreaterThanOrEqual(600_000);
    expect(a.state.entries(space.id).get("holiday.mov")?.version.pending).toBeUndefined();
    await sync(b, space.id);
    expect(Buffer.from(bfs.readFile("holiday.mov")).equals(movie)).toBe(true);
  });

  it("metered: Bob receives the small file, the large one is held (no time releases it) until the policy changes", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("small.txt", "small\n", { mtimeMs: 1000 });
    afs.writeFile("big.bin", noise(300_000, 3), { mtimeMs: 1000 });
    await sync(a, space.id);
    const r1 = await sync(b, space.id, schedule({ metered: true, meteredMaxBytes: "100kB" }));
    expect(await has(bfs, "small.txt")).toBe(true);
    expect(await has(bfs, "big.bin")).toBe(false);
    expect(r1.waiting).toMatchObject([{ path: "big.bin", timing: "held", reason: "metered: larger than 100 kB" }]);
    expect(r1.waiting?.[0]?.runAtMs).toBeUndefined();
    expect(b.state.waiting(space.id)).toMatchObject([{ version: { path: "big.bin" }, reason: "metered: larger than 100 kB" }]);
    expect(b.state.waiting(space.id)[0]?.untilMs).toBeUndefined();
    // Off the metered connection (a new policy), the next sync fetches it.
    await sync(b, space.id, schedule({}));
    expect(await has(bfs, "big.bin")).toBe(true);
  });
});

describe("order", () => {
  it("what runs goes in plan order: high before normal before low, small before large, each group on disk before the next starts", async () => {
    const { a, b, space, afs } = await pair();
    afs.writeFile("a-big.txt", noise(400_000, 1), { mtimeMs: 1000 });
    afs.writeFile("b-small.txt", "small\n", { mtimeMs: 1000 });
    afs.writeFile("c.mov", noise(50_000, 2), { mtimeMs: 1000 });
    afs.writeFile("d.docx", noise(900_000, 4), { mtimeMs: 1000 });
    await sync(a, space.id);
    const order: string[] = [];
    const bfs = b.fs as MemoryFs;
    const rename = bfs.rename.bind(bfs);
    bfs.rename = async (from: string, to: string) => {
      await rename(from, to);
      order.push(to);
    };
    const r = await sync(b, space.id, schedule({ rules: [{ match: "*.docx", priority: "high" }, { match: "*.mov", priority: "low" }] }));
    expect(r).toMatchObject({ status: "in-sync", pulled: 4, waiting: [] });
    // Within one group small files are written together; the groups are one after the other.
    expect(order.indexOf("d.docx")).toBeLessThan(Math.min(order.indexOf("b-small.txt"), order.indexOf("a-big.txt")));
    expect(Math.max(order.indexOf("b-small.txt"), order.indexOf("a-big.txt"))).toBeLessThan(order.indexOf("c.mov"));
  });

  it("pushes of each group are committed one after the other: the document is in the index before the video", async () => {
    const { a, space, afs } = await pair();
    afs.writeFile("clip.mov", noise(200_000, 5), { mtimeMs: 1000 });
    afs.writeFile("memo.docx", "memo\n", { mtimeMs: 1000 });
    const r = await sync(a, space.id, schedule({ rules: [{ match: "*.docx", priority: "high" }, { match: "*.mov", priority: "low" }] }));
    expect(r).toMatchObject({ status: "in-sync", pushed: 2 });
    const seqs: Record<string, number> = {};
    for await (const page of a.remote.readIndex(space.id, 0)) for (const e of page.entries) seqs[e.path] = e.seq;
    expect(seqs["memo.docx"]).toBeLessThan(seqs["clip.mov"]!);
  });
});

describe("rate caps over a simulated minute", () => {
  /** Bytes moved in `phase`, by the fake time they were reported at. */
  function meter(phase: "upload" | "download") {
    const start = world.now();
    const events: Array<{ t: number; total: number }> = [];
    let total = 0;
    return {
      events,
      on: (e: { phase: string; bytes: number }) => {
        if (e.phase !== phase) return;
        total += e.bytes;
        events.push({ t: world.now() - start, total });
      },
      get total() {
        return total;
      },
      get elapsed() {
        return world.now() - start;
      },
    };
  }
  const RATE = 500_000;
  const files = (fs: MemoryFs) => {
    for (let i = 0; i < 8; i++) fs.writeFile(`data/${i}.bin`, noise(4_000_000, 100 + i), { mtimeMs: 1000 });
  };
  /** Never more than the cap allows by that time (a burst of one second of it, and one batch in flight); on average the cap within 3 %. */
  function expectCapped(m: ReturnType<typeof meter>, rate: number) {
    expect(m.total).toBeGreaterThanOrEqual(32_000_000);
    expect(m.elapsed).toBeGreaterThan(60_000);
    for (const e of m.events) expect(e.total).toBeLessThanOrEqual((rate * e.t) / 1000 + rate + 256 * 1024);
    const byMinute = m.events.filter((e) => e.t <= 60_000).at(-1)!.total;
    expect(byMinute / (rate * 60)).toBeGreaterThan(0.97);
    expect(byMinute / (rate * 60)).toBeLessThan(1.03);
    const average = m.total / (m.elapsed / 1000);
    expect(average / rate).toBeGreaterThan(0.97);
    expect(average / rate).toBeLessThan(1.03);
  }

  it("upload capped for the device: 500 kB/s", async () => {
    const { a, space, afs } = await pair();
    files(afs);
    const m = meter("upload");
    const r = await sync(a, space.id, schedule({ upload: "500kB/s" }), m.on);
    expect(r.status).toBe("in-sync");
    expectCapped(m, RATE);
  }, 60_000);

  it("download capped by the space's own cap, below the device's: 500 kB/s of 5 MB/s", async () => {
    const { a, b, space, afs } = await pair();
    files(afs);
    await sync(a, space.id);
    const m = meter("download");
    const r = await sync(b, space.id, schedule({ download: "5MB/s", spaces: { [space.id]: { download: "500kB/s" } } }), m.on);
    expect(r.status).toBe("in-sync");
    expectCapped(m, RATE);
  }, 60_000);

  it("without a cap nothing waits: the fake clock does not move", async () => {
    const { a, space, afs } = await pair();
    files(afs);
    const before = world.now();
    await sync(a, space.id, schedule({ transfers: 1 }));
    expect(world.now()).toBe(before);
  }, 60_000);
});

describe("without a schedule", () => {
  it("the engine takes its old path: chunks go while the scan reads them (the scan-time uploader), nothing waits, no waiting field", async () => {
    const { a, b, space, afs, bfs } = await pair();
    let uploaders = 0;
    const make = a.remote.uploader.bind(a.remote);
    a.remote.uploader = (...args) => {
      uploaders++;
      return make(...args);
    };
    afs.writeFile("holiday.mov", noise(300_000, 11), { mtimeMs: 1000 });
    const r = await sync(a, space.id);
    expect(uploaders).toBe(1);
    expect(r.waiting).toBeUndefined();
    expect(r.pushed).toBe(1);
    const rb = await sync(b, space.id);
    expect(rb.waiting).toBeUndefined();
    expect(await has(bfs, "holiday.mov")).toBe(true);
    // With one (even one that changes nothing), the push uploads, in plan order and under the caps.
    afs.writeFile("more.mov", noise(300_000, 12), { mtimeMs: 1000 });
    expect((await sync(a, space.id, schedule({}))).pushed).toBe(1);
    expect(uploaders).toBe(1);
  });
});

describe("the state's waiting table", () => {
  it("a home made before the scheduler (waiting without reason and until) is migrated and keeps its rows", async () => {
    await withOldState(
      `CREATE TABLE waiting (
        space TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, deleted INTEGER NOT NULL,
        hash TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL,
        replica TEXT NOT NULL, vector BLOB NOT NULL, chunks BLOB NOT NULL,
        l_size INTEGER, l_mtime INTEGER, l_ino INTEGER, PRIMARY KEY (space, path)) WITHOUT ROWID`,
      (old) => void old.prepare("INSERT INTO waiting VALUES ('s1', 'Foo.txt', 'file', 0, '', 0, 5, 420, 'r', ?, ?, NULL, NULL, NULL)").run(Buffer.alloc(0), Buffer.alloc(0)),
      (state) => {
        expect(state.waiting("s1" as SpaceId)).toMatchObject([{ version: { path: "Foo.txt", mtimeMs: 5 } }]);
        expect(state.waiting("s1" as SpaceId)[0]?.reason).toBeUndefined();
        const v = state.waiting("s1" as SpaceId)[0]!.version;
        state.setWaiting("s1" as SpaceId, [{ version: v, reason: "waits for its window * 2-5 * * * until 02:00", untilMs: 1234 }]);
        expect(state.waiting("s1" as SpaceId)).toMatchObject([{ version: { path: "Foo.txt" }, reason: "waits for its window * 2-5 * * * until 02:00", untilMs: 1234 }]);
      },
    );
  });
});
