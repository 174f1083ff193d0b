/**
 * The scanner: lists what a shared folder holds right now, as index material for the engine.
 *
 * `scan(fs, previous)` walks the folder and returns every file and directory that may be
 * synced (sorted by NFC path in code-unit order: parents before children), with hash and chunk
 * list (XEP-draft.md §§ 5.5, 5.7), and everything it refused to sync in `skipped`, with why.
 *
 * Invariants:
 * - A file whose kind, size, mtime and inode equal its `previous` entry is not read: hash and
 *   chunks are copied. The rescan of an unchanged folder is readdir + lstat only.
 * - Other files are read once, streamed through `Chunker` (never held whole; the content id
 *   comes from the chunk list): large ones `concurrency` at a time in 4 MiB pieces, small ones
 *   (one read piece, synchronous calls) 16 at a time, so memory stays bounded. With `onChunk`
 *   each chunk's bytes are handed on as they are cut (the engine uploads them meanwhile).
 *   Hashing runs on the calling thread, which is given back to the event loop every 10 ms. A
 *   file whose size or mtime moved while being read is read once more, then skipped as
 *   "changing".
 * - Paths are NFC and pass `checkPath` (§ 5.4); `diskPath` keeps the on-disk spelling (NFD on
 *   macOS) for opening. Names that fold to the same key (§ 5.4) in one directory: the first in
 *   sorted order is kept, the others skipped as "case-collision".
 * - The state folder `.xshare` at the root and `.xshare-tmp-*` files anywhere are neither
 *   entries nor skipped. `.xshareignore` at the root (gitignore syntax, case-insensitive, so
 *   every platform ignores the same names) is itself synced and can never ignore itself.
 * - Errors on one entry never fail the scan: they become `skipped` (a skipped path must not be
 *   read as deleted: see `coveredBySkip`). Only the root's own readdir, an unreadable ignore
 *   file and an aborted `signal` reject the scan.
 */
import ignore, { type Ignore } from "ignore";
import { Chunker, DEFAULT_CHUNKING, type ChunkerOptions } from "../protocol/chunker.ts";
import { type ChunkRef, type EntryKind, contentId } from "../protocol/file.ts";
import { checkPath, foldKey, isPathRejection, MAX_PATH_BYTES, STATE_DIR, TEMP_PREFIX, utf8Bytes, type PathRejection } from "../protocol/paths.ts";
import { ShareError } from "../protocol/errors.ts";
import { errorCode, joinPath, type Fs, type Stat } from "./fs/types.ts";

/** The ignore file, at the root of a shared folder. */
export const IGNORE_FILE = ".xshareignore";

/** What the local index knew about a path at the previous scan. */
export interface Known {
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly mode: number;
  readonly hash: string;
  readonly chunks: readonly ChunkRef[];
}

export interface ScannedEntry extends Known {
  /** NFC path, accepted by `checkPath`. */
  readonly path: string;
  /** The path as spelled on disk: pass this to `Fs`. The same string as `path` when equal. */
  readonly diskPath: string;
  /**
   * True when the path is new, or anything `Known` records differs from `previous` (the local
   * index needs updating). Whether that is a new version is the engine's call: compare `hash`
   * and `mode` with the index (a touched file with the same content has a new mtime only).
   */
  readonly changed: boolean;
}

export type SkipReason =
  | PathRejection
  | "symlink not synced"
  | "special file not synced"
  | "case-collision"
  | "ignored"
  | "unreadable"
  | "changing"
  | "io-error";

export interface Skipped {
  /** NFC path where possible, for display and for `coveredBySkip`. */
  readonly path: string;
  readonly reason: SkipReason;
  /** The errno code for "io-error". */
  readonly detail?: string;
}

export interface ScanResult {
  readonly entries: ScannedEntry[];
  readonly skipped: Skipped[];
  /** `.xshare-tmp-*` files found (disk paths): leftovers of an interrupted write, or one in progress. */
  readonly temps: string[];
}

