/**
 * What the sharing portion shows, as plain data (the page builds it with textContent only):
 * the user's spaces in the sections of the patent's FIG. 3, placed by client/layout.ts (the
 * rule `xshare accept` lays folders out by), and each space's sync state in one word and a
 * sentence. Pure: the module (index.ts) gathers the inputs.
 *
 * Sections, in order: "My sharing" (always there, even empty: it is where the user shares
 * from), one folder per contact (that contact's `mine` spaces and the pairs with them, "Adam/Bob"),
 * sorted by JID, then "Groups" when there are any.
 */
import type { BareJid } from "../../../protocol/ids.ts";
import { placeOf } from "../../layout.ts";

export interface SpaceInfo {
  readonly id: string;
  readonly kind: "mine" | "pair" | "group";
  readonly name: string;
  readonly owner: BareJid;
  readonly members: readonly BareJid[];
}

export interface Section {
  /** "mine", "contact:<jid>" or "groups": stable across updates (the page keeps what is open). */
  readonly key: string;
  readonly kind: "mine" | "contact" | "groups";
  readonly title: string;
  readonly contact?: BareJid;
  /** The spaces in it, each with the label it is shown under. */
  readonly spaces: ReadonlyArray<{ readonly id: string; readonly label: string }>;
}

/** "adam" of adam@example.org. */
export const localOf = (jid: string): string => jid.split("@")[0] ?? jid;

/** FIG. 3: the sections of `me`'s spaces. */
export function fig3(me: BareJid, spaces: readonly SpaceInfo[]): Section[] {
  const mine: Array<{ id: string; label: string }> = [];
  const contacts = new Map<BareJid, Array<{ id: string; label: string; order: number }>>();
  const groups: Array<{ id: string; label: string }> = [];
  const sorted = [...spaces].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  for (const s of sorted) {
    const place = placeOf(me, s);
    if (place.section === "mine") mine.push({ id: s.id, label: s.name });
    else if (place.section === "group") groups.push({ id: s.id, label: s.name });
    else {
      let list = contacts.get(place.contact);
      if (!list) contacts.set(place.contact, (list = []));
      // Their "my sharing" first, then the pairs, "Adam/Bob: <name>".
      if (place.pair) list.push({ id: s.id, label: `${localOf(me)}/${localOf(place.contact)}: ${s.name}`, order: 1 });
      else list.push({ id: s.id, label: `${localOf(place.contact)}'s sharing: ${s.name}`, order: 0 });
    }
  }
  const out: Section[] = [{ key: "mine", kind: "mine", title: "My sharing", spaces: mine }];
  for (const jid of [...contacts.keys()].sort()) {
    const list = contacts.get(jid)!.sort((a, b) => a.order - b.order);
    out.push({ key: `contact:${jid}`, kind: "contact", title: localOf(jid), contact: jid, spaces: list.map(({ id, label }) => ({ id, label })) });
  }
  if (groups.length) out.push({ key: "groups", kind: "groups", title: "Groups", spaces: groups });
  return out;
}

/** The facts a space's state is told from. */
export interface StateInputs {
  readonly online: boolean;
  readonly syncing: boolean;
  /** A remote change was announced and is not fetched yet. */
  readonly incoming: boolean;
  readonly lastStatus?: "in-sync" | "paused" | "incomplete";
  readonly lastReason?: string;
  readonly error?: string;
  readonly conflicts: number;
  /** Transfers held back, each with why and until when (ms) if by time. */
  readonly waiting: ReadonlyArray<{ readonly path: string; readonly direction: "up" | "down"; readonly reason: string; readonly untilMs?: number }>;
}

export type SyncStatus = "in-sync" | "syncing" | "waiting" | "paused" | "offline" | "retrying";

/** One word (for the badge) and a sentence (for people). Conflicts are counted beside it. */
export function syncState(i: StateInputs, formatTime: (ms: number) => string): { status: SyncStatus; text: string } {
  if (!i.online) return { status: "offline", text: "offline: changes are kept and exchanged when the connection is back" };
  if (i.syncing) return { status: "syncing", text: "syncing now" };
  if (i.error) return { status: "retrying", text: `the last sync failed (${i.error}); retrying` };
  if (i.lastStatus === "paused") return { status: "paused", text: `paused: ${i.lastReason ?? "see xshare status"}` };
  if (i.incoming) return { status: "syncing", text: "changed elsewhere; fetching" };
  if (i.waiting.length) {
    const first = i.waiting[0]!;
    // The schedule's reasons say "until 02:00" in its own time zone already.
    const until = first.untilMs !== undefined && !/\buntil\b/.test(first.reason) ? ` until ${formatTime(first.untilMs)}` : "";
    const more = i.waiting.length > 1 ? ` (and ${i.waiting.length - 1} more)` : "";
    return { status: "waiting", text: `${first.direction === "up" ? "sending" : "receiving"} ${first.path} waits${until}: ${first.reason}${more}` };
  }
  return { status: "in-sync", text: "in sync" };
}
