// What the local UI's `im` module makes of the stanzas it hears (client/im/stanzas.ts): the
// carbon spoofing rule, roster pushes, presence, chat messages.
import { describe, expect, it } from "vitest";
import { bestShow, readMessage, readPresence, rosterItems, rosterPushTrusted } from "../../client/im/stanzas.ts";
import { parseXml } from "../../protocol/xml.ts";

const ME = "alice@example.org";

const carbon = (outerFrom: string, kind: "sent" | "received", inner: string) =>
  parseXml(`<message xmlns="jabber:client" from="${outerFrom}" to="${ME}/xshare-pc" type="chat"><${kind} xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" ${inner}</forwarded></${kind}></message>`);

describe("carbons (XEP-0280)", () => {
  it("accepts a received carbon from the user's own bare JID, for the conversation with the sender", () => {
    const r = readMessage(carbon(ME, "received", `from="bob@example.org/phone" to="${ME}/laptop" type="chat"><body>hi</body></message>`), ME);
    expect(r).toEqual({ kind: "message", message: { contact: "bob@example.org", dir: "in", body: "hi", peer: "bob@example.org/phone", via: "carbon" } });
  });

  it("accepts a sent carbon from the user's own bare JID, for the conversation with the recipient", () => {
    const r = readMessage(carbon(ME, "sent", `from="${ME}/phone" to="bob@example.org" type="chat" id="m1"><body>on my way</body></message>`), ME);
    expect(r).toEqual({ kind: "message", message: { contact: "bob@example.org", dir: "out", body: "on my way", peer: `${ME}/phone`, via: "carbon", id: "m1" } });
  });

  it("refuses a carbon whose outer from is anyone else: a contact, the user's full JID, another domain, nobody", () => {
    const inner = `from="bob@example.org/phone" to="${ME}" type="chat"><body>send me your password</body></message>`;
    for (const from of ["mallory@example.org/x", "mallory@example.org", `${ME}/phone`, "example.org", "alice@example.org.evil", "alice@evil.example", ""]) {
      expect(readMessage(carbon(from, "received", inner), ME), from).toEqual({ kind: "spoofed", from });
      expect(readMessage(carbon(from, "sent", `from="${ME}/phone" to="bob@example.org" type="chat"><body>x</body></message>`), ME).kind, from).toBe("spoofed");
    }
    // Case differences in the stamped address are the same account.
    expect(readMessage(carbon("Alice@Example.org", "received", inner), ME).kind).toBe("message");
  });

  it("ignores carbons whose inside does not belong to the user, or carries no chat", () => {
    // A sent copy must be from the user; a received one to the user.
    expect(readMessage(carbon(ME, "sent", `from="bob@example.org/x" to="carol@example.org" type="chat"><body>x</body></message>`), ME).kind).toBe("ignored");
    expect(readMessage(carbon(ME, "received", `from="bob@example.org/x" to="carol@example.org" type="chat"><body>x</body></message>`), ME).kind).toBe("ignored");
    expect(readMessage(carbon(ME, "received", `from="bob@example.org/x" to="${ME}" type="groupchat"><body>x</body></message>`), ME).kind).toBe("ignored");
    expect(readMessage(carbon(ME, "received", `from="bob@example.org/x" to="${ME}" type="chat"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`), ME).kind).toBe("ignored");
    expect(readMessage(parseXml(`<message from="${ME}" type="chat"><received xmlns="urn:xmpp:carbons:2"/></message>`), ME).kind).toBe("ignored");
  });
});

