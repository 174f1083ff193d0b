/**
 * `RealFs`: the `Fs` interface over node:fs/promises, rooted at one absolute directory.
 *
 * Durability: `writeTemp` opens with O_CREAT|O_EXCL (a random name from node:crypto, never an
 * existing file), writes, fsyncs the file before closing it and unlinks it on any failure; the
 * engine then `rename`s it over the target and `fsyncDir`s the folder. `lstat` uses `fs.lstat`
 * with plain numbers (`bigint: false`): it never follows a symlink. Reads go through one
 * file handle and fresh buffers of READ_PIECE bytes (or the caller's `piece`), the next piece
 * read while the caller works on the current one, so memory per open read is bounded by two.
 */
import { randomBytes } from "node:crypto";
import { closeSync, constants, lstatSync, openSync, readSync, type Stats } from "node:fs";
import * as fsp from "node:fs/promises";
import { resolve } from "node:path";
import { TEMP_PREFIX } from "../../protocol/paths.ts";
import { assertRelative, errorCode, joinPath, type Fs, type Kind, type ReadOptions, type Stat } from "./types.ts";

/** Bytes per read() call and per yielded piece. */
export const READ_PIECE = 64 * 1024;

export class RealFs implements Fs {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private abs(path: string, syscall: string): string {
    assertRelative(path, syscall);
    return path === "" ? this.root : this.root + "/" + path;
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
      const want = Math.min(piece, stop - start);
      const buf = Buffer.allocUnsafeSlow(want);
      const fd = openSync(abs, constants.O_RDONLY);
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buf, 0, want, start);
      } finally {
        closeSync(fd);
      }
      if (bytesRead > 0) yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
      if (bytesRead < want) return;
      start += bytesRead;
      if (start >= stop) return;
    }
    const fh = await fsp.open(abs, constants.O_RDONLY);
    const readAt = (pos: number) => {
      const want = Math.min(piece, stop - pos);
      const buf = Buffer.allocUnsafeSlow(want);
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
      const buf = Buffer.alloc(length);
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

  async writeTemp(dir: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> {
    const rel = joinPath(dir, TEMP_PREFIX + randomBytes(8).toString("hex"));
    const abs = this.abs(rel, "writeTemp");
    const fh = await fsp.open(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      try {
        for await (const piece of data) {
          let off = 0;
          while (off < piece.length) off += (await fh.write(piece, off, piece.length - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await fsp.unlink(abs).catch(() => undefined);
      throw err;
    }
    return rel;
  }

  async rename(from: string, to: string): Promise<void> {
    await fsp.rename(this.abs(from, "rename"), this.abs(to, "rename"));
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
    await fsp.mkdir(this.abs(path, "mkdir"), { recursive: true });
  }

  async remove(path: string): Promise<void> {
    const abs = this.abs(path, "remove");
    const st = await this.lstat(path);
    if (st === undefined) return;
    try {
      if (st.kind === "dir") await fsp.rmdir(abs);
      else await fsp.unlink(abs);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
  }

  async setTimes(path: string, mtimeMs: number): Promise<void> {
    const t = mtimeMs / 1000;
    await fsp.utimes(this.abs(path, "setTimes"), t, t);
  }

  async setMode(path: string, mode: number): Promise<void> {
    await fsp.chmod(this.abs(path, "setMode"), mode & 0o777);
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
