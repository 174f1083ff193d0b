/**
 * MemoryMetadataStore: the MetadataStore in plain Maps, for unit tests of the component's
 * modules. Observable behaviour equals SqliteMetadataStore's; both pass
 * `tests/contract/metadata-store.contract.ts`.
 *
 * Invariants:
 * - Inputs are copied on the way in and every result is a fresh copy (vectors are frozen
 *   values and may be shared), so callers can never reach into the store's state.
 * - `commit` validates, reads and calls `check` before its first mutation, so any throw
 *   leaves the store exactly as it was (the SQLite transaction's rollback, by construction).
 * - GC bookkeeping mirrors the SQLite tables: `refs` names the chunks of current, non-deleted
 *   versions per space and path (for a pending version, those it keeps, `pendingLive`); `orphans` holds, per chunk and space, the seq at which the
 *   chunk lost its last reference in that space. Rules in `reclaimableNow`.
 */
import { badRequest, ShareError } from "../../protocol/errors.ts";
import { manifestRefs } from "../../protocol/manifest.ts";
import { foldKey } from "../../protocol/paths.ts";
import type { FileVersion } from "../../protocol/file.ts";
import { isChunkHash, type BareJid, type ChunkHash, type GroupId, type ReplicaId, type SpaceId } from "../../protocol/ids.ts";
import type { Group } from "../../protocol/stanzas/groups.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { decode, encode } from "../../protocol/vv.ts";
import { MAX_MARKED_HOURS, nextPendingSnm, type AckRecord, type CommitContext, type MetadataStore, type PendingSnm, type PresenceSummary, type SpaceRecord } from "./metadata.ts";
import type { Snm } from "../../protocol/stanzas/sync-signals.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface ChunkRow {
  readonly size: number;
  readonly uploader: BareJid;
  readonly created: number;
}

const copyEntry = <T extends FileVersion>(e: T): T => ({ ...e, chunks: e.chunks.map((c) => ({ ...c })), ...(e.pending ? { pending: { ...e.pending } } : {}) });
const copyGroup = (g: Group): Group => ({
  id: g.id,
  name: g.name,
  owner: g.owner,
  members: [...g.members],
  createdMs: g.createdMs,
  changedMs: g.changedMs,
});

function copySpace(s: SpaceRecord): SpaceRecord {
  const { id, kind, name, owner, createdMs, changedMs, head, usedBytes } = s;
  const base = { id, kind, name, owner, members: [...s.members], createdMs, changedMs, head, usedBytes };
  return s.group === undefined ? base : { ...base, group: s.group };
}

/** A member list names each JID once (a set kept in the caller's order). */
export function checkMembers(members: readonly BareJid[]): void {
  if (new Set(members).size !== members.length) throw badRequest("A member is listed twice");
}

/** Group spaces name a group and list no members; other spaces name no group (§ 5.10). */
export function checkSpaceShape(kind: SpaceRecord["kind"], group: GroupId | undefined, members: readonly BareJid[]): void {
  if ((kind === "group") !== (group !== undefined)) throw badRequest("Exactly the group spaces name a group");
  if (kind === "group" && members.length > 0) throw badRequest("A group space's members are its group's");
  checkMembers(members);
}

/**
 * The versions of a commit in the stored form: only the FileVersion fields, vectors in
 * canonical form (what decode(encode(v)) gives), chunk hashes checked. Throws bad-request
 * (or invalid-vector) before anything is read or written.
 */
export function normalizeVersions(versions: readonly FileVersion[]): FileVersion[] {
  const seen = new Set<string>();
  return versions.map((v) => {
    if (seen.has(v.path)) throw badRequest(`A commit names ${v.path} twice`);
    seen.add(v.path);
    for (const c of v.chunks) {
      if (!isChunkHash(c.hash) || !Number.isSafeInteger(c.size) || c.size < 0) {
        throw badRequest(`Invalid chunk in ${v.path}: ${c.hash}/${c.size}`);
      }
    }
    const { path, kind, hash, size, mtimeMs, mode, deleted, replica } = v;
    const chunks = v.chunks.map((c) => ({ hash: c.hash, size: c.size }));
    const was = deleted && v.was ? { was: v.was } : {};
    if (v.pending && (deleted || kind !== "file")) throw badRequest(`${path}: only a file's content can be pending`);
    const pending = v.pending ? { pending: v.pending.by ? { by: v.pending.by } : {} } : {};
    return { path, kind, vector: decode(encode(v.vector)), hash, size, mtimeMs, mode, deleted, replica, chunks, ...was, ...pending };
  });
}

