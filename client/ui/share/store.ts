/**
 * What the share module remembers across restarts, in a SQLite file of its own in the state
 * directory (`share-ui.sqlite`; the engine's state.sqlite is not touched):
 *
 * - `changes`: per space and path, the sequence number of the latest remote change this device
 *   received there (gleam.ts reads these); the device's own changes are never written here.
 * - `seen`: per space and folder, up to which sequence number the user has seen it; `tracked`:
 *   per space, the baseline (the sequence number when the UI started following it).
 * - `history`: the versions of each file as this device saw them (found at the start, received,
 *   or sent), with the member who made each one as far as this device knew then; at most
 *   HISTORY_PER_FILE per file, the oldest dropped.
 * - `replicas`: which member each replica (device) belongs to, as this device learned it (an
 *   SNM's sender, the sharing manager's list of peers online); the index itself names none.
 *
 * One counter (`meta.seq`) orders changes and openings; it only grows.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Change } from "./gleam.ts";

export const HISTORY_PER_FILE = 20;

export interface HistoryRow {
  readonly path: string;
  /** Content id ("" for a deletion). */
  readonly hash: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly deleted: boolean;
  readonly replica: string;
  /** The member who made it, if this device knew the replica then. */
  readonly author?: string;
  /** When this device recorded it. */
  readonly atMs: number;
  /** found: there when the UI started following the space; received: a remote change; sent: this device's. */
  readonly how: "found" | "received" | "sent";
  /** The version's identity (content, vector), to tell a new version from one recorded. */
  readonly key: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tracked (space TEXT PRIMARY KEY, baseline INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changes (space TEXT NOT NULL, path TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (space, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (space TEXT NOT NULL, folder TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (space, folder)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
  space TEXT NOT NULL, path TEXT NOT NULL, n INTEGER NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,
  mtime INTEGER NOT NULL, deleted INTEGER NOT NULL, replica TEXT NOT NULL, author TEXT, at_ms INTEGER NOT NULL,
  how TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (space, path, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replicas (replica TEXT PRIMARY KEY, jid TEXT NOT NULL) WITHOUT ROWID;
`;

interface HistoryDbRow {
  path: string;
  n: number;
  hash: string;
  size: number;
  mtime: number;
  deleted: number;
  replica: string;
  author: string | null;
  at_ms: number;
  how: HistoryRow["how"];
  key: string;
}

const toRow = (r: HistoryDbRow): HistoryRow => ({
  path: r.path, hash: r.hash, size: r.size, mtimeMs: r.mtime, deleted: r.deleted === 1, replica: r.replica,
  ...(r.author ? { author: r.author } : {}), atMs: r.at_ms, how: r.how, key: r.key,
});

export class ShareStore {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Opens (or creates) the store; `:memory:` for tests. */
  static open(file: string): ShareStore {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec(SCHEMA);
    return new ShareStore(db);
  }

  close(): void {
    this.#db.close();
  }

  /** The last sequence number handed out. */
  seq(): number {
    return (this.#db.prepare("SELECT v FROM meta WHERE k = 'seq'").get() as { v: number } | undefined)?.v ?? 0;
  }

  /** A new sequence number. */
  next(): number {
    const n = this.seq() + 1;
    this.#db.prepare("INSERT INTO meta (k, v) VALUES ('seq', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v").run(n);
    return n;
  }

  /** The space's baseline, or undefined if the UI does not follow it yet. */
  baseline(space: string): number | undefined {
    return (this.#db.prepare("SELECT baseline FROM tracked WHERE space = ?").get(space) as { baseline: number } | undefined)?.baseline;
  }

  track(space: string, baseline: number): void {
    this.#db.prepare("INSERT OR IGNORE INTO tracked (space, baseline) VALUES (?, ?)").run(space, baseline);
  }

  changes(space: string): Change[] {
    return this.#db.prepare("SELECT path, seq FROM changes WHERE space = ?").all(space) as Change[];
  }

  addChange(space: string, path: string, seq: number): void {
    this.#db.prepare("INSERT OR REPLACE INTO changes (space, path, seq) VALUES (?, ?, ?)").run(space, path, seq);
  }

  /** Per folder, up to which sequence number it was seen; unlisted folders: the baseline. */
  seen(space: string): (folder: string) => number {
    const rows = this.#db.prepare("SELECT folder, seq FROM seen WHERE space = ?").all(space) as Array<{ folder: string; seq: number }>;
    const map = new Map(rows.map((r) => [r.folder, r.seq]));
    const base = this.baseline(space) ?? 0;
    return (f) => Math.max(map.get(f) ?? base, base);
  }

  setSeen(space: string, folders: ReadonlyMap<string, number>): void {
    const put = this.#db.prepare("INSERT OR REPLACE INTO seen (space, folder, seq) VALUES (?, ?, ?)");
    this.#db.transaction(() => {
      for (const [f, seq] of folders) put.run(space, f, seq);
    })();
  }

  /** The file's versions as recorded, newest first. */
  history(space: string, path: string): HistoryRow[] {
    return (this.#db.prepare("SELECT * FROM history WHERE space = ? AND path = ? ORDER BY n DESC").all(space, path) as HistoryDbRow[]).map(toRow);
  }

  /** Per path, the identity of the newest version recorded. */
  latestKeys(space: string): Map<string, string> {
    const rows = this.#db.prepare("SELECT path, key FROM history h WHERE space = ? AND n = (SELECT MAX(n) FROM history WHERE space = h.space AND path = h.path)").all(space) as Array<{ path: string; key: string }>;
    return new Map(rows.map((r) => [r.path, r.key]));
  }

  /** Records versions (one transaction), keeping at most HISTORY_PER_FILE per file. */
  addHistory(space: string, rows: readonly HistoryRow[]): void {
    const top = this.#db.prepare("SELECT MAX(n) AS n FROM history WHERE space = ? AND path = ?");
    const put = this.#db.prepare("INSERT INTO history (space, path, n, hash, size, mtime, deleted, replica, author, at_ms, how, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    const trim = this.#db.prepare("DELETE FROM history WHERE space = ? AND path = ? AND n <= ?");
    this.#db.transaction(() => {
      for (const r of rows) {
        const n = ((top.get(space, r.path) as { n: number | null }).n ?? 0) + 1;
        put.run(space, r.path, n, r.hash, r.size, r.mtimeMs, r.deleted ? 1 : 0, r.replica, r.author ?? null, r.atMs, r.how, r.key);
        trim.run(space, r.path, n - HISTORY_PER_FILE);
      }
    })();
  }

  /** The member a replica belongs to, as last learned. */
  member(replica: string): string | undefined {
    return (this.#db.prepare("SELECT jid FROM replicas WHERE replica = ?").get(replica) as { jid: string } | undefined)?.jid;
  }

  setMember(replica: string, jid: string): void {
    this.#db.prepare("INSERT INTO replicas (replica, jid) VALUES (?, ?) ON CONFLICT(replica) DO UPDATE SET jid = excluded.jid").run(replica, jid);
  }

  /** Forgets a space the user left. */
  forget(space: string): void {
    this.#db.transaction(() => {
      for (const t of ["tracked", "changes", "seen", "history"]) this.#db.prepare(`DELETE FROM ${t} WHERE space = ?`).run(space);
    })();
  }
}
