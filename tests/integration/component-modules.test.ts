/**
 * The sharing manager's rules, in process (router + modules + in-memory stores). The same
 * scenarios run against a real Prosody and the real component in tests/e2e/component.test.ts.
 */
import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { type FileVersion, contentId } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import * as G from "../../protocol/stanzas/groups.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import * as SL from "../../protocol/stanzas/slots.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import { EMPTY, bump, fromEntries, merge, type VersionVector } from "../../protocol/vv.ts";
import { Element, parseXml } from "../../protocol/xml.ts";
import { manifestOf, withChunks } from "../../protocol/manifest.ts";
import { parseStanza } from "../../protocol/stanzas/registry.ts";
import * as Sig from "../../protocol/stanzas/sync-signals.ts";
import { EMPTY_DIGEST, digest } from "../../protocol/vv.ts";
import { makeComponent } from "./fixtures/component.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
const mallory = "mallory@example.org" as BareJid;
const A = `${alice}/xshare-laptop`;
const B = `${bob}/xshare-phone`;
const C = `${carol}/xshare-desk`;
const M = `${mallory}/evil`;
const laptop = "laptop" as ReplicaId;
const phone = "phone" as ReplicaId;

const sha = (s: string) => createHash("sha256").update(s).digest("hex") as ChunkHash;

function version(path: string, content: string, vector: VersionVector, replica: ReplicaId, chunk: { hash: ChunkHash; size: number }): FileVersion {
  return { path, kind: "file", vector, hash: sha(content), size: chunk.size, mtimeMs: 1_764_061_200_000, mode: 0o644, deleted: false, replica, chunks: [chunk] };
}

let c: ReturnType<typeof makeComponent>;
beforeEach(() => {
  c = makeComponent();
});

async function pairSpace(): Promise<S.Space> {
  return c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] }));
}

describe("groups", () => {
  it("create, list, describe, add, remove, leave", async () => {
    const g = await c.ok<G.Group>(A, "set", G.buildCreateGroup({ name: "Family", members: [bob] }));
    expect(g).toMatchObject({ name: "Family", owner: alice, members: [alice, bob] });
    expect(await c.ok<G.Group[]>(B, "get", G.buildGroupListRequest())).toEqual([g]);
    expect(await c.ok<G.Group[]>(C, "get", G.buildGroupListRequest())).toEqual([]);
    // Any member may add a member.
    const g2 = await c.ok<G.Group>(B, "set", G.buildMemberChange("add-member", { group: g.id, jid: carol }));
    expect(g2.members).toEqual([alice, bob, carol]);
    expect(await c.ok<G.Group>(C, "get", G.buildGroupRef(g.id))).toEqual(g2);
    // Only the owner removes.
    expect((await c.fails(B, "set", G.buildMemberChange("remove-member", { group: g.id, jid: carol }))).code).toBe("not-owner");
    expect((await c.ok<G.Group>(A, "set", G.buildMemberChange("remove-member", { group: g.id, jid: carol }))).members).toEqual([alice, bob]);
    // The owner leaves: the next member owns the group; the last one leaving deletes it.
    await c.ok(A, "set", G.buildLeaveGroup(g.id));
    expect(await c.ok<G.Group>(B, "get", G.buildGroupRef(g.id))).toMatchObject({ owner: bob, members: [bob] });
    await c.ok(B, "set", G.buildLeaveGroup(g.id));
    expect((await c.fails(B, "get", G.buildGroupRef(g.id))).code).toBe("not-found");
  });

  it("a non-member gets exactly the answer a missing group gets", async () => {
    const g = await c.ok<G.Group>(A, "set", G.buildCreateGroup({ name: "Family", members: [] }));
    const real = await c.iq(M, "get", G.buildGroupRef(g.id));
    const missing = await c.iq(M, "get", G.buildGroupRef("g-nope" as never));
    const strip = (s: string) => s.replace(/id="[^"]*"/g, "");
    expect(strip(real.reply.toString())).toBe(strip(missing.reply.toString()));
    expect((await c.fails(M, "set", G.buildMemberChange("add-member", { group: g.id, jid: mallory }))).code).toBe("not-found");
  });
});

