/**
 * Turns what a sync left in the device's state into the share module's records (store.ts):
 * after every sync of a space (and when the UI starts following one), each path whose synced
 * version is not the one recorded last gets a history row, with the member who made it (this
 * device for its own replica, otherwise the member the replica was learned to belong to, if
 * known); a version made by another replica is a remote change too, which makes its folders
 * gleam (gleam.ts). The first time a space is followed, what is there is recorded as "found"
 * and gleams nowhere.
 */
import type { FileVersion } from "../../../protocol/file.ts";
import { digest } from "../../../protocol/vv.ts";
import type { HistoryRow, ShareStore } from "./store.ts";

/** A version's identity: content and vector (an edit or a merge always moves the vector). */
export function versionKey(v: FileVersion): string {
  return `${v.deleted ? "deleted" : v.kind} ${v.hash} ${v.was ?? ""} ${digest(v.vector)}`;
}

export interface Recorder {
  readonly store: ShareStore;
  /** This device's replica and the user's bare JID. */
  readonly replica: string;
  readonly me: string;
  readonly now: () => number;
}

/** What one recording found: paths changed by others (they gleam) and by this device. */
export interface Recorded {
  readonly received: string[];
  readonly sent: string[];
}

/**
 * Records the versions of `space` (its synced versions, e.g. ClientState.entries) that differ
 * from the newest recorded; `known` is the caller's cache of store.latestKeys(space), kept
 * up to date here.
 */
export function recordVersions(r: Recorder, space: string, versions: Iterable<FileVersion>, known: Map<string, string>): Recorded {
  const first = r.store.baseline(space) === undefined;
  if (first) r.store.track(space, r.store.seq());
  const rows: HistoryRow[] = [];
  const out: Recorded = { received: [], sent: [] };
  for (const v of versions) {
    if (v.kind !== "file") continue;
    const key = versionKey(v);
    if (known.get(v.path) === key) continue;
    // A deletion of a file this device never recorded is nothing to show.
    if (v.deleted && !known.has(v.path)) {
      known.set(v.path, key);
      continue;
    }
    known.set(v.path, key);
    const mine = v.replica === r.replica;
    const author = mine ? r.me : r.store.member(v.replica);
    const how: HistoryRow["how"] = first ? "found" : mine ? "sent" : "received";
    rows.push({ path: v.path, hash: v.hash, size: v.size, mtimeMs: v.mtimeMs, deleted: v.deleted, replica: v.replica, ...(author ? { author } : {}), atMs: r.now(), how, key });
    if (how === "received") out.received.push(v.path);
    if (how === "sent") out.sent.push(v.path);
  }
  r.store.addHistory(space, rows);
  for (const p of out.received) r.store.addChange(space, p, r.store.next());
  return out;
}
