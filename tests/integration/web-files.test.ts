/**
 * The web interface's browsing pages in process (component/web/files.ts, replica.ts): the real
 * router, pages and web replica over in-memory stores, a real HTTP server on loopback, and a
 * test WebAuth (a cookie naming the member) standing in for the sign-in. The same behaviour runs
 * against a real Prosody, component and daemons in tests/e2e/web-files.test.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { announceChange } from "../../component/modules/snm.ts";
import { applyCommit } from "../../component/modules/commit.ts";
import type { WebAuth, WebUser } from "../../component/web/auth.ts";
import { registerFiles } from "../../component/web/files.ts";
import { WebReplica, loadWebReplica, readTree } from "../../component/web/replica.ts";
import { WebRouter } from "../../component/web/router.ts";
import { CSP } from "../../component/web/html.ts";
import type { BareJid, ChunkHash, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import * as G from "../../protocol/stanzas/groups.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import * as Sig from "../../protocol/stanzas/sync-signals.ts";
import { EMPTY, bump, compare } from "../../protocol/vv.ts";
import { Element, parseXml } from "../../protocol/xml.ts";
import { makeComponent } from "./fixtures/component.ts";
import { readZip } from "../unit/fixtures/read-zip.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
const A = `${alice}/xshare-laptop`;
const B = `${bob}/xshare-phone`;
const phone = "phone" as ReplicaId;
const HOSTILE = "<img src=x onerror=alert(1)>.txt";

/** Signed in as whoever the `member` cookie names; the CSRF token is derived from it. */
const auth: WebAuth = {
  user(req): WebUser | undefined {
    const m = /(?:^|; )member=([^;]+)/.exec(req.headers.cookie ?? "");
    return m ? { jid: decodeURIComponent(m[1]!) as BareJid, csrf: `csrf-${m[1]}` } : undefined;
  },
};

let c: ReturnType<typeof makeComponent>;
let server: http.Server;
let base: string;
let web: WebReplica;
const replica = "web-test" as ReplicaId;

