/**
 * SqliteMetadataStore: the default MetadataStore, one embedded SQLite file (better-sqlite3).
 *
 * Durability: WAL with synchronous=FULL, so a method that resolved survives power loss; except
 * `addChunks`, whose transaction is committed with synchronous=NORMAL (no fsync). WAL frames
 * reach the disk in order, so the next FULL transaction (every `commit` is one) makes its rows
 * durable too, before that commit resolves. Power loss before then can lose the rows, never
 * tear them: the blobs they described are then unrecorded (removed at start-up,
 * gc.ts `reclaimUnrecorded`) and a commit naming them is refused as missing chunks, so the
 * client uploads them again. A process crash loses nothing (the WAL is in the OS's cache).
 * Schema: `MIGRATIONS` is append-only; PRAGMA user_version counts the ones applied, each in its
 * own transaction. A database newer than this program is refused rather than misread.
 *
 * Invariants (the contract suite checks them against MemoryMetadataStore too):
 * - `entries` holds the current version of each path; `seq` is unique per space and ≤ head.
 * - `chunk_refs` lists exactly the chunks of current, non-deleted versions, per space and path;
 *   for a pending version (XEP-draft.md § 5.16, `entries.pending_by` not NULL) the chunks it
 *   keeps (`entries.kept`, packed 32-byte hashes) and its manifest blobs (migration 9).
 * - `uploader_bytes(uploader)` = the sum of `chunks.size` over that uploader's rows, kept by
 *   `addChunks` (one upsert per call for the rows it inserted, migration 3) and by triggers on
 *   deletes and updates of `chunks` (migration 2), so `uploadedBytes` is one row, not a scan.
 * - `orphans(space, hash, seq)`: the chunk lost its last reference in that space at `seq`;
 *   removed when the space references it again or is deleted (ON DELETE CASCADE).
 * - `commit` is one IMMEDIATE transaction (read → check → write): a throw rolls everything back
 *   and rejects with the very same error object.
 * - `pending_snms(member, space)`: at most one SNM kept per member and space (migration 4).
 * - A member uploaded a chunk's bytes iff they are its `chunks.uploader` (the first) or have a
 *   `chunk_uploads` row (the later ones; migration 7).
 * - `presence_days(member, day)`: bit h of `bits` says the member was online during UTC hour
 *   day * 24 + h; no row has bits = 0 (migration 8).
 * - Deleting a space cascades to its members, entries, acks, refs, orphans and pending SNMs: chunks only it
 *   used then have neither refs nor orphans and fall under GC rule (b), the upload-time grace.
 * Validation helpers are shared with MemoryMetadataStore (imported from it) so that both
 * refuse exactly the same inputs.
 * Vectors are stored as `vv.encode` bytes; chunk lists packed, 40 bytes per chunk (32-byte
 * hash, size as two big-endian uint32), so that no row costs a JSON parse.
 */
import Database from "better-sqlite3";
import { ShareError, badRequest } from "../../protocol/errors.ts";
import type { EntryKind, FileVersion } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, GroupId, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import type { Group } from "../../protocol/stanzas/groups.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import type { SpaceKind } from "../../protocol/stanzas/spaces.ts";
import { decode, encode } from "../../protocol/vv.ts";
import { packChunks, unpackChunks } from "../../protocol/chunk-list.ts";
import { nextPendingSnm, type AckRecord, type CommitContext, type MetadataStore, type PendingSnm, type PresenceSummary, type SpaceRecord } from "./metadata.ts";
import type { Snm } from "../../protocol/stanzas/sync-signals.ts";
import { checkFolds, checkMembers, checkNamedChunks, checkSpaceShape, checkSummary, hourMasks, hoursOf, normalizeVersions, pendingLive, storedLive } from "./memory-metadata.ts";
import { foldKey } from "../../protocol/paths.ts";

