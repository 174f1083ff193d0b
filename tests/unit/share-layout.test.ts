/**
 * FIG. 3 in the sharing portion (client/ui/share/view.ts) and on disk (client/layout.ts): the
 * same rule places a space in both.
 */
import { describe, expect, it } from "vitest";
import { layoutFolder, placeOf } from "../../client/layout.ts";
import { resolveHome } from "../../client/home.ts";
import { fig3, syncState, type SpaceInfo, type StateInputs } from "../../client/ui/share/view.ts";
import type { BareJid, SpaceId } from "../../protocol/ids.ts";

const adam = "adam@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const charlene = "charlene@example.org" as BareJid;
const sp = (id: string, kind: SpaceInfo["kind"], owner: BareJid, members: BareJid[], name = id): SpaceInfo => ({ id, kind, name, owner, members });

// Adam's spaces in FIG. 3: his "my sharing", Bob's and Charlene's, the group, and Adam/Bob.
const spaces = [
  sp("s-mine", "mine", adam, [adam, bob, charlene], "My sharing"),
  sp("s-bob", "mine", bob, [bob, adam, charlene], "Bob's things"),
  sp("s-charlene", "mine", charlene, [charlene, adam, bob], "Recipes"),
  sp("s-group", "group", charlene, [adam, bob, charlene], "Family"),
  sp("s-pair", "pair", bob, [bob, adam], "Work project"),
];

describe("FIG. 3 layout", () => {
  it("Adam sees My sharing, a folder per contact (their sharing, then the pairs), and Groups", () => {
    const sections = fig3(adam, spaces);
    expect(sections.map((s) => s.key)).toEqual(["mine", `contact:${bob}`, `contact:${charlene}`, "groups"]);
    expect(sections[0]!.spaces).toEqual([{ id: "s-mine", label: "My sharing" }]);
    expect(sections[1]).toMatchObject({ kind: "contact", title: "bob", contact: bob });
    expect(sections[1]!.spaces).toEqual([{ id: "s-bob", label: "bob's sharing: Bob's things" }, { id: "s-pair", label: "adam/bob: Work project" }]);
    expect(sections[2]!.spaces).toEqual([{ id: "s-charlene", label: "charlene's sharing: Recipes" }]);
    expect(sections[3]!.spaces).toEqual([{ id: "s-group", label: "Family" }]);
  });

  it("Bob sees the same spaces from his side: Adam's sharing and Adam/Bob in Adam's folder", () => {
    const sections = fig3(bob, spaces);
    expect(sections.map((s) => s.key)).toEqual(["mine", `contact:${adam}`, `contact:${charlene}`, "groups"]);
    expect(sections[0]!.spaces.map((s) => s.id)).toEqual(["s-bob"]);
    expect(sections[1]!.spaces).toEqual([{ id: "s-mine", label: "adam's sharing: My sharing" }, { id: "s-pair", label: "bob/adam: Work project" }]);
  });

  it("My sharing is there with nothing shared; Groups only with a group", () => {
    expect(fig3(adam, [])).toEqual([{ key: "mine", kind: "mine", title: "My sharing", spaces: [] }]);
  });

  it("the sections agree with the folders `xshare accept` makes", () => {
    const home = resolveHome("/h");
    const folder = (s: SpaceInfo) => layoutFolder(home, adam, { ...s, id: s.id as SpaceId });
    expect(folder(spaces[0]!)).toBe("/h/Sharing/My sharing");
    expect(folder(spaces[1]!)).toBe(`/h/Sharing/${bob}`);
    expect(folder(spaces[3]!)).toBe("/h/Sharing/Groups/Family");
    expect(folder(spaces[4]!)).toBe(`/h/Sharing/Pairs/${bob}/Work project`);
    // A hostile name never leaves its section's folder.
    expect(folder(sp("s-x", "group", bob, [adam, bob], "../../etc"))).toBe("/h/Sharing/Groups/.._.._etc");
    for (const s of spaces) {
      const place = placeOf(adam, s);
      const sec = fig3(adam, spaces).find((x) => x.spaces.some((y) => y.id === s.id))!;
      expect(sec.kind === "groups" ? "group" : sec.kind).toBe(place.section);
    }
  });
});

describe("sync state", () => {
  const base: StateInputs = { online: true, syncing: false, incoming: false, conflicts: 0, waiting: [] };
  const t = (ms: number) => new Date(ms).toISOString();
  it("says what matters most first", () => {
    expect(syncState(base, t)).toEqual({ status: "in-sync", text: "in sync" });
    expect(syncState({ ...base, online: false, syncing: true }, t).status).toBe("offline");
    expect(syncState({ ...base, syncing: true }, t).status).toBe("syncing");
    expect(syncState({ ...base, incoming: true }, t)).toEqual({ status: "syncing", text: "changed elsewhere; fetching" });
    expect(syncState({ ...base, lastStatus: "paused", lastReason: "missing" }, t)).toEqual({ status: "paused", text: "paused: missing" });
    expect(syncState({ ...base, error: "timeout" }, t).status).toBe("retrying");
  });
  it("waiting: why and until when", () => {
    const s = syncState({ ...base, waiting: [{ path: "movie.mov", direction: "down", reason: "waits for its window", untilMs: Date.UTC(2026, 0, 1, 2) }, { path: "b", direction: "up", reason: "metered" }] }, t);
    expect(s).toEqual({ status: "waiting", text: "receiving movie.mov waits until 2026-01-01T02:00:00.000Z: waits for its window (and 1 more)" });
    // A reason that says until when already is not told twice.
    expect(syncState({ ...base, waiting: [{ path: "m.mov", direction: "down", reason: "waits for * 2 * * * until 02:00", untilMs: 1 }] }, t).text).toBe("receiving m.mov waits: waits for * 2 * * * until 02:00");
  });
});
