/**
 * Runs the MetadataStore contract against every implementation, plus what only a file-backed
 * SQLite store can show: durability across reopen, its pragmas, and migrations run once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BareJid, ChunkHash, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { encode, fromEntries } from "../../protocol/vv.ts";
import { packChunks } from "../../protocol/chunk-list.ts";
import { MemoryMetadataStore } from "../../component/store/memory-metadata.ts";
import { foldKey } from "../../protocol/paths.ts";
import { MIGRATIONS, SCHEMA_VERSION, SqliteMetadataStore } from "../../component/store/sqlite-metadata.ts";
import { runPendingContract } from "./metadata-pending.contract.ts";
import { runMetadataStoreContract } from "./metadata-store.contract.ts";

runMetadataStoreContract("memory", () => new MemoryMetadataStore());
runMetadataStoreContract("sqlite :memory:", () => SqliteMetadataStore.open(":memory:"));
runPendingContract("memory", () => new MemoryMetadataStore());
runPendingContract("sqlite :memory:", () => SqliteMetadataStore.open(":memory:"));

describe("SqliteMetadataStore on a file", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "xshare-meta-"));
    file = path.join(dir, "meta.sqlite");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const alice = "alice@example.org" as BareJid;
  const space = "s1" as SpaceId;
  const hash = "ab".repeat(32) as ChunkHash;
  const version = {
    path: "photos/a.jpg",
    kind: "file" as const,
    vector: fromEntries([["r1", 5]]),
    hash: "cd".repeat(32),
    size: 7,
    mtimeMs: 1_700_000_000_000,
    mode: 0o644,
    deleted: false,
    replica: "r1" as ReplicaId,
    chunks: [{ hash, size: 7 }],
  };

  it("keeps everything across close and reopen", async () => {
    const a = SqliteMetadataStore.open(file);
    await a.putGroup({ id: "g1" as never, name: "G", owner: alice, members: [alice], createdMs: 1, changedMs: 2 });
    await a.createSpace({ id: space, kind: "mine", name: "Mine", owner: alice, members: [alice], createdMs: 1, changedMs: 2 });
    await a.addChunks([{ hash, size: 7 }], alice, 1000);
    await a.commit(space, [version], () => {});
    await a.ack(space, alice, "r1" as ReplicaId, 1);
    await a.putSnm({ member: alice, space, snm: { space, replica: "r2" as ReplicaId, vector: fromEntries([["r2", 9]]) }, nowMs: 50 });
    await a.close();

    const b = SqliteMetadataStore.open(file);
    expect((await b.getGroup("g1" as never))?.members).toEqual([alice]);
    expect(await b.getSpace(space)).toMatchObject({ head: 1, usedBytes: 7, members: [alice] });
    expect(await b.getEntry(space, version.path)).toEqual({ ...version, seq: 1 });
    expect(await b.acks(space)).toEqual([{ member: alice, replica: "r1", seq: 1 }]);
    expect(await b.hasChunks([hash])).toEqual(new Set([hash]));
    expect(await b.uploadedBytes(alice)).toBe(7);
    // An SNM kept for an offline member survives a restart (XEP-draft.md § 5.13).
    expect(await b.snmsFor(alice)).toEqual([{ snm: { space, replica: "r2", vector: fromEntries([["r2", 9]]) }, storedMs: 50 }]);
    await b.close();
  });

  it("keeps an orphan row only while no path of the space references the chunk", async () => {
    const s = SqliteMetadataStore.open(file);
    await s.createSpace({ id: space, kind: "mine", name: "Mine", owner: alice, members: [alice], createdMs: 1, changedMs: 2 });
    const other = "ef".repeat(32) as ChunkHash;
    await s.addChunks([{ hash, size: 7 }, { hash: other, size: 3 }], alice, 1000);
    const at = (path: string, chunks: Array<{ hash: ChunkHash; size: number }>) => ({ ...version, path, chunks, size: chunks.reduce((n, c) => n + c.size, 0) });
    const gone = (path: string) => ({ ...version, path, chunks: [], size: 0, deleted: true, hash: "" });
    await s.commit(space, [at("a", [{ hash, size: 7 }]), at("b", [{ hash: other, size: 3 }])], () => {});
    await s.commit(space, [gone("a"), gone("b")], () => {}); // both orphaned at seq 3
    await s.commit(space, [at("c", [{ hash, size: 7 }])], () => {}); // one referenced again
    await s.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT hash, seq FROM orphans ORDER BY hash").all()).toEqual([{ hash: other, seq: 4 }]);
    check.close();
  });

  it("runs in WAL mode with synchronous=FULL and foreign keys on", async () => {
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("journal_mode")).toBe("wal");
    expect(s.pragma("synchronous")).toBe(2);
    expect(s.pragma("foreign_keys")).toBe(1);
    // addChunks commits with NORMAL (durable with the next commit) and puts FULL back.
    await s.addChunks([{ hash: "ab".repeat(32) as ChunkHash, size: 3 }], alice, 1);
    expect(s.pragma("synchronous")).toBe(2);
    await s.close();
  });

  it("migrates a new database once and leaves an up-to-date one alone", async () => {
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("user_version")).toBe(SCHEMA_VERSION);
    await s.createSpace({ id: space, kind: "mine", name: "Mine", owner: alice, members: [alice], createdMs: 1, changedMs: 2 });
    await s.close();
    // Migrations use plain CREATE TABLE: running one again would throw "already exists".
    const again = SqliteMetadataStore.open(file);
    expect(again.pragma("user_version")).toBe(SCHEMA_VERSION);
    expect(await again.getSpace(space)).toBeDefined();
    await again.close();
  });

  it("migrates a version-1 database: per-uploader byte counts come from the chunks already there", async () => {
    const raw = new Database(file);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma("user_version = 1");
    const add = raw.prepare("INSERT INTO chunks VALUES (?, ?, ?, ?)");
    add.run("01".repeat(32), 100, alice, 1);
    add.run("02".repeat(32), 20, alice, 1);
    add.run("03".repeat(32), 5, "bob@example.org", 1);
    raw.close();
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("user_version")).toBe(SCHEMA_VERSION);
    expect(await s.uploadedBytes(alice)).toBe(120);
    expect(await s.uploadedBytes("bob@example.org" as BareJid)).toBe(5);
    expect(await s.uploadedBytes("carol@example.org" as BareJid)).toBe(0);
    // Kept up to date: a chunk recorded again counts once, a dropped one no more.
    await s.addChunks([{ hash: "01".repeat(32) as ChunkHash, size: 100 }, { hash: "04".repeat(32) as ChunkHash, size: 7 }], alice, 2);
    await s.addChunks([{ hash: "04".repeat(32) as ChunkHash, size: 7 }], "bob@example.org" as BareJid, 3);
    expect(await s.uploadedBytes(alice)).toBe(127);
    expect(await s.uploadedBytes("bob@example.org" as BareJid)).toBe(5);
    expect(await s.dropChunk("02".repeat(32) as ChunkHash, 10)).toBe(true);
    expect(await s.uploadedBytes(alice)).toBe(107);
    await s.close();
  });

  it("migrates a version-8 database: its entries are complete versions, and a pending one can replace them", async () => {
    const raw = new Database(file);
    raw.function("fold_key", { deterministic: true }, (p: unknown) => foldKey(String(p)));
    for (const m of MIGRATIONS.slice(0, 8)) raw.exec(m);
    raw.pragma("user_version = 8");
    const h = "01".repeat(32) as ChunkHash;
    raw.prepare("INSERT INTO spaces VALUES ('s-x', 'pair', 'x', ?, NULL, 1, 1, 1, 5)").run(alice);
    raw.prepare("INSERT INTO space_members VALUES ('s-x', ?, 0)").run(alice);
    raw.prepare("INSERT INTO chunks VALUES (?, 5, ?, 1)").run(h, alice);
    raw.prepare("INSERT INTO chunk_refs VALUES ('s-x', 'a.txt', ?)").run(h);
    raw.prepare("INSERT INTO entries VALUES ('s-x', 'a.txt', 1, 'file', ?, 5, 1, 420, 0, 'r1', ?, ?)").run(h, encode(fromEntries([["r1", 1]])), packChunks([{ hash: h, size: 5 }]));
    raw.close();
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("user_version")).toBe(SCHEMA_VERSION);
    const old = await s.getEntry("s-x" as SpaceId, "a.txt");
    expect(old).toMatchObject({ path: "a.txt", size: 5, chunks: [{ hash: h, size: 5 }] });
    expect(old).not.toHaveProperty("pending");
    const next = { ...old!, vector: fromEntries([["r1", 2]]), hash: "02".repeat(32), chunks: [{ hash: "02".repeat(32) as ChunkHash, size: 5 }], pending: { by: alice } };
    const { seq: _seq, ...version } = next;
    await s.commit("s-x" as SpaceId, [version], () => {});
    expect(await s.getEntry("s-x" as SpaceId, "a.txt")).toEqual({ ...version, seq: 2 });
    // The old chunk stays the space's while the pending version is there.
    expect(await s.usableChunks("s-x" as SpaceId, [h])).toEqual(new Set([h]));
    await s.close();
  });

  it("migrates a version-4 database: each chunk's uploader may name it in any space", async () => {
    const raw = new Database(file);
    for (const m of MIGRATIONS.slice(0, 4)) raw.exec(m);
    raw.pragma("user_version = 4");
    raw.prepare("INSERT INTO spaces VALUES ('s-x', 'pair', 'x', ?, NULL, 1, 1, 0, 0)").run(alice);
    raw.prepare("INSERT INTO chunks VALUES (?, ?, ?, ?)").run("01".repeat(32), 100, alice, 1);
    raw.close();
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("user_version")).toBe(SCHEMA_VERSION);
    const h = "01".repeat(32) as ChunkHash;
    expect(await s.usableChunks("s-x" as SpaceId, [h], alice)).toEqual(new Set([h]));
    expect(await s.usableChunks("s-x" as SpaceId, [h], "bob@example.org" as BareJid)).toEqual(new Set());
    await s.close();
  });

  it("migrates a version-6 database: the first uploader's own upload rows go, every uploader still may use the chunk", async () => {
    const raw = new Database(file);
    raw.function("fold_key", { deterministic: true }, (p: unknown) => foldKey(String(p)));
    for (const m of MIGRATIONS.slice(0, 6)) raw.exec(m);
    raw.pragma("user_version = 6");
    raw.prepare("INSERT INTO spaces VALUES ('s-x', 'pair', 'x', ?, NULL, 1, 1, 0, 0)").run(alice);
    const h = "01".repeat(32) as ChunkHash;
    raw.prepare("INSERT INTO chunks VALUES (?, ?, ?, ?)").run(h, 100, alice, 1);
    const up = raw.prepare("INSERT INTO chunk_uploads VALUES (?, ?)");
    up.run(h, alice);
    up.run(h, "bob@example.org");
    raw.close();
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("user_version")).toBe(SCHEMA_VERSION);
    for (const who of [alice, "bob@example.org"] as BareJid[]) expect(await s.usableChunks("s-x" as SpaceId, [h], who)).toEqual(new Set([h]));
    expect(await s.usableChunks("s-x" as SpaceId, [h], "carol@example.org" as BareJid)).toEqual(new Set());
    // Carol uploads it too: one row for her; Alice uploading it again adds none.
    await s.addChunks([{ hash: h, size: 100 }], "carol@example.org" as BareJid, 2);
    await s.addChunks([{ hash: h, size: 100 }], alice, 3);
    expect(await s.usableChunks("s-x" as SpaceId, [h], "carol@example.org" as BareJid)).toEqual(new Set([h]));
    await s.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT member FROM chunk_uploads ORDER BY member").pluck().all()).toEqual(["bob@example.org", "carol@example.org"]);
    check.close();
  });

  it("migrates a version-2 database: the insert trigger gives way to addChunks' own count", async () => {
    const raw = new Database(file);
    raw.exec(MIGRATIONS[0]!);
    raw.exec(MIGRATIONS[1]!);
    raw.pragma("user_version = 2");
    const add = raw.prepare("INSERT INTO chunks VALUES (?, ?, ?, ?)");
    add.run("01".repeat(32), 100, alice, 1);
    add.run("02".repeat(32), 20, "bob@example.org", 1);
    raw.close();
    const s = SqliteMetadataStore.open(file);
    expect(s.pragma("user_version")).toBe(SCHEMA_VERSION);
    expect(await s.uploadedBytes(alice)).toBe(100);
    // Counted once per chunk inserted: not for one already recorded (by anyone), nor twice in one call.
    const c = (n: string, size: number) => ({ hash: n.repeat(32) as ChunkHash, size });
    await s.addChunks([c("01", 100), c("03", 7), c("03", 7), c("02", 20), c("04", 0)], alice, 2);
    expect(await s.uploadedBytes(alice)).toBe(107);
    expect(await s.uploadedBytes("bob@example.org" as BareJid)).toBe(20);
    await s.addChunks([c("05", 30)], "carol@example.org" as BareJid, 3);
    expect(await s.uploadedBytes("carol@example.org" as BareJid)).toBe(30);
    expect(await s.dropChunk("03".repeat(32) as ChunkHash, 10)).toBe(true);
    expect(await s.uploadedBytes(alice)).toBe(100);
    await s.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").pluck().all()).toEqual(["chunks_changed", "chunks_dropped", "chunks_gone"]);
    // The count is the sum over the rows, as the trigger kept it.
    expect(check.prepare("SELECT uploader, bytes FROM uploader_bytes ORDER BY uploader").all()).toEqual(
      check.prepare("SELECT uploader, sum(size) AS bytes FROM chunks GROUP BY uploader ORDER BY uploader").all(),
    );
    check.close();
  });

  it("keeps presence history across close and reopen, and migrates a version-7 database", async () => {
    const raw = new Database(file);
    raw.function("fold_key", { deterministic: true }, (p: unknown) => foldKey(String(p)));
    for (const m of MIGRATIONS.slice(0, 7)) raw.exec(m);
    raw.pragma("user_version = 7");
    raw.close();
    const a = SqliteMetadataStore.open(file);
    expect(a.pragma("user_version")).toBe(SCHEMA_VERSION);
    await a.markOnline(alice, 480_000, 480_002);
    await a.putPresenceSummary(alice, { lastSeenMs: 1_728_000_000_000, sessionMs: 90_000 });
    await a.close();
    const b = SqliteMetadataStore.open(file);
    expect(await b.onlineHours(alice, 0)).toEqual([480_000, 480_001, 480_002]);
    expect(await b.presenceSummary(alice)).toEqual({ lastSeenMs: 1_728_000_000_000, sessionMs: 90_000 });
    await b.close();
  });

  it("refuses a database written by a newer schema", () => {
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => SqliteMetadataStore.open(file)).toThrow(/newer/);
  });
});