describe("spaces", () => {
  it("pair, mine and group spaces list for their members only", async () => {
    const pair = await pairSpace();
    expect(pair).toMatchObject({ kind: "pair", owner: alice, members: [alice, bob], head: 0 });
    const mine = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "mine", name: "My sharing", members: [bob, carol] }));
    const g = await c.ok<G.Group>(B, "set", G.buildCreateGroup({ name: "Band", members: [carol] }));
    const band = await c.ok<S.Space>(C, "set", S.buildCreateSpace({ kind: "group", name: "Songs", group: g.id }));
    expect(band.members).toEqual([bob, carol]);
    const ids = async (who: string) => (await c.ok<S.Space[]>(who, "get", S.buildSpaceListRequest())).map((s) => s.id).sort();
    expect(await ids(A)).toEqual([pair.id, mine.id].sort());
    expect(await ids(B)).toEqual([pair.id, mine.id, band.id].sort());
    expect(await ids(C)).toEqual([mine.id, band.id].sort());
    expect(await ids(M)).toEqual([]);
  });

  it("refuses a pair with oneself and a group space for someone else's group", async () => {
    expect((await c.fails(A, "set", S.buildCreateSpace({ kind: "pair", name: "x", members: [alice] }))).code).toBe("bad-request");
    const g = await c.ok<G.Group>(B, "set", G.buildCreateGroup({ name: "Band", members: [] }));
    expect((await c.fails(A, "set", S.buildCreateSpace({ kind: "group", name: "x", group: g.id }))).code).toBe("not-found");
  });

  it("invitations: owner-only for mine, never for pair, through the group for group spaces", async () => {
    const mine = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "mine", name: "Mine", members: [bob] }));
    expect((await c.fails(B, "set", S.buildInvite({ space: mine.id, jid: carol }))).code).toBe("not-owner");
    expect((await c.ok<S.Space>(A, "set", S.buildInvite({ space: mine.id, jid: carol }))).members).toEqual([alice, bob, carol]);
    const pair = await pairSpace();
    expect((await c.fails(A, "set", S.buildInvite({ space: pair.id, jid: carol }))).code).toBe("bad-request");
    const g = await c.ok<G.Group>(A, "set", G.buildCreateGroup({ name: "Family", members: [bob] }));
    const fam = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "group", name: "Photos", group: g.id }));
    await c.ok(B, "set", S.buildInvite({ space: fam.id, jid: carol }));
    expect((await c.ok<G.Group>(A, "get", G.buildGroupRef(g.id))).members).toEqual([alice, bob, carol]);
  });

  it("an online sharing client of a new member is told at once", async () => {
    const hello = (from: string, replica: string) => parseXml(`<presence from='${from}' to='share.example.org'><digests xmlns='urn:xmpp:share:0' replica='${replica}'/></presence>`);
    await c.presence.onPresence(hello(B, "phone"));
    await c.presence.onPresence(hello(C, "desk"));
    await c.presence.onPresence(parseXml(`<presence from='${C}' to='share.example.org' type='unavailable'/>`));
    // Presence without <digests/> is not a sharing client's.
    await c.presence.onPresence(parseXml(`<presence from='${A}' to='share.example.org'/>`));
    c.sent.length = 0;
    const pair = await pairSpace();
    expect(c.sent.map((m) => m.attrs.to)).toEqual([B]);
    expect(S.parseInvited(c.sent[0]!.getChild("invited")!)).toEqual(pair);
  });

  it("leaving: a pair passes to the one who stays; the owner leaving 'mine' deletes it", async () => {
    const pair = await pairSpace();
    await c.ok(A, "set", S.buildLeaveSpace(pair.id));
    expect(await c.ok<S.Space>(B, "get", S.buildSpaceRef(pair.id))).toMatchObject({ owner: bob, members: [bob] });
    expect((await c.fails(A, "get", S.buildSpaceRef(pair.id))).code).toBe("not-found");
    const mine = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "mine", name: "Mine", members: [bob] }));
    const chunk = await c.upload("in mine", alice);
    await c.ok(A, "set", I.buildCommit({ space: mine.id, changes: [{ version: version("m.txt", "in mine", bump(EMPTY, laptop, 1), laptop, chunk), base: EMPTY }] }));
    const bobs = await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space: mine.id, direction: "download", chunks: [chunk] }));
    expect(c.deps.tokens.check(bobs.token, "download", chunk.hash)).toBeDefined();
    await c.ok(A, "set", S.buildLeaveSpace(mine.id));
    expect((await c.fails(B, "get", S.buildSpaceRef(mine.id))).code).toBe("not-found");
    // Bob's download token went with the space.
    expect(c.deps.tokens.lookup(bobs.token)).toBeUndefined();
  });
});

