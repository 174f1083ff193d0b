/**
 * The client's filesystem interface (STYLE.md item 9, after Syncthing's `fs.Filesystem`): the
 * sync engine and the scanner touch a shared folder only through an `Fs`, so the same code runs
 * on disk (`RealFs`), in RAM (`MemoryFs`) and with injected failures (`ErrorFs`).
 *
 * Invariants every implementation keeps (tests/unit/client-fs.test.ts is the contract):
 * - Paths are relative to the root, `/`-separated, never absolute, never with a `..` component;
 *   `""` is the root. They are on-disk names: usually the NFC path the protocol checked, but the
 *   scanner passes the name it read from disk (`diskPath`) where that differs (NFD on macOS).
 * - `lstat` never follows a symlink, and a missing path is `undefined`, not an error.
 * - Content reaches its final name only by `writeTemp` (same directory, exclusive create,
 *   fsynced) then `rename` (atomic replace), so a crash leaves the old file or the new one,
 *   never a torn one, and at worst a `.xshare-tmp-*` file that the scanner never reports.
 * - Failures are errno-style `Error`s with `code` (`ENOENT`, `EACCES`, `ENOSPC`, `EIO`, ...), as
 *   node:fs throws them, so callers branch on `errorCode(e)` whatever the implementation.
 */

export type Kind = "file" | "dir" | "symlink" | "other";

export interface Stat {
  readonly kind: Kind;
  /** Bytes of content (files); implementation-defined for other kinds. */
  readonly size: number;
  /**
   * Modification time, ms since the epoch, as the filesystem reports it: may carry a fraction
   * (ns clocks). Keep it raw in the local index so sub-millisecond edits are noticed; round only
   * for the wire.
   */
  readonly mtimeMs: number;
  /** Inode number (equality only: may lose precision above 2^53 on exotic filesystems). */
  readonly ino: number;
  /** Permission bits only (`& 0o777`). */
  readonly mode: number;
}

export interface ReadOptions {
  /** First byte (default 0). */
  readonly start?: number;
  /** Last byte, inclusive (default: end of file), as node's createReadStream. */
  readonly end?: number;
  /**
   * Preferred bytes per piece (a hint: an implementation may yield smaller ones). Large files
   * read faster in large pieces; small ones should not get a large buffer.
   */
  readonly piece?: number;
  /**
   * The caller is done with each piece when it asks for the next one, so an implementation may
   * read into the same few buffers again (no garbage per piece). Default: every piece is the
   * caller's to keep.
   */
  readonly reuse?: boolean;
}

/** Every method of `Fs`, for rules (ErrorFs) and logs. */
export type FsMethod =
  | "lstat"
  | "readdir"
  | "read"
  | "readRange"
  | "writeTemp"
  | "rename"
  | "fsyncDir"
  | "mkdir"
  | "remove"
  | "setTimes"
  | "setMode"
  | "exists";

export interface Fs {
  /** Absolute root, for messages and logs only. */
  readonly root: string;
  /** Never follows symlinks; `undefined` when the path does not exist. */
  lstat(path: string): Promise<Stat | undefined>;
  /** Names in the directory, unsorted, as the filesystem spells them; `""` is the root. */
  readdir(path: string): Promise<string[]>;
  /**
   * Streams the file's bytes in pieces of bounded size (never the whole file at once). Each
   * yielded array belongs to the caller. Errors (ENOENT, EACCES) surface on first iteration.
   */
  read(path: string, opts?: ReadOptions): AsyncIterable<Uint8Array>;
  /** Up to `length` bytes from `offset`; shorter only when the file ends first. */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Creates `dir/.xshare-tmp-<random>` exclusively (O_EXCL), writes `data`, fsyncs and closes
   * it, and returns its relative path. On any failure the temp file is removed and the error
   * rethrown, so a failed write (ENOSPC) leaves nothing behind. Each piece of `data` is written
   * (or copied) before the next is asked for: the producer may then reuse its buffer. With
   * `attrs`, the file gets those permission bits and that mtime before it is closed (one call
   * each on the open file, instead of setMode and setTimes by path afterwards).
   */
  writeTemp(dir: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, attrs?: TempAttrs): Promise<string>;
  /** Atomically replaces `to` with `from` (same filesystem; the engine renames within a folder). */
  rename(from: string, to: string): Promise<void>;
  /** Makes a directory's entries (a rename, a create) durable. */
  fsyncDir(dir: string): Promise<void>;
  /** Creates the directory and any missing parents; fine if it exists. */
  mkdir(path: string): Promise<void>;
  /** Removes a file, symlink or empty directory; fine if absent (ENOTEMPTY if not empty). */
  remove(path: string): Promise<void>;
  /** Sets the modification time (and the access time to the same value). */
  setTimes(path: string, mtimeMs: number): Promise<void>;
  /** Sets the permission bits (`& 0o777`). */
  setMode(path: string, mode: number): Promise<void>;
  /** Whether the root exists and is a directory (an unmounted disk must not look empty). */
  exists(): Promise<boolean>;
}

