/**
 * Offline concurrency (issue 7, rows 12 and 13). Alice's laptop, Bob's phone and Carol's desk
 * share a group folder and change it while none of them can reach the others; then they sync,
 * in various orders, until a round moves nothing. Two promises are checked each time:
 * - nothing anyone wrote is lost: every version nobody who had seen it replaced is still in the
 *   folder, at its path or as a `.sync-conflict-` copy of it, on every device;
 * - everyone converges: every device's tree (paths and bytes, without `.xshare`) is the same,
 *   and the same as what the sharing manager's index holds.
 * Row 13: a device whose state database was deleted (its folder kept, holding older versions),
 * its clock a day back, never puts an older version in place of a newer one.
 */
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryFs } from "../../client/fs/memory.ts";
import { parentPath } from "../../client/fs/types.ts";
import type { BareJid, SpaceId } from "../../protocol/ids.ts";
import type { Space } from "../../protocol/stanzas/spaces.ts";
import { compare } from "../../protocol/vv.ts";
import { startSharing } from "./fixtures/sharing.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
const DAY = 86_400_000;

type World = Awaited<ReturnType<typeof startSharing>>;
type Device = ReturnType<World["device"]>;
let world: World;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});

const DIR = "<dir>";
const text = (fs: MemoryFs, p: string) => Buffer.from(fs.readFile(p)).toString();

/** The folder as path → content (DIR for a folder), without the state folder. */
async function tree(fs: MemoryFs, dir = "", out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const name of await fs.readdir(dir)) {
    const p = dir ? `${dir}/${name}` : name;
    if (p === ".xshare") continue;
    const st = await fs.lstat(p);
    if (st?.kind === "dir") {
      out.set(`${p}/`, DIR);
      await tree(fs, p, out);
    } else out.set(p, text(fs, p));
  }
  return out;
}

/** What the sharing manager's index holds, the bytes read back from its blob store. */
async function componentTree(space: SpaceId): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await world.deps.store.readIndex(space, 0, 1_000_000)) {
    if (e.deleted) continue;
    if (e.kind === "dir") {
      out.set(`${e.path}/`, DIR);
      continue;
    }
    const parts: Buffer[] = [];
    for (const c of e.chunks) {
      const stream = await world.deps.blobs.get(c.hash);
      if (!stream) throw new Error(`${e.path}: chunk ${c.hash} is not held`);
      for await (const piece of stream as Readable) parts.push(piece as Buffer);
    }
    out.set(e.path, Buffer.concat(parts).toString());
  }
  return out;
}

const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Syncs the devices in `order`, pass after pass, until a whole pass moves nothing. */
async function settle(devices: readonly Device[], space: SpaceId, order: readonly number[] = devices.map((_, i) => i)): Promise<void> {
  for (let pass = 0; pass < 8; pass++) {
    let quiet = true;
    for (const i of order) {
      const r = await devices[i]!.sync(space);
      if (r.status !== "in-sync" || r.pushed || r.pulled || r.conflicts) quiet = false;
    }
    if (quiet) return;
  }
  throw new Error("the devices never settled: every pass still moved something");
}

/** Every device's tree equals the sharing manager's; returns it. */
async function expectConverged(devices: readonly Device[], space: SpaceId): Promise<Map<string, string>> {
  const held = await componentTree(space);
  for (const d of devices) expect(sorted(await tree(d.fs as MemoryFs)), `${d.member}'s folder`).toEqual(sorted(held));
  return held;
}

/** `dir/base.ext` → a matcher for `dir/base.sync-conflict-YYYYMMDD-HHMMSS-<replica>.ext`. */
function copyOf(path: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const dir = parentPath(path);
  const name = path.slice(dir ? dir.length + 1 : 0);
  const dot = name.lastIndexOf(".");
  const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  return new RegExp(`^${esc(dir ? `${dir}/` : "")}${esc(base)}\\.sync-conflict-\\d{8}-\\d{6}-[A-Za-z0-9_-]+${esc(ext)}$`);
}

/** Paths of `t` holding `content` at `path` or in a conflict copy of it. */
function holders(t: Map<string, string>, path: string, content: string): string[] {
  const copy = copyOf(path);
  return [...t].filter(([p, c]) => c === content && (p === path || copy.test(p))).map(([p]) => p);
}

