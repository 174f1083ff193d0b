/**
 * Live synchronization (issue 5) with real processes: `xshare run` daemons for Alice, Bob and
 * Charlene, a real Prosody and the real sharing manager. Presence digests (FIG. 9) and SNMs
 * (FIG. 10) carry the news; nobody runs `xshare sync`. Plain XMPP clients stand for a contact
 * who is not a member (Dave) and for Bob's ordinary chat client, and record every stanza they
 * receive, to show that no space id and no sharing payload ever reaches them.
 */
import { appendFile, mkdir, mkdtemp, open, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "@xmpp/client";
import Database from "better-sqlite3";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DaemonProcess, ok, startDaemon, xshare } from "../harness/cli.ts";
import { type ComponentProcess, startComponentProcess } from "../harness/component.ts";
import { type ProsodyHandle, startProsody } from "../harness/prosody.ts";
import { connectClient, stopEntity } from "../harness/xmpp.ts";

let prosody: ProsodyHandle;
let comp: ComponentProcess;
let root: string;
const PW = "pass-word";
const homes: Record<string, string> = {};
const daemons: Record<string, DaemonProcess> = {};
const jid = (u: string) => `${u}@${prosody.domain}`;
const folder = (name: string) => path.join(root, "folders", name);
/** Every stanza the observers received, as text. */
const heard: Record<"dave" | "bobChat", string[]> = { dave: [], bobChat: [] };
let dave: Client;
let aliceChat: Client;
let bobChat: Client;
const spaces: string[] = [];

