/**
 * Content-defined chunking (XEP-draft.md § "Chunking"): the implementation against a literal,
 * byte-at-a-time transcription of the spec, golden vectors that pin the wire contract, the
 * streaming/split invariance, and the "a small edit moves little data" property.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Chunker,
  DEFAULT_CHUNKING,
  chunkBuffer,
  cutPoints,
  gearTable,
  type Chunk,
  type ChunkerOptions,
} from "../../protocol/chunker.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL: ChunkerOptions = { minSize: 64, avgSize: 256, maxSize: 1024 };

/** Deterministic bytes (xorshift32, fixed seed): the same buffer on every run and platform. */
function pseudoRandom(size: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, size);
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** The spec's loop, one byte at a time, with its own gear table: the oracle for everything else. */
const REF_GEAR = Array.from({ length: 256 }, (_, i) => createHash("sha256").update(Uint8Array.of(i)).digest().readUInt32BE(0));
function referenceCutPoints(data: Uint8Array, o: ChunkerOptions): number[] {
  const bits = Math.log2(o.avgSize);
  const top = (k: number): number => (0xffffffff << (32 - k)) >>> 0;
  const [maskS, maskL] = [top(bits + 2), top(bits - 2)];
  const out: number[] = [];
  let s = 0;
  while (s < data.length) {
    const n = data.length - s;
    const limit = Math.min(n, o.maxSize);
    let len = limit;
    let h = 0;
    for (let L = o.minSize; L < limit; L++) {
      h = (h * 2 + REF_GEAR[data[s + L - 1]!]!) % 2 ** 32;
      if ((h & (L < o.avgSize ? maskS : maskL)) === 0) {
        len = L;
        break;
      }
    }
    s += len;
    out.push(s);
  }
  return out;
}

/** Feeds `data` to one Chunker in pieces of the given sizes (cycled), then finishes. */
function chunkInPieces(data: Uint8Array, sizes: number[], opts?: ChunkerOptions): Chunk[] {
  const c = new Chunker(opts);
  const out: Chunk[] = [];
  let off = 0;
  for (let k = 0; off < data.length; k++) {
    const n = sizes.length ? sizes[k % sizes.length]! : data.length;
    out.push(...c.push(data.subarray(off, off + n)));
    off += n;
  }
  out.push(...c.finish());
  return out;
}

function expectWellFormed(data: Uint8Array, chunks: Chunk[], o: ChunkerOptions): void {
  let off = 0;
  chunks.forEach((c, i) => {
    expect(c.offset).toBe(off);
    expect(c.size).toBeLessThanOrEqual(o.maxSize);
    if (i < chunks.length - 1) expect(c.size).toBeGreaterThanOrEqual(o.minSize);
    expect(c.hash).toBe(sha256(data.subarray(c.offset, c.offset + c.size)));
    off += c.size;
  });
  expect(off).toBe(data.length);
}

const big = pseudoRandom(8 * MiB, 0x5eed);
const bigChunks = chunkBuffer(big);

