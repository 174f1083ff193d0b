/**
 * `<contacts/>` (XEP-draft.md § 5.15): builder and parser round trips, and every malformed
 * answer refused as a whole with a bad-request that says what is wrong.
 */
import { describe, expect, it } from "vitest";
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid, SpaceId } from "../../protocol/ids.ts";
import { buildContacts, buildContactsRequest, parseContacts, parseContactsRequest, type Contacts } from "../../protocol/stanzas/contacts.ts";
import { parseStanza } from "../../protocol/stanzas/registry.ts";
import { parseXml } from "../../protocol/xml.ts";

const space = "s-trip" as SpaceId;
const wire = (xml: string) => parseXml(xml);
const NS = "xmlns='urn:xmpp:share:0'";

describe("<contacts/>", () => {
  it("a request round-trips and names only a space", () => {
    expect(parseContactsRequest(wire(buildContactsRequest(space).toString()))).toBe(space);
    expect(() => parseContactsRequest(wire(`<contacts ${NS}/>`))).toThrow(/lacks attribute 'space'/);
    expect(() => parseContactsRequest(wire(`<contacts ${NS} space='no spaces'/>`))).toThrow(/Invalid space id/);
    expect(() => parseContactsRequest(wire(`<contacts ${NS} space='s'><member jid='a@b' online='true' hours='0'/></contacts>`))).toThrow(/nothing else/);
    expect(() => parseContactsRequest(wire(`<contacts xmlns='urn:other' space='s'/>`))).toThrow(ShareError);
  });

  it("an answer round-trips, with every optional attribute present or absent", () => {
    const c: Contacts = {
      space,
      keptHours: 672,
      members: [
        { jid: "alice@example.org" as BareJid, online: true, hours: 300, usual: [0, 9, 10, 23], sessionS: 3600, lastSeenMs: Date.UTC(2026, 10, 25, 9, 0, 0), upBps: 1_000_000, downBps: 2_500_000 },
        { jid: "bob@example.org" as BareJid, online: false, hours: 0 },
      ],
    };
    const el = buildContacts(c);
    expect(parseContacts(wire(el.toString()))).toEqual(c);
    // Through the registry, in a whole stanza, as a client reads the answer.
    const iq = wire(`<iq type='result' id='1'>${el.toString()}</iq>`);
    expect(parseStanza(iq)).toEqual({ context: "result", name: "contacts", value: c });
    expect(parseStanza(wire(`<iq type='get' id='1'>${buildContactsRequest(space).toString()}</iq>`))).toMatchObject({ context: "get", name: "contacts", value: space });
  });

  it("refuses malformed answers, saying what is wrong", () => {
    const answer = (member: string, kept = "10") => wire(`<contacts ${NS} space='s' kept='${kept}'>${member}</contacts>`);
    const refused = (member: string, why: RegExp, kept?: string) => {
      let err: unknown;
      try {
        parseContacts(answer(member, kept));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ShareError);
      expect((err as ShareError).code).toBe("bad-request");
      expect((err as ShareError).message).toMatch(why);
    };
    refused(`<member jid='a@b' online='true' hours='1'/>`, /kept/, "-1");
    refused(`<member online='true' hours='1'/>`, /jid/);
    refused(`<member jid='a@b/res' online='true' hours='1'/>`, /bare JID/);
    refused(`<member jid='a@b' hours='1'/>`, /online/);
    refused(`<member jid='a@b' online='yes' hours='1'/>`, /boolean/);
    refused(`<member jid='a@b' online='true'/>`, /hours/);
    refused(`<member jid='a@b' online='true' hours='11'/>`, /exceeds/);
    refused(`<member jid='a@b' online='true' hours='1' usual='24'/>`, /0-23/);
    refused(`<member jid='a@b' online='true' hours='1' usual='3 2'/>`, /ascending/);
    refused(`<member jid='a@b' online='true' hours='1' usual='2  3'/>`, /0-23/);
    refused(`<member jid='a@b' online='true' hours='1' session='1.5'/>`, /session/);
    refused(`<member jid='a@b' online='true' hours='1' last-seen='yesterday'/>`, /last-seen/);
    refused(`<member jid='a@b' online='true' hours='1' up='-3'/>`, /up/);
    refused(`<member jid='a@b' online='true' hours='1'/><member jid='A@b' online='false' hours='0'/>`, /twice/);
  });
});
