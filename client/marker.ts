/**
 * The folder marker: `.xshare/space` at the root of a shared folder holds the id of the space
 * the folder belongs to. Before every scan the engine asks `checkMarker`, and unless it answers
 * "ok" the space is paused and no deletion is sent: an unmounted disk, a folder wiped or
 * swapped for another one, must never look like "the user deleted everything" (Syncthing's
 * `.stfolder` lesson).
 *
 * The marker is written like any content (temp file, fsync, rename, fsync of the directory),
 * so it is either absent or complete.
 */
import { STATE_DIR } from "../protocol/paths.ts";
import type { SpaceId } from "../protocol/ids.ts";
import type { Fs } from "./fs/types.ts";

export const MARKER_PATH = `${STATE_DIR}/space`;
/** More than any space id needs: a marker is never read whole if something odd sits there. */
const MAX_MARKER_BYTES = 1024;

export type MarkerState = "ok" | "missing-root" | "missing-marker" | "other-space";

/** Creates (or replaces) `.xshare/space` with `spaceId`, durably. */
export async function writeMarker(fs: Fs, spaceId: SpaceId): Promise<void> {
  await fs.mkdir(STATE_DIR);
  const tmp = await fs.writeTemp(STATE_DIR, [Buffer.from(`${spaceId}\n`, "utf8")]);
  await fs.rename(tmp, MARKER_PATH);
  await fs.fsyncDir(STATE_DIR);
}

/**
 * Whether the folder is the one of `spaceId`. I/O errors other than absence (EACCES, EIO)
 * are thrown: the caller pauses the space on those as well.
 */
export async function checkMarker(fs: Fs, spaceId: SpaceId): Promise<MarkerState> {
  if (!(await fs.exists())) return "missing-root";
  const st = await fs.lstat(MARKER_PATH);
  if (st?.kind !== "file") return "missing-marker";
  const text = Buffer.from(await fs.readRange(MARKER_PATH, 0, MAX_MARKER_BYTES)).toString("utf8");
  return text.trim() === spaceId ? "ok" : "other-space";
}
