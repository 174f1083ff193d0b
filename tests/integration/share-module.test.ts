/**
 * The share module's server side (client/ui/share/) through real node http objects: a tiny
 * server calls its handle() as the UI server does. The daemon is a stand-in that owns a real
 * ClientState and emits the events the real one does (Daemon.events); the real stack is in
 * tests/e2e/ui-share.test.ts. Here: bad input gets a 4xx with a sentence and changes nothing,
 * paths never leave the space's folder, gleam and history follow the daemon's syncs.
 */
import { EventEmitter } from "node:events";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BareJid, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { fromEntries } from "../../protocol/vv.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { Daemon, DaemonEvents } from "../../client/daemon.ts";
import type { SyncReport } from "../../client/engine/sync.ts";
import { resolveHome } from "../../client/home.ts";
import { ClientState } from "../../client/state.ts";
import { ShareModule } from "../../client/ui/share/index.ts";

const ME = "adam@example.org" as BareJid;
const BOB = "bob@example.org" as BareJid;
const SPACE = "s-pair1" as SpaceId;

let dir: string;
let folder: string;
let state: ClientState;
let events: EventEmitter<DaemonEvents>;
let mod: ShareModule;
let server: Server;
let base: string;
const published: Array<{ type: string; data: unknown }> = [];
let n = 0;

const version = (path: string, replica: string): FileVersion => ({
  path, kind: "file", vector: fromEntries([[replica, ++n]]), hash: `h${n}`, size: 5, mtimeMs: 1_700_000_000_000, mode: 0o644, deleted: false, replica: replica as ReplicaId, chunks: [],
});
const report = (): SyncReport => ({ space: SPACE, status: "in-sync", pushed: 0, pulled: 1, conflicts: 0, readOnlySkipped: [], skipped: [], bytesUp: 0, bytesDown: 0, head: n });

/** Bob's device wrote `path`: the file on disk and its synced version, then the daemon's report. */
async function bobWrites(path: string): Promise<void> {
  await mkdir(join(folder, path, ".."), { recursive: true });
  await writeFile(join(folder, path), "hello");
  state.commit(SPACE, [{ version: version(path, "bob-pc") }]);
  events.emit("sync-start", SPACE);
  events.emit("synced", report());
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/share/${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type Snap = { spaces: Record<string, { gleam: boolean; status: string }>; gleamContacts: Record<string, true>; sections: Array<{ key: string; gleam: boolean }> };
const snap = () => mod.snapshot() as Snap;
const entries = async (path: string) => (await call("GET", `tree?space=${SPACE}&path=${encodeURIComponent(path)}`)).body.entries as Array<{ name: string; gleam?: boolean; author?: string }>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "share-module-"));
  const home = resolveHome(dir);
  folder = join(home.sharingRoot, "Pairs", BOB, "Work");
  await mkdir(folder, { recursive: true });
  state = ClientState.open(home.stateDb);
  state.putSpace({ id: SPACE, kind: "pair", name: "Work", owner: ME, members: [ME, BOB] });
  state.setFolder(SPACE, folder);
  events = new EventEmitter<DaemonEvents>();
  const device = { config: { jid: ME, replica: "adam-pc" }, conn: { online: true }, state, remote: { spaces: async () => [] } };
  const daemon = { events, device, peers: () => [], refresh: async () => undefined } as unknown as Daemon;
  published.length = 0;
  mod = new ShareModule({ daemon, home, config: device.config as never, publish: (type, data) => published.push({ type, data }), log: () => undefined });
  server = createServer((req, res) => {
    void mod.handle(req, res, new URL(req.url!, "http://127.0.0.1")).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The module follows the space from here: what is there now is "found".
  mod.snapshot();
});

afterEach(async () => {
  mod.close();
  await new Promise((r) => server.close(r));
  state.close();
  await rm(dir, { recursive: true, force: true });
});

