// The whole stack in one piece: Debian's Prosody with the deployment's configuration, an XEP-0114
// component on its domain, two users on c2s. Proves that a component sees the sender's full JID as
// stamped by the server (never a client-chosen one) and that c2s routing between users works.

import { xml, type Client } from "@xmpp/client";
import type { Component } from "@xmpp/component";
import type { Element } from "ltx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProsody, type ProsodyHandle } from "../harness/prosody.ts";
import { connectClient, connectComponent, stopEntity } from "../harness/xmpp.ts";

const NS_TEST = "urn:xmpp:share:test:0";

describe("Prosody + component + two clients", () => {
  let prosody: ProsodyHandle;
  let component: Component;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    prosody = await startProsody({ accounts: [["alice", "alice-pw"], ["bob", "bob-pw"]] });
    component = await connectComponent(prosody);
    // Echo who the server says sent the iq.
    component.iqCallee.get(NS_TEST, "echo", (ctx) => xml("echo", { xmlns: NS_TEST, from: ctx.stanza.attrs["from"] }));
    [alice, bob] = await Promise.all([
      connectClient(prosody, "alice", "alice-pw", "laptop"),
      connectClient(prosody, "bob", "bob-pw", "desk"),
    ]);
  });

  afterAll(async () => {
    await Promise.all([stopEntity(alice), stopEntity(bob), stopEntity(component)]);
    await prosody?.stop();
  });

  async function echo(client: Client, claimedFrom?: string): Promise<Element | undefined> {
    const iq = xml("iq", { type: "get", to: prosody.componentDomain, from: claimedFrom }, xml("echo", { xmlns: NS_TEST }));
    const result = await client.iqCaller.request(iq, 10_000);
    expect(result.attrs["type"]).toBe("result");
    return result.getChild("echo", NS_TEST);
  }

  it("delivers each user's iq to the component with the server-stamped full JID", async () => {
    const [fromAlice, fromBob] = await Promise.all([echo(alice), echo(bob)]);
    expect(fromAlice?.attrs["from"]).toBe(`alice@${prosody.domain}/laptop`);
    expect(fromBob?.attrs["from"]).toBe(`bob@${prosody.domain}/desk`);
  });

  it("does not let a client forge the from the component sees", async () => {
    // RFC 6120 §8.1.2.1: the server stamps a client's 'from'; Prosody overwrites whatever was sent.
    const reply = await echo(alice, `bob@${prosody.domain}/desk`);
    expect(reply?.attrs["from"]).toBe(`alice@${prosody.domain}/laptop`);
  });

  it("routes a chat message from alice to bob", async () => {
    const received = new Promise<Element>((resolve) => {
      const onStanza = (stanza: Element): void => {
        if (stanza.is("message") && stanza.getChildText("body") === "hello bob") {
          bob.removeListener("stanza", onStanza);
          resolve(stanza);
        }
      };
      bob.on("stanza", onStanza);
    });
    await alice.send(xml("message", { to: `bob@${prosody.domain}/desk`, type: "chat" }, xml("body", {}, "hello bob")));
    const message = await received;
    expect(message.attrs["from"]).toBe(`alice@${prosody.domain}/laptop`);
  });
});
