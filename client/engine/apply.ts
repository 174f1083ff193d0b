/**
 * Bringing remote versions to disk for one round (XEP-draft.md § 6 rule 7): adopt and restat
 * records, directories, file writes (small files prefetched in batches and written a few at a
 * time, large ones streamed window by window), conflict copies, then deletions deepest first.
 * Returns false when some path changed locally meanwhile and must wait for the next round.
 *
 * Every streamed file is resumable (disk.ts `Resumable`): its temp file is recorded in the
 * state's `partials` as soon as it is created (one row per file, no work per chunk), so a write
 * that stops (a failed download, a crash, a kill) leaves a verified prefix that the next attempt
 * at the same version reads back instead of downloading it. With a schedule it may also pause
 * at a window boundary (engine/schedule.ts `pauseCheck`): its version then waits in the state
 * like a deferred one, with the reason, and `round.paused` tells the sync to start no more
 * transfers this round.
 */
import { ShareError } from "../../protocol/errors.ts";
import { foldKey } from "../../protocol/paths.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import type { Fs } from "../fs/types.ts";
import { parentPath } from "../fs/types.ts";
import type { PartialTransfer, Synced, Waiting } from "../state.ts";
import { type Disk, type SyncContext, localOf } from "./context.ts";
import type { ChunkSink } from "../remote.ts";
import { LocalChanged, localChunks, removeIfUnchanged, Slabs, writeVersion, WriteStopped, type ChunkSupply, type ChunkTarget, type LocalChunk, type Resumable } from "./disk.ts";
import type { Action, OnDisk } from "./plan.ts";
import { pausedReason, transferOptions, type Pause } from "./schedule.ts";

/** Small files written at once while pulling (each is still fsynced before its rename). */
const WRITE_PARALLEL = 8;

async function mapLimited<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}
const PREFETCH_BYTES = 16 * 1024 * 1024;

/** A temp file this old was left by a write that never finished (a crash, a kill). */
const STALE_TEMP_MS = 10 * 60 * 1000;

/** Removes leftover temporary files: all of them when `allStale` (see SyncContext.holdsLock). */
export async function removeStaleTemps(fs: Fs, temps: readonly string[], nowMs: number, allStale = false): Promise<void> {
  for (const t of temps) {
    const st = await fs.lstat(t);
    if (st?.kind === "file" && (allStale || nowMs - st.mtimeMs > STALE_TEMP_MS)) await fs.remove(t).catch(() => undefined);
  }
}

/**
 * On a case-insensitive disk, a new remote path can land on a local one spelt otherwise
 * (`Foo.txt` on `FOO.txt`): the name, if so, of what is there. Writing would replace it.
 */
async function aliasOf(fs: Fs, path: string): Promise<string | undefined> {
  if (!(await fs.lstat(path))) return undefined;
  const dir = parentPath(path);
  const base = path.slice(dir ? dir.length + 1 : 0);
  const names = await fs.readdir(dir);
  if (names.includes(base)) return undefined;
  const key = foldKey(base);
  return names.find((n) => foldKey(n) === key);
}

/** What a round's large transfers share with the sync (see the header). */
export interface RoundControl {
  /** With a schedule: the pause check of a large download of `path` (engine/schedule.ts `pauseCheck`). */
  readonly pauseFor?: (path: string) => (() => Pause | undefined) | undefined;
  /** Set by the first transfer that paused: its path and why. No transfer starts after it this round. */
  paused?: Pause & { path: string };
}

/** Removes temp files, quietly (a partial already gone is fine). */
async function removeAll(fs: Fs, temps: readonly string[]): Promise<void> {
  for (const t of temps) await fs.remove(t).catch(() => undefined);
}

/**
 * Writes one streamed file resumably (see the header): from the partial of an earlier attempt
 * at the same version, if any (another version's is removed first), recording the new temp
 * file at once; on success the partials go, on a stop the longer of the old and the new prefix
 * stays recorded, with `reason`. Rethrows WriteStopped (the caller tells a pause from an error).
 */
