/**
 * Content-defined chunking (XEP-draft.md § "Chunking"): splits file content into chunks whose
 * boundaries depend only on the bytes around them, so a local edit changes only the chunk(s) it
 * touches and every other chunk keeps its SHA-256 and need not move ("modified subset").
 *
 * Algorithm: FastCDC (Xia et al., USENIX ATC 2016 / IEEE TPDS 2020) with a 32-bit gear hash,
 * minimum-size skipping and normalized chunking (level 2). For a chunk starting at stream
 * offset s with n bytes left in the stream (let bits = log2(avgSize)):
 *
 *     maskS = the top (bits + 2) bits of a 32-bit word set    (harder, before avgSize)
 *     maskL = the top (bits - 2) bits of a 32-bit word set    (easier, from avgSize on)
 *     h = 0
 *     for L = minSize, minSize + 1, ..., min(n, maxSize) - 1:
 *         h = (2·h + GEAR[byte at s + L - 1]) mod 2^32
 *         if h AND (L < avgSize ? maskS : maskL) == 0: the chunk has length L; stop
 *     otherwise the chunk has length min(n, maxSize)
 *
 *     GEAR[i] = the first 4 bytes, read big-endian, of SHA-256 of the one-byte message [i],
 *               for i = 0..255 (so GEAR[0] = SHA-256(0x00)[0..4] = 0x6e340b9c).
 *
 * WIRE CONTRACT: the gear table, the masks, the loop above and DEFAULT_CHUNKING are part of the
 * protocol. Replicas that chunk the same file differently still interoperate, but deduplicate
 * nothing; so any change here is a protocol version change, pinned by the golden vectors in
 * tests/unit/chunker.test.ts. The table is derived (not random) so that every platform builds it
 * bit for bit.
 *
 * Invariants: chunks are contiguous and cover the input; every chunk except the last has
 * minSize <= size <= maxSize (the last: 1 <= size <= maxSize); empty input has no chunks; the
 * result does not depend on how the input is split into push() calls; `hash` is SHA-256 of the
 * chunk's bytes in lowercase hex.
 *
 * Speed (bench/protocol.bench.ts): the gear loop runs in WebAssembly (protocol/gear.wat, embedded
 * as protocol/gear-wasm.ts), unrolled eight times; cutPoints() runs about twice as fast as with
 * the loop in JS (3.3 vs 1.6 GB/s on one AMD Zen 4 core). The module has one small fixed memory
 * holding the gear table and a 256 KiB scratch window. The caller's bytes are copied into the
 * window from the first byte the loop needs on and scanned there (the copy costs about a fifth of
 * the scan); one window serves every chunk that lies in it. The first minSize - 1 bytes of a chunk
 * are never scanned, nor copied unless a window loaded for an earlier chunk already holds them.
 * Every chunk is hashed with node:crypto from a subarray of the caller's buffer (no copies; a
 * chunk spanning two push() calls is hashed incrementally). Pure: no I/O, clock or randomness;
 * the window is module state that lives only within one push() or cutPoints() call, so calls on
 * different chunkers may interleave freely.
 */
import { createHash, type Hash } from "node:crypto";
import { GEAR_WASM } from "./gear-wasm.ts";
import type { ChunkHash } from "./ids.ts";

export interface ChunkerOptions {
  /** Smallest chunk except the stream's last one; 1 <= minSize < avgSize. */
  readonly minSize: number;
  /** Normalization point and approximate mean chunk size; a power of two, 16 ... 2^28. */
  readonly avgSize: number;
  /** Largest chunk; avgSize < maxSize <= 2^30. */
  readonly maxSize: number;
}

/**
 * The protocol's parameters (XEP-draft.md § "Chunking"): mean ≈ 36 KiB on random data. A 1-byte
 * edit resends the chunk holding it: 38 KiB at the median, 76 KiB at the 99th percentile.
 */
export const DEFAULT_CHUNKING: ChunkerOptions = Object.freeze({
  minSize: 8 * 1024,
  avgSize: 32 * 1024,
  maxSize: 128 * 1024,
});

export interface Chunk {
  /** Offset of the chunk's first byte in the stream. */
  readonly offset: number;
  readonly size: number;
  /** SHA-256 of the chunk's bytes, lowercase hex. */
  readonly hash: ChunkHash;
}

