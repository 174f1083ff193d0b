/**
 * Runs the BlobStore contract over every implementation, plus what only the filesystem stores
 * can get wrong: the on-disk layout, temp files left behind, state surviving a restart, and
 * for the pack store rotation, compaction and torn appends.
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, open, readdir, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { FsBlobStore } from "../../component/store/fs-blobs.ts";
import { MemoryBlobStore } from "../../component/store/memory-blobs.ts";
import { PackBlobStore } from "../../component/store/pack-blobs.ts";
import { MIGRATIONS as PACK_INDEX_MIGRATIONS } from "../../component/store/pack-index.ts";
import { bytes, expectCode, failing, readAll, runBlobStoreContract, sha, source } from "./blob-store.contract.ts";

const CRASH_CHILD = fileURLToPath(new URL("./fixtures/pack-crash-child.ts", import.meta.url));
const roots: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "xshare-blobs-"));
  roots.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(roots.map((d) => rm(d, { recursive: true, force: true })));
});

runBlobStoreContract("memory", async () => new MemoryBlobStore());
runBlobStoreContract("fs", async () => FsBlobStore.open(await tempDir()));
runBlobStoreContract("pack", async () => PackBlobStore.open(await tempDir()));
runBlobStoreContract("pack, 4 KiB packs", async () => PackBlobStore.open(await tempDir(), { packBytes: 4096 }));

describe("FsBlobStore on disk", () => {
  let dir: string;
  let store: FsBlobStore;
  const MAX = 1 << 20;
  beforeEach(async () => {
    dir = await tempDir();
    store = await FsBlobStore.open(dir);
  });
  afterEach(async () => {
    await store.close();
  });

  const tmpFiles = () => readdir(join(dir, ".tmp"));

  it("puts a blob at dir/ab/cd/<hash>", async () => {
    const data = bytes(1234);
    const h = sha(data);
    await store.put(h, source([data]), { maxBytes: MAX });
    expect(await readdir(join(dir, h.slice(0, 2), h.slice(2, 4)))).toEqual([h]);
    expect(await tmpFiles()).toEqual([]);
  });

  it("leaves no temp file after a refused put", async () => {
    const data = bytes(300_000);
    await expectCode(store.put(sha(bytes(300_000, 2)), source([data]), { maxBytes: MAX }), "hash-mismatch");
    await expectCode(store.put(sha(data), source([data.subarray(0, 100_000), data.subarray(100_000)]), { maxBytes: 150_000 }), "too-large");
    expect(await tmpFiles()).toEqual([]);
  });

  it("a put aborted midway by its source leaves nothing visible and no temp file", async () => {
    const data = bytes(500_000, 3);
    const h = sha(data);
    await expect(store.put(h, failing([data.subarray(0, 300_000)]), { maxBytes: MAX })).rejects.toThrow();
    expect(await store.has(h)).toBe(false);
    expect(await tmpFiles()).toEqual([]);
    expect(await readdir(dir)).toEqual(expect.not.arrayContaining([h.slice(0, 2)]));
  });

  it("keeps partials per uploader under .partial/<sha256(key)>-<hash>", async () => {
    const h = sha(bytes(100));
    await store.put(h, source([bytes(100).subarray(0, 40)]), { maxBytes: MAX, offset: 0, total: 100, key: "bob@example.org" });
    expect(await readdir(join(dir, ".partial"))).toEqual([`${sha(Buffer.from("bob@example.org"))}-${h}`]);
  });

  it("a new store on the same folder sees blobs and partials, and drops stale temp files", async () => {
    const data = bytes(5000, 4);
    const h = sha(data);
    await store.put(h, source([data]), { maxBytes: MAX });
    const other = bytes(3000, 5);
    const ho = sha(other);
    await store.put(ho, source([other.subarray(0, 1000)]), { maxBytes: MAX, offset: 0, total: 3000, key: "k" });
    await store.close();
    await writeFile(join(dir, ".tmp", `${h}.99`), "left by a crash");

    store = await FsBlobStore.open(dir);
    expect(await tmpFiles()).toEqual([]);
    expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
    expect(await store.received(ho, "k")).toBe(1000);
    const r = await store.put(ho, source([other.subarray(1000)]), { maxBytes: MAX, offset: 1000, total: 3000, key: "k" });
    expect(r).toEqual({ complete: true, size: 3000, created: true });
    await store.sync([h, ho]);
  });

  it("rejects calls after close", async () => {
    await store.close();
    await expectCode(store.has(sha(bytes(1))), "unavailable");
    store = await FsBlobStore.open(dir);
  });

  it("serves a blob whose file is deleted while it is being read", async () => {
    const data = bytes(200_000, 6);
    const h = sha(data);
    await store.put(h, source([data]), { maxBytes: MAX });
    const stream = await store.get(h);
    await store.delete(h);
    expect((await readAll(stream))!.equals(data)).toBe(true);
    expect(await store.has(h)).toBe(false);
  });

  it("prunePartials(0) removes nothing, whatever lies in the partial folder", async () => {
    await mkdir(join(dir, ".partial"), { recursive: true });
    await writeFile(join(dir, ".partial", "junk"), "x");
    expect(await store.prunePartials(0)).toBe(0);
  });
});

describe("PackBlobStore on disk", () => {
  let dir: string;
  let store: PackBlobStore;
  const MAX = 1 << 20;
  const PACK = 16 * 1024;
  beforeEach(async () => {
    dir = await tempDir();
    store = await PackBlobStore.open(dir, { packBytes: PACK });
  });
  afterEach(async () => {
    await store.close();
  });

  const packs = async () => (await readdir(join(dir, "packs"))).sort((a, b) => parseInt(a) - parseInt(b));
  /** Puts `n` distinct chunks of `size` bytes (seeds from `seed` on), in parallel. */
  const putMany = async (n: number, size: number, seed = 0) => {
    const blobs = Array.from({ length: n }, (_, i) => bytes(size, seed + i));
    const results = await Promise.all(blobs.map((b) => store.put(sha(b), source([b]), { maxBytes: MAX })));
    expect(results.every((r) => r.complete && r.created)).toBe(true);
    return blobs;
  };
  const expectAll = async (s: PackBlobStore, blobs: readonly Buffer[]) => {
    for (const b of blobs) expect((await readAll(await s.get(sha(b))))?.equals(b)).toBe(true);
  };

  it("appends chunks to packs/<n>.pack, rotating before a pack would exceed packBytes", async () => {
    const blobs = await putMany(40, 3000);
    const names = await packs();
    expect(names.length).toBeGreaterThanOrEqual(Math.ceil((40 * 3000) / PACK));
    expect(names.every((n) => /^\d+\.pack$/.test(n))).toBe(true);
    for (const n of names) expect((await stat(join(dir, "packs", n))).size).toBeLessThanOrEqual(PACK);
    await expectAll(store, blobs);
    // A chunk larger than a pack gets a pack of its own.
    const big = bytes(PACK * 2, 99);
    await store.put(sha(big), source([big]), { maxBytes: MAX });
    await expectAll(store, [...blobs, big]);
  });

  it("delete + compact reclaims the space of mostly dead packs; every remaining chunk reads back", async () => {
    const blobs = await putMany(60, 2000);
    const before = await packs();
    // Drop two of every three chunks: every full pack is then more than half dead.
    const kept = blobs.filter((_, i) => i % 3 === 0);
    for (const [i, b] of blobs.entries()) if (i % 3 !== 0) await store.delete(sha(b));
    const reclaimed = await store.compact();
    expect(reclaimed).toBeGreaterThan(0);
    const after = await packs();
    expect(after.filter((n) => before.includes(n)).length).toBeLessThan(before.length);
    await expectAll(store, kept);
    for (const [i, b] of blobs.entries()) if (i % 3 !== 0) expect(await store.has(sha(b))).toBe(false);
    // Nothing left to do, and the store goes on taking chunks; all survive a reopen.
    expect(await store.compact()).toBe(0);
    const more = await putMany(5, 2500, 1000);
    await store.close();
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    await expectAll(store, [...kept, ...more]);
  });

  it("a read started before compaction completes with the old bytes", async () => {
    const blobs = await putMany(30, 2000);
    const stream = await store.get(sha(blobs[0]!));
    for (const b of blobs.slice(1)) await store.delete(sha(b));
    await store.compact();
    expect((await readAll(stream))?.equals(blobs[0]!)).toBe(true);
    await expectAll(store, [blobs[0]!]);
  });

  it("reopen after close sees every chunk and partial, and keeps appending", async () => {
    const blobs = await putMany(25, 1500);
    const other = bytes(3000, 500);
    const ho = sha(other);
    await store.put(ho, source([other.subarray(0, 1000)]), { maxBytes: MAX, offset: 0, total: 3000, key: "k" });
    await store.close();
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    await expectAll(store, blobs);
    expect(await store.received(ho, "k")).toBe(1000);
    expect(await store.put(ho, source([other.subarray(1000)]), { maxBytes: MAX, offset: 1000, total: 3000, key: "k" })).toEqual({ complete: true, size: 3000, created: true });
    const more = await putMany(10, 1500, 700);
    await store.sync([...blobs, ...more, other].map((b) => sha(b)));
    await expectAll(store, [...blobs, ...more, other]);
    expect(await readdir(join(dir, ".partial"))).toEqual([]);
  });

  it("reopen after a torn append (garbage after the last chunk) truncates it; new puts are readable", async () => {
    const blobs = await putMany(8, 1000);
    await store.close();
    const last = (await packs()).at(-1)!;
    const length = (await stat(join(dir, "packs", last))).size;
    await appendFile(join(dir, "packs", last), bytes(700, 42));
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    expect((await stat(join(dir, "packs", last))).size).toBe(length);
    const more = await putMany(8, 1000, 100);
    await expectAll(store, [...blobs, ...more]);
    await store.close();
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    await expectAll(store, [...blobs, ...more]);
  });

  it("after a power loss, chunks past the synced length whose bytes did not reach the disk are dropped", async () => {
    const blobs = await putMany(6, 1000);
    await store.close();
    // As if the index had reached the disk but the pack's last two chunks had not.
    const db = new Database(join(dir, "index.sqlite"));
    const rows = db.prepare("SELECT lower(hex(hash)) AS hash, pack, pos FROM chunks ORDER BY pack, pos").all() as { hash: string; pack: number; pos: number }[];
    const lost = rows.slice(-2);
    db.prepare("UPDATE packs SET synced = ? WHERE id = ?").run(lost[0]!.pos, lost[0]!.pack);
    db.close();
    const fh = await open(join(dir, "packs", `${lost[0]!.pack}.pack`), "r+");
    for (const r of lost) await fh.write(Buffer.alloc(1000), 0, 1000, r.pos);
    await fh.close();
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    const gone = new Set(lost.map((r) => r.hash));
    for (const b of blobs) expect(await store.has(sha(b))).toBe(!gone.has(sha(b)));
    await expectAll(store, blobs.filter((b) => !gone.has(sha(b))));
    // Uploaded again, they are stored anew.
    for (const b of blobs.filter((x) => gone.has(sha(x)))) expect(await store.put(sha(b), source([b]), { maxBytes: MAX })).toMatchObject({ created: true });
    await expectAll(store, blobs);
  });

  it("opens a store whose index has the version-1 schema (hex TEXT hashes) and upgrades it", async () => {
    await store.close();
    const old = await tempDir();
    const blobs = [bytes(1000, 1), bytes(2500, 2), bytes(10, 3), bytes(0, 4)];
    // A version-1 store written by hand: one pack, its chunks back to back, all synced.
    await mkdir(join(old, "packs"));
    await writeFile(join(old, "packs", "1.pack"), Buffer.concat(blobs));
    const raw = new Database(join(old, "index.sqlite"));
    raw.exec(PACK_INDEX_MIGRATIONS[0]!);
    raw.pragma("user_version = 1");
    const total = blobs.reduce((n, b) => n + b.length, 0);
    raw.prepare("INSERT INTO packs VALUES (1, ?, ?, ?, 0)").run(total, total, total);
    let pos = 0;
    for (const b of blobs) {
      raw.prepare("INSERT INTO chunks VALUES (?, 1, ?, ?)").run(sha(b), pos, b.length);
      pos += b.length;
    }
    raw.close();
    store = await PackBlobStore.open(old, { packBytes: PACK });
    await expectAll(store, blobs);
    expect(await store.sizes(blobs.map((b) => sha(b)))).toEqual(blobs.map((b) => b.length));
    const more = await putMany(3, 1500, 50);
    await store.delete(sha(blobs[0]!));
    await store.close();
    const db = new Database(join(old, "index.sqlite"), { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(PACK_INDEX_MIGRATIONS.length);
    expect(db.prepare("SELECT DISTINCT typeof(hash) FROM chunks").pluck().all()).toEqual(["blob"]);
    expect(db.prepare("SELECT count(*) FROM chunks").pluck().get()).toBe(blobs.length - 1 + more.length);
    db.close();
    store = await PackBlobStore.open(old, { packBytes: PACK });
    expect(await store.has(sha(blobs[0]!))).toBe(false);
    await expectAll(store, [...blobs.slice(1), ...more]);
  });

  it("a crash of the process keeps every synced chunk; unsynced ones vanish with their bytes", async () => {
    await store.close();
    const synced = [3000, 1, 5000, 0, 2000];
    const unsynced = [4000, 700, 2500];
    const child = spawn(process.execPath, ["--import", "tsx", CRASH_CHILD, dir, JSON.stringify({ synced, unsynced })], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      child.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
    });
    child.kill("SIGKILL");
    await exited;
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    const kept = synced.map((n, i) => bytes(n, i));
    const lost = unsynced.map((n, i) => bytes(n, 1000 + i));
    await expectAll(store, kept);
    // Appended after the last index transaction: their rows were in memory only, and the
    // pack is cut back to the length the index knows.
    for (const b of lost) expect(await store.has(sha(b))).toBe(false);
    let total = 0;
    for (const n of await packs()) total += (await stat(join(dir, "packs", n))).size;
    expect(total).toBe(synced.reduce((a, b) => a + b, 0));
    for (const b of lost) expect(await store.put(sha(b), [b], { maxBytes: MAX, stablePieces: true })).toMatchObject({ created: true });
    await expectAll(store, [...kept, ...lost]);
  });

  it("a pack file the index does not know is removed on open", async () => {
    const blobs = await putMany(3, 1000);
    await store.close();
    await writeFile(join(dir, "packs", "999.pack"), "left by a crash during rotation");
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    expect(await packs()).not.toContain("999.pack");
    await expectAll(store, blobs);
  });

  it("the same chunk put concurrently is stored once", async () => {
    const data = bytes(5000, 7);
    const rs = await Promise.all(Array.from({ length: 5 }, () => store.put(sha(data), source([data]), { maxBytes: MAX })));
    expect(rs.filter((r) => r.complete && r.created)).toHaveLength(1);
    let total = 0;
    for (const n of await packs()) total += (await stat(join(dir, "packs", n))).size;
    expect(total).toBe(5000);
  });

  /** `sizes` and `readInto` must agree with `size` and `get`, hash by hash. */
  const expectBatchedAgree = async (s: PackBlobStore, all: readonly Buffer[]) => {
    const hashes = all.map((b) => sha(b));
    const one = await Promise.all(hashes.map((h) => s.size(h)));
    expect(await s.sizes(hashes)).toEqual(one);
    const live = all.filter((_, i) => one[i] !== undefined);
    const into = live.map((b) => Buffer.alloc(b.length));
    await s.readInto(live.map((b) => sha(b)), live.map((b) => b.length), into);
    for (const [i, b] of live.entries()) {
      expect(into[i]!.equals(b)).toBe(true);
      expect((await readAll(await s.get(sha(b))))!.equals(into[i]!)).toBe(true);
    }
  };

  it("batched lookups and reads agree with single ones across packs, after delete, compact and reopen", async () => {
    const blobs = await putMany(60, 2000);
    await expectBatchedAgree(store, blobs);
    for (const [i, b] of blobs.entries()) if (i % 3 !== 0) await store.delete(sha(b));
    await expectBatchedAgree(store, blobs);
    expect(await store.compact()).toBeGreaterThan(0);
    await expectBatchedAgree(store, blobs);
    const more = await putMany(7, 2500, 900);
    await store.close();
    store = await PackBlobStore.open(dir, { packBytes: PACK });
    await expectBatchedAgree(store, [...blobs, ...more]);
  });

  it("a batched read racing with compaction returns the right bytes", async () => {
    const blobs = await putMany(40, 2000);
    const kept = blobs.filter((_, i) => i % 4 === 0);
    for (const [i, b] of blobs.entries()) if (i % 4 !== 0) await store.delete(sha(b));
    for (let round = 0; round < 3; round++) {
      const into = kept.map((b) => Buffer.alloc(b.length));
      const read = store.readInto(kept.map((b) => sha(b)), kept.map((b) => b.length), into);
      await Promise.all([read, store.compact()]);
      kept.forEach((b, i) => expect(into[i]!.equals(b)).toBe(true));
    }
  });

  it("a chunk put again is verified but not written again", async () => {
    const [b] = await putMany(1, 3000, 77);
    const size = async () => (await Promise.all((await packs()).map((n) => stat(join(dir, "packs", n))))).reduce((t, st) => t + st.size, 0);
    const before = await size();
    for (const stablePieces of [true, false]) {
      expect(await store.put(sha(b!), source([b!.subarray(0, 100), b!.subarray(100)]), { maxBytes: MAX, stablePieces })).toEqual({ complete: true, size: 3000, created: false });
      await expectCode(store.put(sha(b!), source([bytes(3000, 78)]), { maxBytes: MAX, stablePieces }), "hash-mismatch");
    }
    expect(await size()).toBe(before);
  });

  it("rejects calls after close", async () => {
    await store.close();
    await expectCode(store.has(sha(bytes(1))), "unavailable");
    await expectCode(store.put(sha(bytes(1)), source([bytes(1)]), { maxBytes: MAX }), "unavailable");
    store = await PackBlobStore.open(dir, { packBytes: PACK });
  });
});
