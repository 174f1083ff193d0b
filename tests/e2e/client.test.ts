/**
 * The sharing client as users run it: `xshare` processes with their own homes (devices), a real
 * Prosody and the real sharing manager process. Issue 4's "proven by", with real processes.
 */
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComponentProcess, startComponentProcess } from "../harness/component.ts";
import { ok, xshare } from "../harness/cli.ts";
import { type ProsodyHandle, startProsody } from "../harness/prosody.ts";

let prosody: ProsodyHandle;
let comp: ComponentProcess | undefined;
let root: string;
const PW = "pass-word";
const homes: Record<string, string> = {};
const jid = (u: string) => `${u}@${prosody.domain}`;

async function login(user: string, home: string, device: string) {
  return ok(home, ["login", jid(user), "--password-stdin", "--service", prosody.service, "--device", device], { input: `${PW}\n` });
}

async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name === ".xshare") continue;
    const p = prefix + e.name;
    if (e.isDirectory()) out.push(`${p}/`, ...(await tree(path.join(dir, e.name), `${p}/`)));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  prosody = await startProsody({ accounts: [["alice", PW], ["bob", PW], ["carol", PW]] });
  root = await mkdtemp(path.join(tmpdir(), "xshare-e2e-"));
  for (const h of ["alice", "alice2", "bob", "carol"]) homes[h] = path.join(root, "homes", h);
}, 60_000);

