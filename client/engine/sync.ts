/**
 * One space, synchronized once: pull the index changes, scan the folder, plan, bring remote
 * versions to disk (apply.ts), push local versions (push.ts), acknowledge. Repeats (a few rounds
 * at most) when a commit was refused because someone else committed in between, or a local file
 * changed under our feet; each round starts from what is now true on both sides.
 *
 * Nothing is sent when the folder's marker is missing (an unmounted disk must not look like a
 * folder whose files were all deleted).
 *
 * With a schedule (ctx.schedule, engine/schedule.ts) each round's transfers are planned: what
 * may go now runs in plan order (remote versions to disk first, then local ones to the sharing
 * manager, as without a schedule, each in groups of one priority and size class), what must
 * wait is not transferred (downloads wait in the state, uploads stay local changes) and is
 * reported in `waiting`. Chunks are then uploaded by the push, in plan order and under the
 * rate caps, not while the scan reads them. A large transfer that pauses (engine/schedule.ts)
 * ends what starts in its round: pre-empted, the sync returns `incomplete`; paused by its window
 * or metered, the next round plans again. Partials (engine/partials.ts) that no transfer of the
 * first round continues are removed then (their temp files are spared from the stale-temp
 * cleanup otherwise).
 * Pending versions (XEP-draft.md § 5.16, engine/pending.ts): with a schedule, the uploads it
 * holds back (and those a pause left) are committed pending after the round's pushes, so the
 * members learn of them now; a remote version pending its uploader's content waits in the state
 * (with or without a schedule), and so does a local edit concurrent with it.
 * With a schedule, too, the sync asks the sharing manager about the space's members once
 * (`<contacts/>`, engine/contacts.ts), before its first round, and every round's plan takes its
 * urgency from that one answer. What a round reads and plans is engine/survey.ts.
 */
import { mergeAll } from "../../protocol/vv.ts";
import type { RefusedEntry } from "../../protocol/stanzas/index-exchange.ts";
import { checkMarker, type MarkerState } from "../marker.ts";
import { coveredBySkip, scan } from "../scanner.ts";
import type { Waiting } from "../state.ts";
import { applyRemote, removeStaleTemps, type RoundControl } from "./apply.ts";
import { type SyncContext, known } from "./context.ts";
import { LocalChanged } from "./disk.ts";
import { dropStalePartials, recordUploadPause, uploadPause } from "./partials.ts";
import { plan } from "./plan.ts";
import { push, type Pushed } from "./push.ts";
import { LARGE_BYTES, pauseCheck, type QueuedTransfer } from "./schedule.ts";
import { spaceContacts } from "./contacts.ts";
import { commitPending, markAnnounced, toAnnounce } from "./pending.ts";
import { survey } from "./survey.ts";
import type { Contact } from "../../protocol/stanzas/contacts.ts";

export type { SyncContext } from "./context.ts";

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
  /** Transfers the schedule holds back (after the last round), in plan order; absent without a schedule. */
  readonly waiting?: QueuedTransfer[];
  /** Uploads committed pending this sync (announced, their content to follow: engine/pending.ts). */
  readonly announced?: number;
  /** Versions committed pending before whose content this sync uploaded (their completion). */
  readonly completed?: number;
}

const ROUNDS = 6;

