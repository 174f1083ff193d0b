/**
 * The MetadataStore contract (component/store/metadata.ts): one behavioural suite that every
 * implementation runs (`metadata-store.test.ts`). Persistence across reopen is the SQLite
 * test's business; everything observable through the interface is here.
 *
 * GC tests pass `uploadedBeforeMs = 0` when only rule (a) may apply (chunks are added at
 * t ≥ 1000), so a chunk appears only once its orphan seqs are acknowledged.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ShareError } from "../../protocol/errors.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, GroupId, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import type { Group } from "../../protocol/stanzas/groups.ts";
import { EMPTY_DIGEST, fromEntries } from "../../protocol/vv.ts";
import type { MetadataStore, SpaceRecord } from "../../component/store/metadata.ts";

const J = (s: string) => `${s}@example.org` as BareJid;
const [alice, bob, carol, dave] = [J("alice"), J("bob"), J("carol"), J("dave")];
const S = (s: string) => s as SpaceId;
const G = (s: string) => s as GroupId;
const R = (s: string) => s as ReplicaId;
/** Distinct, sortable chunk hashes: H(1) < H(2) < … */
const H = (n: number) => n.toString(16).padStart(64, "0") as ChunkHash;

let clock = 1;
/** A file version; chunk sizes add up to `size`. */
function file(path: string, chunks: Array<[number, number]> = [], o: Partial<FileVersion> = {}): FileVersion {
  const size = chunks.reduce((n, [, s]) => n + s, 0);
  return {
    path,
    kind: "file",
    vector: fromEntries([["r1", clock++]]),
    hash: (size + 0xabc).toString(16).padStart(64, "e"),
    size,
    mtimeMs: 1_700_000_000_000 + clock,
    mode: 0o644,
    deleted: false,
    replica: R("r1"),
    chunks: chunks.map(([h, s]) => ({ hash: H(h), size: s })),
    ...o,
  };
}
const tombstone = (path: string): FileVersion => file(path, [], { deleted: true, hash: "" });
const group = (id: string, members: BareJid[], o: Partial<Group> = {}): Group => ({
  id: G(id), name: `Group ${id}`, owner: members[0]!, members, createdMs: 10, changedMs: 20, ...o,
});
const pair = (id: string, members: BareJid[] = [alice, bob]): Omit<SpaceRecord, "head" | "usedBytes"> => ({
  id: S(id), kind: "pair", name: `Space ${id}`, owner: members[0]!, members, createdMs: 30, changedMs: 40,
});
const groupSpace = (id: string, g: string, owner = alice): Omit<SpaceRecord, "head" | "usedBytes"> => ({
  id: S(id), kind: "group", name: `Space ${id}`, owner, group: G(g), members: [], createdMs: 30, changedMs: 40,
});
const ok = () => {};
const strip = ({ seq: _seq, ...v }: { seq: number } & FileVersion) => v;

