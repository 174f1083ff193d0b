/**
 * The sharing manager against a real Prosody, as its own process, with xmpp.js accounts:
 * Alice and Bob share, Carol joins later, Mallory is not a member. Issue 3's "proven by".
 */
import { createHash } from "node:crypto";
import type { Client } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileVersion } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { NS } from "../../protocol/ns.ts";
import * as G from "../../protocol/stanzas/groups.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import * as SE from "../../protocol/stanzas/session.ts";
import * as SL from "../../protocol/stanzas/slots.ts";
import { parseStanza } from "../../protocol/stanzas/registry.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import { EMPTY, EMPTY_DIGEST, bump, digest, merge, type VersionVector } from "../../protocol/vv.ts";
import { buildDigests, parseDigests } from "../../protocol/stanzas/sync-signals.ts";
import { Element, parseXml } from "../../protocol/xml.ts";
import { type ComponentProcess, share, shareError, startComponentProcess } from "../harness/component.ts";
import { type ProsodyHandle, startProsody } from "../harness/prosody.ts";
import { connectClient, stopEntity, type WithErrors } from "../harness/xmpp.ts";

const PW = "correct horse";
let prosody: ProsodyHandle;
let comp: ComponentProcess;
const clients: Record<string, WithErrors<Client>> = {};
let C: string; // the component's domain

const jid = (u: string) => `${u}@${prosody.domain}` as BareJid;
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex") as ChunkHash;
const laptop = "laptop" as ReplicaId;
const phone = "phone" as ReplicaId;

beforeAll(async () => {
  prosody = await startProsody({
    accounts: [["alice", PW], ["bob", PW], ["carol", PW], ["mallory", PW]],
  });
  C = prosody.componentDomain;
  comp = await startComponentProcess(prosody, { XSHARE_GC_INTERVAL_SECONDS: "1" });
  for (const u of ["alice", "bob", "carol", "mallory"]) clients[u] = await connectClient(prosody, u, PW, "xshare-test");
}, 60_000);

afterAll(async () => {
  for (const c of Object.values(clients)) await stopEntity(c);
  await comp?.destroy();
  await prosody?.stop();
});

const q = <T>(u: string, type: "get" | "set", payload: Element) => share<T>(clients[u]!, C, type, payload);
const qErr = (u: string, type: "get" | "set", payload: Element) => shareError(clients[u]!, C, type, payload);

/** Uploads bytes as one chunk through slots + HTTP PUT; returns the chunk. */
async function uploadChunk(u: string, space: SpaceId, bytes: Buffer) {
  const chunk = { hash: sha(bytes), size: bytes.length };
  const slots = await q<SL.Slots>(u, "get", SL.buildSlotRequest({ space, direction: "upload", chunks: [chunk] }));
  if (slots.missing.includes(chunk.hash)) {
    const res = await fetch(`${slots.url}${chunk.hash}`, { method: "PUT", body: new Uint8Array(bytes), headers: { authorization: `Bearer ${slots.token}` } });
    expect(res.status).toBe(201);
  }
  return chunk;
}

async function download(u: string, space: SpaceId, hash: ChunkHash, size: number): Promise<Response> {
  const slots = await q<SL.Slots>(u, "get", SL.buildSlotRequest({ space, direction: "download", chunks: [{ hash, size }] }));
  return fetch(`${slots.url}${hash}`, { headers: { authorization: `Bearer ${slots.token}` } });
}

function fileVersion(path: string, bytes: Buffer, vector: VersionVector, replica: ReplicaId, chunk: { hash: ChunkHash; size: number }): FileVersion {
  return { path, kind: "file", vector, hash: sha(bytes), size: bytes.length, mtimeMs: 1_764_061_200_000, mode: 0o644, deleted: false, replica, chunks: [chunk] };
}