export async function syncSpace(ctx: SyncContext): Promise<SyncReport> {
  const { fs, state, remote, space, replica } = ctx;
  const report = { space: space.id, pushed: 0, pulled: 0, conflicts: 0, readOnlySkipped: [] as string[], skipped: [] as Array<{ path: string; reason: string }>, bytesUp: 0, bytesDown: 0, head: space.pulled, announced: 0, completed: 0 };
  /**
   * Paths held back this sync, with the reason: local ones the sharing manager refused (push.ts),
   * remote ones a local path spelt otherwise occupies (apply.ts: their versions go to `waiting`,
   * tried again at the next sync), remote paths that break the path rules. Reported.
   */
  const heldBack = new Map<string, string>();
  /** Remote versions held back this sync (apply.ts), kept for the next one. */
  const waiting = new Map<string, Waiting>();
  /** Remote versions the schedule defers, this round's (replaced each round). */
  let deferred: Waiting[] = [];
  /** What the schedule holds back, as the last round planned it (the report's `waiting`). */
  let waitingNow: QueuedTransfer[] | undefined;
  const marker = await checkMarker(fs, space.id);
  if (marker !== "ok") return { ...report, status: "paused", reason: marker };
  let pulledSeq = state.space(space.id)?.pulled ?? 0;
  // Chunks of synced versions are on the component (GC keeps current versions' chunks), so
  // only new chunks are named in upload slot requests, unless a commit said otherwise.
  let trustSynced = true;
  const readOnly = space.kind === "mine" && space.owner !== ctx.me;
  const uploader = readOnly || ctx.schedule ? undefined : remote.uploader(space.id, (n) => ctx.onProgress?.({ phase: "upload", bytes: n }));
  // With a schedule: the members' characteristics, once per sync (engine/contacts.ts).
  const contacts = ctx.schedule ? await spaceContacts(ctx) : undefined;

  for (let round = 0; round < ROUNDS; round++) {
    ctx.signal?.throwIfAborted();
    const { head, seen, synced, scanned, disk, actions, refused, scheduled, held } = await survey(ctx, pulledSeq, uploader, contacts);
    if (ctx.preempt) {
      ctx.preempt.read = mergeAll([state.vector(space.id), seen]);
      ctx.preempt.incoming = new Set(actions.flatMap((a) => (a.type === "apply" ? [a.path] : a.type === "conflict" ? [a.path, ...(a.copy ? [a.copy] : [])] : [])));
    }
    // What runs this round, in groups (one without a schedule: every action, in plan.ts's order).
    const groups = scheduled ? scheduled.groups : [actions];
    const running = scheduled ? groups.flat() : actions;
    if (scheduled) {
      waitingNow = scheduled.queue.filter((q) => q.timing !== "now");
      deferred = scheduled.deferredDownloads.map((d) => ({ version: d.action.remote, reason: d.reason, ...(d.untilMs !== undefined ? { untilMs: d.untilMs } : {}) }));
    } else {
      deferred = [];
      if (held.queue.length) waitingNow = held.queue;
    }
    // Pending remote versions wait in the state, with or without a schedule (engine/pending.ts).
    deferred.push(...held.waits);
    if (refused.length) state.addRefused(space.id, refused.map((r) => ({ path: r.path, reason: refusedReason(r) })));
    for (const r of refused) heldBack.set(r.path, refusedReason(r));
    if (uploader) {
      report.bytesUp += uploader.sent;
      uploader.sent = 0;
    }
    if (round === 0) {
      const partials = await dropStalePartials(ctx, actions);
      await removeStaleTemps(fs, scanned.temps.filter((t) => !partials.has(t)), ctx.now(), ctx.holdsLock === true);
    }
    // With a schedule, large transfers may pause at a batch boundary (apply.ts RoundControl).
    const inQueue = new Map((scheduled?.queue ?? []).filter((q) => q.timing === "now").map((q) => [`${q.direction} ${q.path}`, q]));
    const control: RoundControl = scheduled
      ? {
          pauseFor: (path: string) => {
            const q = inQueue.get(`down ${path}`);
            return q ? pauseCheck(ctx, q) : undefined;
          },
        }
      : {};
    report.skipped = scanned.skipped.map((s) => ({ path: s.path, reason: s.reason }));
    report.readOnlySkipped = actions.filter((a) => a.type === "read-only").map((a) => a.path);
    let settled = true;
    try {
      for (const g of groups) {
        if (control.paused) {
          // Behind a pause: this round's remaining downloads wait (the next plan says until when).
          for (const a of g) if (a.type === "apply" && !a.remote.deleted) waiting.set(a.path, { version: a.remote, reason: `waits behind ${control.paused.path} (${control.paused.reason})` });
          continue;
        }
        settled = (await applyRemote(ctx, g, disk, report, heldBack, waiting, control)) && settled;
      }
    } catch (err) {
      if (!(err instanceof LocalChanged)) throw err;
      settled = false;
    }
    // A conflict this device won records nothing until its commit lands: the remote entries
    // read are consumed only then. Consumed earlier, a refused commit (someone committed one
    // of its paths meanwhile) left the next round without the remote version, pushing over it
    // from the old base, refused again, every round and every sync after.
    const won = actions.some((a) => a.type === "conflict" && a.keep === "local");
    const consume = () => {
      pulledSeq = head;
      state.commit(space.id, [], head, seen);
      // The index position is past them now: what could not be written waits in the state.
      state.setWaiting(space.id, [...waiting.values(), ...deferred.filter((d) => !waiting.has(d.version.path))]);
    };
    if (settled && !won) consume();
    ctx.signal?.throwIfAborted();
    let pushed: Pushed = { kind: "none" };
    /** The first group not pushed because of a pause. */
    let pausedAt = groups.length;
    for (const [i, g] of groups.entries()) {
      // After a pause only the first group (no transfers) goes; the uploads stay local changes.
      if (control.paused && i > 0) {
        pausedAt = i;
        break;
      }
      const p = await push(ctx, g, synced, trustSynced ? (uploader?.stored ?? new Set()) : undefined, report, heldBack, scheduled ? uploadPause(ctx, g, inQueue) : undefined);
      if (p.kind === "paused") {
        control.paused = { ...p.pause, path: g.find((a) => a.type === "push")?.path ?? "" };
        recordUploadPause(ctx, g, p.pause, p.sent);
        pausedAt = i;
        break;
      }
      if (p.kind === "conflict") {
        pushed = p;
        break;
      }
      if (p.kind === "done" && scheduled) for (const a of g) if (a.type === "push" && a.version.size > LARGE_BYTES) state.removePartial(space.id, a.path, "up");
      // Commits one after the other: the head after the last, and how many came before it since.
      if (p.kind === "done") pushed = { kind: "done", head: p.head, count: p.count + (pushed.kind === "done" ? pushed.count : 0) };
    }
    // Uploads the schedule holds back, and those a pause left, are announced now: committed
    // pending, their content to follow (engine/pending.ts).
    if (scheduled && pushed.kind !== "conflict") {
      // After a pause, the groups from `pausedAt` on were not committed (the paused one included).
      const unpushed = groups.slice(pausedAt).flat();
      const announce = toAnnounce(ctx, [...scheduled.deferredUploads, ...unpushed].filter((a) => !heldBack.has(a.path)), synced);
      const a = await commitPending(ctx, announce, report);
      if (a.kind === "conflict") pushed = { kind: "conflict", missingChunks: false };
      else if (a.kind === "done") {
        report.announced += a.count;
        pushed = { kind: "done", head: a.head, count: a.count + (pushed.kind === "done" ? pushed.count : 0) };
        const paths = new Set(announce.map((x) => x.path));
        if (waitingNow) waitingNow = markAnnounced(waitingNow, paths);
      }
    }
    for (const [path, reason] of heldBack) if (!report.skipped.some((x) => x.path === path)) report.skipped.push({ path, reason });
    if (pushed.kind === "conflict") {
      if (pushed.missingChunks) trustSynced = false;
      continue;
    }
    if (settled && won) consume();
    if (control.paused) {
      const paused = control.paused;
      // The paused transfer and those behind it, as the report's `waiting`.
      const unpushed = new Set(groups.slice(pausedAt).flatMap((g) => g.flatMap((a) => (a.type === "push" ? [a.path] : []))));
      const behind = (scheduled?.queue ?? []).filter((q) => q.timing === "now" && (q.direction === "down" ? waiting.has(q.path) : unpushed.has(q.path)));
      waitingNow = [...(waitingNow ?? []), ...behind];
      report.head = head;
      // Pre-empted: the round ends here, for the caller to run the higher-priority work and
      // sync again. A window closing or metered: planned again now (the next round says until when).
      if (paused.preempted) return { ...report, status: "incomplete", reason: `${paused.path} paused for higher-priority work (${paused.reason})`, waiting: waitingNow };
      continue;
    }
    if (pushed.kind === "done" && settled && pushed.head - pushed.count === pulledSeq) {
      // Our commits directly follow what we had read: nothing new to read back.
      pulledSeq = pushed.head;
      state.commit(space.id, [], pulledSeq);
    }
    if (settled && pushed.kind === "none" && running.every((a) => a.type === "read-only" || a.type === "restat" || a.type === "adopt" || heldBack.has(a.path))) {
      if (head > 0) await remote.ack(space.id, replica, head);
      report.head = head;
      return { ...report, status: "in-sync", ...(waitingNow ? { waiting: waitingNow } : {}) };
    }
    report.head = head;
  }
  return { ...report, status: "incomplete", reason: "the space kept changing while syncing; run sync again", ...(waitingNow ? { waiting: waitingNow } : {}) };
}

