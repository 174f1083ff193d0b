/**
 * The patent's FIG. 7, with real processes: Prosody, the sharing manager and `xshare run` for
 * Adam, Bob and Charlene. Bob's "my sharing" folder (`Sharing/My sharing`) is copied, as FIG. 3
 * shows, into a "Bob" folder on Adam's and Charlene's devices (`Sharing/bob@example.org`). The
 * figure's blocks and how each is shown:
 *
 *   "The sharing module monitors interaction with the client data: does it trigger replication?
 *   If not, the interaction continues to be monitored": Bob reads a file and touches its mtime.
 *   His client looks (one sync session, it prints one line) and finds nothing to send; the
 *   sharing manager's index does not move; Adam's and Charlene's clients are not asked to do
 *   anything (their next sync is the one that brings the next real change).
 *
 *   "When the interaction triggers replication, a determination is made as to which clients are
 *   specified to share the data with, e.g. the 'my sharing' folder, copies of which are on Bob's
 *   contacts' devices": Bob edits a file; his client sends it; it arrives in the "Bob" folders of
 *   Adam and Charlene, and nowhere else. Those copies are read-only for them: Adam's edit in his
 *   "Bob" folder stays on his device (his client reports it as not sent).
 *
 *   "Presence of each of the determined clients is ascertained: online, offline, online but not
 *   receiving instant messages": Bob's client lists, per member, their sharing clients online and
 *   their show (`xshare status --json` while it runs): Adam offline, Charlene dnd.
 *
 *   "The data is shared with each client when present: is the client logged on? If yes, the
 *   data item is synchronized; if not, presence is monitored again": Charlene, online but busy
 *   (dnd, then xa), hears of Bob's change and fetches it only once she is available again; Adam,
 *   offline, is kept an SNM by the sharing manager and receives the change when he logs on.
 */
import { mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, hasContent, startCast, syncLines } from "../harness/cast.ts";

let cast: Cast;
let mine = "";
const bobsOwn = () => cast.sharing("bob", "My sharing");
/** The copy of Bob's "my sharing" on a contact's device: their "Bob" folder (FIG. 3). */
const bobFolder = (name: string) => cast.sharing(name, cast.jid("bob"));
/** Where each daemon's output stood before Bob touched his file. */
const beforeTouch: Record<string, number> = {};

/** The sharing manager's head (last sequence) for the space, and its index entry for a path. */
function index(file: string) {
  return cast.componentDb((db) => ({
    head: (db.prepare("SELECT head FROM spaces WHERE id = ?").get(mine) as { head: number }).head,
    seq: (db.prepare("SELECT seq FROM entries WHERE space_id = ? AND path = ?").get(mine, file) as { seq: number } | undefined)?.seq,
  }));
}

type StatusRow = { id: string; members: string[]; readOnlyLocalChanges: number; online?: Record<string, Array<{ resource: string; show?: string }>> };
async function status(name: string): Promise<StatusRow> {
  return (JSON.parse(await cast.run(name, ["status", "--json"])) as StatusRow[]).find((r) => r.id === mine)!;
}

