/**
 * The device's schedule (schedule.json, client/schedule/) applied to one round of a sync: which
 * of the round's actions move bulk data, which of those may move now, in what order, and how
 * fast (the patent's FIG. 8). Only used when the sync context carries a schedule; without one
 * the engine runs exactly as it did before there was a scheduler.
 *
 * - A transfer is an action that moves file content: a push of a file (up) or an apply of a
 *   remote file (down), with its bytes to move, the chunks the other side does not hold yet (a
 *   rename moves nothing, an edit of a large file a chunk or two). Deletions, folders, adopts,
 *   restats and conflicts are not transfers: they run at once (a conflict keeps both versions,
 *   which the conflict rule needs now, not in a window). Nor is a transfer of 0 bytes.
 * - Transfers are planned by `queue.plan` with the policy and the sync's clock (`ctx.now`):
 *   those it lets go now run in plan order (priority, then small before large), in groups that
 *   the engine runs one after the other, each group its own downloads and its own commit, so a
 *   document is on the sharing manager before the video behind it has started: a group ends
 *   where the priority changes, and before the first file that apply.ts streams rather than
 *   prefetches (LARGE_BYTES).
 * - The others wait: a download's remote version goes to the state's `waiting` table with the
 *   reason and the time it may go (tried again at every sync, and the daemon wakes for it); an
 *   upload is committed pending at once (`deferredUploads`, engine/pending.ts, XEP-draft.md
 *   § 5.16: announced, its content not uploaded), and its content goes when the plan lets it
 *   (the plan pushes the pending version again, complete). A sharing manager that refuses
 *   pending versions: the upload is not committed and stays a local change, as before.
 * - A large transfer (a download that apply.ts streams, an upload in a group of files above
 *   LARGE_BYTES) may pause at a batch boundary: before each 4 MiB window it downloads, before
 *   each batch it uploads, `pauseCheck` plans it again at `ctx.now()` with the policy in force
 *   (`EngineSchedule.latest`: the daemon's, re-read on SIGHUP), and stops it if its window has
 *   closed or metered holds it now, or if `ctx.preempt` (a `Preemption` the daemon raises when
 *   it learns of a change) holds work of a higher priority than its own. The windows already
 *   downloading are written first, so nothing fetched is thrown away. Small transfers never
 *   pause (they are over in a moment).
 * - A paused download keeps its verified prefix (apply.ts, the state's `partials`) and waits in
 *   `waiting` like a deferred one, "paused at 8.4 MB of 24 MiB: <why>"; a paused upload is
 *   committed pending (as a deferred one), its chunks already sent on the sharing manager (content
 *   addressed: the next slot request does not name them missing, so they are not sent again).
 *   Nothing else starts in that round. Pre-empted, the sync returns `incomplete` for the caller
 *   to run the higher-priority work and sync again; paused by time or metered, the sync plans
 *   again at once (the next round says until when). The queue (`QueuedTransfer.paused`) says
 *   how much a paused transfer has and why it paused.
 * - Resuming is not the schedule's: every streamed download records its temp file and resumes
 *   from it after a crash, a kill or a lost connection, with or without a schedule (one state
 *   row per large file, no work per chunk). Without a schedule nothing pauses.
 * - Contacts' characteristics (issue 9: who is online when, XEP-draft.md § 5.15): `transfersOf`
 *   gives each upload and download the urgency its space's `<contacts/>` answer gives that
 *   direction (schedule/urgency.ts, fetched once per sync by contacts.ts), 0 without one, plus
 *   whether that transfer can finish within this account's typical session at its recorded
 *   rate (schedule/throughput.ts).
 */
import { setTimeout as delay } from "node:timers/promises";
import type { ChunkHash } from "../../protocol/ids.ts";
import type { VersionVector } from "../../protocol/vv.ts";
import { PARALLEL, type TransferOptions } from "../remote.ts";
import type { ChunkSink } from "../scanner.ts";
import { CpuPacer, RateLimits } from "../schedule/bucket.ts";
import { formatBytes, type Priority, type SchedulePolicy } from "../schedule/policy.ts";
import { withFit } from "../schedule/throughput.ts";
import { NO_URGENCY, type SpaceUrgency } from "../schedule/urgency.ts";
import { plan, type Pending, type Planned } from "../schedule/queue.ts";
import type { Synced } from "../state.ts";
import type { Disk, EngineSchedule, SyncContext } from "./context.ts";
import type { Action } from "./plan.ts";

/** Files above this are streamed by apply.ts (not prefetched with the small ones). */
export const LARGE_BYTES = 16 * 1024 * 1024;

/** One transfer of the plan, as `xshare schedule` and `status` show it. */
export interface QueuedTransfer {
  readonly path: string;
  readonly direction: "up" | "down";
  /** Bytes to move. */
  readonly size: number;
  readonly priority: Priority;
  /** `now`: runs this sync; `later`: at `runAtMs`; `held`: not by time (metered, a window that never opens). */
  readonly timing: Planned["timing"];
  readonly reason: string;
  /** From contacts' characteristics (schedule/urgency.ts), 0 to 1 (absent: 0); the reason says why when above 0. */
  readonly urgency?: number;
  /** When it may start (ms); for `now`, this sync. Undefined for `held`. */
  readonly runAtMs?: number;
  /** A large transfer that paused (or stopped) before the end: bytes it already has, and why it stopped. */
  readonly paused?: { readonly bytes: number; readonly reason: string };
}