describe("index", () => {
  let space: SpaceId;
  let v1: FileVersion;
  beforeEach(async () => {
    space = (await pairSpace()).id;
    const chunk = await c.upload("hello", alice);
    v1 = version("plan.txt", "hello", bump(EMPTY, laptop, 1000), laptop, chunk);
    const committed = await c.ok<I.Committed>(A, "set", I.buildCommit({ space, changes: [{ version: v1, base: EMPTY }] }));
    expect(committed.head).toBe(1);
  });

  it("two members commit and read each other's changes, paged and incremental", async () => {
    const page = await c.ok<I.IndexPage>(B, "get", I.buildIndexQuery({ space, after: 0 }));
    expect(page).toEqual({ space, head: 1, complete: true, entries: [{ ...v1, seq: 1 }], refused: [] });
    const chunk = await c.upload("hello bob", bob);
    const v2 = version("plan.txt", "hello bob", bump(v1.vector, phone, 2000), phone, chunk);
    const dir: FileVersion = { ...v2, path: "photos", kind: "dir", hash: "", size: 0, chunks: [], vector: bump(EMPTY, phone, 2000) };
    expect((await c.ok<I.Committed>(B, "set", I.buildCommit({ space, changes: [{ version: v2, base: v1.vector }, { version: dir, base: EMPTY }] }))).head).toBe(3);
    const first = await c.ok<I.IndexPage>(A, "get", I.buildIndexQuery({ space, after: 1, max: 1 }));
    expect(first).toMatchObject({ head: 3, complete: false, entries: [{ path: "plan.txt", seq: 2 }] });
    const rest = await c.ok<I.IndexPage>(A, "get", I.buildIndexQuery({ space, after: 2, max: 1 }));
    expect(rest).toMatchObject({ head: 3, complete: true, entries: [{ path: "photos", seq: 3 }] });
  });

  it("a conflicting commit is refused with the current version, and nothing changes", async () => {
    const chunk = await c.upload("bob's", bob);
    const concurrent = version("plan.txt", "bob's", bump(EMPTY, phone, 5000), phone, chunk);
    const other = version("other.txt", "bob's", bump(EMPTY, phone, 5000), phone, chunk);
    const err = await c.fails(B, "set", I.buildCommit({ space, changes: [{ version: other, base: EMPTY }, { version: concurrent, base: EMPTY }] }));
    expect(err.code).toBe("version-conflict");
    expect(err.attrs.path).toBe("plan.txt");
    expect(I.parseVersionConflictChildren(err.children)).toEqual(v1);
    const page = await c.ok<I.IndexPage>(B, "get", I.buildIndexQuery({ space, after: 0 }));
    expect(page.head).toBe(1);
    expect(page.entries.map((e) => e.path)).toEqual(["plan.txt"]);
    // The client keeps both and commits a version that dominates: accepted.
    const resolved = { ...concurrent, vector: bump(merge(concurrent.vector, v1.vector), phone, 6000) };
    expect((await c.ok<I.Committed>(B, "set", I.buildCommit({ space, changes: [{ version: resolved, base: v1.vector }] }))).head).toBe(2);
  });

  it("repeating an applied commit is harmless", async () => {
    const again = await c.ok<I.Committed>(A, "set", I.buildCommit({ space, changes: [{ version: v1, base: EMPTY }] }));
    expect(again.head).toBe(2);
    const page = await c.ok<I.IndexPage>(B, "get", I.buildIndexQuery({ space, after: 0 }));
    expect(page.entries).toEqual([{ ...v1, seq: 2 }]);
  });

  it("refuses chunks that were never uploaded, files over the limit, and bad paths", async () => {
    const ghost = version("ghost.txt", "ghost", bump(EMPTY, laptop, 9000), laptop, { hash: sha("ghost"), size: 5 });
    const err = await c.fails(A, "set", I.buildCommit({ space, changes: [{ version: ghost, base: EMPTY }] }));
    expect(err.code).toBe("missing-chunks");
    expect(err.children.map((m) => m.attrs.hash)).toEqual([sha("ghost")]);
    const huge = { ...ghost, size: 2 ** 31, chunks: [{ hash: sha("ghost"), size: 2 ** 31 }] };
    expect((await c.fails(A, "set", I.buildCommit({ space, changes: [{ version: huge, base: EMPTY }] }))).code).toBe("too-large");
    const bad = I.buildCommit({ space, changes: [{ version: { ...v1, path: "x" }, base: EMPTY }] }).toString().replace("path=\"x\"", "path=\"../../etc/passwd\"");
    const perr = await c.fails(A, "set", bad);
    expect(perr.code).toBe("invalid-path");
    expect(perr.attrs.reason).toBe("dot-dot");
  });

  it("refuses a commit that names a held chunk with another size than its bytes, and changes nothing", async () => {
    const chunk = await c.upload("one hundred thousand bytes, or so it says", alice);
    // A member's lie about sizes would make every other member's download of the file fail
    // ("arrived damaged or incomplete") and undercount the space's quota.
    const liar = version("lie.txt", "one hundred thousand bytes, or so it says", bump(EMPTY, laptop, 9000), laptop, { ...chunk, size: 1 });
    const before = await c.store.getSpace(space);
    const err = await c.fails(A, "set", I.buildCommit({ space, changes: [{ version: liar, base: EMPTY }] }));
    expect(err.code).toBe("bad-request");
    expect(err.message).toBe(`Chunk ${chunk.hash} has ${chunk.size} bytes, not 1`);
    expect(await c.store.getSpace(space)).toEqual(before);
    expect(await c.store.getEntry(space, "lie.txt")).toBeUndefined();
    // The same file, told truthfully, is taken.
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: { ...liar, size: chunk.size, chunks: [chunk] }, base: EMPTY }] }));
  });

  it("a non-member can neither read nor write, and learns nothing", async () => {
    expect((await c.fails(M, "get", I.buildIndexQuery({ space, after: 0 }))).code).toBe("not-found");
    expect((await c.fails(M, "set", I.buildCommit({ space, changes: [{ version: v1, base: EMPTY }] }))).code).toBe("not-found");
    expect((await c.fails(M, "get", SL.buildSlotRequest({ space, direction: "download", chunks: v1.chunks }))).code).toBe("not-found");
  });

  it("acks are bounded by the head", async () => {
    await c.ok(B, "set", I.buildAck({ space, replica: phone, seq: 1 }));
    expect((await c.fails(B, "set", I.buildAck({ space, replica: phone, seq: 2 }))).code).toBe("bad-request");
    expect(await c.store.acks(space)).toEqual([{ member: bob, replica: phone, seq: 1 }]);
  });
});

describe("mine spaces", () => {
  it("only the owner writes; nothing changes on refusal", async () => {
    const mine = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "mine", name: "Mine", members: [bob] }));
    const chunk = await c.upload("x", bob);
    const v = version("x.txt", "x", bump(EMPTY, phone, 1), phone, chunk);
    expect((await c.fails(B, "set", I.buildCommit({ space: mine.id, changes: [{ version: v, base: EMPTY }] }))).code).toBe("read-only");
    expect((await c.fails(B, "get", SL.buildSlotRequest({ space: mine.id, direction: "upload", chunks: [chunk] }))).code).toBe("read-only");
    expect((await c.ok<I.IndexPage>(B, "get", I.buildIndexQuery({ space: mine.id, after: 0 }))).head).toBe(0);
    // Bob's own upload is not the space's: it was never committed there.
    expect((await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space: mine.id, direction: "download", chunks: [chunk] }))).missing).toEqual([chunk.hash]);
  });
});

describe("a full disk under the metadata", () => {
  it("a commit that SQLite cannot write (SQLITE_FULL) is answered 'unavailable', out of disk space, and changes nothing", async () => {
    const { id: space } = await pairSpace();
    const chunk = await c.upload("x", alice);
    const v = version("x.txt", "x", bump(EMPTY, laptop, 1), laptop, chunk);
    const before = await c.store.getSpace(space);
    const commit = c.store.commit.bind(c.store);
    c.store.commit = () => Promise.reject(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }));
    try {
      const err = await c.fails(A, "set", I.buildCommit({ space, changes: [{ version: v, base: EMPTY }] }));
      expect([err.code, err.type, err.message]).toEqual(["unavailable", "wait", "The sharing manager is out of disk space; try again later"]);
    } finally {
      c.store.commit = commit;
    }
    expect(await c.store.getSpace(space)).toEqual(before);
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: v, base: EMPTY }] }));
  });
});

