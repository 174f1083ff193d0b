/**
 * RealFs.writeTemp beyond the Fs contract (tests/unit/client-fs.test.ts): the write-behind
 * fdatasync, a failing one failing the write, pieces written before the next is asked for.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RealFs } from "../../client/fs/real.ts";
import { errorCode, fsError } from "../../client/fs/types.ts";

/** A RealFs whose temp files count (or fail) their fdatasyncs. */
class WatchedFs extends RealFs {
  datasyncs = 0;
  syncs = 0;
  failDatasync: number | undefined;

  protected override async datasync(fd: number, abs: string): Promise<void> {
    this.datasyncs++;
    if (this.failDatasync !== undefined && this.datasyncs >= this.failDatasync) {
      await new Promise((r) => setTimeout(r, 5));
      throw fsError("EIO", "fdatasync", abs);
    }
    return super.datasync(fd, abs);
  }

  protected override fsyncFile(fd: number, abs: string): Promise<void> {
    this.syncs++;
    return super.fsyncFile(fd, abs);
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "xshare-realfs-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * `n` pieces of `size` bytes, each a different pattern, from one buffer reused for every piece;
 * with `pauseMs`, a pause before every fourth (data arriving from the network).
 */
async function* reused(n: number, size: number, pauseMs = 0): AsyncGenerator<Uint8Array> {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < n; i++) {
    if (pauseMs && i % 4 === 0) await new Promise((r) => setTimeout(r, pauseMs));
    buf.fill(i % 251);
    yield buf;
  }
}

function expected(n: number, size: number): string {
  const h = createHash("sha256");
  for (let i = 0; i < n; i++) h.update(Buffer.alloc(size, i % 251));
  return h.digest("hex");
}

describe("RealFs.writeTemp", () => {
  it("starts an fdatasync in the background every syncEvery bytes, and fsyncs at the end", async () => {
    const fs = new WatchedFs(dir, { syncEvery: 64 * 1024 });
    const rel = await fs.writeTemp("", reused(40, 16 * 1024, 20)); // 640 KiB: up to 10 syncs, one at a time
    expect(fs.datasyncs).toBeGreaterThanOrEqual(2);
    expect(fs.datasyncs).toBeLessThanOrEqual(10);
    expect(fs.syncs).toBe(1);
    expect(createHash("sha256").update(await readFile(join(dir, rel))).digest("hex")).toBe(expected(40, 16 * 1024));
  });

  it("writes each piece before asking for the next (the producer may reuse its buffer)", async () => {
    const fs = new RealFs(dir);
    const rel = await fs.writeTemp("", reused(20, 3 * 1024 * 1024 + 17)); // pieces larger than one write
    expect(createHash("sha256").update(await readFile(join(dir, rel))).digest("hex")).toBe(expected(20, 3 * 1024 * 1024 + 17));
  });

  it("a failing background fdatasync fails the write and leaves no temp file", async () => {
    const fs = new WatchedFs(dir, { syncEvery: 64 * 1024 });
    fs.failDatasync = 1;
    const err = await fs.writeTemp("", reused(64, 16 * 1024, 2)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errorCode(err)).toBe("EIO");
    expect(await readdir(dir)).toEqual([]);
  });

  it("a failure of the last background fdatasync is not lost", async () => {
    const fs = new WatchedFs(dir, { syncEvery: 64 * 1024 });
    fs.failDatasync = 1;
    // The only fdatasync starts after the last piece; the write must still fail.
    const err = await fs.writeTemp("", reused(4, 16 * 1024)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errorCode(err)).toBe("EIO");
    expect(fs.syncs).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });
});
