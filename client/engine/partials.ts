/**
 * Large transfers that paused or stopped before the end, as a sync round sees them: the state's
 * `partials` (state.ts) matched to the round's actions by path, direction and version, for the
 * plan's queue and waiting rows; the stale ones removed (with their temp files) at a sync's
 * first round; and the pause check and record of a group of large uploads. engine/apply.ts
 * writes and resumes the downloads' partials; engine/sync.ts calls these.
 */
import type { PartialTransfer } from "../state.ts";
import type { SyncContext } from "./context.ts";
import type { Action } from "./plan.ts";
import { LARGE_BYTES, pauseCheck, pausedReason, type Pause, type QueuedTransfer, type ScheduledRound } from "./schedule.ts";

/** The version a transfer action moves (by path and direction), for matching partials. */
export function movedHash(a: Action): { direction: "up" | "down"; hash: string } | undefined {
  if (a.type === "apply" && !a.remote.deleted && a.remote.kind === "file") return { direction: "down", hash: a.remote.hash };
  if (a.type === "push" && !a.version.deleted && a.version.kind === "file") return { direction: "up", hash: a.version.hash };
  return undefined;
}

/**
 * The round's plan with what its paused transfers already have (state `partials` of the same
 * version): the queue says how much is done and why it paused, a deferred download's waiting
 * row says so too.
 */
export function withPartials(r: ScheduledRound, actions: readonly Action[], partials: readonly PartialTransfer[]): ScheduledRound {
  if (partials.length === 0) return r;
  const byKey = new Map(partials.filter((p) => p.reason !== undefined).map((p) => [`${p.direction} ${p.path}`, p]));
  const same = new Map<string, PartialTransfer>();
  for (const a of actions) {
    const m = movedHash(a);
    const p = m && byKey.get(`${m.direction} ${a.path}`);
    if (p && p.hash === m.hash) same.set(`${m.direction} ${a.path}`, p);
  }
  if (same.size === 0) return r;
  const queue = r.queue.map((q) => {
    const p = same.get(`${q.direction} ${q.path}`);
    return p ? { ...q, paused: { bytes: p.bytes, reason: p.reason! } } : q;
  });
  const deferredDownloads = r.deferredDownloads.map((d) => {
    const p = same.get(`down ${d.action.path}`);
    return p ? { ...d, reason: pausedReason(p.bytes, p.size, d.reason) } : d;
  });
  return { ...r, queue, deferredDownloads };
}

/**
 * Partials (state.ts) that no transfer of this round continues: another version of the path
 * is wanted now, or none (it was deleted, written otherwise, the space's index moved on). Their
 * temp files and rows go; the temp files of the others are kept from `removeStaleTemps`.
 * Returns the temp files kept.
 */
export async function dropStalePartials(ctx: SyncContext, actions: readonly Action[]): Promise<Set<string>> {
  const wanted = new Set<string>();
  for (const a of actions) {
    const m = movedHash(a);
    if (m) wanted.add(`${m.direction} ${a.path} ${m.hash}`);
    if (a.type === "conflict" && !a.remote.deleted && a.remote.kind === "file") {
      wanted.add(`down ${a.path} ${a.remote.hash}`);
      if (a.copy) wanted.add(`down ${a.copy} ${a.remote.hash}`);
    }
  }
  const kept = new Set<string>();
  for (const p of ctx.state.partials(ctx.space.id)) {
    if (wanted.has(`${p.direction} ${p.path} ${p.hash}`)) {
      for (const t of p.temps) kept.add(t);
      continue;
    }
    for (const t of p.temps) await ctx.fs.remove(t).catch(() => undefined);
    ctx.state.removePartial(ctx.space.id, p.path, p.direction);
  }
  return kept;
}

/** The pause check of a group of large uploads (any of them no longer allowed stops the group); undefined for others. */
export function uploadPause(ctx: SyncContext, g: readonly Action[], inQueue: ReadonlyMap<string, QueuedTransfer>): (() => Pause | undefined) | undefined {
  const checks = g.flatMap((a) => {
    const q = a.type === "push" ? inQueue.get(`up ${a.path}`) : undefined;
    return q && q.size > LARGE_BYTES ? [pauseCheck(ctx, q)] : [];
  });
  if (checks.length === 0) return undefined;
  return () => {
    for (const c of checks) {
      const p = c();
      if (p) return p;
    }
    return undefined;
  };
}

/**
 * A paused group of uploads in the state's `partials`, for `status` and `schedule`: per file,
 * its share of the bytes sent so far (files go in order). Nothing to resume from here: the
 * sharing manager keeps what it received, and the next upload is not sent it again.
 */
export function recordUploadPause(ctx: SyncContext, g: readonly Action[], pause: Pause, sent: number): void {
  let left = sent;
  for (const a of g) {
    if (a.type !== "push" || a.version.deleted || a.version.kind !== "file") continue;
    const bytes = Math.min(a.version.size, left);
    left -= bytes;
    ctx.state.putPartial(ctx.space.id, { path: a.path, direction: "up", hash: a.version.hash, size: a.version.size, temps: [], bytes, reason: pause.reason, updatedMs: ctx.now() });
  }
}
