/**
 * `<contacts/>` (XEP-draft.md § 5.15) through the component's router and presence handling, in
 * process: Bob's sharing client comes online, stays over an hour boundary and goes; Alice asks
 * about the members of their pair space and is told Bob is offline, with his hours, session, last
 * seen and throughput. Only members may ask, and only about the space's members.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { BareJid, ReplicaId } from "../../protocol/ids.ts";
import { buildContactsRequest, type Contacts } from "../../protocol/stanzas/contacts.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import * as Sig from "../../protocol/stanzas/sync-signals.ts";
import { parseXml } from "../../protocol/xml.ts";
import { KEEP_HOURS } from "../../component/modules/contacts.ts";
import { makeComponent } from "./fixtures/component.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
const A = `${alice}/xshare-laptop`;
const B = `${bob}/xshare-phone`;
const B2 = `${bob}/xshare-desk`;
const C = `${carol}/xshare-desk`;
const MIN = 60_000;

let c: ReturnType<typeof makeComponent>;
beforeEach(() => {
  c = makeComponent(); // its clock starts at 2026-11-25 09:00 UTC
});

/** The recorder's writes run beside presence handling: let them finish (no time passes). */
const settle = () => new Promise((r) => setImmediate(r));
const hello = (from: string, replica: string) =>
  parseXml(`<presence from='${from}' to='share.example.org'>${Sig.buildDigests({ replica: replica as ReplicaId, spaces: [] })}</presence>`);
const bye = (from: string) => parseXml(`<presence from='${from}' to='share.example.org' type='unavailable'/>`);

describe("contacts' characteristics (FIG. 8)", () => {
  it("tells a member who is online, when the others were, for how long, and how fast", async () => {
    const space = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] }));
    const start = c.deps.now();
    await c.presence.onPresence(hello(B, "phone"));
    c.advance(30 * MIN);
    await c.presence.onPresence(hello(B2, "desk")); // a second device: the same member, the same session
    c.advance(40 * MIN); // 10:10: a keepalive in a new hour
    await c.presence.onPresence(hello(B, "phone"));
    await c.presence.onPresence(bye(B2));
    await settle();
    // Online now, from the presence handling.
    let told = await c.ok<Contacts>(A, "get", buildContactsRequest(space.id));
    expect(told.members.find((m) => m.jid === bob)).toMatchObject({ online: true, hours: 2, lastSeenMs: start + 70 * MIN });
    c.advance(5 * MIN);
    await c.presence.onPresence(bye(B)); // 10:15: Bob's last client goes
    await settle();
    c.contacts.throughput.record(bob, "down", 4_000_000, 2000);
    told = await c.ok<Contacts>(A, "get", buildContactsRequest(space.id));
    expect(told).toEqual({
      space: space.id,
      keptHours: KEEP_HOURS,
      members: [
        { jid: alice, online: false, hours: 0 },
        { jid: bob, online: false, hours: 2, sessionS: 75 * 60, lastSeenMs: start + 75 * MIN, downBps: 2_000_000 },
      ],
    });
    // Four weeks later the hours are out of the window; last seen is still said until pruned.
    c.advance(KEEP_HOURS * 3_600_000);
    told = await c.ok<Contacts>(B, "get", buildContactsRequest(space.id));
    expect(told.members.find((m) => m.jid === bob)?.hours).toBe(0);
  });

  it("a non-member gets what a missing space gets; a malformed request a bad-request; nothing about anyone else", async () => {
    const space = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] }));
    await c.presence.onPresence(hello(C, "desk"));
    await settle();
    const strip = (s: string) => s.replace(/id="[^"]*"/g, "");
    const real = await c.iq(C, "get", buildContactsRequest(space.id));
    const missing = await c.iq(C, "get", buildContactsRequest("s-nope" as never));
    expect(real.parsed).toMatchObject({ context: "error", error: { code: "not-found" } });
    expect(strip(real.reply.toString())).toBe(strip(missing.reply.toString()));
    expect((await c.fails(A, "get", `<contacts xmlns='urn:xmpp:share:0'/>`)).code).toBe("bad-request");
    expect((await c.fails(A, "get", `<contacts xmlns='urn:xmpp:share:0' space='${space.id}'><member jid='x@y' online='true' hours='0'/></contacts>`)).code).toBe("bad-request");
    // Carol is online, but not in this space: not listed.
    const told = await c.ok<Contacts>(A, "get", buildContactsRequest(space.id));
    expect(told.members.map((m) => m.jid)).toEqual([alice, bob]);
    // A set is not defined.
    expect((await c.fails(A, "set", buildContactsRequest(space.id))).code).toBe("not-implemented");
  });

  it("a lost link to the server ends every session", async () => {
    const space = await c.ok<S.Space>(A, "set", S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] }));
    await c.presence.onPresence(hello(B, "phone"));
    c.advance(10 * MIN);
    c.presence.clear();
    await settle();
    const told = await c.ok<Contacts>(A, "get", buildContactsRequest(space.id));
    expect(told.members.find((m) => m.jid === bob)).toMatchObject({ online: false, sessionS: 600, lastSeenMs: c.deps.now() });
  });
});