async function writeResumable(ctx: SyncContext, supply: ChunkSupply, w: { v: FileVersion; target: string; expect: OnDisk | undefined }, prior: PartialTransfer | undefined, check: (() => Pause | undefined) | undefined, stopped: { pause?: Pause }) {
  const { fs, state, space } = ctx;
  const v = w.v;
  let sized: Array<{ temp: string; size: number }> = [];
  if (prior && prior.hash !== v.hash) {
    await removeAll(fs, prior.temps);
    state.removePartial(space.id, v.path, "down");
  } else if (prior) {
    // Longest first: every one holds a prefix of this version, the longest the most of it.
    const found = await Promise.all(prior.temps.map(async (temp) => ({ temp, st: await fs.lstat(temp).catch(() => undefined) })));
    sized = found.flatMap((x) => (x.st?.kind === "file" ? [{ temp: x.temp, size: x.st.size }] : [])).sort((a, b) => b.size - a.size);
  }
  const from = sized.map((x) => x.temp);
  const had = sized[0]?.size ?? 0;
  const row = (temps: string[], bytes: number, reason?: string): PartialTransfer => ({ path: v.path, direction: "down", hash: v.hash, size: v.size, temps, bytes, updatedMs: ctx.now(), ...(reason ? { reason } : {}) });
  const resume: Resumable = {
    from: sized,
    // Recorded before any byte is written: a crash leaves a partial the next attempt finds.
    opened: (temp) => state.putPartial(space.id, row([temp, ...from], had)),
    ...(check
      ? {
          stop: async () => {
            const p = check();
            if (p) stopped.pause = p;
            return p?.reason;
          },
        }
      : {}),
  };
  try {
    const st = await writeVersion(supply, v, w.target, w.expect, { resume });
    await removeAll(fs, from);
    state.removePartial(space.id, v.path, "down");
    return st;
  } catch (err) {
    if (err instanceof WriteStopped) {
      // Whichever prefix is longer stays, the other goes.
      const [keep, bytes, drop] = err.bytes >= had ? [err.temp, err.bytes, from] : [from[0]!, had, [err.temp, ...from.slice(1)]];
      await removeAll(fs, drop);
      state.putPartial(space.id, row([keep], bytes, stopped.pause?.reason ?? err.reason));
    } else {
      // writeVersion removed its own temp file; the earlier partials stay as they were.
      if (from.length) state.putPartial(space.id, row(from, had, prior?.reason));
      else state.removePartial(space.id, v.path, "down");
    }
    throw err;
  }
}

/**
 * Brings remote versions to disk; false when some path must wait for the next round. A remote
 * path that a local one spelt otherwise occupies (a case-insensitive disk) is not written: it
 * goes to `heldBack` with the reason, its version to `waiting` (the caller keeps it for the next
 * sync, when the local name may have gone), and counts as done for this sync.
 */
