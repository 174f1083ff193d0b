/**
 * The patent's FIG. 6, with real processes: Prosody, the sharing manager and `xshare` for Adam,
 * Bob and Charlene, whose group folder is laid out as FIG. 3 (`Groups/Family` on each device).
 * The figure's blocks and how each is shown:
 *
 *   "An indication is received that data is to be shared (a photo dragged into a folder)":
 *   Adam's `xshare run` notices the photo written into his group folder.
 *
 *   "A determination is made as to which other clients are to receive the shared data, through
 *   examination of the folder": the folder is the group space, whose members (the group's
 *   persistent object on the sharing manager) are Bob and Charlene; Adam's client knows which
 *   of their sharing clients are online (`xshare status --json` while it runs).
 *
 *   "The data is synchronized with the other clients that are available": Bob, logged on,
 *   receives the photo without doing anything.
 *
 *   "The data is stored for communication to the clients that are not available": Charlene is
 *   not logged on. The sharing manager holds what she needs: the photo's index entry, every one
 *   of its chunks (its database records a chunk only while its bytes are stored), and one SNM
 *   kept for her in `pending_snms`.
 *
 *   "When a previously unavailable client becomes available, the data is synchronized with it":
 *   Adam and Bob log off, then Charlene logs on: the sharing manager alone serves her the photo
 *   (its HTTP log shows the chunk downloads), delivers the kept SNM and drops it.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, hasContent, startCast, syncLines } from "../harness/cast.ts";

let cast: Cast;
let family = "";
const photo = randomBytes(700_000);
const groupFolder = (name: string) => cast.sharing(name, "Groups", "Family");

/** The sharing manager's record of a path in a space: its index entry and its chunks. */
function held(space: string, file: string) {
  return cast.componentDb((db) => {
    const entry = db.prepare("SELECT seq, size, deleted FROM entries WHERE space_id = ? AND path = ?").get(space, file) as { seq: number; size: number; deleted: number } | undefined;
    const chunks = db.prepare("SELECT r.hash, c.size FROM chunk_refs r LEFT JOIN chunks c ON c.hash = r.hash WHERE r.space_id = ? AND r.path = ?").all(space, file) as Array<{ hash: string; size: number | null }>;
    return { entry, chunks };
  });
}

beforeAll(async () => {
  cast = await startCast(["adam", "bob", "charlene"]);
  await mkdir(groupFolder("adam"), { recursive: true });
  family = (await cast.run("adam", ["share", groupFolder("adam"), "--with", `${cast.jid("bob")},${cast.jid("charlene")}`, "--group", "Family"])).trim();
  // Bob and Charlene accept: the group folder is laid out as FIG. 3.
  for (const name of ["bob", "charlene"]) expect(await cast.run(name, ["accept", family])).toContain(`${family} → ${groupFolder(name)}`);
  await cast.online("adam");
  await cast.online("bob");
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

describe("FIG. 6: sharing with members who are not all online", () => {
  it("Adam drops a photo into the group folder; his client determines which clients share the folder; Bob, who is logged on, is synchronized at once", async () => {
    await writeFile(path.join(groupFolder("adam"), "photo.jpg"), photo);
    // Adam's client: the folder is shared with Bob and Charlene; Bob's sharing client is
    // online, Charlene has none.
    await cast.eventually("Adam's client pushes the photo", () => syncLines(cast.daemon("adam")!.output(), family).some((l) => l.sent === 1));
    const rows = JSON.parse(await cast.run("adam", ["status", "--json"])) as Array<{ id: string; members: string[]; online?: Record<string, Array<{ resource: string }>> }>;
    const row = rows.find((r) => r.id === family)!;
    expect(row.members.sort()).toEqual([cast.jid("adam"), cast.jid("bob"), cast.jid("charlene")]);
    expect(row.online).toEqual({ [cast.jid("bob")]: [{ resource: "xshare-bob-pc" }], [cast.jid("charlene")]: [] });

    await cast.eventually("Bob has the photo", hasContent(path.join(groupFolder("bob"), "photo.jpg"), photo));
    expect(syncLines(cast.daemon("bob")!.output(), family).filter((l) => l.received > 0)).toHaveLength(1);
  }, 60_000);

  it("Charlene is not logged on: the data is stored for her by the sharing manager", async () => {
    await expect(readFile(path.join(groupFolder("charlene"), "photo.jpg"))).rejects.toThrow();
    const { entry, chunks } = held(family, "photo.jpg");
    expect(entry).toMatchObject({ size: photo.length, deleted: 0 });
    expect(chunks.length).toBeGreaterThan(0);
    // Every chunk of the photo is stored (a chunk row exists only while its bytes are there).
    for (const c of chunks) expect(c.size, c.hash).not.toBeNull();
    expect(chunks.reduce((n, c) => n + (c.size ?? 0), 0)).toBeGreaterThanOrEqual(photo.length);
    // And the news is kept for her: one SNM, for the group space; none for Bob, who has it.
    expect(cast.pendingSnms()).toEqual([`${cast.jid("charlene")} ${family}`]);
  }, 30_000);

  it("when Charlene logs on, with Adam and Bob gone, the sharing manager synchronizes the folder with her", async () => {
    await cast.offline("adam");
    await cast.offline("bob");
    const from = cast.component.output().length;
    const charlene = await cast.online("charlene");
    await cast.eventually("Charlene has the photo", hasContent(path.join(groupFolder("charlene"), "photo.jpg"), photo));
    await cast.eventually("the kept SNM is delivered and dropped", () => cast.pendingSnms().length === 0);
    await cast.eventually("Charlene's client reports the photo", () => syncLines(charlene.output(), family).some((l) => l.received === 1));
    // Nobody else was online: the chunks came from the sharing manager's store, over its HTTP.
    const served = cast.component
      .output()
      .slice(from)
      .split("\n")
      .filter((l) => l.includes('"chunk request"'))
      .map((l) => JSON.parse(l) as { method: string; path: string; status: number | string });
    expect(served.filter((r) => r.status === 200 && (r.method === "GET" || r.path.endsWith("/batch-get"))).length).toBeGreaterThan(0);
    // All three hold the same folder.
    for (const name of ["adam", "bob", "charlene"]) expect(cast.deviceDigest(name, family), name).toBe(cast.componentDigest(family));
  }, 60_000);
});
