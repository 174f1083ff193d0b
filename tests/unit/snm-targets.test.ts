/** Where a sharing client sends its SNMs (client/daemon.ts snmTargets, XEP-draft.md § 5.13). */
import { describe, expect, it } from "vitest";
import { snmTargets } from "../../client/daemon.ts";
import type { BareJid, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import type { Peer } from "../../protocol/stanzas/sync-signals.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const carol = "carol@example.org" as BareJid;
const space = { id: "s-1" as SpaceId, members: [alice, bob, carol] };
const peer = (jid: string, replica: string): Peer => ({ jid, replica: replica as ReplicaId });
const bobPhone = peer(`${bob}/xshare-phone`, "phone");
const bobDesk = peer(`${bob}/xshare-desk`, "desk");
const carolLaptop = peer(`${carol}/xshare-laptop`, "claptop");
const aliceDesk = peer(`${alice}/xshare-desk`, "adesk");

describe("snmTargets", () => {
  it("tells every peer that may lack the vector, and no one who already has it", () => {
    const seen = new Map([[`${bobPhone.jid} s-1`, "D2"], [`${bobDesk.jid} s-1`, "D1"], [`${carolLaptop.jid} s-2`, "D2"]]);
    const to = snmTargets([bobPhone, bobDesk, carolLaptop, aliceDesk], seen, space, "D2");
    // Bob's phone said D2 already; Carol's D2 was about another space.
    expect(to.peers).toEqual([bobDesk, carolLaptop, aliceDesk]);
    expect(to.manager).toBe(false);
  });

  it("asks the sharing manager to keep it when a member, this user included, has no client online", () => {
    expect(snmTargets([bobPhone, carolLaptop], new Map(), space, "D").manager).toBe(true); // Alice's other devices
    expect(snmTargets([bobPhone, aliceDesk], new Map(), space, "D")).toEqual({ peers: [bobPhone, aliceDesk], manager: true }); // Carol
    expect(snmTargets([], new Map(), space, "D")).toEqual({ peers: [], manager: true });
  });
});
