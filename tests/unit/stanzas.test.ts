/**
 * Every element of XEP-draft.md: build → serialise → parse gives the value back, and
 * malformed variants are refused with a ShareError (bad-request family), never a TypeError.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShareError } from "../../protocol/errors.ts";
import { EMPTY } from "../../protocol/vv.ts";
import * as G from "../../protocol/stanzas/groups.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import { type Context, parserFor, parseStanza, payloadNames } from "../../protocol/stanzas/registry.ts";
import * as SL from "../../protocol/stanzas/slots.ts";
import * as SE from "../../protocol/stanzas/session.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import * as P from "../../protocol/stanzas/sync-signals.ts";
import { type Element, parseXml } from "../../protocol/xml.ts";
import * as F from "./fixtures/stanzas.ts";

/** Serialise and re-parse, so the test sees exactly what goes over the wire. */
const wire = (el: Element): Element => parseXml(el.toString()) as Element;

const cases: Array<[string, unknown, (v: never) => Element, (el: Element) => unknown]> = [
  ["index query (from start)", { space: F.space, after: 0 }, I.buildIndexQuery as never, I.parseIndexQuery],
  ["index query (after, max)", { space: F.space, after: 42, max: 500 }, I.buildIndexQuery as never, I.parseIndexQuery],
  [
    "index page",
    { space: F.space, head: 60, complete: false, entries: [{ ...F.file, seq: 43 }, { ...F.deletion, seq: 44 }, { ...F.dir, seq: 45 }, { ...F.deletion, path: "gone.txt", was: F.sha("gone"), seq: 46 }], refused: [] },
    I.buildIndexPage as never,
    I.parseIndexPage,
  ],
  ["empty index page", { space: F.space, head: 0, complete: true, entries: [], refused: [] }, I.buildIndexPage as never, I.parseIndexPage],
  [
    "commit",
    { space: F.space, changes: [{ version: F.file, base: F.vector }, { version: F.deletion, base: EMPTY }] },
    I.buildCommit as never,
    I.parseCommit,
  ],
  ["committed", { space: F.space, head: 59 }, I.buildCommitted as never, I.parseCommitted],
  ["ack", { space: F.space, replica: F.laptop, seq: 59 }, I.buildAck as never, I.parseAck],
  ["digests", { replica: F.laptop, spaces: [{ space: F.space, digest: F.vectorDigest }] }, P.buildDigests as never, P.parseDigests],
  [
    "digests with peers",
    {
      replica: F.laptop,
      spaces: [
        { space: F.space, digest: F.vectorDigest, peers: [{ jid: "bob@example.org/xshare-phone", replica: F.laptop, digest: F.vectorDigest, show: "dnd" }, { jid: "café@example.org/a b", replica: F.laptop }] },
      ],
    },
    P.buildDigests as never,
    P.parseDigests,
  ],
  ["snm with vector", { space: F.space, replica: F.laptop, vector: F.vector }, P.buildSnm as never, P.parseSnm],
  ["snm with digest", { space: F.space, replica: F.laptop, digest: F.vectorDigest }, P.buildSnm as never, P.parseSnm],
  ["slot request", { space: F.space, direction: "upload", chunks: F.file.chunks }, SL.buildSlotRequest as never, SL.parseSlotRequest],
  [
    "slots",
    {
      space: F.space,
      direction: "download",
      url: "http://127.0.0.1:5290/chunks/",
      token: "v1.abcdefghijklmnop.qrstuv",
      expiresMs: Date.UTC(2026, 10, 25, 12, 5, 0),
      missing: [F.sha("x")],
    },
    SL.buildSlots as never,
    SL.parseSlots,
  ],
  ["group", F.groupValue, G.buildGroup as never, G.parseGroup],
  ["group list", [F.groupValue], G.buildGroupList as never, G.parseGroupList],
  ["create-group", { name: "Family", members: [F.bob] }, G.buildCreateGroup as never, G.parseCreateGroup],
  ["space", F.spaceValue, S.buildSpace as never, S.parseSpace],
  ["group space", { ...F.spaceValue, kind: "group", group: F.group, members: [F.alice, F.bob, F.carol] }, S.buildSpace as never, S.parseSpace],
  ["space list", [F.spaceValue], S.buildSpaceList as never, S.parseSpaceList],
  ["create-space pair", { kind: "pair", name: "Trip", members: [F.bob] }, S.buildCreateSpace as never, S.parseCreateSpace],
  ["create-space mine", { kind: "mine", name: "My sharing", members: [F.bob, F.carol] }, S.buildCreateSpace as never, S.parseCreateSpace],
  ["create-space group", { kind: "group", name: "Family", group: F.group }, S.buildCreateSpace as never, S.parseCreateSpace],
  ["invite", { space: F.space, jid: F.carol }, S.buildInvite as never, S.parseInvite],
  ["invited", F.spaceValue, S.buildInvited as never, S.parseInvited],
  ["session", { url: "https://share.example.org/iq", token: "c2Vzc2lvbi10b2tlbg", expiresMs: Date.UTC(2026, 10, 25, 10) }, SE.buildSession as never, SE.parseSession],
];

