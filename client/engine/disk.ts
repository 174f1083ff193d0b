/**
 * Writing remote versions to disk (XEP-draft.md § 6 rule 7): content is assembled from chunks
 * already on disk (a moved or copied file is not downloaded again) and downloaded ones, written
 * to a temporary file in the same folder (every chunk verified, the chunk list checked against the
 * version's content id first), fsynced, and
 * renamed into place only if the target still looks exactly as the scan saw it. Otherwise the
 * write is abandoned (`LocalChanged`): the next round sees the local edit and keeps both.
 *
 * A large file goes window by window (WINDOW bytes): up to AHEAD windows download at once while
 * the one before them is written, each straight into a reused buffer (`Slabs`) that is then
 * written with a few large writes; memory stays about (AHEAD + 1) × WINDOW whatever the size.
 *
 * A large file's write can stop at a window boundary and resume later (`Resumable`, used by
 * apply.ts for every streamed file): asked to stop (the schedule, before a window that must be
 * downloaded), or when a download fails, the temp file is finished with the windows written so
 * far (a verified prefix) and kept, not renamed (`WriteStopped`). The next attempt reads the
 * chunks it can from such files, each verified by hash like any local chunk, and downloads the
 * rest: a torn, truncated or stale partial costs downloads, never a wrong byte.
 */
import { createHash } from "node:crypto";
import { type ChunkRef, type FileVersion, contentId } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import { errorCode, parentPath, type Fs, type Stat } from "../fs/types.ts";
import { release } from "../release.ts";
import type { OnDisk } from "./plan.ts";

export class LocalChanged extends Error {
  constructor(readonly path: string) {
    super(`${path} changed on disk while syncing; it will be kept and compared again`);
    this.name = "LocalChanged";
  }
}

/** Where a chunk's bytes can be read locally: a file and an offset in it. */
export interface LocalChunk {
  readonly path: string;
  readonly offset: number;
}

/** Chunk hash → a place on disk holding it, from the scan (only files whose content is known). */
export function localChunks(disk: Iterable<OnDisk & { diskPath?: string }>): Map<ChunkHash, LocalChunk> {
  const out = new Map<ChunkHash, LocalChunk>();
  for (const d of disk) {
    if (d.kind !== "file") continue;
    let offset = 0;
    for (const c of d.chunks) {
      if (!out.has(c.hash)) out.set(c.hash, { path: d.diskPath ?? d.path, offset });
      offset += c.size;
    }
  }
  return out;
}

/** What a writer needs: the filesystem, local chunks, and a way to fetch the others. */
export interface ChunkSupply {
  readonly fs: Fs;
  readonly local: ReadonlyMap<ChunkHash, LocalChunk>;
  /** Downloaded chunks waiting to be written (filled by the caller, read here). */
  readonly cache: Map<ChunkHash, Uint8Array>;
  /** Downloads chunks, handing each, verified, to `into` (see `ChunkTarget`). */
  readonly fetch: (chunks: readonly ChunkRef[], into: ChunkTarget) => Promise<void>;
  /** Window buffers, reused from window to window and file to file (see `Slabs`). */
  readonly slabs: Slabs;
  /** Folders known to exist, made by this sync's writes so far (optional). */
  readonly dirs?: Set<string>;
}

/** How a large file's write may stop at a window boundary and resume from an earlier attempt (see the header). */
export interface Resumable {
  /**
   * Temp files earlier attempts left with a prefix of this version, longest first, with their
   * sizes: the chunks that lie within them are read (verified) from there.
   */
  readonly from: ReadonlyArray<{ readonly temp: string; readonly size: number }>;
  /** Called with the new temp file's name once created, before any byte is written. */
  readonly opened?: (temp: string) => void;
  /** Asked before each window that needs a download is started: a reason to stop there, or undefined. */
  readonly stop?: () => Promise<string | undefined>;
}

/**
 * A write that stopped at a window boundary: `temp` holds the version's first `bytes` bytes,
 * every chunk of them verified, and is left for the next attempt (not renamed). `cause`: the
 * download error that stopped it; undefined when asked to stop (`Resumable.stop`).
 */