const GEAR: Int32Array = (() => {
  const g = new Int32Array(256);
  for (let i = 0; i < 256; i++) g[i] = createHash("sha256").update(Uint8Array.of(i)).digest().readInt32BE(0);
  return g;
})();

/** The exports of protocol/gear.wat. */
interface GearModule {
  readonly memory: WebAssembly.Memory;
  readonly scratch: WebAssembly.Global;
  readonly scratchSize: WebAssembly.Global;
  readonly hash: WebAssembly.Global;
  readonly gear: (p: number, stop: number, m: number, h: number) => number;
}

/**
 * The hot loop in WebAssembly, instantiated once per thread at load (synchronously: the module is
 * a few hundred bytes). Its memory has a fixed size, so `mem` never detaches; the table goes in once.
 */
const WASM = new WebAssembly.Instance(new WebAssembly.Module(GEAR_WASM)).exports as unknown as GearModule;
const mem = new Uint8Array(WASM.memory.buffer);
const SCRATCH = WASM.scratch.value as number;
const WINDOW = WASM.scratchSize.value as number;
{
  const view = new DataView(WASM.memory.buffer);
  GEAR.forEach((g, i) => view.setInt32(4 * i, g, true));
}

/**
 * Which caller bytes the scratch window holds: src[start, end). Shared by all scanners, so it is
 * valid only within one push() or cutPoints() call (the caller may change its buffers between
 * calls); `releaseWindow()` ends it and drops the reference to the caller's buffer.
 */
const win = { src: null as Uint8Array | null, start: 0, end: 0 };
function releaseWindow(): void {
  win.src = null;
}

/** A copy of the gear table as unsigned 32-bit values (for the spec and its tests). */
export function gearTable(): Uint32Array {
  return new Uint32Array(GEAR);
}

/** Throws a RangeError naming the offending option. */
export function checkChunkerOptions(opts: ChunkerOptions): void {
  const { minSize, avgSize, maxSize } = opts;
  const bad = (name: string, value: unknown, rule: string): never => {
    throw new RangeError(`Invalid chunker option ${name} = ${String(value)}: ${rule}`);
  };
  if (!Number.isInteger(avgSize) || avgSize < 16 || avgSize > 2 ** 28 || (avgSize & (avgSize - 1)) !== 0) {
    bad("avgSize", avgSize, "must be a power of two between 16 and 2^28");
  }
  if (!Number.isInteger(minSize) || minSize < 1 || minSize >= avgSize) {
    bad("minSize", minSize, `must be an integer with 1 <= minSize < avgSize (${avgSize})`);
  }
  if (!Number.isInteger(maxSize) || maxSize <= avgSize || maxSize > 2 ** 30) {
    bad("maxSize", maxSize, `must be an integer with avgSize (${avgSize}) < maxSize <= 2^30`);
  }
}

/** Top `k` bits of a 32-bit word, as an int32. */
const topBits = (k: number): number => (~0 << (32 - k)) | 0;

/**
 * Boundary search with resumable state: `pos` bytes of the current chunk have been seen, `h`
 * is the gear hash over those past minSize - 1. Shared by Chunker and cutPoints.
 */
class Scanner {
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly maskS: number;
  private readonly maskL: number;
  private pos = 0;
  private h = 0;

  constructor(opts: ChunkerOptions) {
    checkChunkerOptions(opts);
    this.min = opts.minSize;
    this.avg = opts.avgSize;
    this.max = opts.maxSize;
    const bits = Math.round(Math.log2(opts.avgSize));
    this.maskS = topBits(bits + 2);
    this.maskL = topBits(bits - 2);
  }

  reset(): void {
    this.pos = 0;
    this.h = 0;
  }

  /**
   * Feeds b[off, end) to the current chunk. Returns the index in `b` just past the chunk's last
   * byte if the chunk ends inside this range, else -1 (the chunk continues in later input).
   */
  next(b: Uint8Array, off: number, end: number): number {
    const base = off - this.pos; // index in b of the chunk's first byte (may be negative)
    const avail = end - base;
    let h = this.h;
    // Absorbing the byte at chunk position j tests length L = j + 1: maskS while L < avgSize.
    let from = Math.max(this.pos, this.min - 1);
    let to = Math.min(avail, this.avg - 1);
    if (from < to) {
      const r = this.gear(b, base + from, base + to, this.maskS, h);
      if (r >= 0) return r;
      h = this.h;
    }
    from = Math.max(this.pos, this.avg - 1);
    to = Math.min(avail, this.max - 1);
    if (from < to) {
      const r = this.gear(b, base + from, base + to, this.maskL, h);
      if (r >= 0) return r;
      h = this.h;
    }
    if (avail >= this.max) return base + this.max;
    this.pos = avail;
    this.h = h;
    return -1;
  }

