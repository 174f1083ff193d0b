/** The sync planner: one table row per situation a path can be in. */
import { describe, expect, it } from "vitest";
import { plan, type OnDisk } from "../../client/engine/plan.ts";
import type { Synced } from "../../client/state.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ChunkHash, ReplicaId } from "../../protocol/ids.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { EMPTY, bump, compare, fromEntries, merge } from "../../protocol/vv.ts";

const me = "me" as ReplicaId;
const them = "them" as ReplicaId;
const h = (c: string) => c.repeat(64) as ChunkHash;
const NOW = 5_000;

const v0: FileVersion = { path: "a.txt", kind: "file", vector: fromEntries([[me, 1000]]), hash: h("a"), size: 3, mtimeMs: 1000, mode: 0o644, deleted: false, replica: me, chunks: [{ hash: h("a"), size: 3 }] };
const synced: Synced = { version: v0, local: { size: 3, mtimeMs: 1000, ino: 7 } };
const same: OnDisk = { path: "a.txt", kind: "file", size: 3, mtimeMs: 1000, ino: 7, mode: 0o644, hash: h("a"), chunks: v0.chunks, changed: false };
const edited: OnDisk = { ...same, size: 4, mtimeMs: 2000, hash: h("b"), chunks: [{ hash: h("b"), size: 4 }], changed: true };
const remoteEdit: IndexEntry = { ...v0, vector: bump(v0.vector, them, 3000), hash: h("c"), size: 5, mtimeMs: 3000, replica: them, chunks: [{ hash: h("c"), size: 5 }], seq: 9 };
const remoteDelete: IndexEntry = { ...v0, vector: bump(v0.vector, them, 3000), hash: "", size: 0, deleted: true, chunks: [], replica: them, mtimeMs: 3000, seq: 9 };

function run(o: { s?: Synced; d?: OnDisk; r?: IndexEntry; readOnly?: boolean }) {
  return plan({
    synced: new Map(o.s ? [["a.txt", o.s]] : []),
    disk: new Map(o.d ? [["a.txt", o.d]] : []),
    remote: new Map(o.r ? [["a.txt", o.r]] : []),
    replica: me,
    nowMs: NOW,
    readOnly: o.readOnly ?? false,
  });
}

