// `npm run demo`: the stack end to end on this machine, then everything stopped again.
// Prosody (Debian's, with docker/prosody/prosody.cfg.lua) on free loopback ports, a sharing manager
// stand-in on share.<domain> answering disco#info, and alice discovering it from her account.
// Placeholder until the real component and client exist; it depends on neither.

import { component, xml, type Component } from "@xmpp/component";
import type { Element } from "ltx";
import { openClientConnection, type ClientConnection } from "../client/xmpp-connection.ts";
import { prosodyVersion } from "../tests/harness/prosody-check.ts";
import { startProsody, type ProsodyHandle } from "../tests/harness/prosody.ts";

const NS_SHARE = "urn:xmpp:share:0";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

function discoInfo(): Element {
  return xml(
    "query",
    { xmlns: NS_DISCO_INFO },
    xml("identity", { category: "store", type: "file", name: "xmpp-share sharing manager" }),
    xml("feature", { var: NS_DISCO_INFO }),
    xml("feature", { var: NS_SHARE }),
  );
}

async function main(): Promise<void> {
  let prosody: ProsodyHandle | undefined;
  let manager: Component | undefined;
  let alice: ClientConnection | undefined;
  try {
    const version = await prosodyVersion();
    prosody = await startProsody({ accounts: [["alice", "alice-demo"], ["bob", "bob-demo"]] });

    manager = component({ service: prosody.componentService, domain: prosody.componentDomain, password: prosody.componentSecret });
    manager.on("error", (err) => console.error(`sharing manager: ${err.message}`));
    manager.reconnect.stop();
    manager.iqCallee.get(NS_DISCO_INFO, "query", () => discoInfo());
    await manager.start();

    alice = await openClientConnection({
      service: prosody.service,
      domain: prosody.domain,
      username: "alice",
      password: "alice-demo",
      resource: "xshare-demo",
    });
    const reply = await alice.request(xml("iq", { type: "get", to: prosody.componentDomain }, xml("query", { xmlns: NS_DISCO_INFO })), 10_000);
    const features = (reply.getChild("query", NS_DISCO_INFO)?.getChildren("feature") ?? []).map((f) => f.attrs["var"]);
    if (!features.includes(NS_SHARE)) throw new Error(`${prosody.componentDomain} does not advertise ${NS_SHARE}: ${features.join(", ")}`);

    console.log(
      `Prosody ${version} up on 127.0.0.1:${prosody.c2sPort}; sharing manager ${prosody.componentDomain} connected; ` +
        `alice sees feature ${NS_SHARE}`,
    );
  } finally {
    await alice?.close();
    if (manager) {
      manager.reconnect.stop();
      await manager.stop().catch(() => undefined);
    }
    await prosody?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
