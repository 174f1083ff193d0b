/**
 * One space, synchronized once: pull the index changes, scan the folder, plan, bring remote
 * versions to disk, push local versions, acknowledge. Repeats (a few rounds at most) when a
 * commit was refused because someone else committed in between, or a local file changed
 * under our feet; each round starts from what is now true on both sides.
 *
 * Nothing is sent when the folder's marker is missing (an unmounted disk must not look like a
 * folder whose files were all deleted).
 */
import { ShareError } from "../../protocol/errors.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ChunkHash, ReplicaId } from "../../protocol/ids.ts";
import type { CommitChange, IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { EMPTY, bump } from "../../protocol/vv.ts";
import type { Fs } from "../fs/types.ts";
import { parentPath } from "../fs/types.ts";
import { checkMarker, type MarkerState } from "../marker.ts";
import type { ChunkSource, Remote } from "../remote.ts";
import { coveredBySkip, ignoredBy, scan, type Known, type ScannedEntry } from "../scanner.ts";
import type { ClientState, LocalSpace, Synced } from "../state.ts";
import { LocalChanged, localChunks, removeIfUnchanged, writeVersion, type ChunkSupply } from "./disk.ts";
import { plan, type Action, type OnDisk } from "./plan.ts";

export interface SyncContext {
  readonly state: ClientState;
  readonly remote: Remote;
  readonly fs: Fs;
  readonly space: LocalSpace;
  readonly replica: ReplicaId;
  /** Bare JID of the account (decides whether a `mine` space is ours). */
  readonly me: string;
  readonly now: () => number;
  readonly onProgress?: (event: { phase: "upload" | "download"; bytes: number }) => void;
}

export interface SyncReport {
  readonly space: string;
  readonly status: "in-sync" | "paused" | "incomplete";
  readonly reason?: MarkerState | string;
  readonly pushed: number;
  readonly pulled: number;
  readonly conflicts: number;
  readonly readOnlySkipped: string[];
  readonly skipped: Array<{ path: string; reason: string }>;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly head: number;
}

const ROUNDS = 6;
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
const PREFETCH_BYTES = 32 * 1024 * 1024;

type Disk = OnDisk & { diskPath: string };

function toDisk(e: ScannedEntry): Disk {
  return { path: e.path, diskPath: e.diskPath, kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, mode: e.mode, hash: e.hash, chunks: e.chunks, changed: e.changed };
}

function known(synced: ReadonlyMap<string, Synced>): Map<string, Known> {
  const out = new Map<string, Known>();
  for (const [path, s] of synced) {
    if (s.version.deleted || !s.local) continue;
    const v = s.version;
    out.set(path, { kind: v.kind, size: s.local.size, mtimeMs: s.local.mtimeMs, ino: s.local.ino, mode: v.mode, hash: v.hash, chunks: v.chunks });
  }
  return out;
}

function localOf(st: { size: number; mtimeMs: number; ino: number }) {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

export async function syncSpace(ctx: SyncContext): Promise<SyncReport> {
  const { fs, state, remote, space, replica } = ctx;
  const report = { space: space.id, pushed: 0, pulled: 0, conflicts: 0, readOnlySkipped: [] as string[], skipped: [] as Array<{ path: string; reason: string }>, bytesUp: 0, bytesDown: 0, head: space.pulled };
  const marker = await checkMarker(fs, space.id);
  if (marker !== "ok") return { ...report, status: "paused", reason: marker };
  const readOnly = space.kind === "mine" && space.owner !== ctx.me;
  let pulledSeq = state.space(space.id)?.pulled ?? 0;
  // Chunks of synced versions are on the component (GC keeps current versions' chunks), so
  // only new chunks are named in upload slot requests, unless a commit said otherwise.
  let trustSynced = true;

  for (let round = 0; round < ROUNDS; round++) {
    // 1. What changed on the sharing manager since the last applied sequence number.
    const remoteChanges = new Map<string, IndexEntry>();
    let head = pulledSeq;
    for await (const page of remote.readIndex(space.id, pulledSeq)) {
      for (const e of page.entries) remoteChanges.set(e.path, e);
      head = Math.max(head, page.head);
    }
    // 2. What is on disk.
    const synced = state.entries(space.id);
    const scanned = await scan(fs, known(synced));
    if (round === 0) await removeStaleTemps(fs, scanned.temps, ctx.now());
    const covered = coveredBySkip(scanned.skipped);
    const ignored = await ignoredBy(fs);
    report.skipped = scanned.skipped.map((s) => ({ path: s.path, reason: s.reason }));
    const disk = new Map<string, Disk>(scanned.entries.map((e) => [e.path, toDisk(e)]));
    const keep = <T>(m: Map<string, T>) => new Map([...m].filter(([p]) => !covered(p)));
    // Remote versions of paths this folder ignores are neither written nor ever sent back.
    for (const [p, e] of remoteChanges) if (ignored(p, e.kind)) remoteChanges.delete(p);
    // 3. Decide.
    const actions = plan({ synced: keep(synced), disk, remote: keep(remoteChanges), replica, nowMs: ctx.now(), readOnly });
    report.readOnlySkipped = actions.filter((a) => a.type === "read-only").map((a) => a.path);
    let settled = true;
    try {
      const done = await applyRemote(ctx, actions, disk, report);
      settled = done;
    } catch (err) {
      if (!(err instanceof LocalChanged)) throw err;
      settled = false;
    }
    if (settled) {
      pulledSeq = head;
      state.commit(space.id, [], head);
    }
    // 4. Push what changed here.
    const pushed = await push(ctx, actions, synced, trustSynced, report);
    if (pushed.kind === "conflict") {
      if (pushed.missingChunks) trustSynced = false;
      continue;
    }
    if (pushed.kind === "done" && settled && pushed.head - pushed.count === pulledSeq) {
      // Our commits directly follow what we had read: nothing new to read back.
      pulledSeq = pushed.head;
      state.commit(space.id, [], pulledSeq);
    }
    if (settled && pushed.kind === "none" && actions.every((a) => a.type === "read-only" || a.type === "restat" || a.type === "adopt")) {
      if (head > 0) await remote.ack(space.id, replica, head);
      report.head = head;
      return { ...report, status: "in-sync" };
    }
    report.head = head;
  }
  return { ...report, status: "incomplete", reason: "the space kept changing while syncing; run sync again" };
}

/** A temp file this old was left by a write that never finished (a crash, a kill). */
const STALE_TEMP_MS = 10 * 60 * 1000;

async function removeStaleTemps(fs: Fs, temps: readonly string[], nowMs: number): Promise<void> {
  for (const t of temps) {
    const st = await fs.lstat(t);
    if (st?.kind === "file" && nowMs - st.mtimeMs > STALE_TEMP_MS) await fs.remove(t).catch(() => undefined);
  }
}

/** Brings remote versions to disk; false when some path must wait for the next round. */
async function applyRemote(ctx: SyncContext, actions: readonly Action[], disk: ReadonlyMap<string, Disk>, report: { pulled: number; conflicts: number; bytesDown: number }): Promise<boolean> {
  const { fs, state, remote, space } = ctx;
  const cache = new Map<ChunkHash, Uint8Array>();
  const sink = async (hash: ChunkHash, bytes: Uint8Array) => {
    cache.set(hash, bytes);
    report.bytesDown += bytes.length;
  };
  const fetch = async (chunks: readonly { hash: ChunkHash; size: number }[]) => {
    const absent = await remote.download(space.id, chunks, sink, (n) => ctx.onProgress?.({ phase: "download", bytes: n }));
    if (absent.length) throw new ShareError("missing-chunks", { text: `${absent.length} chunk(s) are no longer held by the sharing manager` });
  };
  const supply: ChunkSupply = { fs, local: localChunks(disk.values()), cache, fetch };
  const copies = new Set(actions.flatMap((a) => (a.type === "conflict" && a.copy ? [a.copy] : [])));
  const recorded: Synced[] = [];
  let allDone = true;

  // Files to write, small ones prefetched together so that a thousand files cost a few requests.
  const writes: Array<{ v: FileVersion; target: string; expect: OnDisk | undefined; after?: () => void }> = [];
  const removals: Array<{ path: string; expect: OnDisk; v: IndexEntry }> = [];

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
        await fs.mkdir(r.path);
        const st = await fs.lstat(r.path);
        recorded.push({ version: r, ...(st ? { local: localOf(st) } : {}) });
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
        } else writes.push({ v: a.remote, target: a.path, expect: undefined });
      } else if (a.copy && !a.remote.deleted && a.remote.kind === "file") {
        // Local wins: the remote content is kept under the conflict name.
        writes.push({ v: { ...a.remote, path: a.copy }, target: a.copy, expect: undefined });
      }
    }
  }

  // Prefetch the chunks of small files in batches, then write them.
  const small = writes.filter((w) => w.v.size <= PREFETCH_BYTES);
  let batch: typeof writes = [];
  let bytes = 0;
  const flush = async () => {
    const need = new Map<ChunkHash, { hash: ChunkHash; size: number }>();
    for (const w of batch) for (const c of w.v.chunks) if (!supply.local.has(c.hash) && !cache.has(c.hash)) need.set(c.hash, c);
    if (need.size) await fetch([...need.values()]);
    // Small files are written a few at a time; their folders are made durable once per batch.
    const results = await mapLimited(batch, WRITE_PARALLEL, (w) => writeOne(w, false));
    allDone = results.every(Boolean) && allDone;
    for (const dir of new Set(batch.map((w) => parentPath(w.target)))) await fs.fsyncDir(dir);
    cache.clear();
    batch = [];
    bytes = 0;
  };
  const writeOne = async (w: (typeof writes)[number], syncDir = true): Promise<boolean> => {
    try {
      const st = await writeVersion(supply, w.v, w.target, w.expect, { syncDir });
      // A conflict copy of remote content is recorded when it is pushed as a path of its own.
      if (w.v.path === w.target && !copies.has(w.target)) recorded.push({ version: w.v, local: localOf(st) });
      report.pulled++;
      return true;
    } catch (err) {
      if (err instanceof LocalChanged) return false;
      throw err;
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
    try {
      if (await removeIfUnchanged(fs, r.path, r.expect)) {
        recorded.push({ version: r.v });
        report.pulled++;
      } else allDone = false;
    } catch (err) {
      if (!(err instanceof LocalChanged)) throw err;
      allDone = false;
    }
  }
  state.commit(space.id, recorded);
  return allDone;
}