describe("plan", () => {
  it("nothing changed: nothing to do", () => {
    expect(run({ s: synced, d: same })).toEqual([]);
    expect(run({ s: synced, d: same, r: { ...v0, seq: 3 } })).toEqual([]);
  });

  it("a remote version older than the synced one is ignored", () => {
    const newer: Synced = { ...synced, version: { ...v0, vector: bump(v0.vector, me, 4000) } };
    expect(run({ s: newer, d: same, r: { ...v0, seq: 3 } })).toEqual([]);
  });

  it("local edit only: push with a bumped vector based on the synced one", () => {
    const [a] = run({ s: synced, d: edited });
    expect(a).toMatchObject({ type: "push", base: v0.vector, version: { hash: h("b"), size: 4, deleted: false, replica: me } });
    expect(a?.type === "push" && compare(a.version.vector, v0.vector)).toBe("greater");
  });

  it("new local file: push based on the empty vector", () => {
    expect(run({ d: edited })[0]).toMatchObject({ type: "push", base: EMPTY });
  });

  it("local delete: push a tombstone that names the content it deleted (was)", () => {
    expect(run({ s: synced })[0]).toMatchObject({ type: "push", version: { deleted: true, size: 0, hash: "", was: h("a") } });
    // A folder, or a path already deleted, has no content to name.
    const dir: Synced = { version: { ...v0, kind: "dir", hash: "", size: 0, chunks: [] } };
    const [a] = run({ s: dir });
    expect(a?.type === "push" && a.version.deleted && a.version.was).toBe(undefined);
  });

  it("no record of the path (a lost database): a remote deletion of exactly these bytes deletes them", () => {
    // The bytes on disk are the ones the deletion names: the deletion applies, nothing is kept.
    expect(run({ d: same, r: { ...remoteDelete, was: h("a") } })).toEqual([{ type: "apply", path: "a.txt", remote: { ...remoteDelete, was: h("a") }, disk: same }]);
    // Other bytes, or a deletion that does not say what it deleted: an edit beats a deletion.
    for (const r of [{ ...remoteDelete, was: h("z") }, remoteDelete]) {
      expect(run({ d: same, r })[0]).toMatchObject({ type: "conflict", keep: "local" });
    }
    // With a record, a changed file is an edit whatever the deletion names.
    expect(run({ s: synced, d: edited, r: { ...remoteDelete, was: h("b") } })[0]).toMatchObject({ type: "conflict", keep: "local" });
    // An empty folder with no record, deleted remotely: the deletion applies (removed only if still empty).
    const dirDisk: OnDisk = { ...same, kind: "dir", size: 0, hash: "", chunks: [] };
    const dirDelete: IndexEntry = { ...remoteDelete, kind: "dir" };
    expect(run({ d: dirDisk, r: dirDelete })[0]).toMatchObject({ type: "apply" });
  });

  it("touched but same content: remember the new stat only", () => {
    expect(run({ s: synced, d: { ...same, mtimeMs: 9999, changed: true } })[0]).toMatchObject({ type: "restat" });
  });

  it("executable bit flipped: push", () => {
    expect(run({ s: synced, d: { ...same, mode: 0o755, changed: true } })[0]).toMatchObject({ type: "push", version: { mode: 0o755 } });
  });

  it("remote change only: apply it (edit, deletion, new path)", () => {
    expect(run({ s: synced, d: same, r: remoteEdit })[0]).toMatchObject({ type: "apply", remote: remoteEdit, disk: same });
    expect(run({ s: synced, d: same, r: remoteDelete })[0]).toMatchObject({ type: "apply", remote: remoteDelete });
    expect(run({ r: remoteEdit })[0]).toMatchObject({ type: "apply", remote: remoteEdit });
  });

  it("both deleted, or both wrote the same bytes: adopt without moving anything", () => {
    expect(run({ s: synced, r: remoteDelete })[0]).toMatchObject({ type: "adopt" });
    expect(run({ s: synced, d: { ...edited, hash: h("c") }, r: remoteEdit })[0]).toMatchObject({ type: "adopt" });
    expect(run({ r: { ...remoteEdit, hash: h("b") }, d: edited })[0]).toMatchObject({ type: "adopt" });
  });

  it("both edited: the later edit wins; the other is kept as a copy", () => {
    const [a] = run({ s: synced, d: edited, r: remoteEdit });
    expect(a).toMatchObject({ type: "conflict", keep: "remote", copy: "a.sync-conflict-19700101-000002-me.txt", pushCopy: true });
    const later: OnDisk = { ...edited, mtimeMs: 4000 };
    const [b] = run({ s: synced, d: later, r: remoteEdit });
    expect(b).toMatchObject({ type: "conflict", keep: "local", copy: "a.sync-conflict-19700101-000003-them.txt" });
    // The version local pushes dominates both sides.
    if (b?.type !== "conflict") throw new Error();
    expect(compare(b.local.vector, merge(v0.vector, remoteEdit.vector))).toBe("greater");
  });

  it("an edit beats a deletion, on either side, and needs no copy", () => {
    expect(run({ s: synced, r: remoteEdit })[0]).toMatchObject({ type: "conflict", keep: "remote", copy: undefined });
    expect(run({ s: synced, d: edited, r: remoteDelete })[0]).toMatchObject({ type: "conflict", keep: "local", copy: undefined });
  });

  it("read-only space: local changes are reported, never pushed; remote wins", () => {
    expect(run({ s: synced, d: edited, readOnly: true })).toEqual([{ type: "read-only", path: "a.txt" }]);
    const later: OnDisk = { ...edited, mtimeMs: 4000 };
    expect(run({ s: synced, d: later, r: remoteEdit, readOnly: true })[0]).toMatchObject({ type: "conflict", keep: "remote", pushCopy: false });
  });

  it("directories: created, deleted, unchanged", () => {
    const dir: OnDisk = { path: "a.txt", kind: "dir", size: 0, mtimeMs: 1, ino: 3, mode: 0o755, hash: "", chunks: [], changed: true };
    expect(run({ d: dir })[0]).toMatchObject({ type: "push", version: { kind: "dir", hash: "", size: 0, chunks: [] } });
    const sdir: Synced = { version: { ...v0, kind: "dir", hash: "", size: 0, chunks: [] }, local: { size: 0, mtimeMs: 1, ino: 3 } };
    expect(run({ s: sdir, d: { ...dir, mtimeMs: 99 } })).toEqual([]);
  });
});
