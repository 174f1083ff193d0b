/**
 * `MemoryFs`: an in-RAM `Fs` (Syncthing's fakefs) so that engine and scanner tests run in
 * milliseconds, with the behaviour that matters for sync modelled faithfully:
 * - inodes that survive in-place writes and renames, mtimes from an injectable clock, modes;
 * - symlinks and "other" nodes (fifos) that lstat reports and nothing follows;
 * - an optional case-insensitive mode (names compared by `foldKey`, so also normalization-
 *   insensitive like APFS; the first spelling is kept, as NTFS and APFS do);
 * - owner permission bits: without 0o400 a file cannot be read nor a directory listed
 *   (EACCES), as for a non-root user;
 * - an open `read` keeps its node (like an fd) and sees writes made while it runs;
 * - `unmount()` makes the root vanish (`exists()` false, every call ENOENT).
 * Divergence from a disk: a symlink in the middle of a path is not followed (ENOTDIR).
 * Test helpers (`writeFile`, `symlink`, `special`, `readFile`, `unmount`) are outside `Fs`.
 */
import { randomBytes } from "node:crypto";
import { foldKey, TEMP_PREFIX } from "../../protocol/paths.ts";
import { assertRelative, fsError, joinPath, parentPath, type Fs, type Kind, type ReadOptions, type Stat, type TempAttrs } from "./types.ts";

interface Node {
  kind: Kind;
  ino: number;
  mode: number;
  mtimeMs: number;
  data: Uint8Array;
  /** Directory entries by key (name, or its fold key when case-insensitive). */
  children: Map<string, { name: string; node: Node }> | null;
  target: string;
}

export interface MemoryFsOptions {
  /** Compare names by `foldKey` (NTFS/APFS-like). Default false (Linux-like). */
  readonly caseInsensitive?: boolean;
  /** Clock for mtimes of created and written nodes. Default Date.now. */
  readonly now?: () => number;
  /** Size of the pieces `read` yields. Default 64 KiB. */
  readonly readPiece?: number;
  /** Reported as `root`. Default "memory:/". */
  readonly root?: string;
}

interface Located {
  parent: Node;
  key: string;
  name: string;
  node: Node | undefined;
}

export class MemoryFs implements Fs {
  readonly root: string;
  private readonly ci: boolean;
  private readonly now: () => number;
  private readonly piece: number;
  private nextIno = 1;
  private top: Node;
  private mounted = true;

  constructor(opts: MemoryFsOptions = {}) {
    this.root = opts.root ?? "memory:/";
    this.ci = opts.caseInsensitive ?? false;
    this.now = opts.now ?? Date.now;
    this.piece = opts.readPiece ?? 64 * 1024;
    this.top = this.node("dir", 0o755);
  }

  // ---- Fs ----

  async lstat(path: string): Promise<Stat | undefined> {
    const n = this.find(path, "lstat", false);
    if (n === undefined) return undefined;
    const size = n.kind === "file" ? n.data.length : n.kind === "symlink" ? n.target.length : 0;
    return { kind: n.kind, size, mtimeMs: n.mtimeMs, ino: n.ino, mode: n.mode };
  }

  async readdir(path: string): Promise<string[]> {
    const n = this.need(path, "readdir");
    if (n.children === null) throw fsError("ENOTDIR", "readdir", path);
    if ((n.mode & 0o400) === 0) throw fsError("EACCES", "readdir", path);
    return [...n.children.values()].map((e) => e.name);
  }