/** The errno codes the client's filesystems raise themselves (node:fs raises more). */
export type ErrnoCode = "ENOENT" | "EEXIST" | "ENOTDIR" | "EISDIR" | "ENOTEMPTY" | "EACCES" | "ENOSPC" | "EIO" | "EINVAL";

const ERRNO: Readonly<Record<ErrnoCode, number>> = {
  ENOENT: -2,
  EIO: -5,
  EACCES: -13,
  EEXIST: -17,
  ENOTDIR: -20,
  EISDIR: -21,
  EINVAL: -22,
  ENOSPC: -28,
  ENOTEMPTY: -39,
};

export interface FsError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;
}

/** What `writeTemp` sets on the file it writes. */
export interface TempAttrs {
  /** Permission bits (`& 0o777`). */
  readonly mode?: number;
  /** Modification time (the access time gets the same). */
  readonly mtimeMs?: number;
  /**
   * Called with the temp file's relative path once it is created, before any byte is written
   * (the engine records it, so that a crash leaves a partial it can find again).
   */
  readonly opened?: (path: string) => void;
}

/** An error shaped like node:fs's (`ENOSPC: no space left on device, writeTemp 'a/b'`). */
export function fsError(code: ErrnoCode, syscall: string, path: string, text: string = DEFAULT_TEXT[code]): FsError {
  const err = new Error(`${code}: ${text}, ${syscall} '${path}'`) as Error & Record<string, unknown>;
  err.code = code;
  err.errno = ERRNO[code];
  err.syscall = syscall;
  err.path = path;
  return err as unknown as FsError;
}

const DEFAULT_TEXT: Readonly<Record<ErrnoCode, string>> = {
  ENOENT: "no such file or directory",
  EEXIST: "file already exists",
  ENOTDIR: "not a directory",
  EISDIR: "illegal operation on a directory",
  ENOTEMPTY: "directory not empty",
  EACCES: "permission denied",
  ENOSPC: "no space left on device",
  EIO: "i/o error",
  EINVAL: "invalid argument",
};

/** The errno code of an error from any `Fs` (or node:fs), if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** Joins a relative directory and a name (`""` is the root). */
export function joinPath(dir: string, name: string): string {
  return dir === "" ? name : dir + "/" + name;
}

/** The parent of a relative path (`""` for a top-level name). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/**
 * Throws EINVAL unless `path` is a relative path that stays under the root: a last line of
 * defence, the protocol's checkPath has already run on anything that came from a peer. Only
 * what could escape is refused (a name like `a:b` is legal on Linux and the scanner must be
 * able to see it to skip it), plus, on Windows, backslashes and drive letters.
 */
export function assertRelative(path: string, syscall: string): void {
  if (path.startsWith("/") || path.includes("\0") || (WINDOWS && (path.includes("\\") || /^[A-Za-z]:/.test(path)))) {
    throw fsError("EINVAL", syscall, path, "not a relative path");
  }
  if (path.includes("..") && path.split(WINDOWS ? /[\\/]/ : "/").includes("..")) throw fsError("EINVAL", syscall, path, "path escapes the root");
}

const WINDOWS = process.platform === "win32";
