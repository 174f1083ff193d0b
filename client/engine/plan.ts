/**
 * The sync planner (pure): from the synced versions, what is on disk now and what changed on
 * the sharing manager since the last pull, decide per path what to do.
 *
 * Rules (XEP-draft.md § 6 rule 7, § 5.6):
 * - only one side changed: that side's version goes to the other;
 * - both changed to the same content: adopt the remote version, nothing moves;
 * - both changed differently: the conflict rule picks a winner on every replica alike; the
 *   loser is kept as a conflict copy (a new path, pushed like any new file), never dropped;
 * - in someone else's `mine` space local changes are never pushed; the remote side wins and a
 *   differing local file is kept as a local-only conflict copy;
 * - a local file is never overwritten or deleted unless it still looks exactly as scanned
 *   (the executor re-checks just before it touches the file);
 * - our own version committed pending (§ 5.16), the file unchanged: pushed again complete.
 */
import { conflictName, winsConflict } from "../../protocol/conflict.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ReplicaId } from "../../protocol/ids.ts";
import { foldKey } from "../../protocol/paths.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { EMPTY, bump, compare, merge, type VersionVector } from "../../protocol/vv.ts";
import type { Synced } from "../state.ts";
import { complete } from "./pending.ts";

/** A path as the scanner found it on disk. */
export interface OnDisk {
  readonly path: string;
  readonly kind: "file" | "dir";
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly mode: number;
  readonly hash: string;
  readonly chunks: FileVersion["chunks"];
  /** False when the scanner reused the synced hash because size, mtime and inode matched. */
  readonly changed: boolean;
}

export type Action =
  /** Send a local version (edit, new path or deletion) to the component. */
  | { readonly type: "push"; readonly path: string; readonly version: FileVersion; readonly base: VersionVector; readonly disk?: OnDisk }
  /** Bring a remote version (file, directory or deletion) to disk. */
  | { readonly type: "apply"; readonly path: string; readonly remote: IndexEntry; readonly disk?: OnDisk }
  /** Both sides agree already: record the remote version with the local file's stat. */
  | { readonly type: "adopt"; readonly path: string; readonly remote: IndexEntry; readonly disk?: OnDisk }
  /** Same content, new stat (touched, or re-hashed): remember the stat only. */
  | { readonly type: "restat"; readonly path: string; readonly synced: Synced; readonly disk: OnDisk }
  /**
   * Concurrent different versions. `keep` says which content stays at `path`; the other is
   * kept at `copy`. `push` is the version to commit for `path` when local won.
   */
  | {
      readonly type: "conflict";
      readonly path: string;
      readonly keep: "local" | "remote";
      readonly copy: string | undefined;
      readonly remote: IndexEntry;
      readonly local: FileVersion;
      readonly disk?: OnDisk;
      /** When the copy holds local content in a read-only space, it stays local. */
      readonly pushCopy: boolean;
      /** The copy is on disk already (a round whose commit was refused wrote it): not written again. */
      readonly copyThere?: true;
    }
  /** Local change in a space that is read-only here: reported, never pushed. */
  | { readonly type: "read-only"; readonly path: string };

export interface PlanInput {
  readonly synced: ReadonlyMap<string, Synced>;
  readonly disk: ReadonlyMap<string, OnDisk>;
  /** Latest remote version per path among the index entries after the last pull. */
  readonly remote: ReadonlyMap<string, IndexEntry>;
  readonly replica: ReplicaId;
  readonly nowMs: number;
  /** Someone else's `mine` space. */
  readonly readOnly: boolean;
}

const EXEC = 0o100;

function localVersion(path: string, d: OnDisk | undefined, s: Synced | undefined, vector: VersionVector, replica: ReplicaId, nowMs: number): FileVersion {
  if (!d) {
    const prev = s?.version;
    // What it deletes travels with it (`was`): a replica that lost its records can tell its
    // copy of exactly these bytes from an edit.
    const was = prev && !prev.deleted && prev.kind === "file" && prev.hash ? { was: prev.hash } : {};
    return { path, kind: prev?.kind ?? "file", vector, hash: "", size: 0, mtimeMs: nowMs, mode: prev?.mode ?? 0o644, deleted: true, replica, chunks: [], ...was };
  }
  const dir = d.kind === "dir";
  return {
    path,
    kind: d.kind,
    vector,
    hash: dir ? "" : d.hash,
    size: dir ? 0 : d.size,
    mtimeMs: Math.floor(d.mtimeMs),
    mode: d.mode & 0o777,
    deleted: false,
    replica,
    chunks: dir ? [] : d.chunks,
  };
}

/** What changed locally relative to the synced version. */
function localChange(s: Synced | undefined, d: OnDisk | undefined): "none" | "restat" | "changed" {
  const v = s && !s.version.deleted ? s.version : undefined;
  if (!v) return d ? "changed" : "none";
  if (!d) return "changed";
  if (d.kind !== v.kind) return "changed";
  if (d.kind === "dir") return "none";
  if (!d.changed) return "none";
  if (d.hash === v.hash && (d.mode & EXEC) === (v.mode & EXEC)) return "restat";
  return "changed";
}