describe("a member who is no longer one (removed from a group, or gone from a pair)", () => {
  /** Makes a space with Bob in it; returns it and how Bob stops being a member. */
  const setups: Array<[string, () => Promise<{ space: SpaceId; drop: () => Promise<unknown> }>]> = [
    [
      "removed from a group by its owner",
      async () => {
        const g = await c.ok<G.Group>(A, "set", G.buildCreateGroup({ name: "Family", members: [bob, carol] }));
        const space = (await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "group", name: "Photos", group: g.id }))).id;
        return { space, drop: () => c.ok(A, "set", G.buildMemberChange("remove-member", { group: g.id, jid: bob })) };
      },
    ],
    [
      "who left a pair (the pair passes to Alice)",
      async () => {
        const space = (await pairSpace()).id;
        return { space, drop: () => c.ok(B, "set", S.buildLeaveSpace(space)) };
      },
    ],
  ];

  it.each(setups)("%s: replays their old requests and tokens in vain, the answers of a space that does not exist, and nothing changes", async (_, setup) => {
    const { space, drop } = await setup();
    const chunk = await c.upload("Bob's photo", bob);
    const v = version("photo.jpg", "Bob's photo", bump(EMPTY, phone, 1), phone, chunk);
    const commit = I.buildCommit({ space, changes: [{ version: v, base: EMPTY }] });
    await c.ok(B, "set", commit);
    const down = await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space, direction: "download", chunks: [chunk] }));
    const up = await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space, direction: "upload", chunks: [{ hash: sha("more"), size: 4 }] }));
    await drop();
    const before = { space: await c.store.getSpace(space), index: await c.store.readIndex(space, 0, 100), acks: await c.store.acks(space) };

    // Every request of Bob's is answered as for a space that does not exist.
    const nowhere = "s-doesnotexist" as SpaceId;
    const later = version("photo.jpg", "Bob's photo", bump(v.vector, phone, 2), phone, chunk);
    const replays: Array<[string, "get" | "set", (id: SpaceId) => Element]> = [
      ["index", "get", (id) => I.buildIndexQuery({ space: id, after: 0 })],
      ["the same commit", "set", (id) => I.buildCommit({ space: id, changes: [{ version: v, base: EMPTY }] })],
      ["a newer commit", "set", (id) => I.buildCommit({ space: id, changes: [{ version: later, base: v.vector }] })],
      ["slots", "get", (id) => SL.buildSlotRequest({ space: id, direction: "download", chunks: [chunk] })],
      ["ack", "set", (id) => I.buildAck({ space: id, replica: phone, seq: 1 })],
      ["snm", "set", (id) => Sig.buildSnm({ space: id, replica: phone, vector: later.vector })],
      ["space", "get", (id) => S.buildSpaceRef(id)],
    ];
    for (const [what, type, build] of replays) {
      const theirs = await c.fails(B, type, build(space));
      const none = await c.fails(B, type, build(nowhere));
      expect({ code: theirs.code, text: theirs.message.replace(space, "?") }, what).toEqual({ code: none.code, text: none.message.replace(nowhere, "?") });
      expect(theirs.code, what).toBe("not-found");
    }
    // Their transfer tokens went with them.
    expect(c.deps.tokens.lookup(down.token)).toBeUndefined();
    expect(c.deps.tokens.lookup(up.token)).toBeUndefined();
    expect({ space: await c.store.getSpace(space), index: await c.store.readIndex(space, 0, 100), acks: await c.store.acks(space) }).toEqual(before);
  });
});

describe("slots", () => {
  it("upload slots name what is missing; limits and quotas are checked up front", async () => {
    const { id: space } = await pairSpace();
    const have = await c.upload("have", alice);
    const want = { hash: sha("want"), size: 4 };
    const slots = await c.ok<SL.Slots>(A, "get", SL.buildSlotRequest({ space, direction: "upload", chunks: [have, want] }));
    expect(slots.missing).toEqual([want.hash]);
    expect(slots.url).toBe("http://127.0.0.1:5290/chunks/");
    expect(c.deps.tokens.check(slots.token, "upload", want.hash)).toBeDefined();
    expect(c.deps.tokens.check(slots.token, "upload", have.hash)).toBeUndefined();
    const big = { hash: sha("big"), size: (1 << 20) + 1 };
    expect((await c.fails(A, "get", SL.buildSlotRequest({ space, direction: "upload", chunks: [big] }))).code).toBe("too-large");
    const many = Array.from({ length: 9 }, (_, i) => ({ hash: sha(`q${i}`), size: 1 << 20 }));
    expect((await c.fails(A, "get", SL.buildSlotRequest({ space, direction: "upload", chunks: many }))).code).toBe("quota-exceeded");
    // Downloads are of the space's chunks: `have` once a version of the space names it.
    const notYet = await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space, direction: "download", chunks: [have, want] }));
    expect(notYet.missing).toEqual([have.hash, want.hash]);
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: version("have.txt", "have", bump(EMPTY, laptop, 1), laptop, have), base: EMPTY }] }));
    const dl = await c.ok<SL.Slots>(B, "get", SL.buildSlotRequest({ space, direction: "download", chunks: [have, want] }));
    expect(dl.missing).toEqual([want.hash]);
    expect(c.deps.tokens.check(dl.token, "download", have.hash)).toBeDefined();
  });

  it("a hash alone gets nothing: another space's chunk is not served, not said to be held, not taken in a commit", async () => {
    const { id: space } = await pairSpace();
    const secret = await c.upload("Alice and Bob's secret", alice);
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: version("secret.txt", "Alice and Bob's secret", bump(EMPTY, laptop, 1), laptop, secret), base: EMPTY }] }));
    // Mallory, in a space of her own with Bob, has learnt the hash (not the bytes).
    const theirs = await c.ok<S.Space>(M, "set", S.buildCreateSpace({ kind: "pair", name: "Mallory's", members: [bob] }));
    expect((await c.ok<SL.Slots>(M, "get", SL.buildSlotRequest({ space: theirs.id, direction: "download", chunks: [secret] }))).missing).toEqual([secret.hash]);
    const up = await c.ok<SL.Slots>(M, "get", SL.buildSlotRequest({ space: theirs.id, direction: "upload", chunks: [secret] }));
    expect(up.missing).toEqual([secret.hash]); // as for a chunk nobody holds
    const claim = version("stolen.txt", "Alice and Bob's secret", bump(EMPTY, "mal" as ReplicaId, 1), "mal" as ReplicaId, secret);
    const err = await c.fails(M, "set", I.buildCommit({ space: theirs.id, changes: [{ version: claim, base: EMPTY }] }));
    expect(err.code).toBe("missing-chunks");
    expect(err.children.map((m) => m.attrs.hash)).toEqual([secret.hash]);
    expect(await c.store.getEntry(theirs.id, "stolen.txt")).toBeUndefined();
    // Whoever has the bytes proves it by uploading them; Alice's own chunks serve all her spaces.
    await c.upload("Alice and Bob's secret", mallory);
    await c.ok(M, "set", I.buildCommit({ space: theirs.id, changes: [{ version: claim, base: EMPTY }] }));
    const hers = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Alice's other", members: [bob] }));
    expect((await c.ok<SL.Slots>(A, "get", SL.buildSlotRequest({ space: hers.id, direction: "upload", chunks: [secret] }))).missing).toEqual([]);
  });
});