/** Polls until `fn` holds (the daemons work on their own time), failing after `ms`. */
async function eventually(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms\n${Object.entries(daemons).map(([n, d]) => `--- ${n}\n${d.output()}`).join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How many SNMs the sharing manager keeps for a member (read from its database). */
function pendingFor(member: string): number {
  const db = new Database(path.join(comp.dataDir, "metadata.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM pending_snms WHERE member = ?").get(member) as { n: number }).n;
  } finally {
    db.close();
  }
}

const has = (file: string, content: string) => () => readFile(file, "utf8").then((t) => t === content);

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** A plain client that records what it receives and accepts subscriptions from `from`. */
async function observer(user: string, resource: string, log: string[]): Promise<Client> {
  const c = await connectClient(prosody, user, PW, resource);
  c.on("stanza", (s) => {
    log.push(s.toString());
    if (s.is("presence") && s.attrs.type === "subscribe") void c.send(xml("presence", { to: s.attrs.from, type: "subscribed" }));
  });
  await c.send(xml("presence"));
  return c;
}

beforeAll(async () => {
  prosody = await startProsody({ accounts: [["alice", PW], ["bob", PW], ["charlene", PW], ["dave", PW]] });
  comp = await startComponentProcess(prosody);
  root = await mkdtemp(path.join(tmpdir(), "xshare-live-"));
  for (const [u, device] of [["alice", "laptop"], ["bob", "phone"], ["charlene", "desk"]] as const) {
    homes[u] = path.join(root, "homes", u);
    await ok(homes[u]!, ["login", jid(u), "--password-stdin", "--service", prosody.service, "--device", device], { input: `${PW}\n` });
  }
  // Dave is Alice's contact (mutual subscription, through Alice's ordinary chat client), not a member of anything.
  aliceChat = await observer("alice", "chat", []);
  dave = await observer("dave", "chat", heard.dave);
  bobChat = await observer("bob", "chat", heard.bobChat);
  await dave.send(xml("presence", { to: jid("alice"), type: "subscribe" }));
  await aliceChat.send(xml("presence", { to: jid("dave"), type: "subscribe" }));
}, 120_000);

afterAll(async () => {
  for (const d of Object.values(daemons)) await d.stop("SIGKILL");
  for (const c of [dave, aliceChat, bobChat]) await stopEntity(c);
  await comp?.destroy();
  await prosody?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("xshare run", () => {
  it("Alice drops a file and Bob has it without running any command; and back", async () => {
    await mkdir(folder("alice-trip"), { recursive: true });
    const space = (await ok(homes.alice!, ["share", folder("alice-trip"), "--with", jid("bob")])).trim();
    spaces.push(space);
    await ok(homes.bob!, ["accept", space, folder("bob-trip")]);
    daemons.alice = await startDaemon(homes.alice!, ["--delay", "100", "--keepalive", "2"]);
    daemons.bob = await startDaemon(homes.bob!, ["--delay", "100", "--keepalive", "2"]);
    // While the daemon runs, `xshare sync` says who is syncing instead of fighting over the folder.
    const refused = await xshare(homes.bob!, ["sync"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`another xshare process (pid ${daemons.bob.pid}) is syncing this device`);

    await writeFile(path.join(folder("alice-trip"), "plan.txt"), "Day 1: Lisbon\n");
    await eventually("Bob receives plan.txt", has(path.join(folder("bob-trip"), "plan.txt"), "Day 1: Lisbon\n"));
    await mkdir(path.join(folder("bob-trip"), "photos"));
    await writeFile(path.join(folder("bob-trip"), "photos", "day1.jpg"), Buffer.alloc(200_000, 7));
    await writeFile(path.join(folder("bob-trip"), "plan.txt"), "Day 1: Lisbon\nDay 2: Porto\n");
    await eventually("Alice receives Bob's edit", has(path.join(folder("alice-trip"), "plan.txt"), "Day 1: Lisbon\nDay 2: Porto\n"));
    await eventually("Alice receives Bob's photo", async () => (await readFile(path.join(folder("alice-trip"), "photos", "day1.jpg"))).equals(Buffer.alloc(200_000, 7)));
    // `status` shows, while the daemon runs, which members' sharing clients are online.
    const st = JSON.parse(await ok(homes.alice!, ["status", "--json"])) as Array<{ id: string; status: string; online?: Record<string, unknown> }>;
    expect(st.find((r) => r.id === space)).toMatchObject({ status: "in-sync", online: { [jid("bob")]: [{ resource: "xshare-phone" }] } });
  }, 90_000);

  it("notices every kind of local change, in any folder: in place, in new nested folders, renames and deletions", async () => {
    // The daemon watches folders only (a folder's watch reports changes to the files in it):
    // nothing here creates or truncates the file it edits, and keepalives do not look at the disk.
    const bob = (...p: string[]) => path.join(folder("bob-trip"), ...p);
    const alice = (...p: string[]) => path.join(folder("alice-trip"), ...p);
    const photo = Buffer.alloc(200_000, 7);
    photo[100] = 42;
    const fh = await open(bob("photos", "day1.jpg"), "r+");
    await fh.write(Buffer.from([42]), 0, 1, 100);
    await fh.close();
    await eventually("Alice receives the byte changed in place", async () => (await readFile(alice("photos", "day1.jpg"))).equals(photo));
    await mkdir(bob("deep", "er", "est"), { recursive: true });
    await writeFile(bob("deep", "er", "est", "note.txt"), "one\n");
    await eventually("Alice receives a file in a new nested folder", has(alice("deep", "er", "est", "note.txt"), "one\n"));
    await appendFile(bob("deep", "er", "est", "note.txt"), "two\n");
    await eventually("Alice receives an append in that folder", has(alice("deep", "er", "est", "note.txt"), "one\ntwo\n"));
    await rename(bob("photos", "day1.jpg"), bob("photos", "day-one.jpg"));
    await eventually("Alice sees the rename", async () => (await readdir(alice("photos"))).join() === "day-one.jpg");
    await rm(bob("deep"), { recursive: true });
    await eventually("Alice sees the folder deleted", async () => !(await readdir(folder("alice-trip"))).includes("deep"));
    await writeFile(bob("photos", "day2.jpg"), "later");
    await eventually("a folder whose sibling was deleted is still watched", has(alice("photos", "day2.jpg"), "later"));
  }, 90_000);

  it("Charlene, offline while Alice and Bob change the group folder, gets everything when she comes online after a component restart", async () => {
    await mkdir(folder("alice-group"), { recursive: true });
    const space = (await ok(homes.alice!, ["share", folder("alice-group"), "--with", `${jid("bob")},${jid("charlene")}`, "--group", "Family"])).trim();
    spaces.push(space);
    await ok(homes.bob!, ["accept", space, folder("bob-group")]);
    await ok(homes.charlene!, ["accept", space, folder("charlene-group")]);
    await writeFile(path.join(folder("alice-group"), "a.txt"), "from Alice\n");
    await eventually("Bob receives a.txt", has(path.join(folder("bob-group"), "a.txt"), "from Alice\n"));
    await writeFile(path.join(folder("bob-group"), "b.txt"), "from Bob\n");
    await eventually("Alice receives b.txt", has(path.join(folder("alice-group"), "b.txt"), "from Bob\n"));

    // The sharing manager restarts: what it kept for Charlene is on disk.
    await comp.stop();
    await comp.start();
    // The running daemons find it again (keepalive) and go on: a change after the restart flows.
    await writeFile(path.join(folder("alice-group"), "c.txt"), "after the restart\n");
    await eventually("Bob receives c.txt after the restart", has(path.join(folder("bob-group"), "c.txt"), "after the restart\n"));

    const st = JSON.parse(await ok(homes.alice!, ["status", "--json"])) as Array<{ id: string; online?: Record<string, unknown[]> }>;
    expect(st.find((r) => r.id === space)?.online).toEqual({ [jid("bob")]: [{ resource: "xshare-phone" }], [jid("charlene")]: [] });
    // The SNMs for Charlene were kept across the restart (store and forward, FIG. 10)...
    expect(pendingFor(jid("charlene"))).toBe(1);
    daemons.charlene = await startDaemon(homes.charlene!, ["--delay", "100", "--keepalive", "2"]);
    for (const [name, text] of [["a.txt", "from Alice\n"], ["b.txt", "from Bob\n"], ["c.txt", "after the restart\n"]] as const) {
      await eventually(`Charlene receives ${name}`, has(path.join(folder("charlene-group"), name), text));
    }
    // ...and delivered when her sharing client came online.
    await eventually("the kept SNM is delivered", async () => pendingFor(jid("charlene")) === 0);
  }, 120_000);

  it("nobody outside a space hears of it: not a contact of Alice, not Bob's ordinary chat client", async () => {
    // Dave guesses a space id and sends an SNM to Alice's sharing client: the same answer as for
    // a space that does not exist, and nothing happens.
    const err = await dave.iqCaller
      .request(xml("iq", { type: "set", id: "dave-guess", to: `${jid("alice")}/xshare-laptop` }, xml("snm", { xmlns: "urn:xmpp:share:0", space: spaces[0]!, replica: "evil", digest: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" })))
      .then(() => undefined, (e: { condition?: string }) => e);
    expect(err?.condition).toBe("item-not-found");
    // Dave does see Alice's sharing client come online (it supports sharing: capabilities), nothing more.
    expect(heard.dave.some((s) => s.includes("xshare-laptop") && s.includes("http://jabber.org/protocol/caps"))).toBe(true);
    const info = await dave.iqCaller.request(xml("iq", { type: "get", id: "dave-disco", to: `${jid("alice")}/xshare-laptop` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toContain("urn:xmpp:share:0");
    for (const [who, log] of Object.entries(heard)) {
      expect(log.length, who).toBeGreaterThan(0);
      // (The error answering Dave's own guess may quote what he sent, and disco#info names the
      // feature; nothing else may.)
      for (const s of log.filter((x) => !x.includes('id="dave-guess"') && !x.includes('id="dave-disco"'))) {
        expect(s, who).not.toContain("urn:xmpp:share:0");
        for (const id of spaces) expect(s, who).not.toContain(id);
      }
    }
  });

  it("in dnd, Bob still hears of Alice's change but fetches it only when he is back", async () => {
    expect(await ok(homes.bob!, ["presence", "dnd"])).toContain("presence dnd");
    await daemons.bob!.waitFor(/presence dnd\n/);
    await writeFile(path.join(folder("alice-trip"), "while-busy.txt"), "later\n");
    await daemons.bob!.waitFor(new RegExp(`${spaces[0]}: changed elsewhere; fetched when you are back \\(presence dnd\\)`));
    await expect(readFile(path.join(folder("bob-trip"), "while-busy.txt"))).rejects.toThrow();
    await ok(homes.bob!, ["presence", "available"]);
    await eventually("Bob fetches it once available", has(path.join(folder("bob-trip"), "while-busy.txt"), "later\n"));
    const bad = await xshare(homes.bob!, ["presence", "busy"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("presence must be one of available, away, chat, dnd, xa");
  }, 60_000);

  it("duplicate, old and replayed SNMs from a member are answered and change nothing", async () => {
    const before = await readFile(path.join(folder("alice-trip"), "plan.txt"), "utf8");
    const send = (vector: string) =>
      bobChat.iqCaller.request(xml("iq", { type: "set", to: `${jid("alice")}/xshare-laptop` }, xml("snm", { xmlns: "urn:xmpp:share:0", space: spaces[0]!, replica: "phone" }, xml("vector", {}, ...vector.split(" ").filter(Boolean).map((c) => xml("c", { r: c.split("=")[0]!, n: c.split("=")[1]! }))))));
    const mark = daemons.alice!.output().length;
    // An old vector (dominated), the same one twice, and one from the future that names nothing
    // new: all answered; the last makes Alice look (one sync that finds nothing to do).
    for (const v of ["", "phone=1", "phone=1", "phone=9999999999999"]) expect((await send(v)).attrs.type).toBe("result");
    await eventually("Alice looks once", async () => daemons.alice!.output().slice(mark).includes(`${spaces[0]}: in-sync, 0 sent, 0 received`));
    expect(await readFile(path.join(folder("alice-trip"), "plan.txt"), "utf8")).toBe(before);
  }, 60_000);

  it("survives the XMPP server going away and coming back", async () => {
    await prosody.restart();
    // Both daemons and the component reconnect by themselves; then changes flow again.
    await daemons.alice!.waitFor(/disconnected[^\n]*reconnecting\n[^]*online as /, 60_000);
    await writeFile(path.join(folder("alice-trip"), "after-server-restart.txt"), "still here\n");
    await eventually("Bob receives a change made after the server restart", has(path.join(folder("bob-trip"), "after-server-restart.txt"), "still here\n"), 60_000);
  }, 120_000);

  it("stops cleanly on SIGTERM and SIGINT, leaving no temporary file", async () => {
    expect(await daemons.alice!.stop("SIGTERM")).toBe(0);
    expect(await daemons.bob!.stop("SIGINT")).toBe(0);
    expect(await daemons.charlene!.stop("SIGTERM"), daemons.charlene!.output()).toBe(0);
    expect(daemons.alice!.output()).toMatch(/stopped\n$/);
    for (const f of await listAll(path.join(root, "folders"))) expect(path.basename(f)).not.toMatch(/^\.xshare-tmp-/);
  }, 60_000);
});
