/**
 * Pending versions (XEP-draft.md § 5.16) in a sync round: a version committed before its
 * content is uploaded, so that the other members learn of a change the schedule holds back
 * (outside its window, metered, paused or pre-empted), and only the bulk transfer waits.
 *
 * The uploader's side:
 * - A deferred upload (engine/schedule.ts: a push the plan does not run now), and the uploads
 *   of a round that paused, are committed at once with `<pending/>` and no chunks
 *   (`commitPending`), unless their version is already committed so. The state then holds that
 *   version as synced, marked pending ({}: ours), with the file's stat.
 * - The plan (plan.ts) pushes a synced pending version of ours again, unchanged (same vector
 *   and content, no marker), while the file is as it was: the completion, a transfer like any
 *   upload, planned, paced and paused by the schedule. Its chunks are not counted as on the
 *   sharing manager (`onComponent`): they are not there until this upload.
 * - A sharing manager that refuses the marker (an older one takes `<pending/>` for an unknown
 *   child and answers missing-chunks; any refusal but a conflict counts) is remembered for the
 *   Remote's lifetime (`refusedBy`): its deferred uploads stay local changes, as before.
 *
 * A receiver's side (`holdPending`): a remote version marked pending (with `by`, who committed
 * it) is not downloaded: it waits in the state ("waits for alice@example.org's upload"), is
 * shown in `status` and `schedule`, and its vector is not counted as taken in (sync.ts), so
 * that the uploader's SNM after the completion is news. A local edit concurrent with it waits
 * too, unpushed: the conflict rule keeps both copies, and the copy of the pending side needs
 * its content (pushing the local edit first would supersede content nobody else has). A local
 * file with the same content adopts it, complete. The completion arrives as a new index entry
 * (same vector, no marker) and is downloaded as any version.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { FileVersion } from "../../protocol/file.ts";
import { manifestOf } from "../../protocol/manifest.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { compare } from "../../protocol/vv.ts";
import type { ChunkSource, Remote } from "../remote.ts";
import { classify, type SchedulePolicy } from "../schedule/policy.ts";
import type { Synced, Waiting } from "../state.ts";
import { type Disk, type SyncContext, localOf } from "./context.ts";
import type { Action } from "./plan.ts";
import type { QueuedTransfer } from "./schedule.ts";

/** Sharing managers (by Remote) that refused a pending commit: no more are sent to them. */
export const refusedBy = new WeakSet<Remote>();

/** A version without its pending marker. */
export function complete<T extends FileVersion>(v: T): T {
  if (!v.pending) return v;
  const { pending: _pending, ...rest } = v;
  return rest as T;
}

/** Whether `v` is exactly the version `s` holds pending (the same vector and content). */
export function samePending(s: Synced | undefined, v: FileVersion): boolean {
  return !!s?.version.pending && !v.deleted && compare(s.version.vector, v.vector) === "equal" && s.version.hash === v.hash;
}

/** Why a pending remote version waits, for people. */
export function pendingReason(r: FileVersion, conflict: boolean): string {
  const who = r.pending?.by ?? "its uploader";
  return conflict ? `conflicts with ${who}'s version, which waits for their upload (both are kept once it is there)` : `waits for ${who}'s upload`;
}

export interface HeldPending {
  /** The actions to run (an adopt of a pending version stripped of its marker). */
  readonly actions: Action[];
  /** The remote versions that wait for their uploader, as the state's waiting rows. */
  readonly waits: Waiting[];
  /** The same, as the plan's queue shows them (`held`: no time releases them). */
  readonly queue: QueuedTransfer[];
}

/** Takes the actions that need a pending remote version's content out of the round (see the header). */
export function holdPending(space: string, actions: readonly Action[], policy?: SchedulePolicy): HeldPending {
  const out: Action[] = [];
  const waits: Waiting[] = [];
  const queue: QueuedTransfer[] = [];
  for (const a of actions) {
    const r: IndexEntry | undefined = a.type === "apply" || a.type === "conflict" || a.type === "adopt" ? a.remote : undefined;
    if (!r?.pending) {
      out.push(a);
      continue;
    }
    if (a.type === "adopt") {
      out.push({ ...a, remote: complete(r) });
      continue;
    }
    const reason = pendingReason(r, a.type === "conflict");
    waits.push({ version: r, reason });
    queue.push({ path: a.path, direction: "down", size: r.size, priority: policy ? classify(policy, space, a.path).priority : "normal", timing: "held", reason });
  }
  return { actions: out, waits, queue };
}

/** The deferred uploads of a round that may be committed pending now (not already so). */
export function toAnnounce(ctx: Pick<SyncContext, "remote">, deferred: readonly Action[], synced: ReadonlyMap<string, Synced>): Array<Extract<Action, { type: "push" }>> {
  if (refusedBy.has(ctx.remote)) return [];
  return deferred.flatMap((a) => (a.type === "push" && !a.version.deleted && a.version.kind === "file" && !samePending(synced.get(a.path), a.version) ? [a] : []));
}

/** The queue's upload rows of versions committed pending say so. */
export function markAnnounced(queue: readonly QueuedTransfer[], announced: ReadonlySet<string>): QueuedTransfer[] {
  return queue.map((q) => (q.direction === "up" && q.timing !== "now" && announced.has(q.path) ? { ...q, reason: `${q.reason}; announced to the members, its content goes then` } : q));
}

export type Announced = { kind: "none" } | { kind: "conflict" } | { kind: "done"; head: number; count: number };

/**
 * Commits `actions` (uploads the schedule holds back) pending: no chunks, only the manifest
 * blobs of long chunk lists (small; the sharing manager must be able to serve the chunk list).
 * A version-conflict (someone committed in between) asks for a new round; missing-chunks,
 * bad-request or not-implemented mark the sharing manager as not taking pending versions
 * (`refusedBy`); other refusals (a path, the quota) are left to the ordinary push, which
 * reports them when it goes. Nothing is committed in any of these cases.
 */
export async function commitPending(ctx: SyncContext, actions: ReadonlyArray<Extract<Action, { type: "push" }>>, report: { bytesUp: number }): Promise<Announced> {
  if (actions.length === 0) return { kind: "none" };
  const { remote, space, state } = ctx;
  const changes = actions.map((a) => ({ version: { ...a.version, pending: {} }, base: a.base, disk: a.disk as Disk | undefined }));
  const blobs: ChunkSource[] = [];
  for (const { version: v } of changes) for (const [hash, bytes] of manifestOf(v.chunks)?.blobs ?? []) blobs.push({ hash, size: bytes.length, read: async () => bytes });
  try {
    if (blobs.length) report.bytesUp += await remote.upload(space.id, blobs);
    const head = await remote.commit(space.id, changes.map(({ version, base }) => ({ version, base })));
    state.commit(space.id, changes.map((c) => ({ version: c.version, ...(c.disk ? { local: localOf(c.disk) } : {}) })));
    return { kind: "done", head, count: changes.length };
  } catch (err) {
    if (!(err instanceof ShareError) || err.code === "unavailable" || err.code === "internal") throw err;
    if (err.code === "version-conflict" || err.code === "hash-mismatch") return { kind: "conflict" };
    // What an older sharing manager answers to a version it takes for complete, or to a child it does not know.
    if (err.code === "missing-chunks" || err.code === "bad-request" || err.code === "not-implemented") refusedBy.add(remote);
    // Others (invalid-path, quota-exceeded, too-large, …) are the ordinary push's to report when it goes.
    return { kind: "none" };
  }
}
