/**
 * A space's tree as the page shows it: one folder's entries (from the disk, where the user's
 * files are) with what the device knows of each (the synced version's size, time and the
 * member who made it), and one file's details and version history (store.ts).
 *
 * Every path from the browser passes protocol/paths.ts checkPath (so no `..`, no absolute path,
 * nothing reserved) and every folder on the way is checked to be a real folder, not a link,
 * so nothing outside the space's folder is ever read. A bad path is a BadInput, read nothing.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ShareError } from "../../../protocol/errors.ts";
import type { SpaceId } from "../../../protocol/ids.ts";
import { STATE_DIR, TEMP_PREFIX, checkPath } from "../../../protocol/paths.ts";
import type { ClientState } from "../../state.ts";
import { gleams, type Change } from "./gleam.ts";
import { BadInput } from "./http.ts";
import type { HistoryRow, ShareStore } from "./store.ts";

/** `raw` as a space-relative folder or file path ("" is the root when `root` is allowed). */
export function relPath(raw: unknown, root: boolean): string {
  if (raw === undefined || raw === null || raw === "") {
    if (root) return "";
    throw new BadInput("Say which file.");
  }
  if (typeof raw !== "string") throw new BadInput("A path must be text.");
  try {
    return checkPath(raw);
  } catch (err) {
    if (err instanceof ShareError) throw new BadInput(`That path cannot be in a shared folder: ${err.message}.`);
    throw err;
  }
}

/** Checks that every folder from the space's folder down to `rel` is a real folder (no link). */
async function realFolders(folder: string, rel: string, includeLast: boolean): Promise<void> {
  const parts = rel === "" ? [] : rel.split("/");
  const upto = includeLast ? parts.length : parts.length - 1;
  for (let i = 1; i <= upto; i++) {
    const st = await lstat(join(folder, ...parts.slice(0, i))).catch(() => undefined);
    if (!st) throw new BadInput(`There is no ${parts.slice(0, i).join("/")} in this space.`, 404);
    if (!st.isDirectory()) throw new BadInput(`${parts.slice(0, i).join("/")} is not a folder.`);
  }
}

export interface Entry {
  readonly name: string;
  readonly path: string;
  readonly kind: "dir" | "file" | "other";
  readonly size?: number;
  readonly mtimeMs?: number;
  /** Who made the version on disk, if this device knows. */
  readonly author?: string;
  readonly gleam?: boolean;
  /** A conflict copy (the other side of a conflict the user has not resolved). */
  readonly conflict?: boolean;
}

export interface TreeInputs {
  readonly space: SpaceId;
  readonly folder: string;
  readonly state: ClientState;
  readonly store: ShareStore;
  readonly changes: readonly Change[];
  readonly seen: (folder: string) => number;
  readonly me: string;
  readonly replica: string;
}

/** Who made a version: this device, or the member its replica was learned to be. */
export function authorOf(t: Pick<TreeInputs, "store" | "me" | "replica">, replica: string | undefined, recorded?: string): string | undefined {
  if (!replica) return undefined;
  if (replica === t.replica) return t.me;
  return recorded ?? t.store.member(replica);
}

/** One folder's entries: folders first, then files, by name. */
export async function listFolder(t: TreeInputs, rel: string): Promise<Entry[]> {
  await realFolders(t.folder, rel, true);
  const names = await readdir(join(t.folder, rel)).catch(() => {
    throw new BadInput(`There is no ${rel || "folder"} in this space.`, 404);
  });
  const copies = new Set(t.state.conflicts(t.space).map((c) => c.copy));
  const out: Entry[] = [];
  for (const name of names) {
    if (name.startsWith(TEMP_PREFIX) || (rel === "" && name === STATE_DIR)) continue;
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(t.folder, path)).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      out.push({ name, path, kind: "dir", ...(gleams(path, t.changes, t.seen) ? { gleam: true } : {}) });
      continue;
    }
    if (!st.isFile()) {
      out.push({ name, path, kind: "other" });
      continue;
    }
    const synced = t.state.synced(t.space, path)?.version;
    const author = authorOf(t, synced?.replica);
    out.push({ name, path, kind: "file", size: st.size, mtimeMs: st.mtimeMs, ...(author ? { author } : {}), ...(copies.has(path) ? { conflict: true } : {}) });
  }
  return out.sort((a, b) => (a.kind === "dir" ? 0 : 1) - (b.kind === "dir" ? 0 : 1) || a.name.localeCompare(b.name));
}

export interface Details {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** The synced version: who made it (if known) and which replica. */
  readonly replica?: string;
  readonly author?: string;
  readonly synced: boolean;
  readonly history: ReadonlyArray<Omit<HistoryRow, "key"> & { author?: string }>;
  readonly conflict?: { readonly path: string; readonly copy: string; readonly localAt: "path" | "copy" };
}

export async function fileDetails(t: TreeInputs, rel: string): Promise<Details> {
  await realFolders(t.folder, rel, false);
  const st = await lstat(join(t.folder, rel)).catch(() => undefined);
  if (!st || !st.isFile()) throw new BadInput(`There is no file ${rel} in this space.`, 404);
  const synced = t.state.synced(t.space, rel);
  const author = authorOf(t, synced?.version.replica);
  const history = t.store.history(t.space, rel).map(({ key: _key, ...h }) => {
    const who = authorOf(t, h.replica, h.author);
    return { ...h, ...(who ? { author: who } : {}) };
  });
  const c = t.state.conflicts(t.space).find((x) => x.path === rel || x.copy === rel);
  const unchanged = synced?.local && synced.local.size === st.size && synced.local.mtimeMs === st.mtimeMs;
  return {
    path: rel, size: st.size, mtimeMs: st.mtimeMs, synced: Boolean(unchanged),
    ...(synced ? { replica: synced.version.replica } : {}), ...(author ? { author } : {}),
    history,
    ...(c ? { conflict: { path: c.path, copy: c.copy, localAt: c.localAt } } : {}),
  };
}