export interface ScheduledRound {
  /** The actions to run, in groups, one group after the other (never empty: the first holds the non-transfers). */
  readonly groups: Action[][];
  /** Every transfer of the round in plan order, those that run and those that wait. */
  readonly queue: QueuedTransfer[];
  /** The deferred downloads (apply actions), with what their waiting row says. */
  readonly deferredDownloads: Array<{ action: Extract<Action, { type: "apply" }>; reason: string; untilMs?: number }>;
  /** The deferred uploads (push actions), in plan order: committed pending if they can be (engine/pending.ts). */
  readonly deferredUploads: Array<Extract<Action, { type: "push" }>>;
}

/**
 * The transfers among `actions`, as `queue.plan` takes them, by action. `synced` and `disk`
 * tell which chunks the sharing manager and this disk already hold.
 */
export function transfersOf(space: string, actions: readonly Action[], synced: ReadonlyMap<string, Synced>, disk: ReadonlyMap<string, Disk>, urgency: SpaceUrgency = NO_URGENCY): Map<Action, Pending> {
  let onComponent: Set<ChunkHash> | undefined;
  let onDisk: Set<ChunkHash> | undefined;
  const out = new Map<Action, Pending>();
  for (const a of actions) {
    let direction: "up" | "down";
    let chunks: readonly { hash: ChunkHash; size: number }[];
    let have: Set<ChunkHash>;
    if (a.type === "push" && !a.version.deleted && a.version.kind === "file") {
      direction = "up";
      chunks = a.version.chunks;
      // Not the chunks of a version of ours committed pending (§ 5.16): they are not there yet.
      have = onComponent ??= new Set([...synced.values()].flatMap((s) => (s.version.deleted || s.version.pending ? [] : s.version.chunks.map((c) => c.hash))));
    } else if (a.type === "apply" && !a.remote.deleted && a.remote.kind === "file") {
      direction = "down";
      chunks = a.remote.chunks;
      have = onDisk ??= new Set([...disk.values()].flatMap((d) => d.chunks.map((c) => c.hash)));
    } else continue;
    const seen = new Set<ChunkHash>();
    let size = 0;
    for (const c of chunks) {
      if (have.has(c.hash) || seen.has(c.hash)) continue;
      seen.add(c.hash);
      size += c.size;
    }
    // The space's urgency for the direction, with whether this transfer fits the time online (throughput.ts).
    const u = withFit(urgency[direction], urgency.budget, direction, size);
    if (size > 0) out.set(a, { space, path: a.path, direction, size, urgency: u.urgency, ...(u.reason ? { urgencyReason: u.reason } : {}) });
  }
  return out;
}

/** Plans one round's actions under `policy` at `now` (see the header). */
export function scheduleRound(space: string, actions: readonly Action[], synced: ReadonlyMap<string, Synced>, disk: ReadonlyMap<string, Disk>, policy: SchedulePolicy, now: Date, urgency?: SpaceUrgency): ScheduledRound {
  const transfers = transfersOf(space, actions, synced, disk, urgency);
  const byItem = new Map<Pending, Action>([...transfers].map(([a, p]) => [p, a]));
  const planned = plan([...transfers.values()], policy, now);
  const first: Action[] = actions.filter((a) => !transfers.has(a));
  const groups: Action[][] = [first];
  const queue: QueuedTransfer[] = [];
  const deferredDownloads: ScheduledRound["deferredDownloads"] = [];
  const deferredUploads: ScheduledRound["deferredUploads"] = [];
  let key: string | undefined;
  for (const p of planned) {
    const a = byItem.get(p.item)!;
    queue.push({ path: p.item.path, direction: p.item.direction, size: p.item.size, priority: p.priority, timing: p.timing, reason: p.reason, ...(p.item.urgency ? { urgency: p.item.urgency } : {}), ...(p.runAt ? { runAtMs: p.runAt.getTime() } : {}) });
    if (p.timing !== "now") {
      if (a.type === "apply") deferredDownloads.push({ action: a, reason: p.reason, ...(p.runAt ? { untilMs: p.runAt.getTime() } : {}) });
      else if (a.type === "push") deferredUploads.push(a);
      continue;
    }
    const k = `${p.priority} ${p.item.size > LARGE_BYTES}`;
    if (key !== undefined && k !== key) groups.push([]);
    key = k;
    groups.at(-1)!.push(a);
  }
  return { groups, queue, deferredDownloads, deferredUploads };
}

/** When the first waiting transfer of `queue` may go (ms); undefined: none waits for a time. */
export function nextRun(queue: readonly QueuedTransfer[]): number | undefined {
  let best: number | undefined;
  for (const q of queue) if (q.timing === "later" && q.runAtMs !== undefined && (best === undefined || q.runAtMs < best)) best = q.runAtMs;
  return best;
}