async function trio(clocks: { alice?: () => number } = {}) {
  const a = world.device(alice, "laptop", new MemoryFs({ root: "alice:/" }), clocks.alice ? { now: clocks.alice } : {});
  const b = world.device(bob, "phone", new MemoryFs({ root: "bob:/" }));
  const c = world.device(carol, "desk", new MemoryFs({ root: "carol:/" }));
  const group = await a.remote.createGroup({ name: "Project", members: [bob, carol] });
  const space: Space = await a.remote.createSpace({ kind: "group", name: "Project", group: group.id });
  for (const d of [a, b, c]) await d.attach(space);
  return { a, b, c, space, all: [a, b, c], fs: [a.fs, b.fs, c.fs] as [MemoryFs, MemoryFs, MemoryFs] };
}

/** A folder that runs `during` once, right after its next rename (a file written by a sync lands). */
class HookFs extends MemoryFs {
  during: (() => Promise<unknown>) | undefined;
  override async rename(from: string, to: string): Promise<void> {
    await super.rename(from, to);
    const run = this.during;
    this.during = undefined;
    await run?.();
  }
}

/** Writes `content` at `path` with the fixture's clock as mtime, then moves the clock on a second. */
function write(fs: MemoryFs, path: string, content: string, mtimeMs = world.now()) {
  fs.writeFile(path, content, { mtimeMs });
  world.advance(1000);
}

const ORDERS = [[0, 1, 2], [2, 1, 0], [1, 2, 0]] as const;
const who = (order: readonly number[]) => order.map((i) => ["Alice", "Bob", "Carol"][i]).join(", ");

