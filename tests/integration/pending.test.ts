/**
 * Pending versions (XEP-draft.md § 5.16, issue 9: "outside a window, changes are still indexed
 * and announced, only the bulk transfer waits"), in process: the real sync engine, the real
 * HTTP data path and the component's router (fixtures/sharing.ts), on the fixture's fake clock.
 *
 * Alice's video is held by its window (02:00-06:00 UTC); the clock starts on Wednesday 09:00.
 * Stories: Bob learns of it at once and waits for Alice's upload; Bob's concurrent edit ends
 * with both copies; Alice's second edit supersedes the first before either is uploaded; an
 * older sharing manager (one that ignores the marker) gets exactly the old behaviour; the
 * status and the plan say what waits for whom.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { complete, refusedBy } from "../../client/engine/pending.ts";
import { hasLocalChanges, inspectSpace, type SyncReport } from "../../client/engine/sync.ts";
import type { MemoryFs } from "../../client/fs/memory.ts";
import { digest } from "../../protocol/vv.ts";
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
const { advanceTo, schedule, pair } = kit;
const WINDOW = { rules: [{ match: "*.mov", priority: "low" as const, window: "* 2-5 * * *" }] };
const T = (iso: string) => Date.parse(iso);
const bytes = (fs: MemoryFs, p: string) => Buffer.from(fs.readFile(p));
const sync = (d: Device, space: SpaceId, withSchedule = false): Promise<SyncReport> => kit.sync(d, space, withSchedule ? { schedule: schedule(WINDOW) } : {});
const waitingReasons = (d: Device, space: SpaceId) => d.state.waiting(space).map((w) => `${w.version.path}: ${w.reason}`);
const files = async (fs: MemoryFs) => (await fs.readdir("")).filter((n) => !n.startsWith(".")).sort();

describe("a deferred upload is announced at once; only its content waits", () => {
  it("Bob learns of the video at once, waits for Alice's upload (status and plan say so), and gets it when her window opens", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const movie = noise(400_000, 1);
    afs.writeFile("holiday.mov", movie, { mtimeMs: 1000 });
    const r1 = await sync(a, space.id, true);
    expect(r1).toMatchObject({ status: "in-sync", pushed: 0, announced: 1 });
    expect(r1.bytesUp).toBeLessThan(10_000);

    const rb = await sync(b, space.id);
    expect(rb.status).toBe("in-sync");
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();
    expect(waitingReasons(b, space.id)).toEqual(["holiday.mov: waits for alice@example.org's upload"]);
    // Bob has not got it: his vector does not count it, so Alice's vector is news to him.
    expect(digest(b.state.vector(space.id))).not.toBe(digest(a.state.vector(space.id)));
    const st = await inspectSpace({ state: b.state, remote: b.remote, fs: bfs, space: b.state.space(space.id)!, replica: "phone" as never, me: b.member, now: () => world.now(), schedule: schedule({}) });
    expect(st).toMatchObject({ status: "pending", pendingDown: 1, pendingUp: 0 });
    expect(st.queue).toMatchObject([{ path: "holiday.mov", direction: "down", timing: "held", reason: "waits for alice@example.org's upload" }]);
    // Alice's plan says the video is announced and goes at 02:00.
    const sa = await inspectSpace({ state: a.state, remote: a.remote, fs: afs, space: a.state.space(space.id)!, replica: "laptop" as never, me: a.member, now: () => world.now(), schedule: schedule(WINDOW) });
    expect(sa.queue).toMatchObject([{ path: "holiday.mov", direction: "up", timing: "later", runAtMs: T("2026-11-26T02:00:00Z") }]);
    expect(sa.queue![0]!.reason).toMatch(/announced to the members, its content goes then$/);

    // A daemon started now finds the space worth a sync: its content is still to upload.
    expect(await hasLocalChanges({ fs: afs, state: a.state, space: a.state.space(space.id)! })).toBe(true);
    expect(await hasLocalChanges({ fs: bfs, state: b.state, space: b.state.space(space.id)! })).toBe(false);
    advanceTo(T("2026-11-26T01:59:00Z"));
    expect(await sync(a, space.id, true)).toMatchObject({ pushed: 0, completed: 0 });
    advanceTo(T("2026-11-26T02:00:00Z"));
    const r2 = await sync(a, space.id, true);
    expect(r2).toMatchObject({ status: "in-sync", pushed: 1, completed: 1 });
    expect(r2.bytesUp).toBeGreaterThanOrEqual(movie.length);
    const rb2 = await sync(b, space.id);
    expect(rb2.pulled).toBe(1);
    expect(bytes(bfs, "holiday.mov").equals(movie)).toBe(true);
    expect(b.state.waiting(space.id)).toEqual([]);
    expect(digest(b.state.vector(space.id))).toBe(digest(a.state.vector(space.id)));
  });

  it("Bob's concurrent edit of the pending video waits, unpushed, and ends with both copies on both sides", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const v1 = noise(300_000, 2);
    afs.writeFile("holiday.mov", v1, { mtimeMs: 1000 });
    await sync(a, space.id);
    await sync(b, space.id);
    expect(bytes(bfs, "holiday.mov").equals(v1)).toBe(true);

    const alices = noise(300_000, 3);
    const bobs = noise(300_000, 4);
    afs.writeFile("holiday.mov", alices, { mtimeMs: 5000 });
    expect(await sync(a, space.id, true)).toMatchObject({ announced: 1 });
    bfs.writeFile("holiday.mov", bobs, { mtimeMs: 6000 });
    const rb = await sync(b, space.id);
    expect(rb.pushed).toBe(0);
    expect(waitingReasons(b, space.id)).toEqual(["holiday.mov: conflicts with alice@example.org's version, which waits for their upload (both are kept once it is there)"]);
    expect(bytes(bfs, "holiday.mov").equals(bobs)).toBe(true);

    advanceTo(T("2026-11-26T02:00:00Z"));
    expect(await sync(a, space.id, true)).toMatchObject({ completed: 1 });
    const rb2 = await sync(b, space.id);
    expect(rb2.conflicts).toBe(1);
    await sync(a, space.id, true);
    const names = await files(bfs);
    expect(names).toHaveLength(2);
    expect(names).toEqual(await files(afs));
    const contents = (fs: MemoryFs) => names.map((n) => bytes(fs, n)).sort(Buffer.compare);
    expect(contents(bfs)).toEqual([alices, bobs].sort(Buffer.compare));
    expect(contents(afs)).toEqual(contents(bfs));
  });

  it("Alice's second edit supersedes her pending first one: announced again, and only the last is uploaded", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("holiday.mov", noise(300_000, 5), { mtimeMs: 1000 });
    await sync(a, space.id, true);
    await sync(b, space.id);
    const last = noise(300_000, 6);
    afs.writeFile("holiday.mov", last, { mtimeMs: 2000 });
    expect(await sync(a, space.id, true)).toMatchObject({ announced: 1 });
    await sync(b, space.id);
    expect(b.state.waiting(space.id)).toMatchObject([{ version: { path: "holiday.mov", hash: a.state.synced(space.id, "holiday.mov")!.version.hash } }]);

    advanceTo(T("2026-11-26T02:00:00Z"));
    const r = await sync(a, space.id, true);
    expect(r).toMatchObject({ completed: 1 });
    expect(r.bytesUp).toBeLessThan(2 * 300_000);
    await sync(b, space.id);
    expect(bytes(bfs, "holiday.mov").equals(last)).toBe(true);
  });

  it("Alice deletes her pending video before its window: the deletion goes at once (never pending) and Bob's wait ends", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("holiday.mov", noise(300_000, 8), { mtimeMs: 1000 });
    await sync(a, space.id, true);
    await sync(b, space.id);
    expect(b.state.waiting(space.id)).toHaveLength(1);
    await afs.remove("holiday.mov");
    expect(await sync(a, space.id, true)).toMatchObject({ pushed: 1, announced: 0, waiting: [] });
    expect(a.state.synced(space.id, "holiday.mov")?.version).toMatchObject({ deleted: true });
    expect(a.state.synced(space.id, "holiday.mov")?.version.pending).toBeUndefined();
    await sync(b, space.id);
    expect(b.state.waiting(space.id)).toEqual([]);
    expect(await bfs.lstat("holiday.mov")).toBeUndefined();
    expect(digest(b.state.vector(space.id))).toBe(digest(a.state.vector(space.id)));
  });

  it("Bob already has the same bytes: he adopts the pending version, complete (nothing waits, nothing moves), and its completion is no news", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const movie = noise(300_000, 9);
    afs.writeFile("holiday.mov", movie, { mtimeMs: 1000 });
    bfs.writeFile("holiday.mov", movie, { mtimeMs: 2000 });
    await sync(a, space.id, true);
    const rb = await kit.sync(b, space.id, { schedule: schedule({}) });
    expect(rb).toMatchObject({ status: "in-sync", pushed: 0, bytesDown: 0, waiting: [] });
    expect(b.state.waiting(space.id)).toEqual([]);
    expect(b.state.synced(space.id, "holiday.mov")!.version.pending).toBeUndefined();
    advanceTo(T("2026-11-26T02:00:00Z"));
    expect(await sync(a, space.id, true)).toMatchObject({ completed: 1 });
    expect(await kit.sync(b, space.id, { schedule: schedule({}) })).toMatchObject({ pulled: 0, bytesDown: 0, pushed: 0 });
    expect(digest(b.state.vector(space.id))).toBe(digest(a.state.vector(space.id)));
  });

  it("an older sharing manager (it ignores <pending/> and finds the chunks missing): the upload stays a local change, as before, and goes in its window", async () => {
    const { a, b, space, afs, bfs } = await pair();
    // What an older component sees: a <file/> without the marker it does not know.
    const commit = a.remote.commit.bind(a.remote);
    a.remote.commit = (s, changes) => commit(s, changes.map((c) => ({ ...c, version: complete(c.version) })));
    const movie = noise(300_000, 7);
    afs.writeFile("holiday.mov", movie, { mtimeMs: 1000 });
    const r1 = await sync(a, space.id, true);
    expect(r1).toMatchObject({ status: "in-sync", pushed: 0, announced: 0 });
    expect(refusedBy.has(a.remote)).toBe(true);
    expect(a.state.entries(space.id).has("holiday.mov")).toBe(false);
    expect((await sync(b, space.id)).pulled).toBe(0);
    expect(b.state.waiting(space.id)).toEqual([]);

    advanceTo(T("2026-11-26T02:00:00Z"));
    expect(await sync(a, space.id, true)).toMatchObject({ pushed: 1, completed: 0 });
    await sync(b, space.id);
    expect(bytes(bfs, "holiday.mov").equals(movie)).toBe(true);
  });
});

describe("the device's state", () => {
  it("a home made before pending versions (entries and waiting without the column) keeps its rows, complete, and records pending marks after", async () => {
    const cols = `space TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, deleted INTEGER NOT NULL,
      hash TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL,
      replica TEXT NOT NULL, vector BLOB NOT NULL, chunks BLOB NOT NULL, l_size INTEGER, l_mtime INTEGER, l_ino INTEGER`;
    await withOldState(
      `CREATE TABLE entries (${cols}, PRIMARY KEY (space, path)) WITHOUT ROWID;
       CREATE TABLE waiting (${cols}, reason TEXT, until_ms INTEGER, PRIMARY KEY (space, path)) WITHOUT ROWID;`,
      (old) => void old.prepare("INSERT INTO entries VALUES ('s1', 'a.txt', 'file', 0, '', 0, 5, 420, 'r', ?, ?, 0, 5, 1)").run(Buffer.alloc(0), Buffer.alloc(0)),
      (state) => {
        const a = state.synced("s1" as SpaceId, "a.txt")!;
        expect(a.version).toMatchObject({ path: "a.txt", mtimeMs: 5 });
        expect(a.version.pending).toBeUndefined();
        state.commit("s1" as SpaceId, [{ version: { ...a.version, path: "b.mov", pending: {} }, local: a.local! }]);
        expect(state.synced("s1" as SpaceId, "b.mov")!.version.pending).toEqual({});
        state.setWaiting("s1" as SpaceId, [{ version: { ...a.version, path: "c.mov", pending: { by: "bob@example.org" as never } }, reason: "waits for bob@example.org's upload" }]);
        expect(state.waiting("s1" as SpaceId)).toMatchObject([{ version: { path: "c.mov", pending: { by: "bob@example.org" } } }]);
      },
    );
  });
});
