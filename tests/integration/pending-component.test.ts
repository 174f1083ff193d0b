/**
 * The sharing manager's side of pending versions (XEP-draft.md § 5.16), in process (router +
 * modules + in-memory stores): a version committed before its content is taken without its
 * chunks, stored and served with `by`, counted against the quota, completed by the same
 * version with its content, and never lets the chunks of the version it replaced be collected
 * before it is complete.
 */
import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { collectGarbage, Mutex } from "../../component/modules/gc.ts";
import { type ChunkRef, type FileVersion, contentId } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import * as SL from "../../protocol/stanzas/slots.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import { EMPTY, bump, type VersionVector } from "../../protocol/vv.ts";
import { makeComponent } from "./fixtures/component.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const A = `${alice}/xshare-laptop`;
const B = `${bob}/xshare-phone`;
const laptop = "laptop" as ReplicaId;
const phone = "phone" as ReplicaId;
const sha = (s: string) => createHash("sha256").update(s).digest("hex") as ChunkHash;
const ref = (s: string): ChunkRef => ({ hash: sha(s), size: Buffer.byteLength(s) });

function version(path: string, chunks: ChunkRef[], vector: VersionVector, replica: ReplicaId, pending?: true): FileVersion {
  const size = chunks.reduce((n, c) => n + c.size, 0);
  return { path, kind: "file", vector, hash: contentId(chunks), size, mtimeMs: 1_764_061_200_000, mode: 0o644, deleted: false, replica, chunks, ...(pending ? { pending: {} } : {}) };
}

let c: ReturnType<typeof makeComponent>;
let space: SpaceId;
let v1: FileVersion;
const commit = (from: string, ...changes: I.CommitChange[]) => I.buildCommit({ space, changes });

beforeEach(async () => {
  c = makeComponent();
  space = (await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] }))).id;
  await c.upload("shared part ", alice);
  await c.upload("old ending", alice);
  v1 = version("movie.mov", [ref("shared part "), ref("old ending")], bump(EMPTY, laptop, 1000), laptop);
  await c.ok(A, "set", commit(A, { version: v1, base: EMPTY }));
});

/** Alice's edit of the movie: the shared chunk kept, a new ending she has not uploaded. */
const edit = (pending?: true) => version("movie.mov", [ref("shared part "), ref("new ending!")], bump(v1.vector, laptop, 2000), laptop, pending);

