/**
 * writeVersion (client/engine/disk.ts) for files of many windows: chunks found on disk, in the
 * cache and downloaded, assembled window by window in reused slabs, downloads AHEAD windows
 * ahead of the write; memory bounded; failures leave nothing behind and nothing running.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AHEAD, Slabs, WINDOW, writeVersion, type ChunkSupply, type ChunkTarget, type LocalChunk } from "../../client/engine/disk.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import { contentId, type ChunkRef, type FileVersion } from "../../protocol/file.ts";
import type { ChunkHash, ReplicaId } from "../../protocol/ids.ts";
import { EMPTY } from "../../protocol/vv.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex") as ChunkHash;
const KiB = 1024;

/** A chunk of `size` bytes derived from `seed`. */
function chunk(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return b;
}

function version(path: string, chunks: readonly ChunkRef[]): FileVersion {
  return {
    path,
    kind: "file",
    vector: EMPTY,
    hash: contentId(chunks),
    size: chunks.reduce((n, c) => n + c.size, 0),
    mtimeMs: 1_000_000,
    mode: 0o644,
    deleted: false,
    replica: "r1" as ReplicaId,
    chunks,
  };
}

/** Slabs that count how many were ever allocated. */
class CountedSlabs extends Slabs {
  allocated = 0;
  readonly #mine = new Set<Buffer>();
  override take(size: number): Buffer {
    const b = super.take(size);
    if (!this.#mine.has(b)) {
      this.#mine.add(b);
      this.allocated++;
    }
    return b;
  }
}

interface Server {
  readonly bytes: Map<ChunkHash, Buffer>;
  calls: ChunkRef[][];
  inFlight: number;
  most: number;
  /** Use `place` when offered (as Remote.download does) or hand over buffers of its own. */
  usePlace: boolean;
  fail?: (chunks: readonly ChunkRef[]) => Error | "drop" | undefined;
}

function fetcher(server: Server): ChunkSupply["fetch"] {
  return async (chunks: readonly ChunkRef[], into: ChunkTarget) => {
    server.calls.push([...chunks]);
    server.inFlight++;
    server.most = Math.max(server.most, server.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 1 + (server.calls.length % 3)));
      const problem = server.fail?.(chunks);
      if (problem instanceof Error) throw problem;
      for (const [k, c] of chunks.entries()) {
        if (problem === "drop" && k === chunks.length - 1) break;
        const src = server.bytes.get(c.hash)!;
        const dest = server.usePlace ? into.place?.(c.hash, c.size) : undefined;
        if (dest) {
          dest.set(src);
          into.put(c.hash, dest);
        } else into.put(c.hash, Buffer.from(src));
      }
    } finally {
      server.inFlight--;
    }
  };
}

/** A file of 4 MiB + 64 KiB windows of mixed chunks, some of them repeated, some local or cached. */
function scenario() {
  const datas: Buffer[] = [];
  for (let i = 0; i < 90; i++) datas.push(chunk(i % 70, 100 * KiB + (i % 70) * 3 * KiB)); // chunks 70..89 repeat 0..19
  const refs = datas.map((d) => ({ hash: sha(d), size: d.length }));
  const fs = new MemoryFs({ root: "t:/" });
  // Chunks 5..9 are in an old file on disk, chunk 30 in the cache.
  const old = Buffer.concat(datas.slice(5, 10));
  fs.writeFile("old.bin", old);
  const local = new Map<ChunkHash, LocalChunk>();
  let off = 0;
  for (let i = 5; i < 10; i++) {
    local.set(refs[i]!.hash, { path: "old.bin", offset: off });
    off += datas[i]!.length;
  }
  const cache = new Map<ChunkHash, Uint8Array>([[refs[30]!.hash, Buffer.from(datas[30]!)]]);
  const server: Server = { bytes: new Map(refs.map((r, i) => [r.hash, datas[i]!])), calls: [], inFlight: 0, most: 0, usePlace: true };
  const slabs = new CountedSlabs();
  const supply: ChunkSupply = { fs, local, cache, fetch: fetcher(server), slabs };
  return { datas, refs, fs, supply, server, slabs, want: Buffer.concat(datas) };
}

