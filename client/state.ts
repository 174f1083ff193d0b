/**
 * The device's local index (SQLite, one file per home): the spaces this device knows, where
 * each one lives on disk, how far its index has been applied, and per path the *synced
 * version*: the version that disk and sharing manager last agreed on, with the local file's
 * size, mtime and inode at that moment (so the scanner can tell an untouched file without
 * reading it). Conflicts that were kept as copies are listed until the user resolves them.
 *
 * Per space also the merge of every vector this device has taken in: the versions it recorded
 * and the index entries it has read up to `pulled` (including those it does not write, such as
 * ignored paths). Once the device holds everything up to the component's head, this is the
 * merge of everything ever committed to the space, which is what the component's digest is of
 * (XEP-draft.md § 5.12): equal digests mean nothing to exchange. Remote versions still pending
 * their uploader's content (§ 5.16) are not counted until their completion is read: this device
 * has not got them (they wait in `waiting`). A synced version may itself be pending (`pending`
 * column, {} for ours): committed before its content, which the next sync in its window uploads.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { packChunks, unpackChunks } from "../protocol/chunk-list.ts";
import type { EntryKind, FileVersion } from "../protocol/file.ts";
import type { BareJid, GroupId, ReplicaId, SpaceId } from "../protocol/ids.ts";
import type { Space, SpaceKind } from "../protocol/stanzas/spaces.ts";
import { EMPTY, decode, encode, mergeAll, type VersionVector } from "../protocol/vv.ts";

/** A space as the component described it, plus where and how far it lives on this device. */
export interface LocalSpace extends Pick<Space, "id" | "kind" | "name" | "owner" | "group" | "members"> {
  /** Absolute folder on this device; undefined until accepted here. */
  readonly folder?: string;
  /** Highest index sequence number applied to the folder. */
  readonly pulled: number;
}

/** What disk and component last agreed on for one path, and how the file looked then. */
export interface Synced {
  readonly version: FileVersion;
  /** Local stat when synced; undefined for tombstones. */
  readonly local?: { readonly size: number; readonly mtimeMs: number; readonly ino: number };
}

/** A remote version waiting in the state (`ClientState.waiting`), and why. */
export interface Waiting {
  readonly version: FileVersion;
  /** For people: "case-collision with local FOO.txt", "waits for its window * 1-5 * * * until 01:00". */
  readonly reason?: string;
  /** When the schedule lets it go (ms); undefined: not by time (or not the schedule's doing). */
  readonly untilMs?: number;
}

/**
 * A large transfer that stopped before the end (`ClientState.partials`): a download's
 * temporary files in the space's folder that hold a prefix of version `hash`, or an upload
 * whose first chunks are on the sharing manager. Only a hint: a download reads its chunks back
 * from `temps` verified by hash (a torn or stale file costs a download, never a wrong byte).
 */
export interface PartialTransfer {
  readonly path: string;
  readonly direction: "up" | "down";
  /** Content id of the version being transferred. */
  readonly hash: string;
  /** The version's size. */
  readonly size: number;
  /** Temporary files (folder-relative) holding the prefix, best first; none for uploads. */
  readonly temps: readonly string[];
  /** Bytes done when it stopped (0 while running: a crash leaves that). */
  readonly bytes: number;
  /** Why it stopped, for people; undefined while running. */
  readonly reason?: string;
  readonly updatedMs: number;
}