/** Append-only: never edit an applied migration, add one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL,
     created INTEGER NOT NULL, changed INTEGER NOT NULL);
   CREATE TABLE group_members (group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
     pos INTEGER NOT NULL, jid TEXT NOT NULL, PRIMARY KEY (group_id, jid)) WITHOUT ROWID;
   CREATE INDEX group_members_jid ON group_members(jid);
   CREATE TABLE spaces (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,
     group_id TEXT, created INTEGER NOT NULL, changed INTEGER NOT NULL,
     head INTEGER NOT NULL DEFAULT 0, used_bytes INTEGER NOT NULL DEFAULT 0);
   CREATE INDEX spaces_group ON spaces(group_id) WHERE group_id IS NOT NULL;
   CREATE TABLE space_members (space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     pos INTEGER NOT NULL, jid TEXT NOT NULL, PRIMARY KEY (space_id, jid)) WITHOUT ROWID;
   CREATE INDEX space_members_jid ON space_members(jid);
   CREATE TABLE entries (space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     path TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL,
     size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL, deleted INTEGER NOT NULL,
     replica TEXT NOT NULL, vector BLOB NOT NULL, chunks BLOB NOT NULL, PRIMARY KEY (space_id, path));
   CREATE UNIQUE INDEX entries_seq ON entries(space_id, seq);
   CREATE TABLE acks (space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     member TEXT NOT NULL, replica TEXT NOT NULL, seq INTEGER NOT NULL,
     PRIMARY KEY (space_id, member, replica)) WITHOUT ROWID;
   CREATE TABLE chunks (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, uploader TEXT NOT NULL,
     created INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX chunks_uploader ON chunks(uploader);
   CREATE TABLE chunk_refs (space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     path TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (space_id, path, hash)) WITHOUT ROWID;
   CREATE INDEX chunk_refs_hash ON chunk_refs(hash, space_id);
   CREATE TABLE orphans (space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     hash TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (space_id, hash)) WITHOUT ROWID;
   CREATE INDEX orphans_hash ON orphans(hash);`,
  // 2: bytes stored per first uploader, kept by triggers, so that the quota check of every
  // upload slot request reads one row instead of summing all of the member's chunks. The index
  // on chunks(uploader) served only that sum: without it, recording a chunk writes one random
  // B-tree page less.
  `DROP INDEX chunks_uploader;
   CREATE TABLE uploader_bytes (uploader TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO uploader_bytes SELECT uploader, sum(size) FROM chunks GROUP BY uploader;
   CREATE TRIGGER chunks_added AFTER INSERT ON chunks BEGIN
     INSERT INTO uploader_bytes VALUES (new.uploader, new.size)
       ON CONFLICT (uploader) DO UPDATE SET bytes = bytes + excluded.bytes;
   END;
   CREATE TRIGGER chunks_dropped AFTER DELETE ON chunks BEGIN
     UPDATE uploader_bytes SET bytes = bytes - old.size WHERE uploader = old.uploader;
   END;
   CREATE TRIGGER chunks_changed AFTER UPDATE OF size, uploader ON chunks BEGIN
     UPDATE uploader_bytes SET bytes = bytes - old.size WHERE uploader = old.uploader;
     INSERT INTO uploader_bytes VALUES (new.uploader, new.size)
       ON CONFLICT (uploader) DO UPDATE SET bytes = bytes + excluded.bytes;
   END;`,
  // 3: inserts are counted by `addChunks`, which adds up the rows it inserted and updates the
  // uploader's row once per call, instead of a trigger program running per chunk (it is the
  // only statement that inserts into chunks). Deletes and updates keep their triggers.
  `DROP TRIGGER chunks_added;`,
  // 4: SNMs kept for members whose sharing clients are offline (XEP-draft.md § 5.13): one per
  // (member, space); `vector` (encoded) or `digest`, whichever the SNM carried.
  `CREATE TABLE pending_snms (member TEXT NOT NULL, space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     replica TEXT NOT NULL, vector BLOB, digest TEXT, stored INTEGER NOT NULL,
     PRIMARY KEY (member, space_id)) WITHOUT ROWID;
   CREATE INDEX pending_snms_space ON pending_snms(space_id);`,
  // 5: every member who uploaded a chunk's bytes (not only the first; since 7, those after the
  // first, chunks.uploader): a member may name a
  // chunk in a commit, or skip its upload, only if the space already holds it or they proved
  // they have the bytes (XEP-draft.md § 8). Gone with the chunk.
  `CREATE TABLE chunk_uploads (hash TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (hash, member)) WITHOUT ROWID;
   INSERT INTO chunk_uploads SELECT hash, uploader FROM chunks;
   CREATE TRIGGER chunks_gone AFTER DELETE ON chunks BEGIN
     DELETE FROM chunk_uploads WHERE hash = old.hash;
   END;`,
  // 6: the live path of each fold key per space, so that a commit cannot add `foo.txt` beside
  // `Foo.txt` (one file on a case-insensitive disk; XEP-draft.md § 5.4). fold_key() is
  // protocol/paths.ts `foldKey`, registered on the connection. Paths that already clash keep
  // their first row.
  `CREATE TABLE folds (space_id TEXT NOT NULL REFERENCES spaces(id) ON DELETE CASCADE,
     fold TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (space_id, fold)) WITHOUT ROWID;
   INSERT OR IGNORE INTO folds SELECT space_id, fold_key(path), path FROM entries WHERE deleted = 0 ORDER BY seq;`,
  // 7: chunk_uploads holds the members who uploaded a chunk after its first uploader, who is
  // chunks.uploader already: recording a new chunk then writes one random B-tree row instead
  // of two (bench:client, 1 GiB push: addChunks 1.47 -> 0.69 s of the component's thread).
  `DELETE FROM chunk_uploads WHERE member = (SELECT c.uploader FROM chunks c WHERE c.hash = chunk_uploads.hash);`,
  // 8: presence history (XEP-draft.md § 5.15): per member and UTC day since the epoch, a bit per
  // hour a sharing client of theirs was online in (bit h = hour h); and per member when last
  // seen and a typical session (ms, NULL until one ended). Written at most once per member per
  // hour and per presence change (component/modules/contacts.ts), pruned to its window.
  `CREATE TABLE presence_days (member TEXT NOT NULL, day INTEGER NOT NULL, bits INTEGER NOT NULL,
     PRIMARY KEY (member, day)) WITHOUT ROWID;
   CREATE INDEX presence_days_day ON presence_days(day);
   CREATE TABLE presence_summary (member TEXT PRIMARY KEY, last_seen INTEGER NOT NULL, session_ms INTEGER) WITHOUT ROWID;`,
  // 9: pending versions (XEP-draft.md § 5.16), committed before their content: `pending_by` the
  // member who committed it ('' if unnamed), NULL for every complete version; `kept` the chunks
  // of the last complete version of the path that it keeps referenced (memory-metadata.ts
  // `pendingLive`), 32-byte hashes concatenated. Existing rows are complete: NULL, NULL.
  `ALTER TABLE entries ADD COLUMN pending_by TEXT;
   ALTER TABLE entries ADD COLUMN kept BLOB;`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Rule of `MetadataStore.reclaimable` on chunk row `c`; `@before` is uploadedBeforeMs. */