type Pushed = { kind: "none" } | { kind: "conflict"; missingChunks: boolean } | { kind: "done"; head: number; count: number };

/** Pushes local versions and conflict copies. */
async function push(ctx: SyncContext, actions: readonly Action[], synced: ReadonlyMap<string, Synced>, trustSynced: boolean, report: { pushed: number; bytesUp: number }): Promise<Pushed> {
  const { fs, state, remote, space, replica } = ctx;
  const changes: Array<CommitChange & { local?: { size: number; mtimeMs: number; ino: number }; diskPath?: string }> = [];
  for (const a of actions) {
    if (a.type === "push") {
      const d = a.disk as Disk | undefined;
      changes.push({ version: a.version, base: a.base, ...(d ? { local: localOf(d), diskPath: d.diskPath } : {}) });
    } else if (a.type === "conflict") {
      if (a.keep === "local") {
        const d = a.disk as Disk | undefined;
        changes.push({ version: a.local, base: a.remote.vector, ...(d ? { local: localOf(d), diskPath: d.diskPath } : {}) });
      }
      if (a.copy && a.pushCopy) {
        const st = await fs.lstat(a.copy);
        const from = a.keep === "local" ? a.remote : a.local;
        if (st && st.kind === "file") {
          const v: FileVersion = { ...from, path: a.copy, vector: bump(EMPTY, replica, ctx.now()), replica, deleted: false, mtimeMs: Math.floor(st.mtimeMs) };
          changes.push({ version: v, base: EMPTY, local: localOf(st), diskPath: a.copy });
        }
      }
    }
  }
  if (changes.length === 0) return { kind: "none" };

  const onComponent = new Set<string>();
  if (trustSynced) for (const s of synced.values()) if (!s.version.deleted) for (const c of s.version.chunks) onComponent.add(c.hash);
  const sources: ChunkSource[] = [];
  for (const ch of changes) {
    const v = ch.version;
    if (v.deleted || v.kind !== "file") continue;
    let offset = 0;
    for (const c of v.chunks) {
      const at = offset;
      const file = ch.diskPath ?? v.path;
      if (!onComponent.has(c.hash)) sources.push({ hash: c.hash, size: c.size, read: () => fs.readRange(file, at, c.size) });
      offset += c.size;
    }
  }
  let head: number;
  try {
    report.bytesUp += await remote.upload(space.id, sources, (n) => ctx.onProgress?.({ phase: "upload", bytes: n }));
    head = await remote.commit(space.id, changes.map(({ version, base }) => ({ version, base })));
  } catch (err) {
    // Someone committed in between, or a chunk vanished: start a new round from the truth.
    if (err instanceof ShareError && (err.code === "version-conflict" || err.code === "missing-chunks" || err.code === "hash-mismatch")) {
      return { kind: "conflict", missingChunks: err.code === "missing-chunks" };
    }
    throw err;
  }
  state.commit(space.id, changes.map((ch) => ({ version: ch.version, ...(ch.local && !ch.version.deleted ? { local: ch.local } : {}) })));
  report.pushed += changes.length;
  return { kind: "done", head, count: changes.length };
}