/** The pacing of this sync's uploads or downloads, or undefined without a schedule. */
export function transferOptions(ctx: Pick<SyncContext, "schedule" | "space">, direction: "up" | "down"): TransferOptions | undefined {
  const s = ctx.schedule;
  if (!s) return undefined;
  // `transfers` caps the requests in flight; it never raises them above the client's own PARALLEL.
  return { limiter: s.limits.limiter(ctx.space.id, direction), parallel: Math.min(PARALLEL, s.policy.transfers), ...(s.sleep ? { sleep: s.sleep } : {}) };
}

/**
 * The scanner's chunk hook as a hashing pacer (policy `hashCpu` below 1): called after each
 * chunk is hashed, it rests so that hashing uses at most that share of one core (CpuPacer).
 * The time between two calls counts as hashing (a read waiting for the disk too: slower, never
 * faster). One rest at a time: while one file rests, a file hashed beside it rests at its next
 * chunk as well. Undefined when hashing is not limited.
 */
export function hashPacer(hashCpu: number, now: () => number = () => performance.now(), sleep: (ms: number) => Promise<void> = delay): ChunkSink | undefined {
  if (hashCpu >= 1) return undefined;
  const pacer = new CpuPacer(hashCpu);
  let since = now();
  let restUntil = 0;
  return async () => {
    const t = now();
    if (t < restUntil) {
      await sleep(restUntil - t);
    } else {
      const rest = pacer.worked(t - since);
      if (rest > 0) {
        restUntil = t + rest;
        await sleep(rest);
      }
    }
    since = now();
  };
}

/** The engine's schedule for `policy` (undefined: none, the engine as before), its buckets on `now`. */
export function scheduleOf(policy: SchedulePolicy | undefined, now: () => number): EngineSchedule | undefined {
  return policy ? { policy, limits: new RateLimits(policy, now) } : undefined;
}

const RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };

/**
 * Work a running large transfer may have to give way to (SyncContext.preempt): the daemon
 * raises it when it learns of a change (a local file event, a remote change signalled by SNM or
 * presence) with the plan priority of that change; the engine asks `above` at each batch
 * boundary of a large transfer, and pauses when the raised priority is strictly higher than its
 * own. One per sync: what was raised stays raised until that sync ends.
 */
export class Preemption {
  #asked: { priority: Priority; what: string } | undefined;
  /**
   * The merge of the space's vector and of the index entries the running sync has read (set
   * by the engine after each survey): a remote change it dominates is already being synced,
   * not new work (a second SNM or digest for the change being downloaded).
   */
  read: VersionVector | undefined;
  /** Paths the running sync's round writes from remote versions (set with `read`): their file events are its own. */
  incoming: ReadonlySet<string> = new Set();

  /** Work of `priority` is waiting (`what`, for people: "agenda.docx changed here"). Keeps the highest raised. */
  raise(priority: Priority, what: string): void {
    if (!this.#asked || RANK[priority] < RANK[this.#asked.priority]) this.#asked = { priority, what };
  }

  /** What was raised, if it outranks `priority`. */
  above(priority: Priority): string | undefined {
    const a = this.#asked;
    return a && RANK[a.priority] < RANK[priority] ? `${a.priority} priority: ${a.what}` : undefined;
  }
}

/** Why a large transfer stops at a batch boundary, and until when (`untilMs`: its window opens again). */
export interface Pause {
  readonly reason: string;
  /** Stopped for higher-priority work (the sync then ends its round and returns). */
  readonly preempted: boolean;
  readonly untilMs?: number;
}

/**
 * The check a large transfer `q` of this sync makes at each batch boundary (with a schedule
 * only): planned again at `ctx.now()` with the policy in force (`EngineSchedule.latest`), it
 * stops when its window has closed or metered holds it now, or when `ctx.preempt` holds work
 * of a higher priority than its own. Undefined: go on.
 */
export function pauseCheck(ctx: Pick<SyncContext, "schedule" | "preempt" | "now" | "space">, q: Pick<QueuedTransfer, "path" | "direction" | "size">): () => Pause | undefined {
  return () => {
    const s = ctx.schedule;
    if (!s) return undefined;
    const policy = s.latest ? s.latest() : s.policy;
    if (!policy) return undefined;
    const [p] = plan([{ space: ctx.space.id, path: q.path, direction: q.direction, size: q.size }], policy, new Date(ctx.now()));
    if (p!.timing !== "now") return { reason: p!.reason, preempted: false, ...(p!.runAt ? { untilMs: p!.runAt.getTime() } : {}) };
    const higher = ctx.preempt?.above(p!.priority);
    return higher ? { reason: `pre-empted by ${higher}`, preempted: true } : undefined;
  };
}

/** How a paused transfer is reported: "paused at 8 MiB of 20 MiB: waits for its window …". */
export function pausedReason(bytes: number, size: number, why: string): string {
  return `paused at ${formatBytes(bytes)} of ${formatBytes(size)}: ${why}`;
}
