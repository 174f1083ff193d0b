/**
 * PackBlobStore's index (its own SQLite database): hash → (pack, position, size), and per pack
 * the committed and synced lengths and live/dead bytes. Plain synchronous calls, each one
 * statement or one transaction; `durably` runs a transaction with synchronous=FULL.
 *
 * The database is private to the store: it is opened with locking_mode=EXCLUSIVE, so that
 * SQLite keeps the WAL index in memory and takes its file locks once, instead of a round of
 * fcntl() calls (and a shared-memory read mark) for every statement. WAL, its crash recovery
 * and the synchronous settings work as before; another process cannot open the file while
 * the store is open. Lookups of many hashes (`locateMany`, `sizesMany`) run in one read
 * transaction and answer exactly as the same number of `locate`/`size` calls would.
 *
 * Appended rows (`append`, the hot path: one call per writer turn of a couple of MiB) are held
 * in memory and written by the next transaction of any kind: `durably` (the store's `sync`,
 * i.e. before any of them is acknowledged), `setSynced` (the write-behind, every few tens of
 * MiB), any other change, or once PENDING_ROWS are held. Lookups see them at once. So a batch
 * upload costs one index commit per sync instead of one per writer turn, and a process crash
 * (not only a power loss, see pack-blobs.ts) may lose rows that nobody was told are durable:
 * the pack's committed length goes with them, so their bytes are cut off at the next open.
 */
import Database from "better-sqlite3";
import { ShareError } from "../../protocol/errors.ts";
import type { ChunkHash } from "../../protocol/ids.ts";

/** Append-only, as in SqliteMetadataStore: PRAGMA user_version counts the ones applied. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE packs (id INTEGER PRIMARY KEY, committed INTEGER NOT NULL, synced INTEGER NOT NULL,
     live INTEGER NOT NULL, dead INTEGER NOT NULL);
   CREATE TABLE chunks (hash TEXT PRIMARY KEY, pack INTEGER NOT NULL, pos INTEGER NOT NULL,
     size INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX chunks_pack ON chunks(pack, pos);`,
  // 2: the hash as its 32 raw bytes, not 64 hex digits: rows and keys half as long, so fewer
  // pages (and WAL frames) per insert and cheaper comparisons. Lowercase hex sorts like the
  // bytes it spells, so the copy goes in key order. (chunks_pack goes with the old table.)
  `CREATE TABLE chunks2 (hash BLOB PRIMARY KEY, pack INTEGER NOT NULL, pos INTEGER NOT NULL,
     size INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO chunks2 SELECT unhex(hash), pack, pos, size FROM chunks ORDER BY hash;
   DROP TABLE chunks;
   ALTER TABLE chunks2 RENAME TO chunks;
   CREATE INDEX chunks_pack ON chunks(pack, pos);`,
];

/** At most this many appended rows wait in memory for the next transaction. */
const PENDING_ROWS = 4096;

/** A hash as the index stores it (its 32 raw bytes; see migration 2). */
const key = (hash: string): Buffer => Buffer.from(hash, "hex");

export interface Loc {
  readonly pack: number;
  readonly pos: number;
  readonly size: number;
}

export interface PackRow {
  readonly id: number;
  readonly committed: number;
  readonly synced: number;
  readonly live: number;
  readonly dead: number;
}

/** The index database: plain synchronous calls, each a statement or one transaction. */
export class PackIndex {
  readonly #db: Database.Database;
  readonly #q;
  /** Rows appended but not yet in the database, by hash (see the header). */
  #pending = new Map<string, Loc>();
  /** Per pack with pending rows: its committed length and the live bytes those rows add. */
  #pendingPacks = new Map<number, { committed: number; live: number }>();