describe("concurrent offline changes (row 12)", () => {
  it.each(ORDERS.map((o) => [who(o), o] as const))("three devices edit one file offline, synced in the order %s: the latest edit at the path, the other two as conflict copies, everywhere", async (_, order) => {
    const { all, fs, space } = await trio();
    write(fs[0], "plan.txt", "v1\n");
    await settle(all, space.id);
    const edits = ["Alice's v2\n", "Bob's v2\n", "Carol's v2\n"];
    edits.forEach((e, i) => write(fs[i]!, "plan.txt", e));
    for (const i of order) await all[i]!.sync(space.id);
    await settle(all, space.id, order);
    const t = await expectConverged(all, space.id);
    expect(t.size).toBe(3);
    // The conflict rule is the same everywhere: the latest edit (Carol's) stays at the path.
    expect(t.get("plan.txt")).toBe("Carol's v2\n");
    for (const e of edits) expect(holders(t, "plan.txt", e)).toHaveLength(1);
    expect([...t.keys()].filter((p) => p !== "plan.txt").map((p) => p.replace(/^.*-(\w+)\.txt$/, "$1")).sort()).toEqual(["laptop", "phone"]);
  });

  it.each([["Alice's delete", [0, 1, 2]], ["Bob's edit", [1, 0, 2]]] as const)("an edit against a delete, %s synced first: the edit stays, on every device, without a copy", async (_, order) => {
    const { all, fs, space } = await trio();
    write(fs[0], "notes/keep.txt", "v1\n");
    write(fs[0], "notes/other.txt", "other\n");
    await settle(all, space.id);
    await fs[0].remove("notes/keep.txt");
    write(fs[1], "notes/keep.txt", "Bob's v2\n");
    await settle(all, space.id, order);
    const t = await expectConverged(all, space.id);
    expect(sorted(t)).toEqual([["notes/", DIR], ["notes/keep.txt", "Bob's v2\n"], ["notes/other.txt", "other\n"]]);
  });

  it("a delete against a delete: gone everywhere, no copy, and it settles", async () => {
    const { all, fs, space } = await trio();
    write(fs[0], "old.txt", "old\n");
    write(fs[0], "stays.txt", "stays\n");
    await settle(all, space.id);
    await fs[0].remove("old.txt");
    await fs[2].remove("old.txt");
    world.advance(1000);
    await settle(all, space.id, [2, 0, 1]);
    const t = await expectConverged(all, space.id);
    expect(sorted(t)).toEqual([["stays.txt", "stays\n"]]);
    for (const d of all) expect(d.state.conflicts(space.id)).toEqual([]);
  });

  it.each([["Alice's rename", [0, 1, 2]], ["Bob's edit", [1, 0, 2]]] as const)("a rename against an edit of the old path, %s synced first: the moved file and the edit both survive", async (_, order) => {
    const { all, fs, space } = await trio();
    write(fs[0], "drafts/plan.txt", "v1\n");
    await settle(all, space.id);
    await fs[0].mkdir("final");
    await fs[0].rename("drafts/plan.txt", "final/plan.txt");
    write(fs[1], "drafts/plan.txt", "Bob's v2\n");
    await settle(all, space.id, order);
    const t = await expectConverged(all, space.id);
    expect(t.get("final/plan.txt")).toBe("v1\n");
    expect(t.get("drafts/plan.txt")).toBe("Bob's v2\n");
    expect([...t.values()].filter((c) => c !== DIR)).toHaveLength(2);
  });

  it("two devices make the same edit, a third another: one conflict copy only, none for the identical pair", async () => {
    const { all, fs, space } = await trio();
    write(fs[0], "list.txt", "milk\n");
    await settle(all, space.id);
    write(fs[0], "list.txt", "milk\neggs\n");
    write(fs[1], "list.txt", "milk\neggs\n");
    write(fs[2], "same.txt", "x\n");
    await settle(all, space.id, [1, 0, 2]);
    for (const d of all) expect(d.state.conflicts(space.id)).toEqual([]);
    let t = await expectConverged(all, space.id);
    expect(sorted(t)).toEqual([["list.txt", "milk\neggs\n"], ["same.txt", "x\n"]]);
    // Now the pair again, and Carol differently: one copy, for the odd one out.
    write(fs[2], "list.txt", "milk\nbread\n");
    write(fs[0], "list.txt", "milk\neggs\nflour\n");
    write(fs[1], "list.txt", "milk\neggs\nflour\n");
    await settle(all, space.id, [2, 0, 1]);
    t = await expectConverged(all, space.id);
    expect(t.size).toBe(3);
    expect(t.get("list.txt")).toBe("milk\neggs\nflour\n");
    expect(holders(t, "list.txt", "milk\nbread\n")).toEqual([expect.stringMatching(/-desk\.txt$/)]);
  });

  it("two versions of one device with mtimes in the same second lose at the same path: two conflict copies, none replaced, and it settles", async () => {
    const { all, fs, space } = await trio();
    const [afs, , cfs] = fs;
    // Unpacked from one archive: three files with the same mtime.
    const t0 = world.now();
    for (const p of ["a.txt", "b.txt", "c.txt"]) afs.writeFile(p, `base ${p}\n`, { mtimeMs: t0 });
    world.advance(1000);
    await settle(all, space.id);
    // Twice: Carol edits b.txt while Alice, offline, moves another of those files onto it
    // (a rename keeps the mtime). Carol's later edit wins both times; Alice's loses.
    for (const from of ["a.txt", "c.txt"]) {
      write(cfs, "b.txt", `Carol's ${from}\n`);
      await afs.rename(from, "b.txt");
      await settle(all, space.id, [2, 0, 1]);
    }
    const t = await expectConverged(all, space.id);
    expect(t.get("b.txt")).toBe("Carol's c.txt\n");
    expect(holders(t, "b.txt", "base a.txt\n")).toHaveLength(1);
    expect(holders(t, "b.txt", "base c.txt\n")).toHaveLength(1);
  });

  it("someone commits while Bob's sync keeps his edit over Alice's: his refused commit is tried again from what is current, and nothing stays stuck", async () => {
    const a = world.device(alice, "laptop", new MemoryFs({ root: "alice:/" }));
    const b = world.device(bob, "phone", new HookFs({ root: "bob:/" }));
    const c = world.device(carol, "desk", new MemoryFs({ root: "carol:/" }));
    const group = await a.remote.createGroup({ name: "Project", members: [bob, carol] });
    const space = await a.remote.createSpace({ kind: "group", name: "Project", group: group.id });
    const all = [a, b, c];
    for (const d of all) await d.attach(space);
    const [afs, bfs, cfs] = [a.fs as MemoryFs, b.fs as HookFs, c.fs as MemoryFs];
    write(afs, "plan.txt", "v0\n");
    write(afs, "other.txt", "o0\n");
    await settle(all, space.id);
    write(afs, "plan.txt", "Alice's plan\n");
    await a.sync(space.id);
    write(cfs, "other.txt", "Carol's other\n");
    write(bfs, "plan.txt", "Bob's plan\n");
    write(bfs, "other.txt", "Bob's other\n");
    // Bob's later edit wins plan.txt; while his sync keeps Alice's as a copy, Carol commits
    // other.txt, which Bob's commit also carries: the sharing manager refuses it as a whole.
    // (The copy is the only file Bob's sync writes before it commits.)
    bfs.during = async () => {
      expect((await tree(bfs)).get("plan.sync-conflict-20261125-090002-laptop.txt")).toBe("Alice's plan\n");
      await c.sync(space.id);
    };
    await b.sync(space.id);
    expect(bfs.during).toBeUndefined();
    await settle(all, space.id, [1, 0, 2]);
    const t = await expectConverged(all, space.id);
    expect(t.get("plan.txt")).toBe("Bob's plan\n");
    expect(t.get("other.txt")).toBe("Bob's other\n");
    expect(holders(t, "plan.txt", "Alice's plan\n")).toHaveLength(1);
    expect(holders(t, "other.txt", "Carol's other\n")).toHaveLength(1);
    expect(t.size).toBe(4);
  });
});

