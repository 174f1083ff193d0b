/**
 * Sending local versions for one round: new chunks over HTTP (those the scan did not already
 * upload), then one commit (in batches of COMMIT_BATCH paths, client/remote.ts). A refusal because someone committed in between, or because a chunk is missing,
 * is not an error: the caller starts a new round from what is true now.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import { manifestOf, manifestRefs } from "../../protocol/manifest.ts";
import type { CommitChange } from "../../protocol/stanzas/index-exchange.ts";
import { EMPTY, bump } from "../../protocol/vv.ts";
import type { Fs } from "../fs/types.ts";
import { UploadStopped, type ChunkSource } from "../remote.ts";
import type { Synced } from "../state.ts";
import { type Disk, type SyncContext, localOf } from "./context.ts";
import type { Action } from "./plan.ts";
import { samePending } from "./pending.ts";
import { transferOptions, type Pause } from "./schedule.ts";

export type Pushed = { kind: "none" } | { kind: "conflict"; missingChunks: boolean } | { kind: "done"; head: number; count: number } | { kind: "paused"; pause: Pause; sent: number };

/**
 * Pushes local versions and conflict copies. A path the component refuses (`invalid-path`, e.g.
 * a case collision with another member's path) is left out and added to `refused`; the
 * others are committed without it. `uploaded` (chunks the component confirmed this
 * sync) is given when the component's holdings can be trusted: then neither those nor the
 * chunks of synced versions are named in upload slot requests. Undefined after a commit said
 * chunks were missing: then every chunk is asked about.
 */
export async function push(
  ctx: SyncContext,
  actions: readonly Action[],
  synced: ReadonlyMap<string, Synced>,
  uploaded: ReadonlySet<ChunkHash> | undefined,
  report: { pushed: number; bytesUp: number; completed?: number },
  refused: Map<string, string> = new Map(),
  /** With a schedule, for a group of large uploads: asked at each batch boundary (engine/schedule.ts `pauseCheck`). */
  pause?: () => Pause | undefined,
): Promise<Pushed> {
  const { fs, state, remote, space, replica } = ctx;
  const changes: Array<CommitChange & { local?: { size: number; mtimeMs: number; ino: number }; diskPath?: string }> = [];
  for (const a of actions) {
    // Refused earlier in this sync (`refused`), or held back from a pull: not sent again.
    if (refused.has(a.path)) continue;
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

  const onComponent = new Set<string>(uploaded);
  if (uploaded) {
    for (const s of synced.values()) {
      // A version of ours committed pending (§ 5.16) has its chunks here only, not there.
      if (s.version.deleted || s.version.pending) continue;
      for (const c of s.version.chunks) onComponent.add(c.hash);
      for (const m of manifestRefs(s.version.chunks)) onComponent.add(m.hash);
    }
  }
  const sources: ChunkSource[] = [];
  for (const ch of changes) {
    const v = ch.version;
    if (v.deleted || v.kind !== "file") continue;
    let offset = 0;
    const file = new BlockReader(fs, ch.diskPath ?? v.path, v.size);
    for (const c of v.chunks) {
      const at = offset;
      if (!onComponent.has(c.hash)) sources.push({ hash: c.hash, size: c.size, read: () => file.read(at, c.size) });
      offset += c.size;
    }
    // A long chunk list is committed as a manifest (§ 5.7): its blobs are uploaded like chunks.
    for (const [hash, bytes] of manifestOf(v.chunks)?.blobs ?? []) {
      if (!onComponent.has(hash)) sources.push({ hash, size: bytes.length, read: async () => bytes });
    }
  }
  let head: number;
  let paused: Pause | undefined;
  const opts = transferOptions(ctx, "up");
  try {
    try {
      report.bytesUp += await remote.upload(space.id, sources, (n) => ctx.onProgress?.({ phase: "upload", bytes: n }), pause ? { ...opts, stop: () => (paused = pause())?.reason } : opts);
    } catch (err) {
      // Paused at a batch boundary: nothing is committed, the files stay local changes, and
      // what was sent stays on the sharing manager (it is not named missing next time).
      if (!(err instanceof UploadStopped) || !paused) throw err;
      report.bytesUp += err.sent;
      return { kind: "paused", pause: paused, sent: err.sent };
    }
    for (;;) {
      try {
        head = await remote.commit(space.id, changes.map(({ version, base }) => ({ version, base })));
        break;
      } catch (err) {
        // A path the sharing manager will not take (`foo.txt` beside another member's
        // `Foo.txt`): it stays on this disk, reported, and the rest goes on without it.
        if (!(err instanceof ShareError) || err.code !== "invalid-path") throw err;
        const { path, reason, with: other } = err.attrs;
        const at = changes.findIndex((c) => c.version.path === path);
        if (at < 0) throw err;
        changes.splice(at, 1);
        refused.set(path!, other ? `${reason ?? "invalid-path"} with ${other}` : (reason ?? "invalid-path"));
        if (changes.length === 0) return { kind: "none" };
      }
    }
  } catch (err) {
    // Someone committed in between, or a chunk vanished: start a new round from the truth.
    if (err instanceof ShareError && (err.code === "version-conflict" || err.code === "missing-chunks" || err.code === "hash-mismatch")) {
      return { kind: "conflict", missingChunks: err.code === "missing-chunks" };
    }
    throw err;
  }
  state.commit(space.id, changes.map((ch) => ({ version: ch.version, ...(ch.local && !ch.version.deleted ? { local: ch.local } : {}) })));
  report.pushed += changes.length;
  // Versions committed pending earlier, now with their content (engine/pending.ts).
  report.completed = (report.completed ?? 0) + changes.filter((ch) => samePending(synced.get(ch.version.path), ch.version)).length;
  return { kind: "done", head, count: changes.length };
}

/**
 * Reads a file's chunks for upload in large blocks: uploads take chunks in file order, a few
 * batches at a time, so one read of a few MiB serves dozens of chunks instead of an open, read
 * and close each. Keeps the last few blocks only.
 */
class BlockReader {
  static readonly BLOCK = 4 * 1024 * 1024;
  static readonly KEEP = 8;
  readonly #blocks = new Map<number, Promise<Uint8Array>>();

  constructor(
    readonly fs: Fs,
    readonly path: string,
    /** The file's size as scanned: blocks never extend past it (small files read only themselves). */
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length > BlockReader.BLOCK) return this.fs.readRange(this.path, offset, length);
    const first = Math.floor(offset / BlockReader.BLOCK);
    const last = Math.floor((offset + length - 1) / BlockReader.BLOCK);
    if (first === last) {
      const block = await this.#block(first);
      const at = offset - first * BlockReader.BLOCK;
      return block.subarray(at, at + length);
    }
    const [a, b] = await Promise.all([this.#block(first), this.#block(last)]);
    const at = offset - first * BlockReader.BLOCK;
    return Buffer.concat([a.subarray(at), b.subarray(0, length - (a.length - at))]);
  }

  #block(n: number): Promise<Uint8Array> {
    let p = this.#blocks.get(n);
    if (!p) {
      const start = n * BlockReader.BLOCK;
      p = this.fs.readRange(this.path, start, Math.max(0, Math.min(BlockReader.BLOCK, this.size - start)));
      this.#blocks.set(n, p);
      while (this.#blocks.size > BlockReader.KEEP) this.#blocks.delete(this.#blocks.keys().next().value!);
    }
    return p;
  }
}
