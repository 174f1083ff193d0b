import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BATCH_BYTES, ChunkUploader, PARALLEL } from "../../client/remote.ts";
import type { ChunkHash } from "../../protocol/ids.ts";

const chunk = (i: number, size: number) => ({ hash: createHash("sha256").update(`c${i}`).digest("hex") as ChunkHash, size, bytes: new Uint8Array(size) });

describe("ChunkUploader", () => {
  it("sends batches of about BATCH_BYTES, each chunk once, at most PARALLEL at a time", async () => {
    const batches: number[] = [];
    let inFlight = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const up = new ChunkUploader(async (cs) => {
      inFlight++;
      most = Math.max(most, inFlight);
      batches.push(cs.reduce((n, c) => n + c.size, 0));
      await new Promise<void>((r) => release.push(r));
      inFlight--;
      return cs.reduce((n, c) => n + c.bytes.length, 0);
    });
    const size = 1 << 20;
    const all = Array.from({ length: 40 }, (_, i) => chunk(i, size));
    let added = 0;
    const producer = (async () => {
      for (const c of [...all, all[0]!, all[1]!]) {
        await up.add(c, c.bytes);
        added++;
      }
      await up.drain();
    })();
    // The producer stops while PARALLEL requests are in flight (back-pressure)…
    await new Promise((r) => setTimeout(r, 20));
    expect(inFlight).toBe(PARALLEL);
    expect(added).toBeLessThan(all.length);
    // …and goes on as they complete.
    while (release.length || inFlight) {
      release.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    await producer;
    expect(most).toBe(PARALLEL);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(40 * size); // duplicates were not queued
    for (const b of batches.slice(0, -1)) expect(b).toBe(BATCH_BYTES);
    expect([...up.stored].sort()).toEqual(all.map((c) => c.hash).sort());
    expect(up.sent).toBe(40 * size);
    expect(up.failed).toBe(false);
  });

  it("keeps its batch buffers for the next batches until drained, then lets them go", async () => {
    const up = new ChunkUploader(async (cs) => cs.reduce((n, c) => n + c.bytes.length, 0));
    const a = chunk(1, BATCH_BYTES);
    const b = chunk(2, 10);
    await up.add(a, a.bytes); // fills a batch: sent
    await new Promise((r) => setTimeout(r, 1));
    await up.add(b, b.bytes); // queued in a buffer
    expect(up.spareBytes).toBeGreaterThanOrEqual(BATCH_BYTES);
    await up.drain();
    expect(up.spareBytes).toBe(0);
    expect(up.stored.size).toBe(2);
  });

  it("skips chunks it is told are there; after a failure it sends nothing more and never rejects", async () => {
    let calls = 0;
    const up = new ChunkUploader(async (cs) => {
      calls++;
      if (calls === 1) throw new Error("connection reset");
      return cs.length;
    });
    const a = chunk(1, BATCH_BYTES);
    const b = chunk(2, 10);
    const c = chunk(3, 10);
    up.skip([c.hash]);
    await up.add(a, a.bytes); // fills a batch: sent, and fails
    await up.drain();
    expect(up.failed).toBe(true);
    await up.add(b, b.bytes);
    await up.add(c, c.bytes);
    await up.drain();
    expect(calls).toBe(1);
    expect(up.stored.size).toBe(0);
    expect(up.sent).toBe(0);
  });
});