export class WriteStopped extends Error {
  constructor(
    readonly path: string,
    readonly temp: string,
    readonly bytes: number,
    readonly reason: string,
    override readonly cause?: unknown,
  ) {
    super(`${path}: stopped after ${bytes} bytes (${reason})`);
    this.name = "WriteStopped";
  }
}

/** Where a resumable write is: bytes written so far, and why it stopped, if it did. */
interface Progress {
  bytes: number;
  halted?: { reason: string; cause?: unknown };
}

/** Where downloaded chunks go. */
export interface ChunkTarget {
  /** Optional: the buffer (exactly `size` bytes) to download the chunk into, as it arrives. */
  place?(hash: ChunkHash, size: number): Uint8Array | undefined;
  /** Each chunk once verified: in its place if it had one, else anywhere (maybe a view of a larger buffer). */
  put(hash: ChunkHash, bytes: Uint8Array): void;
}

/** Bytes per window: the unit of download, of assembly in a slab and of a disk write. */
export const WINDOW = 4 * 1024 * 1024;
/** Windows downloading at once, ahead of the one being written. */
export const AHEAD = 3;

/**
 * Buffers for windows being downloaded: a large file is assembled a window at a time in one of
 * these, and each is reused once written, so that a pull allocates (and the garbage collector
 * sees) a handful of buffers rather than one per chunk. At most AHEAD + 1 are in use per file.
 */
export class Slabs {
  readonly #free: Buffer[] = [];

  take(size: number): Buffer {
    const i = this.#free.findIndex((b) => b.length >= size);
    // Whole windows, so that batches of slightly different sizes can take turns with one slab.
    return i >= 0 ? this.#free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(Math.max(1, Math.ceil(size / WINDOW)) * WINDOW);
  }