describe("the sharing manager on a real Prosody", () => {
  let group: G.Group;
  let space: S.Space;
  let plan: FileVersion;

  it("says it is ready in one line, with its domain and HTTP URL, and answers its health check", async () => {
    const ready = /^xshare-component ready: (\S+) on (\S+), HTTP (\S+) \(health: (\S+)\)$/m.exec(comp.output());
    expect(ready?.slice(1, 3)).toEqual([C, prosody.componentService]);
    expect(ready?.[4]).toBe(`${ready?.[3]}health`);
    const res = await fetch(ready![4]!);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", domain: C, xmpp: "connected" });
  });

  it("is discoverable and advertises urn:xmpp:share:0", async () => {
    const items = await clients.alice!.iqCaller.request(
      new Element("iq", { type: "get", to: prosody.domain }).cnode(new Element("query", { xmlns: NS.discoItems })).root(),
    );
    expect(items.toString()).toContain(C);
    const info = await clients.alice!.iqCaller.request(
      new Element("iq", { type: "get", to: C }).cnode(new Element("query", { xmlns: NS.discoInfo })).root(),
    );
    expect(info.toString()).toContain(NS.share);
  });

  it("creates a group and a group space; members list it, others don't", async () => {
    group = await q<G.Group>("alice", "set", G.buildCreateGroup({ name: "Family", members: [jid("bob")] }));
    space = await q<S.Space>("alice", "set", S.buildCreateSpace({ kind: "group", name: "Photos", group: group.id }));
    expect(space.members).toEqual([jid("alice"), jid("bob")]);
    expect((await q<S.Space[]>("bob", "get", S.buildSpaceListRequest())).map((s) => s.id)).toEqual([space.id]);
    expect(await q<S.Space[]>("carol", "get", S.buildSpaceListRequest())).toEqual([]);
  });

  it("two members commit and read the index; chunks travel over HTTP and are verified", async () => {
    const bytes = Buffer.from("Day 1: Lisbon\n");
    const chunk = await uploadChunk("alice", space.id, bytes);
    plan = fileVersion("plan.txt", bytes, bump(EMPTY, laptop, 1000), laptop, chunk);
    expect((await q<I.Committed>("alice", "set", I.buildCommit({ space: space.id, changes: [{ version: plan, base: EMPTY }] }))).head).toBe(1);

    const page = await q<I.IndexPage>("bob", "get", I.buildIndexQuery({ space: space.id, after: 0 }));
    expect(page.entries).toEqual([{ ...plan, seq: 1 }]);
    const res = await download("bob", space.id, chunk.hash, chunk.size);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);

    const dl = await q<SL.Slots>("bob", "get", SL.buildSlotRequest({ space: space.id, direction: "download", chunks: [chunk] }));
    const part = await fetch(`${dl.url}${chunk.hash}`, { headers: { authorization: `Bearer ${dl.token}`, range: "bytes=0-2" } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("Day");
    const noToken = await fetch(`${dl.url}${chunk.hash}`);
    expect(noToken.status).toBe(401);

    const bobBytes = Buffer.from("Day 2: Porto\n");
    const bobChunk = await uploadChunk("bob", space.id, bobBytes);
    const day2 = fileVersion("day2.txt", bobBytes, bump(EMPTY, phone, 2000), phone, bobChunk);
    expect((await q<I.Committed>("bob", "set", I.buildCommit({ space: space.id, changes: [{ version: day2, base: EMPTY }] }))).head).toBe(2);
    const after1 = await q<I.IndexPage>("alice", "get", I.buildIndexQuery({ space: space.id, after: 1 }));
    expect(after1.entries.map((e) => e.path)).toEqual(["day2.txt"]);
  });

  it("refuses an upload whose bytes do not match the hash, and keeps nothing", async () => {
    const claimed = { hash: sha("what I claim"), size: 12 };
    const slots = await q<SL.Slots>("alice", "get", SL.buildSlotRequest({ space: space.id, direction: "upload", chunks: [claimed] }));
    const res = await fetch(`${slots.url}${claimed.hash}`, { method: "PUT", body: "something el", headers: { authorization: `Bearer ${slots.token}` } });
    expect(res.status).toBe(422);
    const again = await q<SL.Slots>("alice", "get", SL.buildSlotRequest({ space: space.id, direction: "upload", chunks: [claimed] }));
    expect(again.missing).toEqual([claimed.hash]);
  });

  it("refuses a conflicting commit with the current version", async () => {
    const bytes = Buffer.from("Day 1: Sintra\n");
    const chunk = await uploadChunk("bob", space.id, bytes);
    const concurrent = fileVersion("plan.txt", bytes, bump(EMPTY, phone, 3000), phone, chunk);
    const err = await qErr("bob", "set", I.buildCommit({ space: space.id, changes: [{ version: concurrent, base: EMPTY }] }));
    expect(err.code).toBe("version-conflict");
    expect(I.parseVersionConflictChildren(err.children)).toEqual(plan);
  });

  it("tells an online sharing client about a new space, and nobody else", async () => {
    const chat = await connectClient(prosody, "bob", PW, "chat");
    await chat.send(new Element("presence"));
    const seenByChat: string[] = [];
    chat.on("stanza", (st: Element) => {
      if (st.name === "message") seenByChat.push(st.toString());
    });
    // Bob's sharing client announces itself to the component with directed presence (§ 5.12).
    const announce = new Element("presence", { to: C });
    announce.cnode(buildDigests({ replica: phone, spaces: [] }));
    await clients.bob!.send(announce);
    await new Promise((r) => setTimeout(r, 300));
    const invited = new Promise<S.Space>((resolve) => {
      clients.bob!.on("stanza", (st: Element) => {
        const el = st.name === "message" ? st.getChild("invited", NS.share) : undefined;
        if (el) resolve(S.parseInvited(parseXml(el.toString())));
      });
    });
    const pair = await q<S.Space>("alice", "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [jid("bob")] }));
    expect(await invited).toEqual(pair);
    await new Promise((r) => setTimeout(r, 300));
    expect(seenByChat).toEqual([]);
    await stopEntity(chat);
  });

  it("answers a sharing client's digests in presence with the authoritative ones (FIG. 9)", async () => {
    const reply = new Promise<Element>((resolve) => {
      const on = (st: Element) => {
        if (st.name === "presence" && st.getChild("digests", NS.share)) {
          clients.bob!.off("stanza", on);
          resolve(st);
        }
      };
      clients.bob!.on("stanza", on);
    });
    const hello = new Element("presence", { to: C });
    hello.cnode(buildDigests({ replica: phone, spaces: [{ space: space.id, digest: EMPTY_DIGEST }] }));
    await clients.bob!.send(hello);
    const got = parseDigests(parseXml((await reply).toString()).getChild("digests", NS.share)!);
    const page = await q<I.IndexPage>("bob", "get", I.buildIndexQuery({ space: space.id, after: 0 }));
    const vector = page.entries.reduce((v, e) => merge(v, e.vector), EMPTY);
    expect(got.spaces.find((s) => s.space === space.id)?.digest).toBe(digest(vector));
  });

  it("a third member added later reads everything", async () => {
    await q("bob", "set", G.buildMemberChange("add-member", { group: group.id, jid: jid("carol") }));
    const page = await q<I.IndexPage>("carol", "get", I.buildIndexQuery({ space: space.id, after: 0 }));
    expect(page.entries.map((e) => e.path).sort()).toEqual(["day2.txt", "plan.txt"]);
    const res = await download("carol", space.id, plan.chunks[0]!.hash, plan.chunks[0]!.size);
    expect(res.status).toBe(200);
  });

  it("a non-member is refused exactly as for a space that does not exist", async () => {
    const real = await qErr("mallory", "get", I.buildIndexQuery({ space: space.id, after: 0 }));
    const none = await qErr("mallory", "get", I.buildIndexQuery({ space: "s-doesnotexist" as SpaceId, after: 0 }));
    expect({ ...real, stack: undefined }).toEqual({ ...none, stack: undefined });
    expect(real.code).toBe("not-found");
    expect(real.message).not.toContain(space.id);
  });

  it("a non-owner cannot write into a 'mine' space", async () => {
    const mine = await q<S.Space>("alice", "set", S.buildCreateSpace({ kind: "mine", name: "My sharing", members: [jid("bob")] }));
    const bytes = Buffer.from("graffiti");
    const v = fileVersion("tag.txt", bytes, bump(EMPTY, phone, 1), phone, { hash: sha(bytes), size: bytes.length });
    expect((await qErr("bob", "set", I.buildCommit({ space: mine.id, changes: [{ version: v, base: EMPTY }] }))).code).toBe("read-only");
    expect((await q<I.IndexPage>("bob", "get", I.buildIndexQuery({ space: mine.id, after: 0 }))).head).toBe(0);
  });

  it("reclaims a superseded chunk once every member replica acknowledged", async () => {
    // Carol's replica is known (it acknowledged an older state) and will lag behind: the old
    // chunk must stay however often GC runs (every second here). A member with no known replica
    // would not hold it back: it will receive the current version, not this one.
    await q("carol", "set", I.buildAck({ space: space.id, replica: "desk" as ReplicaId, seq: 1 }));
    const bytes = Buffer.from("Day 1: Lisbon, then Sintra\n");
    const chunk = await uploadChunk("alice", space.id, bytes);
    const head0 = (await q<I.IndexPage>("alice", "get", I.buildIndexQuery({ space: space.id, after: 0 }))).head;
    const next = fileVersion("plan.txt", bytes, bump(plan.vector, laptop, 4000), laptop, chunk);
    const { head } = await q<I.Committed>("alice", "set", I.buildCommit({ space: space.id, changes: [{ version: next, base: plan.vector }] }));
    expect(head).toBe(head0 + 1);
    const old = plan.chunks[0]!;
    for (const [u, r] of [["alice", laptop], ["bob", phone]] as const) await q(u, "set", I.buildAck({ space: space.id, replica: r, seq: head }));
    await new Promise((r) => setTimeout(r, 2500));
    expect((await download("bob", space.id, old.hash, old.size)).status).toBe(200);
    await q("carol", "set", I.buildAck({ space: space.id, replica: "desk" as ReplicaId, seq: head }));
    let status = 200;
    for (let i = 0; i < 120 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const slots = await q<SL.Slots>("bob", "get", SL.buildSlotRequest({ space: space.id, direction: "download", chunks: [old] }));
      status = slots.missing.includes(old.hash) ? 404 : 200;
    }
    expect(status).toBe(404);
    // The current version's chunk is kept for later joiners.
    expect((await download("carol", space.id, chunk.hash, chunk.size)).status).toBe(200);
    plan = next;
  }, 60_000);

  it("takes IQs over HTTP with a session token: a large commit, then a read over XMPP", async () => {
    const session = await q<SE.Session>("bob", "get", SE.buildSessionRequest());
    const bytes = Buffer.from("many");
    const chunk = await uploadChunk("bob", space.id, bytes);
    const changes = Array.from({ length: 1000 }, (_, i) => ({
      version: fileVersion(`bulk/${String(i).padStart(4, "0")}.txt`, bytes, bump(EMPTY, phone, 5000 + i), phone, chunk),
      base: EMPTY,
    }));
    const body = new Element("iq", { type: "set", id: "bulk" }).cnode(I.buildCommit({ space: space.id, changes })).root().toString();
    // Far over what Prosody lets a client send in one stanza (256 KiB) or in a minute at 10 kB/s.
    expect(body.length).toBeGreaterThan(256 * 1024);
    const res = await fetch(session.url, { method: "POST", body, headers: { authorization: `Bearer ${session.token}` } });
    expect(res.status).toBe(200);
    const reply = parseStanza(parseXml(await res.text()));
    expect(reply.context).toBe("result");
    const head = (reply as { value: I.Committed }).value.head;
    // Over XMPP the pages stop at a byte budget: read until complete.
    const read: I.IndexEntry[] = [];
    let after = head - 1000;
    for (let pages = 0; pages < 10; pages++) {
      const page = await q<I.IndexPage>("alice", "get", I.buildIndexQuery({ space: space.id, after, max: 1000 }));
      read.push(...page.entries);
      after = page.entries.at(-1)?.seq ?? after;
      if (page.complete) break;
    }
    expect(read).toHaveLength(1000);
    expect(read.every((e) => e.replica === phone)).toBe(true);
  });

  it("survives a Prosody restart and a restart of itself, with nothing lost", async () => {
    await prosody.restart();
    // Clients and component reconnect by themselves (xmpp.js reconnect; the component's backoff).
    const deadline = Date.now() + 30_000;
    let spaces: S.Space[] | undefined;
    while (!spaces && Date.now() < deadline) {
      try {
        spaces = await q<S.Space[]>("alice", "get", S.buildSpaceListRequest());
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    expect(spaces?.map((s) => s.id)).toContain(space.id);

    expect(await comp.stop()).toBe(0);
    expect(comp.output()).toContain('"msg":"stopped"');
    await comp.start();
    const page = await q<I.IndexPage>("carol", "get", I.buildIndexQuery({ space: space.id, after: 0 }));
    expect(page.entries.find((e) => e.path === "plan.txt")).toMatchObject({ hash: plan.hash });
    const res = await download("carol", space.id, plan.chunks[0]!.hash, plan.chunks[0]!.size);
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe("Day 1: Lisbon, then Sintra\n");
    const resolved = { ...plan, vector: bump(merge(plan.vector, EMPTY), phone, 9000), replica: phone };
    expect((await q<I.Committed>("bob", "set", I.buildCommit({ space: space.id, changes: [{ version: resolved, base: plan.vector }] }))).head).toBeGreaterThan(0);
  });

  it("a restarted sharing manager is let in while the server still holds the old connection; the old one stops", async () => {
    // A frozen process keeps its TCP connection open, as a crashed host's connection does until
    // it times out. component_conflict_resolve = "kick_old" (docker/prosody/prosody.cfg.lua)
    // lets the new process in at once.
    const old = comp.pid()!;
    process.kill(old, "SIGSTOP");
    const next = await startComponentProcess(prosody);
    try {
      const info = await clients.alice!.iqCaller.request(new Element("iq", { type: "get", to: C }).cnode(new Element("query", { xmlns: NS.discoInfo })).root());
      expect(info.toString()).toContain(NS.share);
      // Woken up, the replaced process reads the conflict and exits instead of reconnecting
      // (which would kick the new one out in turn).
      const exited = new Promise<number | null>((resolve) => {
        const poll = setInterval(() => {
          if (comp.pid() === undefined) {
            clearInterval(poll);
            resolve(null);
          }
        }, 100);
      });
      process.kill(old, "SIGCONT");
      await exited;
      expect(comp.output()).toContain("another connection for " + C + " replaced this one at the XMPP server; stopping");
      expect(next.pid()).toBeDefined();
      const again = await clients.alice!.iqCaller.request(new Element("iq", { type: "get", to: C }).cnode(new Element("query", { xmlns: NS.discoInfo })).root());
      expect(again.toString()).toContain(NS.share);
      expect(next.output()).not.toContain("disconnected from the XMPP server");
    } finally {
      await next.destroy();
    }
  });
});
