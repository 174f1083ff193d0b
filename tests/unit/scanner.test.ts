/**
 * The scanner (client/scanner.ts) on MemoryFs, and a few runs on the real disk: what is listed,
 * what is skipped and why, what is read and what is not.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, symlink, writeFile, mkdir, chmod, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorFs } from "../../client/fs/errorfs.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import { RealFs } from "../../client/fs/real.ts";
import type { Fs, ReadOptions } from "../../client/fs/types.ts";
import { contentId } from "../../protocol/file.ts";
import { coveredBySkip, scan, type Known, type ScanResult } from "../../client/scanner.ts";
import { chunkBuffer } from "../../protocol/chunker.ts";

const sha = (d: Uint8Array | string): string => createHash("sha256").update(d).digest("hex");
const refs = (d: Uint8Array) => chunkBuffer(d).map((c) => ({ hash: c.hash, size: c.size }));
const paths = (r: ScanResult): string[] => r.entries.map((e) => e.path);
const known = (r: ScanResult): Map<string, Known> => new Map(r.entries.map((e) => [e.path, e]));
const reasons = (r: ScanResult): Record<string, string> => Object.fromEntries(r.skipped.map((s) => [s.path, s.reason]));

function random(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `inner` with its `read` replaced (everything else delegated). */
function withRead(inner: Fs, read: (path: string, opts?: ReadOptions) => AsyncIterable<Uint8Array>): Fs {
  return new Proxy(inner, {
    get(target, key) {
      if (key === "read") return read;
      const v: unknown = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

describe("scan on MemoryFs", () => {
  it("lists files and directories sorted by path, with hash and chunks of the content", async () => {
    const fs = new MemoryFs({ now: () => 5000 });
    const big = random(300_000);
    fs.writeFile("b/big.bin", big);
    fs.writeFile("a.txt", "hello");
    fs.writeFile("b/empty", "");
    await fs.mkdir("c/d");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual(["a.txt", "b", "b/big.bin", "b/empty", "c", "c/d"]);
    expect(r.skipped).toEqual([]);
    const [a, b, bigE, empty] = r.entries;
    expect(a).toMatchObject({ kind: "file", size: 5, mtimeMs: 5000, hash: sha("hello"), changed: true, diskPath: "a.txt" });
    expect(a!.chunks).toEqual(refs(Buffer.from("hello")));
    expect(b).toMatchObject({ kind: "dir", size: 0, hash: "", chunks: [], changed: true });
    expect(bigE!.hash).toBe(contentId(refs(big)));
    expect(bigE!.chunks.length).toBeGreaterThan(1);
    expect(bigE!.chunks).toEqual(refs(big));
    expect(bigE!.chunks.length).toBeGreaterThan(1);
    expect(empty).toMatchObject({ size: 0, hash: sha(""), chunks: [] });
  });

  it("does not read unchanged files: hash and chunks come from `previous`", async () => {
    const mem = new MemoryFs();
    mem.writeFile("x/one", random(100_000));
    mem.writeFile("two", "2");
    const first = await scan(mem, new Map());
    const noReads = new ErrorFs(mem, { methods: ["read", "readRange"] });
    const again = await scan(noReads, known(first));
    expect(noReads.failures).toBe(0);
    expect(again.entries.every((e) => !e.changed)).toBe(true);
    expect(again.entries.map((e) => [e.path, e.hash, e.chunks])).toEqual(first.entries.map((e) => [e.path, e.hash, e.chunks]));
    expect(new Set(noReads.calls.map((c) => c.method))).toEqual(new Set(["lstat", "readdir"]));
  });

  it("re-reads a file whose size, mtime or inode changed, and only that file", async () => {
    let now = 1000;
    const mem = new MemoryFs({ now: () => now });
    for (const n of ["size", "mtime", "ino", "mode", "same"]) mem.writeFile(n, "abc");
    const first = await scan(mem, new Map());
    now = 2000;
    mem.writeFile("size", "abcd", { mtimeMs: 1000 });
    mem.writeFile("mtime", "xyz");
    const tmp = await mem.writeTemp("", [Buffer.from("abc")]);
    await mem.rename(tmp, "ino");
    await mem.setTimes("ino", 1000);
    await mem.setMode("mode", 0o755);
    const spy = new ErrorFs(mem, []);
    const r = await scan(spy, known(first));
    const read = spy.calls.filter((c) => c.method === "read").map((c) => c.path);
    expect(read.sort()).toEqual(["ino", "mtime", "size"]);
    const by = new Map(r.entries.map((e) => [e.path, e]));
    expect(by.get("size")).toMatchObject({ changed: true, size: 4, hash: sha("abcd") });
    expect(by.get("mtime")).toMatchObject({ changed: true, mtimeMs: 2000, hash: sha("xyz") });
    expect(by.get("ino")).toMatchObject({ changed: true, hash: sha("abc") });
    expect(by.get("ino")!.ino).not.toBe(first.entries.find((e) => e.path === "ino")!.ino);
    expect(by.get("mode")).toMatchObject({ changed: true, mode: 0o755, hash: sha("abc") });
    expect(by.get("same")!.changed).toBe(false);
  });

  it("with hash: false reads no file: changed and new files are listed as changed, without hash", async () => {
    let now = 1000;
    const mem = new MemoryFs({ now: () => now });
    mem.writeFile("same", "abc");
    mem.writeFile("edited", "abc");
    const first = await scan(mem, new Map());
    now = 2000;
    mem.writeFile("edited", "abcd");
    mem.writeFile("d/new", random(300_000));
    const spy = new ErrorFs(mem, []);
    const r = await scan(spy, known(first), { hash: false });
    expect(new Set(spy.calls.map((c) => c.method))).toEqual(new Set(["lstat", "readdir"]));
    const by = new Map(r.entries.map((e) => [e.path, e]));
    expect(by.get("same")).toMatchObject({ changed: false, hash: first.entries.find((e) => e.path === "same")!.hash });
    expect(by.get("edited")).toMatchObject({ changed: true, size: 4, hash: "" });
    expect(by.get("d/new")).toMatchObject({ changed: true, size: 300_000, hash: "", chunks: [] });
    expect(by.get("d")).toMatchObject({ kind: "dir", changed: true });
  });

  it("takes hash and chunks from `cache` for files whose stat matches, without reading them; they stay changed", async () => {
    let now = 1000;
    const mem = new MemoryFs({ now: () => now });
    const big = random(300_000);
    mem.writeFile("held.mov", big);
    mem.writeFile("edited", "abc");
    const first = await scan(mem, new Map());
    const cache = new Map(first.entries.map((e) => [e.path, e]));
    now = 2000;
    mem.writeFile("edited", "abcd"); // its cache entry no longer matches: read again
    const spy = new ErrorFs(mem, []);
    const r = await scan(spy, new Map(), { cache });
    expect(spy.calls.filter((c) => c.method === "read").map((c) => c.path)).toEqual(["edited"]);
    const by = new Map(r.entries.map((e) => [e.path, e]));
    expect(by.get("held.mov")).toMatchObject({ changed: true, size: 300_000, hash: first.entries.find((e) => e.path === "held.mov")!.hash });
    expect(by.get("held.mov")!.chunks).toEqual(refs(big));
    expect(by.get("edited")).toMatchObject({ changed: true, hash: sha("abcd") });
  });

  it("applies .xshareignore (gitignore syntax, case-insensitive) and syncs the ignore file itself", async () => {
    const fs = new MemoryFs();
    fs.writeFile(".xshareignore", "*.log\n!keep.log\nbuild/\nthumbs.db\n.xshareignore\n");
    fs.writeFile("a.log", "");
    fs.writeFile("keep.log", "");
    fs.writeFile("sub/deep.log", "");
    fs.writeFile("build/out.o", "");
    fs.writeFile("src/build", "a file, not the dir rule");
    fs.writeFile("Thumbs.DB", "");
    fs.writeFile("main.c", "");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual([".xshareignore", "keep.log", "main.c", "src", "src/build", "sub"]);
    expect(reasons(r)).toEqual({ "a.log": "ignored", build: "ignored", "sub/deep.log": "ignored", "Thumbs.DB": "ignored" });
  });

  it("skips symlinks and special files, with a reason", async () => {
    const fs = new MemoryFs();
    fs.writeFile("real", "x");
    fs.symlink("link", "real");
    fs.symlink("d/dirlink", "..");
    fs.special("fifo");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual(["d", "real"]);
    expect(reasons(r)).toEqual({ link: "symlink not synced", "d/dirlink": "symlink not synced", fifo: "special file not synced" });
  });

  it("skips names the path rules reject, with the rule's reason, and never enters such a directory", async () => {
    const fs = new MemoryFs();
    fs.writeFile("CON.txt", "");
    fs.writeFile("a:b", "");
    fs.writeFile("sub/c:d", "");
    fs.writeFile("trail.", "");
    fs.writeFile("back\\slash", "");
    fs.writeFile("ctl\u0001", "");
    fs.writeFile("aux/inside", "");
    fs.writeFile("sub/.xshare/x", "");
    fs.writeFile("ok", "");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual(["ok", "sub"]);
    expect(reasons(r)).toEqual({
      "CON.txt": "windows-reserved",
      "a:b": "drive-letter",
      "sub/c:d": "colon",
      "trail.": "trailing-dot-space",
      "back\\slash": "backslash",
      "ctl\u0001": "control-char",
      aux: "windows-reserved",
      "sub/.xshare": "reserved",
    });
    expect(coveredBySkip(r.skipped)("aux/inside")).toBe(true);
    expect(coveredBySkip(r.skipped)("ok")).toBe(false);
  });

  it("skips a path over 4096 bytes at the component that crosses the limit", async () => {
    const fs = new MemoryFs();
    const long = "x".repeat(250);
    const dirs = Array.from({ length: 16 }, (_, i) => `${i}${long}`.slice(0, 250));
    fs.writeFile(`${dirs.join("/")}/${"y".repeat(200)}`, "deep");
    const r = await scan(fs, new Map());
    expect(r.entries.length).toBe(16);
    expect(r.skipped).toEqual([{ path: `${dirs.join("/")}/${"y".repeat(200)}`, reason: "path-too-long" }]);
  });

  it("keeps the first of names that fold alike, skips the others as case-collision", async () => {
    const fs = new MemoryFs();
    fs.writeFile("README.md", "1");
    fs.writeFile("Readme.md", "2");
    fs.writeFile("Docs/a", "");
    fs.writeFile("docs/b", "");
    fs.writeFile("Caf\u00e9", "nfc");
    fs.writeFile("Cafe\u0301", "nfd");
    fs.writeFile("x/straße", "");
    fs.writeFile("x/STRASSE", "");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual(["Caf\u00e9", "Docs", "Docs/a", "README.md", "x", "x/STRASSE"]);
    expect(r.entries[0]!.hash).toBe(sha("nfc"));
    expect(reasons(r)).toEqual({ "Cafe\u0301": "case-collision", "Readme.md": "case-collision", docs: "case-collision", "x/straße": "case-collision" });
  });

  it("reports NFD names on disk as NFC paths and opens them by their disk spelling", async () => {
    const fs = new MemoryFs();
    fs.writeFile("Cafe\u0301/Cre\u0300me.txt", "br\u00fbl\u00e9e");
    const first = await scan(fs, new Map());
    expect(first.entries.map((e) => [e.path, e.diskPath])).toEqual([
      ["Caf\u00e9", "Cafe\u0301"],
      ["Caf\u00e9/Cr\u00e8me.txt", "Cafe\u0301/Cre\u0300me.txt"],
    ]);
    expect(first.entries[1]!.hash).toBe(sha("br\u00fbl\u00e9e"));
    const again = await scan(fs, known(first));
    expect(again.entries.every((e) => !e.changed)).toBe(true);
  });

  it("skips unreadable files and directories; their subtree is covered, not deleted", async () => {
    const fs = new MemoryFs();
    fs.writeFile("secret", "x", { mode: 0o200 });
    fs.writeFile("locked/inner", "y");
    await fs.setMode("locked", 0o300);
    fs.writeFile("open", "z");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual(["open"]);
    expect(reasons(r)).toEqual({ secret: "unreadable", locked: "unreadable" });
    expect(coveredBySkip(r.skipped)("locked/inner")).toBe(true);
  });

  it("reports other I/O errors per entry and goes on", async () => {
    const mem = new MemoryFs();
    mem.writeFile("bad", "x");
    mem.writeFile("good", "y");
    const r = await scan(new ErrorFs(mem, { methods: ["read"], path: (p) => p === "bad" }), new Map());
    expect(paths(r)).toEqual(["good"]);
    expect(r.skipped).toEqual([{ path: "bad", reason: "io-error", detail: "EIO" }]);
  });

  it("re-reads a file that changed while being read, then gives up on it as changing", async () => {
    let now = 1000;
    const mem = new MemoryFs({ now: () => now, readPiece: 1024 });
    mem.writeFile("once", random(10_000, 1));
    mem.writeFile("always", random(10_000, 2));
    const reads: Record<string, number> = { once: 0, always: 0 };
    const fs = withRead(mem, async function* (path, opts) {
      reads[path] = (reads[path] ?? 0) + 1;
      let first = true;
      for await (const piece of mem.read(path, opts)) {
        yield piece;
        if (first && (path === "always" || reads[path] === 1)) mem.writeFile(path, random(10_000, ++now));
        first = false;
      }
    });
    const r = await scan(fs, new Map());
    expect(reads).toEqual({ once: 2, always: 2 });
    expect(paths(r)).toEqual(["once"]);
    expect(r.entries[0]!.hash).toBe(sha(mem.readFile("once")));
    expect(reasons(r)).toEqual({ always: "changing" });
  });

  it("never reports the state folder nor temp files", async () => {
    const fs = new MemoryFs();
    fs.writeFile(".xshare/space", "s1");
    fs.writeFile(".xshare/index.db", "");
    fs.writeFile(".xshare-tmp-0011", "partial");
    fs.writeFile("d/.xshare-tmp-22", "partial");
    fs.writeFile("d/f", "");
    const r = await scan(fs, new Map());
    expect(paths(r)).toEqual(["d", "d/f"]);
    expect(r.skipped).toEqual([]);
  });

  it("streams a 20 MiB file in bounded pieces, two large files at a time", async () => {
    const mem = new MemoryFs();
    const big = random(20 * 1024 * 1024, 7);
    mem.writeFile("big", big);
    for (let i = 0; i < 5; i++) mem.writeFile(`m${i}`, random(300_000, i + 10));
    let active = 0;
    let peak = 0;
    let largest = 0;
    const fs = withRead(mem, async function* (path, opts) {
      peak = Math.max(peak, ++active);
      try {
        for await (const piece of mem.read(path, opts)) {
          largest = Math.max(largest, piece.length);
          yield piece;
        }
      } finally {
        active--;
      }
    });
    const progress: Array<[number, number]> = [];
    const r = await scan(fs, new Map(), { onProgress: (f, b) => progress.push([f, b]) });
    const e = r.entries.find((x) => x.path === "big")!;
    expect(e.hash).toBe(contentId(refs(big)));
    expect(e.chunks).toEqual(refs(big));
    expect(e.chunks.reduce((n, c) => n + c.size, 0)).toBe(big.length);
    expect(largest).toBeLessThanOrEqual(64 * 1024);
    expect(peak).toBe(2);
    expect(progress.at(-1)).toEqual([6, big.length + 5 * 300_000]);
  });

  it("gives the same entries in sorted order whatever order files were created in", async () => {
    // Top-level names are directories ("d…") or files ("f…"), so every order builds the same tree.
    const part = fc.stringMatching(/^[abAB\u00e9]{1,3}$/);
    const path = fc.oneof(
      part.map((f) => `f${f}`),
      fc.tuple(part, part).map(([d, f]) => `d${d}/${f}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(path, { maxLength: 15 }), async (files) => {
        const build = (order: readonly string[]): MemoryFs => {
          const fs = new MemoryFs({ now: () => 0 });
          for (const p of order) fs.writeFile(p, p);
          return fs;
        };
        const view = (r: ScanResult) => [r.entries.map((e) => [e.path, e.kind, e.hash]), r.skipped];
        const r1 = await scan(build(files), new Map());
        const r2 = await scan(build([...files].reverse()), new Map());
        expect(view(r2)).toEqual(view(r1));
        const ps = paths(r1);
        expect([...ps].sort()).toEqual(ps);
        const dirs = new Set(ps.filter((p) => !p.includes("/")).map((p) => p.toLowerCase()));
        expect(dirs.size).toBe(ps.filter((p) => !p.includes("/")).length);
      }),
      { numRuns: 100 },
    );
  });

  it("rejects when the root is gone or the scan is aborted", async () => {
    const fs = new MemoryFs();
    fs.writeFile("a", "x");
    fs.unmount();
    await expect(scan(fs, new Map())).rejects.toMatchObject({ code: "ENOENT" });
    fs.mount();
    const ac = new AbortController();
    ac.abort();
    await expect(scan(fs, new Map(), { signal: ac.signal })).rejects.toThrow();
  });

  it("a file that turned into a directory (and back) is reported as it is now", async () => {
    const fs = new MemoryFs();
    fs.writeFile("x", "file");
    const first = await scan(fs, new Map());
    await fs.remove("x");
    fs.writeFile("x/inner", "");
    const second = await scan(fs, known(first));
    expect(second.entries.map((e) => [e.path, e.kind, e.changed])).toEqual([
      ["x", "dir", true],
      ["x/inner", "file", true],
    ]);
  });
});

describe("scan on the real disk", () => {
  const withDir = async (fn: (dir: string) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), "xshare-scan-"));
    try {
      await fn(dir);
    } finally {
      await chmod(join(dir, "secret"), 0o600).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  };

  it("lists a tree, skips links, hides state, and rescans without reading", async () => {
    await withDir(async (dir) => {
      const data = random(200_000, 3);
      await mkdir(join(dir, "sub"));
      await writeFile(join(dir, "sub", "data.bin"), data);
      await writeFile(join(dir, "Cafe\u0301.txt"), "nfd");
      await symlink("sub", join(dir, "link"));
      await mkdir(join(dir, ".xshare"));
      await writeFile(join(dir, ".xshare", "space"), "s");
      await writeFile(join(dir, "sub", ".xshare-tmp-1"), "t");
      const fs = new RealFs(dir);
      const first = await scan(fs, new Map());
      expect(paths(first)).toEqual(["Caf\u00e9.txt", "sub", "sub/data.bin"]);
      expect(first.entries[0]!.diskPath).toBe("Cafe\u0301.txt");
      expect(first.entries[2]).toMatchObject({ hash: contentId(refs(data)), chunks: refs(data), size: data.length });
      expect(reasons(first)).toEqual({ link: "symlink not synced" });

      const noReads = new ErrorFs(fs, { methods: ["read"] });
      const again = await scan(noReads, known(first));
      expect(noReads.failures).toBe(0);
      expect(again.entries.map((e) => e.changed)).toEqual([false, false, false]);

      await utimes(join(dir, "sub", "data.bin"), 1_600_000_000, 1_600_000_000);
      const third = await scan(fs, known(again));
      expect(third.entries.filter((e) => e.changed).map((e) => e.path)).toEqual(["sub/data.bin"]);
      expect(third.entries[2]!.mtimeMs).toBe(1_600_000_000_000);
    });
  });

  it.skipIf(process.getuid?.() === 0)("skips a file it may not read", async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, "secret"), "x");
      await chmod(join(dir, "secret"), 0o000);
      const r = await scan(new RealFs(dir), new Map());
      expect(reasons(r)).toEqual({ secret: "unreadable" });
    });
  });
});

describe("chunks handed over while hashing (ScanOptions.onChunk)", () => {
  it("each chunk's bytes, in file order, whatever the read piece size", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 300_000 })), fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 1, max: 1000 }), async (piece, size, seed) => {
        // Pieces of a few bytes make many reads: keep those files short.
        const data = random(piece < 64 ? Math.min(size, 40_000) : size, seed);
        const fs = new MemoryFs({ readPiece: piece });
        fs.writeFile("f.bin", data);
        fs.writeFile("small.txt", "a small file");
        const got = new Map<string, Array<{ hash: string; bytes: Uint8Array }>>();
        const r = await scan(fs, new Map(), {
          onChunk: (c, bytes) => {
            // Which file: the chunk belongs to exactly one here (distinct contents).
            const key = c.hash === sha("a small file") ? "small.txt" : "f.bin";
            got.set(key, [...(got.get(key) ?? []), { hash: c.hash, bytes: Uint8Array.from(bytes) }]);
            expect(bytes.length).toBe(c.size);
          },
        });
        const f = r.entries.find((e) => e.path === "f.bin")!;
        const handed = got.get("f.bin") ?? [];
        expect(handed.map((h) => h.hash)).toEqual(f.chunks.map((c) => c.hash));
        for (const h of handed) expect(sha(h.bytes)).toBe(h.hash);
        expect(Buffer.concat(handed.map((h) => h.bytes)).equals(Buffer.from(data))).toBe(true);
        expect(got.get("small.txt")?.map((h) => h.hash)).toEqual([sha("a small file")]);
      }),
      { numRuns: 60 },
    );
  });

  it("unchanged files are not read, so nothing of them is handed over; the scan waits for the sink", async () => {
    const fs = new MemoryFs();
    fs.writeFile("a.bin", random(200_000, 3), { mtimeMs: 1000 });
    const first = await scan(fs, new Map());
    fs.writeFile("b.bin", random(200_000, 4), { mtimeMs: 1000 });
    let pending = 0;
    let handed = 0;
    const r = await scan(fs, known(first), {
      onChunk: async () => {
        handed++;
        pending++;
        await new Promise((res) => setTimeout(res, 1));
        pending--;
      },
    });
    expect(pending).toBe(0);
    expect(handed).toBe(r.entries.find((e) => e.path === "b.bin")!.chunks.length);
  });
});

describe("RealFs reads large files in large pieces, one ahead", () => {
  it("yields the content in pieces of at most `piece`, and stops cleanly when the caller does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xshare-read-"));
    try {
      const data = random(3_000_000, 9);
      await writeFile(join(dir, "f"), data);
      const fs = new RealFs(dir);
      const pieces: number[] = [];
      const parts: Uint8Array[] = [];
      for await (const p of fs.read("f", { piece: 1 << 20 })) {
        pieces.push(p.length);
        parts.push(p);
      }
      expect(pieces).toEqual([1 << 20, 1 << 20, 3_000_000 - 2 * (1 << 20)]);
      expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
      const ranged: Uint8Array[] = [];
      for await (const p of fs.read("f", { piece: 1 << 20, start: 10, end: 1_500_000 })) ranged.push(p);
      expect(Buffer.concat(ranged).equals(Buffer.from(data.subarray(10, 1_500_001)))).toBe(true);
      // `reuse`: the same two buffers take turns; each piece is right while the caller has it.
      const seen = new Set<ArrayBufferLike>();
      const reused: Buffer[] = [];
      for await (const p of fs.read("f", { piece: 1 << 19, reuse: true })) {
        seen.add(p.buffer);
        reused.push(Buffer.from(p));
      }
      expect(seen.size).toBe(2);
      expect(Buffer.concat(reused).equals(Buffer.from(data))).toBe(true);
      // The scanner over reused buffers hands over each chunk's right bytes (copied by the sink).
      const handed: Buffer[] = [];
      await scan(fs, new Map(), { onChunk: (_c, bytes) => void handed.push(Buffer.from(bytes)) });
      expect(Buffer.concat(handed).equals(Buffer.from(data))).toBe(true);
      // Breaking out with a read in flight: the handle is closed, nothing is left unhandled.
      for await (const p of fs.read("f", { piece: 4096 })) if (p.length) break;
      const r = await scan(fs, new Map());
      expect(r.entries[0]).toMatchObject({ path: "f", hash: contentId(refs(data)), size: data.length });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
