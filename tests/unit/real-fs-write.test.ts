/**
 * RealFs.writeTemp beyond the Fs contract (tests/unit/client-fs.test.ts): the write-behind
 * fdatasync, a failing one failing the write, pieces written before the next is asked for, and
 * the O_DIRECT writes of a large file's bulk (client/fs/direct-write.ts), refused or not.
 */
import { createHash } from "node:crypto";
import { write } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ALIGN, DIRECT_BUFFER, DirectWriter } from "../../client/fs/direct-write.ts";
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

/** Records whether writeTemp went on with O_DIRECT, and can make it refuse (see direct-write.ts). */
class DirectFs extends RealFs {
  opened = 0;
  refuse: "open" | "write" | undefined;
  directWrites = 0;

  protected override openDirect(abs: string, fd: number, pos: number): DirectWriter | undefined {
    if (this.refuse === "open") return undefined;
    this.opened++;
    return DirectWriter.open(abs, fd, pos, (dfd, buf, off, len, at, cb) => {
      this.directWrites++;
      if (this.refuse === "write") cb(Object.assign(new Error("EINVAL: invalid argument, write"), { code: "EINVAL" }), 0);
      else write(dfd, buf, off, len, at, cb);
    });
  }
}

/** Pieces of the given sizes (cycled) up to `total` bytes of one deterministic stream. */
function* stream(total: number, sizes: number[]): Generator<Uint8Array> {
  const all = Buffer.alloc(total);
  for (let i = 0; i < total; i++) all[i] = (i * 7 + (i >> 12)) & 0xff;
  for (let at = 0, k = 0; at < total; k++) {
    const n = Math.min(sizes[k % sizes.length]!, total - at);
    yield Buffer.from(all.subarray(at, at + n)); // a copy: writeTemp may not keep what it is given
    at += n;
  }
}

const streamHash = (total: number): string => createHash("sha256").update(Buffer.concat([...stream(total, [total || 1])])).digest("hex");

describe("RealFs.writeTemp with O_DIRECT past directAfter", () => {
  const after = 10_000; // rounded up to 12288, an ALIGN multiple
  // At the switch, one byte past it, a block past, past both staging buffers and a tail.
  const sizes = [12_288, 12_289, 12_288 + ALIGN, 12_288 + 2 * DIRECT_BUFFER + 1, 12_288 + 3 * DIRECT_BUFFER - 5];

  it.each(sizes)("writes %i bytes exactly, the rest of the file through O_DIRECT", async (total) => {
    const fs = new DirectFs(dir, { directAfter: after });
    const rel = await fs.writeTemp("", stream(total, [777, 1024 * 1024 + 3, 5000]));
    const bytes = await readFile(join(dir, rel));
    expect(bytes.length).toBe(total);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(streamHash(total));
    expect(fs.opened).toBe(total > 12_288 ? 1 : 0);
    if (total > 12_288 + DIRECT_BUFFER) expect(fs.directWrites).toBeGreaterThanOrEqual(2);
  });

  it.each(["open", "write"] as const)("a filesystem that refuses O_DIRECT at %s gets the same bytes through the page cache", async (refuse) => {
    const fs = new DirectFs(dir, { directAfter: after });
    fs.refuse = refuse;
    const total = 12_288 + 2 * DIRECT_BUFFER + 99;
    const rel = await fs.writeTemp("", stream(total, [64 * 1024 + 1]));
    const bytes = await readFile(join(dir, rel));
    expect(bytes.length).toBe(total);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(streamHash(total));
    // Refused once, then never asked again for this file.
    if (refuse === "write") expect(fs.directWrites).toBe(1);
  });

  it("a stream that fails while direct writes are going leaves no temp file", async () => {
    const fs = new DirectFs(dir, { directAfter: after });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* stream(12_288 + DIRECT_BUFFER + 5, [DIRECT_BUFFER / 2]);
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }
    const err = await fs.writeTemp("", failing()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errorCode(err)).toBe("ENOSPC");
    expect(fs.opened).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });
});
