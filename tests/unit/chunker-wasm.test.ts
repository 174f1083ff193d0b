/**
 * The chunker's WebAssembly hot loop (protocol/gear.wat): the embedded bytes are the .wat's, and
 * the chunker built on it gives exactly the chunks of the spec's byte-at-a-time loop
 * (protocol/chunker.ts header) for any valid options, content and push() split, in particular
 * where chunks, min-size skips and pushes straddle the edges of the scratch window that the
 * caller's bytes are copied through.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import wabtInit from "wabt";
import { describe, expect, it } from "vitest";
import { Chunker, DEFAULT_CHUNKING, chunkBuffer, cutPoints, type Chunk, type ChunkerOptions } from "../../protocol/chunker.ts";
import { GEAR_WASM } from "../../protocol/gear-wasm.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const gearExports = new WebAssembly.Instance(new WebAssembly.Module(GEAR_WASM)).exports;
/** Size of the scratch window: the chunker copies and scans the caller's bytes in runs of this. */
const WINDOW = (gearExports["scratchSize"] as WebAssembly.Global).value as number;

/** The spec's loop, transcribed literally: GEAR from SHA-256, arithmetic on plain numbers. */
const GEAR = Array.from({ length: 256 }, (_, i) => createHash("sha256").update(Uint8Array.of(i)).digest().readUInt32BE(0));
function specChunks(data: Uint8Array, o: ChunkerOptions): Chunk[] {
  const bits = Math.log2(o.avgSize);
  const maskS = 2 ** 32 - 2 ** (32 - (bits + 2)); // the top bits + 2 bits set
  const maskL = 2 ** 32 - 2 ** (32 - (bits - 2));
  const chunks: Chunk[] = [];
  let s = 0;
  while (s < data.length) {
    const n = data.length - s;
    let len = Math.min(n, o.maxSize);
    let h = 0;
    for (let L = o.minSize; L < Math.min(n, o.maxSize); L++) {
      h = (2 * h + GEAR[data[s + L - 1]!]!) % 2 ** 32;
      if ((h & (L < o.avgSize ? maskS : maskL)) === 0) {
        len = L;
        break;
      }
    }
    const hash = createHash("sha256").update(data.subarray(s, s + len)).digest("hex");
    chunks.push({ offset: s, size: len, hash } as Chunk);
    s += len;
  }
  return chunks;
}

/** Deterministic bytes (xorshift32): large inputs without fast-check generating every byte. */
function pseudoRandom(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Feeds `data` to a Chunker in pieces of the given sizes (cycled), then finishes. */
function chunkInPieces(data: Uint8Array, sizes: readonly number[], o: ChunkerOptions): Chunk[] {
  const c = new Chunker(o);
  const out: Chunk[] = [];
  for (let off = 0, k = 0; off < data.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(...c.push(data.subarray(off, off + n)));
    off += n;
  }
  out.push(...c.finish());
  return out;
}

const ends = (cs: Chunk[]): number[] => cs.map((c) => c.offset + c.size);

/** Valid options, from the smallest (avgSize 16, minSize 1) to chunks larger than the window. */
const options: fc.Arbitrary<ChunkerOptions> = fc
  .record({
    bits: fc.oneof(fc.integer({ min: 4, max: 8 }), fc.integer({ min: 4, max: 20 })),
    minFrac: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })),
    maxFrac: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
    maxMul: fc.integer({ min: 1, max: 8 }),
  })
  .map(({ bits, minFrac, maxFrac, maxMul }): ChunkerOptions => {
    const avgSize = 2 ** bits;
    const minSize = Math.min(avgSize - 1, Math.max(1, Math.floor(avgSize * minFrac)));
    const maxSize = avgSize + 1 + Math.floor((avgSize * maxMul - 1) * maxFrac);
    return { minSize, avgSize, maxSize };
  });

/** Content: random, runs of zeros (no boundaries: maxSize cuts), or a short repeated pattern. */
const content: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc
    .record({
      length: fc.oneof(
        fc.integer({ min: 0, max: 2 * WINDOW }),
        fc.integer({ min: -300, max: 300 }).map((d) => WINDOW + d),
        fc.integer({ min: -300, max: 300 }).map((d) => 2 * WINDOW + d),
      ),
      seed: fc.integer(),
      kind: fc.constantFrom("random", "zeros", "pattern"),
    })
    .map(({ length, seed, kind }) => {
      const data = pseudoRandom(Math.max(0, length), seed);
      if (kind === "zeros") data.fill(0, Math.floor(length / 5), Math.floor((4 * length) / 5));
      if (kind === "pattern") for (let i = 8; i < data.length; i++) data[i] = data[i % 8]!;
      return data;
    }),
);

