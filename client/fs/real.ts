/**
 * `RealFs`: the `Fs` interface over node:fs/promises, rooted at one absolute directory.
 *
 * Durability: `writeTemp` opens with O_CREAT|O_EXCL (a random name from node:crypto, never an
 * existing file), writes (with an fdatasync in the background every SYNC_EVERY bytes, so that
 * the disk works while data arrives; past DIRECT_AFTER bytes with O_DIRECT where the filesystem
 * allows it, see client/fs/direct-write.ts), fsyncs the file before closing it and unlinks it on any
 * failure; the engine then `rename`s it over the target and `fsyncDir`s the folder. `lstat` uses `fs.lstat`
 * with plain numbers (`bigint: false`): it never follows a symlink. Reads go through one
 * file handle and fresh buffers of READ_PIECE bytes (or the caller's `piece`), the next piece
 * read while the caller works on the current one, so memory per open read is bounded by two.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, constants, fchmodSync, fdatasync, fsync, futimesSync, lstatSync, mkdirSync, openSync, readSync, renameSync, rmdirSync, unlinkSync, utimesSync, write, writeSync, type Stats } from "node:fs";
import * as fsp from "node:fs/promises";
import { resolve } from "node:path";
import { TEMP_PREFIX } from "../../protocol/paths.ts";
import { ALIGN, DirectWriter } from "./direct-write.ts";
import { assertRelative, errorCode, joinPath, type Fs, type Kind, type ReadOptions, type Stat, type TempAttrs } from "./types.ts";

/** The buffer small files are read into before their bytes are copied out (see `read`). */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/** Bytes per read() call and per yielded piece. */
export const READ_PIECE = 64 * 1024;
/** writeTemp writes large pieces this many bytes at a time (8 MiB writes cost Linux 2–3 times the CPU). */
const WRITE_SLICE = 1024 * 1024;
/** Pieces up to this size are written with a synchronous call. */
const SMALL_WRITE = 64 * 1024;
/** writeTemp starts a background fdatasync after this many bytes written since the last one. */
export const SYNC_EVERY = 32 * 1024 * 1024;

/** writeTemp writes a file's bytes past this many with O_DIRECT (client/fs/direct-write.ts). */
export const DIRECT_AFTER = 8 * 1024 * 1024;

export interface RealFsOptions {
  /** Bytes `writeTemp` writes between background fdatasyncs (default SYNC_EVERY). */
  readonly syncEvery?: number;
  /**
   * Bytes `writeTemp` writes through the page cache before it goes on with O_DIRECT (rounded up
   * to ALIGN; default DIRECT_AFTER; Infinity: never).
   */
  readonly directAfter?: number;
}

export class RealFs implements Fs {
  readonly root: string;
  readonly #syncEvery: number;
  readonly #directAfter: number;

  constructor(root: string, opts: RealFsOptions = {}) {
    this.root = resolve(root);
    this.#syncEvery = opts.syncEvery ?? SYNC_EVERY;
    this.#directAfter = Math.ceil((opts.directAfter ?? DIRECT_AFTER) / ALIGN) * ALIGN;
  }

  private abs(path: string, syscall: string): string {
    assertRelative(path, syscall);
    return path === "" ? this.root : this.root + "/" + path;
  }

  /**
   * `abs` for a call that writes: refuses (ENOTDIR, as MemoryFs does) when a folder on the way
   * to `path` under the root is a symbolic link (mkdir: EEXIST, as for a file in the way), so that nothing is written through one, e.g. a
   * folder replaced by a link to elsewhere between a scan and a write. `self`: `path` itself
   * must not be a link either (a folder that is written into). The check and the call are two
   * steps: a link made in between by a local process that races us is not caught.
   */
  private writable(path: string, syscall: string, self = false, code = "ENOTDIR"): string {
    const abs = this.abs(path, syscall);
    if (path === "") return abs;
    const parts = path.split("/");
    let at = this.root;
    for (let i = 0; i < (self ? parts.length : parts.length - 1); i++) {
      at += "/" + parts[i];
      const st = lstatSync(at, { throwIfNoEntry: false });
      if (!st) break;
      if (st.isSymbolicLink()) {
        throw Object.assign(new Error(`${code}: ${syscall} '${path}': ${parts.slice(0, i + 1).join("/")} is a symbolic link, which xshare never writes through`), {
          code,
          syscall,
          path: abs,
        });
      }
    }
    return abs;
  }

  async lstat(path: string): Promise<Stat | undefined> {
    let st: Stats | undefined;
    try {
      // Synchronous: an lstat is a few microseconds of kernel time, and going through the
      // thread pool costs several times that per call (a scan makes one per entry).
      st = lstatSync(this.abs(path, "lstat"), { bigint: false, throwIfNoEntry: false });
      if (!st) return undefined;
    } catch (err) {
      const code = errorCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw err;
    }
    return toStat(st);
  }