describe("reclaiming space", () => {
  it("at start-up, stored bytes that no record names (a crash between a blob's write and its record) are removed; recorded ones stay", async () => {
    const { reclaimUnrecorded } = await import("../../component/modules/gc.ts");
    const kept = await c.upload("recorded", alice);
    const stray = Buffer.from("written, then the process was killed");
    const strayHash = sha("written, then the process was killed");
    await c.deps.blobs.put(strayHash, (async function* () {
      yield stray;
    })(), { maxBytes: stray.length });
    expect(await reclaimUnrecorded(c.deps)).toBe(1);
    expect(await c.deps.blobs.has(strayHash)).toBe(false);
    expect(await c.deps.blobs.has(kept.hash)).toBe(true);
    expect(await reclaimUnrecorded(c.deps)).toBe(0);
  });

  it("a superseded chunk goes once every member replica acknowledged; current ones stay", async () => {
    const { collectGarbage, Mutex } = await import("../../component/modules/gc.ts");
    const { id: space } = await pairSpace();
    const old = await c.upload("old", alice);
    const v1 = version("a.txt", "old", bump(EMPTY, laptop, 1), laptop, old);
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: v1, base: EMPTY }] }));
    const cur = await c.upload("new", alice);
    const v2 = version("a.txt", "new", bump(v1.vector, laptop, 2), laptop, cur);
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: v2, base: v1.vector }] }));
    await c.ok(A, "set", I.buildAck({ space, replica: laptop, seq: 2 }));
    await c.ok(B, "set", I.buildAck({ space, replica: phone, seq: 1 }));
    const lock = new Mutex();
    expect((await collectGarbage(c.deps, lock)).chunks).toBe(0);
    await c.ok(B, "set", I.buildAck({ space, replica: phone, seq: 2 }));
    // While the upload path holds the mutex (recording chunks), GC deletes nothing; a store
    // that compacts is asked to after the pass.
    Object.assign(c.blobs, { compact: async () => 123 });
    let release!: () => void;
    const held = lock.runExclusive(() => new Promise<void>((r) => (release = r)));
    const pass = collectGarbage(c.deps, lock);
    await new Promise((r) => setTimeout(r, 10));
    expect(await c.blobs.has(old.hash)).toBe(true);
    release();
    await held;
    expect(await pass).toEqual({ chunks: 1, partials: 0, compactedBytes: 123 });
    expect(await c.blobs.has(old.hash)).toBe(false);
    expect(await c.blobs.has(cur.hash)).toBe(true);
    expect(await c.store.hasChunks([old.hash, cur.hash])).toEqual(new Set([cur.hash]));
  });
});

describe("router", () => {
  it("answers every IQ: unknown payloads, foreign namespaces, two payloads, crashes", async () => {
    expect((await c.fails(A, "get", "<frobnicate xmlns='urn:xmpp:share:0'/>")).condition).toBe("feature-not-implemented");
    expect((await c.fails(A, "get", "<query xmlns='jabber:iq:version'/>")).condition).toBe("service-unavailable");
    expect((await c.fails(A, "get", "<spaces xmlns='urn:xmpp:share:0'><x/></spaces>")).code).toBe("bad-request");
    const two = parseXml(`<iq type='get' from='${A}' to='share.example.org' id='z'><spaces xmlns='urn:xmpp:share:0'/><spaces xmlns='urn:xmpp:share:0'/></iq>`);
    expect((await c.router.handle(two))?.attrs.type).toBe("error");
    expect(await c.router.handle(parseXml(`<iq type='result' from='${A}' id='z'/>`))).toBeUndefined();
    // A server or another component (no localpart) is not a member of anything.
    expect((await c.fails("example.org", "get", S.buildSpaceListRequest())).condition).toBe("forbidden");
  });

  it("disco#info names the feature", async () => {
    const { reply } = await c.iq(A, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>");
    expect(reply.toString()).toContain("urn:xmpp:share:0");
  });

  it("a handler that throws something unexpected yields internal-server-error, not a crash", async () => {
    c.router.get("boom", () => {
      throw new TypeError("bug");
    });
    expect((await c.fails(A, "get", "<boom xmlns='urn:xmpp:share:0'/>")).condition).toBe("internal-server-error");
  });
});

describe("a member added later", () => {
  it("reads everything committed before they joined", async () => {
    const g = await c.ok<G.Group>(A, "set", G.buildCreateGroup({ name: "Family", members: [bob] }));
    const fam = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "group", name: "Photos", group: g.id }));
    const chunk = await c.upload("photo", alice);
    const v = version("day1.jpg", "photo", fromEntries([[laptop, 10]]), laptop, chunk);
    await c.ok(A, "set", I.buildCommit({ space: fam.id, changes: [{ version: v, base: EMPTY }] }));
    expect((await c.fails(C, "get", I.buildIndexQuery({ space: fam.id, after: 0 }))).code).toBe("not-found");
    await c.ok(B, "set", G.buildMemberChange("add-member", { group: g.id, jid: carol }));
    const page = await c.ok<I.IndexPage>(C, "get", I.buildIndexQuery({ space: fam.id, after: 0 }));
    expect(page.entries).toEqual([{ ...v, seq: 1 }]);
  });
});