export interface SpaceStatus {
  readonly status: "in-sync" | "pending" | "paused";
  readonly reason?: string;
  /** Local changes not yet on the sharing manager. */
  readonly pendingUp: number;
  /** Remote changes not yet on disk. */
  readonly pendingDown: number;
  readonly readOnlySkipped: number;
  readonly skipped: Array<{ path: string; reason: string }>;
}

/** What `syncSpace` would do, without doing it. */
export async function inspectSpace(ctx: SyncContext): Promise<SpaceStatus> {
  const { fs, state, remote, space, replica } = ctx;
  const marker = await checkMarker(fs, space.id);
  if (marker !== "ok") return { status: "paused", reason: marker, pendingUp: 0, pendingDown: 0, readOnlySkipped: 0, skipped: [] };
  const pulled = state.space(space.id)?.pulled ?? 0;
  const remoteChanges = new Map<string, IndexEntry>();
  for await (const page of remote.readIndex(space.id, pulled)) for (const e of page.entries) remoteChanges.set(e.path, e);
  const synced = state.entries(space.id);
  const scanned = await scan(fs, known(synced));
  const covered = coveredBySkip(scanned.skipped);
  const keep = <T>(m: Map<string, T>) => new Map([...m].filter(([p]) => !covered(p)));
  const disk = new Map<string, Disk>(scanned.entries.map((e) => [e.path, toDisk(e)]));
  const readOnly = space.kind === "mine" && space.owner !== ctx.me;
  const actions = plan({ synced: keep(synced), disk, remote: keep(remoteChanges), replica, nowMs: ctx.now(), readOnly });
  const up = actions.filter((a) => a.type === "push" || (a.type === "conflict" && a.keep === "local")).length;
  const down = actions.filter((a) => a.type === "apply" || a.type === "conflict").length;
  const ro = actions.filter((a) => a.type === "read-only").length;
  return {
    status: up + down > 0 ? "pending" : "in-sync",
    pendingUp: up,
    pendingDown: down,
    readOnlySkipped: ro,
    skipped: scanned.skipped.map((s) => ({ path: s.path, reason: s.reason })),
  };
}