export function runMetadataStoreContract(name: string, open: () => Promise<MetadataStore> | MetadataStore): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });
    const gc = (before = 0) => store.reclaimable(before, 100);
    const addChunks = async (...ns: number[]) => {
      for (const n of ns) await store.addChunks([{ hash: H(n), size: 100 }], alice, 1000 + n);
    };

    describe("groups", () => {
      it("stores, replaces, lists and deletes groups", async () => {
        expect(await store.getGroup(G("g1"))).toBeUndefined();
        await store.putGroup(group("g2", [alice, bob]));
        await store.putGroup(group("g1", [bob, carol]));
        await store.putGroup(group("g3", [carol]));
        expect(await store.getGroup(G("g2"))).toEqual(group("g2", [alice, bob]));
        expect((await store.groupsOf(bob)).map((g) => g.id)).toEqual(["g1", "g2"]);
        expect(await store.groupsOf(dave)).toEqual([]);
        await store.putGroup(group("g2", [carol, alice], { name: "Renamed", owner: carol, changedMs: 99 }));
        expect(await store.getGroup(G("g2"))).toEqual(group("g2", [carol, alice], { name: "Renamed", owner: carol, changedMs: 99 }));
        expect((await store.groupsOf(bob)).map((g) => g.id)).toEqual(["g1"]);
        expect((await store.groupsOf(carol)).map((g) => g.id)).toEqual(["g1", "g2", "g3"]);
        await store.deleteGroup(G("g1"));
        expect(await store.getGroup(G("g1"))).toBeUndefined();
        expect(await store.groupsOf(bob)).toEqual([]);
        await store.deleteGroup(G("nope"));
      });

      it("hands out copies and keeps none of the caller's objects", async () => {
        const g = group("g1", [alice, bob]);
        const members = [...g.members];
        await store.putGroup({ ...g, members });
        members.push(carol);
        const got = await store.getGroup(G("g1"));
        (got!.members as BareJid[]).push(dave);
        ((await store.groupsOf(alice))[0]!.members as BareJid[]).length = 0;
        expect(await store.getGroup(G("g1"))).toEqual(g);
      });
    });

    describe("spaces", () => {
      it("creates a space with head 0 and usedBytes 0, and refuses a duplicate id", async () => {
        await store.createSpace(pair("s1"));
        expect(await store.getSpace(S("s1"))).toEqual({ ...pair("s1"), head: 0, usedBytes: 0 });
        await expect(store.createSpace(pair("s1", [carol, dave]))).rejects.toBeInstanceOf(ShareError);
        expect(await store.getSpace(S("s1"))).toEqual({ ...pair("s1"), head: 0, usedBytes: 0 });
        expect(await store.getSpace(S("s2"))).toBeUndefined();
      });

      it("refuses a group space with members, a pair space with a group, a member listed twice", async () => {
        const refused = { code: "bad-request" };
        await expect(store.createSpace({ ...groupSpace("s1", "g1"), members: [alice] })).rejects.toMatchObject(refused);
        await expect(store.createSpace({ ...pair("s2"), group: G("g1") })).rejects.toMatchObject(refused);
        await expect(store.createSpace(pair("s3", [alice, alice]))).rejects.toMatchObject(refused);
        await expect(store.putGroup(group("g1", [alice, bob, alice]))).rejects.toMatchObject(refused);
        await store.createSpace(pair("s4"));
        const twice = { id: S("s4"), name: "x", owner: bob, members: [bob, bob], changedMs: 1 };
        await expect(store.updateSpace(twice)).rejects.toMatchObject(refused);
        expect(await store.getSpace(S("s1"))).toBeUndefined();
        expect(await store.getSpace(S("s3"))).toBeUndefined();
        expect(await store.getGroup(G("g1"))).toBeUndefined();
        expect(await store.getSpace(S("s4"))).toEqual({ ...pair("s4"), head: 0, usedBytes: 0 });
      });

      it("updates name, members and changedMs only", async () => {
        await store.createSpace(pair("s1"));
        await store.commit(S("s1"), [file("a", [[1, 5]])], ok);
        await store.updateSpace({ id: S("s1"), name: "New", owner: carol, members: [carol, alice], changedMs: 77 });
        expect(await store.getSpace(S("s1"))).toEqual({ ...pair("s1", [carol, alice]), name: "New", changedMs: 77, head: 1, usedBytes: 5 });
        expect((await store.spacesOf(bob)).map((s) => s.id)).toEqual([]);
        expect((await store.spacesOf(carol)).map((s) => s.id)).toEqual(["s1"]);
        const unknown = { id: S("s9"), name: "x", owner: alice, members: [], changedMs: 1 };
        await expect(store.updateSpace(unknown)).rejects.toMatchObject({ code: "not-found" });
      });

      it("lists a member's spaces by id: listed members and group membership", async () => {
        await store.putGroup(group("g1", [alice, carol]));
        await store.createSpace(pair("s3", [alice, bob]));
        await store.createSpace({ ...pair("s1", [bob]), kind: "mine" });
        await store.createSpace(groupSpace("s2", "g1"));
        expect((await store.spacesOf(alice)).map((s) => s.id)).toEqual(["s2", "s3"]);
        expect((await store.spacesOf(bob)).map((s) => s.id)).toEqual(["s1", "s3"]);
        expect((await store.spacesOf(carol)).map((s) => s.id)).toEqual(["s2"]);
        expect(await store.spacesOf(dave)).toEqual([]);
        const all = await store.spacesOf(alice);
        expect(all[0]).toEqual({ ...groupSpace("s2", "g1"), head: 0, usedBytes: 0 });
        expect(all[1]).toEqual({ ...pair("s3"), head: 0, usedBytes: 0 });
      });

      it("follows group membership changes", async () => {
        await store.putGroup(group("g1", [alice, bob]));
        await store.createSpace(groupSpace("s1", "g1"));
        expect(await store.membersOf(S("s1"))).toEqual([alice, bob]);
        await store.putGroup(group("g1", [alice, carol]));
        expect(await store.membersOf(S("s1"))).toEqual([alice, carol]);
        expect((await store.spacesOf(carol)).map((s) => s.id)).toEqual(["s1"]);
        expect(await store.spacesOf(bob)).toEqual([]);
        await store.deleteGroup(G("g1"));
        expect(await store.membersOf(S("s1"))).toEqual([]);
        expect(await store.spacesOf(alice)).toEqual([]);
      });

      it("gives members of pair spaces in order, [] for unknown spaces", async () => {
        await store.createSpace(pair("s1", [bob, alice]));
        expect(await store.membersOf(S("s1"))).toEqual([bob, alice]);
        expect(await store.membersOf(S("nope"))).toEqual([]);
      });

      it("hands out copies of spaces and members", async () => {
        await store.createSpace(pair("s1"));
        const got = await store.getSpace(S("s1"));
        (got!.members as BareJid[]).push(carol);
        (await store.membersOf(S("s1"))).push(dave);
        ((await store.spacesOf(alice))[0]!.members as BareJid[]).pop();
        expect(await store.getSpace(S("s1"))).toEqual({ ...pair("s1"), head: 0, usedBytes: 0 });
      });

      it("deletes a space with its index and acks", async () => {
        await store.createSpace(pair("s1"));
        await store.commit(S("s1"), [file("a")], ok);
        await store.ack(S("s1"), bob, R("b1"), 1);
        await store.deleteSpace(S("s1"));
        expect(await store.getSpace(S("s1"))).toBeUndefined();
        expect(await store.spacesOf(alice)).toEqual([]);
        expect(await store.readIndex(S("s1"), 0, 10)).toEqual([]);
        expect(await store.getEntry(S("s1"), "a")).toBeUndefined();
        expect(await store.acks(S("s1"))).toEqual([]);
        await store.createSpace(pair("s1"));
        expect((await store.getSpace(S("s1")))!.head).toBe(0);
        await store.deleteSpace(S("nope"));
      });
    });

    describe("index", () => {
      beforeEach(async () => {
        await store.createSpace(pair("s1"));
        await addChunks(1, 2, 3);
      });

      it("numbers versions consecutively after head and keeps head and usedBytes", async () => {
        expect(await store.commit(S("s1"), [file("a", [[1, 10]]), file("b", [[2, 20], [3, 5]]), { ...file("d"), kind: "dir" }], ok)).toBe(3);
        expect(await store.getSpace(S("s1"))).toMatchObject({ head: 3, usedBytes: 35 });
        expect(await store.commit(S("s1"), [file("a", [[1, 10], [2, 20]])], ok)).toBe(4);
        expect(await store.getSpace(S("s1"))).toMatchObject({ head: 4, usedBytes: 55 });
        expect(await store.commit(S("s1"), [tombstone("b")], ok)).toBe(5);
        expect(await store.getSpace(S("s1"))).toMatchObject({ head: 5, usedBytes: 30 });
        expect(await store.getEntry(S("s1"), "b")).toMatchObject({ seq: 5, deleted: true, size: 0, chunks: [] });
        expect(await store.commit(S("s1"), [tombstone("b")], ok)).toBe(6);
        expect(await store.commit(S("s1"), [file("b", [[3, 5]])], ok)).toBe(7);
        expect(await store.getSpace(S("s1"))).toMatchObject({ head: 7, usedBytes: 35 });
        expect(await store.commit(S("s1"), [], ok)).toBe(7);
      });

      it("stores every field of a version exactly", async () => {
        const v = file("dir/ä b.txt", [[1, 2 ** 33], [2, 7]], {
          vector: fromEntries([["zz", 2 ** 53 - 1], ["a-1", 3], ["m_2", 1]]),
          mode: 0o755,
          mtimeMs: 1_234_567_890_123,
          replica: R("zz"),
        });
        await store.commit(S("s1"), [v], ok);
        expect(await store.getEntry(S("s1"), v.path)).toEqual({ ...v, seq: 1 });
        expect(await store.readIndex(S("s1"), 0, 10)).toEqual([{ ...v, seq: 1 }]);
        expect((await store.getSpace(S("s1")))!.usedBytes).toBe(2 ** 33 + 7);
        expect(await store.getEntry(S("s1"), "other")).toBeUndefined();
        expect(await store.getEntry(S("nope"), v.path)).toBeUndefined();
      });

      it("keeps what a deletion says it deleted (was), and nothing for one that does not say", async () => {
        await store.commit(S("s1"), [file("a", [[1, 10]]), file("b", [[2, 20]])], ok);
        const gone = { ...tombstone("a"), was: "c".repeat(64) };
        const silent = tombstone("b");
        await store.commit(S("s1"), [gone, silent], ok);
        expect(await store.getEntry(S("s1"), "a")).toEqual({ ...gone, seq: 3 });
        expect(await store.getEntry(S("s1"), "b")).toEqual({ ...silent, seq: 4 });
        expect((await store.readIndex(S("s1"), 2, 10)).map((e) => e.was)).toEqual(["c".repeat(64), undefined]);
      });

      it("pages the index: after is exclusive, each path once with its latest version", async () => {
        await store.commit(S("s1"), ["a", "b", "c", "d"].map((p) => file(p)), ok);
        const b2 = file("b", [[1, 4]]);
        await store.commit(S("s1"), [b2], ok);
        const page = async (after: number, limit: number) => (await store.readIndex(S("s1"), after, limit)).map((e) => `${e.path}${e.seq}`);
        expect(await page(0, 100)).toEqual(["a1", "c3", "d4", "b5"]);
        expect(await page(0, 2)).toEqual(["a1", "c3"]);
        expect(await page(3, 2)).toEqual(["d4", "b5"]);
        expect(await page(1, 1)).toEqual(["c3"]);
        expect(await page(5, 10)).toEqual([]);
        expect(await page(0, 0)).toEqual([]);
        expect(strip((await store.readIndex(S("s1"), 4, 1))[0]!)).toEqual(b2);
        expect(await store.readIndex(S("nope"), 0, 10)).toEqual([]);
      });

      it("hands the check the current versions, the missing chunks and the space", async () => {
        const a = file("a", [[1, 3]]);
        await store.commit(S("s1"), [a, file("z")], ok);
        let seen: unknown;
        const next = [
          file("a", [[4, 1], [2, 1], [4, 1], [5, 1]]),
          file("n", [[5, 1], [6, 1]]),
          { ...tombstone("t"), chunks: [{ hash: H(7), size: 1 }] }, // a tombstone needs no chunk
        ];
        await store.commit(S("s1"), next, (ctx) => {
          seen = { current: [...ctx.current], missing: [...ctx.missingChunks].sort(), space: ctx.space };
        });
        expect(seen).toEqual({
          current: [["a", { ...a, seq: 1 }]],
          missing: [H(4), H(5), H(6)],
          space: { ...pair("s1"), head: 2, usedBytes: 3 },
        });
      });

      it("usableChunks: the space's chunks, current or awaiting collection, and what the member uploaded", async () => {
        // H(1..3) were uploaded by Alice; H(4) by Bob. s1 names H(1); H(2) was named and superseded.
        await store.addChunks([{ hash: H(4), size: 100 }], bob, 2000);
        await store.commit(S("s1"), [file("a", [[1, 100]]), file("b", [[2, 100]])], ok);
        await store.commit(S("s1"), [tombstone("b")], ok);
        await store.createSpace(pair("s2"));
        const all = [H(1), H(2), H(3), H(4), H(9)];
        expect([...(await store.usableChunks(S("s1"), all))].sort()).toEqual([H(1), H(2)]);
        expect([...(await store.usableChunks(S("s1"), all, bob))].sort()).toEqual([H(1), H(2), H(4)]);
        expect([...(await store.usableChunks(S("s2"), all))]).toEqual([]);
        expect([...(await store.usableChunks(S("s2"), all, alice))].sort()).toEqual([H(1), H(2), H(3)]);
        // A second upload of a chunk already held (Bob's copy of H(3)) proves Bob has it too.
        await store.addChunks([{ hash: H(3), size: 100 }], bob, 3000);
        expect([...(await store.usableChunks(S("s2"), all, bob))].sort()).toEqual([H(3), H(4)]);
        expect(await store.usableChunks(S("nope"), all)).toEqual(new Set());
      });

      it("tells the check which new paths fold like another live path (Foo/foo, CAFÉ/café), unless that one goes in the same commit", async () => {
        const seen: unknown[] = [];
        const look = (ctx: { foldClashes: unknown }) => void seen.push(ctx.foldClashes);
        await store.commit(S("s1"), [file("Foo.txt"), file("caf\u00e9")], ok);
        await store.commit(S("s1"), [file("foo.txt"), file("CAF\u00c9"), file("other")], look);
        expect(seen.pop()).toEqual([{ path: "foo.txt", with: "Foo.txt" }, { path: "CAF\u00c9", with: "caf\u00e9" }]);
        // Two new ones in one commit clash with each other; a case-only rename does not.
        await store.commit(S("s1"), [file("a/B"), file("a/b")], look);
        expect(seen.pop()).toEqual([{ path: "a/b", with: "a/B" }]);
        await store.commit(S("s1"), [tombstone("Foo.txt"), file("foo.txt")], look);
        expect(seen.pop()).toEqual([]);
        // After that rename, foo.txt holds the fold; Foo.txt (deleted) no longer does.
        await store.commit(S("s1"), [file("FOO.TXT")], look);
        expect(seen.pop()).toEqual([{ path: "FOO.TXT", with: "foo.txt" }]);
        await store.createSpace(pair("s2"));
        await store.commit(S("s2"), [file("FOO.TXT")], look);
        expect(seen.pop()).toEqual([]);
      });

      it("tells the check which held chunks are named with another size than they have", async () => {
        let seen: unknown;
        // H(1) and H(2) are held with 100 bytes each; H(9) is not held at all.
        await store.commit(S("s1"), [file("a", [[1, 100], [2, 7]]), file("b", [[2, 8], [9, 1]])], (ctx) => {
          seen = { missing: ctx.missingChunks, wrong: ctx.wrongSizes };
        });
        expect(seen).toEqual({ missing: [H(9)], wrong: [{ hash: H(2), declared: 8, held: 100 }] });
      });

      it("changes nothing when the check throws, and rejects with that very error", async () => {
        await store.commit(S("s1"), [file("a", [[1, 10]])], ok);
        const before = { space: await store.getSpace(S("s1")), index: await store.readIndex(S("s1"), 0, 10) };
        const refusal = new ShareError("version-conflict", { attrs: { path: "a" } });
        await expect(store.commit(S("s1"), [file("a", [[2, 20]]), file("b", [[3, 1]])], () => { throw refusal; })).rejects.toBe(refusal);
        expect({ space: await store.getSpace(S("s1")), index: await store.readIndex(S("s1"), 0, 10) }).toEqual(before);
        expect(await store.getEntry(S("s1"), "b")).toBeUndefined();
        // References are unchanged too: chunk 1 still current, chunks 2 and 3 still unreferenced.
        await store.ack(S("s1"), alice, R("a1"), 1);
        await store.ack(S("s1"), bob, R("b1"), 1);
        expect(await gc(0)).toEqual([]);
        expect(await gc(1e15)).toEqual([H(2), H(3)]);
        expect(await store.commit(S("s1"), [file("c")], ok)).toBe(2);
        await store.ack(S("s1"), alice, R("a1"), 2);
        await store.ack(S("s1"), bob, R("b1"), 2);
        expect(await gc(1e15)).toEqual([H(2), H(3)]);
      });

      it("refuses a commit naming a path twice, or to an unknown space, before its check", async () => {
        let called = false;
        const check = () => { called = true; };
        await expect(store.commit(S("s1"), [file("a"), file("a")], check)).rejects.toMatchObject({ code: "bad-request" });
        await expect(store.commit(S("nope"), [file("a")], check)).rejects.toMatchObject({ code: "not-found" });
        expect(called).toBe(false);
        expect((await store.getSpace(S("s1")))!.head).toBe(0);
      });

      it("hands out copies of versions", async () => {
        const a = file("a", [[1, 10]]);
        await store.commit(S("s1"), [a], ok);
        ((await store.getEntry(S("s1"), "a"))!.chunks as unknown[]).pop();
        ((await store.readIndex(S("s1"), 0, 1))[0]!.chunks[0] as { size: number }).size = 1;
        await store.commit(S("s1"), [file("a", [[1, 10]])], (ctx) => {
          (ctx.current.get("a")!.chunks as unknown[]).length = 0;
          throw new Error("refused");
        }).catch(() => {});
        expect(await store.getEntry(S("s1"), "a")).toEqual({ ...a, seq: 1 });
      });
    });

    describe("acknowledgements", () => {
      beforeEach(async () => {
        await store.createSpace(pair("s1"));
        await store.commit(S("s1"), ["a", "b", "c", "d", "e"].map((p) => file(p)), ok);
      });

      it("records per replica, never lowers, never passes head, lists by member and replica", async () => {
        await store.ack(S("s1"), bob, R("b2"), 3);
        await store.ack(S("s1"), alice, R("a1"), 4);
        await store.ack(S("s1"), bob, R("b1"), 2);
        await store.ack(S("s1"), bob, R("b2"), 1);
        await store.ack(S("s1"), alice, R("a1"), 99);
        expect(await store.acks(S("s1"))).toEqual([
          { member: alice, replica: "a1", seq: 5 },
          { member: bob, replica: "b1", seq: 2 },
          { member: bob, replica: "b2", seq: 3 },
        ]);
        await expect(store.ack(S("nope"), bob, R("b1"), 1)).rejects.toMatchObject({ code: "not-found" });
      });

      it("forgets one member's replicas", async () => {
        await store.ack(S("s1"), bob, R("b1"), 2);
        await store.ack(S("s1"), bob, R("b2"), 2);
        await store.ack(S("s1"), alice, R("a1"), 2);
        await store.forgetMember(S("s1"), bob);
        expect(await store.acks(S("s1"))).toEqual([{ member: alice, replica: "a1", seq: 2 }]);
      });
    });

    describe("pending SNMs", () => {
      const snm = (space: string, replica: string, v: Array<[string, number]>) => ({ space: S(space), replica: R(replica), vector: fromEntries(v) });
      beforeEach(async () => {
        await store.createSpace(pair("s1"));
        await store.createSpace(pair("s2"));
      });

      it("keeps one per member and space, merging vectors, and lists a member's by space", async () => {
        await store.putSnm({ member: bob, space: S("s2"), snm: snm("s2", "a1", [["a1", 1]]), nowMs: 10 });
        await store.putSnm({ member: bob, space: S("s1"), snm: snm("s1", "a1", [["a1", 5]]), nowMs: 10 });
        await store.putSnm({ member: bob, space: S("s1"), snm: snm("s1", "a2", [["a1", 3], ["a2", 7]]), nowMs: 10 });
        const kept = await store.snmsFor(bob);
        expect(kept.map((p) => p.snm)).toEqual([snm("s1", "a2", [["a1", 5], ["a2", 7]]), snm("s2", "a1", [["a1", 1]])]);
        // The merged one was stored after the first: a drop meant for the first leaves it.
        expect(kept[0]!.storedMs).toBe(11);
        await store.dropSnm(bob, S("s1"), 10);
        expect(await store.snmsFor(bob)).toHaveLength(2);
        await store.dropSnm(bob, S("s1"), 11);
        expect((await store.snmsFor(bob)).map((p) => p.snm.space)).toEqual(["s2"]);
        expect(await store.snmsFor(alice)).toEqual([]);
      });

      it("replaces a digest-only SNM, refuses unknown spaces, and goes with its space", async () => {
        await store.putSnm({ member: bob, space: S("s1"), snm: { space: S("s1"), replica: R("a1"), digest: EMPTY_DIGEST }, nowMs: 5 });
        await store.putSnm({ member: bob, space: S("s1"), snm: snm("s1", "a1", [["a1", 2]]), nowMs: 6 });
        expect((await store.snmsFor(bob)).map((p) => p.snm)).toEqual([snm("s1", "a1", [["a1", 2]])]);
        await expect(store.putSnm({ member: bob, space: S("nope"), snm: snm("nope", "a1", []), nowMs: 7 })).rejects.toMatchObject({ code: "not-found" });
        await store.deleteSpace(S("s1"));
        expect(await store.snmsFor(bob)).toEqual([]);
      });
    });

    describe("presence history", () => {
      const day = 20_000; // a UTC day since the epoch; hours are day * 24 + h
      const at = (d: number, h: number) => (day + d) * 24 + h;

      it("records hours online per member, idempotent, across day boundaries, ascending", async () => {
        await store.markOnline(alice, at(0, 22), at(1, 1)); // 22:00 to 01:59 the next day
        await store.markOnline(alice, at(0, 23), at(0, 23)); // again: no change
        await store.markOnline(alice, at(0, 9), at(0, 9));
        await store.markOnline(bob, at(1, 0), at(1, 0));
        expect(await store.onlineHours(alice, 0)).toEqual([at(0, 9), at(0, 22), at(0, 23), at(1, 0), at(1, 1)]);
        expect(await store.onlineHours(alice, at(0, 23))).toEqual([at(0, 23), at(1, 0), at(1, 1)]);
        expect(await store.onlineHours(bob, 0)).toEqual([at(1, 0)]);
        expect(await store.onlineHours(carol, 0)).toEqual([]);
      });

      it("forgets hours before a bound, also within a day, and summaries of members not seen since", async () => {
        await store.markOnline(alice, at(0, 5), at(2, 5));
        await store.markOnline(bob, at(0, 1), at(0, 2));
        await store.putPresenceSummary(alice, { lastSeenMs: at(2, 5) * 3_600_000, sessionMs: 60_000 });
        await store.putPresenceSummary(bob, { lastSeenMs: at(0, 2) * 3_600_000 });
        await store.forgetPresenceBefore(at(1, 3));
        const hours = await store.onlineHours(alice, 0);
        expect(hours[0]).toBe(at(1, 3));
        expect(hours.at(-1)).toBe(at(2, 5));
        expect(hours).toHaveLength(24 - 3 + 6);
        expect(await store.onlineHours(bob, 0)).toEqual([]);
        expect(await store.presenceSummary(alice)).toEqual({ lastSeenMs: at(2, 5) * 3_600_000, sessionMs: 60_000 });
        expect(await store.presenceSummary(bob)).toBeUndefined();
        // A day's first hour as the bound forgets the whole day before it, and only it.
        await store.forgetPresenceBefore(at(2, 0));
        expect(await store.onlineHours(alice, 0)).toEqual([0, 1, 2, 3, 4, 5].map((h) => at(2, h)));
      });

      it("replaces summaries, with and without a session length", async () => {
        await store.putPresenceSummary(alice, { lastSeenMs: 5, sessionMs: 1000 });
        await store.putPresenceSummary(alice, { lastSeenMs: 9 });
        expect(await store.presenceSummary(alice)).toEqual({ lastSeenMs: 9 });
        expect(await store.presenceSummary(bob)).toBeUndefined();
      });

      it("refuses bad hours and summaries, and writes nothing then", async () => {
        for (const [from, to] of [[-1, 3], [5, 4], [1.5, 2], [0, 366 * 24], [Number.NaN, 1]]) {
          await expect(store.markOnline(alice, from!, to!)).rejects.toMatchObject({ code: "bad-request" });
        }
        await expect(store.forgetPresenceBefore(-1)).rejects.toMatchObject({ code: "bad-request" });
        await expect(store.putPresenceSummary(alice, { lastSeenMs: -1 })).rejects.toMatchObject({ code: "bad-request" });
        await expect(store.putPresenceSummary(alice, { lastSeenMs: 1, sessionMs: 0.5 })).rejects.toMatchObject({ code: "bad-request" });
        expect(await store.onlineHours(alice, 0)).toEqual([]);
        expect(await store.presenceSummary(alice)).toBeUndefined();
        // The longest run allowed at once is accepted.
        await store.markOnline(alice, 0, 366 * 24 - 1);
        expect(await store.onlineHours(alice, 0)).toHaveLength(366 * 24);
      });
    });

    describe("chunks", () => {
      it("keeps the first upload, answers which are held, sums bytes per uploader", async () => {
        await store.addChunks([{ hash: H(1), size: 10 }, { hash: H(2), size: 20 }], alice, 1000);
        await store.addChunks([{ hash: H(1), size: 10 }], bob, 2000);
        await store.addChunks([{ hash: H(3), size: 5 }], bob, 2000);
        expect(await store.hasChunks([H(3), H(1), H(9)])).toEqual(new Set([H(1), H(3)]));
        expect(await store.hasChunks([])).toEqual(new Set());
        expect(await store.uploadedBytes(alice)).toBe(30);
        expect(await store.uploadedBytes(bob)).toBe(5);
        expect(await store.uploadedBytes(carol)).toBe(0);
        expect(await gc(1500)).toEqual([H(1), H(2)]);
      });

      it("records a batch at once: recorded chunks keep their first uploader, repeats are harmless", async () => {
        await store.addChunks([], alice, 500);
        await store.addChunks([{ hash: H(1), size: 10 }], alice, 1000);
        // A batch mixing a known chunk, new ones and a chunk named twice.
        await store.addChunks([{ hash: H(1), size: 10 }, { hash: H(2), size: 20 }, { hash: H(3), size: 30 }, { hash: H(2), size: 20 }], bob, 2000);
        expect(await store.hasChunks([H(1), H(2), H(3)])).toEqual(new Set([H(1), H(2), H(3)]));
        expect(await store.uploadedBytes(alice)).toBe(10);
        expect(await store.uploadedBytes(bob)).toBe(50);
        // Stored at 1000 (alice's) and 2000 (bob's batch): only the first is older than 1500.
        expect(await gc(1500)).toEqual([H(1)]);
        await store.addChunks([{ hash: H(2), size: 20 }, { hash: H(3), size: 30 }], carol, 3000);
        expect(await store.uploadedBytes(carol)).toBe(0);
        expect(await store.uploadedBytes(bob)).toBe(50);
      });
    });

    describe("garbage collection", () => {
      beforeEach(async () => {
        await store.createSpace(pair("s1"));
        await addChunks(1, 2, 3, 4, 5);
      });

      it("never reclaims a chunk of a current version", async () => {
        await store.commit(S("s1"), [file("a", [[1, 1]]), file("b", [[1, 1], [2, 1]])], ok);
        await store.commit(S("s1"), [file("a", [[2, 1]])], ok);
        await store.ack(S("s1"), alice, R("a1"), 2);
        await store.ack(S("s1"), bob, R("b1"), 2);
        expect(await gc(1e15)).toEqual([H(3), H(4), H(5)]);
        expect(await store.dropChunk(H(1), 1e15)).toBe(false);
        expect(await store.dropChunk(H(2), 1e15)).toBe(false);
      });

      it("reclaims an abandoned upload by time only, and respects the limit", async () => {
        expect(await gc(1003)).toEqual([H(1), H(2)]);
        expect(await store.reclaimable(1e15, 2)).toEqual([H(1), H(2)]);
        expect(await store.dropChunk(H(3), 1003)).toBe(false);
        expect(await store.dropChunk(H(1), 1003)).toBe(true);
        expect(await store.dropChunk(H(1), 1003)).toBe(false);
        expect(await store.hasChunks([H(1)])).toEqual(new Set());
        expect(await store.uploadedBytes(alice)).toBe(400);
      });

      it("reclaims a superseded chunk once every current member's replicas acked the superseding seq", async () => {
        await store.commit(S("s1"), [file("a", [[1, 1]]), file("b", [[2, 1]])], ok);
        await store.ack(S("s1"), alice, R("a1"), 2);
        await store.ack(S("s1"), alice, R("a2"), 2);
        await store.ack(S("s1"), bob, R("b1"), 2);
        await store.commit(S("s1"), [file("x"), file("a", [[3, 1]])], ok); // chunk 1 dropped at seq 4
        await store.commit(S("s1"), [tombstone("b")], ok); // chunk 2 dropped at seq 5
        expect(await gc()).toEqual([]);
        await store.ack(S("s1"), alice, R("a1"), 5);
        await store.ack(S("s1"), bob, R("b1"), 3);
        expect(await gc()).toEqual([]);
        await store.ack(S("s1"), bob, R("b1"), 4);
        expect(await gc()).toEqual([]);
        await store.ack(S("s1"), alice, R("a2"), 4);
        expect(await gc()).toEqual([H(1)]);
        await store.ack(S("s1"), alice, R("a2"), 5);
        await store.ack(S("s1"), bob, R("b1"), 5);
        expect(await gc()).toEqual([H(1), H(2)]);
        expect(await store.dropChunk(H(1), 0)).toBe(true);
        expect(await gc()).toEqual([H(2)]);
      });

      it("is not blocked by members who left, were forgotten, or never acknowledged", async () => {
        await store.putGroup(group("g1", [alice, bob, carol]));
        await store.createSpace(groupSpace("s2", "g1"));
        for (const s of [S("s1"), S("s2")]) {
          await store.commit(s, [file("a", [[s === "s1" ? 1 : 2, 1]])], ok);
          await store.ack(s, bob, R("b1"), 1);
          await store.ack(s, carol, R("c1"), 1);
          await store.commit(s, [tombstone("a")], ok);
        }
        expect(await gc()).toEqual([]);
        await store.updateSpace({ id: S("s1"), name: "x", owner: alice, members: [alice], changedMs: 50 });
        expect(await gc()).toEqual([H(1)]);
        await store.putGroup(group("g1", [alice, carol]));
        expect(await gc()).toEqual([H(1)]);
        await store.forgetMember(S("s2"), carol);
        expect(await gc()).toEqual([H(1), H(2)]);
      });

      it("does not orphan a chunk that another path of the space, or the same commit, still uses", async () => {
        await store.commit(S("s1"), [file("a", [[1, 1], [2, 1]]), file("b", [[1, 1]])], ok);
        await store.commit(S("s1"), [tombstone("a"), file("c", [[2, 1]])], ok);
        await store.ack(S("s1"), alice, R("a1"), 4);
        expect(await gc(1e15)).toEqual([H(3), H(4), H(5)]);
        await store.commit(S("s1"), [tombstone("b"), tombstone("c")], ok);
        expect(await gc(1e15)).toEqual([H(3), H(4), H(5)]);
        await store.ack(S("s1"), alice, R("a1"), 6);
        expect(await gc(1e15)).toEqual([H(1), H(2), H(3), H(4), H(5)]);
      });

      it("keeps a chunk that a commit references again, even after its drop was planned", async () => {
        await store.commit(S("s1"), [file("a", [[1, 1]])], ok);
        await store.commit(S("s1"), [tombstone("a")], ok);
        await store.ack(S("s1"), alice, R("a1"), 2);
        expect(await gc()).toEqual([H(1)]);
        await store.commit(S("s1"), [file("b", [[1, 1]])], ok);
        expect(await store.dropChunk(H(1), 1e15)).toBe(false);
        expect(await gc(1e15)).toEqual([H(2), H(3), H(4), H(5)]);
        await store.commit(S("s1"), [tombstone("b")], ok); // orphaned again, now at seq 4
        expect(await gc()).toEqual([]);
        await store.ack(S("s1"), alice, R("a1"), 4);
        expect(await store.dropChunk(H(1), 0)).toBe(true);
      });

      it("keeps a chunk shared by two spaces while either needs it", async () => {
        await store.createSpace(pair("s2", [alice, carol]));
        await store.commit(S("s1"), [file("a", [[1, 1]])], ok);
        await store.commit(S("s2"), [file("b", [[1, 1]])], ok);
        await store.ack(S("s1"), bob, R("b1"), 1);
        await store.ack(S("s2"), carol, R("c1"), 1);
        await store.commit(S("s1"), [tombstone("a")], ok);
        await store.ack(S("s1"), bob, R("b1"), 2);
        expect(await gc()).toEqual([]); // s2 still references it
        await store.commit(S("s2"), [file("x"), tombstone("b")], ok);
        await store.ack(S("s2"), carol, R("c1"), 2);
        expect(await gc()).toEqual([]); // s2's orphan at seq 3 not acknowledged by carol
        await store.ack(S("s2"), carol, R("c1"), 3);
        expect(await gc()).toEqual([H(1)]);
      });

      it("leaves the chunks of a deleted space to the upload-time rule", async () => {
        await store.createSpace(pair("s2"));
        await store.commit(S("s1"), [file("a", [[1, 1]])], ok);
        await store.commit(S("s2"), [file("a", [[2, 1]])], ok);
        await store.ack(S("s2"), bob, R("b1"), 1);
        await store.commit(S("s2"), [tombstone("a")], ok);
        await store.deleteSpace(S("s1"));
        await store.deleteSpace(S("s2"));
        expect(await gc()).toEqual([]);
        expect(await gc(1002)).toEqual([H(1)]);
        expect(await gc(1e15)).toEqual([H(1), H(2), H(3), H(4), H(5)]);
        expect(await store.dropChunk(H(2), 1003)).toBe(true);
      });
    });

    it("rejects calls after close", async () => {
      await store.close();
      await expect(store.getSpace(S("s1"))).rejects.toThrow();
      await expect(store.commit(S("s1"), [], ok)).rejects.toThrow();
      store = await open(); // for afterEach
    });
  });
}