describe("replies too large for XMPP", () => {
  it("pages stop at a byte budget; an entry too large for XMPP must be read over HTTP", async () => {
    const { id: space } = await pairSpace();
    const chunks = await Promise.all(Array.from({ length: 5000 }, (_, i) => c.upload(`piece ${i}`, alice)));
    const size = chunks.reduce((n, ch) => n + ch.size, 0);
    const big: FileVersion = { path: "big.bin", kind: "file", vector: bump(EMPTY, laptop, 1), hash: contentId(chunks), size, mtimeMs: 1, mode: 0o644, deleted: false, replica: laptop, chunks };
    const small = (i: number): FileVersion => ({ ...big, path: `s${i}.txt`, size: chunks[0]!.size, hash: chunks[0]!.hash, chunks: [chunks[0]!] });
    const head = async () => (await c.ok<I.IndexPage>(A, "get", I.buildIndexQuery({ space, after: 0 }))).head;
    // 900 small entries first: the XMPP page stops well before them all.
    for (let i = 0; i < 900; i += 300) {
      await c.ok(A, "set", I.buildCommit({ space, changes: Array.from({ length: 300 }, (_, j) => ({ version: small(i + j), base: EMPTY })) }));
    }
    const page = await c.ok<I.IndexPage>(A, "get", I.buildIndexQuery({ space, after: 0, max: 1000 }));
    expect(page.entries.length).toBeLessThan(900);
    expect(page.complete).toBe(false);
    expect(page.entries.at(-1)?.seq).toBe(page.entries.length);

    const stanza = (type: "get" | "set", payload: string) => parseXml(`<iq type='${type}' from='${A}' to='share.example.org' id='x'>${payload}</iq>`);
    // A chunk list this long travels as a manifest (§ 5.7): its blobs must be uploaded first.
    const commit = I.buildCommit({ space, changes: [{ version: big, base: EMPTY }] }).toString();
    const refused = parseStanza((await c.router.handle(stanza("set", commit)))!);
    const manifest = manifestOf(chunks)!;
    expect(refused.context === "error" && refused.error.code).toBe("missing-chunks");
    expect(refused.context === "error" && refused.error.children.map((m) => m.attrs.hash).sort()).toEqual(manifest.refs.map((r) => r.hash).sort());
    for (const blob of manifest.blobs.values()) await c.upload(blob, alice);
    expect((await c.router.handle(stanza("set", commit)))?.attrs.type).toBe("result");
    expect(await head()).toBe(901);
    // Over XMPP the entry is small now: it names ~50 manifest blobs, not 5,000 chunks.
    const overXmpp = await c.router.handle(stanza("get", I.buildIndexQuery({ space, after: 900 }).toString()), "xmpp");
    expect(overXmpp?.attrs.type).toBe("result");
    expect(overXmpp!.toString().length).toBeLessThan(20_000);
    const entry = I.parseIndexPage(overXmpp!.getChild("index")!).entries[0]!;
    expect(entry.chunks).toEqual([]);
    expect(withChunks(entry, manifest.blobs).chunks).toEqual(chunks);
  });

  it("a reply too large for XMPP is refused with too-large, and given over HTTP", async () => {
    c.router.get("huge", () => new Element("huge", { xmlns: "urn:xmpp:share:0" }).t("x".repeat(500_000)));
    const iq = () => parseXml(`<iq type='get' from='${A}' to='share.example.org' id='h'><huge xmlns='urn:xmpp:share:0'/></iq>`);
    const overXmpp = await c.router.handle(iq(), "xmpp");
    expect(overXmpp?.attrs.type).toBe("error");
    expect(overXmpp?.toString()).toContain("too-large");
    expect((await c.router.handle(iq(), "http"))?.attrs.type).toBe("result");
  });
});

