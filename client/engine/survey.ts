/**
 * One round's view of a space for engine/sync.ts: what changed remotely since the last pull (the
 * index read, manifests expanded, versions left waiting read again), the folder scanned (chunks
 * of new files sent while it reads them when there is an uploader), and the plan made of both:
 * actions, remote versions pending their uploader's content held back (engine/pending.ts), and
 * with a schedule the round's transfers planned (engine/schedule.ts) with their partials.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { ChunkRef } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import { manifestOf, withChunks } from "../../protocol/manifest.ts";
import { mergeAll, type VersionVector } from "../../protocol/vv.ts";
import type { IndexEntry, RefusedEntry } from "../../protocol/stanzas/index-exchange.ts";
import type { ChunkUploader } from "../remote.ts";
import { coveredBySkip, ignoredBy, scan, type ScanResult } from "../scanner.ts";
import type { Synced } from "../state.ts";
import { type Disk, type SyncContext, known } from "./context.ts";
import { withPartials } from "./partials.ts";
import { plan, type Action } from "./plan.ts";
import { hashPacer, scheduleRound, transferOptions, type ScheduledRound } from "./schedule.ts";
import type { SpaceContacts } from "./contacts.ts";
import { holdPending, markAnnounced, type HeldPending } from "./pending.ts";

export interface Survey {
  /** The space's head as read with the remote changes. */
  readonly head: number;
  /** The merge of the vectors of the index entries read (up to `head`). */
  readonly seen: VersionVector;
  readonly synced: Map<string, Synced>;
  readonly scanned: ScanResult;
  readonly disk: Map<string, Disk>;
  readonly actions: Action[];
  /** Remote entries refused for their path (§ 5.4): reported, never written. */
  readonly refused: readonly RefusedEntry[];
  /** With a schedule: the round's actions planned (engine/schedule.ts). */
  readonly scheduled?: ScheduledRound;
  /** Remote versions pending their uploader's content (engine/pending.ts): they wait, not in `actions`. */
  readonly held: HeldPending;
}

/**
 * Remote versions whose chunk list came as a manifest (§ 5.7) get their chunks back: from the
 * manifest of the version synced at the same path when the blobs are the same (an edit changes
 * one or two of them), otherwise downloaded like chunks.
 */
async function expandRemote(ctx: SyncContext, remote: Map<string, IndexEntry>, synced: ReadonlyMap<string, Synced>): Promise<void> {
  const blobs = new Map<string, Uint8Array>();
  const need = new Map<string, { hash: ChunkHash; size: number }>();
  for (const [path, e] of remote) {
    if (!e.manifest) continue;
    const prev = synced.get(path);
    if (prev && !prev.version.deleted) for (const [h, b] of manifestOf(prev.version.chunks)?.blobs ?? []) blobs.set(h, b);
    for (const m of e.manifest) if (!blobs.has(m.hash)) need.set(m.hash, m);
  }
  for (const h of blobs.keys()) need.delete(h);
  if (need.size) {
    const absent = await ctx.remote.download(ctx.space.id, [...need.values()], async (h, b) => void blobs.set(h, b), undefined, transferOptions(ctx, "down"));
    if (absent.length) throw new ShareError("missing-chunks", { text: `${absent.length} manifest blob(s) are not held by the sharing manager` });
  }
  for (const [path, e] of remote) if (e.manifest) remote.set(path, { ...withChunks(e, blobs), seq: e.seq });
}

/**
 * Reads what changed remotely after `after`, scans the folder and plans: one round's view.
 * With an `uploader`, chunks of new and changed files go to the component while the scan reads
 * them (chunks of synced versions, already there, are skipped).
 */
