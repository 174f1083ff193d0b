/**
 * The BlobStore contract (component/store/blobs.ts, XEP-draft.md § 5.9), run against every
 * implementation by tests/contract/blob-store.test.ts. An S3 adapter adds one line there.
 *
 * What every store must do: only verified bytes become visible; too-large stops pulling the
 * source at once; the same blob twice is harmless; resumable parts are accepted only at the
 * exact offset, kept per uploader, rolled back when refused for their size and kept when their
 * source fails midway; empty blobs work; an array of pieces is a source like a stream.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ShareError, type ErrorCode } from "../../protocol/errors.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import type { BlobStore } from "../../component/store/blobs.ts";

export const sha = (b: Uint8Array): ChunkHash => createHash("sha256").update(b).digest("hex") as ChunkHash;
export const EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" as ChunkHash;

/** A source yielding `pieces` in order; `pulls.n` counts how many were asked for. */
export function source(pieces: Uint8Array[], pulls = { n: 0 }): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (const p of pieces) {
      pulls.n++;
      yield p;
    }
  })();
}

/** A source that yields `pieces` and then fails, like a client that disconnects. */
export function failing(pieces: Uint8Array[]): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (const p of pieces) yield p;
    throw new Error("connection reset");
  })();
}

export async function readAll(s: Readable | undefined): Promise<Buffer | undefined> {
  if (!s) return undefined;
  const parts: Buffer[] = [];
  for await (const p of s) parts.push(Buffer.from(p as Uint8Array));
  return Buffer.concat(parts);
}

export function bytes(n: number, seed = 1): Buffer<ArrayBuffer> {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<ShareError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ShareError);
  expect((err as ShareError).code).toBe(code);
  return err as ShareError;
}

const MAX = 1 << 20;