/** Chunks a version keeps alive: those of a current version that is not a tombstone. */
/** What a current version keeps alive: its chunks and, for long lists, its manifest blobs. */
export const liveChunks = (v: FileVersion | undefined): readonly ChunkHash[] =>
  v === undefined || v.deleted ? [] : [...v.chunks.map((c) => c.hash), ...manifestRefs(v.chunks).map((m) => m.hash)];

/**
 * What a path's version keeps alive once written over `old` (XEP-draft.md § 5.16): for a
 * complete version, `liveChunks`; for a pending one, whose chunks are not uploaded yet, the
 * chunks the last complete version of the path had (`kept`, carried over pending after pending),
 * so that nothing a member still needs, or the completion's upload counts on, is collected
 * while the content is on its way; and its own manifest blobs (uploaded with it). `oldKept`:
 * what `old` kept, if it was pending. Shared by both stores.
 */
export function pendingLive(v: FileVersion, old: FileVersion | undefined, oldKept: readonly ChunkHash[] | undefined): { live: ChunkHash[]; kept?: ChunkHash[] } {
  if (!v.pending) return { live: [...liveChunks(v)] };
  const kept = old?.pending ? [...(oldKept ?? [])] : old && !old.deleted ? [...new Set(old.chunks.map((c) => c.hash))] : [];
  return { live: [...new Set([...kept, ...manifestRefs(v.chunks).map((m) => m.hash)])], kept };
}

/** What a stored version keeps alive now (`pendingLive` of it, with what it kept). */
export const storedLive = (v: FileVersion | undefined, kept: readonly ChunkHash[] | undefined): readonly ChunkHash[] =>
  v?.pending ? [...new Set([...(kept ?? []), ...manifestRefs(v.chunks).map((m) => m.hash)])] : liveChunks(v);
const liveSize = (v: FileVersion | undefined): number => (v === undefined || v.deleted ? 0 : v.size);

/**
 * The fold clashes of a commit (CommitContext.foldClashes): `pathOf(fold)` is the space's live
 * path with that fold key, if any. Shared by both stores' commits.
 */
export function checkFolds(versions: readonly FileVersion[], pathOf: (fold: string) => string | undefined): CommitContext["foldClashes"] {
  const gone = new Set(versions.filter((v) => v.deleted).map((v) => v.path));
  const mine = new Map<string, string>();
  const clashes: Array<{ path: string; with: string }> = [];
  for (const v of versions) {
    if (v.deleted) continue;
    const fold = foldKey(v.path);
    const other = mine.get(fold) ?? pathOf(fold);
    if (other !== undefined && other !== v.path && !gone.has(other)) clashes.push({ path: v.path, with: other });
    else mine.set(fold, v.path);
  }
  return clashes;
}

/**
 * The chunks (and manifest blobs) the new versions name, checked against what the store holds:
 * `held(hash)` is the size of the held bytes, or undefined. Shared by both stores' commits.
 */
export function checkNamedChunks(versions: readonly FileVersion[], held: (hash: ChunkHash) => number | undefined): Pick<CommitContext, "missingChunks" | "wrongSizes"> {
  const missing = new Set<ChunkHash>();
  const wrong = new Map<ChunkHash, { hash: ChunkHash; declared: number; held: number }>();
  for (const v of versions) {
    if (v.deleted) continue;
    // A pending version's chunks are not uploaded yet (§ 5.16); its manifest blobs are.
    for (const c of [...(v.pending ? [] : v.chunks), ...manifestRefs(v.chunks)]) {
      const size = held(c.hash);
      if (size === undefined) missing.add(c.hash);
      else if (size !== c.size) wrong.set(c.hash, { hash: c.hash, declared: c.size, held: size });
    }
  }
  return { missingChunks: [...missing], wrongSizes: [...wrong.values()] };
}

