/**
 * Writing remote versions to disk (XEP-draft.md § 6 rule 7): content is assembled from chunks
 * already on disk (a moved or copied file is not downloaded again) and downloaded ones, written
 * to a temporary file in the same folder (every chunk verified, the chunk list checked against the
 * version's content id first), fsynced, and
 * renamed into place only if the target still looks exactly as the scan saw it. Otherwise the
 * write is abandoned (`LocalChanged`): the next round sees the local edit and keeps both.
 */
import { createHash } from "node:crypto";
import { type ChunkRef, type FileVersion, contentId } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import { errorCode, parentPath, type Fs, type Stat } from "../fs/types.ts";
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
  /** Downloads chunks into `cache` (used for files too large to prefetch). */
  readonly fetch: (chunks: readonly ChunkRef[]) => Promise<void>;
}

const WINDOW = 8 * 1024 * 1024;

async function localBytes(supply: ChunkSupply, c: ChunkRef): Promise<Uint8Array | undefined> {
  const at = supply.local.get(c.hash);
  if (!at) return undefined;
  try {
    const bytes = await supply.fs.readRange(at.path, at.offset, c.size);
    // The file may have changed since the scan: only verified bytes are reused.
    return createHash("sha256").update(bytes).digest("hex") === c.hash ? bytes : undefined;
  } catch {
    return undefined;
  }
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

interface Prepared {
  readonly window: readonly ChunkRef[];
  /** Bytes found in the cache or on disk, per chunk of the window. */
  readonly ready: Promise<Array<Uint8Array | undefined>>;
  /** Chunks that had to be downloaded (kept in the cache until their window is written). */
  readonly need: Promise<ChunkRef[]>;
  readonly fetched: Promise<void>;
}

function prepare(supply: ChunkSupply, window: readonly ChunkRef[]): Prepared {
  const ready = Promise.all(window.map(async (c) => supply.cache.get(c.hash) ?? (await localBytes(supply, c))));
  const need = ready.then((r) => window.filter((_, k) => !r[k]));
  const fetched = need.then((n) => (n.length ? supply.fetch(n) : undefined));
  // Awaited when its window is written; until then a failure must not count as unhandled.
  fetched.catch(() => undefined);
  return { window, ready, need, fetched };
}

/**
 * The file's content, chunk by chunk. Missing chunks are fetched a window at a time, and the
 * next window's download runs while the current one is written, so network and disk overlap.
 */
async function* content(supply: ChunkSupply, v: FileVersion): AsyncGenerator<Uint8Array> {
  const all = windows(v.chunks);
  let current = all.length ? prepare(supply, all[0]!) : undefined;
  for (let i = 0; current; i++) {
    const ready = await current.ready;
    await current.fetched;
    const next = i + 1 < all.length ? prepare(supply, all[i + 1]!) : undefined;
    for (let k = 0; k < current.window.length; k++) {
      const c = current.window[k]!;
      const b = ready[k] ?? supply.cache.get(c.hash);
      if (!b) throw new Error(`chunk ${c.hash} of ${v.path} is not available`);
      yield b;
    }
    // Chunks fetched for this window are dropped, unless the next window needs them too:
    // memory stays bounded by two windows.
    const keep = new Set((next?.window ?? []).map((c) => c.hash));
    for (const c of await current.need) if (!keep.has(c.hash)) supply.cache.delete(c.hash);
    current = next;
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
export async function writeVersion(supply: ChunkSupply, v: FileVersion, target: string, expect: OnDisk | undefined, opts: { syncDir?: boolean } = {}): Promise<Stat> {
  const { fs } = supply;
  const dir = parentPath(target);
  if (dir) await fs.mkdir(dir);
  // Every chunk written is verified (downloaded or read locally), so the file is its chunk list;
  // the list must be the one the version's content id names.
  if (contentId(v.chunks) !== v.hash) throw new Error(`${v.path}: its chunk list does not match its content id`);
  const tmp = await fs.writeTemp(dir, content(supply, v));
  try {
    if (!sameStat(await fs.lstat(target), expect)) throw new LocalChanged(v.path);
    await fs.setMode(tmp, fileMode(v));
    await fs.setTimes(tmp, v.mtimeMs);
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