describe("digests in presence (FIG. 9)", () => {
  const hello = (from: string, replica: string, spaces: Array<{ space: SpaceId; digest: string }>, show?: string) =>
    parseXml(`<presence from='${from}' to='share.example.org'>${show ? `<show>${show}</show>` : ""}${Sig.buildDigests({ replica: replica as ReplicaId, spaces })}</presence>`);
  /** The `<digests/>` of the presence stanzas sent to `to` since the last call. */
  let seen = 0;
  const toldTo = (to: string) => {
    const out = c.sent.slice(seen).filter((s) => s.name === "presence" && s.attrs.to === to).map((s) => Sig.parseDigests(s.getChild("digests")!));
    return out;
  };
  const mark = () => {
    seen = c.sent.length;
  };

  it("answers a sharing client's digests with the authoritative digest of each of its spaces, once per change", async () => {
    const { componentReplica } = await import("../../component/modules/digests.ts");
    const { id: space } = await pairSpace();
    mark();
    await c.presence.onPresence(hello(B, "phone", [{ space, digest: EMPTY_DIGEST }]));
    expect(toldTo(B)).toEqual([{ replica: componentReplica("share.example.org"), spaces: [{ space, digest: EMPTY_DIGEST }] }]);
    // The same presence again (a keepalive): nothing new to say, nothing sent.
    mark();
    await c.presence.onPresence(hello(B, "phone", [{ space, digest: EMPTY_DIGEST }]));
    expect(toldTo(B)).toEqual([]);
    const chunk = await c.upload("x", alice);
    const v1 = version("a.txt", "x", bump(EMPTY, laptop, 10), laptop, chunk);
    const v2 = version("b.txt", "x", bump(EMPTY, phone, 20), phone, chunk);
    await c.ok(A, "set", I.buildCommit({ space, changes: [{ version: v1, base: EMPTY }, { version: v2, base: EMPTY }] }));
    mark();
    await c.presence.onPresence(hello(B, "phone", [{ space, digest: EMPTY_DIGEST }]));
    expect(toldTo(B).map((d) => d.spaces)).toEqual([[{ space, digest: digest(merge(v1.vector, v2.vector)) }]]);
    // Non-members learn nothing; malformed presence, or presence without digests, gets no answer.
    mark();
    await c.presence.onPresence(hello(M, "evil", [{ space, digest: EMPTY_DIGEST }]));
    expect(toldTo(M).map((d) => d.spaces)).toEqual([[]]);
    await c.presence.onPresence(parseXml(`<presence from='${C}'><digests xmlns='urn:xmpp:share:0'/></presence>`));
    await c.presence.onPresence(parseXml(`<presence from='${C}'/>`));
    await c.presence.onPresence(parseXml(`<presence from='carol@example.org'><digests xmlns='urn:xmpp:share:0' replica='desk'/></presence>`));
    expect(c.sent.slice(seen).filter((s) => s.attrs.to !== M)).toEqual([]);
    expect(c.presence.online(carol)).toBe(false);
  });

  it("lists the other members' sharing clients online, with their digests and show, and only to members", async () => {
    const { id: space } = await pairSpace();
    const other = await c.ok<S.Space>(B, "set", S.buildCreateSpace({ kind: "pair", name: "Bob and Mallory", members: [mallory] }));
    const dB = digest(bump(EMPTY, phone, 5));
    await c.presence.onPresence(hello(B, "phone", [{ space, digest: dB }]));
    await c.presence.onPresence(hello(M, "evil", []));
    mark();
    await c.presence.onPresence(hello(A, "laptop", [{ space, digest: EMPTY_DIGEST }], "dnd"));
    // Alice sees Bob in their shared space, never Mallory (who shares nothing with her).
    const [toA] = toldTo(A);
    expect(toA!.spaces).toEqual([{ space, digest: EMPTY_DIGEST, peers: [{ jid: B, replica: phone, digest: dB }] }]);
    // Bob is told that Alice came (with her show); Mallory, who shares a space with Bob only, is not.
    const [toB] = toldTo(B);
    expect(toB!.spaces.find((x) => x.space === space)).toEqual({ space, digest: EMPTY_DIGEST, peers: [{ jid: A, replica: laptop, digest: EMPTY_DIGEST, show: "dnd" }] });
    expect(toB!.spaces.find((x) => x.space === other.id)).toEqual({ space: other.id, digest: EMPTY_DIGEST, peers: [{ jid: M, replica: "evil" }] });
    expect(toldTo(M)).toEqual([]);
    expect(JSON.stringify(c.sent.filter((x) => x.attrs.to === M).map(String))).not.toContain(space);
    // Alice goes: Bob's list loses her.
    mark();
    await c.presence.onPresence(parseXml(`<presence from='${A}' to='share.example.org' type='unavailable'/>`));
    expect(toldTo(B)[0]!.spaces.find((x) => x.space === space)).toEqual({ space, digest: EMPTY_DIGEST });
    expect(c.presence.online(alice)).toBe(false);
    expect(c.presence.clients(bob)).toEqual([B]);
  });
});

