/**
 * One space as the page's snapshot shows it: members (online or not, from the manager's list of
 * sharing clients online), sync state (view.ts), what waits and why (the last sync's schedule
 * queue, else the state's waiting rows), large transfers paused part-way, conflicts, the bytes
 * of the sync running now, and whether its root gleams. Built from what the daemon and the
 * share module hold in memory and in the state; asks no one.
 */
import type { BareJid } from "../../../protocol/ids.ts";
import { bareOf } from "../../../protocol/jid.ts";
import type { Peer } from "../../../protocol/stanzas/sync-signals.ts";
import type { SyncReport } from "../../engine/sync.ts";
import type { ClientState, LocalSpace } from "../../state.ts";
import { syncState, type StateInputs } from "./view.ts";

/** What the module knows of a space's syncs since it started. */
export interface Live {
  syncing: boolean;
  /** A remote change was announced and not fetched yet. */
  incoming: boolean;
  report?: SyncReport;
  error?: string;
  /** Bytes of the sync running now (or the last one). */
  up: number;
  down: number;
}

export interface SpaceInputs {
  readonly space: LocalSpace;
  /** The members as the sharing manager last listed them (else the state's). */
  readonly members?: readonly BareJid[];
  readonly state: ClientState;
  readonly live: Live;
  readonly peers: readonly Peer[];
  readonly me: BareJid;
  readonly online: boolean;
  readonly gleam: boolean;
}

export function spaceSnapshot(i: SpaceInputs) {
  const { space: s, state, live: l } = i;
  const conflicts = state.conflicts(s.id).length;
  const waiting: StateInputs["waiting"] = l.report?.waiting
    ? l.report.waiting.filter((q) => q.timing !== "now").map((q) => ({ path: q.path, direction: q.direction, reason: q.reason, ...(q.runAtMs !== undefined ? { untilMs: q.runAtMs } : {}) }))
    : state.waiting(s.id).map((w) => ({ path: w.version.path, direction: "down" as const, reason: w.reason ?? "waiting", ...(w.untilMs !== undefined ? { untilMs: w.untilMs } : {}) }));
  const paused = state.partials(s.id).filter((p) => p.reason !== undefined).map((p) => ({ path: p.path, direction: p.direction, done: p.bytes, size: p.size, reason: p.reason! }));
  const st = syncState(
    { online: i.online, syncing: l.syncing, incoming: l.incoming, conflicts, waiting, ...(l.report ? { lastStatus: l.report.status } : {}), ...(l.report?.reason ? { lastReason: l.report.reason } : {}), ...(l.error ? { error: l.error } : {}) },
    (ms) => new Date(ms).toISOString(),
  );
  const members = (i.members ?? s.members).map((m) => {
    const on = i.peers.filter((p) => bareOf(p.jid) === m);
    return { jid: m, me: m === i.me, online: m === i.me ? i.online : on.length > 0, ...(on[0]?.show ? { show: on[0].show } : {}) };
  });
  return {
    id: s.id, kind: s.kind, name: s.name, owner: s.owner, members, folder: s.folder, readOnly: s.kind === "mine" && s.owner !== i.me,
    status: st.status, text: st.text, conflicts, waiting, paused, gleam: i.gleam,
    // Bytes moved by the sync running now (none between syncs).
    progress: l.syncing && (l.up || l.down) ? { up: l.up, down: l.down } : undefined,
  };
}