beforeEach(async () => {
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => undefined;
  server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  c = makeComponent({ publicUrl: `${base}/` });
  const links = {
    online: (m: BareJid, except?: string) => c.presence.online(m, except),
    clients: (m: BareJid) => c.presence.clients(m),
    request: (iq: Element) => {
      c.requests.push(iq);
      return Promise.resolve(new Element("iq", { type: "result" }));
    },
  };
  web = new WebReplica({
    deps: c.deps,
    replica,
    record: (chunks, uploader, nowMs) => c.store.addChunks(chunks, uploader, nowMs),
    announce: (snm) => announceChange(c.deps, links, snm),
  });
  const router = new WebRouter(pino({ level: "silent" }), `${base}/`);
  registerFiles(router, { deps: c.deps, auth, replica: web });
  handle = (req, res) => void router.handle(req, res);
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const as = (jid: string) => ({ cookie: `member=${encodeURIComponent(jid)}` });
const csrf = (jid: string) => `csrf-${encodeURIComponent(jid)}`;

async function get(jid: string | undefined, url: string) {
  const res = await fetch(base + url, { headers: jid ? as(jid) : {}, redirect: "manual" });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

async function upload(jid: string, space: SpaceId, name: string, data: Uint8Array | string, seen: number, folder = "", token = csrf(jid)) {
  const q = new URLSearchParams({ name, seen: String(seen), ...(folder ? { path: folder } : {}) });
  const res = await fetch(`${base}/web/s/${space}/upload?${q}`, { method: "POST", headers: { ...as(jid), "x-csrf-token": token, "content-type": "application/octet-stream", origin: base }, body: typeof data === "string" ? data : new Uint8Array(data) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function post(jid: string, space: SpaceId, action: string, fields: Record<string, string>) {
  const res = await fetch(`${base}/web/s/${space}/${action}`, {
    method: "POST",
    headers: { ...as(jid), "content-type": "application/x-www-form-urlencoded", origin: base },
    body: new URLSearchParams({ csrf: csrf(jid), ...fields }).toString(),
    redirect: "manual",
  });
  return { status: res.status, location: res.headers.get("location"), text: await res.text() };
}

async function pair(): Promise<S.Space> {
  return c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] }));
}

const head = async (space: SpaceId) => (await c.store.getSpace(space))!.head;
const live = async (space: SpaceId) => [...(await readTree(c.deps, space)).values()].filter((e) => !e.deleted).map((e) => e.path).sort();

/** Bob's client commits `path` with `content` (one chunk uploaded as over HTTP), mtime `mtimeMs`. */
async function bobCommits(space: SpaceId, p: string, content: string, mtimeMs: number) {
  const chunk = await c.upload(content, bob);
  const cur = await c.store.getEntry(space, p);
  const version = { path: p, kind: "file" as const, vector: bump(cur?.vector ?? EMPTY, phone, mtimeMs), hash: chunk.hash, size: chunk.size, mtimeMs, mode: 0o644, deleted: false, replica: phone, chunks: [chunk] };
  await c.ok(B, "set", I.buildCommit({ space, changes: [{ version, base: cur?.vector ?? EMPTY }] }));
}

async function content(space: SpaceId, p: string): Promise<string> {
  const { res, body } = await get(alice, `/web/s/${space}/file?path=${encodeURIComponent(p)}`);
  expect(res.status).toBe(200);
  return body.toString();
}

describe("pages", () => {
  it("names are escaped: a hostile file name, quotes and an RTL override render as text", async () => {
    const s = await pair();
    const names = [HOSTILE, `a"b'c.txt`, "\u202Etxt.exe", "&amp;.txt"];
    for (const n of names) expect((await upload(alice, s.id, n, "x", await head(s.id))).status).toBe(200);
    const { res, body } = await get(alice, `/web/s/${s.id}/`);
    expect(res.status).toBe(200);
    const page = body.toString();
    expect(page).not.toContain("<img");
    expect(page).toContain(">&lt;img src=x onerror=alert(1)&gt;.txt</a>");
    expect(page).toContain(">a&quot;b&#39;c.txt</a>");
    expect(page).toContain(">&amp;amp;.txt</a>");
    expect(page).toContain(">\u202Etxt.exe</a>");
    // Attribute values carry the name escaped as well (a quote cannot end the attribute).
    expect(page).toContain(`data-path="a&quot;b&#39;c.txt"`);
    // Downloads name the file in filename* (RFC 6266), with an ASCII stand-in.
    const d = await get(alice, `/web/s/${s.id}/file?path=${encodeURIComponent("\u202Etxt.exe")}`);
    expect(d.res.headers.get("content-disposition")).toBe(`attachment; filename="_txt.exe"; filename*=UTF-8''%E2%80%AEtxt.exe`);
    const q = await get(alice, `/web/s/${s.id}/file?path=${encodeURIComponent(`a"b'c.txt`)}`);
    expect(q.res.headers.get("content-disposition")).toBe(`attachment; filename="a_b'c.txt"; filename*=UTF-8''a%22b%27c.txt`);
  });

  it("every answer has the strict CSP, nosniff and no referrer; downloads are octet-stream attachments", async () => {
    const s = await pair();
    await upload(alice, s.id, "plan.txt", "hello", 0);
    const answers = [
      await get(alice, "/web/"),
      await get(alice, `/web/s/${s.id}/`),
      await get(alice, `/web/s/${s.id}/file?path=plan.txt`),
      await get(alice, `/web/s/${s.id}/zip`),
      await get(carol, `/web/s/${s.id}/`),
      await get(alice, `/web/s/${s.id}/file?path=..%2Fetc%2Fpasswd`),
      await get(alice, `/web/s/${s.id}/file?path=nope.txt`),
    ];
    expect(answers.map((a) => a.res.status)).toEqual([200, 200, 200, 200, 403, 400, 404]);
    for (const { res } of answers) {
      for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
        expect(res.headers.get("content-security-policy")).toContain(directive);
      }
      expect(res.headers.get("content-security-policy")).toBe(CSP);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
    for (const { res } of answers.slice(2, 4)) {
      expect(res.headers.get("content-type")).toBe("application/octet-stream");
      expect(res.headers.get("content-disposition")).toMatch(/^attachment; /);
    }
    expect(answers[2]!.body.toString()).toBe("hello");
    expect(answers[5]!.body.toString()).toContain("That name or path is not allowed");
  });

  it("space names, JIDs and replica ids are escaped too; versions name who made them", async () => {
    const s = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: `<script>alert("x")</script>`, members: [bob] }));
    await bobCommits(s.id, "b.txt", "b", Date.UTC(2026, 10, 25, 8, 0, 0));
    await c.ok(B, "set", I.buildAck({ space: s.id, replica: phone, seq: await head(s.id) }));
    await upload(alice, s.id, "w.txt", "w", await head(s.id));
    const list = (await get(alice, "/web/")).body.toString();
    expect(list).not.toContain("<script>alert");
    expect(list).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    const page = (await get(alice, `/web/s/${s.id}/`)).body.toString();
    expect(page).not.toContain("<script>alert");
    expect(page).toMatch(/#\d+<\/span> <span class="muted" title="phone">by bob@example\.org<\/span>/);
    expect(page).toMatch(/#\d+<\/span> <span class="muted" title="web-test">on the web<\/span>/);
  });

  it("lists only the member's spaces; not signed in goes to the sign-in", async () => {
    const s = await pair();
    await c.ok(`${carol}/x`, "set", S.buildCreateSpace({ kind: "mine", name: "Carol's", members: [] }));
    const page = (await get(bob, "/web/")).body.toString();
    expect(page).toContain(`href="/web/s/${s.id}/"`);
    expect(page).not.toContain("Carol&#39;s");
    const anon = await get(undefined, `/web/s/${s.id}/`);
    expect(anon.res.status).toBe(303);
    expect(anon.res.headers.get("location")).toBe("/web/login");
  });

  it("membership is checked on every request: a member who left gets 403 at the next one", async () => {
    const s = await pair();
    expect((await get(bob, `/web/s/${s.id}/`)).res.status).toBe(200);
    await c.ok(B, "set", S.buildLeaveSpace(s.id));
    const after = await get(bob, `/web/s/${s.id}/`);
    expect(after.res.status).toBe(403);
    expect(after.body.toString()).toContain("You are not a member of this space");
    expect((await upload(bob, s.id, "x.txt", "x", 0)).status).toBe(403);
    // A group member removed by the owner: the same.
    const g = await c.ok<G.Group>(A, "set", G.buildCreateGroup({ name: "Family", members: [carol] }));
    const gs = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "group", name: "Photos", group: g.id }));
    expect((await get(carol, `/web/s/${gs.id}/`)).res.status).toBe(200);
    await c.ok(A, "set", G.buildMemberChange("remove-member", { group: g.id, jid: carol }));
    expect((await get(carol, `/web/s/${gs.id}/zip`)).res.status).toBe(403);
  });
});

