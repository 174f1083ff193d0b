/**
 * The patent's FIG. 9, with real processes: Prosody, the sharing manager (here the patent's
 * "presence server") and `xshare run` for Adam and Bob; Charlene is a member of one of the two
 * spaces, Dave is a contact of Adam's who shares nothing. The figure's blocks and how each is
 * shown:
 *
 *   "Whenever client A signs on (and/or whenever one of its version vectors changes), it sends
 *   a presence change augmented with information about each of its version vectors": Adam's
 *   sharing client sends directed presence to the sharing manager at sign-on and again after a
 *   change (Prosody's debug log of what it routed: the top tag of every stanza, with the
 *   addresses). Its broadcast presence, which Dave's ordinary chat client receives, carries no
 *   digest (XEP-draft.md § 8).
 *
 *   "The presence server stores information about each of the client's version vectors": a
 *   member's client that announces itself is told, per space, the digest Adam's client last
 *   announced (`<peer digest/>`), equal to the digest of Adam's device vector, and the
 *   authoritative digest of the space. We look at what the presence server tells a member
 *   through a plain XMPP resource of that member that sends the same directed presence a
 *   sharing client sends (`askPresenceServer`), and leaves again at once.
 *
 *   "The presence server may filter out information regarding the other version vectors":
 *   Charlene, a member of the group folder only, is told that space's digest and not the pair
 *   folder's; Dave, a member of nothing, is told nothing; Dave's and Bob's ordinary chat clients
 *   never receive a digest, a space id, or anything from the sharing manager.
 *
 *   "Client B compares the received version vector with its own. If they match, the shared
 *   folders are synchronized; if not, synchronization is performed": Bob's client signs on
 *   after Adam changed one of their two spaces with `xshare sync` (which sends no SNM, so only
 *   the digests can tell): the unchanged space is not synchronized at all, the changed one is.
 *
 *   "Following completion, each client updates its version vector and its presence": the
 *   presence server then holds the same digest from Adam's and Bob's clients, equal to the
 *   space's own.
 *
 * While both are online, this implementation tells a change with an SNM (FIG. 10), not by
 * re-sending presence to the other members: the sharing manager sends a client new presence
 * when it signs on and when a peer comes, goes or changes its show (XEP-draft.md § 5.12). The
 * daemons run with a 10-minute keepalive, so every presence Adam's client sends in these tests
 * is one the figure asks for.
 *
 * Ordering without clocks: a daemon runs its syncs one at a time, in the order it wanted them.
 * "Space X was not synchronized" is shown by a later sync that was asked for after anything
 * that could have asked for X.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NS } from "../../protocol/ns.ts";
import { type Digests, parseDigests } from "../../protocol/stanzas/sync-signals.ts";
import { parseXml } from "../../protocol/xml.ts";
import { type Cast, type ChatClient, type Routed, hasContent, startCast, syncLines } from "../harness/cast.ts";

let cast: Cast;
/** Ordinary chat clients, and the resources that look at what the presence server tells a member. */
const chat = {} as Record<"adam" | "bob" | "dave", ChatClient>;
const probes: Partial<Record<"bob" | "charlene" | "dave", ChatClient>> = {};
const space = { trip: "", family: "" };
const folder = { adam: { trip: "", family: "" }, bob: { trip: "", family: "" } };
/** Where the routed log stood before Adam's client signed on. */
let signOn = 0;
const daemonJid = (name: string) => `${cast.jid(name)}/xshare-${name}-pc`;
const component = () => cast.prosody.componentDomain;

/** Presence a session sent to the server. */
const presencesFrom = (log: readonly Routed[], session: string) => log.filter((r) => r.dir === "in" && r.session === session && r.name === "presence");

async function accept(name: string, id: string): Promise<string> {
  const out = (await cast.run(name, ["accept", id])).trim();
  return out.slice(out.indexOf(" → ") + 3);
}

/**
 * What the presence server tells a sharing client of `name` that signs on now: a plain resource
 * of theirs sends the directed presence a sharing client sends (holding no space), reads the
 * answer, and says unavailable again.
 */
async function askPresenceServer(name: "bob" | "charlene" | "dave"): Promise<{ digests: Digests; text: string }> {
  const probe = probes[name] ??= await cast.chat(name, "probe");
  const from = probe.heard.length;
  await probe.xmpp.send(xml("presence", { to: component() }, xml("priority", {}, "-1"), xml("digests", { xmlns: NS.share, replica: `${name}-probe` })));
  const answer = () => probe.heard.slice(from).find((s) => s.startsWith("<presence") && s.includes(`from="${component()}"`) && s.includes("<digests"));
  await cast.eventually(`the presence server answers ${name}'s probe`, () => answer() !== undefined);
  await probe.xmpp.send(xml("presence", { to: component(), type: "unavailable" }));
  const text = answer()!;
  return { digests: parseDigests(parseXml(text).getChild("digests", NS.share)!), text };
}