export interface ScanOptions {
  readonly chunking?: ChunkerOptions;
  /** Files hashed at once (default 2: one per core of the reference machine). */
  readonly concurrency?: number;
  /** Called after each directory and each hashed file: entries found, bytes hashed so far. */
  readonly onProgress?: (files: number, bytes: number) => void;
  readonly signal?: AbortSignal;
  /**
   * Receives every chunk read while hashing (new or changed files), with its bytes, in file
   * order: the engine uploads them while the scan goes on instead of reading them again. The
   * bytes are valid during the call only (the read buffers are reused): copy what you keep.
   * The scan waits for the promise it returns (back-pressure); it must not reject.
   */
  readonly onChunk?: ChunkSink;
  /**
   * False: nothing is read. A file whose stat does not match `previous` is listed with
   * `changed` and no hash or chunks (for "did anything change?", which the walk answers).
   */
  readonly hash?: boolean;
  /**
   * Hashes of files read before but not in `previous` (e.g. an upload the schedule holds back
   * until its window): a file whose kind, size, mtime and inode match its entry here takes hash
   * and chunks from it without being read. Unlike `previous`, it never makes a file unchanged.
   */
  readonly cache?: KnownLookup;
}

export type ChunkSink = (chunk: ChunkRef, bytes: Uint8Array) => void | Promise<void>;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Entry = Mutable<ScannedEntry> & { drop?: true };

interface Candidate {
  readonly name: string;
  readonly nfc: string;
  st?: Stat | undefined;
  err?: unknown;
}

/** lstat calls in flight per directory. */
const LSTAT_BATCH = 64;
/** Files up to this size are hashed SMALL_PARALLEL at a time (one read piece each at most). */
const SMALL_FILE = 64 * 1024;
const SMALL_PARALLEL = 16;
const ASCII = /^[\x20-\x7e]*$/;
const NO_CHUNKS: readonly ChunkRef[] = Object.freeze([]);
const EMPTY = new Uint8Array(0);

interface Ctx {
  readonly fs: Fs;
  readonly previous: KnownLookup;
  readonly ig: Ignore | undefined;
  readonly opts: ScanOptions;
  readonly entries: Entry[];
  readonly skipped: Skipped[];
  readonly toHash: Array<{ entry: Entry; st: Stat }>;
  readonly temps: string[];
  bytes: number;
  /** When the scan last gave the event loop a turn (performance.now()). */
  slice: number;
}

/** What the scan needs of the previous index: a map, or a view that builds entries on demand. */
export type KnownLookup = Pick<ReadonlyMap<string, Known>, "get">;

export async function scan(fs: Fs, previous: KnownLookup, opts: ScanOptions = {}): Promise<ScanResult> {
  const ctx: Ctx = { fs, previous, ig: await loadIgnore(fs), opts, entries: [], skipped: [], toHash: [], temps: [], bytes: 0, slice: performance.now() };
  await walk(ctx, "", "");
  if (opts.hash !== false) await hashAll(ctx);
  const entries: ScannedEntry[] = ctx.entries.filter((e) => e.drop !== true);
  entries.sort(byPath);
  ctx.skipped.sort(byPath);
  opts.onProgress?.(entries.length, ctx.bytes);
  return { entries, skipped: ctx.skipped, temps: ctx.temps };
}

/** A predicate: is this path, or one of its parents, in `skipped` (so not to be read as deleted)? */
export function coveredBySkip(skipped: readonly Skipped[]): (path: string) => boolean {
  const set = new Set(skipped.map((s) => s.path));
  return (path) => {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf("/"))) {
      if (set.has(p)) return true;
      if (!p.includes("/")) return false;
    }
  };
}

/**
 * The folder's ignore rules as a predicate, for paths that are not on disk yet (remote
 * versions): true when the path or one of its folders is ignored. `.xshareignore` itself never is.
 */
export async function ignoredBy(fs: Fs): Promise<(path: string, kind: "file" | "dir") => boolean> {
  const ig = await loadIgnore(fs);
  if (!ig) return () => false;
  return (path, kind) => {
    if (path === IGNORE_FILE) return false;
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) if (ig.ignores(`${parts.slice(0, i).join("/")}/`)) return true;
    return ig.ignores(kind === "dir" ? `${path}/` : path);
  };
}