function sameContent(d: OnDisk | undefined, r: IndexEntry): boolean {
  if (!d) return r.deleted;
  if (r.deleted || d.kind !== r.kind) return false;
  return d.kind === "dir" || d.hash === r.hash;
}

/**
 * Where the loser is kept: `conflictName`, unless that name is taken (folded, as the component
 * compares paths) by a path on disk, synced or in the remote changes, or by another copy of this
 * plan. Two versions of one replica whose mtimes fall in the same second get one name (a file
 * renamed onto another keeps its mtime); renaming onto a taken name replaced that file, whose
 * "edit" then went to everyone, and writing onto it failed every round. The stamp then moves a
 * second at a time, later and earlier, to the nearest free name: same form, nothing replaced.
 */
function copyName(path: string, loser: FileVersion, taken: Set<string>, holds: (name: string) => boolean): { name: string; there: boolean } {
  for (let k = 0; ; k++) {
    for (const delta of k === 0 ? [0] : [k * 1000, -k * 1000]) {
      const name = conflictName(path, delta ? { ...loser, mtimeMs: loser.mtimeMs + delta } : loser);
      // Kept by an earlier round whose commit was refused: the same copy, not a second one.
      if (holds(name)) return { name, there: true };
      if (!taken.has(foldKey(name))) {
        taken.add(foldKey(name));
        return { name, there: false };
      }
    }
  }
}

export function plan(input: PlanInput): Action[] {
  const { synced, disk, remote, replica, nowMs, readOnly } = input;
  const paths = [...new Set([...synced.keys(), ...disk.keys(), ...remote.keys()])].sort();
  const taken = new Set(paths.map(foldKey));
  const actions: Action[] = [];
  for (const path of paths) {
    const s = synced.get(path);
    const d = disk.get(path);
    const r0 = remote.get(path);
    // A remote version counts only if it is news: not what we synced, nor older than it.
    const order = r0 && s ? compare(r0.vector, s.version.vector) : "greater";
    const r = r0 && (order === "greater" || order === "concurrent") ? r0 : undefined;
    const local = localChange(s, d);
    const base = s?.version.vector ?? EMPTY;

    if (!r) {
      // Our version committed pending (§ 5.16), the file as it was: the completion, the same
      // version with its content (engine/pending.ts).
      if (s?.version.pending && d && local !== "changed" && !readOnly) actions.push({ type: "push", path, version: complete(s.version), base: s.version.vector, disk: d });
      else if (local === "restat" && s && d) actions.push({ type: "restat", path, synced: s, disk: d });
      else if (local === "changed") {
        if (readOnly) actions.push({ type: "read-only", path });
        else actions.push({ type: "push", path, version: localVersion(path, d, s, bump(base, replica, nowMs), replica, nowMs), base, ...(d ? { disk: d } : {}) });
      }
      continue;
    }
    if (local !== "changed") {
      // Only the remote side changed (a restat is subsumed: the file is rewritten or deleted).
      if (r.deleted && !d && !(s && !s.version.deleted)) actions.push({ type: "adopt", path, remote: r });
      else actions.push({ type: "apply", path, remote: r, ...(d ? { disk: d } : {}) });
      continue;
    }
    if (sameContent(d, r)) {
      actions.push({ type: "adopt", path, remote: r, ...(d ? { disk: d } : {}) });
      continue;
    }
    // No record of this path (a device whose database was lost) and the remote side deleted
    // exactly what is on disk, or an empty folder: that is the deletion, not a local edit.
    if (!s && d && r.deleted && d.kind === r.kind && (d.kind === "dir" || (r.was !== undefined && r.was === d.hash))) {
      actions.push({ type: "apply", path, remote: r, disk: d });
      continue;
    }
    // Both changed, differently.
    const mine = localVersion(path, d, s, bump(merge(base, r.vector), replica, nowMs), replica, nowMs);
    const localWins = !readOnly && winsConflict(mine, r);
    const loser: FileVersion = localWins ? r : mine;
    // A deletion that loses needs no copy: the edit simply stays. A remote loser already on
    // disk under its copy name is neither written nor sent again: it is a local file of its own.
    const holds = (n: string) => localWins && disk.get(n)?.kind === "file" && disk.get(n)?.hash === loser.hash && !remote.has(n);
    const kept = loser.deleted ? undefined : copyName(path, loser, taken, holds);
    const copy = kept?.name;
    actions.push({
      type: "conflict",
      path,
      keep: localWins ? "local" : "remote",
      copy,
      remote: r,
      local: mine,
      pushCopy: !readOnly && !kept?.there,
      ...(kept?.there ? { copyThere: true } : {}),
      ...(d ? { disk: d } : {}),
    });
  }
  return actions;
}