  async readdir(path: string): Promise<string[]> {
    return fsp.readdir(this.abs(path, "readdir"));
  }

  async *read(path: string, opts: ReadOptions = {}): AsyncIterable<Uint8Array> {
    const abs = this.abs(path, "read");
    const piece = Math.max(1, opts.piece ?? READ_PIECE);
    const stop = opts.end === undefined ? Infinity : opts.end + 1;
    let start = opts.start ?? 0;
    if (opts.piece === undefined && start < stop) {
      // Small files (no piece hint): open, read and close synchronously, as one short burst of
      // syscalls; the thread pool would cost several times that per file. A file longer than
      // one piece goes on below.
      // Read into a shared scratch buffer (nothing else runs during these synchronous calls) and
      // yield a copy of exactly what was read: a 2 KiB file must not pin a 64 KiB buffer (the
      // scan may hand its bytes on, and thousands are held while they are uploaded).
      const want = Math.min(piece, stop - start);
      if (scratch.length < want) scratch = Buffer.allocUnsafeSlow(want);
      const fd = openSync(abs, constants.O_RDONLY);
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, scratch, 0, want, start);
      } finally {
        closeSync(fd);
      }
      if (bytesRead > 0) yield Buffer.from(scratch.subarray(0, bytesRead));
      if (bytesRead < want) return;
      start += bytesRead;
      if (start >= stop) return;
    }
    const fh = await fsp.open(abs, constants.O_RDONLY);
    // With `reuse`, two buffers take turns: one the caller holds, one being read ahead into.
    const spare = opts.reuse ? [Buffer.allocUnsafeSlow(piece), Buffer.allocUnsafeSlow(piece)] : undefined;
    let turn = 0;
    const readAt = (pos: number) => {
      const want = Math.min(piece, stop - pos);
      const buf = spare ? spare[turn++ & 1]!.subarray(0, want) : Buffer.allocUnsafeSlow(want);
      const p = fh.read(buf, 0, want, pos).then(({ bytesRead }) => ({ want, buf, bytesRead }));
      // Awaited at the next step; until then a failure must not count as unhandled.
      p.catch(() => undefined);
      return p;
    };
    let pending: ReturnType<typeof readAt> | undefined;
    try {
      let pos = start;
      if (pos < stop) pending = readAt(pos);
      while (pending) {
        const { want, buf, bytesRead } = await pending;
        pending = undefined;
        if (bytesRead === 0) break;
        pos += bytesRead;
        // A regular file reads short only at its end: saves a read() per small file. A file
        // that grows meanwhile is the caller's to notice (the scanner compares sizes).
        if (bytesRead === want && pos < stop) pending = readAt(pos);
        yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      // A caller that stops early leaves a read in flight: let it land before closing.
      await pending?.catch(() => undefined);
      await fh.close();
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const fh = await fsp.open(this.abs(path, "readRange"), constants.O_RDONLY);
    try {
      // Unzeroed: only the bytes read are returned.
      const buf = Buffer.allocUnsafeSlow(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? buf : buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  }

  async writeTemp(dir: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, attrs: TempAttrs = {}): Promise<string> {
    const rel = joinPath(dir, tempName());
    const abs = this.writable(rel, "writeTemp");
    // Opened, small pieces written and closed with synchronous calls (microseconds each; the
    // thread pool costs several times that per file); large writes and the fsyncs, which wait
    // for the disk, go through the pool.
    const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    // Write-behind: every SYNC_EVERY bytes an fdatasync starts in the background (one at a
    // time), so the disk writes back while more arrives and the final fsync has little left.
    // A failed one fails the write.
    let syncing: Promise<void> | undefined;
    let syncFailed: { err: unknown } | undefined;
    // Past directAfter bytes, the rest goes with O_DIRECT (undefined: not yet, or not supported).
    let direct: DirectWriter | undefined;
    let directTried = false;
    try {
      try {
        attrs.opened?.(rel);
        let pos = 0;
        let unsynced = 0;
        for await (const piece of data) {
          // Each piece is written (or copied) before the next is asked for: the producer may reuse it.
          let off = 0;
          if (!direct && !directTried && pos + piece.length > this.#directAfter) {
            // The bytes up to directAfter (an aligned offset) through the page cache, then direct.
            off = Math.max(0, this.#directAfter - pos);
            pos = await this.#writeAt(fd, abs, piece, 0, off, pos);
            directTried = true;
            direct = this.openDirect(abs, fd, pos);
          }
          if (direct) {
            await direct.add(off === 0 ? piece : piece.subarray(off));
            pos += piece.length - off;
            continue;
          }
          pos = await this.#writeAt(fd, abs, piece, off, piece.length - off, pos);
          if (syncFailed) throw syncFailed.err;
          unsynced += piece.length;
          if (unsynced >= this.#syncEvery && !syncing) {
            unsynced = 0;
            syncing = this.datasync(fd, abs).then(
              () => void (syncing = undefined),
              (err: unknown) => {
                syncFailed ??= { err };
                syncing = undefined;
              },
            );
          }
        }
        await direct?.finish();
        await syncing;
        if (syncFailed) throw syncFailed.err;
        // On the open file: no path lookups (a sync of many small files makes these per file).
        if (attrs.mode !== undefined) fchmodSync(fd, attrs.mode & 0o777);
        if (attrs.mtimeMs !== undefined) futimesSync(fd, attrs.mtimeMs / 1000, attrs.mtimeMs / 1000);
        await this.fsyncFile(fd, abs);
      } finally {
        await direct?.close();
        await syncing;
        closeSync(fd);
      }
    } catch (err) {
      try {
        unlinkSync(abs);
      } catch {
        // already gone
      }
      throw err;
    }
    return rel;
  }

  /** Writes `piece[off, off + len)` at `pos` through the page cache; returns the next position. */
  async #writeAt(fd: number, abs: string, piece: Uint8Array, off: number, len: number, pos: number): Promise<number> {
    for (let end = off + len; off < end; ) {
      const n = Math.min(end - off, WRITE_SLICE);
      const bytesWritten = n <= SMALL_WRITE ? writeSync(fd, piece, off, n, pos) : await call<number>((cb) => write(fd, piece, off, n, pos, cb));
      if (bytesWritten === 0) throw Object.assign(new Error(`EIO: i/o error, write '${abs}'`), { code: "EIO", syscall: "write", path: abs });
      off += bytesWritten;
      pos += bytesWritten;
    }
    return pos;
  }

  /** The O_DIRECT writer for the rest of a temp file (a seam for tests); undefined where unsupported. */
  protected openDirect(abs: string, fd: number, pos: number): DirectWriter | undefined {
    return DirectWriter.open(abs, fd, pos);
  }

  /** fdatasync of a temp file being written (a seam for tests to count or fail them). */
  protected datasync(fd: number, _abs: string): Promise<void> {
    return call<void>((cb) => fdatasync(fd, (err) => cb(err, undefined)));
  }

  /** The final fsync of a temp file (a seam for tests). */
  protected fsyncFile(fd: number, _abs: string): Promise<void> {
    return call<void>((cb) => fsync(fd, (err) => cb(err, undefined)));
  }

  // Metadata calls below are synchronous: each is microseconds of kernel time, and a round trip
  // through the thread pool costs several times that (a sync of many small files makes a
  // handful per file). Only calls that wait for the disk (fsync) stay asynchronous.

  async rename(from: string, to: string): Promise<void> {
    renameSync(this.writable(from, "rename"), this.writable(to, "rename"));
  }

  async fsyncDir(dir: string): Promise<void> {
    const fh = await fsp.open(this.abs(dir, "fsyncDir"), constants.O_RDONLY);
    try {
      await fh.sync();
    } catch (err) {
      // Windows cannot fsync a directory handle; its renames are durable by other means.
      if (process.platform !== "win32") throw err;
    } finally {
      await fh.close();
    }
  }

  async mkdir(path: string): Promise<void> {
    mkdirSync(this.writable(path, "mkdir", true, "EEXIST"), { recursive: true });
  }

  async remove(path: string): Promise<void> {
    let abs: string;
    try {
      abs = this.writable(path, "remove");
    } catch (err) {
      // Under a symlinked folder: not in this tree, so absent (as MemoryFs sees it); not removed.
      if (errorCode(err) === "ENOTDIR") return;
      throw err;
    }
    const st = await this.lstat(path);
    if (st === undefined) return;
    try {
      if (st.kind === "dir") rmdirSync(abs);
      else unlinkSync(abs);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
  }

  async setTimes(path: string, mtimeMs: number): Promise<void> {
    const t = mtimeMs / 1000;
    utimesSync(this.writable(path, "setTimes"), t, t);
  }

  async setMode(path: string, mode: number): Promise<void> {
    chmodSync(this.writable(path, "setMode"), mode & 0o777);
  }

  async exists(): Promise<boolean> {
    try {
      return (await fsp.stat(this.root)).isDirectory();
    } catch {
      return false;
    }
  }
}

function kindOf(st: Stats): Kind {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  return "other";
}

function toStat(st: Stats): Stat {
  return { kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, mode: st.mode & 0o777 };
}

/**
 * A fresh temporary file name: this process's random prefix and a counter (O_EXCL refuses any
 * name that exists anyway). Random bytes per file cost more than the write of a small file.
 */
let tempSeq = 0;
const TEMP_RUN = randomBytes(6).toString("hex");
function tempName(): string {
  return `${TEMP_PREFIX}${TEMP_RUN}${(tempSeq++).toString(36)}`;
}

/** A node:fs callback call as a promise. */
function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}
