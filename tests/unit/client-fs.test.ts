/**
 * The `Fs` contract (client/fs/types.ts), one suite run against MemoryFs and against RealFs in
 * a temp dir, plus what only one of them does (MemoryFs's case-insensitive mode and clock).
 */
import { mkdtemp, rm, symlink as fsSymlink, writeFile as fsWriteFile, mkdir as fsMkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryFs } from "../../client/fs/memory.ts";
import { RealFs } from "../../client/fs/real.ts";
import { errorCode, type Fs } from "../../client/fs/types.ts";
import { TEMP_PREFIX } from "../../protocol/paths.ts";

interface Fixture {
  fs: Fs;
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  symlink(path: string, target: string): Promise<void>;
  cleanup(): Promise<void>;
}

const makers: Record<string, () => Promise<Fixture>> = {
  MemoryFs: async () => {
    const fs = new MemoryFs();
    return {
      fs,
      writeFile: async (p, d) => fs.writeFile(p, d),
      symlink: async (p, t) => fs.symlink(p, t),
      cleanup: async () => undefined,
    };
  },
  RealFs: async () => {
    const dir = await mkdtemp(join(tmpdir(), "xshare-fs-"));
    return {
      fs: new RealFs(dir),
      writeFile: async (p, d) => {
        await fsMkdir(dirname(join(dir, p)), { recursive: true });
        await fsWriteFile(join(dir, p), d);
      },
      symlink: async (p, t) => fsSymlink(t, join(dir, p)),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

async function collect(it: AsyncIterable<Uint8Array>): Promise<{ data: Buffer; pieces: number[] }> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return { data: Buffer.concat(parts), pieces: parts.map((p) => p.length) };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeDefined();
  expect(errorCode(err)).toBe(code);
}

async function* pieces(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

for (const [name, make] of Object.entries(makers)) {
  describe(`Fs contract: ${name}`, () => {
    let fx: Fixture;
    afterEach(async () => fx?.cleanup());
    const setup = async (): Promise<Fs> => {
      fx = await make();
      return fx.fs;
    };

    it("exists() and lstat of files, dirs and missing paths", async () => {
      const fs = await setup();
      expect(await fs.exists()).toBe(true);
      await fx.writeFile("d/a.txt", "hello");
      const st = await fs.lstat("d/a.txt");
      expect(st).toMatchObject({ kind: "file", size: 5 });
      expect(st!.ino).toBeGreaterThan(0);
      expect(st!.mode & ~0o777).toBe(0);
      expect((await fs.lstat("d"))?.kind).toBe("dir");
      expect((await fs.lstat(""))?.kind).toBe("dir");
      expect(await fs.lstat("nope")).toBeUndefined();
      expect(await fs.lstat("nope/deeper")).toBeUndefined();
      expect(await fs.lstat("d/a.txt/under-a-file")).toBeUndefined();
    });

    it("lstat never follows a symlink, even a dangling one", async () => {
      const fs = await setup();
      await fx.writeFile("target.txt", "0123456789");
      await fx.symlink("link", "target.txt");
      await fx.symlink("dangling", "missing");
      expect((await fs.lstat("link"))?.kind).toBe("symlink");
      expect((await fs.lstat("dangling"))?.kind).toBe("symlink");
      await fs.remove("link");
      expect(await fs.lstat("link")).toBeUndefined();
      expect((await fs.lstat("target.txt"))?.kind).toBe("file");
    });

    it("never writes through a folder that is a symlink: ENOTDIR, and nothing lands where it points", async () => {
      const fs = await setup();
      await fx.writeFile("real/keep.txt", "mine");
      await fx.writeFile("elsewhere/x.txt", "outside");
      await fx.symlink("photos", "elsewhere");
      await fx.symlink("real/inner", "../elsewhere");
      await rejectsWith(fs.writeTemp("photos", pieces("payload")), "ENOTDIR");
      await rejectsWith(fs.writeTemp("real/inner", pieces("payload")), "ENOTDIR");
      await rejectsWith(fs.mkdir("photos/2026"), "EEXIST");
      await rejectsWith(fs.mkdir("photos"), "EEXIST");
      await rejectsWith(fs.setTimes("photos/x.txt", 0), "ENOTDIR");
      await rejectsWith(fs.setMode("photos/x.txt", 0o777), "ENOTDIR");
      await fs.remove("photos/x.txt"); // not in this tree: absent, nothing removed
      const tmp = await fs.writeTemp("real", pieces("payload"));
      await rejectsWith(fs.rename(tmp, "photos/x.txt"), "ENOTDIR");
      expect(await fs.readdir("elsewhere")).toEqual(["x.txt"]);
      expect((await collect(fs.read("elsewhere/x.txt"))).data.toString()).toBe("outside");
      // The links themselves may go, and what is not under one is written as usual.
      await fs.rename(tmp, "real/new.txt");
      await fs.remove("photos");
      expect(await fs.lstat("photos")).toBeUndefined();
      expect((await fs.readdir("real")).sort()).toEqual(["inner", "keep.txt", "new.txt"]);
    });

    it("readdir lists names of the root and of subdirectories", async () => {
      const fs = await setup();
      await fx.writeFile("b", "");
      await fx.writeFile("a/x", "");
      await fx.writeFile("a/y", "");
      expect((await fs.readdir("")).sort()).toEqual(["a", "b"]);
      expect((await fs.readdir("a")).sort()).toEqual(["x", "y"]);
      await rejectsWith(fs.readdir("missing"), "ENOENT");
      await rejectsWith(fs.readdir("b"), "ENOTDIR");
    });

    it("read streams whole files and inclusive ranges in bounded pieces", async () => {
      const fs = await setup();
      const big = Buffer.alloc(1024 * 1024 + 17, 0);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      await fx.writeFile("big", big);
      const all = await collect(fs.read("big"));
      expect(all.data.equals(big)).toBe(true);
      expect(Math.max(...all.pieces)).toBeLessThanOrEqual(256 * 1024);
      expect((await collect(fs.read("big", { start: 10, end: 19 }))).data.equals(big.subarray(10, 20))).toBe(true);
      expect((await collect(fs.read("big", { start: big.length - 3 }))).data.equals(big.subarray(-3))).toBe(true);
      expect((await collect(fs.read("big", { end: 0 }))).data.length).toBe(1);
      await fx.writeFile("empty", "");
      expect((await collect(fs.read("empty"))).data.length).toBe(0);
      await rejectsWith(collect(fs.read("missing")), "ENOENT");
    });

    it("readRange returns the bytes asked for, fewer only at the end of the file", async () => {
      const fs = await setup();
      await fx.writeFile("f", "abcdefghij");
      expect(Buffer.from(await fs.readRange("f", 2, 3)).toString()).toBe("cde");
      expect(Buffer.from(await fs.readRange("f", 8, 10)).toString()).toBe("ij");
      expect((await fs.readRange("f", 20, 4)).length).toBe(0);
      await rejectsWith(fs.readRange("missing", 0, 1), "ENOENT");
    });

    it("writeTemp creates a fresh temp file in the directory, rename replaces atomically", async () => {
      const fs = await setup();
      await fx.writeFile("dir/doc.txt", "old content");
      const t1 = await fs.writeTemp("dir", pieces("new ", "content"));
      const t2 = await fs.writeTemp("dir", [Buffer.from("other")]);
      expect(t1.startsWith(`dir/${TEMP_PREFIX}`)).toBe(true);
      expect(t1).not.toBe(t2);
      const tempIno = (await fs.lstat(t1))!.ino;
      await fs.rename(t1, "dir/doc.txt");
      await fs.fsyncDir("dir");
      expect(Buffer.from(await fs.readRange("dir/doc.txt", 0, 100)).toString()).toBe("new content");
      expect((await fs.lstat("dir/doc.txt"))!.ino).toBe(tempIno);
      expect(await fs.lstat(t1)).toBeUndefined();
      expect((await fs.readdir("dir")).sort()).toEqual(["doc.txt", t2.slice(4)].sort());
      const root = await fs.writeTemp("", []);
      expect(root.startsWith(TEMP_PREFIX)).toBe(true);
      expect((await fs.lstat(root))?.size).toBe(0);
    });

    it("writeTemp gives the file the mode and mtime asked for, kept by the rename", async () => {
      const fs = await setup();
      await fs.mkdir("d");
      const t = await fs.writeTemp("d", pieces("script"), { mode: 0o755, mtimeMs: 1_600_000_000_000 });
      await fs.rename(t, "d/run.sh");
      expect(await fs.lstat("d/run.sh")).toMatchObject({ kind: "file", size: 6, mode: 0o755, mtimeMs: 1_600_000_000_000 });
      const plain = await fs.writeTemp("d", pieces("x"), { mode: 0o1644 });
      expect((await fs.lstat(plain))!.mode).toBe(0o644);
    });

    it("writeTemp is done with each piece before it asks for the next (the producer may reuse it)", async () => {
      const fs = await setup();
      async function* reused(): AsyncIterable<Uint8Array> {
        const buf = Buffer.alloc(4);
        for (const s of ["one ", "two ", "six!"]) {
          buf.write(s);
          yield buf;
        }
      }
      const t = await fs.writeTemp("", reused());
      expect(Buffer.from(await fs.readRange(t, 0, 100)).toString()).toBe("one two six!");
    });

    it("a failed writeTemp leaves no temp file behind", async () => {
      const fs = await setup();
      await fs.mkdir("d");
      async function* failing(): AsyncIterable<Uint8Array> {
        yield Buffer.from("partial");
        throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      }
      await rejectsWith(fs.writeTemp("d", failing()), "ENOSPC");
      expect(await fs.readdir("d")).toEqual([]);
      await rejectsWith(fs.writeTemp("missing", []), "ENOENT");
    });

    it("rename moves files and directories, and fails on a missing source", async () => {
      const fs = await setup();
      await fx.writeFile("a/f", "x");
      await fs.rename("a", "b");
      expect(await fs.lstat("a")).toBeUndefined();
      expect((await fs.lstat("b/f"))?.size).toBe(1);
      await rejectsWith(fs.rename("nope", "x"), "ENOENT");
    });

    it("mkdir is recursive and idempotent; remove takes files and empty dirs only", async () => {
      const fs = await setup();
      await fs.mkdir("a/b/c");
      await fs.mkdir("a/b/c");
      expect((await fs.lstat("a/b/c"))?.kind).toBe("dir");
      await fx.writeFile("a/b/f", "x");
      await expect(fs.mkdir("a/b/f")).rejects.toThrow();
      await rejectsWith(fs.remove("a/b"), "ENOTEMPTY");
      await fs.remove("a/b/f");
      await fs.remove("a/b/c");
      await fs.remove("a/b/c");
      await fs.remove("never/was");
      expect(await fs.readdir("a/b")).toEqual([]);
    });

    it("setTimes and setMode are what lstat reports", async () => {
      const fs = await setup();
      await fx.writeFile("f", "x");
      await fs.setTimes("f", 1_700_000_000_123);
      expect(Math.abs((await fs.lstat("f"))!.mtimeMs - 1_700_000_000_123)).toBeLessThan(1);
      await fs.setMode("f", 0o100755);
      expect((await fs.lstat("f"))!.mode).toBe(0o755);
      await fs.setMode("f", 0o600);
      expect((await fs.lstat("f"))!.mode).toBe(0o600);
      await rejectsWith(fs.setTimes("missing", 0), "ENOENT");
    });

    it("refuses paths that would leave the root", async () => {
      const fs = await setup();
      await rejectsWith(fs.lstat("../etc/passwd"), "EINVAL");
      await rejectsWith(fs.lstat("/etc/passwd"), "EINVAL");
      await rejectsWith(fs.readdir("a/../.."), "EINVAL");
      expect(await fs.lstat("a..b")).toBeUndefined();
    });
  });
}

describe("RealFs only", () => {
  it("exists() is false for a missing root", async () => {
    expect(await new RealFs(join(tmpdir(), "xshare-no-such-root-" + process.pid)).exists()).toBe(false);
  });

  it("keeps an NFD name as the disk spells it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xshare-fs-"));
    try {
      const nfd = "Cafe\u0301.txt";
      await fsWriteFile(join(dir, nfd), "x");
      const fs = new RealFs(dir);
      expect(await fs.readdir("")).toEqual([nfd]);
      expect((await fs.lstat(nfd))?.kind).toBe("file");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("MemoryFs only", () => {
  it("case-insensitive mode finds names by fold key and keeps the first spelling", async () => {
    const fs = new MemoryFs({ caseInsensitive: true });
    fs.writeFile("Docs/Read.ME", "1");
    fs.writeFile("docs/read.me", "22");
    expect(await fs.readdir("")).toEqual(["Docs"]);
    expect(await fs.readdir("DOCS")).toEqual(["Read.ME"]);
    expect((await fs.lstat("dOcS/rEaD.mE"))?.size).toBe(2);
    expect((await fs.lstat("docs/Cafe\u0301")) === undefined).toBe(true);
    fs.writeFile("Caf\u00e9", "x");
    expect((await fs.lstat("cafe\u0301"))?.kind).toBe("file");
    await fs.rename("Docs", "DOCS");
    expect(await fs.readdir("")).toEqual(expect.arrayContaining(["DOCS"]));
  });

  it("is case-sensitive by default", async () => {
    const fs = new MemoryFs();
    fs.writeFile("a", "1");
    fs.writeFile("A", "2");
    expect((await fs.readdir("")).sort()).toEqual(["A", "a"]);
  });

  it("uses the injected clock, keeps inodes on in-place writes, honours owner read bits", async () => {
    let now = 1000;
    const fs = new MemoryFs({ now: () => now });
    fs.writeFile("f", "a");
    const st = (await fs.lstat("f"))!;
    expect(st.mtimeMs).toBe(1000);
    now = 2000;
    fs.writeFile("f", "bb");
    expect(await fs.lstat("f")).toMatchObject({ mtimeMs: 2000, size: 2, ino: st.ino });
    await fs.setMode("f", 0o200);
    await rejectsWith(fs.readRange("f", 0, 1), "EACCES");
    await rejectsWith(collect(fs.read("f")), "EACCES");
    await fs.mkdir("d");
    await fs.setMode("d", 0o300);
    await rejectsWith(fs.readdir("d"), "EACCES");
  });

  it("special nodes are kind other; unmount makes the root vanish", async () => {
    const fs = new MemoryFs();
    fs.special("fifo");
    expect((await fs.lstat("fifo"))?.kind).toBe("other");
    fs.unmount();
    expect(await fs.exists()).toBe(false);
    await rejectsWith(fs.readdir(""), "ENOENT");
    await rejectsWith(fs.lstat("fifo"), "ENOENT");
    fs.mount();
    expect((await fs.lstat("fifo"))?.kind).toBe("other");
  });

  it("counts fsyncDir calls", async () => {
    const fs = new MemoryFs();
    await fs.fsyncDir("");
    expect(fs.dirSyncs).toBe(1);
  });
});