  constructor(file: string) {
    const db = new Database(file);
    this.#db = db;
    // Before anything touches the WAL: then no shared-memory wal-index is ever created.
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const at = db.pragma("user_version", { simple: true }) as number;
    if (at > MIGRATIONS.length) throw new ShareError("internal", { text: `Pack index schema ${at} is newer than this program's` });
    for (let i = at; i < MIGRATIONS.length; i++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[i]!);
        db.pragma(`user_version = ${i + 1}`);
      }).immediate();
    }
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      locate: p("SELECT pack, pos, size FROM chunks WHERE hash = ?"),
      size: p("SELECT size FROM chunks WHERE hash = ?").pluck(),
      insert: p("INSERT INTO chunks (hash, pack, pos, size) VALUES (?, ?, ?, ?)"),
      remove: p("DELETE FROM chunks WHERE hash = ?"),
      move: p("UPDATE chunks SET pack = ?, pos = ? WHERE hash = ? AND pack = ? AND pos = ?"),
      rowsFrom: p("SELECT hash, pos, size FROM chunks WHERE pack = ? AND pos + size > ? ORDER BY pos"),
      dropBeyond: p("DELETE FROM chunks WHERE pack = ? AND pos + size > ?"),
      liveOf: p("SELECT coalesce(sum(size), 0) FROM chunks WHERE pack = ?").pluck(),
      countIn: p("SELECT count(*) FROM chunks WHERE pack = ?").pluck(),
      packs: p("SELECT id, committed, synced, live, dead FROM packs ORDER BY id"),
      hashes: p("SELECT hash FROM chunks").pluck(),
      addPack: p("INSERT INTO packs (id, committed, synced, live, dead) VALUES (?, 0, 0, 0, 0)"),
      setPack: p("UPDATE packs SET committed = ?, synced = ?, live = ?, dead = ? WHERE id = ?"),
      grow: p("UPDATE packs SET committed = ?, live = live + ?, dead = dead + ? WHERE id = ?"),
      adjust: p("UPDATE packs SET live = live + ?, dead = dead + ? WHERE id = ?"),
      synced: p("UPDATE packs SET synced = max(synced, ?) WHERE id = ?"),
      dropPack: p("DELETE FROM packs WHERE id = ?"),
      compactable: p("SELECT id, committed, synced, live, dead FROM packs WHERE id <> ? AND dead * 2 > committed ORDER BY id"),
    };
  }

  locate(hash: string): Loc | undefined {
    return this.#pending.get(hash) ?? (this.#q.locate.get(key(hash)) as Loc | undefined);
  }
  size(hash: string): number | undefined {
    const p = this.#pending.get(hash);
    return p ? p.size : (this.#q.size.get(key(hash)) as number | undefined);
  }
  /** `locate` of each hash (in one read transaction); absent ones are missing from the map. */
  locateMany(hashes: Iterable<string>): Map<string, Loc> {
    const out = new Map<string, Loc>();
    this.#read(() => {
      for (const h of hashes) {
        if (out.has(h)) continue;
        const loc = this.#pending.get(h) ?? (this.#q.locate.get(key(h)) as Loc | undefined);
        if (loc) out.set(h, loc);
      }
    });
    return out;
  }
  /** `size` of each hash, in order (in one read transaction). */
  sizesMany(hashes: readonly string[]): (number | undefined)[] {
    return this.#read(() => hashes.map((h) => this.size(h)));
  }
  /** Every indexed hash, lazily (no write may run on this connection until it is done). */
  *hashes(): Generator<ChunkHash> {
    this.flush();
    for (const h of this.#q.hashes.iterate() as Iterable<Buffer>) yield h.toString("hex") as ChunkHash;
  }
  packs(): PackRow[] {
    this.flush();
    return this.#q.packs.all() as PackRow[];
  }
  compactable(current: number): PackRow[] {
    this.flush();
    return this.#q.compactable.all(current) as PackRow[];
  }
  rowsFrom(pack: number, pos: number): { hash: ChunkHash; pos: number; size: number }[] {
    this.flush();
    const rows = this.#q.rowsFrom.all(pack, pos) as { hash: Buffer; pos: number; size: number }[];
    return rows.map((r) => ({ hash: r.hash.toString("hex") as ChunkHash, pos: r.pos, size: r.size }));
  }
  addPack(id: number): void {
    this.#tx(() => this.#q.addPack.run(id));
  }

  /**
   * New chunks at the end of `pack`, which now ends at `committed`: held in memory (see the
   * header) until the next write to the database; never the same hash twice (the caller looks
   * it up first). When too many are held, those go to the database first: if that fails,
   * nothing changed.
   */
  append(pack: number, committed: number, rows: readonly { hash: string; pos: number; size: number }[]): void {
    if (this.#pending.size >= PENDING_ROWS) this.flush();
    let grown = this.#pendingPacks.get(pack);
    if (!grown) this.#pendingPacks.set(pack, (grown = { committed, live: 0 }));
    grown.committed = committed;
    for (const r of rows) {
      this.#pending.set(r.hash, { pack, pos: r.pos, size: r.size });
      grown.live += r.size;
    }
  }

  /** Writes the rows held in memory (one transaction, synchronous=NORMAL). */
  flush(): void {
    if (this.#pending.size > 0 || this.#pendingPacks.size > 0) this.#tx(() => undefined);
  }

  /** Bytes appended to `pack` that no row claims yet (compaction copies). */
  appendDead(pack: number, committed: number, bytes: number): void {
    this.#tx(() => this.#q.grow.run(committed, 0, bytes, pack));
  }

  /** Drops a row; its bytes turn dead. Returns where it was. */
  remove(hash: string): Loc | undefined {
    return this.#tx(() => {
      const loc = this.locate(hash);
      if (!loc) return undefined;
      this.#q.remove.run(key(hash));
      this.#q.adjust.run(-loc.size, loc.size, loc.pack);
      return loc;
    });
  }

  setSynced(pack: number, synced: number): void {
    this.#tx(() => this.#q.synced.run(synced, pack));
  }

  /** Re-derives a pack's counters after rows were dropped by recovery. */
  resetPack(pack: number, committed: number, synced: number): void {
    this.#tx(() => {
      this.#q.dropBeyond.run(pack, committed);
      const live = this.#q.liveOf.get(pack) as number;
      this.#q.setPack.run(committed, Math.min(synced, committed), live, committed - live, pack);
    });
  }

  /** Drops rows found corrupt by recovery. */
  dropRows(pack: number, hashes: readonly string[]): void {
    this.#tx(() => {
      for (const h of hashes) {
        const loc = this.locate(h);
        if (loc?.pack !== pack) continue;
        this.#q.remove.run(key(h));
        this.#q.adjust.run(-loc.size, loc.size, pack);
      }
    });
  }

  /**
   * Compaction's switch-over, durably: moves each row still at its old place to its copy
   * (the copy's bytes turn live), and forgets the old pack if nothing points into it any more.
   * Returns the bytes that moved and whether the old pack may be unlinked.
   */
  switchOver(
    old: number,
    moves: readonly { hash: string; from: number; pack: number; pos: number; size: number }[],
    synced: ReadonlyMap<number, number>,
  ): { moved: number; unlink: boolean } {
    return this.durably(() => {
      let moved = 0;
      for (const m of moves) {
        if (this.#q.move.run(m.pack, m.pos, key(m.hash), old, m.from).changes === 0) continue; // deleted meanwhile
        this.#q.adjust.run(m.size, -m.size, m.pack);
        moved += m.size;
      }
      for (const [pack, len] of synced) this.#q.synced.run(len, pack);
      const unlink = (this.#q.countIn.get(old) as number) === 0;
      if (unlink) this.#q.dropPack.run(old);
      return { moved, unlink };
    });
  }

  /** Runs `fn` in a transaction committed with synchronous=FULL: it and every earlier one are durable. */
  durably<T>(fn: () => T): T {
    this.#db.pragma("synchronous = FULL");
    try {
      return this.#tx(fn);
    } finally {
      this.#db.pragma("synchronous = NORMAL");
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /**
   * Runs `fn` in a write transaction that first writes the rows held in memory (held again
   * if it fails). Nested in another transaction, `fn` just runs: the outer one wrote them.
   */
  #tx<T>(fn: () => T): T {
    if (this.#db.inTransaction) return fn();
    const rows = this.#pending;
    const packs = this.#pendingPacks;
    if (rows.size === 0 && packs.size === 0) return this.#db.transaction(fn).immediate();
    // Lookups inside `fn` find them in the database from here on.
    this.#pending = new Map();
    this.#pendingPacks = new Map();
    try {
      return this.#db.transaction(() => {
        for (const [hash, loc] of rows) this.#q.insert.run(key(hash), loc.pack, loc.pos, loc.size);
        for (const [pack, g] of packs) this.#q.grow.run(g.committed, g.live, 0, pack);
        return fn();
      }).immediate();
    } catch (err) {
      this.#pending = rows;
      this.#pendingPacks = packs;
      throw err;
    }
  }

  /** `fn`'s reads see one snapshot (a deferred transaction; nested in another, just runs). */
  #read<T>(fn: () => T): T {
    return this.#db.inTransaction ? fn() : this.#db.transaction(fn).deferred();
  }
}