describe("round trip", () => {
  it.each(cases)("%s", (_name, value, build, parse) => {
    expect(parse(wire(build(value as never)))).toEqual(value);
  });

  it("refs and simple requests", () => {
    expect(G.parseGroupRef(wire(G.buildGroupRef(F.group)))).toBe(F.group);
    expect(S.parseSpaceRef(wire(S.buildSpaceRef(F.space)))).toBe(F.space);
    expect(G.parseLeaveGroup(wire(G.buildLeaveGroup(F.group)))).toBe(F.group);
    expect(S.parseLeaveSpace(wire(S.buildLeaveSpace(F.space)))).toBe(F.space);
    const m = { group: F.group, jid: F.carol };
    expect(G.parseMemberChange(wire(G.buildMemberChange("add-member", m)), "add-member")).toEqual(m);
    expect(G.parseMemberChange(wire(G.buildMemberChange("remove-member", m)), "remove-member")).toEqual(m);
    expect(() => G.parseMemberChange(wire(G.buildMemberChange("add-member", m)), "remove-member")).toThrow(ShareError);
    expect(() => G.parseGroupListRequest(wire(G.buildGroupListRequest()))).not.toThrow();
    expect(() => S.parseSpaceListRequest(wire(S.buildSpaceListRequest()))).not.toThrow();
    expect(() => SE.parseSessionRequest(wire(SE.buildSessionRequest()))).not.toThrow();
  });

  it("JIDs in payloads are normalised to lower case", () => {
    const el = parseXml("<invite xmlns='urn:xmpp:share:0' space='s1' jid='Carol@Example.ORG'/>") as Element;
    expect(S.parseInvite(el).jid).toBe("carol@example.org");
  });

  it("paths arrive NFC-normalised", () => {
    const nfd = "Trip/notes/plan u\u0308.txt";
    const el = I.buildCommit({ space: F.space, changes: [{ version: { ...F.file, path: nfd }, base: EMPTY }] });
    expect(I.parseCommit(wire(el)).changes[0]?.version.path).toBe("Trip/notes/plan \u00fc.txt");
  });
});

