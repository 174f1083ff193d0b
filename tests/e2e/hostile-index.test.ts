/**
 * Bad input (issue 7, row 1), the other way round: a sharing manager that sends hostile paths
 * to a running client. The real component refuses such paths at commit, so the test plays a
 * compromised one: its database is edited while it is stopped (entries with `../`, an absolute
 * path, a backslash, `CON.txt`, the client's state folder), beside one good new file. Bob's
 * `xshare run` must write the good file, write nothing for the others (and nothing anywhere
 * outside his folder), report each refused path with its rule in `status` (also after the sync
 * that read them), agree with the component's digest (no sync loop), and keep running.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decode, encode, type VersionVector } from "../../protocol/vv.ts";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";

let cast: Cast;
let space: string;
let adamDir: string;
let bobDir: string;

beforeAll(async () => {
  cast = await startCast(["adam", "bob"]);
  adamDir = cast.sharing("adam", "Trip");
  await mkdir(adamDir, { recursive: true });
  await writeFile(path.join(adamDir, "a.txt"), "hello from adam\n");
  space = (await cast.run("adam", ["share", adamDir, "--with", cast.jid("bob")])).trim();
  expect(await cast.run("adam", ["sync"])).toContain("in-sync");
  bobDir = await cast.accept("bob", space);
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

/** Every file name under `dir`, recursively (relative paths). */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + e.name;
    out.push(rel);
    if (e.isDirectory()) out.push(...(await tree(path.join(dir, e.name), rel + "/")));
  }
  return out;
}

const HOSTILE: Array<[string, string]> = [
  ["../escaped.txt", "dot-dot"],
  ["sub/../../escaped-2.txt", "dot-dot"],
  ["/tmp/xshare-hostile-absolute.txt", "absolute"],
  ["evil\\..\\escaped-3.txt", "backslash"],
  ["CON.txt", "windows-reserved"],
  [".xshare/space", "reserved"],
];

describe("a hostile index page sent to a running client", () => {
  it("writes the good entry, nothing for the hostile ones, reports them, and keeps running", async () => {
    const bob = await cast.online("bob", ["--keepalive", "2"]);
    await cast.eventually("Bob has a.txt", hasContent(path.join(bobDir, "a.txt"), "hello from adam\n"));
    const before = new Set(await tree(cast.root));

    // The compromised sharing manager: new entries after the head, each with a vector that
    // moves (so that Bob's digest differs and his client reads them), sharing a.txt's chunk.
    expect(await cast.component.stop()).toBe(0);
    const db = new Database(path.join(cast.component.dataDir, "metadata.sqlite"));
    try {
      const row = db.prepare("SELECT * FROM entries WHERE space_id = ? AND path = 'a.txt'").get(space) as Record<string, unknown>;
      let head = (db.prepare("SELECT head FROM spaces WHERE id = ?").get(space) as { head: number }).head;
      const base = decode(row.vector as Buffer);
      const insert = db.prepare(
        "INSERT INTO entries (space_id, path, seq, kind, hash, size, mtime, mode, deleted, replica, vector, chunks) VALUES (@space_id, @path, @seq, @kind, @hash, @size, @mtime, @mode, @deleted, @replica, @vector, @chunks)",
      );
      const refs = db.prepare("INSERT OR IGNORE INTO chunk_refs (space_id, path, hash) SELECT space_id, ?, hash FROM chunk_refs WHERE space_id = ? AND path = 'a.txt'");
      let n = 0;
      for (const p of [...HOSTILE.map(([p]) => p), "b.txt"]) {
        const vector: VersionVector = { entries: [...base.entries, ["mallory", ++n]].sort(([a], [b]) => (a < b ? -1 : 1)) as VersionVector["entries"] };
        insert.run({ ...row, path: p, seq: ++head, replica: "mallory", vector: encode(vector) });
        refs.run(p, space);
      }
      db.prepare("UPDATE spaces SET head = ? WHERE id = ?").run(head, space);
    } finally {
      db.close();
    }
    await cast.component.start();

    await cast.eventually("Bob's client writes the good entry", hasContent(path.join(bobDir, "b.txt"), "hello from adam\n"), 60_000);
    await cast.eventually("Bob's vector agrees with the sharing manager's", () => cast.deviceDigest("bob", space) === cast.componentDigest(space), 30_000);

    // Nothing was written for the hostile entries, in his folder or anywhere under the test root.
    const added = (await tree(cast.root)).filter((p) => !before.has(p));
    expect(added.filter((p) => !p.includes("/.xshare") && !p.endsWith("state.sqlite-wal") && !p.endsWith("state.sqlite-shm") && !p.endsWith(".log"))).toEqual([path.relative(cast.root, path.join(bobDir, "b.txt"))]);
    await expect(stat("/tmp/xshare-hostile-absolute.txt")).rejects.toThrow(/ENOENT/);
    expect(await readFile(path.join(bobDir, ".xshare", "space"), "utf8")).toBe(`${space}\n`);
    expect(await tree(bobDir)).not.toContain("CON.txt");

    // Reported with their rules, after the sync that read them too; and the client is still running.
    const st = JSON.parse(await cast.run("bob", ["status", "--json"])) as Array<{ id: string; notSynced: Array<{ path: string; reason: string }> }>;
    const mine = st.find((s) => s.id === space)!;
    for (const [p, rule] of HOSTILE) expect(mine.notSynced).toContainEqual({ path: p, reason: `refused from the sharing manager: ${rule}` });
    expect(bob.output()).not.toMatch(/TypeError|unhandled|crash/i);
    expect(cast.daemon("bob")?.pid).toBe(bob.pid);
    // It goes on syncing: a later change from Adam still arrives.
    await writeFile(path.join(adamDir, "c.txt"), "still working\n");
    await cast.online("adam");
    await cast.eventually("Adam's next change reaches Bob", hasContent(path.join(bobDir, "c.txt"), "still working\n"), 60_000);
  }, 240_000);
});