describe("wire contract (golden vectors)", () => {
  it("derives the gear table from SHA-256 of each byte value", () => {
    const g = gearTable();
    expect(Array.from(g)).toEqual(REF_GEAR);
    expect(g[0]).toBe(0x6e340b9c);
    expect(g[255]).toBe(0xa8100ae6);
    const be = Buffer.alloc(1024);
    g.forEach((v, i) => be.writeUInt32BE(v, i * 4));
    expect(sha256(be)).toBe("b7d63cb2cbfcf07328d2ee72ebe1685a984bd77f76f4e83b8785f069601cecb4");
  });

  it("has the protocol's default parameters", () => {
    expect(DEFAULT_CHUNKING).toEqual({ minSize: 8 * KiB, avgSize: 32 * KiB, maxSize: 128 * KiB });
  });

  it("chunks the spec's test stream (SHA-256 of big-endian counters 0..32767) as specified", () => {
    const data = Buffer.alloc(MiB);
    for (let k = 0; k < 32768; k++) {
      const ctr = Buffer.alloc(4);
      ctr.writeUInt32BE(k);
      createHash("sha256").update(ctr).digest().copy(data, k * 32);
    }
    const ends = [
      34094, 74646, 116390, 149659, 184857, 225951, 248576, 297377, 331782, 365846, 402912, 437479, 480773, 533513, 581389, 614606, 649078, 666151, 724216, 758931, 800952, 835306, 879365,
      913061, 953981, 998427, 1048576,
    ];
    expect(referenceCutPoints(data, DEFAULT_CHUNKING)).toEqual(ends);
    const chunks = chunkBuffer(data);
    expect(chunks.map((c) => c.offset + c.size)).toEqual(ends);
    expect(chunks[0]!.hash).toBe("34cb507986db90dee2e2d3f825a64f4472e3bd0a4ae3b2ef46b1d4b0420efe52");
    expect(chunks.at(-1)!.hash).toBe("0ffd97bbe1e6d97be42de16781ca6b4d89a13ab9acd1ddbb0797588d8236cf78");
  });

  it("cuts content without boundaries (zeros) at maxSize, into identical chunks", () => {
    const chunks = chunkBuffer(new Uint8Array(MiB));
    expect(chunks.map((c) => c.size)).toEqual(Array(8).fill(128 * KiB));
    expect(new Set(chunks.map((c) => c.hash))).toEqual(new Set(["fa43239bcee7b97ca62f007cc68487560a39e19f74f3dde7486db3f98df8e471"]));
  });
});

describe("chunk boundaries", () => {
  it("gives no chunk for empty input, one chunk for input up to minSize", () => {
    expect(chunkBuffer(new Uint8Array(0))).toEqual([]);
    expect(cutPoints(new Uint8Array(0))).toEqual([]);
    expect(new Chunker().finish()).toEqual([]);
    for (const n of [1, 1000, DEFAULT_CHUNKING.minSize]) {
      const data = pseudoRandom(n, n);
      expect(chunkBuffer(data)).toEqual([{ offset: 0, size: n, hash: sha256(data) }]);
    }
  });

  it("covers the input contiguously within min/max, with SHA-256 of each chunk", () => {
    expectWellFormed(big, bigChunks, DEFAULT_CHUNKING);
    expect(cutPoints(big)).toEqual(bigChunks.map((c) => c.offset + c.size));
  });

  it("matches the spec's byte-at-a-time loop for any options and content", () => {
    const opts = fc
      .record({ bits: fc.integer({ min: 4, max: 9 }), minFrac: fc.double({ min: 0, max: 0.99, noNaN: true }), maxMul: fc.integer({ min: 2, max: 8 }) })
      .map(({ bits, minFrac, maxMul }): ChunkerOptions => {
        const avgSize = 2 ** bits;
        return { avgSize, minSize: Math.max(1, Math.floor(avgSize * minFrac)), maxSize: avgSize * maxMul + 1 };
      });
    fc.assert(
      fc.property(opts, fc.uint8Array({ maxLength: 20_000 }), fc.integer(), (o, data, seed) => {
        const noisy = data.length ? data : pseudoRandom(5000, seed);
        expect(cutPoints(noisy, o)).toEqual(referenceCutPoints(noisy, o));
      }),
      { numRuns: 150 },
    );
  });

  it("averages within ±30 % of avgSize on random data", () => {
    const data = pseudoRandom(32 * MiB, 42);
    const ends = cutPoints(data);
    const mean = data.length / ends.length;
    expect(mean).toBeGreaterThan(0.7 * DEFAULT_CHUNKING.avgSize);
    expect(mean).toBeLessThan(1.3 * DEFAULT_CHUNKING.avgSize);
  });
});

