/**
 * The gleam (the patent's FIG. 5): the star on a folder in which something changed remotely
 * since the user last opened that folder in the UI. Pure rules over two things the store
 * (store.ts) keeps per space: the remote changes (per path, the sequence number of the latest
 * change this device received; the device's own changes are never recorded as such) and, per
 * folder, the sequence number up to which the user has seen it.
 *
 * - A change under folder A (at any depth) is seen from A once A, or a folder between A and the
 *   change, was opened after it. A folder (`""` is the space's root) gleams while a change
 *   under it is not seen from it. A folder never opened has seen up to the space's baseline
 *   (the moment the UI started following the space), so a home's old files do not all gleam.
 * - So opening a folder clears its own star; a sub-folder with a change keeps its star until it
 *   is opened in turn (opening a parent says nothing about what the user saw further down).
 * - And the parents of an opened folder clear when nothing else under them changed: the
 *   changes in the opened folder are seen from each of them, others are not.
 */

export interface Change {
  /** Space-relative path of the file (or folder) that changed. */
  readonly path: string;
  readonly seq: number;
}

/** `path` is `folder` itself or lies under it. */
export function under(path: string, folder: string): boolean {
  return folder === "" || path === folder || path.startsWith(`${folder}/`);
}

/** The folders containing `folder`, nearest first, ending with the root `""`. */
export function ancestors(folder: string): string[] {
  const out: string[] = [];
  let f = folder;
  while (f !== "") {
    const i = f.lastIndexOf("/");
    f = i < 0 ? "" : f.slice(0, i);
    out.push(f);
  }
  return out;
}

/** Whether change `c` under `folder` is seen from it (see the header). */
function seenFrom(folder: string, c: Change, seen: (folder: string) => number): boolean {
  if (seen(folder) >= c.seq) return true;
  // The folders between `folder` (excluded) and the change (its parent included).
  for (const a of ancestors(c.path)) {
    if (a === folder || !under(a, folder)) break;
    if (seen(a) >= c.seq) return true;
  }
  return false;
}

/** Whether `folder` gleams: some change under it is not seen from it. */
export function gleams(folder: string, changes: Iterable<Change>, seen: (folder: string) => number): boolean {
  for (const c of changes) if (c.path !== folder && under(c.path, folder) && !seenFrom(folder, c, seen)) return true;
  return false;
}
