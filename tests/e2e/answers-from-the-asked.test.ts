/**
 * Identity (issue 7, row 4): an IQ answer counts only when it comes from the address that was
 * asked. The sharing manager's XMPP link (component/link.ts) and the sharing client's
 * connection (client/xmpp-connection.ts), in this process, on a real Prosody: Mallory, another
 * account, learns the id of a request in flight (the test hands it to her) and answers first;
 * her answer is ignored, and the real one is taken when it comes.
 */
import { type Client, xml } from "@xmpp/client";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientConnection } from "../../client/xmpp-connection.ts";
import { ComponentLink } from "../../component/link.ts";
import { Element } from "../../protocol/xml.ts";
import { type ProsodyHandle, startProsody } from "../harness/prosody.ts";
import { connectClient, stopEntity, type WithErrors } from "../harness/xmpp.ts";

const PW = "pass-word";
const HOLD = "urn:example:hold";
let prosody: ProsodyHandle;
let bob: WithErrors<Client>;
let mallory: WithErrors<Client>;
const jid = (u: string) => `${u}@${prosody.domain}`;

/** The next IQ get/set `c` receives, answered by nobody (the test decides). */
function nextRequest(c: Client): Promise<{ id: string; from: string }> {
  return new Promise((resolve) => {
    const on = (s: { name: string; attrs: Record<string, string> }) => {
      if (s.name === "iq" && (s.attrs.type === "get" || s.attrs.type === "set")) {
        c.off("stanza", on as never);
        resolve({ id: s.attrs.id!, from: s.attrs.from! });
      }
    };
    c.on("stanza", on as never);
  });
}

/** Settles within `ms` or says "pending". */
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p.then((v) => ({ settled: v }), (e: unknown) => ({ settled: e })), new Promise<"pending">((r) => setTimeout(() => r("pending"), ms))]);

beforeAll(async () => {
  prosody = await startProsody({ accounts: [["alice", PW], ["bob", PW], ["mallory", PW]] });
  bob = await connectClient(prosody, "bob", PW, "xshare-phone");
  // Bob's client takes its time: the test answers for it, after Mallory.
  bob.iqCallee.set(HOLD, "hold", () => new Promise(() => undefined));
  mallory = await connectClient(prosody, "mallory", PW, "chat");
}, 60_000);

afterAll(async () => {
  await stopEntity(bob);
  await stopEntity(mallory);
  await prosody?.stop();
});

describe("an IQ answer counts only from the address asked", () => {
  it("the sharing manager ignores Mallory's forged result to its request to Bob's client", async () => {
    const link = new ComponentLink({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret, log: pino({ level: "silent" }) });
    await link.start();
    try {
      const asked = nextRequest(bob);
      const answer = link.request(new Element("iq", { type: "set", to: `${jid("bob")}/xshare-phone` }).cnode(new Element("hold", { xmlns: HOLD })).root());
      const { id, from } = await asked;
      expect(from).toBe(prosody.componentDomain);
      await mallory.send(xml("iq", { type: "result", id, to: prosody.componentDomain }));
      // Mallory answered first, from her own address: still waiting for Bob.
      expect(await within(answer, 1500)).toBe("pending");
      await bob.send(xml("iq", { type: "result", id, to: from }, xml("pong", { xmlns: "urn:example:bob" })));
      const got = await answer;
      expect(got.attrs.from).toBe(`${jid("bob")}/xshare-phone`);
      expect(got.getChild("pong")).toBeDefined();
    } finally {
      await link.stop();
    }
  });

  it("the sharing client ignores Mallory's forged error to its request to Bob's client", async () => {
    const conn = new ClientConnection({ service: prosody.service, domain: prosody.domain, username: "alice", password: PW, resource: "xshare-laptop" });
    await conn.start();
    try {
      const asked = nextRequest(bob);
      const answer = conn.request(xml("iq", { type: "set", to: `${jid("bob")}/xshare-phone` }, xml("hold", { xmlns: HOLD })), 20_000);
      const { id, from } = await asked;
      expect(from).toBe(`${jid("alice")}/xshare-laptop`);
      // A forged error would make Alice give up on Bob; a forged result, believe him.
      await mallory.send(xml("iq", { type: "error", id, to: from }, xml("error", { type: "cancel" }, xml("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }))));
      await mallory.send(xml("iq", { type: "result", id, to: from }));
      expect(await within(answer, 1500)).toBe("pending");
      await bob.send(xml("iq", { type: "result", id, to: from }, xml("pong", { xmlns: "urn:example:bob" })));
      const got = await answer;
      expect(got.attrs.from).toBe(`${jid("bob")}/xshare-phone`);
      expect(got.getChild("pong")).toBeDefined();
    } finally {
      await conn.close();
    }
  });
});