  /**
   * Absorbs b[i, stop) under mask m, in WebAssembly; returns the index after the cut byte, or -1
   * (h saved). Bytes are copied into the scratch window in runs of up to WINDOW bytes, from the
   * first byte needed on: a window serves the following chunks too, and the bytes that min-size
   * skipping passes over are copied only if they lie inside a window loaded anyway.
   */
  private gear(b: Uint8Array, i: number, stop: number, m: number, h: number): number {
    while (i < stop) {
      if (b !== win.src || i < win.start || i >= win.end) {
        win.src = b;
        win.start = i;
        win.end = Math.min(b.length, i + WINDOW);
        mem.set(b.subarray(i, win.end), SCRATCH);
      }
      const s = Math.min(stop, win.end);
      const at = WASM.gear(SCRATCH + (i - win.start), SCRATCH + (s - win.start), m, h);
      if (at !== 0) return win.start + (at - SCRATCH);
      h = WASM.hash.value as number;
      i = s;
    }
    this.h = h;
    return -1;
  }
}

/** Views a Buffer (or other Uint8Array subclass) as a plain Uint8Array: keeps the call sites monomorphic. */
function plain(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Streaming chunker: push() the stream's pieces in order, then finish(). Each call returns the
 * chunks completed by it. The caller may reuse its buffers after push() returns: bytes of an
 * unfinished chunk are hashed immediately, never retained. After finish() the chunker is ready for
 * a new stream (offsets restart at 0).
 */
export class Chunker {
  private readonly scanner: Scanner;
  private offset = 0;
  /** Bytes of the current, unfinished chunk seen in earlier push() calls, and their hash. */
  private pendingSize = 0;
  private pending: Hash | null = null;

  constructor(opts: ChunkerOptions = DEFAULT_CHUNKING) {
    this.scanner = new Scanner(opts);
  }

  push(data: Uint8Array): Chunk[] {
    const b = plain(data);
    const out: Chunk[] = [];
    let off = 0;
    try {
      while (off < b.length) {
        const cut = this.scanner.next(b, off, b.length);
        if (cut < 0) {
          this.pending ??= createHash("sha256");
          this.pending.update(b.subarray(off));
          this.pendingSize += b.length - off;
          break;
        }
        const piece = b.subarray(off, cut);
        const hash = (this.pending ?? createHash("sha256")).update(piece).digest("hex") as ChunkHash;
        this.emit(out, this.pendingSize + piece.length, hash);
        off = cut;
      }
    } finally {
      releaseWindow();
    }
    return out;
  }

  finish(): Chunk[] {
    const out: Chunk[] = [];
    if (this.pending !== null) this.emit(out, this.pendingSize, this.pending.digest("hex") as ChunkHash);
    this.offset = 0;
    return out;
  }

  private emit(out: Chunk[], size: number, hash: ChunkHash): void {
    out.push({ offset: this.offset, size, hash });
    this.offset += size;
    this.pendingSize = 0;
    this.pending = null;
    this.scanner.reset();
  }
}

/** Chunks a whole buffer (same result as one Chunker fed any split of it). */
export function chunkBuffer(data: Uint8Array, opts: ChunkerOptions = DEFAULT_CHUNKING): Chunk[] {
  const c = new Chunker(opts);
  const out = c.push(data);
  for (const chunk of c.finish()) out.push(chunk);
  return out;
}

/** End offsets of the chunks of `data` (the last is data.length; none for empty input); no hashing. */
export function cutPoints(data: Uint8Array, opts: ChunkerOptions = DEFAULT_CHUNKING): number[] {
  const s = new Scanner(opts);
  const b = plain(data);
  const out: number[] = [];
  let off = 0;
  try {
    while (off < b.length) {
      const cut = s.next(b, off, b.length);
      if (cut < 0) break;
      out.push(cut);
      s.reset();
      off = cut;
    }
  } finally {
    releaseWindow();
  }
  if (off < b.length) out.push(b.length);
  return out;
}