describe("streaming", () => {
  it("gives the same chunks however the input is split into push() calls", () => {
    const piece = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 300 * KiB }));
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 2 * MiB }), (sizes, len) => {
        const data = big.subarray(0, len);
        expect(chunkInPieces(data, sizes)).toEqual(chunkBuffer(data));
      }),
      { numRuns: 40 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8000 }), fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1 }), (data, sizes) => {
        const whole = chunkBuffer(data, SMALL);
        expectWellFormed(data, whole, SMALL);
        expect(chunkInPieces(data, sizes, SMALL)).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it("does not retain the caller's buffers, accepts Buffers, and is reusable after finish()", () => {
    const data = big.subarray(0, MiB);
    const c = new Chunker();
    const out: Chunk[] = [];
    const scratch = new Uint8Array(10_000);
    for (let off = 0; off < data.length; off += scratch.length) {
      const n = Math.min(scratch.length, data.length - off);
      scratch.set(data.subarray(off, off + n));
      out.push(...c.push(scratch.subarray(0, n)));
      scratch.fill(0xff); // the chunker must have consumed these bytes already
    }
    out.push(...c.finish());
    expect(out).toEqual(chunkBuffer(data));
    expect(chunkInPieces(Buffer.from(data), [77_777])).toEqual(out);
    expect(chunkInPieces(data, []), "offsets restart at 0 on a new stream").toEqual(out);
  });
});

describe("a small edit moves little data", () => {
  const hashes = (cs: Chunk[]): string[] => cs.map((c) => c.hash);

  it("inserting one byte near the start changes only the chunks around it", () => {
    const edited = new Uint8Array(big.length + 1);
    edited.set(big.subarray(0, 1000));
    edited[1000] = 0x42;
    edited.set(big.subarray(1000), 1001);
    const after = chunkBuffer(edited);
    expectWellFormed(edited, after, DEFAULT_CHUNKING);
    const old = new Set(hashes(bigChunks));
    const changed = after.filter((c) => !old.has(c.hash));
    expect(changed.length).toBeLessThanOrEqual(2);
    expect(changed).toEqual(after.slice(0, changed.length)); // only the leading ones
    const unchanged = after.length - changed.length;
    expect(hashes(after).slice(-unchanged)).toEqual(hashes(bigChunks).slice(-unchanged));
    expect(bigChunks.length - unchanged).toBeLessThanOrEqual(2);
  });

  it("overwriting one byte in the middle adds at most two chunks", () => {
    for (const at of [big.length / 2, big.length / 2 + 12_345, bigChunks[60]!.offset - 1]) {
      const edited = big.slice();
      edited[at] = edited[at]! ^ 0x01;
      const after = chunkBuffer(edited);
      const old = new Set(hashes(bigChunks));
      const fresh = new Set(hashes(after));
      expect(after.filter((c) => !old.has(c.hash)).length).toBeLessThanOrEqual(2);
      // An edit in a chunk's last bytes moves its cut point: three old chunks can become two.
      expect(bigChunks.filter((c) => !fresh.has(c.hash)).length).toBeLessThanOrEqual(3);
      expect(after.reduce((n, c) => n + (old.has(c.hash) ? 0 : c.size), 0)).toBeLessThanOrEqual(2 * DEFAULT_CHUNKING.maxSize);
    }
  });
});

describe("options", () => {
  it.each([
    [{ minSize: 16 * KiB, avgSize: 60_000, maxSize: 256 * KiB }, "avgSize"],
    [{ minSize: 16 * KiB, avgSize: 8, maxSize: 256 * KiB }, "avgSize"],
    [{ minSize: 16 * KiB, avgSize: 2 ** 29, maxSize: 2 ** 30 }, "avgSize"],
    [{ minSize: 16 * KiB, avgSize: Number.NaN, maxSize: 256 * KiB }, "avgSize"],
    [{ minSize: 64 * KiB, avgSize: 64 * KiB, maxSize: 256 * KiB }, "minSize"],
    [{ minSize: 0, avgSize: 64 * KiB, maxSize: 256 * KiB }, "minSize"],
    [{ minSize: 1.5, avgSize: 64 * KiB, maxSize: 256 * KiB }, "minSize"],
    [{ minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 64 * KiB }, "maxSize"],
    [{ minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 2 ** 31 }, "maxSize"],
    [{ minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: Number.POSITIVE_INFINITY }, "maxSize"],
  ])("rejects %o naming %s", (o, name) => {
    expect(() => new Chunker(o)).toThrow(RangeError);
    expect(() => chunkBuffer(new Uint8Array(1), o)).toThrow(new RegExp(`option ${name} `));
    expect(() => cutPoints(new Uint8Array(1), o)).toThrow(RangeError);
  });
});
