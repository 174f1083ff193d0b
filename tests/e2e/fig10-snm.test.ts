/**
 * The patent's FIG. 10, with real processes: Prosody, the sharing manager and `xshare run` for
 * Adam, Bob and Charlene. The figure's blocks and how each is shown:
 *
 *   "Client A determines that at least one condition has been met to send the SNM": one of its
 *   version vectors changed (a local change was pushed) and a contact sharing that space is
 *   online → one SNM, an IQ set carrying the space id and the vector, to that contact's
 *   sharing client. Shown from Prosody's own log of what it routed (debug level: the top tag
 *   of every stanza, with the addresses it stamped): exactly one IQ set from Adam's sharing
 *   client to Bob's per change, answered by Bob's client.
 *
 *   "Client B compares the received vector with its own. If they match, the folders are
 *   synchronized": an SNM whose vector (or digest) equals Adam's own makes his client do
 *   nothing; one it does not dominate makes it synchronize that space only.
 *
 *   "If they differ, client B executes a protocol to synchronize the folders; each client
 *   updates its version vector": Bob pulls what the SNM announced; afterwards Adam's, Bob's and
 *   the sharing manager's digests are equal.
 *
 *   Reliability for a contact who is not online (XEP-draft.md § 5.13): the SNM goes to the
 *   sharing manager, which keeps one per (member, space) in its database (`pending_snms`),
 *   merged over successive changes, delivers it when the member's sharing client logs on, and
 *   drops it once answered.
 *
 *   "Optimized by caching a last known version vector per contact and sending the SNM only if
 *   different": what the code does (client/daemon.ts #syncOne, snmTargets) is to consider an
 *   SNM only after a sync that pushed something, and then skip a peer whose last known digest
 *   (from its SNMs or its presence) is the new one. A pushed change always makes a vector no
 *   peer can have seen yet, so live the cache never has anything to suppress (its rule is
 *   unit-tested in tests/unit/snm-targets.test.ts); what is shown here is what suppresses SNMs
 *   in practice: a sync that only pulled, or found a touched file unchanged, sends none, and
 *   the receiver of an SNM does not answer with one of its own.
 *
 * The daemons run with a 10-minute keepalive, so that while Adam and Bob are both online the
 * only way Bob can hear of Adam's change is the SNM (the presence path of FIG. 9 is not
 * repeated meanwhile).
 *
 * Ordering without clocks: a daemon runs its syncs one at a time, in the order it wanted them,
 * and finishes a sync's SNMs before starting the next. So "nothing happened for space X" is
 * shown by a later sync of another space Y that was asked for afterwards: had X been wanted
 * first, its line would come before Y's.
 */
import { mkdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NS } from "../../protocol/ns.ts";
import { decode, digest } from "../../protocol/vv.ts";
import { type Cast, type ChatClient, type Routed, hasContent, startCast, syncLines } from "../harness/cast.ts";

let cast: Cast;
let bobChat: ChatClient;
const space = { trip: "", family: "" };
/** Folders on each device, as `xshare accept` laid them out (FIG. 3). */
const folder = { adam: { trip: "", family: "" }, bob: { trip: "", family: "" }, charlene: { family: "" } };
/** The full JID of a person's `xshare run`. */
const daemonJid = (name: string) => `${cast.jid(name)}/xshare-${name}-pc`;

/** SNMs (IQ sets) Prosody delivered from `from` to `to` (full JIDs, or the component's domain). */
const snms = (log: readonly Routed[], from: string, to: string) => log.filter((r) => r.dir === "out" && r.name === "iq" && r.attrs.type === "set" && r.attrs.from === from && r.attrs.to === to);
/** SNMs a sharing client sent to the sharing manager (Prosody logs what the component receives only on the sending side). */
const toManager = (log: readonly Routed[], session: string) => log.filter((r) => r.dir === "in" && r.session === session && r.name === "iq" && r.attrs.type === "set" && r.attrs.to === cast.prosody.componentDomain);
/** IQ sets a session sent, to anyone: a sharing client sends no other IQ sets over XMPP. */
const setsFrom = (log: readonly Routed[], session: string) => log.filter((r) => r.dir === "in" && r.session === session && r.name === "iq" && r.attrs.type === "set");
/** Whether the recipient of a delivered IQ answered it with a result. */
const answered = (log: readonly Routed[], iq: Routed) =>
  log.some((r) => r.name === "iq" && r.attrs.id === iq.attrs.id && r.attrs.type === "result" && (r.dir === "in" ? r.session === iq.attrs.to : r.attrs.from === iq.attrs.to));