/** Push sizes: tiny, around the window, or whole. */
const splits = fc.array(
  fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 100 * KiB }), fc.integer({ min: WINDOW - 2, max: WINDOW + 2 })),
  { minLength: 1, maxLength: 20 },
);

describe("the WebAssembly module", () => {
  it("is protocol/gear.wat compiled (run node scripts/build-wasm.mjs after editing the .wat)", async () => {
    const wabt = await wabtInit();
    const mod = wabt.parseWat("gear.wat", readFileSync(new URL("../../protocol/gear.wat", import.meta.url), "utf8"));
    try {
      mod.validate();
      expect(Buffer.from(mod.toBinary({}).buffer).equals(Buffer.from(GEAR_WASM))).toBe(true);
    } finally {
      mod.destroy();
    }
  });

  it("has a fixed memory that cannot grow (views of it never detach)", () => {
    const memory = gearExports["memory"] as WebAssembly.Memory;
    expect(() => memory.grow(1)).toThrow(RangeError);
    expect((gearExports["scratch"] as WebAssembly.Global).value + WINDOW).toBeLessThanOrEqual(memory.buffer.byteLength);
  });
});

describe("the chunker on the WebAssembly loop equals the spec's loop", () => {
  it("for any valid options, content and push() split", () => {
    fc.assert(
      fc.property(options, content, splits, (o, data, sizes) => {
        const spec = specChunks(data, o);
        expect(chunkBuffer(data, o)).toEqual(spec);
        expect(chunkInPieces(data, sizes, o)).toEqual(spec);
        expect(cutPoints(data, o)).toEqual(ends(spec));
      }),
      { numRuns: 100 },
    );
  });

  it("on large inputs whose chunks and min-size skips cross window edges", () => {
    const data = pseudoRandom(4 * WINDOW + 12_345, 7);
    const cases: ChunkerOptions[] = [
      DEFAULT_CHUNKING,
      { minSize: 1, avgSize: 16, maxSize: 17 },
      { minSize: 1, avgSize: 2 * WINDOW, maxSize: 8 * WINDOW }, // one hash run over several windows
      { minSize: WINDOW + 5, avgSize: 2 * WINDOW, maxSize: 3 * WINDOW }, // skips past a whole window
      { minSize: WINDOW - 1, avgSize: WINDOW, maxSize: WINDOW + 1 },
    ];
    for (const o of cases) {
      const spec = specChunks(data, o);
      expect(chunkBuffer(data, o), JSON.stringify(o)).toEqual(spec);
      expect(cutPoints(data, o)).toEqual(ends(spec));
      for (const sizes of [[WINDOW], [WINDOW - 1], [WINDOW + 1], [3 * WINDOW + 7, 1], [65_537]]) {
        expect(chunkInPieces(data, sizes, o), `${JSON.stringify(o)} in pieces of ${sizes.join(", ")}`).toEqual(spec);
      }
    }
    const ones = chunkInPieces(data.subarray(0, WINDOW + 100), [1], DEFAULT_CHUNKING);
    expect(ones).toEqual(specChunks(data.subarray(0, WINDOW + 100), DEFAULT_CHUNKING));
    expect(cutPoints(pseudoRandom(8 * MiB, 99))).toEqual(ends(specChunks(pseudoRandom(8 * MiB, 99), DEFAULT_CHUNKING)));
  });

  it("when chunkers interleave and callers rewrite one buffer between calls", () => {
    const o: ChunkerOptions = { minSize: 64, avgSize: 1024, maxSize: 4096 };
    const buf = new Uint8Array(1000); // the same object every push, new bytes each time
    const a = pseudoRandom(270 * buf.length, 1); // longer than a window
    const b = pseudoRandom(270 * buf.length, 2);
    const ca = new Chunker(o);
    const cb = new Chunker(o);
    const outA: Chunk[] = [];
    const outB: Chunk[] = [];
    for (let off = 0; off < a.length; off += buf.length) {
      buf.set(a.subarray(off, off + buf.length));
      outA.push(...ca.push(buf));
      expect(cutPoints(b.subarray(0, 5000), o)).toEqual(ends(specChunks(b.subarray(0, 5000), o)));
      buf.set(b.subarray(off, off + buf.length));
      outB.push(...cb.push(buf));
    }
    outA.push(...ca.finish());
    outB.push(...cb.finish());
    expect(outA).toEqual(specChunks(a, o));
    expect(outB).toEqual(specChunks(b, o));

    for (const size of [3000, 3 * WINDOW]) {
      const data = pseudoRandom(size, size); // one buffer object, chunked, rewritten, chunked again
      for (let round = 0; round < 3; round++) {
        const spec = specChunks(data, o);
        expect(chunkBuffer(data, o)).toEqual(spec);
        expect(cutPoints(data, o)).toEqual(ends(spec));
        data.reverse();
      }
    }
  });
});