describe("share module over http", () => {
  it("a file Bob changed makes its folders gleam; opening clears them, a changed sub-folder keeps its own star", async () => {
    expect(snap().spaces[SPACE]!.gleam).toBe(false);
    events.emit("replica", `${BOB}/xshare-bob-pc`, "bob-pc" as ReplicaId);
    await bobWrites("photos/beach.jpg");
    expect(snap().spaces[SPACE]!.gleam).toBe(true);
    expect(snap().gleamContacts).toEqual({ [BOB]: true });
    expect(snap().sections.find((s) => s.key === `contact:${BOB}`)!.gleam).toBe(true);
    expect(published.some((p) => p.type === "share-change")).toBe(true);
    // Listing does not count as opening.
    expect((await entries("")).find((e) => e.name === "photos")!.gleam).toBe(true);
    expect(snap().spaces[SPACE]!.gleam).toBe(true);
    const opened = await call("POST", "open", { space: SPACE, path: "" });
    expect(opened.status).toBe(200);
    expect(snap().spaces[SPACE]!.gleam).toBe(false);
    expect((opened.body.entries as Array<{ name: string; gleam?: boolean }>).find((e) => e.name === "photos")!.gleam).toBe(true);
    await call("POST", "open", { space: SPACE, path: "photos" });
    expect((await entries("")).find((e) => e.name === "photos")!.gleam).toBeUndefined();
    expect(snap().gleamContacts).toEqual({});
    // Who changed it, and when this device saw it.
    expect((await entries("photos"))[0]!.author).toBe(BOB);
    const file = await call("GET", `file?space=${SPACE}&path=photos/beach.jpg`);
    expect(file.body).toMatchObject({ path: "photos/beach.jpg", size: 5, author: BOB, replica: "bob-pc" });
    expect((file.body.history as Array<{ how: string; author: string }>)[0]).toMatchObject({ how: "received", author: BOB });
  });

  it("who a replica is: the manager's list of peers decides, an SNM's sender only fills in an unknown one", async () => {
    events.emit("replica", `${BOB}/xshare-bob-pc`, "bob-pc" as ReplicaId);
    // Carol, another member, claims Bob's device in an SNM: not believed.
    events.emit("replica", "carol@example.org/xshare-x", "bob-pc" as ReplicaId);
    await bobWrites("a.txt");
    expect((await call("GET", `file?space=${SPACE}&path=a.txt`)).body).toMatchObject({ author: BOB });
    // The manager says the device is Carol's: that wins.
    events.emit("peers", SPACE, [{ jid: "carol@example.org/xshare-x", replica: "bob-pc" as ReplicaId }]);
    expect((await call("GET", `file?space=${SPACE}&path=a.txt`)).body).toMatchObject({ author: "carol@example.org" });
  });

  it("this device's own changes do not gleam", async () => {
    await writeFile(join(folder, "mine.txt"), "mine!");
    state.commit(SPACE, [{ version: version("mine.txt", "adam-pc") }]);
    events.emit("synced", report());
    expect(snap().spaces[SPACE]!.gleam).toBe(false);
    expect((await call("GET", `file?space=${SPACE}&path=mine.txt`)).body).toMatchObject({ author: ME });
  });

  it("the gleam survives a restart of the module (its own store in the state directory)", async () => {
    await bobWrites("late.txt");
    mod.close();
    const home = resolveHome(dir);
    const device = { config: { jid: ME, replica: "adam-pc" }, conn: { online: true }, state, remote: { spaces: async () => [] } };
    mod = new ShareModule({ daemon: { events, device, peers: () => [], refresh: async () => undefined } as unknown as Daemon, home, config: device.config as never, publish: () => undefined, log: () => undefined });
    expect(snap().spaces[SPACE]!.gleam).toBe(true);
    await call("POST", "open", { space: SPACE, path: "" });
    expect(snap().spaces[SPACE]!.gleam).toBe(false);
  });

  it("a path that is not one of the space's gets a 4xx with a sentence, and nothing is marked seen", async () => {
    await bobWrites("photos/a.jpg");
    const outside = await mkdtemp(join(tmpdir(), "outside-"));
    await writeFile(join(outside, "secret.txt"), "s");
    await symlink(outside, join(folder, "link"));
    try {
      for (const bad of ["../..", "/etc", "photos/../..", ".xshare", "a\\b", "link", "link/secret.txt", "C:/x", "photos/", "nope"]) {
        const r = await call("GET", `tree?space=${SPACE}&path=${encodeURIComponent(bad)}`);
        expect(r.status, bad).toBeGreaterThanOrEqual(400);
        expect(r.status, bad).toBeLessThan(500);
        expect(r.body.error, bad).toMatch(/\w+ .*\./);
        const o = await call("POST", "open", { space: SPACE, path: bad });
        expect(o.status, bad).toBeGreaterThanOrEqual(400);
        const f = await call("GET", `file?space=${SPACE}&path=${encodeURIComponent(bad)}`);
        expect(f.status, bad).toBeGreaterThanOrEqual(400);
        expect(f.status, bad).toBeLessThan(500);
      }
      expect((await call("GET", `file?space=${SPACE}&path=link/secret.txt`)).body.error).toMatch(/not a folder/);
      expect((await call("GET", "tree?space=s-unknown")).status).toBe(404);
      expect((await call("GET", "tree?space=../x")).status).toBe(400);
      expect((await call("POST", "open", "not an object")).status).toBe(400);
      expect(snap().spaces[SPACE]!.gleam).toBe(true);
      // The link is listed as what it is, never followed.
      expect((await entries("")).find((e) => e.name === "link")).toMatchObject({ kind: "other" });
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("bad actions change nothing: resolve, create, invite, accept, leave", async () => {
    state.addConflict({ space: SPACE, path: "a.txt", copy: "a.sync-conflict-20260101-000000-bob-pc.txt", replica: "bob-pc" as ReplicaId, createdMs: 1, localAt: "path" });
    for (const body of [{ space: SPACE, copy: "a.sync-conflict-20260101-000000-bob-pc.txt", keep: "mine" }, { space: SPACE, copy: "../a.txt", keep: "local" }, { space: SPACE, copy: "other.txt", keep: "local" }, { space: "s-x", copy: "a.txt", keep: "local" }]) {
      const r = await call("POST", "resolve", body);
      expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(typeof r.body.error).toBe("string");
    }
    expect(state.conflicts(SPACE)).toHaveLength(1);
    for (const body of [{ kind: "weird", name: "x" }, { kind: "pair", name: "x", with: [] }, { kind: "pair", name: "../x", with: [BOB] }, { kind: "pair", name: "a/b", with: [BOB] }, { kind: "group", name: "x", with: ["not a jid"] }, { kind: "mine" }]) {
      const r = await call("POST", "create", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(typeof r.body.error).toBe("string");
    }
    expect((await call("POST", "invite", { space: SPACE, jid: "nobody" })).status).toBe(400);
    expect((await call("POST", "accept", { space: SPACE })).status).toBe(409);
    expect((await call("POST", "leave", { space: "s-nothere" })).status).toBe(404);
    expect(state.spaces().map((s) => s.id)).toEqual([SPACE]);
    // No such route: the module says so and the server answers 404.
    expect((await fetch(`${base}/api/share/nothing`)).status).toBe(404);
  });

  it("sync state follows the daemon: syncing, progress, in sync, retrying", async () => {
    events.emit("sync-start", SPACE);
    expect(snap().spaces[SPACE]!.status).toBe("syncing");
    events.emit("progress", SPACE, { phase: "download", bytes: 1000 });
    await new Promise((r) => setTimeout(r, 400));
    expect(published.find((p) => p.type === "share-progress")?.data).toMatchObject({ space: SPACE, down: 1000, up: 0 });
    events.emit("synced", report());
    expect(snap().spaces[SPACE]!.status).toBe("in-sync");
    events.emit("sync-failed", SPACE, "timeout");
    expect(snap().spaces[SPACE]!.status).toBe("retrying");
    await new Promise((r) => setTimeout(r, 100));
    expect(published.filter((p) => p.type === "share").length).toBeGreaterThan(0);
  });
});
