/**
 * A logged-in device: the XMPP connection under the device's own resource, the sharing
 * manager reached through it, and the local state. Also the login-time checks that turn
 * failures into one clear sentence each.
 */
import { randomBytes } from "node:crypto";
import "./scram.ts";
import { NS } from "../protocol/ns.ts";
import { parseDiscoInfo, supportsSharing } from "../protocol/stanzas/disco.ts";
import { Element, parseXml } from "../protocol/xml.ts";
import { type ClientConfig, UsageError } from "./config.ts";
import type { Home } from "./home.ts";
import { ClientState } from "./state.ts";
import { Remote } from "./remote.ts";
import { ClientConnection } from "./xmpp-connection.ts";

export interface Device {
  readonly config: ClientConfig;
  readonly conn: ClientConnection;
  readonly remote: Remote;
  readonly state: ClientState;
  close(): Promise<void>;
}

export function splitJid(jid: string): { local: string; domain: string } {
  const m = /^([^@/\s]+)@([^@/\s]+)$/.exec(jid);
  if (!m) throw new UsageError(`not a bare JID: ${JSON.stringify(jid)} (expected user@example.org)`);
  return { local: m[1]!, domain: m[2]!.toLowerCase() };
}

export interface ConnectOptions {
  jid: string;
  password: string;
  service?: string;
  device: string;
  /** The daemon (`xshare run`): the device's own resource, kept up with reconnects. */
  daemon?: boolean;
  reconnectDelayMs?: number;
}

/**
 * Logs in; rejects with a one-line UsageError that says what went wrong.
 *
 * Resources: the daemon is `xshare-<device>`, where other members send SNMs. A one-shot
 * command (sync, status, share…) logs in as `xshare-<device>-<random>`, so that it never
 * takes the daemon's resource (the server would close the daemon's session); it sends no
 * presence, so nobody sees it come and go.
 */
export async function connect(opts: ConnectOptions): Promise<ClientConnection> {
  const { local, domain } = splitJid(opts.jid);
  const service = opts.service ?? `xmpp://${domain}:5222`;
  const resource = opts.daemon ? `xshare-${opts.device}` : `xshare-${opts.device}-${randomBytes(3).toString("hex")}`;
  const conn = new ClientConnection({
    service, domain, username: local, password: opts.password, resource, timeoutMs: 10_000,
    ...(opts.daemon ? { reconnect: true, reconnectDelayMs: opts.reconnectDelayMs ?? 1000 } : {}),
  });
  try {
    await conn.start();
  } catch (err) {
    const msg = (err as Error).message;
    if (/not-authorized|authentication failed|SASL/i.test(msg)) throw new UsageError(`login failed for ${opts.jid}: wrong password or unknown account`);
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN|timeout/i.test(msg)) throw new UsageError(`cannot reach the XMPP server at ${service}`);
    throw new UsageError(`login failed for ${opts.jid}: ${msg.replace(/^cannot log in as [^:]+: /, "")}`);
  }
  return conn;
}

async function discoInfo(conn: ClientConnection, to: string) {
  const iq = new Element("iq", { type: "get", to });
  iq.c("query", { xmlns: NS.discoInfo });
  const reply = parseXml((await conn.request(iq, 10_000)).toString());
  const q = reply.getChild("query", NS.discoInfo);
  return q ? parseDiscoInfo(q) : undefined;
}

/** The sharing manager on the account's server: disco#items, then disco#info of each item. */
export async function discoverComponent(conn: ClientConnection, domain: string): Promise<string> {
  const iq = new Element("iq", { type: "get", to: domain });
  iq.c("query", { xmlns: NS.discoItems });
  let items: string[] = [];
  try {
    const reply = parseXml((await conn.request(iq, 10_000)).toString());
    items = (reply.getChild("query", NS.discoItems)?.getChildren("item") ?? []).map((i) => String(i.attrs.jid ?? "")).filter(Boolean);
  } catch {
    items = [];
  }
  for (const jid of items) {
    try {
      const info = await discoInfo(conn, jid);
      if (info && supportsSharing(info)) return jid;
    } catch {
      // An item that does not answer disco is not ours.
    }
  }
  throw new UsageError(`no sharing manager found on ${domain} (none of its services offers ${NS.share}); ask the admin, or pass --component`);
}

/** Opens the configured device: logs in and prepares the remote and the local state. */
export async function openDevice(home: Home, config: ClientConfig): Promise<Device> {
  const conn = await connect(config);
  const remote = new Remote((iq) => conn.request(iq), config.component);
  const state = ClientState.open(home.stateDb);
  return {
    config,
    conn,
    remote,
    state,
    async close() {
      remote.close();
      state.close();
      await conn.close();
    },
  };
}