async function loadIgnore(fs: Fs): Promise<Ignore | undefined> {
  const st = await fs.lstat(IGNORE_FILE);
  if (st?.kind !== "file") return undefined;
  const pieces: Uint8Array[] = [];
  for await (const piece of fs.read(IGNORE_FILE)) pieces.push(piece);
  return ignore({ ignorecase: true }).add(Buffer.concat(pieces).toString("utf8"));
}

/** Lists one directory (already known to be one), then recurses into its subdirectories. */
async function walk(ctx: Ctx, dirPath: string, dirDisk: string, dirEntry?: Entry): Promise<void> {
  ctx.opts.signal?.throwIfAborted();
  let names: string[];
  try {
    names = await ctx.fs.readdir(dirDisk);
  } catch (err) {
    if (dirEntry === undefined) throw err;
    dirEntry.drop = true;
    skipError(ctx, dirPath, err);
    return;
  }
  const cands: Candidate[] = [];
  for (const name of names) {
    if (name.startsWith(TEMP_PREFIX)) ctx.temps.push(joinPath(dirDisk, name));
    if (name.startsWith(TEMP_PREFIX) || (dirDisk === "" && name === STATE_DIR)) continue;
    cands.push({ name, nfc: ASCII.test(name) ? name : name.normalize("NFC") });
  }
  cands.sort(byName);
  const valid = cands.filter((c) => {
    const reason = nameRejection(c.nfc, dirPath);
    if (reason !== undefined) ctx.skipped.push({ path: joinPath(dirPath, c.nfc), reason });
    return reason === undefined;
  });
  for (let i = 0; i < valid.length; i += LSTAT_BATCH) {
    await Promise.all(
      valid.slice(i, i + LSTAT_BATCH).map((c) =>
        ctx.fs.lstat(joinPath(dirDisk, c.name)).then(
          (st) => void (c.st = st),
          (err: unknown) => void (c.err = err),
        ),
      ),
    );
  }
  const keys = new Set<string>();
  let lastPath = "";
  const subdirs: Array<[string, string, Entry]> = [];
  for (const c of valid) {
    const disk = joinPath(dirDisk, c.name);
    const path = c.nfc === c.name && dirPath === dirDisk ? disk : joinPath(dirPath, c.nfc);
    const st = c.st;
    if (c.err !== undefined) skipError(ctx, path, c.err);
    if (st === undefined) continue; // vanished since readdir
    if (ctx.ig !== undefined && path !== IGNORE_FILE && ctx.ig.ignores(st.kind === "dir" ? path + "/" : path)) {
      ctx.skipped.push({ path, reason: "ignored" });
    } else if (st.kind === "symlink") {
      ctx.skipped.push({ path, reason: "symlink not synced" });
    } else if (st.kind === "other") {
      ctx.skipped.push({ path, reason: "special file not synced" });
    } else {
      const key = ASCII.test(c.nfc) ? c.nfc.toLowerCase() : foldKey(c.nfc);
      if (keys.has(key)) {
        // Two disk spellings of one NFC name: the loser is named as on disk, to tell them apart.
        ctx.skipped.push({ path: path === lastPath ? joinPath(dirPath, c.name) : path, reason: "case-collision" });
        continue;
      }
      keys.add(key);
      lastPath = path;
      const e = entry(ctx, path, disk, st);
      if (st.kind === "dir") subdirs.push([path, disk, e]);
    }
  }
  ctx.opts.onProgress?.(ctx.entries.length, ctx.bytes);
  for (const [path, disk, e] of subdirs) await walk(ctx, path, disk, e);
}

/** Why an NFC name in `dirPath` cannot be synced, if it cannot. */
function nameRejection(nfc: string, dirPath: string): PathRejection | undefined {
  try {
    checkPath(nfc);
  } catch (err) {
    const reason = err instanceof ShareError ? err.attrs.reason : undefined;
    // Only a first component can be a drive letter; deeper down `x:` is just a colon.
    if (reason === "drive-letter" && dirPath !== "") return "colon";
    if (reason !== undefined && isPathRejection(reason)) return reason;
    throw err;
  }
  const len = dirPath.length + 1 + nfc.length;
  if (len * 3 > MAX_PATH_BYTES && utf8Bytes(dirPath) + 1 + utf8Bytes(nfc) > MAX_PATH_BYTES) return "path-too-long";
  return undefined;
}