describe("SNM store and forward (FIG. 10)", () => {
  const snm = (space: SpaceId, replica: ReplicaId, vector: VersionVector) => Sig.buildSnm({ space, replica, vector });
  const online = (from: string, replica: string) =>
    c.presence.onPresence(parseXml(`<presence from='${from}' to='share.example.org'>${Sig.buildDigests({ replica: replica as ReplicaId, spaces: [] })}</presence>`));
  const settle = () => new Promise((r) => setTimeout(r, 10));

  it("keeps an SNM for a member who is offline and delivers it when their sharing client comes online", async () => {
    const { id: space } = await pairSpace();
    const v1 = bump(EMPTY, laptop, 10);
    const v2 = bump(EMPTY, "desk" as ReplicaId, 20);
    await c.ok(A, "set", snm(space, laptop, v1));
    await c.ok(A, "set", snm(space, "desk" as ReplicaId, v2));
    // One kept for Bob, the vectors merged; none for Alice (no other replica of hers is known).
    expect((await c.store.snmsFor(bob)).map((p) => p.snm)).toEqual([{ space, replica: "desk", vector: merge(v1, v2) }]);
    expect(await c.store.snmsFor(alice)).toEqual([]);
    await online(B, "phone");
    await settle();
    expect(c.requests.map((r) => r.attrs.to)).toEqual([B]);
    expect(Sig.parseSnm(c.requests[0]!.getChild("snm")!)).toEqual({ space, replica: "desk", vector: merge(v1, v2) });
    expect(await c.store.snmsFor(bob)).toEqual([]);
  });

  it("keeps the SNM when the client does not answer, and stores nothing for members who are online", async () => {
    const { id: space } = await pairSpace();
    c.answerWith(async () => {
      throw new Error("timeout");
    });
    await c.ok(A, "set", snm(space, laptop, bump(EMPTY, laptop, 1)));
    await online(B, "phone");
    await settle();
    expect(c.requests).toHaveLength(1);
    expect(await c.store.snmsFor(bob)).toHaveLength(1);
    // Bob online: an SNM now goes straight to him (the client does that), nothing is kept anew.
    await c.store.dropSnm(bob, space, (await c.store.snmsFor(bob))[0]!.storedMs);
    await c.ok(A, "set", snm(space, laptop, bump(EMPTY, laptop, 2)));
    expect(await c.store.snmsFor(bob)).toEqual([]);
  });

  it("keeps one for the sender's own other devices only when the component knows one", async () => {
    const { id: space } = await pairSpace();
    await c.ok(A, "set", I.buildAck({ space, replica: "desk" as ReplicaId, seq: 0 }));
    await c.ok(A, "set", snm(space, laptop, bump(EMPTY, laptop, 1)));
    expect((await c.store.snmsFor(alice)).map((p) => p.snm.replica)).toEqual([laptop]);
  });

  it("refuses SNMs from non-members as if the space did not exist, and drops kept ones for members who left", async () => {
    const { id: space } = await pairSpace();
    expect((await c.fails(M, "set", snm(space, "evil" as ReplicaId, bump(EMPTY, "evil" as ReplicaId, 1)))).code).toBe("not-found");
    expect((await c.fails(M, "set", snm("s-nope" as SpaceId, "evil" as ReplicaId, EMPTY))).code).toBe("not-found");
    expect((await c.fails(A, "set", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'/>")).code).toBe("bad-request");
    await c.ok(A, "set", snm(space, laptop, bump(EMPTY, laptop, 1)));
    await c.ok(B, "set", S.buildLeaveSpace(space));
    await online(B, "phone");
    await settle();
    expect(c.requests).toEqual([]);
    expect(await c.store.snmsFor(bob)).toEqual([]);
  });
});

describe("recording uploaded chunks (record-chunks.ts)", () => {
  const setup = async () => {
    const { chunkRecorder } = await import("../../component/record-chunks.ts");
    const { Mutex } = await import("../../component/modules/gc.ts");
    const { MemoryBlobStore } = await import("../../component/store/memory-blobs.ts");
    const { MemoryMetadataStore } = await import("../../component/store/memory-metadata.ts");
    const blobs = new MemoryBlobStore();
    const store = new MemoryMetadataStore();
    const log: string[] = [];
    let syncGate: Promise<void> = Promise.resolve();
    const lock = new Mutex();
    const record = chunkRecorder({
      blobs: {
        sizes: async (hs) => (log.push(`sizes ${hs.length}`), blobs.sizes(hs)),
        sync: async (hs) => {
          log.push(`sync ${hs.length}`);
          await syncGate;
        },
      },
      store: {
        addChunks: async (cs, uploader, nowMs) => {
          log.push(`add ${cs.length} ${uploader} ${nowMs}`);
          return store.addChunks(cs, uploader, nowMs);
        },
      },
      lock,
    });
    const stored = async (content: string) => {
      const b = Buffer.from(content);
      await blobs.put(sha(content), (async function* () { yield b; })(), { maxBytes: 1 << 20 });
      return { hash: sha(content), size: b.length };
    };
    return { record, blobs, store, log, lock, stored, gate: (p: Promise<void>) => (syncGate = p) };
  };

  it("calls that arrive while one records go together: one lookup, one sync, one transaction per uploader", async () => {
    const t = await setup();
    const [a, b, c2, d] = await Promise.all(["a", "b", "c", "d"].map((x) => t.stored(x)));
    let open!: () => void;
    t.gate(new Promise<void>((r) => (open = r)));
    const first = t.record([a!], alice, 1);
    await new Promise((r) => setTimeout(r, 10)); // the first is now waiting for its sync
    const rest = [t.record([b!], alice, 3), t.record([c2!, a!], alice, 2), t.record([d!], bob, 4)];
    expect(t.log).toEqual(["sizes 1", "sync 1"]);
    open();
    await Promise.all([first, ...rest]);
    expect(t.log).toEqual(["sizes 1", "sync 1", `add 1 ${alice} 1`, "sizes 4", "sync 4", `add 3 ${alice} 3`, `add 1 ${bob} 4`]);
    expect(await t.store.hasChunks([a!.hash, b!.hash, c2!.hash, d!.hash])).toEqual(new Set([a!.hash, b!.hash, c2!.hash, d!.hash]));
    expect(await t.store.uploadedBytes(alice)).toBe(3);
    expect(await t.store.uploadedBytes(bob)).toBe(1);
    // Nothing to record: nothing done.
    await t.record([], alice, 5);
    expect(t.log).toHaveLength(7);
  });

  it("a call naming a vanished chunk fails alone; a failed sync fails its group only", async () => {
    const t = await setup();
    const [a, b] = await Promise.all(["a", "b"].map((x) => t.stored(x)));
    const ghost = { hash: sha("never stored"), size: 3 };
    let open!: () => void;
    t.gate(new Promise<void>((r) => (open = r)));
    const first = t.record([a!], alice, 1);
    await new Promise((r) => setTimeout(r, 10));
    const bad = t.record([b!, ghost], alice, 2);
    const good = t.record([b!], alice, 3);
    open();
    await first;
    await expect(bad).rejects.toThrow(/vanished/);
    await good;
    expect(await t.store.hasChunks([b!.hash, ghost.hash])).toEqual(new Set([b!.hash]));
    t.gate(Promise.reject(new Error("disk on fire")));
    await expect(t.record([a!], alice, 4)).rejects.toThrow(/disk on fire/);
    t.gate(Promise.resolve());
    await t.record([a!], alice, 5);
  });

  it("waits for the GC mutex: nothing is checked or recorded while GC holds it", async () => {
    const t = await setup();
    const a = await t.stored("a");
    let release!: () => void;
    const held = t.lock.runExclusive(() => new Promise<void>((r) => (release = r)));
    const rec = t.record([a], alice, 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(t.log).toEqual([]);
    // GC deletes the bytes meanwhile: the recording must then refuse.
    await t.blobs.delete(a.hash);
    release();
    await held;
    await expect(rec).rejects.toThrow(/vanished/);
    expect(await t.store.hasChunks([a.hash])).toEqual(new Set());
  });
});
