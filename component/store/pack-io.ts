/**
 * PackBlobStore's file I/O: promise wrappers over the callback `fs` API (cheaper per call than
 * `fs.promises`), a cache of open pack fds that readers share, and positional range streams.
 */
import * as fs from "node:fs";
import { Readable } from "node:stream";

/** Reads of a chunk range are at most this large. */
export const READ_BYTES = 1024 * 1024;
/** Open pack fds kept for the next reader. */
const IDLE_FDS = 16;

/**
 * Read-only fds of packs, shared by readers and counted, so that neither closing an idle one
 * nor retiring a compacted pack can pull an fd from under a read in progress.
 */
export class PackFds {
  readonly #open = new Map<number, FdEntry>();
  constructor(readonly path: (pack: number) => string) {}

  /** The fd of `pack` and its release (call it once); rejects with ENOENT when the pack is gone. */
  async acquire(pack: number): Promise<{ fd: number; release: () => void }> {
    let e = this.#open.get(pack);
    if (!e) {
      const fresh: FdEntry = { pack, fd: io.open(this.path(pack), "r"), refs: 0, retired: false };
      fresh.fd.catch(() => this.#open.get(pack) === fresh && this.#open.delete(pack));
      this.#open.set(pack, fresh);
      e = fresh;
    }
    const entry = e;
    entry.refs++;
    let fd: number;
    try {
      fd = await entry.fd;
    } catch (err) {
      entry.refs--;
      throw err;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.refs--;
      this.#closeIfUnused(entry);
    };
    return { fd, release };
  }

  /** Stops handing out `pack`'s fd (the file is gone); it is closed once no reader uses it. */
  retire(pack: number): void {
    const e = this.#open.get(pack);
    if (!e) return;
    this.#open.delete(pack);
    e.retired = true;
    this.#closeIfUnused(e);
  }

  retireAll(): void {
    for (const pack of [...this.#open.keys()]) this.retire(pack);
  }

  #closeIfUnused(e: FdEntry): void {
    if (e.refs > 0) return;
    if (!e.retired) {
      if (this.#open.size <= IDLE_FDS) return; // keep it for the next reader
      this.#open.delete(e.pack);
      e.retired = true;
    }
    void e.fd.then((fd) => io.close(fd)).catch(() => undefined);
  }
}

interface FdEntry {
  readonly pack: number;
  readonly fd: Promise<number>;
  refs: number;
  retired: boolean;
}

/**
 * A byte range of a pack as a stream: positional reads of at most READ_BYTES (a chunk-sized
 * range is one read). `done` releases the fd, once, however the stream ends.
 */
export class PackReader extends Readable {
  #pos: number;
  readonly #end: number;
  #done: (() => void) | undefined;

  constructor(
    readonly fd: number,
    start: number,
    end: number,
    done: () => void,
  ) {
    super({ highWaterMark: Math.max(1, Math.min(end - start, READ_BYTES)) });
    this.#pos = start;
    this.#end = end;
    this.#done = done;
  }

  override _read(): void {
    const n = Math.min(READ_BYTES, this.#end - this.#pos);
    if (n <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(n);
    fs.read(this.fd, buf, 0, n, this.#pos, (err, got) => {
      if (err) return this.destroy(err);
      if (got === 0) return this.destroy(new Error("pack file is shorter than its index"));
      this.#pos += got;
      this.push(got < n ? buf.subarray(0, got) : buf);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#done?.();
    this.#done = undefined;
    cb(err);
  }
}

/** Promise wrappers over the callback `fs` API (cheaper per call than `fs.promises`). */
export const io = {
  open: (path: string, flags: string | number) => call<number>((cb) => fs.open(path, flags, 0o644, cb)),
  close: (fd: number) => call<void>((cb) => fs.close(fd, (err) => cb(err, undefined))),
  fstat: (fd: number) => call<fs.Stats>((cb) => fs.fstat(fd, cb)),
  stat: (path: string) => call<fs.Stats>((cb) => fs.stat(path, cb)),
  fdatasync: (fd: number) => call<void>((cb) => fs.fdatasync(fd, (err) => cb(err, undefined))),
  ftruncate: (fd: number, len: number) => call<void>((cb) => fs.ftruncate(fd, len, (err) => cb(err, undefined))),
  futimes: (fd: number, atime: number, mtime: number) => call<void>((cb) => fs.futimes(fd, atime, mtime, (err) => cb(err, undefined))),
  /** libuv retries short writes to regular files, so one call writes everything or fails. */
  write: async (fd: number, bytes: Uint8Array) => {
    const n = await call<number>((cb) => fs.write(fd, bytes, 0, bytes.byteLength, null, cb));
    if (n !== bytes.byteLength) throw new Error(`short write: ${n} of ${bytes.byteLength}`);
  },
  writev: async (fd: number, bufs: Buffer[], position: number, expected: number) => {
    const n = await call<number>((cb) => fs.writev(fd, bufs, position, cb));
    if (n !== expected) throw new Error(`short write: ${n} of ${expected}`);
  },
  /** Fills `bufs` one after the other from `position` on, with as few vectored reads as the kernel allows. */
  readvExactly: async (fd: number, bufs: readonly Buffer[], position: number) => {
    let rest = bufs.filter((b) => b.length > 0);
    while (rest.length > 0) {
      const n = await call<number>((cb) => fs.readv(fd, rest, position, cb));
      if (n === 0) throw new Error("pack file is shorter than its index");
      position += n;
      // A short read (rare for regular files): go on with what is left.
      let skip = n;
      while (rest.length > 0 && skip >= rest[0]!.length) skip -= rest.shift()!.length;
      if (skip > 0) rest[0] = rest[0]!.subarray(skip);
    }
  },
  readExactly: async (fd: number, buf: Buffer, position: number) => {
    for (let off = 0; off < buf.length; ) {
      const n = await call<number>((cb) => fs.read(fd, buf, off, buf.length - off, position + off, cb));
      if (n === 0) throw new Error("pack file is shorter than its index");
      off += n;
    }
  },
};

function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

export async function statOrUndefined(path: string): Promise<fs.Stats | undefined> {
  return io.stat(path).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