const RECLAIMABLE = `NOT EXISTS (SELECT 1 FROM chunk_refs r WHERE r.hash = c.hash)
  AND CASE WHEN EXISTS (SELECT 1 FROM orphans o WHERE o.hash = c.hash)
    THEN NOT EXISTS (SELECT 1 FROM orphans o JOIN acks a ON a.space_id = o.space_id AND a.seq < o.seq
      WHERE o.hash = c.hash AND (
        EXISTS (SELECT 1 FROM space_members m WHERE m.space_id = a.space_id AND m.jid = a.member)
        OR EXISTS (SELECT 1 FROM spaces s JOIN group_members g ON g.group_id = s.group_id
                   WHERE s.id = a.space_id AND g.jid = a.member)))
    ELSE c.created < @before END`;

const MY_SPACES = `SELECT space_id FROM space_members WHERE jid = @jid
  UNION SELECT s.id FROM group_members g JOIN spaces s ON s.group_id = g.group_id WHERE g.jid = @jid`;

interface SnmRow {
  member: BareJid;
  space_id: SpaceId;
  replica: ReplicaId;
  vector: Buffer | null;
  digest: string | null;
  stored: number;
}

function toPendingSnm(r: SnmRow): PendingSnm {
  const base = { space: r.space_id, replica: r.replica };
  return { snm: r.vector ? { ...base, vector: decode(r.vector) } : { ...base, digest: r.digest ?? "" }, storedMs: r.stored };
}

interface SpaceRow {
  id: SpaceId;
  kind: SpaceKind;
  name: string;
  owner: BareJid;
  group_id: GroupId | null;
  created: number;
  changed: number;
  head: number;
  used_bytes: number;
}
interface GroupRow {
  id: GroupId;
  name: string;
  owner: BareJid;
  created: number;
  changed: number;
}
interface EntryRow {
  path: string;
  seq: number;
  kind: EntryKind;
  hash: string;
  size: number;
  mtime: number;
  mode: number;
  deleted: number;
  replica: ReplicaId;
  vector: Buffer;
  chunks: Buffer;
  pending_by: string | null;
}
const ENTRY_COLS = "path, seq, kind, hash, size, mtime, mode, deleted, replica, vector, chunks, pending_by";

const packHashes = (hashes: readonly ChunkHash[]): Buffer => Buffer.concat(hashes.map((h) => Buffer.from(h, "hex")));
const unpackHashes = (b: Buffer | null | undefined): ChunkHash[] => {
  const out: ChunkHash[] = [];
  for (let at = 0; b && at + 32 <= b.length; at += 32) out.push(b.toString("hex", at, at + 32) as ChunkHash);
  return out;
};

