/**
 * `ErrorFs`: wraps any `Fs` and makes chosen calls fail with errno-style errors (Syncthing's
 * errorfs), so that disk-full, I/O-error and permission paths of the engine and scanner are
 * testable in milliseconds.
 *
 * A rule matches a call by method and/or path predicate; it lets its first `after` matching
 * calls through, then fails the next `times` ones (default: all). With `afterBytes`, a matching
 * `read` or `writeTemp` starts normally and fails once that many bytes have streamed, which is
 * what a disk filling up mid-write looks like; the inner `writeTemp` must then clean up.
 * Rules are checked in order; the first that decides to fail wins. Non-matching calls, and
 * everything after a rule is spent, go straight to the inner Fs.
 */
import { fsError, type ErrnoCode, type Fs, type FsMethod, type ReadOptions, type Stat, type TempAttrs } from "./types.ts";

export type InjectedCode = Extract<ErrnoCode, "ENOSPC" | "EIO" | "EACCES">;

export interface ErrorRule {
  /** Methods the rule applies to (default: every method). */
  readonly methods?: readonly FsMethod[];
  /** Paths the rule applies to; for `rename`, either path matching is enough. */
  readonly path?: (path: string) => boolean;
  /** Matching calls to let through before failing (default 0). */
  readonly after?: number;
  /** How many matching calls to fail, once `after` is used up (default Infinity). */
  readonly times?: number;
  /** The error (default EIO). */
  readonly code?: InjectedCode;
  /** For `read` and `writeTemp`: fail the stream after this many bytes, not the call. */
  readonly afterBytes?: number;
}

interface RuleState {
  readonly rule: ErrorRule;
  seen: number;
  failed: number;
}

export class ErrorFs implements Fs {
  readonly root: string;
  private readonly rules: RuleState[];
  /** Every call made, in order (method and first path), for assertions. */
  readonly calls: Array<{ method: FsMethod; path: string }> = [];
  /** How many calls (or streams) were made to fail. */
  failures = 0;

  constructor(
    private readonly inner: Fs,
    rules: ErrorRule | readonly ErrorRule[],
  ) {
    this.root = inner.root;
    this.rules = (Array.isArray(rules) ? rules : [rules]).map((rule: ErrorRule) => ({ rule, seen: 0, failed: 0 }));
  }

  /** Whether this call must fail, and how (counts the call against every matching rule). */
  private decide(method: FsMethod, paths: readonly string[]): ErrorRule | undefined {
    this.calls.push({ method, path: paths[0] ?? "" });
    let hit: ErrorRule | undefined;
    for (const st of this.rules) {
      const r = st.rule;
      if (r.methods !== undefined && !r.methods.includes(method)) continue;
      if (r.path !== undefined && !paths.some(r.path)) continue;
      st.seen++;
      if (hit !== undefined || st.seen <= (r.after ?? 0) || st.failed >= (r.times ?? Infinity)) continue;
      st.failed++;
      hit = r;
    }
    return hit;
  }

  private check(method: FsMethod, ...paths: string[]): void {
    const r = this.decide(method, paths);
    if (r === undefined) return;
    this.failures++;
    throw fsError(r.code ?? "EIO", method, paths[0] ?? "");
  }

  /** Counts `data` through, failing after `limit` bytes (pieces are cut at the limit). */
  private async *limited(data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, r: ErrorRule, method: FsMethod, path: string): AsyncIterable<Uint8Array> {
    let left = r.afterBytes ?? 0;
    for await (const piece of data) {
      if (piece.length > left) {
        if (left > 0) yield piece.subarray(0, left);
        this.failures++;
        throw fsError(r.code ?? "EIO", method, path);
      }
      left -= piece.length;
      yield piece;
    }
  }

  lstat(path: string): Promise<Stat | undefined> {
    return this.run(() => this.check("lstat", path), () => this.inner.lstat(path));
  }
  readdir(path: string): Promise<string[]> {
    return this.run(() => this.check("readdir", path), () => this.inner.readdir(path));
  }
  async *read(path: string, opts?: ReadOptions): AsyncIterable<Uint8Array> {
    const r = this.decide("read", [path]);
    if (r !== undefined && r.afterBytes === undefined) {
      this.failures++;
      throw fsError(r.code ?? "EIO", "read", path);
    }
    const data = this.inner.read(path, opts);
    yield* r === undefined ? data : this.limited(data, r, "read", path);
  }
  readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.run(() => this.check("readRange", path), () => this.inner.readRange(path, offset, length));
  }
  async writeTemp(dir: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, attrs?: TempAttrs): Promise<string> {
    const r = this.decide("writeTemp", [dir]);
    if (r !== undefined && r.afterBytes === undefined) {
      this.failures++;
      throw fsError(r.code ?? "EIO", "writeTemp", dir);
    }
    return this.inner.writeTemp(dir, r === undefined ? data : this.limited(data, r, "writeTemp", dir), attrs);
  }
  rename(from: string, to: string): Promise<void> {
    return this.run(() => this.check("rename", from, to), () => this.inner.rename(from, to));
  }
  fsyncDir(dir: string): Promise<void> {
    return this.run(() => this.check("fsyncDir", dir), () => this.inner.fsyncDir(dir));
  }
  mkdir(path: string): Promise<void> {
    return this.run(() => this.check("mkdir", path), () => this.inner.mkdir(path));
  }
  remove(path: string): Promise<void> {
    return this.run(() => this.check("remove", path), () => this.inner.remove(path));
  }
  setTimes(path: string, mtimeMs: number): Promise<void> {
    return this.run(() => this.check("setTimes", path), () => this.inner.setTimes(path, mtimeMs));
  }
  setMode(path: string, mode: number): Promise<void> {
    return this.run(() => this.check("setMode", path), () => this.inner.setMode(path, mode));
  }
  exists(): Promise<boolean> {
    return this.run(() => this.check("exists", ""), () => this.inner.exists());
  }

  /** Failures surface as rejected promises, never as synchronous throws. */
  private async run<T>(check: () => void, call: () => Promise<T>): Promise<T> {
    check();
    return call();
  }
}