describe("a pending version", () => {
  it("is taken without its chunks, served with by, and counts against the quota", async () => {
    const v2 = edit(true);
    // Without the marker, the same commit is refused: the new ending was never uploaded.
    expect((await c.fails(A, "set", commit(A, { version: edit(), base: v1.vector }))).code).toBe("missing-chunks");
    expect(await c.ok<I.Committed>(A, "set", commit(A, { version: v2, base: v1.vector }))).toEqual({ space, head: 2 });
    const page = await c.ok<I.IndexPage>(B, "get", I.buildIndexQuery({ space, after: 1 }));
    expect(page.entries).toEqual([{ ...v2, pending: { by: alice }, seq: 2 }]);
    expect((await c.store.getSpace(space))!.usedBytes).toBe(v2.size);
  });

  it("is refused when it would exceed the quota or the size limit, as any version", async () => {
    const big: ChunkRef = { hash: sha("a lot"), size: 11 << 20 };
    const huge = version("huge.bin", [big], bump(EMPTY, laptop, 3000), laptop, true);
    expect((await c.fails(A, "set", commit(A, { version: huge, base: EMPTY }))).code).toBe("quota-exceeded");
    const small = makeComponent({ limits: { maxChunkBytes: 1 << 20, maxFileBytes: 1000, spaceQuotaBytes: 10 << 20, userQuotaBytes: 8 << 20, maxIqBytes: 1 << 20 } });
    const s2 = (await small.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "T", members: [bob] }))).id;
    const tooLarge = version("x.bin", [{ hash: sha("x"), size: 2000 }], bump(EMPTY, laptop, 3000), laptop, true);
    expect((await small.fails(A, "set", I.buildCommit({ space: s2, changes: [{ version: tooLarge, base: EMPTY }] }))).code).toBe("too-large");
  });

  it("is completed by the same version with its content: a new entry, no marker; without the chunks still missing-chunks", async () => {
    await c.ok(A, "set", commit(A, { version: edit(true), base: v1.vector }));
    expect((await c.fails(A, "set", commit(A, { version: edit(), base: v1.vector }))).code).toBe("missing-chunks");
    await c.upload("new ending!", alice);
    expect(await c.ok<I.Committed>(A, "set", commit(A, { version: edit(), base: v1.vector }))).toEqual({ space, head: 3 });
    const page = await c.ok<I.IndexPage>(B, "get", I.buildIndexQuery({ space, after: 2 }));
    expect(page.entries).toEqual([{ ...edit(), seq: 3 }]);
    // Now the content is the space's: Bob may download the new ending.
    const down = await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space, direction: "download", chunks: [ref("new ending!")] }));
    expect(down.missing).toEqual([]);
  });

  it("never replaces the same version complete; a commit naming by is refused; pending after pending is an edit like any", async () => {
    await c.upload("new ending!", alice);
    await c.ok(A, "set", commit(A, { version: edit(), base: v1.vector }));
    const again = await c.fails(A, "set", commit(A, { version: edit(true), base: v1.vector }));
    expect(again.code).toBe("version-conflict");
    expect(I.parseVersionConflictChildren(again.children).pending).toBeUndefined();
    const forged = { ...edit(true), vector: bump(edit().vector, laptop, 4000), pending: { by: bob } };
    expect((await c.fails(A, "set", commit(A, { version: forged, base: edit().vector }))).code).toBe("bad-request");
    const v3 = version("movie.mov", [ref("shared part "), ref("third")], bump(edit().vector, laptop, 5000), laptop, true);
    const v4 = version("movie.mov", [ref("shared part "), ref("fourth")], bump(v3.vector, laptop, 6000), laptop, true);
    await c.ok(A, "set", commit(A, { version: v3, base: edit().vector }));
    expect(await c.ok<I.Committed>(A, "set", commit(A, { version: v4, base: v3.vector }))).toMatchObject({ head: 4 });
    // Bob's version concurrent with the pending one is a conflict, as for any version.
    const bobs = version("movie.mov", [ref("shared part ")], bump(v1.vector, phone, 7000), phone);
    expect((await c.fails(B, "set", commit(B, { version: bobs, base: v1.vector }))).code).toBe("version-conflict");
  });

  it("does not make a chunk downloadable that the space does not hold (naming a hash is not having it)", async () => {
    const other = (await c.ok<S.Space>(B, "set", S.buildCreateSpace({ kind: "mine", name: "Bob's", members: [] }))).id;
    const secret = await c.upload("bob's secret", bob);
    await c.ok(B, "set", I.buildCommit({ space: other, changes: [{ version: version("s.txt", [secret], bump(EMPTY, phone, 1), phone), base: EMPTY }] }));
    const named = version("guess.txt", [secret], bump(EMPTY, laptop, 3000), laptop, true);
    await c.ok(A, "set", commit(A, { version: named, base: EMPTY }));
    const down = await c.ok<SL.Slots>(A, "get", SL.buildSlotRequest({ space, direction: "download", chunks: [secret] }));
    expect(down.missing).toEqual([secret.hash]);
  });
});

describe("garbage collection with a pending version", () => {
  const ackAll = async () => {
    const head = (await c.store.getSpace(space))!.head;
    await c.ok(A, "set", I.buildAck({ space, replica: laptop, seq: head }));
    await c.ok(B, "set", I.buildAck({ space, replica: phone, seq: head }));
  };
  const held = async (...names: string[]) => [...(await c.store.hasChunks(names.map(sha)))].sort();

  it("keeps the replaced version's chunks while the new content is on its way, and drops only what no version needs once it is complete", async () => {
    await ackAll();
    await c.ok(A, "set", commit(A, { version: edit(true), base: v1.vector }));
    // Every replica acknowledged the pending version: still nothing of the old one may go.
    await ackAll();
    c.advance(2 * 86_400_000);
    expect((await collectGarbage(c.deps, new Mutex())).chunks).toBe(0);
    expect(await held("shared part ", "old ending")).toEqual([sha("shared part "), sha("old ending")].sort());

    await c.upload("new ending!", alice);
    await c.ok(A, "set", commit(A, { version: edit(), base: v1.vector }));
    // Complete, but Bob has not acknowledged it: the old ending stays.
    expect((await collectGarbage(c.deps, new Mutex())).chunks).toBe(0);
    await ackAll();
    expect((await collectGarbage(c.deps, new Mutex())).chunks).toBe(1);
    expect(await held("shared part ", "old ending", "new ending!")).toEqual([sha("shared part "), sha("new ending!")].sort());
  });

  it("a pending version replaced by a deletion lets the old chunks go once acknowledged", async () => {
    await c.ok(A, "set", commit(A, { version: edit(true), base: v1.vector }));
    const gone: FileVersion = { ...v1, vector: bump(edit().vector, laptop, 3000), hash: "", size: 0, deleted: true, chunks: [] };
    await c.ok(A, "set", commit(A, { version: gone, base: edit().vector }));
    await ackAll();
    c.advance(2 * 86_400_000);
    expect((await collectGarbage(c.deps, new Mutex())).chunks).toBe(2);
    expect((await c.store.getSpace(space))!.usedBytes).toBe(0);
  });
});
