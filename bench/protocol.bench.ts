/**
 * Throughput of the pure protocol code on one core: content-defined chunking (+ SHA-256 per
 * chunk) of 256 MiB of random data, and version-vector digests. Run: npm run bench:protocol.
 * Goal (DESIGN.md): chunking + hashing >= 500 MB/s. Prints plain text; always exits 0.
 */
import { createHash, randomBytes } from "node:crypto";
import { Chunker, DEFAULT_CHUNKING, chunkBuffer, cutPoints, type Chunk } from "../protocol/chunker.ts";
import { bump, digest, EMPTY, replicaId, type VersionVector } from "../protocol/vv.ts";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const PIECE = 1 * MiB;
const RUNS = 3;
const GOAL_MBPS = 500;

function randomData(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0; off < size; off += 16 * MiB) out.set(randomBytes(Math.min(16 * MiB, size - off)), off);
  return out;
}

/** Best and median MB/s (10^6 bytes per second) over RUNS timed runs after one warm-up. */
function measure(bytes: number, fn: () => void): { best: number; median: number } {
  fn();
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    fn();
    rates.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { best: rates[rates.length - 1]!, median: rates[Math.floor(rates.length / 2)]! };
}

function streaming(data: Uint8Array): Chunk[] {
  const c = new Chunker();
  const out: Chunk[] = [];
  for (let off = 0; off < data.length; off += PIECE) out.push(...c.push(data.subarray(off, off + PIECE)));
  out.push(...c.finish());
  return out;
}

const row = (label: string, value: string): void => console.log(`${label.padEnd(44)} ${value}`);
const rate = (m: { best: number; median: number }): string =>
  `${m.median.toFixed(0).padStart(5)} MB/s median, ${m.best.toFixed(0)} best`;

const data = randomData(SIZE);
const { minSize, avgSize, maxSize } = DEFAULT_CHUNKING;
console.log(`protocol bench: node ${process.version}, ${SIZE / MiB} MiB random data, ${RUNS} runs after warm-up`);
console.log(`chunking: min ${minSize / 1024} KiB, avg ${avgSize / 1024} KiB, max ${maxSize / 1024} KiB`);

const sha = measure(SIZE, () => {
  for (let off = 0; off < SIZE; off += PIECE) createHash("sha256").update(data.subarray(off, off + PIECE)).digest();
});
const cuts = measure(SIZE, () => cutPoints(data));
const whole = measure(SIZE, () => chunkBuffer(data));
const stream = measure(SIZE, () => streaming(data));

const chunks = chunkBuffer(data);
const same = JSON.stringify(chunks) === JSON.stringify(streaming(data));
const sizes = chunks.slice(0, -1).map((c) => c.size); // the last chunk is a remainder
const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;

row("sha-256 alone (1 MiB pieces, reference)", rate(sha));
row("chunking only (cutPoints)", rate(cuts));
row("chunking + sha-256 (chunkBuffer)", rate(whole));
row(`chunking + sha-256 (Chunker, ${PIECE / MiB} MiB pushes)`, rate(stream));
row("chunks", `${chunks.length}`);
row("chunk size avg / min / max (excl. last)", `${(mean / 1024).toFixed(1)} / ${(Math.min(...sizes) / 1024).toFixed(1)} / ${(Math.max(...sizes) / 1024).toFixed(1)} KiB`);
row("streaming result == chunkBuffer result", same ? "yes" : "NO");
const worst = Math.min(whole.median, stream.median);
row(`goal >= ${GOAL_MBPS} MB/s chunking + hashing`, worst >= GOAL_MBPS ? `met (${worst.toFixed(0)} MB/s)` : `NOT met (${worst.toFixed(0)} MB/s)`);

// Version-vector digests: a 16-replica vector, the size of a busy group space.
let vv: VersionVector = EMPTY;
for (let i = 0; i < 16; i++) vv = bump(vv, replicaId(`device-${i}`), 1_700_000_000_000 + i);
const N = 200_000;
const t0 = performance.now();
for (let i = 0; i < N; i++) digest(vv);
const perSec = N / ((performance.now() - t0) / 1000);
row("version-vector digest (16 entries)", `${(perSec / 1000).toFixed(0)} k digests/s`);