export async function applyRemote(
  ctx: SyncContext,
  actions: readonly Action[],
  disk: ReadonlyMap<string, Disk>,
  report: { pulled: number; conflicts: number; bytesDown: number },
  heldBack: Map<string, string> = new Map(),
  waiting: Map<string, Waiting> = new Map(),
  round: RoundControl = {},
): Promise<boolean> {
  const { fs, state, remote, space } = ctx;
  const cache = new Map<ChunkHash, Uint8Array>();
  const fetch = async (chunks: readonly { hash: ChunkHash; size: number }[], into: ChunkTarget) => {
    const sink: ChunkSink = Object.assign(
      async (hash: ChunkHash, bytes: Uint8Array) => {
        into.put(hash, bytes);
        report.bytesDown += bytes.length;
      },
      { place: into.place?.bind(into) },
    );
    const absent = await remote.download(space.id, chunks, sink, (n) => ctx.onProgress?.({ phase: "download", bytes: n }), transferOptions(ctx, "down"));
    if (absent.length) throw new ShareError("missing-chunks", { text: `${absent.length} chunk(s) are no longer held by the sharing manager` });
  };
  // Built only if something is written: a round with nothing to write (a push) never needs it.
  let local: ReadonlyMap<ChunkHash, LocalChunk> | undefined;
  const supply: ChunkSupply = {
    fs,
    get local() {
      return (local ??= localChunks(disk.values()));
    },
    cache,
    fetch,
    slabs: new Slabs(),
    dirs: new Set(),
  };
  const copies = new Set(actions.flatMap((a) => (a.type === "conflict" && a.copy ? [a.copy] : [])));
  const recorded: Synced[] = [];
  let allDone = true;

  // Files to write, small ones prefetched together so that a thousand files cost a few requests.
  const writes: Array<{ v: FileVersion; target: string; expect: OnDisk | undefined; after?: () => void }> = [];
  const removals: Array<{ path: string; expect: OnDisk; v: IndexEntry }> = [];
  const replacedDirs: Array<{ v: FileVersion; dir: Disk }> = [];
  /** Removes what is on disk if unchanged since the scan; false when it must wait a round. */
  const removeOrWait = async (d: Disk): Promise<boolean> => {
    try {
      return await removeIfUnchanged(fs, d.diskPath, d);
    } catch (err) {
      if (err instanceof LocalChanged) return false;
      throw err;
    }
  };

  for (const a of actions) {
    if (a.type === "adopt") {
      recorded.push({ version: a.remote, ...(a.disk ? { local: localOf(a.disk) } : {}) });
    } else if (a.type === "restat") {
      recorded.push({ version: a.synced.version, local: localOf(a.disk) });
    } else if (a.type === "apply") {
      const r = a.remote;
      if (r.deleted) {
        if (a.disk) removals.push({ path: (a.disk as Disk).diskPath, expect: a.disk, v: r });
        else recorded.push({ version: r });
      } else if (r.kind === "dir") {
        // A file that became a folder elsewhere: the (unchanged) file goes first.
        if (a.disk && a.disk.kind !== "dir" && !(await removeOrWait(a.disk as Disk))) {
          allDone = false;
          continue;
        }
        await fs.mkdir(r.path);
        const st = await fs.lstat(r.path);
        recorded.push({ version: r, ...(st ? { local: localOf(st) } : {}) });
      } else if (a.disk?.kind === "dir") {
        // A folder that became a file elsewhere: written once the folder is gone, after the
        // deletions of what it held (below).
        replacedDirs.push({ v: r, dir: a.disk as Disk });
      } else writes.push({ v: r, target: r.path, expect: a.disk });
    } else if (a.type === "conflict") {
      report.conflicts++;
      const localAt = a.keep === "local" ? a.path : a.copy;
      if (a.copy) state.addConflict({ space: space.id, path: a.path, copy: a.copy, replica: a.keep === "local" ? a.remote.replica : a.local.replica, createdMs: ctx.now(), localAt: localAt === a.copy ? "copy" : "path" });
      if (a.keep === "remote") {
        if (a.disk && a.copy) {
          // Keep the local content under the conflict name before the remote one takes its place.
          await fs.rename((a.disk as Disk).diskPath, a.copy);
          await fs.fsyncDir(parentPath(a.copy));
        } else if (a.disk && a.disk.kind === "dir") {
          // Local directory lost to a remote file: nothing to keep (its files are paths of their own).
        }
        if (a.remote.deleted) recorded.push({ version: a.remote });
        else if (a.remote.kind === "dir") {
          await fs.mkdir(a.path);
          recorded.push({ version: a.remote });
        } else if (a.disk?.kind === "dir") replacedDirs.push({ v: a.remote, dir: a.disk as Disk });
        else writes.push({ v: a.remote, target: a.path, expect: undefined });
      } else if (a.copy && !a.copyThere && !a.remote.deleted && a.remote.kind === "file") {
        // Local wins: the remote content is kept under the conflict name.
        writes.push({ v: { ...a.remote, path: a.copy }, target: a.copy, expect: undefined });
      }
    }
  }

  // What was written is recorded even when the rest fails or the sync is stopped (ctx.signal),
  // once durable: folders whose new entries were not fsynced yet (a batch cut short) are first.
  const unsynced = new Set<string>();
  try {
    // Prefetch the chunks of small files in batches, then write them.
    const small = writes.filter((w) => w.v.size <= PREFETCH_BYTES);
    let batch: typeof writes = [];
    let bytes = 0;
    const flush = async () => {
      const need = new Map<ChunkHash, { hash: ChunkHash; size: number }>();
      for (const w of batch) for (const c of w.v.chunks) if (!supply.local.has(c.hash) && !cache.has(c.hash)) need.set(c.hash, c);
      // Downloaded into one slab, reused from batch to batch, rather than kept as views of the
      // socket's buffers: those would outlive the batch until the next full collection.
      let slab: Buffer | undefined;
      if (need.size) {
        const at = new Map<ChunkHash, number>();
        let total = 0;
        for (const c of need.values()) {
          at.set(c.hash, total);
          total += c.size;
        }
        const into = (slab = supply.slabs.take(total));
        await fetch([...need.values()], {
          place: (hash, size) => {
            const off = at.get(hash);
            return off === undefined ? undefined : into.subarray(off, off + size);
          },
          put: (hash, bytes) => void cache.set(hash, bytes),
        });
      }
      // Small files are written a few at a time; their folders are made durable once per batch.
      const results = await mapLimited(batch, WRITE_PARALLEL, (w) => writeOne(w, false));
      allDone = results.every(Boolean) && allDone;
      for (const dir of new Set(batch.map((w) => parentPath(w.target)))) await fs.fsyncDir(dir);
      unsynced.clear();
      cache.clear();
      if (slab) supply.slabs.give(slab);
      batch = [];
      bytes = 0;
    };
    let partials: Map<string, PartialTransfer> | undefined;
    const writeOne = async (w: (typeof writes)[number], syncDir = true): Promise<boolean> => {
      ctx.signal?.throwIfAborted();
      const streamed = w.v.size > PREFETCH_BYTES;
      if (streamed && round.paused) {
        // After a pause nothing more starts this round: it waits like a deferred download.
        waiting.set(w.v.path, { version: w.v, reason: `waits behind ${round.paused.path} (${round.paused.reason})` });
        return true;
      }
      const stopped: { pause?: Pause } = {};
      try {
        let st;
        if (streamed) {
          partials ??= new Map(state.partials(space.id).filter((p) => p.direction === "down").map((p) => [p.path, p]));
          st = await writeResumable(ctx, supply, w, partials.get(w.v.path), round.pauseFor?.(w.v.path), stopped);
        } else st = await writeVersion(supply, w.v, w.target, w.expect, { syncDir });
        if (!syncDir) unsynced.add(parentPath(w.target));
        // A conflict copy of remote content is recorded when it is pushed as a path of its own.
        if (w.v.path === w.target && !copies.has(w.target)) recorded.push({ version: w.v, local: localOf(st) });
        report.pulled++;
        return true;
      } catch (err) {
        if (err instanceof WriteStopped && !err.cause && stopped.pause) {
          // Paused at a window boundary: its prefix is kept, its version waits (see the header).
          round.paused = { ...stopped.pause, path: w.v.path };
          const reason = pausedReason(err.bytes, w.v.size, stopped.pause.reason);
          waiting.set(w.v.path, { version: w.v, reason, ...(stopped.pause.untilMs !== undefined ? { untilMs: stopped.pause.untilMs } : {}) });
          return true;
        }
        if (err instanceof WriteStopped) throw err.cause;
        if (!(err instanceof LocalChanged)) throw err;
        const alias = w.expect === undefined ? await aliasOf(fs, w.target) : undefined;
        if (alias === undefined) return false;
        heldBack.set(w.v.path, `case-collision with local ${alias}`);
        waiting.set(w.v.path, { version: w.v, reason: `case-collision with local ${alias}` });
        return true;
      }
    };
    for (const w of small) {
      batch.push(w);
      bytes += w.v.size;
      if (bytes >= PREFETCH_BYTES) await flush();
    }
    if (batch.length) await flush();
    for (const w of writes.filter((x) => x.v.size > PREFETCH_BYTES)) allDone = (await writeOne(w)) && allDone;

    // Deletions: files first, then directories from the deepest.
    removals.sort((a, b) => (a.expect.kind === b.expect.kind ? b.path.length - a.path.length : a.expect.kind === "file" ? -1 : 1));
    for (const r of removals) {
      ctx.signal?.throwIfAborted();
      if (await removeOrWait({ ...r.expect, diskPath: r.path } as Disk)) {
        recorded.push({ version: r.v });
        report.pulled++;
      } else allDone = false;
    }
    // Folders that became files: empty now, unless something local is still in them.
    for (const { v, dir } of replacedDirs) {
      if (await removeOrWait(dir)) allDone = (await writeOne({ v, target: v.path, expect: undefined })) && allDone;
      else allDone = false;
    }
  } finally {
    supply.slabs.release();
    const durable: Synced[] = [];
    const failed = new Set<string>();
    for (const dir of unsynced) await fs.fsyncDir(dir).catch(() => failed.add(dir));
    for (const r of recorded) if (!failed.has(parentPath(r.version.path))) durable.push(r);
    state.commit(space.id, durable);
  }
  return allDone;
}