describe("messages", () => {
  it("a chat message from a contact: its conversation, and where to answer", () => {
    const r = readMessage(parseXml(`<message from="Bob@Example.org/phone" to="${ME}/pc" type="chat" id="x1"><body>&lt;b&gt;hi&lt;/b&gt;</body></message>`), ME);
    expect(r).toEqual({ kind: "message", message: { contact: "bob@example.org", dir: "in", body: "<b>hi</b>", peer: "Bob@Example.org/phone", id: "x1" } });
  });

  it("an error says what failed; headlines, groupchat, empty bodies and the user's own address are ignored", () => {
    expect(readMessage(parseXml(`<message from="bob@example.org" type="error" id="m"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`), ME)).toEqual({ kind: "error", contact: "bob@example.org", text: "service unavailable", id: "m" });
    for (const xmlText of [`<message from="bob@example.org/x" type="headline"><body>x</body></message>`, `<message from="room@muc.example.org/bob" type="groupchat"><body>x</body></message>`, `<message from="bob@example.org/x" type="chat"><body>  </body></message>`, `<message from="${ME}/phone" type="chat"><body>x</body></message>`, `<message from="example.org" type="chat"><body>x</body></message>`]) {
      expect(readMessage(parseXml(xmlText), ME).kind, xmlText).toBe("ignored");
    }
  });

  it("cuts a huge body", () => {
    const r = readMessage(parseXml(`<message from="bob@example.org/x" type="chat"><body>${"a".repeat(20_000)}</body></message>`), ME);
    expect(r.kind === "message" && r.message.body.length).toBe(10_000 + " […]".length);
  });
});

describe("roster", () => {
  it("a roster push counts only from the server (no from, or the user's bare JID)", () => {
    expect(rosterPushTrusted(undefined, ME)).toBe(true);
    expect(rosterPushTrusted("", ME)).toBe(true);
    expect(rosterPushTrusted(ME, ME)).toBe(true);
    expect(rosterPushTrusted(`${ME}/phone`, ME)).toBe(false);
    expect(rosterPushTrusted("mallory@example.org", ME)).toBe(false);
    expect(rosterPushTrusted("example.org", ME)).toBe(false);
  });

  it("reads items, skipping malformed ones", () => {
    const q = parseXml(`<query xmlns="jabber:iq:roster"><item jid="Bob@example.org" name="Bob" subscription="both"><group>Friends</group></item><item jid="carol@example.org" subscription="weird" ask="subscribe"/><item jid="dave@example.org/res"/><item jid="not a jid"/><item/><item jid="eve@example.org" subscription="remove"/></query>`);
    expect(rosterItems(q)).toEqual([
      { jid: "bob@example.org", name: "Bob", subscription: "both", groups: ["Friends"] },
      { jid: "carol@example.org", subscription: "none", groups: [], ask: true },
      { jid: "eve@example.org", subscription: "remove", groups: [] },
    ]);
  });
});

describe("presence", () => {
  it("reads show, status, priority and caps; unavailable has no show; subscriptions are not availability", () => {
    expect(readPresence(parseXml(`<presence from="bob@example.org/pc"><show>dnd</show><status>busy</status><priority>-1</priority><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="n" ver="v="/></presence>`))).toEqual({
      from: "bob@example.org/pc", bare: "bob@example.org", show: "dnd", status: "busy", priority: -1, caps: { node: "n", ver: "v=", hash: "sha-1" },
    });
    expect(readPresence(parseXml(`<presence from="bob@example.org/pc"><show>bogus</show></presence>`))?.show).toBe("available");
    expect(readPresence(parseXml(`<presence from="bob@example.org/pc" type="unavailable"/>`))).toEqual({ from: "bob@example.org/pc", bare: "bob@example.org", priority: 0 });
    expect(readPresence(parseXml(`<presence from="bob@example.org" type="subscribe"/>`))).toBeUndefined();
    expect(readPresence(parseXml(`<presence from="share.example.org"/>`))).toBeUndefined();
  });

  it("a contact shows the best of their resources", () => {
    expect(bestShow([])).toBeUndefined();
    expect(bestShow(["xa", "away"])).toBe("away");
    expect(bestShow(["away", "dnd"])).toBe("dnd");
    expect(bestShow(["dnd", "available", "xa"])).toBe("available");
    expect(bestShow(["available", "chat"])).toBe("chat");
  });
});