  async *read(path: string, opts: ReadOptions = {}): AsyncIterable<Uint8Array> {
    const n = this.readable(path, "read");
    let pos = opts.start ?? 0;
    const stop = opts.end === undefined ? Infinity : opts.end + 1;
    while (pos < stop && pos < n.data.length) {
      const piece = n.data.slice(pos, Math.min(pos + this.piece, stop, n.data.length));
      pos += piece.length;
      yield piece;
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.readable(path, "readRange").data.slice(offset, offset + length);
  }

  async writeTemp(dir: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, attrs: TempAttrs = {}): Promise<string> {
    const d = this.need(dir, "writeTemp");
    if (d.children === null) throw fsError("ENOTDIR", "writeTemp", dir);
    let rel: string;
    do rel = joinPath(dir, TEMP_PREFIX + randomBytes(8).toString("hex"));
    while (this.find(rel, "writeTemp", false) !== undefined);
    const file = this.create(rel, "file", 0o644, "writeTemp");
    try {
      attrs.opened?.(rel);
      const pieces: Uint8Array[] = [];
      // A copy: the producer may reuse the piece once the next is asked for (Buffer.slice would not copy).
      for await (const p of data) pieces.push(Uint8Array.prototype.slice.call(p));
      file.data = Buffer.concat(pieces);
      file.mtimeMs = attrs.mtimeMs ?? this.now();
      if (attrs.mode !== undefined) file.mode = attrs.mode & 0o777;
    } catch (err) {
      await this.remove(rel);
      throw err;
    }
    return rel;
  }

  async rename(from: string, to: string): Promise<void> {
    const src = this.locate(from, "rename");
    if (src.node === undefined) throw fsError("ENOENT", "rename", from);
    const dst = this.locate(to, "rename");
    if (src.node === dst.node && src.parent === dst.parent) {
      dst.parent.children!.set(dst.key, { name: dst.name, node: src.node }); // a case-only rename
      return;
    }
    if (src.node.kind === "dir" && (to + "/").startsWith(from + "/")) throw fsError("EINVAL", "rename", to);
    const old = dst.node;
    if (old !== undefined) {
      if (old.kind === "dir" && src.node.kind !== "dir") throw fsError("EISDIR", "rename", to);
      if (old.kind !== "dir" && src.node.kind === "dir") throw fsError("ENOTDIR", "rename", to);
      if (old.children !== null && old.children.size > 0) throw fsError("ENOTEMPTY", "rename", to);
    }
    src.parent.children!.delete(src.key);
    dst.parent.children!.set(dst.key, { name: dst.name, node: src.node });
    src.parent.mtimeMs = dst.parent.mtimeMs = this.now();
  }

  async fsyncDir(dir: string): Promise<void> {
    if (this.need(dir, "fsyncDir").kind !== "dir") throw fsError("ENOTDIR", "fsyncDir", dir);
    this.dirSyncs++;
  }

  async mkdir(path: string): Promise<void> {
    this.mkdirs(path, "mkdir");
  }

  async remove(path: string): Promise<void> {
    const at = this.locate(path, "remove", true);
    if (at === undefined || at.node === undefined) return;
    if (at.node.children !== null && at.node.children.size > 0) throw fsError("ENOTEMPTY", "remove", path);
    at.parent.children!.delete(at.key);
    at.parent.mtimeMs = this.now();
  }

  async setTimes(path: string, mtimeMs: number): Promise<void> {
    this.need(path, "setTimes").mtimeMs = mtimeMs;
  }

  async setMode(path: string, mode: number): Promise<void> {
    this.need(path, "setMode").mode = mode & 0o777;
  }

  async exists(): Promise<boolean> {
    return this.mounted;
  }

  // ---- test helpers ----

  /** How many times `fsyncDir` was called (tests assert durability steps). */
  dirSyncs = 0;

  /**
   * Creates or overwrites a file, creating parents. Overwriting keeps the inode (an in-place
   * write, as an editor without atomic save does); the mtime is `opts.mtimeMs` or the clock.
   */
  writeFile(path: string, data: Uint8Array | string, opts: { mtimeMs?: number; mode?: number } = {}): void {
    this.mkdirs(parentPath(path), "writeFile");
    const at = this.locate(path, "writeFile");
    const n = at.node ?? this.create(path, "file", opts.mode ?? 0o644, "writeFile");
    if (n.kind !== "file") throw fsError("EISDIR", "writeFile", path);
    n.data = typeof data === "string" ? Buffer.from(data) : data.slice();
    n.mtimeMs = opts.mtimeMs ?? this.now();
    if (opts.mode !== undefined) n.mode = opts.mode & 0o777;
  }

  /** Creates a symlink (its target is stored, never followed). */
  symlink(path: string, target: string): void {
    this.mkdirs(parentPath(path), "symlink");
    this.create(path, "symlink", 0o777, "symlink").target = target;
  }

  /** Creates a node of kind "other" (a fifo, a socket, a device). */
  special(path: string): void {
    this.mkdirs(parentPath(path), "special");
    this.create(path, "other", 0o644, "special");
  }

  /** The whole content of a file. */
  readFile(path: string): Uint8Array {
    return this.readable(path, "readFile").data.slice();
  }

  /** Makes the root vanish (a disk unmounted); `mount()` brings it back unchanged. */
  unmount(): void {
    this.mounted = false;
  }
  mount(): void {
    this.mounted = true;
  }

  // ---- internals ----

  private node(kind: Kind, mode: number): Node {
    const n: Node = { kind, ino: this.nextIno++, mode, mtimeMs: this.now(), data: EMPTY, children: null, target: "" };
    if (kind === "dir") n.children = new Map();
    return n;
  }

  private key(name: string): string {
    return this.ci ? foldKey(name) : name;
  }

  /** Parent directory, key and node (if any) of `path`; throws when the parent is missing. */
  private locate(path: string, syscall: string): Located;
  private locate(path: string, syscall: string, lenient: true): Located | undefined;
  private locate(path: string, syscall: string, lenient = false): Located | undefined {
    if (!this.mounted) throw fsError("ENOENT", syscall, path);
    assertRelative(path, syscall);
    if (path === "") throw fsError("EINVAL", syscall, path, "the root itself");
    const names = path.split("/");
    const name = names.pop()!;
    let dir = this.top;
    for (const part of names) {
      const next = dir.children!.get(this.key(part))?.node;
      if (next === undefined || next.children === null) {
        if (lenient) return undefined;
        throw fsError(next === undefined ? "ENOENT" : "ENOTDIR", syscall, path);
      }
      dir = next;
    }
    const key = this.key(name);
    return { parent: dir, key, name, node: dir.children!.get(key)?.node };
  }

  private find(path: string, syscall: string, strict: boolean): Node | undefined {
    if (path === "" && this.mounted) return this.top;
    const at = strict ? this.locate(path, syscall) : this.locate(path, syscall, true);
    return at?.node;
  }

  private need(path: string, syscall: string): Node {
    const n = this.find(path, syscall, true);
    if (n === undefined) throw fsError("ENOENT", syscall, path);
    return n;
  }

  private readable(path: string, syscall: string): Node {
    const n = this.need(path, syscall);
    if (n.kind === "dir") throw fsError("EISDIR", syscall, path);
    if ((n.mode & 0o400) === 0) throw fsError("EACCES", syscall, path);
    return n;
  }

  private create(path: string, kind: Kind, mode: number, syscall: string): Node {
    const at = this.locate(path, syscall);
    if (at.node !== undefined) throw fsError("EEXIST", syscall, path);
    const n = this.node(kind, mode);
    at.parent.children!.set(at.key, { name: at.name, node: n });
    at.parent.mtimeMs = this.now();
    return n;
  }

  private mkdirs(path: string, syscall: string): void {
    if (path === "") return void this.need("", syscall);
    let sofar = "";
    for (const part of path.split("/")) {
      sofar = joinPath(sofar, part);
      const at = this.locate(sofar, syscall);
      if (at.node === undefined) this.create(sofar, "dir", 0o755, syscall);
      else if (at.node.kind !== "dir") throw fsError("EEXIST", syscall, sofar);
    }
  }
}

const EMPTY = new Uint8Array(0);