function toEntry(r: EntryRow): IndexEntry {
  const { path, seq, kind, hash, size, mode, replica } = r;
  const chunks = unpackChunks(r.chunks);
  const vector = decode(r.vector);
  // A deletion's `hash` column holds what it deleted (`was`), or is empty.
  if (r.deleted === 1) return { path, seq, kind, hash: "", size, mtimeMs: r.mtime, mode, deleted: true, replica, vector, chunks, ...(hash ? { was: hash } : {}) };
  const pending = r.pending_by === null ? {} : { pending: r.pending_by ? { by: r.pending_by as BareJid } : {} };
  return { path, seq, kind, hash, size, mtimeMs: r.mtime, mode, deleted: false, replica, vector, chunks, ...pending };
}

function toSpace(r: SpaceRow, members: readonly BareJid[]): SpaceRecord {
  const base = {
    id: r.id, kind: r.kind, name: r.name, owner: r.owner, members: [...members],
    createdMs: r.created, changedMs: r.changed, head: r.head, usedBytes: r.used_bytes,
  };
  return r.group_id === null ? base : { ...base, group: r.group_id };
}

const notFound = (id: string) => new ShareError("not-found", { text: `No space ${id}` });

type CommitFn = (space: SpaceId, versions: readonly FileVersion[], check: (ctx: CommitContext) => void) => number;
type AddChunksFn = (chunks: ReadonlyArray<{ readonly hash: ChunkHash; readonly size: number }>, uploader: BareJid, nowMs: number) => void;

export class SqliteMetadataStore implements MetadataStore {
  private readonly q;
  private readonly commitTx: Database.Transaction<CommitFn>;
  private readonly addChunksTx: Database.Transaction<AddChunksFn>;

