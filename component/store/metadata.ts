/**
 * MetadataStore: everything the sharing manager knows except chunk bytes (XEP-draft.md § 6).
 *
 * Implementations: `SqliteMetadataStore` (default, embedded) and `MemoryMetadataStore` (tests).
 * Both run the same contract suite (`tests/contract/metadata-store.contract.ts`); a PostgreSQL
 * adapter is meant to be one more implementation of this interface and one more line there.
 *
 * Every method is async so that networked stores fit. Each method is atomic on its own;
 * `commit` is the only multi-row write and runs its check and its writes in one transaction.
 * A method that resolves has made its change durable (SQLite: WAL + synchronous=FULL), except
 * `addChunks`: its rows are durable once a later write is (every `commit`), which is all a
 * commit naming them needs (see sqlite-metadata.ts).
 */
import type { FileVersion } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, GroupId, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import type { Group } from "../../protocol/stanzas/groups.ts";
import type { Space } from "../../protocol/stanzas/spaces.ts";
import type { Snm } from "../../protocol/stanzas/sync-signals.ts";
import { merge } from "../../protocol/vv.ts";

/** A space as stored. Members of a `group` space are the group's members, not stored here. */
export interface SpaceRecord extends Omit<Space, "members"> {
  /** For `mine` and `pair`: every member including the owner. Empty for `group` spaces. */
  readonly members: readonly BareJid[];
  /** Sum of `size` over current, non-deleted file versions. */
  readonly usedBytes: number;
}

/** What `commit` hands to its check, read inside the transaction. */
export interface CommitContext {
  /** Current version of each path named by the commit, if any. */
  readonly current: ReadonlyMap<string, IndexEntry>;
  /** Chunks named by the new versions that the store does not hold. */
  readonly missingChunks: readonly ChunkHash[];
  /**
   * Paths of the new versions (live ones) whose fold key (protocol/paths.ts `foldKey`) equals
   * that of another live path of the space, or of another new version, not deleted by this
   * commit: on a case-insensitive disk the two would be one file (XEP-draft.md § 5.4).
   */
  readonly foldClashes: ReadonlyArray<{ readonly path: string; readonly with: string }>;
  /** Chunks it holds, but named with another size than their bytes have (a lie, or a bug). */
  readonly wrongSizes: ReadonlyArray<{ readonly hash: ChunkHash; readonly declared: number; readonly held: number }>;
  readonly space: SpaceRecord;
}

export interface AckRecord {
  readonly member: BareJid;
  readonly replica: ReplicaId;
  readonly seq: number;
}

/** An SNM kept for a member whose sharing clients were offline (XEP-draft.md § 5.13). */
export interface PendingSnm {
  readonly snm: Snm;
  /** When it was stored or last merged; `dropSnm` removes it only if it is still this one. */
  readonly storedMs: number;
}

/**
 * What `putSnm` keeps when `prev` is kept already: the vectors merged when both have one
 * (an SNM that says "at least this" loses nothing by merging), else the newer one; stored at a
 * time after `prev`'s, so that `dropSnm` for `prev` leaves it alone.
 */
export function nextPendingSnm(prev: PendingSnm | undefined, snm: Snm, nowMs: number): PendingSnm {
  const storedMs = prev ? Math.max(nowMs, prev.storedMs + 1) : nowMs;
  if (prev && "vector" in prev.snm && "vector" in snm) return { snm: { ...snm, vector: merge(prev.snm.vector, snm.vector) }, storedMs };
  return { snm, storedMs };
}

/**
 * What the component keeps of a member's sessions besides their hours (XEP-draft.md § 5.15):
 * when a sharing client of theirs was last online, and a typical session length (a moving
 * average of their finished sessions, from the first client online to the last one gone).
 */
export interface PresenceSummary {
  readonly lastSeenMs: number;
  readonly sessionMs?: number;
}

/** Longest run of hours one `markOnline` call may name (a year): callers clamp to their window. */
export const MAX_MARKED_HOURS = 366 * 24;

export interface MetadataStore {
  /** Flushes and closes; further calls reject. */
  close(): Promise<void>;

  // Groups -------------------------------------------------------------------------------
  /** Inserts or replaces a group (id is the key). */
  putGroup(group: Group): Promise<void>;
  getGroup(id: GroupId): Promise<Group | undefined>;
  /** Groups whose members include `member`, ordered by id. */
  groupsOf(member: BareJid): Promise<Group[]>;
  deleteGroup(id: GroupId): Promise<void>;

  // Spaces -------------------------------------------------------------------------------
  /** Creates a space with head 0 and usedBytes 0; rejects if the id exists. */
  createSpace(space: Omit<SpaceRecord, "head" | "usedBytes">): Promise<void>;
  /** Replaces name, owner, members and changedMs (head and usedBytes are the store's own). */
  updateSpace(space: Pick<SpaceRecord, "id" | "name" | "owner" | "members" | "changedMs">): Promise<void>;
  getSpace(id: SpaceId): Promise<SpaceRecord | undefined>;
  /**
   * Spaces `member` belongs to, ordered by id: `mine`/`pair` spaces listing the member, and
   * `group` spaces whose group lists the member.
   */
  spacesOf(member: BareJid): Promise<SpaceRecord[]>;
  /** Bare JIDs of every member of a space (for group spaces: the group's members). */
  membersOf(space: SpaceId): Promise<BareJid[]>;
  /** Removes the space, its index, its acks; its chunks become unreferenced. */
  deleteSpace(id: SpaceId): Promise<void>;