  give(slab: Buffer): void {
    if (this.#free.length <= AHEAD) this.#free.push(slab);
  }

  /** Frees the slabs kept for reuse now (client/release.ts), once nothing more will be written. */
  release(): void {
    for (const slab of this.#free.splice(0)) release(slab);
  }
}

/**
 * Fills `pieces[k]` for the chunks of `window` found on disk, reading each run of chunks that
 * lie back to back in one file with one read. The files may have changed since the scan: only
 * chunks whose bytes match their hash are taken.
 */
async function readLocal(supply: ChunkSupply, window: readonly ChunkRef[], pieces: Array<Uint8Array | undefined>, extra?: ReadonlyMap<ChunkHash, LocalChunk>): Promise<void> {
  const runs: Array<{ at: LocalChunk; first: number; end: number; bytes: number }> = [];
  for (let k = 0; k < window.length; k++) {
    if (pieces[k]) continue;
    const c = window[k]!;
    const at = extra?.get(c.hash) ?? supply.local.get(c.hash);
    if (!at) continue;
    const run = runs.at(-1);
    if (run && run.end === k && run.at.path === at.path && run.at.offset + run.bytes === at.offset) {
      run.end++;
      run.bytes += c.size;
    } else runs.push({ at, first: k, end: k + 1, bytes: c.size });
  }
  await Promise.all(
    runs.map(async ({ at, first, end, bytes }) => {
      let data: Uint8Array;
      try {
        data = await supply.fs.readRange(at.path, at.offset, bytes);
      } catch {
        return;
      }
      for (let k = first, off = 0; k < end; off += window[k]!.size, k++) {
        const c = window[k]!;
        const b = data.subarray(off, off + c.size);
        if (b.length === c.size && createHash("sha256").update(b).digest("hex") === c.hash) pieces[k] = b;
      }
    }),
  );
}

/** Consecutive runs of chunks of at most WINDOW bytes (at least one chunk each). */
function windows(chunks: readonly ChunkRef[]): ChunkRef[][] {
  const out: ChunkRef[][] = [];
  for (let i = 0; i < chunks.length; ) {
    let end = i;
    let bytes = 0;
    while (end < chunks.length && (end === i || bytes + chunks[end]!.size <= WINDOW)) bytes += chunks[end++]!.size;
    out.push(chunks.slice(i, end));
    i = end;
  }
  return out;
}

/**
 * One window on its way to disk. When all of its chunks are at hand (cache, disk) they are
 * written as they are; otherwise the window is assembled in a slab: the chunks at hand are
 * copied in, the others downloaded straight into their places.
 */
interface Prepared {
  readonly window: readonly ChunkRef[];
  /** Settles once every chunk is at hand: per chunk its bytes, or the slab holding them all. */
  readonly done: Promise<{ pieces: Array<Uint8Array | undefined>; slab?: Buffer; bytes: number }>;
}

function prepare(supply: ChunkSupply, window: readonly ChunkRef[], extra?: ReadonlyMap<ChunkHash, LocalChunk>): Prepared {
  const done = (async () => {
    const pieces = window.map((c) => supply.cache.get(c.hash));
    await readLocal(supply, window, pieces, extra);
    let bytes = 0;
    for (const c of window) bytes += c.size;
    if (pieces.every((p) => p)) return { pieces, bytes };
    const slab = supply.slabs.take(bytes);
    const at = new Map<ChunkHash, number[]>();
    const need: ChunkRef[] = [];
    for (let k = 0, off = 0; k < window.length; off += window[k]!.size, k++) {
      const c = window[k]!;
      const p = pieces[k];
      if (p) {
        slab.set(p, off);
        pieces[k] = undefined;
        continue;
      }
      const offsets = at.get(c.hash);
      if (offsets) offsets.push(off);
      else {
        at.set(c.hash, [off]);
        need.push(c);
      }
    }
    let filled = 0;
    await supply.fetch(need, {
      // Downloaded straight into the slab, where the chunk's first copy goes.
      place: (hash, size) => {
        const off = at.get(hash)?.[0];
        return off === undefined ? undefined : slab.subarray(off, off + size);
      },
      put: (hash, b) => {
        const offsets = at.get(hash);
        if (!offsets) return;
        for (const off of offsets) if (b.buffer !== slab.buffer || b.byteOffset !== slab.byteOffset + off) slab.set(b, off);
        at.delete(hash);
        filled++;
      },
    });
    if (filled !== need.length) throw new Error(`${need.length - filled} chunk(s) were not downloaded`);
    return { pieces: [], slab, bytes };
  })();
  // Awaited when its window is written; until then a failure must not count as unhandled.
  done.catch(() => undefined);
  return { window, done };
}

/**
 * The file's content, a window (one slab) or a chunk at a time. Missing chunks are downloaded
 * a window at a time, up to AHEAD windows at once ahead of the one being written, so network
 * and disk overlap. A slab yielded here is reused once the next piece is asked for (see
 * `Fs.writeTemp`). With `resume` (see the header) it ends early instead: before a window that
 * `resume.stop` refuses (the windows already downloading are written first), or at the first
 * window whose download failed; `progress` says how far it got and why.
 */
async function* content(supply: ChunkSupply, v: FileVersion, resume?: Resumable, progress?: Progress): AsyncGenerator<Uint8Array> {
  const all = windows(v.chunks);
  const queue: Prepared[] = [];
  let started = 0;
  // Chunk places in the partials of earlier attempts (the same offsets as in the version).
  let extra: Map<ChunkHash, LocalChunk> | undefined;
  if (resume?.from.length) {
    extra = new Map();
    for (const { temp, size } of resume.from) {
      let offset = 0;
      for (const c of v.chunks) {
        if (offset + c.size > size) break;
        if (!extra.has(c.hash)) extra.set(c.hash, { path: temp, offset });
        offset += c.size;
      }
    }
  }
  const held = (c: ChunkRef) => supply.cache.has(c.hash) || extra?.has(c.hash) || supply.local.has(c.hash);
  const fill = async () => {
    while (!progress?.halted && started < all.length && queue.length < AHEAD) {
      const w = all[started]!;
      if (resume?.stop && !w.every(held)) {
        const why = await resume.stop();
        if (why !== undefined) {
          progress!.halted = { reason: why };
          return;
        }
      }
      queue.push(prepare(supply, w, extra));
      started++;
    }
  };
  try {
    await fill();
    while (queue.length) {
      let ready: Awaited<Prepared["done"]>;
      try {
        ready = await queue[0]!.done;
      } catch (err) {
        if (!progress) throw err;
        // The prefix written so far stays (the windows after this one cannot follow it).
        progress.halted = { reason: (err as Error).message, cause: err };
        return;
      }
      const { pieces, slab, bytes } = ready;
      queue.shift();
      await fill();
      if (slab) {
        yield slab.subarray(0, bytes);
        supply.slabs.give(slab);
        if (progress) progress.bytes += bytes;
        continue;
      }
      // Chunks back to back in one buffer (read from disk together) are written together.
      let run: Uint8Array | undefined;
      for (const p of pieces) {
        if (run && p!.buffer === run.buffer && run.byteOffset + run.length === p!.byteOffset) run = new Uint8Array(run.buffer, run.byteOffset, run.length + p!.length);
        else {
          if (run) yield run;
          run = p!;
        }
      }
      if (run) yield run;
      if (progress) progress.bytes += bytes;
    }
  } finally {
    // Stopped early (a failed write): no download may go on filling a slab after this.
    await Promise.allSettled(queue.map((p) => p.done));
  }
}

function sameStat(a: Stat | undefined, d: OnDisk | undefined): boolean {
  if (!a || !d) return !a && !d;
  return a.kind === d.kind && a.size === d.size && a.mtimeMs === d.mtimeMs && a.ino === d.ino;
}

/** Mode bits for a written file: the owner-executable bit decides (XEP-draft.md § 5.7). */
export function fileMode(v: FileVersion): number {
  return v.mode & 0o100 ? 0o755 : 0o644;
}

/**
 * Writes `v` at `target`, which must look like `expect` (undefined: must not exist).
 * Returns the new file's stat. With `syncDir: false` the caller fsyncs the folder itself
 * (once for many files) before it records anything.
 */
export async function writeVersion(supply: ChunkSupply, v: FileVersion, target: string, expect: OnDisk | undefined, opts: { syncDir?: boolean; resume?: Resumable } = {}): Promise<Stat> {
  const { fs } = supply;
  const dir = parentPath(target);
  // Made once per sync (a sync of many files in one folder would mkdir it per file).
  if (dir && !supply.dirs?.has(dir)) {
    await fs.mkdir(dir);
    supply.dirs?.add(dir);
  }
  // Every chunk written is verified (downloaded or read locally), so the file is its chunk list;
  // the list must be the one the version's content id names.
  if (contentId(v.chunks) !== v.hash) throw new Error(`${v.path}: its chunk list does not match its content id`);
  const progress: Progress | undefined = opts.resume ? { bytes: 0 } : undefined;
  const opened = opts.resume?.opened;
  const tmp = await fs.writeTemp(dir, content(supply, v, opts.resume, progress), { mode: fileMode(v), mtimeMs: v.mtimeMs, ...(opened ? { opened } : {}) });
  if (progress?.halted) throw new WriteStopped(v.path, tmp, progress.bytes, progress.halted.reason, progress.halted.cause);
  try {
    if (!sameStat(await fs.lstat(target), expect)) throw new LocalChanged(v.path);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.remove(tmp).catch(() => undefined);
    throw err;
  }
  if (opts.syncDir !== false) await fs.fsyncDir(dir);
  const st = await fs.lstat(target);
  if (!st) throw new LocalChanged(v.path);
  return st;
}

/** Removes a file or empty directory if it still looks as scanned. False if it was kept. */
export async function removeIfUnchanged(fs: Fs, path: string, expect: OnDisk): Promise<boolean> {
  if (!sameStat(await fs.lstat(path), expect) && expect.kind === "file") throw new LocalChanged(path);
  try {
    await fs.remove(path);
  } catch (err) {
    if (errorCode(err) === "ENOTEMPTY") return false;
    throw err;
  }
  await fs.fsyncDir(parentPath(path));
  return true;
}