export async function survey(ctx: SyncContext, after: number, uploader?: ChunkUploader, contacts?: SpaceContacts): Promise<Survey> {
  const { fs, state, remote, space, replica } = ctx;
  const remoteChanges = new Map<string, IndexEntry>();
  const refused: RefusedEntry[] = [];
  let head = after;
  // Versions read by an earlier sync but not written (a local name in their place): again,
  // unless the index has something newer for the path.
  for (const { version: v } of state.waiting(space.id)) remoteChanges.set(v.path, { ...v, seq: 0 });
  for await (const page of remote.readIndex(space.id, after)) {
    for (const e of page.entries) remoteChanges.set(e.path, e);
    refused.push(...page.refused);
    head = Math.max(head, page.head);
  }
  // Each path's latest entry dominates its earlier ones, so these are all the merge needs.
  // Refused entries count as read (they will never be written), or the digests would never agree.
  // Pending ones (§ 5.16) do not: this device has not got them, and the uploader's SNM after
  // the completion (same vector) must be news to it.
  const seen = mergeAll([...[...remoteChanges.values()].filter((e) => !e.pending).map((e) => e.vector), ...refused.map((r) => r.vector)]);
  const synced = state.entries(space.id);
  await expandRemote(ctx, remoteChanges, synced);
  let seeded = false;
  // With a schedule there is no uploader (the push uploads in plan order); hashing may be paced.
  const pace = ctx.schedule ? hashPacer(ctx.schedule.policy.hashCpu, ctx.schedule.cpuNow, ctx.schedule.sleep) : undefined;
  const onChunk = pace ?? ((c: ChunkRef, bytes: Uint8Array) => {
    if (!uploader) return;
    if (!seeded) {
      seeded = true;
      for (const s of synced.values()) if (!s.version.deleted && !s.version.pending) uploader.skip(s.version.chunks.map((x) => x.hash));
    }
    return uploader.add(c, bytes);
  });
  const cache = ctx.hashCache;
  const scanned = await scan(fs, known(synced), { onChunk, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(cache ? { cache } : {}) });
  if (cache) {
    // What this scan read (or took from the cache) and is not synced as it is: the next scan's cache.
    cache.clear();
    for (const e of scanned.entries) {
      if (e.kind === "file" && e.changed && e.hash !== "") cache.set(e.path, { kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, mode: e.mode, hash: e.hash, chunks: e.chunks });
    }
  }
  await uploader?.drain();
  const covered = coveredBySkip(scanned.skipped);
  const ignored = await ignoredBy(fs);
  // Remote versions of paths this folder ignores are neither written nor ever sent back.
  for (const [p, e] of remoteChanges) if (ignored(p, e.kind)) remoteChanges.delete(p);
  const keep = <T>(m: Map<string, T>) => new Map([...m].filter(([p]) => !covered(p)));
  // The scanned entries themselves (they are Disk values): no second object per path.
  const disk = new Map<string, Disk>(scanned.entries.map((e) => [e.path, e]));
  const readOnly = space.kind === "mine" && space.owner !== ctx.me;
  // The policy in force now (it may have changed since the sync started: EngineSchedule.latest).
  const policy = ctx.schedule ? (ctx.schedule.latest?.() ?? ctx.schedule.policy) : undefined;
  const held = holdPending(space.id, plan({ synced: keep(synced), disk, remote: keep(remoteChanges), replica, nowMs: ctx.now(), readOnly }), policy);
  const actions = held.actions;
  const planned = policy ? scheduleRound(space.id, actions, synced, disk, policy, new Date(ctx.now()), contacts?.urgency) : undefined;
  const partly = planned ? withPartials(planned, actions, state.partials(space.id)) : undefined;
  // Uploads already announced say so; remote versions pending their uploader's content are listed, held.
  const announced = new Set([...synced].flatMap(([p, s]) => (s.version.pending ? [p] : [])));
  const scheduled = partly ? { ...partly, queue: [...markAnnounced(partly.queue, announced), ...held.queue] } : undefined;
  return { head, seen, synced, scanned, disk, actions, refused, held, ...(scheduled ? { scheduled } : {}) };
}