/** Each entry: a payload that must be refused, and the error code expected. */
const malformed: Array<[string, string, string]> = [
  ["commit with ../ path", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='../etc/passwd' kind='file' hash='${F.sha("a")}' size='0' mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "invalid-path"],
  ["commit without files", "<commit xmlns='urn:xmpp:share:0' space='s1'/>", "bad-request"],
  ["commit naming a path twice", `<commit xmlns='urn:xmpp:share:0' space='s1'>${"<file path='a' kind='dir' size='0' mtime='1' mode='493' replica='r1'><vector><c r='r1' n='1'/></vector></file>".repeat(2)}</commit>`, "bad-request"],
  ["file with chunk sizes not adding up", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='file' hash='${F.sha("a")}' size='9' mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector><chunk hash='${F.sha("a")}' size='1'/></file></commit>`, "bad-request"],
  ["file with uppercase hash", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='file' hash='${F.sha("a").toUpperCase()}' size='0' mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "bad-request"],
  ["file with empty vector", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='dir' size='0' mtime='1' mode='493' replica='r1'><vector/></file></commit>`, "bad-request"],
  ["file with mode beyond 0o777", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='dir' size='0' mtime='1' mode='4095' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "bad-request"],
  ["live file naming what it deleted", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='file' hash='${F.sha("")}' was='${F.sha("a")}' size='0' mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "bad-request"],
  ["deleted folder naming content", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='dir' deleted='true' was='${F.sha("a")}' size='0' mtime='1' mode='493' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "bad-request"],
  ["deletion with a malformed was", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='file' deleted='true' was='XYZ' size='0' mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "bad-request"],
  ["deletion with content", `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' kind='file' deleted='true' hash='${F.sha("a")}' size='0' mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector></file></commit>`, "bad-request"],
  ["vector with duplicate replica", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'><vector><c r='r1' n='1'/><c r='r1' n='2'/></vector></snm>", "invalid-vector"],
  ["vector with negative counter", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'><vector><c r='r1' n='-1'/></vector></snm>", "bad-request"],
  ["vector with exponent counter", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'><vector><c r='r1' n='1e3'/></vector></snm>", "bad-request"],
  ["vector with huge counter", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'><vector><c r='r1' n='99999999999999999'/></vector></snm>", "bad-request"],
  ["vector with foreign child", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'><vector><x/></vector></snm>", "invalid-vector"],
  ["snm with both vector and digest", `<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1' digest='${F.vectorDigest}'><vector/></snm>`, "bad-request"],
  ["snm with neither", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1'/>", "bad-request"],
  ["snm with bad digest", "<snm xmlns='urn:xmpp:share:0' space='s1' replica='r1' digest='abc'/>", "bad-request"],
  ["snm with bad space id", "<snm xmlns='urn:xmpp:share:0' space='../x' replica='r1' digest='abc'/>", "bad-request"],
  ["snm in another namespace", "<snm xmlns='urn:xmpp:other' space='s1' replica='r1'/>", "bad-request"],
  ["peer without resource", `<digests xmlns='urn:xmpp:share:0' replica='r1'><space id='s1' digest='${F.vectorDigest}'><peer jid='bob@example.org' replica='r2'/></space></digests>`, "bad-request"],
  ["peer with empty resource", `<digests xmlns='urn:xmpp:share:0' replica='r1'><space id='s1' digest='${F.vectorDigest}'><peer jid='bob@example.org/' replica='r2'/></space></digests>`, "bad-request"],
  ["peer without localpart", `<digests xmlns='urn:xmpp:share:0' replica='r1'><space id='s1' digest='${F.vectorDigest}'><peer jid='example.org/x' replica='r2'/></space></digests>`, "bad-request"],
  ["peer with unknown show", `<digests xmlns='urn:xmpp:share:0' replica='r1'><space id='s1' digest='${F.vectorDigest}'><peer jid='bob@example.org/x' replica='r2' show='busy'/></space></digests>`, "bad-request"],
  ["peer with bad digest", `<digests xmlns='urn:xmpp:share:0' replica='r1'><space id='s1' digest='${F.vectorDigest}'><peer jid='bob@example.org/x' replica='r2' digest='x'/></space></digests>`, "bad-request"],
  ["digests naming a space twice", `<digests xmlns='urn:xmpp:share:0' replica='r1'><space id='s1' digest='${F.vectorDigest}'/><space id='s1' digest='${F.vectorDigest}'/></digests>`, "bad-request"],
  ["index query with max 0", "<index xmlns='urn:xmpp:share:0' space='s1'><set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set></index>", "bad-request"],
  ["index query with bad after", "<index xmlns='urn:xmpp:share:0' space='s1'><set xmlns='http://jabber.org/protocol/rsm'><after>x</after></set></index>", "bad-request"],
  ["index page with decreasing seq", `<index xmlns='urn:xmpp:share:0' space='s1' head='9'><file seq='5' path='a' kind='dir' size='0' mtime='1' mode='493' replica='r1'><vector><c r='r1' n='1'/></vector></file><file seq='4' path='b' kind='dir' size='0' mtime='1' mode='493' replica='r1'><vector><c r='r1' n='1'/></vector></file></index>`, "bad-request"],
  ["slot request without chunks", "<slots xmlns='urn:xmpp:share:0' space='s1' direction='upload'/>", "bad-request"],
  ["slot request with bad direction", `<slots xmlns='urn:xmpp:share:0' space='s1' direction='sideways'><chunk hash='${F.sha("a")}' size='1'/></slots>`, "bad-request"],
  ["slots with javascript: url", `<slots xmlns='urn:xmpp:share:0' space='s1' direction='upload' url='javascript:alert(1)/' token='abcdefghijklmnopq' expires='2026-11-25T12:00:00Z'/>`, "bad-request"],
  ["slots with bad expiry", `<slots xmlns='urn:xmpp:share:0' space='s1' direction='upload' url='http://h/c/' token='abcdefghijklmnopq' expires='tomorrow'/>`, "bad-request"],
  ["create-group with empty name", "<create-group xmlns='urn:xmpp:share:0' name=' '/>", "bad-request"],
  ["create-group with bad member", "<create-group xmlns='urn:xmpp:share:0' name='x'><member jid='not a jid'/></create-group>", "bad-request"],
  ["create-group with full JID member", "<create-group xmlns='urn:xmpp:share:0' name='x'><member jid='bob@example.org/phone'/></create-group>", "bad-request"],
  ["create-group with duplicate member", "<create-group xmlns='urn:xmpp:share:0' name='x'><member jid='bob@example.org'/><member jid='BOB@example.org'/></create-group>", "bad-request"],
  ["create-space pair with two others", "<create-space xmlns='urn:xmpp:share:0' kind='pair' name='x'><member jid='b@e.org'/><member jid='c@e.org'/></create-space>", "bad-request"],
  ["create-space group without group", "<create-space xmlns='urn:xmpp:share:0' kind='group' name='x'/>", "bad-request"],
  ["create-space unknown kind", "<create-space xmlns='urn:xmpp:share:0' kind='public' name='x'/>", "bad-request"],
  ["space whose members lack the owner", "<space xmlns='urn:xmpp:share:0' id='s1' kind='mine' name='x' owner='a@e.org' created='2026-11-25T09:00:00Z' changed='2026-11-25T09:00:00Z' head='0'><member jid='b@e.org'/></space>", "bad-request"],
  ["group ref with children", "<group xmlns='urn:xmpp:share:0' id='g1'><member jid='b@e.org'/></group>", "bad-request"],
];

describe("malformed payloads are refused with a ShareError", () => {
  /** Results are told apart from requests by the attributes only a result carries. */
  const contextOf = (el: Element): Context => {
    if (el.name === "digests") return "presence";
    if (el.name === "space" || (el.name === "index" && "head" in el.attrs) || (el.name === "slots" && "url" in el.attrs)) return "result";
    return parserFor("set", el.name) ? "set" : "get";
  };

  it.each(malformed)("%s", (_name, xml, code) => {
    const el = parseXml(xml) as Element;
    const parse = parserFor(contextOf(el), el.name);
    expect(parse).toBeDefined();
    let thrown: unknown;
    try {
      parse?.(el);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ShareError);
    expect((thrown as ShareError).code).toBe(code);
  });
});

describe("an index page with a hostile path (§ 5.4)", () => {
  const entry = (seq: number, path: string, n: number) =>
    `<file seq='${seq}' path='${path}' kind='dir' size='0' mtime='1' mode='493' replica='r1'><vector><c r='r1' n='${n}'/></vector></file>`;

  it("leaves out only the entries whose path breaks a rule, with their reason and vector", () => {
    const xml = `<index xmlns='urn:xmpp:share:0' space='s1' head='9'>${entry(3, "ok", 1)}${entry(5, "../etc", 2)}${entry(6, "fine/CON.txt", 3)}${entry(8, "also ok", 4)}</index>`;
    const page = I.parseIndexPage(parseXml(xml) as Element);
    expect(page.entries.map((e) => [e.seq, e.path])).toEqual([
      [3, "ok"],
      [8, "also ok"],
    ]);
    expect(page.refused).toEqual([
      { seq: 5, path: "../etc", reason: "dot-dot", vector: { entries: [["r1", 2]] } },
      { seq: 6, path: "fine/CON.txt", reason: "windows-reserved", vector: { entries: [["r1", 3]] } },
    ]);
  });

  it("still fails the page for anything else malformed, even beside a bad path", () => {
    const noVector = "<file seq='4' path='../x' kind='dir' size='0' mtime='1' mode='493' replica='r1'/>";
    for (const xml of [
      `<index xmlns='urn:xmpp:share:0' space='s1' head='9'>${entry(5, "../etc", 2)}${noVector}</index>`,
      `<index xmlns='urn:xmpp:share:0' space='s1' head='9'>${entry(5, "../etc", 2)}${entry(4, "ok", 1)}</index>`,
    ]) {
      expect(() => I.parseIndexPage(parseXml(xml) as Element)).toThrow(ShareError);
    }
  });
});

describe("parseStanza", () => {
  it("dispatches by context and element", () => {
    const iq = parseXml(`<iq type='set' id='1' to='share.example.org'>${P.buildSnm({ space: F.space, replica: F.laptop, vector: F.vector })}</iq>`) as Element;
    expect(parseStanza(iq)).toEqual({ context: "set", name: "snm", value: { space: F.space, replica: F.laptop, vector: F.vector } });
  });

  it("reads an error IQ into a ShareError", () => {
    const iq = parseXml("<iq type='error' id='1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>") as Element;
    const r = parseStanza(iq);
    expect("error" in r && r.error.code).toBe("not-found");
  });

  it("refuses two payloads, none, or one defined for another context", () => {
    for (const xml of [
      "<iq type='set' id='1'><ack xmlns='urn:xmpp:share:0' space='s' replica='r' seq='1'/><ack xmlns='urn:xmpp:share:0' space='s' replica='r' seq='1'/></iq>",
      "<iq type='get' id='1'/>",
      "<iq type='get' id='1'><commit xmlns='urn:xmpp:share:0' space='s'/></iq>",
      "<iq type='weird' id='1'/>",
      "<foo/>",
    ]) {
      expect(() => parseStanza(parseXml(xml) as Element)).toThrow(ShareError);
    }
  });

  it("names every payload of the protocol", () => {
    expect(payloadNames("set").sort()).toEqual(
      ["ack", "add-member", "commit", "create-group", "create-space", "invite", "leave-group", "leave-space", "remove-member", "snm", "web-login"].sort(),
    );
  });
});

/**
 * Robustness: mutate valid payloads at random (drop, replace or garble attributes, drop
 * children). Every outcome must be a parsed value or a ShareError, never another exception.
 */
describe("mutated payloads never escape as TypeError", () => {
  const samples = cases.map(([, value, build]) => wire(build(value as never)));
  const contexts = ["get", "set", "result", "presence", "message"] as const;

  function mutate(el: Element, seed: number[]): Element {
    const copy = parseXml(el.toString()) as Element;
    let node: Element = copy;
    for (const n of seed) {
      const kids = node.children.filter((c): c is Element => typeof c !== "string");
      const keys = Object.keys(node.attrs).filter((k) => k !== "xmlns");
      switch (n % 5) {
        case 0:
          if (kids.length) node = kids[n % kids.length]!;
          break;
        case 1:
          if (keys.length) delete node.attrs[keys[n % keys.length]!];
          break;
        case 2:
          if (keys.length) node.attrs[keys[n % keys.length]!] = ["", "-1", "x", "1e9", "../..", "\u0000", "true"][n % 7]!;
          break;
        case 3:
          if (kids.length) node.children.splice(node.children.indexOf(kids[n % kids.length]!), 1);
          break;
        case 4:
          node.c(["c", "chunk", "file", "member", "vector", "space"][n % 6]!, { r: "x", n: "1" });
          break;
      }
    }
    return copy;
  }

  it("property", () => {
    fc.assert(
      fc.property(fc.nat(samples.length - 1), fc.array(fc.nat(1000), { maxLength: 8 }), (i, seed) => {
        const el = mutate(samples[i]!, seed);
        for (const ctx of contexts) {
          const parse = parserFor(ctx, el.name);
          if (!parse) continue;
          try {
            parse(el);
          } catch (e) {
            if (!(e instanceof ShareError)) throw e;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("errors on the wire", () => {
  it("a version conflict carries the current version through toElement/fromElement", async () => {
    const { ShareError } = await import("../../protocol/errors.ts");
    const err = new ShareError("version-conflict", {
      attrs: { path: F.file.path },
      children: I.buildVersionConflictChildren(F.file),
    });
    const back = ShareError.fromElement(wire(err.toElement()));
    expect(back.code).toBe("version-conflict");
    expect(back.condition).toBe("conflict");
    expect(back.type).toBe("cancel");
    expect(back.attrs.path).toBe(F.file.path);
    expect(I.parseVersionConflictChildren(back.children)).toEqual(F.file);
  });
});

describe("XEP-0115 capabilities", () => {
  it("computes the verification string of XEP-0115 § 5.2's simple example", async () => {
    const { capsVer } = await import("../../protocol/stanzas/disco.ts");
    const info = {
      identities: [{ category: "client", type: "pc", name: "Exodus 0.9.1" }],
      features: ["http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#items"],
    };
    expect(capsVer(info)).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });

  it("advertises sharing in the sharing client's disco#info", async () => {
    const { CLIENT_DISCO, supportsSharing } = await import("../../protocol/stanzas/disco.ts");
    expect(supportsSharing(CLIENT_DISCO)).toBe(true);
  });
});