describe("the web interface as a replica", () => {
  it("an upload is a version of the web replica, chunked, and the members are told", async () => {
    const s = await pair();
    // Bob's phone is online; Alice has no sharing client online.
    await c.presence.onPresence(parseXml(`<presence from='${B}' to='share.example.org'>${Sig.buildDigests({ replica: phone, spaces: [] })}</presence>`));
    const data = randomBytes(200_000);
    const r = await upload(alice, s.id, "photo.bin", data, 0, "");
    expect(r).toMatchObject({ status: 200, json: { path: "photo.bin", size: 200_000 } });
    const e = (await c.store.getEntry(s.id, "photo.bin"))!;
    expect(e.replica).toBe(replica);
    expect(e.vector.entries.map(([id]) => id)).toEqual([replica]);
    expect(e.chunks.length).toBeGreaterThan(1);
    expect(e.chunks.reduce((n, ch) => n + ch.size, 0)).toBe(200_000);
    expect(e.chunks[0]!.hash).toBe(createHash("sha256").update(data.subarray(0, e.chunks[0]!.size)).digest("hex"));
    expect(Buffer.from((await get(bob, `/web/s/${s.id}/file?path=photo.bin`)).body).equals(data)).toBe(true);
    await web.told();
    const snms = c.requests.filter((q) => q.getChild("snm"));
    expect(snms.map((q) => q.attrs.to)).toEqual([B]);
    const snm = Sig.parseSnm(snms[0]!.getChild("snm")!);
    expect(snm).toMatchObject({ space: s.id, replica });
    expect("vector" in snm && compare(snm.vector, e.vector)).toBe("equal");
    // Kept for Alice, whose clients are offline (her own devices need it too).
    expect((await c.store.snmsFor(alice)).map((p) => p.snm.space)).toEqual([s.id]);
    // A second edit of the same path bumps the web replica's counter over the first.
    c.advance(1000);
    await upload(alice, s.id, "photo.bin", "smaller", await head(s.id));
    expect(compare((await c.store.getEntry(s.id, "photo.bin"))!.vector, e.vector)).toBe("greater");
  });

  it("an upload over a version the page did not show keeps both: the later one at the path, the other as a conflict copy", async () => {
    const s = await pair();
    await upload(alice, s.id, "plan.txt", "first", 0);
    const seen = await head(s.id); // Alice's page is shown now
    const bobTime = Date.UTC(2026, 10, 25, 8, 30, 0); // before the component's clock (09:00)
    await bobCommits(s.id, "plan.txt", "bob's edit", bobTime);
    const r = await upload(alice, s.id, "plan.txt", "alice's edit", seen);
    const copy = "plan.sync-conflict-20261125-083000-phone.txt";
    expect(r).toMatchObject({ status: 200, json: { path: "plan.txt", conflictCopy: copy } });
    expect(await content(s.id, "plan.txt")).toBe("alice's edit");
    expect(await content(s.id, copy)).toBe("bob's edit");
    const bobs = (await c.store.getEntry(s.id, copy))!;
    expect((await c.store.getEntry(s.id, "plan.txt"))!.vector.entries.map(([id]) => id)).toEqual([phone, replica]);
    expect(bobs.replica).toBe(replica);
  });

  it("when the other version is the later one, the upload is the one kept as a conflict copy", async () => {
    const s = await pair();
    const seen = await head(s.id);
    await bobCommits(s.id, "plan.txt", "bob's edit", Date.UTC(2026, 10, 25, 10, 0, 0));
    const r = await upload(alice, s.id, "plan.txt", "alice's edit", seen);
    const copy = "plan.sync-conflict-20261125-090000-web-test.txt";
    expect(r).toMatchObject({ status: 200, json: { path: copy, conflictCopy: copy } });
    expect(await content(s.id, "plan.txt")).toBe("bob's edit");
    expect(await content(s.id, copy)).toBe("alice's edit");
  });

  it("a version the page did show is simply replaced; the same content again changes nothing", async () => {
    const s = await pair();
    await bobCommits(s.id, "plan.txt", "bob's edit", Date.UTC(2026, 10, 25, 8, 0, 0));
    const before = await head(s.id);
    expect((await upload(alice, s.id, "plan.txt", "bob's edit", before)).json).toMatchObject({ unchanged: true });
    expect(await head(s.id)).toBe(before);
    expect((await upload(alice, s.id, "plan.txt", "alice's edit", before)).json).toEqual({ path: "plan.txt", size: 12 });
    expect(await live(s.id)).toEqual(["plan.txt"]);
  });

  it("uploads into a folder make its missing parents; bad names change nothing", async () => {
    const s = await pair();
    await upload(alice, s.id, "a.txt", "a", 0);
    const h = await head(s.id);
    for (const [name, folder] of [["..", ""], ["x:y", ""], ["CON", ""], ["ok.txt", "../up"], ["b", "a.txt"], ["a/b", ""]] as const) {
      const r = await upload(alice, s.id, name, "x", h, folder);
      expect(r.status, `${folder}/${name}`).toBe(400);
      expect(String(r.json.error)).toMatch(/\.$/);
    }
    expect(await head(s.id)).toBe(h);
    expect((await upload(alice, s.id, "b.txt", "b", h, "x/y")).status).toBe(200);
    expect((await upload(alice, s.id, "empty", "", await head(s.id))).status).toBe(200);
    expect(await content(s.id, "empty")).toBe("");
    expect(await live(s.id)).toEqual(["a.txt", "empty", "x", "x/y", "x/y/b.txt"]);
    expect((await c.store.getEntry(s.id, "x/y"))!.kind).toBe("dir");
  });

  it("the file size limit and the space's quota refuse an upload before anything changes", async () => {
    const s = await pair();
    const quota = c.deps.config.limits.spaceQuotaBytes;
    const r = await upload(alice, s.id, "big.bin", Buffer.alloc(1024), 0);
    expect(r.status).toBe(200);
    (c.deps.config.limits as { spaceQuotaBytes: number }).spaceQuotaBytes = 1500;
    try {
      const over = await upload(alice, s.id, "more.bin", Buffer.alloc(1024), await head(s.id));
      expect(over.status).toBe(507);
      expect(String(over.json.error)).toContain("quota");
      expect(await live(s.id)).toEqual(["big.bin"]);
    } finally {
      (c.deps.config.limits as { spaceQuotaBytes: number }).spaceQuotaBytes = quota;
    }
  });

  it("a new folder is a dir version of the web replica; a taken or bad name changes nothing", async () => {
    const s = await pair();
    const r = await post(alice, s.id, "mkdir", { path: "", name: "Photos" });
    expect(r).toMatchObject({ status: 303, location: `/web/s/${s.id}/?path=Photos` });
    expect(await c.store.getEntry(s.id, "Photos")).toMatchObject({ kind: "dir", deleted: false, replica });
    expect((await post(alice, s.id, "mkdir", { path: "Photos", name: "Day 1" })).status).toBe(303);
    const h = await head(s.id);
    for (const name of ["photos", "..", "a/b", ""]) expect((await post(alice, s.id, "mkdir", { path: "", name })).status, name).toBe(400);
    expect(await head(s.id)).toBe(h);
    expect(await live(s.id)).toEqual(["Photos", "Photos/Day 1"]);
    expect((await get(alice, `/web/s/${s.id}/?path=Photos`)).body.toString()).toContain(">Day 1</a>");
  });

  it("posts need the session's CSRF token and this site's origin", async () => {
    const s = await pair();
    await upload(alice, s.id, "a.txt", "a", 0);
    const h = await head(s.id);
    expect((await upload(alice, s.id, "b.txt", "b", h, "", "forged")).status).toBe(403);
    const bare = await fetch(`${base}/web/s/${s.id}/upload?name=b.txt&seen=${h}`, { method: "POST", headers: { ...as(alice), origin: base }, body: "b" });
    expect(bare.status).toBe(403);
    const noToken = await fetch(`${base}/web/s/${s.id}/delete`, { method: "POST", headers: { ...as(alice), "content-type": "application/x-www-form-urlencoded" }, body: `path=a.txt&seen=${h}` });
    expect(noToken.status).toBe(403);
    const cross = await fetch(`${base}/web/s/${s.id}/delete`, { method: "POST", headers: { ...as(alice), origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" }, body: `csrf=${csrf(alice)}&path=a.txt&seen=${h}` });
    expect(cross.status).toBe(403);
    expect(await head(s.id)).toBe(h);
    expect(await live(s.id)).toEqual(["a.txt"]);
  });

  it("in a 'mine' space only the owner changes anything", async () => {
    const s = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "mine", name: "Mine", members: [bob] }));
    await upload(alice, s.id, "a.txt", "a", 0);
    const h = await head(s.id);
    expect((await upload(bob, s.id, "b.txt", "b", h)).status).toBe(403);
    expect((await post(bob, s.id, "delete", { path: "a.txt", seen: String(h) })).status).toBe(403);
    const page = (await get(bob, `/web/s/${s.id}/`)).body.toString();
    expect(page).not.toContain('id="upload"');
    expect(page).not.toContain("/delete");
    expect(await live(s.id)).toEqual(["a.txt"]);
  });

  it("rename is a deletion and the same content at the new name; delete is the protocol's deletion", async () => {
    const s = await pair();
    await upload(alice, s.id, "a.txt", "hello", 0);
    await upload(alice, s.id, "x.txt", "x", 0, "d");
    const was = (await c.store.getEntry(s.id, "a.txt"))!;
    let h = await head(s.id);
    const r = await post(alice, s.id, "rename", { path: "a.txt", name: "b.txt", seen: String(h) });
    expect(r).toMatchObject({ status: 303, location: `/web/s/${s.id}/` });
    const gone = (await c.store.getEntry(s.id, "a.txt"))!;
    expect(gone).toMatchObject({ deleted: true, was: was.hash, replica });
    expect(compare(gone.vector, was.vector)).toBe("greater");
    expect((await c.store.getEntry(s.id, "b.txt"))!.chunks).toEqual(was.chunks);
    // A folder moves with everything in it.
    h = await head(s.id);
    expect((await post(alice, s.id, "rename", { path: "d", name: "e", seen: String(h) })).status).toBe(303);
    expect(await live(s.id)).toEqual(["b.txt", "e", "e/x.txt"]);
    // Onto a name that is taken (also in another case): refused, nothing changed.
    await upload(alice, s.id, "c.txt", "c", await head(s.id));
    h = await head(s.id);
    expect((await post(alice, s.id, "rename", { path: "b.txt", name: "C.TXT", seen: String(h) })).status).toBe(400);
    expect((await post(alice, s.id, "rename", { path: "b.txt", name: "..", seen: String(h) })).status).toBe(400);
    expect(await head(s.id)).toBe(h);
    const d = await post(alice, s.id, "delete", { path: "e", seen: String(h) });
    expect(d).toMatchObject({ status: 303, location: `/web/s/${s.id}/` });
    expect(await live(s.id)).toEqual(["b.txt", "c.txt"]);
    expect((await c.store.getEntry(s.id, "e/x.txt"))!).toMatchObject({ deleted: true, replica });
  });

  it("deleting or renaming what changed since the page was shown is refused (an edit beats a deletion)", async () => {
    const s = await pair();
    await upload(alice, s.id, "plan.txt", "first", 0);
    const seen = await head(s.id);
    await bobCommits(s.id, "plan.txt", "bob's edit", Date.UTC(2026, 10, 25, 8, 0, 0));
    const h = await head(s.id);
    const d = await post(alice, s.id, "delete", { path: "plan.txt", seen: String(seen) });
    expect(d.status).toBe(409);
    expect(d.text).toContain("changed since this page was shown");
    expect((await post(alice, s.id, "rename", { path: "plan.txt", name: "p.txt", seen: String(seen) })).status).toBe(409);
    expect(await head(s.id)).toBe(h);
    expect(await content(s.id, "plan.txt")).toBe("bob's edit");
  });

  it("a folder downloads as a zip with its files; the whole space too", async () => {
    const s = await pair();
    const big = randomBytes(150_000);
    await upload(alice, s.id, "b.txt", "bee", 0, "a");
    await upload(alice, s.id, "d.bin", big, await head(s.id), "a/c");
    await upload(alice, s.id, HOSTILE, "x", await head(s.id));
    const { res, body } = await get(bob, `/web/s/${s.id}/zip?path=a`);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="a.zip"; filename*=UTF-8''a.zip`);
    const entries = readZip(body);
    expect(entries.map((e) => e.name)).toEqual(["a/", "a/b.txt", "a/c/", "a/c/d.bin"]);
    expect(entries[1]!.data.toString()).toBe("bee");
    expect(entries[3]!.data.equals(big)).toBe(true);
    const sub = readZip((await get(bob, `/web/s/${s.id}/zip?path=a%2Fc`)).body);
    expect(sub.map((e) => e.name)).toEqual(["c/", "c/d.bin"]);
    const all = readZip((await get(bob, `/web/s/${s.id}/zip`)).body);
    expect(all.map((e) => e.name)).toEqual([HOSTILE, "a/", "a/b.txt", "a/c/", "a/c/d.bin"]);
    expect((await get(bob, `/web/s/${s.id}/zip?path=nope`)).res.status).toBe(404);
  });
});

describe("the upload form without its script (multipart/form-data, busboy)", () => {
  async function form(jid: string, space: SpaceId, files: Array<[string, string]>, fields: Record<string, string>, folder = "") {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    for (const [name, data] of files) body.append("files", new Blob([data]), name);
    const q = folder ? `?path=${encodeURIComponent(folder)}` : "";
    const res = await fetch(`${base}/web/s/${space}/upload${q}`, { method: "POST", headers: { ...as(jid), origin: base }, body, redirect: "manual" });
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  }

  it("uploads every file of the form, then back to the folder", async () => {
    const s = await pair();
    const r = await form(alice, s.id, [["one.txt", "1"], [HOSTILE, "2"]], { csrf: csrf(alice), seen: "0" }, "docs");
    expect(r).toMatchObject({ status: 303, location: `/web/s/${s.id}/?path=docs` });
    expect(await live(s.id)).toEqual(["docs", "docs/<img src=x onerror=alert(1)>.txt", "docs/one.txt"]);
    expect(await content(s.id, "docs/one.txt")).toBe("1");
  });

  it("a form without the session's token, or without seen, stores nothing", async () => {
    const s = await pair();
    expect((await form(alice, s.id, [["one.txt", "1"]], { csrf: "forged", seen: "0" })).status).toBe(403);
    expect((await form(alice, s.id, [["one.txt", "1"]], { seen: "0" })).status).toBe(403);
    expect((await form(alice, s.id, [["one.txt", "1"]], { csrf: csrf(alice) })).status).toBe(400);
    expect(await head(s.id)).toBe(0);
    expect((await c.store.uploadedBytes(alice))).toBe(0);
  });

  it("says per file what happened: a refused name, a conflict copy", async () => {
    const s = await pair();
    await upload(alice, s.id, "plan.txt", "first", 0);
    const seen = String(await head(s.id));
    await bobCommits(s.id, "plan.txt", "bob's edit", Date.UTC(2026, 10, 25, 8, 30, 0));
    const r = await form(alice, s.id, [["CON", "x"], ["plan.txt", "alice's edit"]], { csrf: csrf(alice), seen });
    expect(r.status).toBe(400);
    expect(r.text).toContain("CON: That name or path is not allowed");
    expect(r.text).toContain("plan.txt was changed by someone else meanwhile; their version is kept as plan.sync-conflict-20261125-083000-phone.txt.");
    expect(await live(s.id)).toEqual(["plan.sync-conflict-20261125-083000-phone.txt", "plan.txt"]);
  });
});

describe("pending versions (committed, content still on the committer's device)", () => {
  it("are shown as not uploaded yet; downloading, zipping, renaming or overwriting them unseen is refused", async () => {
    const s = await pair();
    await upload(alice, s.id, "a.txt", "a", 0);
    const seen = await head(s.id);
    const chunk = { hash: createHash("sha256").update("later").digest("hex") as ChunkHash, size: 5 };
    const version = { path: "video.bin", kind: "file" as const, vector: bump(EMPTY, phone, Date.UTC(2026, 10, 25, 8, 0, 0)), hash: chunk.hash, size: 5, mtimeMs: Date.UTC(2026, 10, 25, 8, 0, 0), mode: 0o644, deleted: false, replica: phone, chunks: [chunk], pending: {} };
    await c.ok(B, "set", I.buildCommit({ space: s.id, changes: [{ version, base: EMPTY }] }));
    expect((await c.store.getEntry(s.id, "video.bin"))!.pending).toEqual({ by: bob });
    const h = await head(s.id);
    expect((await get(alice, `/web/s/${s.id}/`)).body.toString()).toContain(">not uploaded yet</span>");
    const d = await get(alice, `/web/s/${s.id}/file?path=video.bin`);
    expect(d.res.status).toBe(409);
    expect(d.body.toString()).toContain("bob@example.org&#39;s device has still to upload it");
    expect((await get(alice, `/web/s/${s.id}/zip`)).res.status).toBe(409);
    expect((await post(alice, s.id, "rename", { path: "video.bin", name: "v.bin", seen: String(h) })).status).toBe(409);
    expect((await upload(alice, s.id, "video.bin", "mine", seen)).status).toBe(409);
    expect(await head(s.id)).toBe(h);
    // Seen, it may be replaced or deleted like any version.
    expect((await post(alice, s.id, "delete", { path: "video.bin", seen: String(h) })).status).toBe(303);
    expect(await live(s.id)).toEqual(["a.txt"]);
  });
});

describe("the web replica's parts", () => {
  it("its replica id is made once and kept", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "xshare-web-replica-"));
    try {
      let n = 0;
      const id = await loadWebReplica(dir, (p) => `${p}${++n}`);
      expect(id).toBe("web-1");
      expect(await loadWebReplica(dir, (p) => `${p}${++n}`)).toBe("web-1");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("applyCommit with expect refuses when the current version is not the one read", async () => {
    const s = await pair();
    await bobCommits(s.id, "p.txt", "one", Date.UTC(2026, 10, 25, 8, 0, 0));
    const read = (await c.store.getEntry(s.id, "p.txt"))!;
    await bobCommits(s.id, "p.txt", "two", Date.UTC(2026, 10, 25, 8, 1, 0));
    const chunk = await c.upload("three", alice);
    const version = { path: "p.txt", kind: "file" as const, vector: bump((await c.store.getEntry(s.id, "p.txt"))!.vector, replica, c.deps.now()), hash: chunk.hash as ChunkHash, size: 5, mtimeMs: c.deps.now(), mode: 0o644, deleted: false, replica, chunks: [chunk] };
    const commit = { space: s.id, changes: [{ version, base: read.vector }] };
    await expect(applyCommit(c.deps, alice, commit, { expect: new Map([["p.txt", read.vector]]) })).rejects.toMatchObject({ code: "version-conflict" });
    // The same commit without the expectation descends from the current version and is taken.
    await applyCommit(c.deps, alice, commit);
  });
});
