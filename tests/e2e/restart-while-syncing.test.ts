/**
 * Faults (issue 7, row 9): Prosody restarted while Adam's, Bob's and Charlene's `xshare run`
 * and the sharing manager are in the middle of syncing a group folder that all three keep
 * changing. Everyone reconnects by themselves, and the three folders converge on exactly what
 * was written: every file, each with its last content, none twice (no conflict copy, since no
 * two people wrote the same file), and the same vector digest on every device and the sharing
 * manager.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, startCast } from "../harness/cast.ts";
import { folderText } from "../harness/folder.ts";

const PEOPLE = ["adam", "bob", "charlene"] as const;
let cast: Cast;
let space = "";
const folders: Record<string, string> = {};

beforeAll(async () => {
  cast = await startCast(PEOPLE);
  folders.adam = cast.sharing("adam", "Groups", "Family");
  await mkdir(folders.adam, { recursive: true });
  space = (await cast.run("adam", ["share", folders.adam, "--with", `${cast.jid("bob")},${cast.jid("charlene")}`, "--group", "Family"])).trim();
  for (const who of ["bob", "charlene"] as const) folders[who] = await cast.accept(who, space);
  for (const who of PEOPLE) await cast.online(who);
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

/** Files of a folder (not the client's state) and their contents, sorted by path. */
async function tree(dir: string): Promise<Record<string, string>> {
  return Object.fromEntries(await folderText(dir));
}

describe("Prosody restarted in the middle of syncing", () => {
  it("everyone reconnects on their own and converges on what was written, nothing lost or doubled", async () => {
    const expected: Record<string, string> = {};
    // Each person writes files of their own, and rewrites some, before, during and after the restart.
    const write = async (round: number) => {
      for (const who of PEOPLE) {
        for (let i = 0; i < 8; i++) {
          const name = `${who}/note-${i}.txt`;
          const text = `${who} ${i} round ${round}\n`;
          await mkdir(path.join(folders[who]!, who), { recursive: true });
          await writeFile(path.join(folders[who]!, name), text);
          expected[name] = text;
        }
      }
    };
    await write(1);
    await new Promise((r) => setTimeout(r, 150));
    const restart = cast.prosody.restart();
    await write(2);
    await restart;
    await write(3);
    for (const who of PEOPLE) await cast.daemon(who)!.waitFor(/disconnected[^\n]*reconnecting\n[^]*online as /, 60_000);
    await write(4);
    for (const who of PEOPLE) {
      await cast.eventually(`${who}'s folder has everything, as last written`, async () => JSON.stringify(await tree(folders[who]!)) === JSON.stringify(sorted(expected)), 90_000);
    }
    for (const who of PEOPLE) {
      const files = Object.keys(await tree(folders[who]!));
      expect(files.filter((f) => f.includes(".sync-conflict-")), who).toEqual([]);
    }
    await cast.eventually("every device and the sharing manager agree", () => PEOPLE.every((who) => cast.deviceDigest(who, space) === cast.componentDigest(space)), 60_000);
    // The sharing manager holds each path once, as last written, and nothing else.
    const live = cast.componentDb((db) => db.prepare("SELECT path FROM entries WHERE space_id = ? AND deleted = 0 AND kind = 'file' ORDER BY path").pluck().all(space) as string[]);
    expect(live).toEqual(Object.keys(expected).sort());
  }, 240_000);
});

function sorted(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