const hour = (n: number, what: string): number => {
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${what} must be a whole number of hours since the epoch, got ${n}`);
  return n;
};

/**
 * The hours `fromHour`..`toHour` of a `markOnline` call as per-day bit masks (bit h = UTC hour h
 * of day floor(hour / 24)), after the checks both stores make. Shared by both stores.
 */
export function hourMasks(fromHour: number, toHour: number): Array<{ day: number; bits: number }> {
  hour(fromHour, "fromHour");
  hour(toHour, "toHour");
  if (fromHour > toHour) throw badRequest(`fromHour ${fromHour} is after toHour ${toHour}`);
  if (toHour - fromHour >= MAX_MARKED_HOURS) throw badRequest(`At most ${MAX_MARKED_HOURS} hours at once, got ${toHour - fromHour + 1}`);
  const out: Array<{ day: number; bits: number }> = [];
  for (let h = fromHour; h <= toHour; h++) {
    const day = Math.floor(h / 24);
    if (out.at(-1)?.day !== day) out.push({ day, bits: 0 });
    out.at(-1)!.bits |= 1 << (h % 24);
  }
  return out;
}

/** The hours `>= sinceHour` of per-day masks, ascending (rows ascending by day). */
export function hoursOf(rows: ReadonlyArray<{ day: number; bits: number }>, sinceHour: number): number[] {
  const out: number[] = [];
  for (const r of rows) for (let h = 0; h < 24; h++) if (r.bits & (1 << h) && r.day * 24 + h >= sinceHour) out.push(r.day * 24 + h);
  return out;
}

/** Checks a presence summary (both stores refuse the same). */
export function checkSummary(s: PresenceSummary): void {
  if (!Number.isSafeInteger(s.lastSeenMs) || s.lastSeenMs < 0) throw badRequest(`lastSeenMs must be a time in ms, got ${s.lastSeenMs}`);
  if (s.sessionMs !== undefined && (!Number.isSafeInteger(s.sessionMs) || s.sessionMs < 0)) throw badRequest(`sessionMs must be whole ms, got ${s.sessionMs}`);
}

export class MemoryMetadataStore implements MetadataStore {
  private closed = false;
  private readonly groups = new Map<GroupId, Group>();
  private readonly spaces = new Map<SpaceId, Mutable<SpaceRecord>>();
  private readonly entries = new Map<SpaceId, Map<string, IndexEntry>>();
  private readonly ackRows = new Map<SpaceId, Map<string, AckRecord>>();
  private readonly chunks = new Map<ChunkHash, ChunkRow>();
  private readonly refs = new Map<ChunkHash, Map<SpaceId, Set<string>>>();
  private readonly orphans = new Map<ChunkHash, Map<SpaceId, number>>();
  /** Per `space\0path` of a pending version: the chunks it keeps alive (`pendingLive`). */
  private readonly kept = new Map<string, readonly ChunkHash[]>();
  /** Per space, fold key → the live path that has it. */
  private readonly folds = new Map<SpaceId, Map<string, string>>();
  /** Every member who uploaded a chunk's bytes (the first one is also `chunks`' uploader). */
  private readonly uploads = new Map<ChunkHash, Set<BareJid>>();
  /** Pending SNMs by `${member}\u0000${space}`. */
  private readonly snms = new Map<string, { member: BareJid; space: SpaceId } & PendingSnm>();
  /** Per member, day → bit mask of the UTC hours they were online in. */
  private readonly presenceDays = new Map<BareJid, Map<number, number>>();
  private readonly summaries = new Map<BareJid, PresenceSummary>();

  private open(): void {
    if (this.closed) throw new ShareError("unavailable", { text: "The metadata store is closed" });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async putGroup(group: Group): Promise<void> {
    this.open();
    checkMembers(group.members);
    this.groups.set(group.id, copyGroup(group));
  }
  async getGroup(id: GroupId): Promise<Group | undefined> {
    this.open();
    const g = this.groups.get(id);
    return g && copyGroup(g);
  }
  async groupsOf(member: BareJid): Promise<Group[]> {
    this.open();
    return [...this.groups.values()].filter((g) => g.members.includes(member)).sort(byId).map(copyGroup);
  }
  async deleteGroup(id: GroupId): Promise<void> {
    this.open();
    this.groups.delete(id);
  }

  async createSpace(space: Omit<SpaceRecord, "head" | "usedBytes">): Promise<void> {
    this.open();
    if (this.spaces.has(space.id)) throw badRequest(`Space ${space.id} already exists`);
    checkSpaceShape(space.kind, space.group, space.members);
    this.spaces.set(space.id, copySpace({ ...space, head: 0, usedBytes: 0 }));
    this.entries.set(space.id, new Map());
    this.ackRows.set(space.id, new Map());
  }
  async updateSpace(space: Pick<SpaceRecord, "id" | "name" | "owner" | "members" | "changedMs">): Promise<void> {
    this.open();
    const s = this.spaces.get(space.id);
    if (!s) throw new ShareError("not-found", { text: `No space ${space.id}` });
    checkSpaceShape(s.kind, s.group, space.members);
    Object.assign(s, { name: space.name, owner: space.owner, members: [...space.members], changedMs: space.changedMs });
  }
  async getSpace(id: SpaceId): Promise<SpaceRecord | undefined> {
    this.open();
    const s = this.spaces.get(id);
    return s && copySpace(s);
  }
  async spacesOf(member: BareJid): Promise<SpaceRecord[]> {
    this.open();
    return [...this.spaces.values()].filter((s) => this.members(s.id).includes(member)).sort(byId).map(copySpace);
  }
  async membersOf(space: SpaceId): Promise<BareJid[]> {
    this.open();
    return [...this.members(space)];
  }
  async deleteSpace(id: SpaceId): Promise<void> {
    this.open();
    for (const e of this.entries.get(id)?.values() ?? []) {
      for (const h of storedLive(e, this.kept.get(`${id}\u0000${e.path}`))) this.unref(h, id, e.path);
      this.kept.delete(`${id}\u0000${e.path}`);
    }
    for (const [hash, bySpace] of this.orphans) if (bySpace.delete(id) && bySpace.size === 0) this.orphans.delete(hash);
    this.spaces.delete(id);
    this.entries.delete(id);
    this.folds.delete(id);
    this.ackRows.delete(id);
    for (const [k, p] of this.snms) if (p.space === id) this.snms.delete(k);
  }

  async commit(space: SpaceId, versions: readonly FileVersion[], check: (ctx: CommitContext) => void): Promise<number> {
    this.open();
    const s = this.spaces.get(space);
    const index = this.entries.get(space);
    if (!s || !index) throw new ShareError("not-found", { text: `No space ${space}` });
    const next = normalizeVersions(versions);
    const current = new Map<string, IndexEntry>();
    for (const v of next) {
      const e = index.get(v.path);
      if (e) current.set(v.path, copyEntry(e));
    }
    const folds = this.folds.get(space) ?? new Map<string, string>();
    check({ current, ...checkNamedChunks(next, (h) => this.chunks.get(h)?.size), foldClashes: checkFolds(next, (f) => folds.get(f)), space: copySpace(s) });
    for (const v of next) {
      const fold = foldKey(v.path);
      if (!v.deleted) folds.set(fold, v.path);
      else if (folds.get(fold) === v.path) folds.delete(fold);
    }
    this.folds.set(space, folds);

    // No throw past this point: every mutation below is plain Map bookkeeping.
    const lost = new Map<ChunkHash, number>();
    const touched = new Set<ChunkHash>();
    next.forEach((v, i) => {
      const seq = s.head + 1 + i;
      const old = index.get(v.path);
      const key = `${space}\u0000${v.path}`;
      const oldKept = this.kept.get(key);
      for (const h of storedLive(old, oldKept)) {
        this.unref(h, space, v.path);
        lost.set(h, seq);
        touched.add(h);
      }
      const { live, kept } = pendingLive(v, old, oldKept);
      for (const h of live) {
        this.addRef(h, space, v.path);
        touched.add(h);
      }
      if (kept) this.kept.set(key, kept);
      else this.kept.delete(key);
      s.usedBytes += liveSize(v) - liveSize(old);
      index.set(v.path, { ...v, seq });
    });
    for (const h of touched) {
      const bySpace = this.orphans.get(h) ?? new Map<SpaceId, number>();
      const lostAt = lost.get(h);
      if (this.refs.get(h)?.has(space)) bySpace.delete(space);
      else if (lostAt !== undefined) bySpace.set(space, lostAt);
      if (bySpace.size > 0) this.orphans.set(h, bySpace);
      else this.orphans.delete(h);
    }
    s.head += next.length;
    return s.head;
  }

  async readIndex(space: SpaceId, after: number, limit: number): Promise<IndexEntry[]> {
    this.open();
    const all = [...(this.entries.get(space)?.values() ?? [])].filter((e) => e.seq > after);
    return all.sort((a, b) => a.seq - b.seq).slice(0, Math.max(0, limit)).map(copyEntry);
  }
  async getEntry(space: SpaceId, path: string): Promise<IndexEntry | undefined> {
    this.open();
    const e = this.entries.get(space)?.get(path);
    return e && copyEntry(e);
  }

  async ack(space: SpaceId, member: BareJid, replica: ReplicaId, seq: number): Promise<void> {
    this.open();
    const s = this.spaces.get(space);
    const rows = this.ackRows.get(space);
    if (!s || !rows) throw new ShareError("not-found", { text: `No space ${space}` });
    const key = `${member}\u0000${replica}`;
    const clamped = Math.min(seq, s.head);
    const prev = rows.get(key)?.seq ?? -1;
    rows.set(key, { member, replica, seq: Math.max(prev, clamped) });
  }
  async acks(space: SpaceId): Promise<AckRecord[]> {
    this.open();
    const rows = [...(this.ackRows.get(space)?.values() ?? [])];
    return rows.sort((a, b) => cmp(a.member, b.member) || cmp(a.replica, b.replica)).map((a) => ({ ...a }));
  }
  async forgetMember(space: SpaceId, member: BareJid): Promise<void> {
    this.open();
    const rows = this.ackRows.get(space);
    for (const [k, a] of rows ?? []) if (a.member === member) rows?.delete(k);
  }

  async putSnm(p: { readonly member: BareJid; readonly space: SpaceId; readonly snm: Snm; readonly nowMs: number }): Promise<void> {
    this.open();
    if (!this.spaces.has(p.space)) throw new ShareError("not-found", { text: `No space ${p.space}` });
    const key = `${p.member}\u0000${p.space}`;
    this.snms.set(key, { member: p.member, space: p.space, ...nextPendingSnm(this.snms.get(key), p.snm, p.nowMs) });
  }
  async snmsFor(member: BareJid): Promise<PendingSnm[]> {
    this.open();
    return [...this.snms.values()].filter((p) => p.member === member).sort((a, b) => cmp(a.space, b.space)).map((p) => ({ snm: p.snm, storedMs: p.storedMs }));
  }
  async dropSnm(member: BareJid, space: SpaceId, storedMs: number): Promise<void> {
    this.open();
    const key = `${member}\u0000${space}`;
    if (this.snms.get(key)?.storedMs === storedMs) this.snms.delete(key);
  }

  async markOnline(member: BareJid, fromHour: number, toHour: number): Promise<void> {
    this.open();
    const masks = hourMasks(fromHour, toHour);
    const days = this.presenceDays.get(member) ?? new Map<number, number>();
    for (const m of masks) days.set(m.day, (days.get(m.day) ?? 0) | m.bits);
    this.presenceDays.set(member, days);
  }
  async onlineHours(member: BareJid, sinceHour: number): Promise<number[]> {
    this.open();
    const rows = [...(this.presenceDays.get(member) ?? [])].map(([day, bits]) => ({ day, bits })).sort((a, b) => a.day - b.day);
    return hoursOf(rows, sinceHour);
  }
  async forgetPresenceBefore(beforeHour: number): Promise<void> {
    this.open();
    hour(beforeHour, "beforeHour");
    const first = Math.floor(beforeHour / 24);
    const keep = ~((1 << (beforeHour % 24)) - 1);
    for (const [member, days] of this.presenceDays) {
      for (const [day, bits] of days) {
        const left = day < first ? 0 : day === first ? bits & keep : bits;
        if (left === 0) days.delete(day);
        else days.set(day, left);
      }
      if (days.size === 0) this.presenceDays.delete(member);
    }
    for (const [member, s] of this.summaries) if (s.lastSeenMs < beforeHour * 3_600_000) this.summaries.delete(member);
  }
  async putPresenceSummary(member: BareJid, summary: PresenceSummary): Promise<void> {
    this.open();
    checkSummary(summary);
    this.summaries.set(member, { lastSeenMs: summary.lastSeenMs, ...(summary.sessionMs !== undefined ? { sessionMs: summary.sessionMs } : {}) });
  }
  async presenceSummary(member: BareJid): Promise<PresenceSummary | undefined> {
    this.open();
    const s = this.summaries.get(member);
    return s && { ...s };
  }

  async addChunks(chunks: ReadonlyArray<{ readonly hash: ChunkHash; readonly size: number }>, uploader: BareJid, nowMs: number): Promise<void> {
    this.open();
    for (const { hash, size } of chunks) {
      if (!this.chunks.has(hash)) this.chunks.set(hash, { size, uploader, created: nowMs });
      const by = this.uploads.get(hash) ?? new Set<BareJid>();
      this.uploads.set(hash, by.add(uploader));
    }
  }
  async hasChunks(hashes: readonly ChunkHash[]): Promise<Set<ChunkHash>> {
    this.open();
    return new Set(hashes.filter((h) => this.chunks.has(h)));
  }
  async usableChunks(space: SpaceId, hashes: readonly ChunkHash[], member?: BareJid): Promise<Set<ChunkHash>> {
    this.open();
    return new Set(
      hashes.filter((h) => this.chunks.has(h) && (this.refs.get(h)?.has(space) || this.orphans.get(h)?.has(space) || (member !== undefined && this.uploads.get(h)?.has(member)))),
    );
  }
  async uploadedBytes(member: BareJid): Promise<number> {
    this.open();
    let sum = 0;
    for (const c of this.chunks.values()) if (c.uploader === member) sum += c.size;
    return sum;
  }
  async reclaimable(uploadedBeforeMs: number, limit: number): Promise<ChunkHash[]> {
    this.open();
    const all = [...this.chunks.keys()].sort(cmp);
    return all.filter((h) => this.reclaimableNow(h, uploadedBeforeMs)).slice(0, Math.max(0, limit));
  }
  async dropChunk(hash: ChunkHash, uploadedBeforeMs: number): Promise<boolean> {
    this.open();
    if (!this.reclaimableNow(hash, uploadedBeforeMs)) return false;
    this.chunks.delete(hash);
    this.orphans.delete(hash);
    this.uploads.delete(hash);
    return true;
  }

  /**
   * No current version references the chunk, and either (a) it has orphan records and, for
   * each, every ack of a current member of that space reached the orphan's seq, or (b) it
   * has none and was stored before `before`.
   */
  private reclaimableNow(hash: ChunkHash, before: number): boolean {
    const c = this.chunks.get(hash);
    if (!c || this.refs.has(hash)) return false;
    const orphaned = this.orphans.get(hash);
    if (!orphaned) return c.created < before;
    for (const [space, seq] of orphaned) {
      const members = new Set(this.members(space));
      for (const a of this.ackRows.get(space)?.values() ?? []) if (members.has(a.member) && a.seq < seq) return false;
    }
    return true;
  }

  private members(space: SpaceId): readonly BareJid[] {
    const s = this.spaces.get(space);
    if (!s) return [];
    return s.group === undefined ? s.members : (this.groups.get(s.group)?.members ?? []);
  }

  private addRef(hash: ChunkHash, space: SpaceId, path: string): void {
    const bySpace = this.refs.get(hash) ?? new Map<SpaceId, Set<string>>();
    this.refs.set(hash, bySpace);
    const paths = bySpace.get(space) ?? new Set<string>();
    bySpace.set(space, paths);
    paths.add(path);
  }

  private unref(hash: ChunkHash, space: SpaceId, path: string): void {
    const bySpace = this.refs.get(hash);
    const paths = bySpace?.get(space);
    if (!bySpace || !paths) return;
    paths.delete(path);
    if (paths.size === 0) bySpace.delete(space);
    if (bySpace.size === 0) this.refs.delete(hash);
  }
}

/** Code-unit order: the order SQLite's BINARY collation gives for ASCII ids and JIDs. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
const byId = (a: { id: string }, b: { id: string }): number => cmp(a.id, b.id);