// ---- the property: random offline operations on three devices, random sync orders ----

/** A few paths; `d` is a folder at first and may become a file once emptied. */
const POOL = ["a.txt", "b.txt", "d/c.txt", "d/e.txt", "d"] as const;
type Op =
  | { readonly op: "write"; readonly dev: number; readonly path: number; readonly same: boolean }
  | { readonly op: "delete"; readonly dev: number; readonly path: number }
  | { readonly op: "rename"; readonly dev: number; readonly path: number; readonly to: number }
  /** `meanwhile`: another device syncs in the middle of this one's sync (after its first write). */
  | { readonly op: "sync"; readonly dev: number; readonly meanwhile: number | null }
  /** The state database deleted; `fresh`: logged in again without the config, a new replica id. */
  | { readonly op: "wipe"; readonly dev: number; readonly fresh: boolean };
const dev = fc.integer({ min: 0, max: 2 });
const path = fc.integer({ min: 0, max: POOL.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("write" as const), dev, path, same: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), dev, path }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("rename" as const), dev, path, to: path }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("sync" as const), dev, meanwhile: fc.option(dev, { freq: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("wipe" as const), dev, fresh: fc.boolean() }) },
);

/**
 * One run: Alice's base files synced everywhere, then `ops` (each device's clock skewed by
 * `skews`), then all sync in `order` until quiet. Every content written is tracked, and so is
 * every content a device replaced or deleted while it had it on disk (it had seen it: the design
 * lets that one go). Everything else must still be in the folder somewhere (a rename moves it).
 */
