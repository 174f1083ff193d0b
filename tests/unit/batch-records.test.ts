/**
 * Batch download records (protocol/batch.ts) decoded as they
 * arrive (RecordReader), at any piece boundaries.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordReader } from "../../protocol/batch.ts";
import { encodeBatch } from "../../protocol/batch.ts";
import type { ChunkRef } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex") as ChunkHash;

/** Cuts `body` at the given points (sorted, deduplicated, inside the body). */
function split(body: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, body.length]) {
    out.push(body.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Feeds pieces as a reused read buffer would: each copied into one buffer, overwritten after. */
function feedTransient(pieces: Buffer[], feed: (p: Uint8Array) => void): void {
  const scratch = Buffer.alloc(Math.max(1, ...pieces.map((p) => p.length)));
  for (const p of pieces) {
    p.copy(scratch);
    feed(scratch.subarray(0, p.length));
    scratch.fill(0xee);
  }
}

const chunksArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 });

describe("RecordReader", () => {
  it("decodes records split at any piece boundaries, in every mode", () => {
    fc.assert(
      fc.property(chunksArb, fc.array(fc.nat(), { maxLength: 20 }), fc.constantFrom("views", "transient", "placed"), (datas, cuts, mode) => {
        const records = datas.map((d) => ({ hash: sha(d), bytes: d }));
        const want: ChunkRef[] = records.map((r) => ({ hash: r.hash, size: r.bytes.length }));
        const body = Buffer.concat(encodeBatch(records));
        const places = new Map<ChunkHash, Uint8Array>();
        const place = mode === "placed" ? (h: ChunkHash, size: number) => places.get(h) ?? places.set(h, new Uint8Array(size)).get(h) : undefined;
        const reader = new RecordReader(want, place);
        const got: Array<{ hash: ChunkHash; bytes: Uint8Array }> = [];
        const pieces = split(body, cuts);
        if (mode === "transient") feedTransient(pieces, (p) => got.push(...reader.push(p, true)));
        else for (const p of pieces) got.push(...reader.push(p));
        reader.end();
        // Kept bytes stay right after the pieces are gone (transient) and sit in their places.
        expect(got.map((g) => g.hash)).toEqual(want.map((w) => w.hash));
        for (const [k, g] of got.entries()) {
          expect(Buffer.from(g.bytes).equals(Buffer.from(datas[k]!))).toBe(true);
          if (mode === "placed" && g.bytes.length) expect(g.bytes).toBe(places.get(g.hash));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("refuses damaged, reordered, resized, truncated and extra records", () => {
    const a = Buffer.from("first chunk");
    const b = Buffer.from("second chunk, longer");
    const want: ChunkRef[] = [
      { hash: sha(a), size: a.length },
      { hash: sha(b), size: b.length },
    ];
    const run = (body: Buffer) => {
      const r = new RecordReader(want);
      r.push(body);
      r.end();
    };
    const good = Buffer.concat(encodeBatch([{ hash: sha(a), bytes: a }, { hash: sha(b), bytes: b }]));
    expect(() => run(good)).not.toThrow();
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => run(flipped)).toThrow(/arrived damaged/);
    expect(() => run(Buffer.concat(encodeBatch([{ hash: sha(b), bytes: b }, { hash: sha(a), bytes: a }])))).toThrow(/arrived damaged/);
    const resized = Buffer.from(good);
    resized.writeUInt32BE(0xffffffff, 32); // a huge size: refused before anything is allocated
    expect(() => run(resized)).toThrow(/arrived damaged/);
    expect(() => run(good.subarray(0, good.length - 1))).toThrow(/arrived damaged or incomplete/);
    expect(() => run(good.subarray(0, 36 + a.length))).toThrow(/incomplete/);
    expect(() => run(Buffer.concat([good, Buffer.from([0])]))).toThrow(/more than was asked/);
    try {
      run(flipped);
    } catch (err) {
      expect((err as { code?: string }).code).toBe("hash-mismatch");
    }
  });
});
