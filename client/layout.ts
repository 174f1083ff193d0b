/**
 * Where a space belongs in the user's sharing root, as the patent's FIG. 3 lays it out: the
 * user's own "my sharing" folder (kind `mine`, owned by the user), one folder per contact for
 * what that contact shares with the user alone (their `mine` spaces, and the pairs with them,
 * the "Adam/Bob" folders), and one per group. `xshare accept` (commands.ts) makes folders from
 * this, and the local UI's share module (client/ui/share/) shows the same sections, so the two
 * never disagree about where a space lives.
 *
 * Pure: names in, a place out; nothing touches the disk.
 */
import { join } from "node:path";
import type { BareJid } from "../protocol/ids.ts";
import { checkPath } from "../protocol/paths.ts";
import type { Space } from "../protocol/stanzas/spaces.ts";
import type { Home } from "./home.ts";

export type Place =
  /** The user's own `mine` space: "My sharing". */
  | { readonly section: "mine" }
  /** A contact's `mine` space (their "my sharing", seen here as the contact's folder). */
  | { readonly section: "contact"; readonly contact: BareJid; readonly pair: false }
  /** A pair with one contact ("Adam/Bob"), shown in that contact's folder. */
  | { readonly section: "contact"; readonly contact: BareJid; readonly pair: true }
  | { readonly section: "group" };

/** The FIG. 3 section of `space` for the user `me`. */
export function placeOf(me: BareJid, space: Pick<Space, "kind" | "owner" | "members">): Place {
  if (space.kind === "mine") return space.owner === me ? { section: "mine" } : { section: "contact", contact: space.owner, pair: false };
  if (space.kind === "pair") return { section: "contact", contact: space.members.find((m) => m !== me) ?? me, pair: true };
  return { section: "group" };
}

/** A name as one folder name: NFC, no separators or controls, never a rejected path. */
function folderName(s: string, fallback: string): string {
  const c = s.normalize("NFC").replace(/[\\/:\u0000-\u001f\u007f]/g, "_").replace(/[. ]+$/, "") || "_";
  try {
    return checkPath(c);
  } catch {
    return fallback;
  }
}

/** The folder `xshare accept` gives a space when no folder is named. */
export function layoutFolder(home: Home, me: BareJid, space: Pick<Space, "id" | "kind" | "name" | "owner" | "members">): string {
  const clean = (s: string) => folderName(s, space.id);
  const place = placeOf(me, space);
  // Pairs get a folder of their own: inside the contact's "my sharing" folder they would be
  // synced twice.
  if (place.section === "mine") return join(home.sharingRoot, "My sharing");
  if (place.section === "contact" && !place.pair) return join(home.sharingRoot, clean(place.contact));
  if (place.section === "contact") return join(home.sharingRoot, "Pairs", clean(place.contact), clean(space.name));
  return join(home.sharingRoot, "Groups", clean(space.name));
}