beforeAll(async () => {
  cast = await startCast(["adam", "bob", "charlene"]);
  await mkdir(bobsOwn(), { recursive: true });
  await writeFile(path.join(bobsOwn(), "cv.txt"), "Bob's CV\n");
  mine = (await cast.run("bob", ["share", bobsOwn(), "--mine", "--with", `${cast.jid("adam")},${cast.jid("charlene")}`])).trim();
  for (const name of ["adam", "charlene"]) expect(await cast.run(name, ["accept", mine])).toContain(`${mine} → ${bobFolder(name)}`);
  for (const name of ["bob", "adam", "charlene"]) await cast.online(name);
  for (const name of ["adam", "charlene"]) await cast.eventually(`${name} has Bob's CV`, hasContent(path.join(bobFolder(name), "cv.txt"), "Bob's CV\n"));
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

/**
 * Until `name`'s client has printed nothing for a second: the syncs that coming online started
 * are over. The CV is on disk before the sync that wrote it has finished, and a second trigger
 * (an SNM and the sharing manager's digests both announce it) may still be queued behind it.
 */
async function idle(name: string): Promise<void> {
  let length = -1;
  let since = Date.now();
  await cast.eventually(`${name}'s client is idle`, () => {
    const now = cast.daemon(name)!.output().length;
    if (now !== length) [length, since] = [now, Date.now()];
    return Date.now() - since >= 1000;
  });
}

describe("FIG. 7: replicating on change, to each member when present", () => {
  it("Bob reads a file and touches it: the interaction does not change the data, so it triggers no replication; his client goes on monitoring", async () => {
    for (const name of ["adam", "bob", "charlene"]) await idle(name);
    for (const name of ["adam", "bob", "charlene"]) beforeTouch[name] = cast.daemon(name)!.output().length;
    const before = index("cv.txt");
    expect(await readFile(path.join(bobsOwn(), "cv.txt"), "utf8")).toBe("Bob's CV\n");
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(bobsOwn(), "cv.txt"), later, later);
    await cast.eventually("Bob's client looks at the touched file", () => syncLines(cast.daemon("bob")!.output().slice(beforeTouch.bob), mine).length > 0);
    for (const l of syncLines(cast.daemon("bob")!.output().slice(beforeTouch.bob), mine)) expect(l).toMatchObject({ status: "in-sync", sent: 0, received: 0 });
    expect(index("cv.txt")).toEqual(before);
  }, 30_000);

  it("Bob changes the file: that triggers replication to the clients the folder is shared with, Adam's and Charlene's 'Bob' folders", async () => {
    const before = index("cv.txt");
    await writeFile(path.join(bobsOwn(), "cv.txt"), "Bob's CV, 2nd edition\n");
    for (const name of ["adam", "charlene"]) await cast.eventually(`${name} has the new CV`, hasContent(path.join(bobFolder(name), "cv.txt"), "Bob's CV, 2nd edition\n"));
    // One new version, the edit: the touch before it added none.
    expect(index("cv.txt")).toEqual({ head: before.head + 1, seq: before.head + 1 });
    await cast.eventually("Bob's client reports what it sent", () => syncLines(cast.daemon("bob")!.output().slice(beforeTouch.bob), mine).some((l) => l.sent > 0));
    expect(syncLines(cast.daemon("bob")!.output().slice(beforeTouch.bob), mine).filter((l) => l.sent > 0).map((l) => l.sent)).toEqual([1]);
    // Adam's and Charlene's clients did nothing for the touch: their first sync since is the one
    // that received the edit.
    for (const name of ["adam", "charlene"]) {
      await cast.eventually(`${name}'s client reports the edit`, () => syncLines(cast.daemon(name)!.output().slice(beforeTouch[name]), mine).length > 0);
      expect(syncLines(cast.daemon(name)!.output().slice(beforeTouch[name]), mine)[0], name).toMatchObject({ sent: 0, received: 1 });
    }
    // Bob's client knew whom to send it to: the members, both of whose sharing clients are online.
    const row = await status("bob");
    expect(row.members.sort()).toEqual([cast.jid("adam"), cast.jid("bob"), cast.jid("charlene")]);
    expect(row.online).toEqual({ [cast.jid("adam")]: [{ resource: "xshare-adam-pc" }], [cast.jid("charlene")]: [{ resource: "xshare-charlene-pc" }] });
  }, 60_000);

  it("the copies are read-only for Adam and Charlene: Adam's edit in his 'Bob' folder is not sent", async () => {
    const before = index("cv.txt");
    const mark = cast.daemon("adam")!.output().length;
    await writeFile(path.join(bobFolder("adam"), "cv.txt"), "Adam was here\n");
    await cast.eventually("Adam's client looks at his edit", () => syncLines(cast.daemon("adam")!.output().slice(mark), mine).length > 0);
    expect(syncLines(cast.daemon("adam")!.output().slice(mark), mine)[0]).toMatchObject({ status: "in-sync", sent: 0 });
    expect((await status("adam")).readOnlyLocalChanges).toBe(1);
    expect(index("cv.txt")).toEqual(before);
    expect(await readFile(path.join(bobsOwn(), "cv.txt"), "utf8")).toBe("Bob's CV, 2nd edition\n");
    expect(await readFile(path.join(bobFolder("charlene"), "cv.txt"), "utf8")).toBe("Bob's CV, 2nd edition\n");
    expect(await readFile(path.join(bobFolder("adam"), "cv.txt"), "utf8")).toBe("Adam was here\n");
  }, 30_000);

  it("Bob's client ascertains each member's presence (Adam offline, Charlene online but busy); each is synchronized once logged on and receiving, and monitored until then", async () => {
    await cast.offline("adam");
    expect(await cast.run("charlene", ["presence", "dnd"])).toContain("presence dnd");
    await cast.daemon("charlene")!.waitFor(/presence dnd\n/);
    await cast.eventually("Bob's client sees Adam offline and Charlene busy", async () => {
      const online = (await status("bob")).online;
      return JSON.stringify(online) === JSON.stringify({ [cast.jid("adam")]: [], [cast.jid("charlene")]: [{ resource: "xshare-charlene-pc", show: "dnd" }] });
    });

    const charleneMark = cast.daemon("charlene")!.output().length;
    const photo = Buffer.alloc(250_000, 3);
    await writeFile(path.join(bobsOwn(), "photo.jpg"), photo);
    await cast.eventually("Bob's client sends the photo", () => cast.pendingSnms().includes(`${cast.jid("adam")} ${mine}`));
    // Charlene, online but not receiving, hears of it and leaves it for later; nothing is kept for
    // her (she heard). Adam, offline: the sharing manager keeps the news for him.
    await cast.daemon("charlene")!.waitFor(new RegExp(`${mine}: changed elsewhere; fetched when you are back \\(presence dnd\\)`));
    expect(syncLines(cast.daemon("charlene")!.output().slice(charleneMark), mine)).toEqual([]);
    await expect(readFile(path.join(bobFolder("charlene"), "photo.jpg"))).rejects.toThrow();
    expect(cast.pendingSnms()).toEqual([`${cast.jid("adam")} ${mine}`]);

    // Still not receiving in xa: still monitored, not fetched.
    await cast.run("charlene", ["presence", "xa"]);
    await cast.daemon("charlene")!.waitFor(/presence xa\n/);
    await cast.eventually("Bob's client sees Charlene away for long", async () => (await status("bob")).online?.[cast.jid("charlene")]?.[0]?.show === "xa");
    expect(syncLines(cast.daemon("charlene")!.output().slice(charleneMark), mine)).toEqual([]);
    await expect(readFile(path.join(bobFolder("charlene"), "photo.jpg"))).rejects.toThrow();

    // Available again: synchronized.
    await cast.run("charlene", ["presence", "available"]);
    await cast.eventually("Charlene has the photo once available", hasContent(path.join(bobFolder("charlene"), "photo.jpg"), photo));
    // Adam logs on: synchronized, and the kept SNM is dropped. His own edit stays his.
    await cast.online("adam");
    await cast.eventually("Adam has the photo once logged on", hasContent(path.join(bobFolder("adam"), "photo.jpg"), photo));
    await cast.eventually("the kept SNM is dropped", () => cast.pendingSnms().length === 0);
    expect(await readFile(path.join(bobFolder("adam"), "cv.txt"), "utf8")).toBe("Adam was here\n");
  }, 90_000);
});
