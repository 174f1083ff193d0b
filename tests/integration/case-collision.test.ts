/**
 * Names that differ only in case (issue 7, row 1): `Foo.txt` from Alice and `foo.txt` from Bob,
 * made offline at the same time. On a case-insensitive disk they are one file, and writing both
 * lost one of them (then its deletion went to everyone). The sharing manager takes the first and
 * refuses the second (`invalid-path`, reason `case-collision`); Bob's file stays on his disk,
 * reported, his other changes go through, and Carol on a case-insensitive disk gets one file.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryFs } from "../../client/fs/memory.ts";
import type { BareJid } from "../../protocol/ids.ts";
import { startSharing } from "./fixtures/sharing.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
let world: Awaited<ReturnType<typeof startSharing>>;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});
const text = (fs: MemoryFs, p: string) => Buffer.from(fs.readFile(p)).toString();

describe("names that differ only in case", () => {
  it("the second is refused and stays where it is; nothing is lost on a case-insensitive disk", async () => {
    const a = world.device(alice, "laptop", new MemoryFs({ root: "alice:/" }));
    const b = world.device(bob, "phone", new MemoryFs({ root: "bob:/" }));
    const c = world.device(carol, "mac", new MemoryFs({ root: "carol:/", caseInsensitive: true }));
    const group = await a.remote.createGroup({ name: "Trip", members: [bob, carol] });
    const space = await a.remote.createSpace({ kind: "group", name: "Trip", group: group.id });
    for (const d of [a, b, c]) await d.attach(space);
    const [afs, bfs, cfs] = [a.fs, b.fs, c.fs] as [MemoryFs, MemoryFs, MemoryFs];
    afs.writeFile("Foo.txt", "Alice's\n", { mtimeMs: 1000 });
    bfs.writeFile("foo.txt", "Bob's\n", { mtimeMs: 1000 });
    bfs.writeFile("other.txt", "Bob's other\n", { mtimeMs: 1000 });
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const r = await b.sync(space.id);
    expect(r.status).toBe("in-sync");
    expect(r.skipped).toContainEqual({ path: "foo.txt", reason: "case-collision" });
    // Bob has both (his disk tells them apart), and his other file went.
    expect(text(bfs, "foo.txt")).toBe("Bob's\n");
    expect(text(bfs, "Foo.txt")).toBe("Alice's\n");
    expect((await a.sync(space.id)).status).toBe("in-sync");
    expect(text(afs, "other.txt")).toBe("Bob's other\n");
    await expect(afs.lstat("foo.txt")).resolves.toBeUndefined();
    // Carol's disk cannot hold both: she gets Alice's, and nothing is deleted anywhere.
    expect((await c.sync(space.id)).status).toBe("in-sync");
    expect(text(cfs, "Foo.txt")).toBe("Alice's\n");
    expect(text(cfs, "other.txt")).toBe("Bob's other\n");
    expect((await a.sync(space.id)).status).toBe("in-sync");
    expect(text(afs, "Foo.txt")).toBe("Alice's\n");
    // A second sync of Bob's sends nothing, and does not loop on the refusal.
    const again = await b.sync(space.id);
    expect(again).toMatchObject({ status: "in-sync", pushed: 0 });
    expect(text(bfs, "foo.txt")).toBe("Bob's\n");
  });

  it("on a case-insensitive disk that already has FOO.txt, Foo.txt from elsewhere is reported, and FOO.txt refused: both stay", async () => {
    const a = world.device(alice, "laptop", new MemoryFs({ root: "alice:/" }));
    const c = world.device(carol, "mac", new MemoryFs({ root: "carol:/", caseInsensitive: true }));
    const space = await a.remote.createSpace({ kind: "pair", name: "Trip", members: [carol] });
    for (const d of [a, c]) await d.attach(space);
    const [afs, cfs] = [a.fs, c.fs] as [MemoryFs, MemoryFs];
    afs.writeFile("Foo.txt", "Alice's\n", { mtimeMs: 1000 });
    cfs.writeFile("FOO.txt", "Carol's\n", { mtimeMs: 1000 });
    cfs.writeFile("other.txt", "Carol's other\n", { mtimeMs: 1000 });
    expect((await a.sync(space.id)).status).toBe("in-sync");
    const r = await c.sync(space.id);
    expect(r.status).toBe("in-sync");
    expect(r.skipped).toContainEqual({ path: "FOO.txt", reason: "case-collision with Foo.txt" });
    expect(text(cfs, "FOO.txt")).toBe("Carol's\n");
    expect((await a.sync(space.id)).status).toBe("in-sync");
    expect(text(afs, "Foo.txt")).toBe("Alice's\n");
    expect(text(afs, "other.txt")).toBe("Carol's other\n");
    // Every sync says again that Alice's Foo.txt waits (the index position has moved past it).
    const again = await c.sync(space.id);
    expect(again.status).toBe("in-sync");
    expect(again.skipped).toContainEqual({ path: "Foo.txt", reason: "case-collision with local FOO.txt" });
    expect(text(cfs, "FOO.txt")).toBe("Carol's\n");
    // Carol renames hers out of the way: the next sync writes Alice's, and sends Carol's new name.
    await cfs.rename("FOO.txt", "FOO (Carol).txt");
    const after = await c.sync(space.id);
    expect(after.status).toBe("in-sync");
    expect(after.skipped).toEqual([]);
    expect(text(cfs, "Foo.txt")).toBe("Alice's\n");
    expect(text(cfs, "FOO (Carol).txt")).toBe("Carol's\n");
    expect((await a.sync(space.id)).status).toBe("in-sync");
    expect(text(afs, "FOO (Carol).txt")).toBe("Carol's\n");
    expect(text(afs, "Foo.txt")).toBe("Alice's\n");
    // Written once: nothing waits any more, and a further sync moves nothing.
    expect(c.state.waiting(space.id)).toEqual([]);
    expect(await c.sync(space.id)).toMatchObject({ status: "in-sync", pushed: 0, pulled: 0 });
  });
});