async function randomRun(run: number, ops: readonly Op[], order: readonly number[], skews: readonly number[]): Promise<void> {
  const members = [alice, bob, carol];
  const replicas = ["laptop", "phone", "desk"];
  const fss = replicas.map((r) => new HookFs({ root: `${r}-${run}:/` }));
  const clock = (i: number) => () => world.now() + skews[i]!;
  const make = (i: number) => world.device(members[i]!, replicas[i]!, fss[i]!, { now: clock(i) });
  const devices = [0, 1, 2].map(make);
  const group = await devices[0]!.remote.createGroup({ name: `G${run}`, members: [bob, carol] });
  const space = await devices[0]!.remote.createSpace({ kind: "group", name: `G${run}`, group: group.id });
  for (const d of devices) await d.attach(space);
  const written = new Set<string>();
  const superseded = new Set<string>();
  const fileAt = async (fs: MemoryFs, p: string) => ((await fs.lstat(p))?.kind === "file" ? text(fs, p) : undefined);
  const writable = async (fs: MemoryFs, p: string) => (await fs.lstat(p))?.kind !== "dir" && (await fs.lstat(parentPath(p)))?.kind !== "file";
  const put = async (i: number, p: string, content: string) => {
    const old = await fileAt(fss[i]!, p);
    if (old !== undefined) superseded.add(old);
    written.add(content);
    fss[i]!.writeFile(p, content, { mtimeMs: clock(i)() });
  };
  for (const p of POOL) if (p !== "d") await put(0, p, `base ${p}\n`);
  await settle(devices, space.id);
  let n = 0;
  for (const o of ops) {
    // Distinct mtimes (the scanner sees every write), often within one second (a conflict
    // copy's name has seconds only).
    world.advance(137);
    const fs = fss[o.dev]!;
    const p = POOL["path" in o ? o.path : 0]!;
    const to = POOL[o.op === "rename" ? o.to : 0]!;
    if (o.op === "write" && (await writable(fs, p))) {
      await put(o.dev, p, o.same ? `same ${p}\n` : `${replicas[o.dev]} ${++n}\n`);
    } else if (o.op === "delete") {
      const st = await fs.lstat(p);
      if (st?.kind === "file") superseded.add(text(fs, p));
      if (st?.kind === "file" || (st?.kind === "dir" && (await fs.readdir(p)).length === 0)) await fs.remove(p);
    } else if (o.op === "rename" && o.to !== o.path && (await fileAt(fs, p)) !== undefined && (await writable(fs, to))) {
      const old = await fileAt(fs, to);
      if (old !== undefined) superseded.add(old);
      await fs.mkdir(parentPath(to));
      await fs.rename(p, to);
    } else if (o.op === "sync") {
      const other = o.meanwhile;
      if (other !== null && other !== o.dev) fs.during = () => devices[other]!.sync(space.id);
      await devices[o.dev]!.sync(space.id);
      fs.during = undefined;
    } else if (o.op === "wipe") {
      devices[o.dev]!.close();
      if (o.fresh) replicas[o.dev] = `${replicas[o.dev]}x`;
      devices[o.dev] = make(o.dev);
      await devices[o.dev]!.attach(space);
    }
  }
  await settle(devices, space.id, order);
  const t = await expectConverged(devices, space.id);
  const present = new Set(t.values());
  for (const c of written) if (!superseded.has(c)) expect(present.has(c), `${JSON.stringify(c)} was lost`).toBe(true);
  // Nothing but what someone wrote: no mixed or truncated bytes.
  for (const c of present) if (c !== DIR) expect(written.has(c), `${JSON.stringify(c)} was never written`).toBe(true);
  for (const d of devices) d.close();
}

describe("random offline operations on three devices (rows 12 and 13, property)", () => {
  // A fixed seed keeps it deterministic; FC_SEED and FC_RUNS (environment) explore further.
  it("whatever the operations, clocks, wiped databases and sync orders: nothing unsuperseded is lost, and everyone converges", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 16 }),
        fc.shuffledSubarray([0, 1, 2], { minLength: 3, maxLength: 3 }),
        fc.array(fc.constantFrom(0, -DAY, DAY), { minLength: 3, maxLength: 3 }),
        (ops, order, skews) => randomRun(++run, ops, order, skews),
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 60), seed: Number(process.env.FC_SEED ?? 20261125) },
    );
  }, 120_000);
});

// ---- row 13: a deleted database, a clock a day back ----

