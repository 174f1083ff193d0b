/**
 * ErrorFs: injected failures by method, path, count and byte offset, with node-style errors,
 * always as rejected promises, and never leaving a temp file behind in the wrapped Fs.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorFs } from "../../client/fs/errorfs.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import { RealFs } from "../../client/fs/real.ts";
import { errorCode } from "../../client/fs/types.ts";

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => errorCode(e) ?? "no-code",
  );
}

async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const p of it) n += p.length;
  return n;
}

function memWith(files: Record<string, string>): MemoryFs {
  const m = new MemoryFs();
  for (const [p, d] of Object.entries(files)) m.writeFile(p, d);
  return m;
}

describe("ErrorFs", () => {
  it("fails the chosen method with the chosen errno, and passes everything else through", async () => {
    const fs = new ErrorFs(memWith({ "a.txt": "abc" }), { methods: ["readRange"], code: "EACCES" });
    const err = await fs.readRange("a.txt", 0, 3).catch((e: unknown) => e as Error & { code: string; syscall: string; path: string });
    expect(err).toMatchObject({ code: "EACCES", errno: -13, syscall: "readRange", path: "a.txt" });
    expect((err as Error).message).toBe("EACCES: permission denied, readRange 'a.txt'");
    expect((await fs.lstat("a.txt"))?.size).toBe(3);
    expect(await drain(fs.read("a.txt"))).toBe(3);
    expect(fs.failures).toBe(1);
    expect(fs.calls.map((c) => c.method)).toEqual(["readRange", "lstat", "read"]);
  });

  it("defaults to EIO on every method", async () => {
    const fs = new ErrorFs(new MemoryFs(), {});
    expect(await codeOf(fs.exists())).toBe("EIO");
    expect(await codeOf(fs.mkdir("d"))).toBe("EIO");
    expect(await codeOf(fs.lstat("x"))).toBe("EIO");
    expect(await codeOf(drain(fs.read("x")))).toBe("EIO");
  });

  it("matches paths by predicate; rename matches on either side", async () => {
    const mem = memWith({ "keep/a": "1", "secret/b": "2", c: "3" });
    const fs = new ErrorFs(mem, { path: (p) => p.startsWith("secret/"), code: "EACCES" });
    expect(await codeOf(fs.lstat("secret/b"))).toBe("EACCES");
    expect((await fs.lstat("keep/a"))?.kind).toBe("file");
    expect(await codeOf(fs.rename("c", "secret/c"))).toBe("EACCES");
    expect(await codeOf(fs.rename("secret/b", "d"))).toBe("EACCES");
    await fs.rename("c", "keep/c");
    expect((await mem.lstat("keep/c"))?.size).toBe(1);
  });

  it("lets `after` calls through, then fails `times` calls", async () => {
    const fs = new ErrorFs(new MemoryFs(), { methods: ["mkdir"], after: 2, times: 1, code: "ENOSPC" });
    expect(await codeOf(fs.mkdir("a"))).toBeUndefined();
    expect(await codeOf(fs.mkdir("b"))).toBeUndefined();
    expect(await codeOf(fs.mkdir("c"))).toBe("ENOSPC");
    expect(await codeOf(fs.mkdir("d"))).toBeUndefined();
    expect(fs.failures).toBe(1);
  });

  it("rules are checked in order; the first that fails wins", async () => {
    const fs = new ErrorFs(new MemoryFs(), [
      { methods: ["lstat"], path: (p) => p === "x", code: "EACCES" },
      { methods: ["lstat"], code: "EIO" },
    ]);
    expect(await codeOf(fs.lstat("x"))).toBe("EACCES");
    expect(await codeOf(fs.lstat("y"))).toBe("EIO");
  });

  it("afterBytes fails a read stream midway", async () => {
    const mem = memWith({ big: "x".repeat(200_000) });
    const fs = new ErrorFs(mem, { methods: ["read"], afterBytes: 100_000 });
    let got = 0;
    const err = await (async () => {
      for await (const p of fs.read("big")) got += p.length;
    })().catch((e: unknown) => errorCode(e));
    expect(err).toBe("EIO");
    expect(got).toBe(100_000);
  });

  it("a disk filling up during writeTemp leaves no temp file (MemoryFs and RealFs)", async () => {
    const mem = new MemoryFs();
    await mem.mkdir("d");
    const efs = new ErrorFs(mem, { methods: ["writeTemp"], afterBytes: 5, code: "ENOSPC" });
    expect(await codeOf(efs.writeTemp("d", [Buffer.from("abc"), Buffer.from("defgh")]))).toBe("ENOSPC");
    expect(await mem.readdir("d")).toEqual([]);

    const dir = await mkdtemp(join(tmpdir(), "xshare-errfs-"));
    try {
      const real = new ErrorFs(new RealFs(dir), { methods: ["writeTemp"], afterBytes: 5, code: "ENOSPC" });
      expect(await codeOf(real.writeTemp("", [Buffer.from("abc"), Buffer.from("defgh")]))).toBe("ENOSPC");
      expect(await readdir(dir)).toEqual([]);
      const ok = await real.writeTemp("", [Buffer.from("abcde")]);
      expect(await readdir(dir)).toEqual([ok]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a writeTemp failing at the call writes nothing", async () => {
    const mem = new MemoryFs();
    const fs = new ErrorFs(mem, { methods: ["writeTemp"], code: "ENOSPC", times: 1 });
    expect(await codeOf(fs.writeTemp("", [Buffer.from("x")]))).toBe("ENOSPC");
    expect(await mem.readdir("")).toEqual([]);
    const p = await fs.writeTemp("", [Buffer.from("x")]);
    expect(await mem.readdir("")).toEqual([p]);
  });
});