describe("writeVersion of a large file", () => {
  for (const usePlace of [true, false]) {
    it(`assembles local, cached and downloaded chunks in order (download ${usePlace ? "into its place" : "into its own buffers"})`, async () => {
      const { fs, supply, server, slabs, want, refs } = scenario();
      server.usePlace = usePlace;
      expect(want.length).toBeGreaterThan(3 * WINDOW);
      const v = version("big.bin", refs);
      await writeVersion(supply, v, "big.bin", undefined);
      const got = Buffer.from(fs.readFile("big.bin"));
      let first = 0;
      while (first < want.length && got[first] === want[first]) first++;
      expect({ len: got.length, first }).toEqual({ len: want.length, first: want.length });
      // Chunks on disk or in the cache are not downloaded; a window asks for each chunk once.
      const asked = server.calls.flat().map((c) => c.hash);
      for (const i of [5, 6, 7, 8, 9, 30]) expect(asked).not.toContain(refs[i]!.hash);
      for (const call of server.calls) expect(new Set(call.map((c) => c.hash)).size).toBe(call.length);
      // Downloads run ahead of the write, but never more than AHEAD windows; slabs are reused.
      expect(server.most).toBeGreaterThan(1);
      expect(server.most).toBeLessThanOrEqual(AHEAD);
      expect(slabs.allocated).toBeLessThanOrEqual(AHEAD + 1);
      expect(await fs.readdir("")).toEqual(expect.arrayContaining(["big.bin", "old.bin"]));
      expect((await fs.readdir("")).length).toBe(2);
    });
  }

  it("reads chunks lying back to back on disk together, and downloads one that changed since the scan", async () => {
    const { fs, supply, server, refs, datas, want } = scenario();
    const reads: number[] = [];
    const readRange = fs.readRange.bind(fs);
    fs.readRange = async (path, offset, length) => {
      reads.push(length);
      return readRange(path, offset, length);
    };
    // Chunk 7 of old.bin is overwritten after the scan.
    const old = Buffer.from(fs.readFile("old.bin"));
    const at7 = datas.slice(5, 7).reduce((n, d) => n + d.length, 0);
    old[at7 + 10]! ^= 0xff;
    fs.writeFile("old.bin", old);
    await writeVersion(supply, version("big.bin", refs), "big.bin", undefined);
    expect(Buffer.from(fs.readFile("big.bin")).equals(want)).toBe(true);
    // Chunks 5–9 appear twice in the file (as 75–79): one read each time.
    const run = datas.slice(5, 10).reduce((n, d) => n + d.length, 0);
    expect(reads).toEqual([run, run]);
    const asked = server.calls.flat().map((c) => c.hash);
    expect(asked).toContain(refs[7]!.hash);
    for (const i of [5, 6, 8, 9]) expect(asked).not.toContain(refs[i]!.hash);
  });

  it("a file all on disk is written in large pieces", async () => {
    const { fs, supply, server, refs, datas } = scenario();
    const src = Buffer.concat(datas.slice(0, 60));
    fs.writeFile("src.bin", src);
    const local = supply.local as Map<ChunkHash, { path: string; offset: number }>;
    let off = 0;
    for (const r of refs.slice(0, 60)) {
      if (!local.has(r.hash)) local.set(r.hash, { path: "src.bin", offset: off });
      off += r.size;
    }
    const sizes: number[] = [];
    const writeTemp = fs.writeTemp.bind(fs);
    fs.writeTemp = async (dir, data) => {
      async function* spy() {
        for await (const p of data) {
          sizes.push(p.length);
          yield p;
        }
      }
      return writeTemp(dir, spy());
    };
    await writeVersion(supply, version("copy.bin", refs.slice(0, 60)), "copy.bin", undefined);
    expect(Buffer.from(fs.readFile("copy.bin")).equals(src)).toBe(true);
    expect(server.calls).toEqual([]);
    // One piece per window except where a chunk came from elsewhere (old.bin, the cache).
    expect(sizes.length).toBeLessThan(12);
  });

  it("a second file reuses the slabs of the first", async () => {
    const { supply, slabs, refs } = scenario();
    await writeVersion(supply, version("a.bin", refs), "a.bin", undefined);
    const after = slabs.allocated;
    await writeVersion(supply, version("b.bin", refs.slice(0, 40)), "b.bin", undefined);
    expect(slabs.allocated).toBe(after);
  });

  for (const problem of ["error", "drop"] as const) {
    it(`a download that ${problem === "error" ? "fails" : "leaves a chunk out"} fails the write: no temp file, no download left running`, async () => {
      const { fs, supply, server, refs } = scenario();
      let n = 0;
      server.fail = () => (++n === 3 ? (problem === "error" ? new Error("network down") : "drop") : undefined);
      const err = await writeVersion(supply, version("big.bin", refs), "big.bin", undefined).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(problem === "error" ? /network down/ : /not downloaded/);
      expect(server.inFlight).toBe(0);
      expect((await fs.readdir("")).sort()).toEqual(["old.bin"]);
    });
  }
});