  /** Opens (creating if needed) and migrates a database file; `":memory:"` for a private one. */
  static open(file: string): SqliteMetadataStore {
    const db = new Database(file);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      db.pragma("busy_timeout = 5000");
      db.function("fold_key", { deterministic: true }, (p: unknown) => foldKey(String(p)));
      migrate(db);
      return new SqliteMetadataStore(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  private constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      putGroup: p(`INSERT INTO groups VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE
        SET name = excluded.name, owner = excluded.owner, created = excluded.created, changed = excluded.changed`),
      getGroup: p("SELECT * FROM groups WHERE id = ?"),
      groupsOf: p("SELECT g.* FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.jid = ? ORDER BY g.id"),
      deleteGroup: p("DELETE FROM groups WHERE id = ?"),
      groupMembers: p("SELECT jid FROM group_members WHERE group_id = ? ORDER BY pos").pluck(),
      clearGroupMembers: p("DELETE FROM group_members WHERE group_id = ?"),
      addGroupMember: p("INSERT INTO group_members VALUES (?, ?, ?)"),
      createSpace: p("INSERT INTO spaces VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)"),
      updateSpace: p("UPDATE spaces SET name = ?, owner = ?, changed = ? WHERE id = ?"),
      getSpace: p("SELECT * FROM spaces WHERE id = ?"),
      spacesOf: p(`SELECT * FROM spaces WHERE id IN (${MY_SPACES}) ORDER BY id`),
      membersOfMine: p(`SELECT space_id, jid FROM space_members WHERE space_id IN (SELECT space_id FROM space_members
        WHERE jid = @jid) ORDER BY space_id, pos`),
      spaceMembers: p("SELECT jid FROM space_members WHERE space_id = ? ORDER BY pos").pluck(),
      clearSpaceMembers: p("DELETE FROM space_members WHERE space_id = ?"),
      addSpaceMember: p("INSERT INTO space_members VALUES (?, ?, ?)"),
      deleteSpace: p("DELETE FROM spaces WHERE id = ?"),
      setHead: p("UPDATE spaces SET head = ?, used_bytes = ? WHERE id = ?"),
      getEntry: p(`SELECT ${ENTRY_COLS} FROM entries WHERE space_id = ? AND path = ?`),
      readIndex: p(`SELECT ${ENTRY_COLS} FROM entries WHERE space_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      putEntry: p(`INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (space_id, path) DO UPDATE
        SET seq = excluded.seq, kind = excluded.kind, hash = excluded.hash, size = excluded.size, mtime = excluded.mtime,
        mode = excluded.mode, deleted = excluded.deleted, replica = excluded.replica, vector = excluded.vector,
        chunks = excluded.chunks, pending_by = excluded.pending_by, kept = excluded.kept`),
      getKept: p("SELECT kept FROM entries WHERE space_id = ? AND path = ?").pluck(),
      chunkSize: p("SELECT size FROM chunks WHERE hash = ?").pluck(),
      addRef: p("INSERT OR IGNORE INTO chunk_refs VALUES (?, ?, ?)"),
      dropRef: p("DELETE FROM chunk_refs WHERE space_id = ? AND path = ? AND hash = ?"),
      refInSpace: p("SELECT 1 FROM chunk_refs WHERE hash = ? AND space_id = ? LIMIT 1").pluck(),
      setOrphan: p("INSERT OR REPLACE INTO orphans VALUES (?, ?, ?)"),
      clearOrphan: p("DELETE FROM orphans WHERE space_id = ? AND hash = ?"),
      anyOrphan: p("SELECT 1 FROM orphans WHERE space_id = ? LIMIT 1").pluck(),
      ack: p(`INSERT INTO acks VALUES (?, ?, ?, ?) ON CONFLICT (space_id, member, replica)
        DO UPDATE SET seq = max(seq, excluded.seq)`),
      acks: p("SELECT member, replica, seq FROM acks WHERE space_id = ? ORDER BY member, replica"),
      forgetMember: p("DELETE FROM acks WHERE space_id = ? AND member = ?"),
      getSnm: p("SELECT * FROM pending_snms WHERE member = ? AND space_id = ?"),
      putSnm: p("INSERT OR REPLACE INTO pending_snms VALUES (?, ?, ?, ?, ?, ?)"),
      snmsFor: p("SELECT * FROM pending_snms WHERE member = ? ORDER BY space_id"),
      dropSnm: p("DELETE FROM pending_snms WHERE member = ? AND space_id = ? AND stored = ?"),
      addChunk: p("INSERT OR IGNORE INTO chunks VALUES (?, ?, ?, ?)"),
      addUpload: p(`INSERT OR IGNORE INTO chunk_uploads SELECT @hash, @member
        WHERE NOT EXISTS (SELECT 1 FROM chunks WHERE hash = @hash AND uploader = @member)`),
      foldPath: p("SELECT path FROM folds WHERE space_id = ? AND fold = ?").pluck(),
      setFold: p("INSERT OR REPLACE INTO folds VALUES (?, ?, ?)"),
      dropFold: p("DELETE FROM folds WHERE space_id = ? AND fold = ? AND path = ?"),
      usable: p(`SELECT 1 FROM chunks c WHERE c.hash = @hash AND (c.uploader = @member
        OR EXISTS (SELECT 1 FROM chunk_refs r WHERE r.hash = c.hash AND r.space_id = @space)
        OR EXISTS (SELECT 1 FROM orphans o WHERE o.hash = c.hash AND o.space_id = @space)
        OR EXISTS (SELECT 1 FROM chunk_uploads u WHERE u.hash = c.hash AND u.member = @member))`).pluck(),
      addUploaderBytes: p(`INSERT INTO uploader_bytes VALUES (?, ?)
        ON CONFLICT (uploader) DO UPDATE SET bytes = bytes + excluded.bytes`),
      uploadedBytes: p("SELECT bytes FROM uploader_bytes WHERE uploader = ?").pluck(),
      reclaimable: p(`SELECT hash FROM chunks c WHERE ${RECLAIMABLE} ORDER BY hash LIMIT @limit`).pluck(),
      isReclaimable: p(`SELECT 1 FROM chunks c WHERE hash = @hash AND ${RECLAIMABLE}`).pluck(),
      dropChunk: p("DELETE FROM chunks WHERE hash = ?"),
      dropOrphans: p("DELETE FROM orphans WHERE hash = ?"),
      markDay: p(`INSERT INTO presence_days VALUES (?, ?, ?) ON CONFLICT (member, day) DO UPDATE SET bits = bits | excluded.bits`),
      presenceDays: p("SELECT day, bits FROM presence_days WHERE member = ? AND day >= ? ORDER BY day"),
      forgetDays: p("DELETE FROM presence_days WHERE day < ?"),
      trimDay: p("UPDATE presence_days SET bits = bits & ? WHERE day = ?"),
      dropEmptyDays: p("DELETE FROM presence_days WHERE day = ? AND bits = 0"),
      forgetSummaries: p("DELETE FROM presence_summary WHERE last_seen < ?"),
      putSummary: p("INSERT OR REPLACE INTO presence_summary VALUES (?, ?, ?)"),
      getSummary: p("SELECT last_seen, session_ms FROM presence_summary WHERE member = ?"),
    };
    this.commitTx = db.transaction<CommitFn>((space, versions, check) => this.applyCommit(space, versions, check));
    this.addChunksTx = db.transaction<AddChunksFn>((chunks, uploader, nowMs) => {
      // A chunk already recorded keeps its first uploader: only inserted rows count.
      let inserted = 0;
      let bytes = 0;
      for (const c of chunks) {
        if (this.q.addChunk.run(c.hash, c.size, uploader, nowMs).changes === 0) {
          this.q.addUpload.run({ hash: c.hash, member: uploader });
          continue;
        }
        inserted++;
        bytes += c.size;
      }
      if (inserted > 0) this.q.addUploaderBytes.run(uploader, bytes);
    });
  }

  /** For diagnostics and tests: the value of one connection pragma. */
  pragma(name: "journal_mode" | "synchronous" | "foreign_keys" | "user_version"): unknown {
    return this.db.pragma(name, { simple: true });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async putGroup(g: Group): Promise<void> {
    checkMembers(g.members);
    this.db.transaction(() => {
      this.q.putGroup.run(g.id, g.name, g.owner, g.createdMs, g.changedMs);
      this.q.clearGroupMembers.run(g.id);
      g.members.forEach((jid, i) => this.q.addGroupMember.run(g.id, i, jid));
    }).immediate();
  }
  async getGroup(id: GroupId): Promise<Group | undefined> {
    const r = this.q.getGroup.get(id) as GroupRow | undefined;
    return r && this.toGroup(r);
  }
  async groupsOf(member: BareJid): Promise<Group[]> {
    return (this.q.groupsOf.all(member) as GroupRow[]).map((r) => this.toGroup(r));
  }
  async deleteGroup(id: GroupId): Promise<void> {
    this.q.deleteGroup.run(id);
  }
  private toGroup(r: GroupRow): Group {
    const members = this.q.groupMembers.all(r.id) as BareJid[];
    return { id: r.id, name: r.name, owner: r.owner, members, createdMs: r.created, changedMs: r.changed };
  }

  async createSpace(s: Omit<SpaceRecord, "head" | "usedBytes">): Promise<void> {
    checkSpaceShape(s.kind, s.group, s.members);
    this.db.transaction(() => {
      if (this.q.getSpace.get(s.id)) throw badRequest(`Space ${s.id} already exists`);
      this.q.createSpace.run(s.id, s.kind, s.name, s.owner, s.group ?? null, s.createdMs, s.changedMs);
      s.members.forEach((jid, i) => this.q.addSpaceMember.run(s.id, i, jid));
    }).immediate();
  }
  async updateSpace(s: Pick<SpaceRecord, "id" | "name" | "owner" | "members" | "changedMs">): Promise<void> {
    this.db.transaction(() => {
      const row = this.q.getSpace.get(s.id) as SpaceRow | undefined;
      if (!row) throw notFound(s.id);
      checkSpaceShape(row.kind, row.group_id ?? undefined, s.members);
      this.q.updateSpace.run(s.name, s.owner, s.changedMs, s.id);
      this.q.clearSpaceMembers.run(s.id);
      s.members.forEach((jid, i) => this.q.addSpaceMember.run(s.id, i, jid));
    }).immediate();
  }
  async getSpace(id: SpaceId): Promise<SpaceRecord | undefined> {
    const r = this.q.getSpace.get(id) as SpaceRow | undefined;
    return r && toSpace(r, this.q.spaceMembers.all(id) as BareJid[]);
  }
  async spacesOf(member: BareJid): Promise<SpaceRecord[]> {
    const rows = this.q.spacesOf.all({ jid: member }) as SpaceRow[];
    const members = new Map<SpaceId, BareJid[]>();
    for (const m of this.q.membersOfMine.all({ jid: member }) as Array<{ space_id: SpaceId; jid: BareJid }>) {
      const list = members.get(m.space_id) ?? [];
      members.set(m.space_id, list);
      list.push(m.jid);
    }
    return rows.map((r) => toSpace(r, members.get(r.id) ?? []));
  }
  async membersOf(space: SpaceId): Promise<BareJid[]> {
    const r = this.q.getSpace.get(space) as SpaceRow | undefined;
    if (!r) return [];
    return (r.group_id === null ? this.q.spaceMembers.all(space) : this.q.groupMembers.all(r.group_id)) as BareJid[];
  }
  async deleteSpace(id: SpaceId): Promise<void> {
    // Entries, acks, members, chunk_refs and orphans go by ON DELETE CASCADE; chunks that only
    // this space used are left with no refs and no orphans, i.e. under rule (b).
    this.q.deleteSpace.run(id);
  }

  async commit(space: SpaceId, versions: readonly FileVersion[], check: (ctx: CommitContext) => void): Promise<number> {
    return this.commitTx.immediate(space, versions, check);
  }
  private applyCommit(space: SpaceId, versions: readonly FileVersion[], check: (ctx: CommitContext) => void): number {
    const row = this.q.getSpace.get(space) as SpaceRow | undefined;
    if (!row) throw notFound(space);
    const next = normalizeVersions(versions);
    const current = new Map<string, IndexEntry>();
    for (const v of next) {
      const e = this.q.getEntry.get(space, v.path) as EntryRow | undefined;
      if (e) current.set(v.path, toEntry(e));
    }
    const named = checkNamedChunks(next, (h) => this.q.chunkSize.get(h) as number | undefined);
    const foldClashes = checkFolds(next, (f) => this.q.foldPath.get(space, f) as string | undefined);
    check({ current, ...named, foldClashes, space: toSpace(row, this.q.spaceMembers.all(space) as BareJid[]) });
    for (const v of next) if (v.deleted) this.q.dropFold.run(space, foldKey(v.path), v.path);
    for (const v of next) if (!v.deleted) this.q.setFold.run(space, foldKey(v.path), v.path);

    let used = row.used_bytes;
    const lost = new Map<ChunkHash, number>();
    // Chunks this commit references: they have a ref when it ends, so they need no lookup and
    // lose their orphan row, if the space has any orphans at all (one query, not one per chunk).
    const added = new Set<ChunkHash>();
    next.forEach((v, i) => {
      const seq = row.head + 1 + i;
      const old = current.get(v.path);
      const oldKept = old?.pending ? unpackHashes(this.q.getKept.get(space, v.path) as Buffer | null) : undefined;
      for (const h of storedLive(old, oldKept)) {
        this.q.dropRef.run(space, v.path, h);
        lost.set(h, seq);
      }
      const { live, kept } = pendingLive(v, old, oldKept);
      for (const h of live) {
        this.q.addRef.run(space, v.path, h);
        added.add(h);
      }
      used += (v.deleted ? 0 : v.size) - (old && !old.deleted ? old.size : 0);
      const { path, kind, size, mtimeMs, mode, deleted, replica } = v;
      const hash = deleted ? (v.was ?? "") : v.hash;
      this.q.putEntry.run(space, path, seq, kind, hash, size, mtimeMs, mode, deleted ? 1 : 0, replica,
        encode(v.vector), packChunks(v.chunks), v.pending ? (v.pending.by ?? "") : null, kept ? packHashes(kept) : null);
    });
    if (this.q.anyOrphan.get(space)) for (const h of added) this.q.clearOrphan.run(space, h);
    for (const [h, lostAt] of lost) {
      if (added.has(h)) continue;
      if (this.q.refInSpace.get(h, space)) this.q.clearOrphan.run(space, h);
      else this.q.setOrphan.run(space, h, lostAt);
    }
    const head = row.head + next.length;
    this.q.setHead.run(head, used, space);
    return head;
  }

  async readIndex(space: SpaceId, after: number, limit: number): Promise<IndexEntry[]> {
    return (this.q.readIndex.all(space, after, Math.max(0, limit)) as EntryRow[]).map(toEntry);
  }
  async getEntry(space: SpaceId, path: string): Promise<IndexEntry | undefined> {
    const r = this.q.getEntry.get(space, path) as EntryRow | undefined;
    return r && toEntry(r);
  }

  async ack(space: SpaceId, member: BareJid, replica: ReplicaId, seq: number): Promise<void> {
    this.db.transaction(() => {
      const row = this.q.getSpace.get(space) as SpaceRow | undefined;
      if (!row) throw notFound(space);
      this.q.ack.run(space, member, replica, Math.min(seq, row.head));
    }).immediate();
  }
  async acks(space: SpaceId): Promise<AckRecord[]> {
    return this.q.acks.all(space) as AckRecord[];
  }
  async putSnm(p: { readonly member: BareJid; readonly space: SpaceId; readonly snm: Snm; readonly nowMs: number }): Promise<void> {
    this.db.transaction(() => {
      if (!this.q.getSpace.get(p.space)) throw notFound(p.space);
      const row = this.q.getSnm.get(p.member, p.space) as SnmRow | undefined;
      const next = nextPendingSnm(row ? toPendingSnm(row) : undefined, p.snm, p.nowMs);
      const s = next.snm;
      this.q.putSnm.run(p.member, p.space, s.replica, "vector" in s ? encode(s.vector) : null, "digest" in s ? s.digest : null, next.storedMs);
    }).immediate();
  }
  async snmsFor(member: BareJid): Promise<PendingSnm[]> {
    return (this.q.snmsFor.all(member) as SnmRow[]).map(toPendingSnm);
  }
  async dropSnm(member: BareJid, space: SpaceId, storedMs: number): Promise<void> {
    this.q.dropSnm.run(member, space, storedMs);
  }

  async forgetMember(space: SpaceId, member: BareJid): Promise<void> {
    this.q.forgetMember.run(space, member);
  }

  async markOnline(member: BareJid, fromHour: number, toHour: number): Promise<void> {
    const masks = hourMasks(fromHour, toHour);
    this.db.transaction(() => {
      for (const m of masks) this.q.markDay.run(member, m.day, m.bits);
    }).immediate();
  }
  async onlineHours(member: BareJid, sinceHour: number): Promise<number[]> {
    return hoursOf(this.q.presenceDays.all(member, Math.floor(Math.max(0, sinceHour) / 24)) as Array<{ day: number; bits: number }>, sinceHour);
  }
  async forgetPresenceBefore(beforeHour: number): Promise<void> {
    hourMasks(beforeHour, beforeHour); // the same checks as markOnline's hours
    const first = Math.floor(beforeHour / 24);
    this.db.transaction(() => {
      this.q.forgetDays.run(first);
      this.q.trimDay.run(~((1 << (beforeHour % 24)) - 1), first);
      this.q.dropEmptyDays.run(first);
      this.q.forgetSummaries.run(beforeHour * 3_600_000);
    }).immediate();
  }
  async putPresenceSummary(member: BareJid, summary: PresenceSummary): Promise<void> {
    checkSummary(summary);
    this.q.putSummary.run(member, summary.lastSeenMs, summary.sessionMs ?? null);
  }
  async presenceSummary(member: BareJid): Promise<PresenceSummary | undefined> {
    const r = this.q.getSummary.get(member) as { last_seen: number; session_ms: number | null } | undefined;
    return r && { lastSeenMs: r.last_seen, ...(r.session_ms !== null ? { sessionMs: r.session_ms } : {}) };
  }

  async addChunks(chunks: ReadonlyArray<{ readonly hash: ChunkHash; readonly size: number }>, uploader: BareJid, nowMs: number): Promise<void> {
    if (chunks.length === 0) return;
    // One transaction: one fsync for a whole batch upload instead of one per chunk.
    // One transaction per batch upload, committed without an fsync of its own (see the header):
    // on this VM the fsync per batch blocked the event loop for ~1 s of a 1 GiB upload.
    this.db.pragma("synchronous = NORMAL");
    try {
      this.addChunksTx.immediate(chunks, uploader, nowMs);
    } finally {
      this.db.pragma("synchronous = FULL");
    }
  }
  async hasChunks(hashes: readonly ChunkHash[]): Promise<Set<ChunkHash>> {
    // One read transaction for the lot: one snapshot, one round of WAL locks, not one per hash.
    return this.db.transaction(() => new Set(hashes.filter((h) => this.q.chunkSize.get(h) !== undefined))).deferred();
  }
  async usableChunks(space: SpaceId, hashes: readonly ChunkHash[], member?: BareJid): Promise<Set<ChunkHash>> {
    // `member` null matches no upload row.
    return this.db.transaction(() => new Set(hashes.filter((hash) => this.q.usable.get({ hash, space, member: member ?? null }) !== undefined))).deferred();
  }
  async uploadedBytes(member: BareJid): Promise<number> {
    return (this.q.uploadedBytes.get(member) as number | undefined) ?? 0;
  }
  async reclaimable(uploadedBeforeMs: number, limit: number): Promise<ChunkHash[]> {
    return this.q.reclaimable.all({ before: uploadedBeforeMs, limit: Math.max(0, limit) }) as ChunkHash[];
  }
  async dropChunk(hash: ChunkHash, uploadedBeforeMs: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (!this.q.isReclaimable.get({ before: uploadedBeforeMs, hash })) return false;
      this.q.dropChunk.run(hash);
      this.q.dropOrphans.run(hash);
      return true;
    }).immediate();
  }
}

function migrate(db: Database.Database): void {
  const at = db.pragma("user_version", { simple: true }) as number;
  if (at > MIGRATIONS.length) {
    throw new ShareError("internal", { text: `Database schema ${at} is newer than this program's (${MIGRATIONS.length})` });
  }
  for (let i = at; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]!);
      db.pragma(`user_version = ${i + 1}`);
    }).immediate();
  }
}
