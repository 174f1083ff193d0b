/**
 * A path that changes kind on another replica: a file that becomes a folder, a folder that
 * becomes a file. Both arrive, and the sync goes on afterwards (found by issue 7's review: the
 * file-to-folder case failed every sync from then on with EEXIST).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alicePairsWithBob, startSharing } from "./fixtures/sharing.ts";

let world: Awaited<ReturnType<typeof startSharing>>;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});

const pair = () => alicePairsWithBob(world);

describe("a path that changes kind elsewhere", () => {
  it("a file that became a folder arrives as a folder, with its files", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("notes", "a file at first\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    expect(Buffer.from(bfs.readFile("notes")).toString()).toBe("a file at first\n");
    await afs.remove("notes");
    afs.writeFile("notes/monday.txt", "now a folder\n", { mtimeMs: 2000 });
    await a.sync(space.id);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect((await bfs.lstat("notes"))?.kind).toBe("dir");
    expect(Buffer.from(bfs.readFile("notes/monday.txt")).toString()).toBe("now a folder\n");
    expect((await b.sync(space.id)).status).toBe("in-sync");
  });

  it("a folder that became a file arrives as a file", async () => {
    const { a, b, space, afs, bfs } = await pair();
    afs.writeFile("notes/monday.txt", "a folder at first\n", { mtimeMs: 1000 });
    await a.sync(space.id);
    await b.sync(space.id);
    await afs.remove("notes/monday.txt");
    await afs.remove("notes");
    afs.writeFile("notes", "now a file\n", { mtimeMs: 2000 });
    await a.sync(space.id);
    expect((await b.sync(space.id)).status).toBe("in-sync");
    expect((await bfs.lstat("notes"))?.kind).toBe("file");
    expect(Buffer.from(bfs.readFile("notes")).toString()).toBe("now a file\n");
    expect((await b.sync(space.id)).status).toBe("in-sync");
  });
});