type View = Record<string, { digest: string; peers: Record<string, string | undefined> }>;
/** Per space: its digest and the digest each peer (full JID) announced, as the presence server says. */
function view(d: Digests): View {
  return Object.fromEntries(d.spaces.map((s) => [s.space, { digest: s.digest, peers: Object.fromEntries((s.peers ?? []).map((p) => [p.jid, p.digest])) }]));
}

/** Asks the presence server (as Bob) until `done` holds for what it says; returns the last answer. */
async function bobsViewWhen(what: string, done: (v: View) => boolean): Promise<View> {
  let v: View = {};
  await cast.eventually(what, async () => done((v = view((await askPresenceServer("bob")).digests))));
  return v;
}

beforeAll(async () => {
  cast = await startCast(["adam", "bob", "charlene", "dave"], { prosodyLogLevel: "debug", daemonArgs: ["--delay", "100", "--keepalive", "600"] });
  // Ordinary chat clients; Dave and Bob are in Adam's roster (mutual subscriptions).
  for (const name of ["adam", "bob", "dave"] as const) chat[name] = await cast.chat(name);
  await cast.befriend(chat.adam, chat.dave);
  await cast.befriend(chat.adam, chat.bob);

  const bob = cast.jid("bob");
  folder.adam.trip = cast.sharing("adam", "Pairs", bob, "Trip");
  folder.adam.family = cast.sharing("adam", "Groups", "Family");
  await mkdir(folder.adam.trip, { recursive: true });
  await mkdir(folder.adam.family, { recursive: true });
  await writeFile(path.join(folder.adam.trip, "plan.txt"), "Day 1: Lisbon\n");
  await writeFile(path.join(folder.adam.family, "list.txt"), "bread\n");
  space.trip = (await cast.run("adam", ["share", folder.adam.trip, "--with", bob])).trim();
  space.family = (await cast.run("adam", ["share", folder.adam.family, "--with", `${bob},${cast.jid("charlene")}`, "--group", "Family"])).trim();
  folder.bob.trip = await accept("bob", space.trip);
  folder.bob.family = await accept("bob", space.family);

  signOn = (await cast.routed()).length;
  await cast.online("adam");
  await cast.online("bob");
  await cast.eventually("Bob has plan.txt", hasContent(path.join(folder.bob.trip, "plan.txt"), "Day 1: Lisbon\n"));
  await cast.eventually("Bob has list.txt", hasContent(path.join(folder.bob.family, "list.txt"), "bread\n"));
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

describe("FIG. 9: version vectors in presence, through a filtering presence server", () => {
  it("when Adam's client signs on it sends a presence change with one digest per space, to the presence server only; the presence server stores them", async () => {
    const log = (await cast.routed()).slice(signOn);
    const adams = presencesFrom(log, daemonJid("adam"));
    // Broadcast presence (no `to`: the server sends it to Adam's contacts) and directed presence
    // to the presence server; nothing directed to anyone else.
    expect(adams.some((p) => p.attrs.to === undefined)).toBe(true);
    expect(adams.some((p) => p.attrs.to === component())).toBe(true);
    expect(adams.filter((p) => p.attrs.to !== undefined && p.attrs.to !== component())).toEqual([]);
    // What Adam's contact Dave receives from Adam's sharing client: that it is there and supports
    // sharing (capabilities), with priority -1; no digest.
    const seen = chat.dave.heard.filter((s) => s.startsWith("<presence") && s.includes(`from="${daemonJid("adam")}"`));
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) {
      expect(s).toContain("http://jabber.org/protocol/caps");
      expect(s).toContain("<priority>-1</priority>");
      expect(s).not.toContain("digest");
      expect(s).not.toContain(NS.share);
    }
    // The presence server stored what Adam's client announced: Bob's side is told, per space,
    // the digest of Adam's device vector, and the space's own digest.
    const bob = view((await askPresenceServer("bob")).digests);
    expect(Object.keys(bob).sort()).toEqual([space.trip, space.family].sort());
    for (const id of [space.trip, space.family]) {
      expect(bob[id]!.peers[daemonJid("adam")]).toBe(cast.deviceDigest("adam", id));
      expect(bob[id]!.digest).toBe(cast.componentDigest(id));
    }
  }, 60_000);

  it("the presence server passes each space's digest only to that space's members: not to Charlene for the pair folder, nothing to Dave, nothing to anyone's chat client", async () => {
    const charlene = await askPresenceServer("charlene");
    expect(Object.keys(view(charlene.digests))).toEqual([space.family]);
    expect(view(charlene.digests)[space.family]!.peers[daemonJid("adam")]).toBe(cast.deviceDigest("adam", space.family));
    expect(charlene.text).not.toContain(space.trip);

    const dave = await askPresenceServer("dave");
    expect(dave.digests.spaces).toEqual([]);
    for (const id of [space.trip, space.family]) expect(dave.text).not.toContain(id);

    // Dave's and Bob's ordinary chat clients (and Adam's) heard presence, but never a digest, a
    // space id, or any stanza from the sharing manager.
    const log = await cast.routed();
    for (const name of ["adam", "bob", "dave"] as const) {
      const c = chat[name];
      expect(c.heard.some((s) => s.startsWith("<presence")), name).toBe(true);
      for (const s of c.heard) {
        expect(s, name).not.toContain(NS.share);
        for (const id of [space.trip, space.family]) expect(s, name).not.toContain(id);
      }
      expect(log.filter((r) => r.dir === "out" && r.session === c.jid && r.attrs.from === component()), name).toEqual([]);
    }
  }, 60_000);

  it("when one of Adam's version vectors changes his client sends its presence again; the presence server keeps the new digest; once Bob's client has synchronized, both digests match again", async () => {
    const from = (await cast.routed()).length;
    const before = { trip: cast.deviceDigest("adam", space.trip), family: cast.deviceDigest("adam", space.family) };
    await writeFile(path.join(folder.adam.trip, "plan.txt"), "Day 1: Lisbon\nDay 2: Porto\n");
    await cast.eventually("Bob has the new plan", hasContent(path.join(folder.bob.trip, "plan.txt"), "Day 1: Lisbon\nDay 2: Porto\n"));
    const now = cast.deviceDigest("adam", space.trip);
    expect(now).not.toBe(before.trip);
    await cast.eventually("Bob's client has the vector Adam's has", () => cast.deviceDigest("bob", space.trip) === now);

    const log = (await cast.routed()).slice(from);
    expect(presencesFrom(log, daemonJid("adam")).filter((p) => p.attrs.to === component()).length).toBeGreaterThan(0);
    // Adam's new digest for the Trip folder, his old one for the other folder, and Bob's, equal
    // to Adam's once his client announced it.
    const bob = await bobsViewWhen("the presence server has Bob's new digest", (v) => v[space.trip]?.peers[daemonJid("bob")] === now);
    expect(bob[space.trip]).toEqual({ digest: now, peers: { [daemonJid("adam")]: now, [daemonJid("bob")]: now } });
    expect(bob[space.family]!.peers[daemonJid("adam")]).toBe(before.family);
    expect(cast.componentDigest(space.trip)).toBe(now);
  }, 60_000);

  it("Bob's client signs on again: the unchanged space's digests are equal, so it is not synchronized; the space Adam changed meanwhile (without any SNM) is", async () => {
    await cast.offline("bob");
    await cast.offline("adam");
    // Adam changes the group folder and pushes it with `xshare sync`, a session that sends no
    // SNM: the sharing manager keeps nothing for Bob, only the digests can tell him.
    await writeFile(path.join(folder.adam.family, "list.txt"), "bread\nmilk\n");
    expect(await cast.run("adam", ["sync"])).toContain(`${space.family}: in-sync, 1 sent`);
    expect(cast.pendingSnms().filter((p) => p.startsWith(`${cast.jid("bob")} `))).toEqual([]);
    await cast.online("adam");

    const from = (await cast.routed()).length;
    const bob = await cast.online("bob");
    await cast.eventually("Bob's client synchronizes the group folder", () => syncLines(bob.output(), space.family).length > 0);
    expect(syncLines(bob.output(), space.family)[0]).toMatchObject({ status: "in-sync", sent: 0, received: 1 });
    expect(await hasContent(path.join(folder.bob.family, "list.txt"), "bread\nmilk\n")()).toBe(true);
    // A sync Bob's client wants only now, after anything his sign-on could have asked for.
    await writeFile(path.join(folder.bob.family, "reply.txt"), "milk bought\n");
    await cast.eventually("Bob's client sends his reply", () => syncLines(bob.output(), space.family).some((l) => l.sent === 1));
    expect(syncLines(bob.output(), space.trip)).toEqual([]);

    // What told him: the presence server's directed presence, no SNM.
    const log = (await cast.routed()).slice(from);
    expect(log.some((r) => r.dir === "out" && r.session === daemonJid("bob") && r.name === "presence" && r.attrs.from === component())).toBe(true);
    expect(log.filter((r) => r.dir === "out" && r.session === daemonJid("bob") && r.name === "iq" && r.attrs.type === "set")).toEqual([]);

    // Afterwards (Adam's client pulls the reply) the presence server holds equal digests from
    // both clients for both spaces, equal to the spaces' own.
    await cast.eventually("Adam has the reply", hasContent(path.join(folder.adam.family, "reply.txt"), "milk bought\n"));
    const settled = () => [space.trip, space.family].every((id) => cast.deviceDigest("adam", id) === cast.deviceDigest("bob", id));
    await cast.eventually("Adam's and Bob's vectors are equal", settled);
    const v = await bobsViewWhen("the presence server holds equal digests", (v) =>
      [space.trip, space.family].every((id) => v[id] !== undefined && v[id].peers[daemonJid("adam")] === v[id].digest && v[id].peers[daemonJid("bob")] === v[id].digest),
    );
    for (const id of [space.trip, space.family]) {
      expect(v[id]).toEqual({ digest: cast.componentDigest(id), peers: { [daemonJid("adam")]: cast.componentDigest(id), [daemonJid("bob")]: cast.componentDigest(id) } });
      expect(cast.deviceDigest("bob", id)).toBe(cast.componentDigest(id));
    }
  }, 90_000);
});