/**
 * Whether the folder differs from what was last synced, looking at the disk only (no request):
 * the daemon's start-up check, so that a space with neither local nor remote changes costs no
 * sync session (XEP-draft.md § 5.12). A touched file with the same content counts as a change
 * (its sync is short), so nothing is read: the walk's stats answer (a new 1 GiB file was
 * hashed here once, and then again by the sync it started). A version of ours committed
 * pending (engine/pending.ts) counts too: its content is still to upload.
 */
export async function hasLocalChanges(ctx: Pick<SyncContext, "fs" | "state" | "space">): Promise<boolean> {
  if ((await checkMarker(ctx.fs, ctx.space.id)) !== "ok") return false;
  const synced = ctx.state.entries(ctx.space.id);
  const scanned = await scan(ctx.fs, known(synced), { hash: false });
  const covered = coveredBySkip(scanned.skipped);
  const seen = new Set<string>();
  for (const e of scanned.entries) {
    seen.add(e.path);
    const s = synced.get(e.path);
    if (!s || s.version.deleted || e.changed) return true;
  }
  for (const [path, s] of synced) if (!s.version.deleted && !seen.has(path) && !covered(path)) return true;
  // A version of ours committed pending (§ 5.16) still has its content to upload.
  for (const s of synced.values()) if (s.version.pending) return true;
  return false;
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
  /** With a schedule: every pending transfer in plan order, with when it runs and why. */
  readonly queue?: QueuedTransfer[];
  /** With a schedule: the members as the sharing manager describes them (§ 5.15), if it does. */
  readonly contacts?: readonly Contact[];
}

