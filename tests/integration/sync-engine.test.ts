/**
 * The sync engine end to end in process: devices with in-memory folders, the real HTTP data
 * path and the component's router with memory stores. Scenarios of issue 4, fast.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorFs } from "../../client/fs/errorfs.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import { RealFs } from "../../client/fs/real.ts";
import { COMMIT_BATCH, ChunkUploader } from "../../client/remote.ts";
import type { BareJid } from "../../protocol/ids.ts";
import { fromEntries } from "../../protocol/vv.ts";
import { alicePairsWithBob, startSharing } from "./fixtures/sharing.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;

let world: Awaited<ReturnType<typeof startSharing>>;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});

const text = (fs: MemoryFs, p: string) => Buffer.from(fs.readFile(p)).toString();
const files = async (fs: MemoryFs, dir = ""): Promise<string[]> => {
  const out: string[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    const p = dir ? `${dir}/${name}` : name;
    if (p === ".xshare") continue;
    const st = await fs.lstat(p);
    if (st?.kind === "dir") out.push(`${p}/`, ...(await files(fs, p)));
    else out.push(p);
  }
  return out;
};

const pair = () => alicePairsWithBob(world);

describe("sync engine", () => {
  it("a sync stopped between two files (the daemon's stop) keeps what it wrote, leaves no temporary file, and the next one finishes", async () => {
    const { a, space, afs } = await pair();
    for (let i = 0; i < 40; i++) afs.writeFile(`notes/n${String(i).padStart(2, "0")}.txt`, `note ${i}\n`, { mtimeMs: 1000 });
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const stop = new AbortController();
    class StoppingFs extends MemoryFs {
      renames = 0;
      override async rename(from: string, to: string): Promise<void> {
        await super.rename(from, to);
        if (++this.renames === 10) stop.abort();
      }
    }
    const bfs = new StoppingFs({ root: "bob:/" });
    const b = world.device(bob, "phone", bfs);
    await b.attach(space);
    await expect(b.sync(space.id, stop.signal)).rejects.toMatchObject({ name: "AbortError" });
    const written = (await files(bfs, "notes")).filter((p) => p.endsWith(".txt"));
    expect(written.length).toBeGreaterThanOrEqual(10);
    expect(written.length).toBeLessThan(40);
    expect((await files(bfs)).filter((p) => p.includes(".xshare-tmp-"))).toEqual([]);
    // What was written is recorded as synced (so it is neither fetched again nor taken for a local change).
    const recorded = [...b.state.entries(space.id).keys()].filter((p) => p.startsWith("notes/"));
    expect(recorded.length).toBeGreaterThanOrEqual(10);
    for (const p of recorded) expect(text(bfs, p)).toBe(`note ${Number(p.slice(7, 9))}\n`);
    const rb = await b.sync(space.id);
    expect(rb).toMatchObject({ status: "in-sync", pushed: 0 });
    expect((await files(bfs, "notes")).filter((p) => p.endsWith(".txt"))).toHaveLength(40);
  });

  it("files, subfolders, edits, deletes and renames arrive", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("plan.txt", "Day 1: Lisbon\n", { mtimeMs: 1000 });
    afs.writeFile("photos/day1.jpg", Buffer.alloc(200_000, 7), { mtimeMs: 1000 });
    afs.writeFile("tools/run.sh", "#!/bin/sh\necho hi\n", { mtimeMs: 1000, mode: 0o755 });
    await afs.mkdir("empty");
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const rb = await b.sync(space.id);
    expect(rb.status).toBe("in-sync");
    expect(await files(bfs)).toEqual(["empty/", "photos/", "photos/day1.jpg", "plan.txt", "tools/", "tools/run.sh"]);
    expect(text(bfs, "plan.txt")).toBe("Day 1: Lisbon\n");
    expect((await bfs.lstat("tools/run.sh"))?.mode).toBe(0o755);
    expect((await bfs.lstat("plan.txt"))?.mtimeMs).toBe(1000);

    // Bob edits, deletes and renames; Alice receives it, and the renamed file is not downloaded again.
    bfs.writeFile("plan.txt", "Day 1: Lisbon\nDay 2: Porto\n", { mtimeMs: 2000 });
    await bfs.remove("tools/run.sh");
    await bfs.rename("photos/day1.jpg", "photos/lisbon.jpg");
    expect((await b.sync(space.id)).status).toBe("in-sync");
    const ra = await a.sync(space.id);
    expect(ra.status).toBe("in-sync");
    expect(ra.bytesDown).toBeLessThan(1000);
    expect(await files(afs)).toEqual(["empty/", "photos/", "photos/lisbon.jpg", "plan.txt", "tools/"]);
    expect(text(afs, "plan.txt")).toBe("Day 1: Lisbon\nDay 2: Porto\n");
  });

  it("concurrent edits of the same file: both versions survive, on both sides", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("plan.txt", "v1\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    afs.writeFile("plan.txt", "alice's v2\n", { mtimeMs: 2000 });
    bfs.writeFile("plan.txt", "bob's v2\n", { mtimeMs: 3000 });
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const rb = await b.sync(space.id);
    expect(rb.conflicts).toBe(1);
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const copy = "plan.sync-conflict-19700101-000002-laptop.txt";
    for (const fs of [afs, bfs]) {
      expect(await files(fs)).toEqual([copy, "plan.txt"]);
      expect(text(fs, "plan.txt")).toBe("bob's v2\n");
      expect(text(fs, copy)).toBe("alice's v2\n");
    }
    expect(b.state.conflicts(space.id)).toMatchObject([{ path: "plan.txt", copy, localAt: "path" }]);
  });

  it("an edit beats a delete", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("keep.txt", "v1\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    await afs.remove("keep.txt");
    bfs.writeFile("keep.txt", "v2 by bob\n", { mtimeMs: 2000 });
    await a.sync(space.id);
    await b.sync(space.id);
    await a.sync(space.id);
    expect(text(afs, "keep.txt")).toBe("v2 by bob\n");
    expect(text(bfs, "keep.txt")).toBe("v2 by bob\n");
  });

  it("an unsynced local edit meets a remote edit: both survive", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("x.txt", "one\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    afs.writeFile("x.txt", "two\n", { mtimeMs: 2000 });
    await a.sync(space.id);
    // Bob edits after his last sync too: his edit must survive whatever the order.
    bfs.writeFile("x.txt", "bob\n", { mtimeMs: 3000 });
    await b.sync(space.id);
    const contents = (await files(bfs)).filter((p) => p.startsWith("x")).map((p) => text(bfs, p)).sort();
    expect(contents).toEqual(["bob\n", "two\n"]);
  });

  it("an unmounted folder sends no deletes", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("precious.txt", "data\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    afs.unmount();
    const r = await a.sync(space.id);
    expect(r).toMatchObject({ status: "paused", reason: "missing-root", pushed: 0 });
    afs.mount();
    await afs.remove(".xshare/space");
    expect((await a.sync(space.id)).status).toBe("paused");
    await b.sync(space.id);
    expect(text(bfs, "precious.txt")).toBe("data\n");
  });

  it("Bob cannot change Alice's 'mine' space; his edits stay local and are reported", async () => {
    const a = world.device(alice, "laptop", new MemoryFs());
    const b = world.device(bob, "phone", new MemoryFs());
    const mine = await a.remote.createSpace({ kind: "mine", name: "My sharing", members: [bob] });
    await a.attach(mine);
    await b.attach(mine);
    const afs = a.fs as MemoryFs;
    const bfs = b.fs as MemoryFs;
    afs.writeFile("song.mp3", "la la\n", { mtimeMs: 1000 });
    await a.sync(mine.id);
    await b.sync(mine.id);
    bfs.writeFile("song.mp3", "bob sings\n", { mtimeMs: 2000 });
    bfs.writeFile("bob.txt", "hi\n", { mtimeMs: 2000 });
    const r = await b.sync(mine.id);
    expect(r.readOnlySkipped.sort()).toEqual(["bob.txt", "song.mp3"]);
    expect(r.pushed).toBe(0);
    await a.sync(mine.id);
    expect(await files(afs)).toEqual(["song.mp3"]);
    expect(text(afs, "song.mp3")).toBe("la la\n");
  });

  it("Carol, added later, receives everything; a second device of Alice receives what the first pushed", async () => {
    const a = world.device(alice, "laptop", new MemoryFs());
    const b = world.device(bob, "phone", new MemoryFs());
    const group = await a.remote.createGroup({ name: "Family", members: [bob] });
    const space = await a.remote.createSpace({ kind: "group", name: "Photos", group: group.id });
    await a.attach(space);
    await b.attach(space);
    const afs = a.fs as MemoryFs;
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 32) createHash("sha256").update(String(i)).digest().copy(big, i);
    afs.writeFile("big.bin", big, { mtimeMs: 1000 });
    afs.writeFile("a/b/c.txt", "deep\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    await b.remote.invite({ space: space.id, jid: carol });
    const c = world.device(carol, "desk", new MemoryFs());
    await c.attach(await c.remote.space(space.id));
    expect((await c.sync(space.id)).status).toBe("in-sync");
    expect(Buffer.from((c.fs as MemoryFs).readFile("big.bin")).equals(big)).toBe(true);
    const a2 = world.device(alice, "desktop", new MemoryFs());
    await a2.attach(space);
    await a2.sync(space.id);
    expect(text(a2.fs as MemoryFs, "a/b/c.txt")).toBe("deep\n");
  });

  it("Unicode names travel as NFC", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("cafe\u0301/re\u0301sume\u0301.txt", "é\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    expect(await files(bfs)).toEqual(["caf\u00e9/", "caf\u00e9/r\u00e9sum\u00e9.txt"]);
  });

  it("symbolic links are not synced and are reported", async () => {
    const { a, space, afs } = await pair();
    afs.symlink("link", "/etc/passwd");
    const r = await a.sync(space.id);
    expect(r.skipped).toEqual([{ path: "link", reason: "symlink not synced" }]);
  });

  it("a folder that is a symlink, before the scan or swapped in between scan and write, is never written through (on a real disk)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xshare-symlink-"));
    try {
      const outside = join(dir, "outside");
      await mkdir(outside);
      await writeFile(join(outside, "precious.txt"), "mine\n");
      // Bob's folder is on disk; the first write of the next sync finds `photos` replaced.
      let swap: (() => Promise<void>) | undefined;
      class SwappingFs extends RealFs {
        override async writeTemp(d: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
          const s = swap;
          swap = undefined;
          await s?.();
          return super.writeTemp(d, data);
        }
      }
      const a = world.device(alice, "laptop", new MemoryFs());
      const b = world.device(bob, "phone", new SwappingFs(join(dir, "bob")));
      const space = await a.remote.createSpace({ kind: "pair", name: "Trip", members: [bob] });
      await mkdir(join(dir, "bob"));
      await a.attach(space);
      await b.attach(space);
      const afs = a.fs as MemoryFs;
      afs.writeFile("photos/one.jpg", "one\n", { mtimeMs: 1000 });
      afs.writeFile("docs/plan.txt", "plan\n", { mtimeMs: 1000 });
      await a.sync(space.id);
      expect((await b.sync(space.id)).status).toBe("in-sync");

      // 1. Between Bob's scan and his write, `photos` becomes a link to a folder outside.
      afs.writeFile("photos/two.jpg", "two\n", { mtimeMs: 2000 });
      await a.sync(space.id);
      swap = async () => {
        await rm(join(dir, "bob", "photos"), { recursive: true });
        await symlink(outside, join(dir, "bob", "photos"));
      };
      await b.sync(space.id).catch(() => undefined);
      expect((await readdir(outside)).sort()).toEqual(["precious.txt"]);
      expect(await readFile(join(outside, "precious.txt"), "utf8")).toBe("mine\n");

      // 2. The link is there when the scan runs: reported, skipped, nothing under it written.
      afs.writeFile("photos/three.jpg", "three\n", { mtimeMs: 3000 });
      await a.sync(space.id);
      const r = await b.sync(space.id);
      expect(r.skipped).toContainEqual({ path: "photos", reason: "symlink not synced" });
      expect((await readdir(outside)).sort()).toEqual(["precious.txt"]);
      expect(await readFile(join(outside, "precious.txt"), "utf8")).toBe("mine\n");
      expect(await readFile(join(dir, "bob", "docs", "plan.txt"), "utf8")).toBe("plan\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a full disk while receiving: the sync fails, nothing half-written stays, the next sync completes", async () => {
    const a = world.device(alice, "laptop", new MemoryFs());
    const inner = new MemoryFs();
    const full = new ErrorFs(inner, { methods: ["writeTemp"], path: (p) => !p.startsWith(".xshare"), code: "ENOSPC", afterBytes: 10_000, times: 1 });
    const b = world.device(bob, "phone", full);
    const space = await a.remote.createSpace({ kind: "pair", name: "Trip", members: [bob] });
    await a.attach(space);
    await b.attach(space);
    (a.fs as MemoryFs).writeFile("big.bin", Buffer.alloc(100_000, 3), { mtimeMs: 1000 });
    (a.fs as MemoryFs).writeFile("small.txt", "hello\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await expect(b.sync(space.id)).rejects.toThrow(/ENOSPC/);
    expect((await files(inner)).filter((p) => p.includes(".xshare-tmp-"))).toEqual([]);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect(Buffer.from(inner.readFile("big.bin")).equals(Buffer.alloc(100_000, 3))).toBe(true);
    // Bob's side pushed no deletions while it was failing: Alice still has everything.
    await a.sync(space.id);
    expect(await files(a.fs as MemoryFs)).toEqual(["big.bin", "small.txt"]);
  });

  it("paths matched by .xshareignore are not sent", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile(".xshareignore", "*.tmp\nbuild/\n", { mtimeMs: 1000 });
    afs.writeFile("notes.txt", "keep\n", { mtimeMs: 1000 });
    afs.writeFile("scratch.tmp", "junk\n", { mtimeMs: 1000 });
    afs.writeFile("build/out.o", "junk\n", { mtimeMs: 1000 });
    const r = await a.sync(space.id);
    expect(r.skipped.map((s) => s.reason)).toEqual(["ignored", "ignored"]);
    await b.sync(space.id);
    expect(await files(bfs)).toEqual([".xshareignore", "notes.txt"]);
    // Deleting an ignored file locally is not a deletion anyone else sees either.
    await afs.remove("scratch.tmp");
    expect((await a.sync(space.id)).pushed).toBe(0);
    // Alice starts ignoring *.log before Bob's log file reaches her: it is not written on her side.
    afs.writeFile(".xshareignore", "*.tmp\nbuild/\n*.log\n", { mtimeMs: 3000 });
    bfs.writeFile("debug.log", "bob's log\n", { mtimeMs: 2000 });
    await b.sync(space.id);
    await a.sync(space.id);
    expect(await files(afs)).toEqual([".xshareignore", "build/", "build/out.o", "notes.txt"]);
    await b.sync(space.id);
    expect(await files(bfs)).toEqual([".xshareignore", "debug.log", "notes.txt"]);
  });

  it("temporary files left by an interrupted write are removed once stale, never reported or sent", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("sub/.xshare-tmp-dead", "half a file", { mtimeMs: 0 });
    afs.writeFile(".xshare-tmp-fresh", "being written", { mtimeMs: Date.UTC(2026, 10, 25, 9, 0, 0) });
    const r = await a.sync(space.id);
    expect(r.skipped).toEqual([]);
    expect((await afs.readdir("sub")).length).toBe(0);
    expect(await afs.lstat(".xshare-tmp-fresh")).toBeDefined();
    await b.sync(space.id);
    expect(await files(bfs)).toEqual(["sub/"]);
  });

  it("more files than one slot request may name (2,000 chunks) arrive in one sync", async () => {
    const { a, b, space, afs, bfs } = await pair();
    for (let i = 0; i < 2100; i++) afs.writeFile(`many/f${i}.txt`, `file ${i}\n`, { mtimeMs: 1000 });
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const r = await b.sync(space.id);
    expect(r.status).toBe("in-sync");
    expect(r.pulled).toBe(2100);
    expect(text(bfs, "many/f2099.txt")).toBe("file 2099\n");
  });

  it("more paths than one commit request carries (COMMIT_BATCH) arrive in one sync", async () => {
    const { a, b, space, afs, bfs } = await pair();
    for (let i = 0; i <= COMMIT_BATCH; i++) afs.writeFile(`lots/f${i}.txt`, `n${i}`, { mtimeMs: 1000 });
    const r = await a.sync(space.id);
    expect(r).toMatchObject({ status: "in-sync", pushed: COMMIT_BATCH + 2 }); // + the folder
    expect(r.head).toBe(COMMIT_BATCH + 2);
    expect((await b.sync(space.id)).pulled).toBe(COMMIT_BATCH + 1); // files (the folder is made for them)
    expect(text(bfs, `lots/f${COMMIT_BATCH}.txt`)).toBe(`n${COMMIT_BATCH}`);
  });

  it("uploads only chunks the component lacks, and recovers when it lacks one it should have", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const big = Buffer.alloc(400_000);
    for (let i = 0; i < big.length; i += 32) createHash("sha256").update(`b${i}`).digest().copy(big, i);
    afs.writeFile("big.bin", big, { mtimeMs: 1000 });
    await a.sync(space.id);
    // A 1-byte overwrite uploads one chunk, not the file.
    big[200_000] = big[200_000]! ^ 1;
    afs.writeFile("big.bin", big, { mtimeMs: 2000 });
    const edit = await a.sync(space.id);
    expect(edit.bytesUp).toBeGreaterThan(0);
    expect(edit.bytesUp).toBeLessThan(big.length / 2);
    // The local index claims a version whose chunk the component never received: the commit
    // naming it is refused (missing-chunks) and the next round uploads it after all.
    const extra = Buffer.from("only on Alice's disk\n");
    const hash = createHash("sha256").update(extra).digest("hex") as never;
    const ghost = { path: "ghost.txt", kind: "file" as const, vector: fromEntries([["laptop", 1]]), hash, size: extra.length, mtimeMs: 1, mode: 0o644, deleted: false, replica: "laptop" as never, chunks: [{ hash, size: extra.length }] };
    a.state.commit(space.id, [{ version: ghost }]);
    afs.writeFile("copy.txt", extra, { mtimeMs: 3000 });
    expect((await a.sync(space.id)).status).toBe("in-sync");
    await b.sync(space.id);
    expect(text(bfs, "copy.txt")).toBe("only on Alice's disk\n");
  });

  it("a large file's chunk list travels as a manifest: a 1-byte edit moves a few hundred KiB at most", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const big = Buffer.alloc(12 << 20);
    for (let i = 0; i < big.length; i += 32) createHash("sha256").update(`m${i}`).digest().copy(big, i);
    afs.writeFile("video.bin", big, { mtimeMs: 1000 });
    await a.sync(space.id);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect(Buffer.from(bfs.readFile("video.bin")).equals(big)).toBe(true);
    const before = { a: { ...a.remote.stats }, b: { ...b.remote.stats } };
    big[6 << 20] = big[6 << 20]! ^ 1;
    afs.writeFile("video.bin", big, { mtimeMs: 2000 });
    await a.sync(space.id);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect(Buffer.from(bfs.readFile("video.bin")).equals(big)).toBe(true);
    const moved = a.remote.stats.sent - before.a.sent + a.remote.stats.received - before.a.received + b.remote.stats.sent - before.b.sent + b.remote.stats.received - before.b.received;
    expect(moved).toBeLessThan(400_000);
  });

  it("a new file's chunks are uploaded while the scan reads them: read once, sent once", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 32) createHash("sha256").update(`s${i}`).digest().copy(big, i);
    afs.writeFile("movie.bin", big, { mtimeMs: 1000 });
    afs.writeFile("small.txt", "tiny\n", { mtimeMs: 1000 });
    const ranges: string[] = [];
    const readRange = afs.readRange.bind(afs);
    afs.readRange = (path, offset, length) => {
      if (!path.startsWith(".xshare/")) ranges.push(path);
      return readRange(path, offset, length);
    };
    const r = await a.sync(space.id);
    expect(r.status).toBe("in-sync");
    // The push found every chunk on the component: nothing was read a second time for it.
    expect(ranges).toEqual([]);
    expect(r.bytesUp).toBe(big.length + 5);
    expect(a.remote.stats.sent).toBeLessThan(big.length + 64 * 1024);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect(Buffer.from(bfs.readFile("movie.bin")).equals(big)).toBe(true);
  });

  it("when uploading during the scan fails, the push uploads everything itself", async () => {
    const { a, b, space, afs, bfs } = await pair();
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i += 32) createHash("sha256").update(`f${i}`).digest().copy(big, i);
    afs.writeFile("doc.bin", big, { mtimeMs: 1000 });
    let attempts = 0;
    a.remote.uploader = () =>
      new ChunkUploader(async () => {
        attempts++;
        throw new Error("the network went away");
      });
    const r = await a.sync(space.id);
    expect(attempts).toBe(1);
    expect(r.status).toBe("in-sync");
    expect(r.bytesUp).toBe(big.length);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect(Buffer.from(bfs.readFile("doc.bin")).equals(big)).toBe(true);
  });

  it("a file edited between the scan and the write is never overwritten", async () => {
    const { a, space, afs } = await pair();
    // Bob's disk: the moment a remote version is staged in a temp file, someone edits the target.
    class EditedMidway extends MemoryFs {
      armed = false;
      override async writeTemp(dir: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
        const tmp = await super.writeTemp(dir, data);
        if (this.armed && dir === "") {
          this.armed = false;
          this.writeFile("x.txt", "edited during the sync\n", { mtimeMs: 5000 });
        }
        return tmp;
      }
    }
    const racing = new EditedMidway();
    const b2 = world.device(bob, "tablet", racing);
    await b2.attach(space);
    afs.writeFile("x.txt", "one\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b2.sync(space.id);
    afs.writeFile("x.txt", "two\n", { mtimeMs: 2000 });
    await a.sync(space.id);
    racing.armed = true;
    expect((await b2.sync(space.id)).status).toBe("in-sync");
    const contents = (await files(racing)).filter((p) => p.startsWith("x")).map((p) => text(racing, p)).sort();
    expect(contents).toEqual(["edited during the sync\n", "two\n"]);
  });
});