describe("a device whose state database was deleted, its clock a day back (row 13)", () => {
  it.each([
    ["the same replica id (state.sqlite deleted, config kept)", "laptop"],
    ["a new replica id (logged in again without the old config)", "laptop2"],
  ])("with %s: the newer versions stay in place everywhere; its later edits still win", async (_, replica) => {
    const { a, b, c, fs, space } = await trio();
    const [afs, bfs, cfs] = fs;
    write(afs, "report.txt", "report v1\n");
    write(afs, "same.txt", "unchanged\n");
    write(afs, "gone.txt", "deleted by Carol\n");
    await settle([a, b, c], space.id);
    // While Alice's laptop is away, Bob and Carol move on.
    write(bfs, "report.txt", "report v2 by Bob\n");
    write(bfs, "new.txt", "Bob's new file\n");
    await cfs.remove("gone.txt");
    await settle([b, c], space.id);
    // Alice's database is deleted (her folder still holds v1), her clock set a day back.
    a.close();
    const behind = () => world.now() - DAY;
    const a2 = world.device(alice, replica, afs, { now: behind });
    await a2.attach(space);
    const all = [a2, b, c];
    await settle(all, space.id, [0, 1, 2]);
    let t = await expectConverged(all, space.id);
    expect(t.get("report.txt")).toBe("report v2 by Bob\n");
    expect(t.get("same.txt")).toBe("unchanged\n");
    expect(t.get("new.txt")).toBe("Bob's new file\n");
    expect(holders(t, "same.txt", "unchanged\n")).toEqual(["same.txt"]);
    // Carol's deletion names the bytes it deleted (was): the laptop's copy is exactly those,
    // so it is deleted there too rather than brought back to everyone as an edit.
    expect(t.has("gone.txt")).toBe(false);
    expect(holders(t, "gone.txt", "deleted by Carol\n")).toEqual([]);
    // Not asserted: v1 is kept as a conflict copy (harmless noise): the laptop cannot tell its
    // old copy of report.txt from an edit, and keeps both (nothing is lost).
    // Alice now edits the version she received, with her clock still a day behind: a newer
    // version, whatever its mtime says, and it replaces Bob's everywhere with no conflict.
    const before = [...t.keys()];
    const v2 = (await world.deps.store.getEntry(space.id, "report.txt"))!.vector;
    write(afs, "report.txt", "report v3 by Alice\n", behind());
    await settle(all, space.id, [0, 1, 2]);
    t = await expectConverged(all, space.id);
    expect(t.get("report.txt")).toBe("report v3 by Alice\n");
    expect([...t.keys()].sort()).toEqual(before.sort());
    expect(compare((await world.deps.store.getEntry(space.id, "report.txt"))!.vector, v2)).toBe("greater");
  });

  it("its older file carries a later mtime (restored from a backup): the newer version is kept as a conflict copy, and the conflict is recorded", async () => {
    const { a, b, c, fs, space } = await trio();
    const [afs, bfs] = fs;
    write(afs, "report.txt", "report v1\n");
    await settle([a, b, c], space.id);
    write(bfs, "report.txt", "report v2 by Bob\n");
    await settle([b, c], space.id);
    a.close();
    // The backup tool touched every file: v1's mtime is now later than v2's.
    afs.writeFile("report.txt", "report v1\n", { mtimeMs: world.now() + 3_600_000 });
    const a2 = world.device(alice, "laptop", afs, { now: () => world.now() - DAY });
    await a2.attach(space);
    const all = [a2, b, c];
    await settle(all, space.id, [0, 1, 2]);
    const t = await expectConverged(all, space.id);
    expect(holders(t, "report.txt", "report v2 by Bob\n")).toHaveLength(1);
    expect(holders(t, "report.txt", "report v1\n")).toHaveLength(1);
    expect(a2.state.conflicts(space.id)).toMatchObject([{ path: "report.txt" }]);
  });

  it("a clock a day back, its database intact: its offline edit against a newer one is kept as a copy; its edit made after seeing the newer one wins", async () => {
    const { all, fs, space } = await trio({ alice: () => world.now() - DAY });
    const [afs, bfs] = fs;
    write(bfs, "plan.txt", "v1\n");
    await settle(all, space.id);
    write(afs, "plan.txt", "Alice's v2\n", world.now() - DAY);
    write(bfs, "plan.txt", "Bob's v2\n");
    await settle(all, space.id, [0, 1, 2]);
    let t = await expectConverged(all, space.id);
    expect(t.get("plan.txt")).toBe("Bob's v2\n");
    expect(holders(t, "plan.txt", "Alice's v2\n")).toEqual([expect.stringMatching(/-laptop\.txt$/)]);
    write(afs, "plan.txt", "Alice's v3\n", world.now() - DAY);
    await settle(all, space.id, [0, 1, 2]);
    t = await expectConverged(all, space.id);
    expect(t.get("plan.txt")).toBe("Alice's v3\n");
    expect(t.size).toBe(2);
  });
});