/** What `syncSpace` would do, without doing it. */
export async function inspectSpace(ctx: SyncContext): Promise<SpaceStatus> {
  const marker = await checkMarker(ctx.fs, ctx.space.id);
  if (marker !== "ok") return { status: "paused", reason: marker, pendingUp: 0, pendingDown: 0, readOnlySkipped: 0, skipped: [] };
  const contacts = ctx.schedule ? await spaceContacts(ctx) : undefined;
  const { scanned, actions, refused, scheduled, held } = await survey(ctx, ctx.state.space(ctx.space.id)?.pulled ?? 0, undefined, contacts);
  const up = actions.filter((a) => a.type === "push" || (a.type === "conflict" && a.keep === "local")).length;
  const down = actions.filter((a) => a.type === "apply" || a.type === "conflict").length + held.waits.length;
  return {
    status: up + down > 0 ? "pending" : "in-sync",
    pendingUp: up,
    pendingDown: down,
    readOnlySkipped: actions.filter((a) => a.type === "read-only").length,
    ...(scheduled ? { queue: scheduled.queue } : {}),
    ...(contacts?.members ? { contacts: contacts.members } : {}),
    skipped: [
      ...scanned.skipped.map((s) => ({ path: s.path, reason: s.reason })),
      // Refused by an earlier sync (kept in the state), and any in what is still to read.
      ...new Map([...ctx.state.refused(ctx.space.id), ...refused.map((r) => ({ path: r.path, reason: refusedReason(r) }))].map((r) => [r.path, r])).values(),
    ],
  };
}

/** How a remote entry refused for its path is reported (`status`, the sync summary). */
function refusedReason(r: RefusedEntry): string {
  return `refused from the sharing manager: ${r.reason}`;
}