afterAll(async () => {
  await comp?.destroy();
  await prosody?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("xshare login", () => {
  it("says clearly when no sharing manager is found, the password is wrong, or the server is unreachable", async () => {
    const none = await xshare(homes.alice!, ["login", jid("alice"), "--password-stdin", "--service", prosody.service], { input: PW });
    expect(none.code).not.toBe(0);
    expect(none.stderr.trim()).toMatch(/^xshare: no sharing manager found on example\.org/);

    comp = await startComponentProcess(prosody);
    const wrong = await xshare(homes.alice!, ["login", jid("alice"), "--password-stdin", "--service", prosody.service], { input: "nope" });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr.trim()).toBe(`xshare: login failed for ${jid("alice")}: wrong password or unknown account`);

    const down = await xshare(homes.alice!, ["login", jid("alice"), "--password-stdin", "--service", "xmpp://127.0.0.1:1"], { input: PW });
    expect(down.stderr.trim()).toBe("xshare: cannot reach the XMPP server at xmpp://127.0.0.1:1");
    await expect(stat(path.join(homes.alice!, "config.json"))).rejects.toThrow();

    expect(await login("alice", homes.alice!, "laptop")).toMatch(/logged in as alice@example\.org on device laptop; sharing manager share\.example\.org/);
    expect((await stat(path.join(homes.alice!, "config.json"))).mode & 0o777).toBe(0o600);
    await login("alice", homes.alice2!, "desktop");
    await login("bob", homes.bob!, "phone");
    await login("carol", homes.carol!, "desk");
  });
});

describe("sharing a folder", () => {
  let space: string;
  const trip = () => path.join(root, "alice-trip");
  const bobTrip = () => path.join(root, "bob-trip");

  it("Alice shares a folder with Bob; files and subfolders arrive after sync on both", async () => {
    await mkdir(path.join(trip(), "photos"), { recursive: true });
    await writeFile(path.join(trip(), "plan.txt"), "Day 1: Lisbon\n");
    await writeFile(path.join(trip(), "photos", "day1.jpg"), Buffer.alloc(300_000, 1));
    await writeFile(path.join(trip(), "Ünïcödé.txt"), "names\n");
    space = (await ok(homes.alice!, ["share", trip(), "--with", jid("bob")])).trim();
    expect(space).toMatch(/^s-/);
    expect(await ok(homes.alice!, ["sync"])).toContain(`${space}: in-sync`);
    const spaces = JSON.parse(await ok(homes.bob!, ["spaces", "--json"])) as Array<{ id: string; folder: string | null }>;
    expect(spaces).toMatchObject([{ id: space, folder: null }]);
    await ok(homes.bob!, ["accept", space, bobTrip()]);
    expect(await ok(homes.bob!, ["sync"])).toContain(`${space}: in-sync`);
    expect(await tree(bobTrip())).toEqual(["photos/", "photos/day1.jpg", "plan.txt", "Ünïcödé.txt"]);
    expect(await readFile(path.join(bobTrip(), "plan.txt"), "utf8")).toBe("Day 1: Lisbon\n");
  });

  it("edits, deletes and renames arrive", async () => {
    await writeFile(path.join(bobTrip(), "plan.txt"), "Day 1: Lisbon\nDay 2: Porto\n");
    await rm(path.join(bobTrip(), "Ünïcödé.txt"));
    await rename(path.join(bobTrip(), "photos", "day1.jpg"), path.join(bobTrip(), "photos", "lisbon.jpg"));
    await ok(homes.bob!, ["sync"]);
    const out = JSON.parse(await ok(homes.alice!, ["sync", "--json"])) as Array<{ bytesDown: number; status: string }>;
    expect(out[0]?.status).toBe("in-sync");
    // The renamed photo is assembled from the local copy, not downloaded again.
    expect(out[0]?.bytesDown).toBeLessThan(1000);
    expect(await tree(trip())).toEqual(["photos/", "photos/lisbon.jpg", "plan.txt"]);
    expect(await readFile(path.join(trip(), "plan.txt"), "utf8")).toBe("Day 1: Lisbon\nDay 2: Porto\n");
  });

  it("concurrent edits: both versions survive and `conflicts` lists them", async () => {
    await writeFile(path.join(trip(), "plan.txt"), "Alice's plan\n");
    await writeFile(path.join(bobTrip(), "plan.txt"), "Bob's plan\n");
    await ok(homes.alice!, ["sync"]);
    await ok(homes.bob!, ["sync"]);
    await ok(homes.alice!, ["sync"]);
    for (const dir of [trip(), bobTrip()]) {
      const names = (await tree(dir)).filter((n) => n.startsWith("plan"));
      expect(names).toHaveLength(2);
      const contents = await Promise.all(names.map((n) => readFile(path.join(dir, n), "utf8")));
      expect(contents.sort()).toEqual(["Alice's plan\n", "Bob's plan\n"]);
    }
    const listed = JSON.parse(await ok(homes.bob!, ["conflicts", "--json"])) as Array<{ path: string; copy: string }>;
    expect(listed).toMatchObject([{ path: "plan.txt" }]);
    expect(listed[0]?.copy).toMatch(/^plan\.sync-conflict-\d{8}-\d{6}-[a-z2-7]+\.txt$/);
    const status = JSON.parse(await ok(homes.bob!, ["status", "--json"])) as Array<{ id: string; status: string; conflicts: number }>;
    expect(status.find((s) => s.id === space)).toMatchObject({ status: "in-sync", conflicts: 1 });
    await ok(homes.bob!, ["resolve", "plan.txt", "--keep", "local"]);
    await ok(homes.bob!, ["sync"]);
    await ok(homes.alice!, ["sync"]);
    expect((await tree(trip())).filter((n) => n.startsWith("plan"))).toEqual(["plan.txt"]);
    expect(await readFile(path.join(trip(), "plan.txt"), "utf8")).toBe("Bob's plan\n");
  });

  it("a second device of Alice receives what the first one pushed", async () => {
    await ok(homes.alice2!, ["accept", space]);
    await ok(homes.alice2!, ["sync"]);
    const laid = path.join(homes.alice2!, "Sharing", "Pairs", jid("bob"), "alice-trip");
    expect(await tree(laid)).toEqual(["photos/", "photos/lisbon.jpg", "plan.txt"]);
  });

  it("an unmounted (missing) folder sends no deletes", async () => {
    await rename(bobTrip(), `${bobTrip()}-unmounted`);
    const r = await xshare(homes.bob!, ["sync"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("paused (missing-root)");
    await ok(homes.alice!, ["sync"]);
    expect(await tree(trip())).toEqual(["photos/", "photos/lisbon.jpg", "plan.txt"]);
    await rename(`${bobTrip()}-unmounted`, bobTrip());
    expect(await ok(homes.bob!, ["sync"])).toContain("in-sync");
  });
});

describe("a 'mine' space and a member added later", () => {
  it("Bob cannot change Alice's mine space; Carol added later receives everything", async () => {
    const mine = path.join(root, "alice-mine");
    await mkdir(mine, { recursive: true });
    await writeFile(path.join(mine, "cv.txt"), "Alice's CV\n");
    const id = (await ok(homes.alice!, ["share", mine, "--mine", "--with", jid("bob")])).trim();
    await ok(homes.alice!, ["sync"]);
    await ok(homes.bob!, ["accept", id]);
    await ok(homes.bob!, ["sync", "--space", id]);
    const bobMine = path.join(homes.bob!, "Sharing", jid("alice"));
    expect(await readFile(path.join(bobMine, "cv.txt"), "utf8")).toBe("Alice's CV\n");
    // A space cannot go inside another one's folder (it would be synced as part of it), nor
    // hold one; nothing is created on the sharing manager.
    const before = JSON.parse(await ok(homes.bob!, ["spaces", "--json"])) as unknown[];
    const nested = await xshare(homes.bob!, ["share", path.join(bobMine, "inner"), "--with", jid("carol")]);
    expect(nested.code).not.toBe(0);
    expect(nested.stderr.trim()).toBe(`xshare: ${path.join(bobMine, "inner")} is inside ${bobMine}, the folder of space ${id}; choose a folder outside it`);
    const holding = await xshare(homes.bob!, ["share", path.join(homes.bob!, "Sharing"), "--with", jid("carol")]);
    expect(holding.stderr.trim()).toBe(`xshare: ${path.join(homes.bob!, "Sharing")} holds ${bobMine}, the folder of space ${id}; choose a folder that does not`);
    expect(JSON.parse(await ok(homes.bob!, ["spaces", "--json"]))).toEqual(before);
    await expect(stat(path.join(bobMine, "inner"))).rejects.toThrow();
    await writeFile(path.join(bobMine, "cv.txt"), "Bob was here\n");
    const out = await ok(homes.bob!, ["sync", "--space", id]);
    expect(out).toContain("1 local change(s) not sent (read-only space)");
    await ok(homes.alice!, ["sync"]);
    expect(await readFile(path.join(mine, "cv.txt"), "utf8")).toBe("Alice's CV\n");

    await ok(homes.alice!, ["invite", id, jid("carol")]);
    await ok(homes.carol!, ["accept", id]);
    await ok(homes.carol!, ["sync"]);
    expect(await readFile(path.join(homes.carol!, "Sharing", jid("alice"), "cv.txt"), "utf8")).toBe("Alice's CV\n");
  });
});