/** Records a file or directory; queues a file for hashing unless `previous` proves it unchanged. */
function entry(ctx: Ctx, path: string, diskPath: string, st: Stat): Entry {
  const prev = ctx.previous.get(path);
  const { kind, mtimeMs, ino, mode } = st as Stat & { kind: EntryKind };
  const e: Entry = { path, diskPath, kind, size: 0, mtimeMs, ino, mode, hash: "", chunks: NO_CHUNKS, changed: true };
  if (kind === "dir") {
    e.changed = prev === undefined || prev.kind !== "dir" || prev.mode !== mode;
  } else if (prev?.kind === "file" && prev.size === st.size && prev.mtimeMs === mtimeMs && prev.ino === ino) {
    e.size = st.size;
    e.hash = prev.hash;
    e.chunks = prev.chunks;
    e.changed = prev.mode !== mode;
  } else {
    e.size = st.size;
    const c = ctx.opts.cache?.get(path);
    if (kind === "file" && c?.kind === "file" && c.size === st.size && c.mtimeMs === mtimeMs && c.ino === ino) {
      e.hash = c.hash;
      e.chunks = c.chunks;
    } else ctx.toHash.push({ entry: e, st });
  }
  ctx.entries.push(e);
  return e;
}

function skipError(ctx: Ctx, path: string, err: unknown): void {
  const code = errorCode(err);
  if (code === "ENOENT" || code === "ENOTDIR") return; // vanished: the next scan sees it gone
  if (code === "EACCES" || code === "EPERM") ctx.skipped.push({ path, reason: "unreadable" });
  else if (code !== undefined) ctx.skipped.push({ path, reason: "io-error", detail: code });
  else throw err;
}

/**
 * Large files `concurrency` at a time (CPU-bound: hashing runs on this thread, reads overlap
 * it); small ones SMALL_PARALLEL at a time beside them, since each is a few syscall round
 * trips and at most one read piece: latency-bound, and memory stays bounded either way.
 */
async function hashAll(ctx: Ctx): Promise<void> {
  const small = ctx.toHash.filter((j) => j.st.size <= SMALL_FILE);
  const large = ctx.toHash.filter((j) => j.st.size > SMALL_FILE);
  await Promise.all([pool(ctx, large, ctx.opts.concurrency ?? 2), pool(ctx, small, SMALL_PARALLEL)]);
}

async function pool(ctx: Ctx, jobs: ReadonlyArray<{ entry: Entry; st: Stat }>, width: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      ctx.opts.signal?.throwIfAborted();
      await hashEntry(ctx, job.entry, job.st);
      ctx.opts.onProgress?.(ctx.entries.length, ctx.bytes);
      await breathe(ctx);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, jobs.length)) }, worker));
}

/** How long the scan may keep the event loop before letting I/O callbacks run (ms). */
const SLICE_MS = 10;

/**
 * Lets timers and I/O run (uploads started by `onChunk`, a connection's keep-alives) when the
 * scan has held the thread for SLICE_MS: small files are read with synchronous calls, and
 * awaiting settled promises alone never gives the event loop a turn.
 */
async function breathe(ctx: Ctx): Promise<void> {
  const now = performance.now();
  if (now - ctx.slice < SLICE_MS) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  ctx.slice = performance.now();
}