export interface ConflictRecord {
  readonly space: SpaceId;
  /** The path both versions wanted. */
  readonly path: string;
  /** Where the losing version was kept. */
  readonly copy: string;
  /** The replica whose version lost. */
  readonly replica: ReplicaId;
  readonly createdMs: number;
  /** Which of the two holds this device's version: the original path or the copy. */
  readonly localAt: "path" | "copy";
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spaces (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, grp TEXT,
  members TEXT NOT NULL, folder TEXT, pulled INTEGER NOT NULL DEFAULT 0, vector BLOB
);
CREATE TABLE IF NOT EXISTS entries (
  space TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, deleted INTEGER NOT NULL,
  hash TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL,
  replica TEXT NOT NULL, vector BLOB NOT NULL, chunks BLOB NOT NULL,
  l_size INTEGER, l_mtime INTEGER, l_ino INTEGER,
  PRIMARY KEY (space, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conflicts (
  space TEXT NOT NULL, path TEXT NOT NULL, copy TEXT NOT NULL, replica TEXT NOT NULL, created INTEGER NOT NULL,
  local_at TEXT NOT NULL, PRIMARY KEY (space, copy)
);
CREATE TABLE IF NOT EXISTS waiting (
  space TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, deleted INTEGER NOT NULL,
  hash TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL,
  replica TEXT NOT NULL, vector BLOB NOT NULL, chunks BLOB NOT NULL,
  l_size INTEGER, l_mtime INTEGER, l_ino INTEGER, reason TEXT, until_ms INTEGER,
  PRIMARY KEY (space, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partials (
  space TEXT NOT NULL, path TEXT NOT NULL, direction TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,
  temps TEXT NOT NULL, bytes INTEGER NOT NULL, reason TEXT, updated INTEGER NOT NULL,
  PRIMARY KEY (space, path, direction)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refused (
  space TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (space, path)
) WITHOUT ROWID;
`;

interface EntryRow {
  path: string;
  kind: EntryKind;
  deleted: number;
  hash: string;
  size: number;
  mtime: number;
  mode: number;
  replica: ReplicaId;
  vector: Buffer;
  chunks: Buffer;
  l_size: number | null;
  l_mtime: number | null;
  l_ino: number | null;
  /** A pending version (XEP-draft.md § 5.16): NULL complete, '' ours (no `by`), else `by`. */
  pending?: string | null;
}

interface SpaceRow {
  id: SpaceId;
  kind: SpaceKind;
  name: string;
  owner: BareJid;
  grp: GroupId | null;
  members: string;
  folder: string | null;
  pulled: number;
  vector: Buffer | null;
}

function toSpace(r: SpaceRow): LocalSpace {
  const base = { id: r.id, kind: r.kind, name: r.name, owner: r.owner, members: JSON.parse(r.members) as BareJid[], pulled: r.pulled };
  return { ...base, ...(r.grp ? { group: r.grp } : {}), ...(r.folder ? { folder: r.folder } : {}) };
}

/**
 * `intern` returns one string object per distinct value (kind and replica repeat on every row):
 * a folder's synced versions are held whole during a sync, and SQLite gives each row its own copies.
 */
function toSynced(r: EntryRow, intern: <T extends string>(s: T) => T): Synced {
  if (r.deleted === 1) {
    // A deletion's `hash` column holds what it deleted (`was`), or is empty.
    const version: FileVersion = { path: r.path, kind: intern(r.kind), vector: decode(r.vector), hash: "", size: r.size, mtimeMs: r.mtime, mode: r.mode, deleted: true, replica: intern(r.replica), chunks: [], ...(r.hash ? { was: r.hash } : {}) };
    return r.l_size === null ? { version } : { version, local: { size: r.l_size, mtimeMs: r.l_mtime ?? 0, ino: r.l_ino ?? 0 } };
  }
  const chunks = unpackChunks(r.chunks);
  const version: FileVersion = {
    path: r.path,
    kind: intern(r.kind),
    vector: decode(r.vector),
    // A file of one chunk has that chunk's hash as its content id: one string for both.
    hash: chunks.length === 1 && chunks[0]!.hash === r.hash ? chunks[0]!.hash : r.hash,
    size: r.size,
    mtimeMs: r.mtime,
    mode: r.mode,
    deleted: r.deleted === 1,
    replica: intern(r.replica),
    chunks,
    ...(r.pending !== null && r.pending !== undefined ? { pending: r.pending ? { by: r.pending as BareJid } : {} } : {}),
  };
  return r.l_size === null ? { version } : { version, local: { size: r.l_size, mtimeMs: r.l_mtime ?? 0, ino: r.l_ino ?? 0 } };
}

/** The `pending` column of a version (EntryRow.pending). */
const pendingCol = (v: FileVersion): string | null => (v.pending && !v.deleted ? (v.pending.by ?? "") : null);

export class ClientState {
  readonly #db: Database.Database;
  readonly #put: Database.Statement;

  private constructor(db: Database.Database) {
    this.#db = db;
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO entries (space, path, kind, deleted, hash, size, mtime, mode, replica, vector, chunks, l_size, l_mtime, l_ino, pending)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  static open(file: string): ClientState {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(SCHEMA);
    // Homes made before spaces had a vector: NULL means "merge of the recorded versions".
    const cols = db.prepare("PRAGMA table_info(spaces)").all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === "vector")) db.exec("ALTER TABLE spaces ADD COLUMN vector BLOB");
    // Homes made before the scheduler: waiting rows were case collisions only (reason NULL).
    const wcols = db.prepare("PRAGMA table_info(waiting)").all() as Array<{ name: string }>;
    if (!wcols.some((c) => c.name === "reason")) db.exec("ALTER TABLE waiting ADD COLUMN reason TEXT");
    if (!wcols.some((c) => c.name === "until_ms")) db.exec("ALTER TABLE waiting ADD COLUMN until_ms INTEGER");
    // Homes made before pending versions (XEP-draft.md § 5.16): every row is complete (NULL).
    if (!wcols.some((c) => c.name === "pending")) db.exec("ALTER TABLE waiting ADD COLUMN pending TEXT");
    const ecols = db.prepare("PRAGMA table_info(entries)").all() as Array<{ name: string }>;
    if (!ecols.some((c) => c.name === "pending")) db.exec("ALTER TABLE entries ADD COLUMN pending TEXT");
    return new ClientState(db);
  }

  close(): void {
    this.#db.close();
  }

  spaces(): LocalSpace[] {
    return (this.#db.prepare("SELECT * FROM spaces ORDER BY id").all() as SpaceRow[]).map(toSpace);
  }

  space(id: SpaceId): LocalSpace | undefined {
    const r = this.#db.prepare("SELECT * FROM spaces WHERE id = ?").get(id) as SpaceRow | undefined;
    return r ? toSpace(r) : undefined;
  }

  /** Records what the component says about a space; keeps the local folder and progress. */
  putSpace(s: Omit<LocalSpace, "folder" | "pulled">): void {
    this.#db
      .prepare(
        `INSERT INTO spaces (id, kind, name, owner, grp, members, vector) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, name = excluded.name, owner = excluded.owner,
           grp = excluded.grp, members = excluded.members`,
      )
      .run(s.id, s.kind, s.name, s.owner, s.group ?? null, JSON.stringify(s.members), encode(EMPTY));
  }

  setFolder(id: SpaceId, folder: string): void {
    this.#db.prepare("UPDATE spaces SET folder = ? WHERE id = ?").run(folder, id);
  }

  /** Forgets a space on this device (its folder and files stay untouched; `xshare leave` removes its partials' temp files first). */
  removeSpace(id: SpaceId): void {
    this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM entries WHERE space = ?").run(id);
      this.#db.prepare("DELETE FROM conflicts WHERE space = ?").run(id);
      this.#db.prepare("DELETE FROM refused WHERE space = ?").run(id);
      this.#db.prepare("DELETE FROM waiting WHERE space = ?").run(id);
      this.#db.prepare("DELETE FROM partials WHERE space = ?").run(id);
      this.#db.prepare("DELETE FROM spaces WHERE id = ?").run(id);
    })();
  }

  entries(space: SpaceId): Map<string, Synced> {
    // Row by row: a folder's rows are never all held at once beside what they become.
    const out = new Map<string, Synced>();
    const seen = new Map<string, string>();
    const intern = <T extends string>(s: T): T => {
      const had = seen.get(s);
      if (had !== undefined) return had as T;
      seen.set(s, s);
      return s;
    };
    for (const r of this.#db.prepare("SELECT * FROM entries WHERE space = ?").iterate(space) as IterableIterator<EntryRow>) out.set(r.path, toSynced(r, intern));
    return out;
  }

  /** The synced version of one path, if any. */
  synced(space: SpaceId, path: string): Synced | undefined {
    const r = this.#db.prepare("SELECT * FROM entries WHERE space = ? AND path = ?").get(space, path) as EntryRow | undefined;
    return r ? toSynced(r, (x) => x) : undefined;
  }

  /**
   * Stores synced versions and, in the same transaction, the new applied sequence number, and
   * merges their vectors and `seen` (the vectors of the index entries read up to `pulled`) into
   * the space's vector.
   */
  commit(space: SpaceId, synced: readonly Synced[], pulled?: number, seen: VersionVector = EMPTY): void {
    this.#db.transaction(() => {
      for (const { version, local } of synced) {
        this.#put.run(space, version.path, version.kind, version.deleted ? 1 : 0, version.deleted ? (version.was ?? "") : version.hash, version.size, version.mtimeMs, version.mode, version.replica,
          encode(version.vector), packChunks(version.chunks), local?.size ?? null, local?.mtimeMs ?? null, local?.ino ?? null, pendingCol(version));
      }
      const v = mergeAll([this.vector(space), seen, ...synced.map((s) => s.version.vector)]);
      this.#db.prepare("UPDATE spaces SET vector = ? WHERE id = ?").run(encode(v), space);
      if (pulled !== undefined) this.#db.prepare("UPDATE spaces SET pulled = MAX(pulled, ?) WHERE id = ?").run(pulled, space);
    })();
  }

  /** The merge of every vector this device has taken in for the space (see the header). */
  vector(space: SpaceId): VersionVector {
    const r = this.#db.prepare("SELECT vector FROM spaces WHERE id = ?").get(space) as { vector: Buffer | null } | undefined;
    if (r?.vector) return decode(r.vector);
    const rows = this.#db.prepare("SELECT vector FROM entries WHERE space = ?").all(space) as Array<{ vector: Buffer }>;
    return mergeAll(rows.map((r) => decode(r.vector)));
  }

  conflicts(space?: SpaceId): ConflictRecord[] {
    const rows = (space
      ? this.#db.prepare("SELECT * FROM conflicts WHERE space = ? ORDER BY path, copy").all(space)
      : this.#db.prepare("SELECT * FROM conflicts ORDER BY space, path, copy").all()) as Array<{ space: SpaceId; path: string; copy: string; replica: ReplicaId; created: number; local_at: "path" | "copy" }>;
    return rows.map((r) => ({ space: r.space, path: r.path, copy: r.copy, replica: r.replica, createdMs: r.created, localAt: r.local_at }));
  }

  addConflict(c: ConflictRecord): void {
    this.#db
      .prepare("INSERT OR REPLACE INTO conflicts (space, path, copy, replica, created, local_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(c.space, c.path, c.copy, c.replica, c.createdMs, c.localAt);
  }

  removeConflict(space: SpaceId, copy: string): void {
    this.#db.prepare("DELETE FROM conflicts WHERE space = ? AND copy = ?").run(space, copy);
  }

  /**
   * Remote versions read but not written yet, each with why: a local path spelt otherwise
   * occupies their place (a case-insensitive disk), or the schedule (schedule.json) defers the
   * download, until `untilMs` (undefined: not by time, e.g. metered). Each sync tries them again,
   * since the index position has moved past them, until written or superseded. `setWaiting`
   * replaces the space's set.
   */
  waiting(space: SpaceId): Waiting[] {
    const intern = <T extends string>(s: T): T => s;
    const rows = this.#db.prepare("SELECT * FROM waiting WHERE space = ? ORDER BY path").all(space) as Array<EntryRow & { reason: string | null; until_ms: number | null }>;
    return rows.map((r) => ({ version: toSynced(r, intern).version, ...(r.reason !== null ? { reason: r.reason } : {}), ...(r.until_ms !== null ? { untilMs: r.until_ms } : {}) }));
  }

  setWaiting(space: SpaceId, rows: readonly Waiting[]): void {
    const put = this.#db.prepare(
      `INSERT OR REPLACE INTO waiting (space, path, kind, deleted, hash, size, mtime, mode, replica, vector, chunks, reason, until_ms, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM waiting WHERE space = ?").run(space);
      for (const { version: v, reason, untilMs } of rows) {
        put.run(space, v.path, v.kind, v.deleted ? 1 : 0, v.deleted ? (v.was ?? "") : v.hash, v.size, v.mtimeMs, v.mode, v.replica, encode(v.vector), packChunks(v.chunks), reason ?? null, untilMs ?? null, pendingCol(v));
      }
    })();
  }

  /**
   * Remote paths this device refused (an index entry breaking the path rules, XEP-draft.md
   * § 5.4), with the reason: kept so that `status` goes on reporting them after the sync that
   * read them. Such a path can never become valid, so they stay until the space is left.
   */
  refused(space: SpaceId): Array<{ path: string; reason: string }> {
    return this.#db.prepare("SELECT path, reason FROM refused WHERE space = ? ORDER BY path").all(space) as Array<{ path: string; reason: string }>;
  }

  addRefused(space: SpaceId, paths: ReadonlyArray<{ path: string; reason: string }>): void {
    const put = this.#db.prepare("INSERT OR REPLACE INTO refused (space, path, reason) VALUES (?, ?, ?)");
    this.#db.transaction(() => {
      for (const r of paths) put.run(space, r.path, r.reason);
    })();
  }

  /**
   * Large transfers of the space that stopped before the end (see `PartialTransfer`). Each row is
   * written in one transaction; the files it names are checked by hash when read back.
   */
  partials(space: SpaceId): PartialTransfer[] {
    const rows = this.#db.prepare("SELECT * FROM partials WHERE space = ? ORDER BY path, direction").all(space) as Array<{ path: string; direction: "up" | "down"; hash: string; size: number; temps: string; bytes: number; reason: string | null; updated: number }>;
    return rows.map((r) => ({ path: r.path, direction: r.direction, hash: r.hash, size: r.size, temps: JSON.parse(r.temps) as string[], bytes: r.bytes, updatedMs: r.updated, ...(r.reason !== null ? { reason: r.reason } : {}) }));
  }

  putPartial(space: SpaceId, p: PartialTransfer): void {
    this.#db
      .prepare("INSERT OR REPLACE INTO partials (space, path, direction, hash, size, temps, bytes, reason, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(space, p.path, p.direction, p.hash, p.size, JSON.stringify(p.temps), p.bytes, p.reason ?? null, p.updatedMs);
  }

  removePartial(space: SpaceId, path: string, direction: "up" | "down"): void {
    this.#db.prepare("DELETE FROM partials WHERE space = ? AND path = ? AND direction = ?").run(space, path, direction);
  }
}
