// The sharing indicator's capability cache (client/im/caps.ts) and the chat history's bounds
// (client/im/history.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CapsCache } from "../../client/im/caps.ts";
import { History } from "../../client/im/history.ts";
import { NS } from "../../protocol/ns.ts";
import { CAPS_NODE, CLIENT_DISCO, type DiscoInfo, capsVer } from "../../protocol/stanzas/disco.ts";

const PLAIN: DiscoInfo = { identities: [{ category: "client", type: "phone", name: "Chat" }], features: [NS.discoInfo, NS.caps] };

function cache(answers: Record<string, DiscoInfo | Error>, opts: { forms?: boolean } = {}) {
  const asked: string[] = [];
  const c = new CapsCache(async (jid, node) => {
    asked.push(`${jid} ${node}`);
    await new Promise((r) => setTimeout(r, 5));
    const a = answers[jid];
    if (!a || a instanceof Error) throw a ?? new Error("no answer");
    return { info: a, hasForms: opts.forms ?? false };
  });
  return { c, asked };
}

describe("caps cache (XEP-0115)", () => {
  const shareVer = { node: CAPS_NODE, hash: "sha-1", ver: capsVer(CLIENT_DISCO) };

  it("asks disco#info of node#ver once per ver, also for resources announcing it meanwhile, and keeps a verified answer", async () => {
    const { c, asked } = cache({ "bob@example.org/xshare-a": CLIENT_DISCO, "carol@example.org/xshare-b": CLIENT_DISCO });
    expect(c.known(shareVer)).toBeUndefined();
    const [a, b] = await Promise.all([c.supportsSharing("bob@example.org/xshare-a", shareVer), c.supportsSharing("carol@example.org/xshare-b", shareVer)]);
    expect([a, b]).toEqual([true, true]);
    expect(asked).toEqual([`bob@example.org/xshare-a ${CAPS_NODE}#${shareVer.ver}`]);
    expect(c.known(shareVer)).toBe(true);
    expect(await c.supportsSharing("dave@example.org/x", shareVer)).toBe(true);
    expect(asked).toHaveLength(1);
  });

  it("a plain client's verified caps say no sharing", async () => {
    const ver = { node: "https://chat.example", hash: "sha-1", ver: capsVer(PLAIN) };
    const { c } = cache({ "carol@example.org/phone": PLAIN });
    expect(await c.supportsSharing("carol@example.org/phone", ver)).toBe(false);
    expect(c.known(ver)).toBe(false);
  });

  it("never trusts a ver the answer does not hash to: it counts for the resource that answered only", async () => {
    // Mallory announces the ver of a plain client but claims sharing in its answer.
    const lying = { node: "n", hash: "sha-1", ver: capsVer(PLAIN) };
    const { c, asked } = cache({ "mallory@example.org/x": CLIENT_DISCO, "carol@example.org/phone": PLAIN });
    expect(await c.supportsSharing("mallory@example.org/x", lying)).toBe(true);
    expect(c.known(lying)).toBeUndefined();
    // Carol's client announcing the same ver is asked itself, and then the ver is verified.
    expect(await c.supportsSharing("carol@example.org/phone", lying)).toBe(false);
    expect(asked).toHaveLength(2);
    expect(c.known(lying)).toBe(false);
  });

  it("answers with data forms, other hashes and failures are not kept for the ver", async () => {
    const { c: withForms } = cache({ "bob@example.org/a": CLIENT_DISCO }, { forms: true });
    expect(await withForms.supportsSharing("bob@example.org/a", shareVer)).toBe(true);
    expect(withForms.known(shareVer)).toBeUndefined();
    const { c: md5 } = cache({ "bob@example.org/a": CLIENT_DISCO });
    expect(await md5.supportsSharing("bob@example.org/a", { ...shareVer, hash: "md5" })).toBe(true);
    expect(md5.known({ ...shareVer, hash: "md5" })).toBeUndefined();
    const { c: failing, asked } = cache({ "bob@example.org/a": new Error("item-not-found") });
    expect(await failing.supportsSharing("bob@example.org/a", shareVer)).toBeUndefined();
    expect(await failing.supportsSharing("bob@example.org/a", shareVer)).toBeUndefined();
    expect(asked).toHaveLength(2); // asked again: a failure is not an answer
  });
});

describe("chat history", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("keeps conversations across reopening, oldest first, bounded per contact and in contacts", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "xshare-im-"));
    const file = path.join(dir, "im.sqlite");
    let h = new History(file, { perContact: 3, maxContacts: 2 });
    for (let i = 1; i <= 5; i++) h.add({ contact: "bob@example.org", dir: i % 2 ? "in" : "out", body: `b${i}`, at: i });
    h.add({ contact: "carol@example.org", dir: "in", body: "c1", at: 6, via: "carbon" });
    h.close();
    h = new History(file, { perContact: 3, maxContacts: 2 });
    // Dropped, not only hidden: asking for more gets no more.
    expect(h.conversation("bob@example.org", 100).map((m) => m.body)).toEqual(["b3", "b4", "b5"]);
    expect(h.conversation("carol@example.org")).toMatchObject([{ body: "c1", via: "carbon", dir: "in", at: 6 }]);
    expect(h.contacts().map((c) => [c.contact, c.last.body])).toEqual([["carol@example.org", "c1"], ["bob@example.org", "b5"]]);
    // A third conversation: the one silent for longest (Bob's) goes.
    h.add({ contact: "dave@example.org", dir: "in", body: "d1", at: 7 });
    expect(h.contacts().map((c) => c.contact)).toEqual(["dave@example.org", "carol@example.org"]);
    expect(h.conversation("bob@example.org")).toEqual([]);
    expect(h.last("dave@example.org")?.body).toBe("d1");
    h.close();
  });
});