async function accept(name: string, id: string): Promise<string> {
  const out = (await cast.run(name, ["accept", id])).trim();
  return out.slice(out.indexOf(" → ") + 3);
}

/** What a daemon printed after `mark` (a length of its output). */
const since = (name: string, mark: number) => cast.daemon(name)!.output().slice(mark);
const mark = (name: string) => cast.daemon(name)!.output().length;

/** An SNM from Bob's ordinary chat client to Adam's sharing client (Bob is a member, so it is heard). */
function snmToAdam(id: string, body: { vector: ReadonlyArray<readonly [string, number]> } | { digest: string }) {
  const payload = "digest" in body
    ? xml("snm", { xmlns: NS.share, space: id, replica: "bob-chat", digest: body.digest })
    : xml("snm", { xmlns: NS.share, space: id, replica: "bob-chat" }, xml("vector", {}, ...body.vector.map(([r, n]) => xml("c", { r, n: String(n) }))));
  return bobChat.xmpp.iqCaller.request(xml("iq", { type: "set", to: daemonJid("adam") }, payload), 20_000);
}

beforeAll(async () => {
  cast = await startCast(["adam", "bob", "charlene"], { prosodyLogLevel: "debug", daemonArgs: ["--delay", "100", "--keepalive", "600"] });
  const bob = cast.jid("bob");
  const charlene = cast.jid("charlene");
  folder.adam.trip = cast.sharing("adam", "Pairs", bob, "Trip");
  folder.adam.family = cast.sharing("adam", "Groups", "Family");
  await mkdir(folder.adam.trip, { recursive: true });
  await mkdir(folder.adam.family, { recursive: true });
  space.trip = (await cast.run("adam", ["share", folder.adam.trip, "--with", bob])).trim();
  space.family = (await cast.run("adam", ["share", folder.adam.family, "--with", `${bob},${charlene}`, "--group", "Family"])).trim();
  folder.bob.trip = await accept("bob", space.trip);
  folder.bob.family = await accept("bob", space.family);
  folder.charlene.family = await accept("charlene", space.family);
  // Adam and Bob are logged on; Charlene is not.
  await cast.online("adam");
  await cast.online("bob");
  bobChat = await cast.chat("bob");
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

describe("FIG. 10: synchronization negotiation messages", () => {
  it("Adam's version vector changes and Bob, who shares the space, is online: one SNM goes to Bob's sharing client, which compares, pulls, and sends none back", async () => {
    const from = (await cast.routed()).length;
    const bobMark = mark("bob");
    await writeFile(path.join(folder.adam.trip, "plan.txt"), "Day 1: Lisbon\n");
    await cast.eventually("Bob's client pulls plan.txt", hasContent(path.join(folder.bob.trip, "plan.txt"), "Day 1: Lisbon\n"));
    // A second change, in the group folder: Bob's sync of it comes after everything his sync of
    // the Trip folder did, SNMs included (one sync at a time, see the header).
    await writeFile(path.join(folder.adam.family, "list.txt"), "bread\n");
    await cast.eventually("Bob's client pulls list.txt", hasContent(path.join(folder.bob.family, "list.txt"), "bread\n"));
    await cast.eventually("Bob's client reports both pulls", () => syncLines(since("bob", bobMark), space.family).length > 0);
    const log = (await cast.routed()).slice(from);

    // One SNM per change, straight from Adam's sharing client to Bob's, each answered at once.
    const toBob = snms(log, daemonJid("adam"), daemonJid("bob"));
    expect(toBob).toHaveLength(2);
    for (const iq of toBob) expect(answered(log, iq), JSON.stringify(iq)).toBe(true);
    // Bob compared and pulled; the pull changed his vector but pushed nothing, so he tells nobody.
    for (const id of [space.trip, space.family]) {
      const lines = syncLines(since("bob", bobMark), id);
      expect(lines[0], id).toMatchObject({ status: "in-sync", sent: 0, received: 1 });
      expect(lines.filter((l) => l.sent > 0), id).toEqual([]);
    }
    expect(setsFrom(log, daemonJid("bob"))).toEqual([]);
    // Following the protocol, both clients have updated their vectors: they are equal, and equal
    // to the sharing manager's.
    for (const id of [space.trip, space.family]) {
      expect(cast.deviceDigest("bob", id)).toBe(cast.deviceDigest("adam", id));
      expect(cast.deviceDigest("adam", id)).toBe(cast.componentDigest(id));
    }
    // Charlene is not logged on: Adam's client also sent SNMs to the sharing manager, which keeps
    // one for her, and none for Bob, who got his directly.
    expect(toManager(log, daemonJid("adam")).length).toBeGreaterThan(0);
    expect(cast.pendingSnms()).toEqual([`${cast.jid("charlene")} ${space.family}`]);
  }, 60_000);

  it("an SNM whose vector matches changes nothing: Adam's client compares and, the folders being synchronized, does not synchronize; one his vector does not dominate makes him synchronize that space only", async () => {
    const adamMark = mark("adam");
    // Adam's own vector, then only its digest, then an old (empty) vector: all answered, none acted on.
    for (const body of [{ vector: cast.deviceVector("adam", space.trip).entries }, { digest: cast.deviceDigest("adam", space.trip) }, { vector: [] }]) {
      expect((await snmToAdam(space.trip, body)).attrs.type).toBe("result");
    }
    // A vector with a counter Adam has not seen, for the group folder: he synchronizes it. Wanted
    // after anything the Trip SNMs could have caused, so its line comes after theirs.
    expect((await snmToAdam(space.family, { vector: [...cast.deviceVector("adam", space.family).entries, ["bob-chat", Date.now()]] })).attrs.type).toBe("result");
    await cast.eventually("Adam's client synchronizes the group folder", () => syncLines(since("adam", adamMark), space.family).length > 0);
    expect(syncLines(since("adam", adamMark), space.trip)).toEqual([]);
    expect(syncLines(since("adam", adamMark), space.family)[0]).toMatchObject({ status: "in-sync", sent: 0, received: 0 });
  }, 60_000);

  it("Charlene is not logged on: the sharing manager keeps one SNM for her, merged over Adam's changes, delivers it when she logs on, then drops it", async () => {
    const from = (await cast.routed()).length;
    await writeFile(path.join(folder.adam.family, "list.txt"), "bread\nmilk\n");
    await cast.eventually("Bob has the new list", hasContent(path.join(folder.bob.family, "list.txt"), "bread\nmilk\n"));
    const photo = Buffer.alloc(150_000, 6);
    await writeFile(path.join(folder.adam.family, "photo.jpg"), photo);
    await cast.eventually("Bob has the photo", hasContent(path.join(folder.bob.family, "photo.jpg"), photo));
    // Every change was told to the sharing manager too; it keeps one SNM per member and space,
    // whose vector is the merge of all of them: it says everything the others said. (Adam's
    // client tells Bob's and the manager one after the other: Bob may have the photo before the
    // manager's SNM went through Prosody.)
    await cast.eventually("the manager was told of both changes", async () => toManager((await cast.routed()).slice(from), daemonJid("adam")).length >= 2);
    const keptFor = () => cast.componentDb((db) => db.prepare("SELECT vector FROM pending_snms WHERE member = ?").get(cast.jid("charlene")) as { vector: Buffer } | undefined);
    await cast.eventually("the manager keeps the merged SNM", () => {
      const k = keptFor();
      return k !== undefined && digest(decode(k.vector)) === cast.deviceDigest("adam", space.family);
    });
    expect(cast.pendingSnms()).toEqual([`${cast.jid("charlene")} ${space.family}`]);
    const kept = keptFor()!;
    expect(digest(decode(kept.vector))).toBe(cast.componentDigest(space.family));
    expect(digest(decode(kept.vector))).toBe(cast.deviceDigest("adam", space.family));

    await cast.online("charlene");
    await cast.eventually("Charlene has the list", hasContent(path.join(folder.charlene.family, "list.txt"), "bread\nmilk\n"));
    await cast.eventually("Charlene has the photo", hasContent(path.join(folder.charlene.family, "photo.jpg"), photo));
    await cast.eventually("the kept SNM is dropped once delivered", () => cast.pendingSnms().length === 0);
    const log = (await cast.routed()).slice(from);
    const delivered = snms(log, cast.prosody.componentDomain, daemonJid("charlene"));
    expect(delivered).toHaveLength(1);
    expect(answered(log, delivered[0]!)).toBe(true);
    const received = () => syncLines(cast.daemon("charlene")!.output(), space.family).reduce((n, l) => n + l.received, 0);
    await cast.eventually("Charlene's client reports what it received", () => received() >= 2);
    expect(received()).toBe(2);
    const lines = syncLines(cast.daemon("charlene")!.output(), space.family);
    expect(lines.filter((l) => l.sent > 0)).toEqual([]);
    expect(cast.deviceDigest("charlene", space.family)).toBe(cast.componentDigest(space.family));
  }, 60_000);

  it("the condition is a changed vector: a touched file and a pull send no SNM; Bob's own change sends one to each member's client online, and the manager keeps nothing", async () => {
    const from = (await cast.routed()).length;
    const adamMark = mark("adam");
    // Adam touches a file: his client looks (the mtime moved), finds the same content, pushes nothing.
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(folder.adam.family, "list.txt"), later, later);
    await cast.eventually("Adam's client looks at the touched file", () => syncLines(since("adam", adamMark), space.family).length > 0);
    expect(syncLines(since("adam", adamMark), space.family)[0]).toMatchObject({ sent: 0, received: 0 });
    // Bob changes the group folder: one SNM to each of Adam's and Charlene's clients; both pull.
    await writeFile(path.join(folder.bob.family, "reply.txt"), "milk bought\n");
    await cast.eventually("Adam pulls Bob's reply", hasContent(path.join(folder.adam.family, "reply.txt"), "milk bought\n"));
    await cast.eventually("Charlene pulls Bob's reply", hasContent(path.join(folder.charlene.family, "reply.txt"), "milk bought\n"));
    // A last sync of Adam's, of the other space, after everything his pull did.
    const pulled = mark("adam");
    expect((await snmToAdam(space.trip, { vector: [...cast.deviceVector("adam", space.trip).entries, ["bob-chat", Date.now()]] })).attrs.type).toBe("result");
    await cast.eventually("Adam's client synchronizes the Trip folder", () => syncLines(since("adam", pulled), space.trip).length > 0);

    const log = (await cast.routed()).slice(from);
    expect(setsFrom(log, daemonJid("adam"))).toEqual([]);
    expect(snms(log, daemonJid("bob"), daemonJid("adam"))).toHaveLength(1);
    expect(snms(log, daemonJid("bob"), daemonJid("charlene"))).toHaveLength(1);
    // Bob's client cannot know whether Bob has another device, so it tells the manager as well;
    // with every member's client online, and no other device of Bob's known, nothing is kept.
    expect(cast.pendingSnms()).toEqual([]);
    for (const name of ["bob", "charlene"]) expect(cast.deviceDigest(name, space.family)).toBe(cast.deviceDigest("adam", space.family));
    expect(cast.deviceDigest("adam", space.family)).toBe(cast.componentDigest(space.family));
  }, 60_000);
});