  // Index --------------------------------------------------------------------------------
  /**
   * Atomically: reads the current versions of the named paths and which chunks are missing,
   * calls `check` (which throws to refuse; nothing is written then), then stores each version
   * with consecutive sequence numbers after the space's head, updates head and usedBytes,
   * records chunk references, and returns the new head. Versions must name distinct paths.
   */
  commit(space: SpaceId, versions: readonly FileVersion[], check: (ctx: CommitContext) => void): Promise<number>;
  /** Current versions with `seq > after`, ascending by seq, at most `limit`. */
  readIndex(space: SpaceId, after: number, limit: number): Promise<IndexEntry[]>;
  getEntry(space: SpaceId, path: string): Promise<IndexEntry | undefined>;

  // Acknowledgements ---------------------------------------------------------------------
  /** Records that `replica` of `member` applied the space up to `seq` (never lowers it). */
  ack(space: SpaceId, member: BareJid, replica: ReplicaId, seq: number): Promise<void>;
  acks(space: SpaceId): Promise<AckRecord[]>;
  /** Forgets a member's replicas of a space (the member left or was removed). */
  forgetMember(space: SpaceId, member: BareJid): Promise<void>;

  // Pending SNMs (store and forward) ---------------------------------------------------------
  /**
   * Keeps an SNM for `member`: one per (member, space). When one is kept already and both carry
   * vectors, the vectors are merged (the sender named is the latest); otherwise the new one
   * replaces it. Deleting the space deletes its pending SNMs.
   */
  putSnm(p: { readonly member: BareJid; readonly space: SpaceId; readonly snm: Snm; readonly nowMs: number }): Promise<void>;
  /** A member's pending SNMs, ordered by space id. */
  snmsFor(member: BareJid): Promise<PendingSnm[]>;
  /** Removes a pending SNM if it is still the one stored at `storedMs` (not replaced since). */
  dropSnm(member: BareJid, space: SpaceId, storedMs: number): Promise<void>;

  // Presence history (contacts' characteristics, XEP-draft.md § 5.15) -------------------------
  /**
   * Records that a sharing client of `member` was online during every UTC hour from `fromHour`
   * to `toHour` inclusive (hours since the epoch: floor(ms / 3,600,000)). Idempotent; a bit per
   * hour, so a member costs at most a few bytes per day. Refuses (bad-request, nothing written)
   * negative or non-integer hours, `fromHour > toHour`, or more than MAX_MARKED_HOURS at once.
   */
  markOnline(member: BareJid, fromHour: number, toHour: number): Promise<void>;
  /** The hours `>= sinceHour` during which `member` was recorded online, ascending. */
  onlineHours(member: BareJid, sinceHour: number): Promise<number[]>;
  /**
   * Forgets, for every member, the hours before `beforeHour`, and the summaries of members not
   * seen since then: what the store keeps of presence is bounded by the caller's window.
   */
  forgetPresenceBefore(beforeHour: number): Promise<void>;
  /** Replaces a member's presence summary (one row per member). */
  putPresenceSummary(member: BareJid, summary: PresenceSummary): Promise<void>;
  presenceSummary(member: BareJid): Promise<PresenceSummary | undefined>;

  // Chunks -------------------------------------------------------------------------------
  /**
   * Records that verified chunks are stored, all in one transaction (idempotent per chunk: a
   * chunk already recorded keeps its first uploader, size and time). An empty list is a no-op.
   * Durable with the next durable write (not necessarily on its own): power loss before it may
   * forget these records, never any that a resolved `commit` relies on.
   */
  addChunks(chunks: ReadonlyArray<{ readonly hash: ChunkHash; readonly size: number }>, uploader: BareJid, nowMs: number): Promise<void>;
  /** The subset of `hashes` the store holds. */
  hasChunks(hashes: readonly ChunkHash[]): Promise<Set<ChunkHash>>;
  /**
   * The held chunks among `hashes` that belong to `space`: named by one of its versions, current
   * or awaiting collection, and, when `member` is given, also those `member` uploaded themselves
   * (into any space). What a member may download from a space, or name in a commit to it,
   * without uploading the bytes first: a hash alone proves nothing, so a chunk only some other
   * space holds is neither served nor reported as held (XEP-draft.md § 8).
   */
  usableChunks(space: SpaceId, hashes: readonly ChunkHash[], member?: BareJid): Promise<Set<ChunkHash>>;
  /** Bytes of chunks first uploaded by `member` that are still stored. */
  uploadedBytes(member: BareJid): Promise<number>;
  /**
   * Chunks that may be deleted now, at most `limit`: those referenced by no current version
   * of any space and either (a) dropped from a space at some seq that every replica of every
   * current member of that space has acknowledged, in every space that dropped them, or
   * (b) never referenced at all and stored before `uploadedBeforeMs` (abandoned uploads).
   */
  reclaimable(uploadedBeforeMs: number, limit: number): Promise<ChunkHash[]>;
  /**
   * Deletes the chunk's record if it is still reclaimable (re-checked in the same transaction,
   * so a commit that started referencing it in between wins). True when the caller must now
   * delete the bytes.
   */
  dropChunk(hash: ChunkHash, uploadedBeforeMs: number): Promise<boolean>;
}