/** Hashes one file, re-reading it once if it moved under us; fills `e` or drops it. */
async function hashEntry(ctx: Ctx, e: Entry, walked: Stat): Promise<void> {
  let before = walked;
  for (let attempt = 0; attempt < 2; attempt++) {
    let r: FileHash;
    let after: Stat | undefined;
    try {
      r = await hashFile(ctx.fs, e.diskPath, { chunking: ctx.opts.chunking, onBytes: (n) => (ctx.bytes += n), onChunk: ctx.opts.onChunk, sizeHint: before.size });
      after = await ctx.fs.lstat(e.diskPath);
    } catch (err) {
      e.drop = true;
      return skipError(ctx, e.path, err);
    }
    if (after?.kind !== "file") {
      e.drop = true; // gone (or replaced by a directory) meanwhile: the next scan sees it
      return;
    }
    if (after.size === before.size && after.mtimeMs === before.mtimeMs && r.size === after.size) {
      Object.assign(e, { size: after.size, mtimeMs: after.mtimeMs, ino: after.ino, mode: after.mode, hash: r.hash, chunks: r.chunks });
      return;
    }
    before = after;
  }
  e.drop = true;
  ctx.skipped.push({ path: e.path, reason: "changing" });
}

export interface FileHash {
  /** The content id (protocol/file.ts `contentId`), lowercase hex. */
  readonly hash: string;
  readonly chunks: ChunkRef[];
  /** Bytes read. */
  readonly size: number;
}

/** Read pieces for files larger than SMALL_FILE: fewer, larger reads (and one ahead). */
const LARGE_PIECE = 4 * 1024 * 1024;

export interface HashFileOptions {
  readonly chunking?: ChunkerOptions | undefined;
  /** Called after each piece read, with its length. */
  readonly onBytes?: ((n: number) => void) | undefined;
  /** Receives each chunk with its bytes (see ScanOptions.onChunk). */
  readonly onChunk?: ChunkSink | undefined;
  /** The file's expected size: picks the read piece size. */
  readonly sizeHint?: number | undefined;
}

/**
 * One read pass over a file: its chunk list and content id, piece by piece, never holding the
 * file (with `onChunk`, the bytes of chunks handed over live until the sink lets them go).
 */
export async function hashFile(fs: Fs, path: string, opts: HashFileOptions = {}): Promise<FileHash> {
  const chunker = new Chunker(opts.chunking ?? DEFAULT_CHUNKING);
  const chunks: ChunkRef[] = [];
  const sink = opts.onChunk;
  // Bytes read but not yet handed to the sink (they belong to the chunk being cut): held[first..].
  let held: Uint8Array[] = [];
  let first = 0;
  const take = (n: number): Uint8Array => {
    const head = held[first];
    if (head && head.length >= n) {
      const out = head.subarray(0, n);
      if (head.length === n) held[first++] = EMPTY;
      else held[first] = head.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; ) {
      const p = held[first]!;
      const k = Math.min(p.length, n - at);
      out.set(k === p.length ? p : p.subarray(0, k), at);
      at += k;
      if (k === p.length) held[first++] = EMPTY;
      else held[first] = p.subarray(k);
    }
    return out;
  };
  const cut = async (done: readonly { hash: ChunkRef["hash"]; size: number }[]) => {
    for (const c of done) {
      const ref = { hash: c.hash, size: c.size };
      chunks.push(ref);
      if (sink) await sink(ref, take(c.size));
    }
  };
  let size = 0;
  // Large files are read into two reused buffers: each piece is done with before the next is
  // asked for (the sink copies what it keeps; the bytes of a chunk still being cut are copied
  // out here).
  const piece = (opts.sizeHint ?? 0) > SMALL_FILE ? LARGE_PIECE : undefined;
  for await (const bytes of fs.read(path, piece ? { piece, reuse: true } : {})) {
    if (sink) held.push(bytes);
    await cut(chunker.push(bytes));
    if (piece && sink) {
      const rest = held.slice(first);
      held = rest.length ? [Buffer.concat(rest)] : [];
      first = 0;
    } else if (first > 1024) {
      held = held.slice(first);
      first = 0;
    }
    size += bytes.length;
    opts.onBytes?.(bytes.length);
  }
  await cut(chunker.finish());
  return { hash: contentId(chunks), chunks, size };
}

/** NFC order; between two spellings of one NFC name, the one already in NFC first. */
function byName(a: Candidate, b: Candidate): number {
  if (a.nfc !== b.nfc) return a.nfc < b.nfc ? -1 : 1;
  if ((a.name === a.nfc) !== (b.name === b.nfc)) return a.name === a.nfc ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
