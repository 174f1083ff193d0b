/**
 * The bulk of a large file written with O_DIRECT (`RealFs.writeTemp`, past its first
 * `directAfter` bytes): the bytes go from our buffer to the disk without a page-cache copy.
 *
 * Why: writing through the page cache makes the kernel find, zero and fill a fresh page for every
 * 4 KiB, and on a virtual machine whose memory the host backs lazily that is most of the cost of a
 * large download: `npm run bench:disk` here writes 1 GiB through the page cache in 3–5 s of
 * kernel CPU, and with O_DIRECT in about 1.1 s and 0.15 s of CPU. The file is not left in the page
 * cache either, which a received file does not need (nothing reads it back until it changes).
 *
 * O_DIRECT wants buffers, file offsets and lengths aligned to the device's logical block: ALIGN
 * (4096) covers every common one. Buffers come from `WebAssembly.Memory` (its backing store is
 * mapped pages, so page-aligned; Node offers no aligned allocation), two per writer so that one
 * is written while the other fills, kept in a small pool for the next file. The last partial
 * block is written padded with zeros and the file then truncated to its real size.
 *
 * Where O_DIRECT is not supported (tmpfs, some FUSE and network filesystems) the open or the
 * first write fails with EINVAL: the writer then says so (`open` returns undefined) or carries
 * on through the caller's ordinary descriptor, at the same positions, so nothing is lost or
 * written twice.
 */
import { closeSync, constants, ftruncate, openSync, write } from "node:fs";

/** Alignment of buffers, offsets and lengths for O_DIRECT. */
export const ALIGN = 4096;
/** Bytes per direct write (one staging buffer). */
export const DIRECT_BUFFER = 1024 * 1024;
/** Staging buffers kept for the next writer. */
const POOL = 2;

const free: Buffer[] = [];

function take(): Buffer {
  // 64 KiB WebAssembly pages: DIRECT_BUFFER / 65536 of them.
  return free.pop() ?? Buffer.from(new WebAssembly.Memory({ initial: DIRECT_BUFFER / 65536, maximum: DIRECT_BUFFER / 65536 }).buffer);
}

function give(b: Buffer): void {
  if (free.length < POOL) free.push(b);
}

/** A node:fs callback call as a promise. */
function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/** node:fs `write`'s positional form: the direct writes go through it (a seam for tests). */
export type DirectWrite = (fd: number, buf: Buffer, off: number, len: number, pos: number, cb: (err: NodeJS.ErrnoException | null, written: number) => void) => void;

const isEinval = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === "EINVAL";

export class DirectWriter {
  #bufs: [Buffer, Buffer] | undefined;
  #cur = 0;
  #fill = 0;
  /** File offset of the current buffer's first byte (always ALIGN-aligned). */
  #pos: number;
  /** The write of the other buffer, if one is in flight. */
  #inflight: Promise<void> | undefined;
  /** Set once a direct write was refused: the rest goes through `buffered`. */
  #refused = false;
  #closed = false;

  private constructor(
    readonly fd: number,
    /** The caller's ordinary descriptor of the same file: the fallback, and for the truncate. */
    readonly buffered: number,
    pos: number,
    readonly directWrite: DirectWrite,
  ) {
    this.#pos = pos;
  }

  /**
   * A direct descriptor for `abs`, whose bytes before `pos` (a multiple of ALIGN) the caller
   * has written through `buffered`; undefined where the filesystem refuses O_DIRECT.
   */
  static open(abs: string, buffered: number, pos: number, directWrite: DirectWrite = write): DirectWriter | undefined {
    if (pos % ALIGN !== 0) throw new Error(`DirectWriter: position ${pos} is not a multiple of ${ALIGN}`);
    let fd: number;
    try {
      fd = openSync(abs, constants.O_WRONLY | constants.O_DIRECT);
    } catch (err) {
      if (isEinval(err)) return undefined;
      throw err;
    }
    return new DirectWriter(fd, buffered, pos, directWrite);
  }

  /** Copies `bytes` in (the caller may reuse them once this resolves), writing full buffers. */
  async add(bytes: Uint8Array): Promise<void> {
    this.#bufs ??= [take(), take()];
    for (let off = 0; off < bytes.length; ) {
      const buf = this.#bufs[this.#cur]!;
      const n = Math.min(bytes.length - off, buf.length - this.#fill);
      buf.set(bytes.subarray(off, off + n), this.#fill);
      this.#fill += n;
      off += n;
      if (this.#fill === buf.length) await this.#flush();
    }
  }

  /** Writes what is left (the last block padded, the file truncated to `size`), then waits. */
  async finish(): Promise<void> {
    const size = this.#pos + this.#fill;
    if (this.#fill > 0) {
      const buf = this.#bufs![this.#cur]!;
      const padded = Math.ceil(this.#fill / ALIGN) * ALIGN;
      buf.fill(0, this.#fill, padded);
      await this.#inflight;
      await this.#write(buf, padded, this.#fill, this.#pos);
      this.#pos += this.#fill;
      this.#fill = 0;
    }
    await this.#inflight;
    // Drops the padding (and is harmless when there was none).
    await call<void>((cb) => ftruncate(this.buffered, size, (err) => cb(err, undefined)));
  }

  /** Closes the direct descriptor and returns the buffers (after finish, or on failure). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inflight?.catch(() => undefined);
    closeSync(this.fd);
    if (this.#bufs) for (const b of this.#bufs) give(b);
    this.#bufs = undefined;
  }

  /** Starts writing the full current buffer and switches to the other (after its write ends). */
  async #flush(): Promise<void> {
    await this.#inflight;
    const buf = this.#bufs![this.#cur]!;
    const at = this.#pos;
    const len = this.#fill;
    this.#inflight = this.#write(buf, len, len, at);
    // Awaited by the next flush, finish or close; until then a failure is not unhandled.
    this.#inflight.catch(() => undefined);
    this.#pos += len;
    this.#fill = 0;
    this.#cur ^= 1;
  }

  /**
   * Writes `buf[0, len)` at `at`, of which the first `real` bytes are the file's (the rest is
   * padding). A refused direct write, or a short one, is completed through the ordinary
   * descriptor, with the real bytes only.
   */
  async #write(buf: Buffer, len: number, real: number, at: number): Promise<void> {
    let done = 0;
    if (!this.#refused) {
      try {
        done = await call<number>((cb) => this.directWrite(this.fd, buf, 0, len, at, cb));
      } catch (err) {
        if (!isEinval(err)) throw err;
        this.#refused = true;
      }
      if (done === 0 && !this.#refused) throw Object.assign(new Error(`EIO: i/o error, write (direct) at ${at}`), { code: "EIO", syscall: "write" });
    }
    while (done < real) {
      const n = await call<number>((cb) => write(this.buffered, buf, done, real - done, at + done, cb));
      if (n === 0) throw Object.assign(new Error(`EIO: i/o error, write at ${at + done}`), { code: "EIO", syscall: "write" });
      done += n;
    }
  }
}