export function runBlobStoreContract(name: string, open: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    const expectAbsent = async (h: ChunkHash) => {
      expect(await store.has(h)).toBe(false);
      expect(await store.size(h)).toBeUndefined();
      expect(await store.get(h)).toBeUndefined();
    };

    it("stores a blob streamed in pieces and gives it back", async () => {
      const data = bytes(10_000);
      const h = sha(data);
      await expectAbsent(h);
      const r = await store.put(h, source([data.subarray(0, 3), data.subarray(3, 9000), data.subarray(9000)]), { maxBytes: MAX });
      expect(r).toEqual({ complete: true, size: 10_000, created: true });
      expect(await store.has(h)).toBe(true);
      expect(await store.size(h)).toBe(10_000);
      expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
    });

    it("takes an array of pieces (stable or not) like a stream: verified, size-checked, stored once", async () => {
      const data = bytes(9000, 5);
      const h = sha(data);
      const pieces = [data.subarray(0, 100), new Uint8Array(data.subarray(100, 5000)), data.subarray(5000)];
      await expectCode(store.put(h, pieces, { maxBytes: 8999, stablePieces: true }), "too-large");
      await expectCode(store.put(h, [bytes(9000, 6)], { maxBytes: MAX, stablePieces: true }), "hash-mismatch");
      await expectAbsent(h);
      expect(await store.put(h, pieces, { maxBytes: MAX, stablePieces: true })).toEqual({ complete: true, size: 9000, created: true });
      expect(await store.put(h, pieces, { maxBytes: MAX })).toEqual({ complete: true, size: 9000, created: false });
      expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
      const other = bytes(100, 7);
      expect(await store.put(sha(other), [other], { maxBytes: MAX })).toMatchObject({ complete: true, created: true });
      expect((await readAll(await store.get(sha(other))))!.equals(other)).toBe(true);
    });

    it("serves byte ranges: first byte, middle, last byte, whole", async () => {
      const data = bytes(4096, 2);
      const h = sha(data);
      await store.put(h, source([data]), { maxBytes: MAX });
      const range = async (start: number, end: number) => readAll(await store.get(h, { start, end }));
      expect(await range(0, 0)).toEqual(data.subarray(0, 1));
      expect(await range(1000, 2999)).toEqual(data.subarray(1000, 3000));
      expect(await range(4095, 4095)).toEqual(data.subarray(4095));
      expect(await range(0, 4095)).toEqual(data);
      await expectCode(store.get(h, { start: 5, end: 4 }), "bad-request");
    });

    it("refuses content that does not match its hash, and nothing becomes visible", async () => {
      const data = bytes(5000);
      const h = sha(bytes(5000, 9));
      await expectCode(store.put(h, source([data]), { maxBytes: MAX }), "hash-mismatch");
      await expectAbsent(h);
    });

    it("refuses too-large content early, without pulling the whole source", async () => {
      const piece = bytes(8);
      const pieces = Array.from({ length: 100 }, () => piece);
      const pulls = { n: 0 };
      await expectCode(store.put(sha(Buffer.concat(pieces)), source(pieces, pulls), { maxBytes: 10 }), "too-large");
      expect(pulls.n).toBeLessThanOrEqual(2);
      await expectAbsent(sha(Buffer.concat(pieces)));
    });

    it("a source that fails midway leaves nothing visible", async () => {
      const data = bytes(3000);
      const h = sha(data);
      await expect(store.put(h, failing([data.subarray(0, 1000)]), { maxBytes: MAX })).rejects.toThrow("connection reset");
      await expectAbsent(h);
    });

    it("the same blob twice is harmless (created: false), but wrong bytes are still refused", async () => {
      const data = bytes(777);
      const h = sha(data);
      expect(await store.put(h, source([data]), { maxBytes: MAX })).toMatchObject({ created: true });
      expect(await store.put(h, source([data]), { maxBytes: MAX })).toEqual({ complete: true, size: 777, created: false });
      await expectCode(store.put(h, source([bytes(777, 3)]), { maxBytes: MAX }), "hash-mismatch");
      expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
    });

    it("stores the empty blob", async () => {
      expect(await store.put(EMPTY_HASH, source([]), { maxBytes: MAX })).toEqual({ complete: true, size: 0, created: true });
      expect(await store.size(EMPTY_HASH)).toBe(0);
      expect((await readAll(await store.get(EMPTY_HASH)))!.length).toBe(0);
    });

    it("a source that reuses its buffer is stored correctly", async () => {
      const data = bytes(64 * 1024 + 5);
      const h = sha(data);
      const buf = Buffer.alloc(1000);
      const reusing = (async function* () {
        for (let off = 0; off < data.length; off += 1000) {
          const n = data.copy(buf, 0, off, Math.min(off + 1000, data.length));
          yield buf.subarray(0, n);
        }
      })();
      await store.put(h, reusing, { maxBytes: MAX });
      expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
    });

    it("stores a source that promises stable pieces (the store may keep them instead of copying)", async () => {
      const data = bytes(200_000, 11);
      const h = sha(data);
      const pieces = [data.subarray(0, 1), data.subarray(1, 65_537), data.subarray(65_537)];
      expect(await store.put(h, source(pieces), { maxBytes: MAX, stablePieces: true })).toEqual({ complete: true, size: 200_000, created: true });
      expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
      expect((await readAll(await store.get(h, { start: 65_536, end: 65_537 })))!.equals(data.subarray(65_536, 65_538))).toBe(true);
    });

    it("resumes an upload in three parts, refusing a part at the wrong offset", async () => {
      const data = bytes(3000, 4);
      const h = sha(data);
      const part = (a: number, b: number) => source([data.subarray(a, b)]);
      const opts = (offset: number) => ({ maxBytes: MAX, offset, total: 3000, key: "alice@example.org" });
      expect(await store.put(h, part(0, 1000), opts(0))).toEqual({ complete: false, received: 1000 });
      const err = await expectCode(store.put(h, part(2000, 3000), opts(2000)), "bad-request");
      expect(err.message).toContain("1000");
      expect(await store.received(h, "alice@example.org")).toBe(1000);
      expect(await store.put(h, part(1000, 2000), opts(1000))).toEqual({ complete: false, received: 2000 });
      expect(await store.has(h)).toBe(false);
      expect(await store.put(h, part(2000, 3000), opts(2000))).toEqual({ complete: true, size: 3000, created: true });
      expect((await readAll(await store.get(h)))!.equals(data)).toBe(true);
      expect(await store.received(h, "alice@example.org")).toBe(0);
    });

    it("keeps parts of different uploaders apart", async () => {
      const data = bytes(2000, 5);
      const h = sha(data);
      const opts = (key: string, offset: number) => ({ maxBytes: MAX, offset, total: 2000, key });
      await store.put(h, source([data.subarray(0, 500)]), opts("a@x", 0));
      await store.put(h, source([data.subarray(0, 1200)]), opts("b@x", 0));
      expect(await store.received(h, "a@x")).toBe(500);
      expect(await store.received(h, "b@x")).toBe(1200);
      await expectCode(store.put(h, source([data.subarray(1200)]), opts("a@x", 1200)), "bad-request");
      expect(await store.put(h, source([data.subarray(1200)]), opts("b@x", 1200))).toMatchObject({ complete: true, created: true });
      // a's upload is now moot: its next part completes at once without being stored again.
      expect(await store.put(h, source([data.subarray(500)]), opts("a@x", 500))).toEqual({ complete: true, size: 2000, created: false });
      expect(await store.received(h, "a@x")).toBe(0);
    });

    it("rolls back a part that goes past the total, keeps one whose source failed", async () => {
      const data = bytes(1000, 6);
      const h = sha(data);
      const opts = (offset: number, total = 1000) => ({ maxBytes: MAX, offset, total, key: "k" });
      await store.put(h, source([data.subarray(0, 400)]), opts(0));
      await expectCode(store.put(h, source([data.subarray(400), bytes(10)]), opts(400)), "bad-request");
      expect(await store.received(h, "k")).toBe(400);
      await expectCode(store.put(h, source([data.subarray(400, 900)]), { ...opts(400), maxBytes: 100 }), "too-large");
      expect(await store.received(h, "k")).toBe(400);
      await expect(store.put(h, failing([data.subarray(400, 700)]), opts(400))).rejects.toThrow("connection reset");
      expect(await store.received(h, "k")).toBe(700);
      expect(await store.has(h)).toBe(false);
      expect(await store.put(h, source([data.subarray(700)]), opts(700))).toMatchObject({ complete: true, size: 1000 });
    });

    it("discards a completed upload whose bytes do not match", async () => {
      const h = sha(bytes(100, 7));
      const opts = (offset: number) => ({ maxBytes: MAX, offset, total: 100, key: "k" });
      await store.put(h, source([bytes(50, 8)]), opts(0));
      await expectCode(store.put(h, source([bytes(50, 8)]), opts(50)), "hash-mismatch");
      expect(await store.received(h, "k")).toBe(0);
      await expectAbsent(h);
    });

    it("refuses incomplete resumable options and malformed hashes", async () => {
      const h = sha(bytes(10));
      await expectCode(store.put(h, source([]), { maxBytes: MAX, offset: 0 }), "bad-request");
      await expectCode(store.put(h, source([]), { maxBytes: MAX, offset: 5, total: 4, key: "k" }), "bad-request");
      await expectCode(store.has("../../etc/passwd" as ChunkHash), "bad-request");
    });

    it("deletes blobs (deleting an absent one is fine)", async () => {
      const data = bytes(100);
      const h = sha(data);
      await store.put(h, source([data]), { maxBytes: MAX });
      await store.delete(h);
      await expectAbsent(h);
      await store.delete(h);
      expect(await store.put(h, source([data]), { maxBytes: MAX })).toMatchObject({ created: true });
    });

    it("prunes partial uploads by age of their last write", async () => {
      const h = sha(bytes(100));
      await store.put(h, source([bytes(100).subarray(0, 10)]), { maxBytes: MAX, offset: 0, total: 100, key: "k" });
      expect(await store.prunePartials(0)).toBe(0);
      expect(await store.received(h, "k")).toBe(10);
      expect(await store.prunePartials(Date.now() + 60_000)).toBe(1);
      expect(await store.received(h, "k")).toBe(0);
    });

    it("hashes lists every stored blob once: not deleted ones, not partial uploads", async () => {
      const kept = [bytes(10, 21), bytes(70_000, 22), new Uint8Array(0)];
      for (const b of kept) await store.put(sha(b), source([b]), { maxBytes: MAX });
      const gone = bytes(5, 23);
      await store.put(sha(gone), source([gone]), { maxBytes: MAX });
      await store.delete(sha(gone));
      const partial = bytes(100, 24);
      await store.put(sha(partial), source([partial.subarray(0, 40)]), { maxBytes: 40, offset: 0, total: 100, key: "k" });
      await store.put(sha(kept[0]!), source([kept[0]!]), { maxBytes: MAX });
      const listed: ChunkHash[] = [];
      for await (const h of store.hashes()) listed.push(h);
      expect(listed.sort()).toEqual(kept.map((b) => sha(b)).sort());
    });

    it("sync accepts stored and unknown hashes", async () => {
      const data = bytes(10);
      await store.put(sha(data), source([data]), { maxBytes: MAX });
      await store.sync([sha(data), sha(data), sha(bytes(3))]);
    });

    it("sizes answers exactly as size does, hash by hash: absent, repeated, deleted, empty", async () => {
      const blobs = [bytes(3000, 11), bytes(1, 12), new Uint8Array(0), bytes(70_000, 13)];
      for (const b of blobs) await store.put(sha(b), source([b]), { maxBytes: MAX });
      await store.delete(sha(blobs[1]!));
      const ask = [...blobs.map((b) => sha(b)), sha(bytes(5, 14)), sha(blobs[0]!), EMPTY_HASH];
      const one = await Promise.all(ask.map((h) => store.size(h)));
      expect(await store.sizes(ask)).toEqual(one);
      expect(one).toEqual([3000, undefined, 0, 70_000, undefined, 3000, 0]);
      expect(await store.sizes([])).toEqual([]);
      await expectCode(store.sizes([sha(blobs[0]!), "nope" as ChunkHash]), "bad-request");
    });

    it("readInto (where offered) fills each buffer with its blob; refuses absent blobs and wrong sizes", async () => {
      if (!store.readInto) return;
      const blobs = Array.from({ length: 12 }, (_, i) => bytes(1000 + i * 997, 20 + i));
      for (const b of blobs) await store.put(sha(b), source([b]), { maxBytes: MAX });
      await store.delete(sha(blobs[4]!));
      const order = [7, 0, 1, 2, 3, 11, 5, 6, 5, 9, 10];
      const into = order.map((i) => Buffer.alloc(blobs[i]!.length, 0xee));
      await store.readInto(order.map((i) => sha(blobs[i]!)), order.map((i) => blobs[i]!.length), into);
      into.forEach((b, k) => expect(b.equals(blobs[order[k]!]!)).toBe(true));
      const one = (i: number, size = blobs[i]!.length) => store.readInto!([sha(blobs[i]!)], [size], [Buffer.alloc(size)]);
      await expect(one(4)).rejects.toThrow();
      await expect(one(3, blobs[3]!.length - 1)).rejects.toThrow();
      await store.readInto([], [], []);
      await store.put(EMPTY_HASH, source([]), { maxBytes: MAX });
      await store.readInto([EMPTY_HASH, sha(blobs[0]!)], [0, blobs[0]!.length], [Buffer.alloc(0), Buffer.alloc(blobs[0]!.length)]);
    });

    it("round-trips any content split into any pieces", async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(3000), { maxLength: 6 }), async (data, cuts) => {
          const points = [...new Set([0, ...cuts.map((c) => c % (data.length + 1)), data.length])].sort((a, b) => a - b);
          const pieces = points.slice(1).map((end, i) => data.subarray(points[i], end));
          const h = sha(data);
          await store.put(h, source(pieces), { maxBytes: MAX });
          expect((await readAll(await store.get(h)))!.equals(Buffer.from(data))).toBe(true);
        }),
        { numRuns: 30 },
      );
    });
  });
}
