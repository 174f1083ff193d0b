/**
 * The sharing manager's composition root: opens the stores, wires the modules to the router,
 * starts the HTTP chunk server and the XEP-0114 link, and runs garbage collection. Nothing
 * here decides protocol behaviour; the modules do.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";
import type { BareJid } from "../protocol/ids.ts";
import type { Element } from "../protocol/xml.ts";
import type { ComponentConfig } from "./config.ts";
import type { Router } from "./router.ts";
import type { Deps } from "./deps.ts";
import { closeChunkServer, createChunkServer } from "./http.ts";
import { ComponentLink } from "./link.ts";
import { Mutex, collectGarbage, reclaimUnrecorded, type GcResult } from "./modules/gc.ts";
import type { ContactBook } from "./modules/contacts.ts";
import type { SharingPresence } from "./modules/sharing-presence.ts";
import { PackBlobStore } from "./store/pack-blobs.ts";
import { SqliteMetadataStore } from "./store/sqlite-metadata.ts";
import { SessionRegistry, TokenRegistry } from "./tokens.ts";
import { createIqBridge } from "./iq-bridge.ts";
import { chunkRecorder } from "./record-chunks.ts";
import { buildService } from "./service.ts";
import { buildWeb, type Web } from "./web/web.ts";
import { registerFiles } from "./web/files.ts";
import { WebReplica, loadWebReplica } from "./web/replica.ts";
import { registerWebLogin } from "./modules/web-login.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function newId(prefix: string): string {
  const bytes = randomBytes(12);
  let s = prefix;
  for (let i = 0; i < 12; i++) s += BASE62[bytes[i]! % 62];
  return s;
}

export interface ComponentApp {
  readonly deps: Deps;
  readonly link: ComponentLink;
  /** The base URL of the chunk server as clients see it. */
  readonly chunkUrl: string;
  readonly httpPort: number;
  collectGarbage(): Promise<GcResult>;
  stop(): Promise<void>;
}

export async function startComponent(config: ComponentConfig, log: Logger): Promise<ComponentApp> {
  await mkdir(config.dataDir, { recursive: true });
  const store = SqliteMetadataStore.open(join(config.dataDir, "metadata.sqlite"));
  const blobs = await PackBlobStore.open(join(config.dataDir, "chunks"));
  // Before any upload is taken: bytes a crash left without a record (see gc.ts).
  await reclaimUnrecorded({ store, blobs, log });
  const now = () => Date.now();
  const tokens = new TokenRegistry({ now, random: () => randomBytes(24).toString("base64url"), ttlMs: config.tokenTtlMs });
  const sessions = new SessionRegistry({ now, random: () => randomBytes(24).toString("base64url"), ttlMs: config.sessionTtlMs });
  let presence: SharingPresence | undefined;
  let router: Router | undefined;
  let bridge: ReturnType<typeof createIqBridge> | undefined;
  let contacts: ContactBook | undefined;
  let web: Web | undefined;
  const gcLock = new Mutex();
  let link: ComponentLink | undefined;
  /** Why the XMPP server last refused the handshake; cleared once online. */
  let refusal: string | undefined;


  // An uploaded chunk is recorded only while its bytes exist, and once durable (record-chunks.ts).
  const recordChunks = chunkRecorder({ blobs, store, lock: gcLock });

  const http = createChunkServer({
    blobs,
    tokens,
    metadata: { addChunks: recordChunks },
    log: log.child({ part: "http" }),
    limits: { maxChunkBytes: config.limits.maxChunkBytes },
    now,
    // Throughput seen to and from members (modules/contacts.ts), built with the service below.
    onTransfer: (member, direction, bytes, ms) => contacts?.throughput.record(member, direction, bytes, ms),
    // The bridge needs the router, built below; until then (a few ms at start) say "not yet".
    // "refused" with the reason while the XMPP server turns the handshake down (a wrong secret).
    health: () => ({
      ok: link?.online ?? false,
      domain: config.domain,
      xmpp: link?.online ? "connected" : refusal ? "refused" : "connecting",
      ...(!link?.online && refusal ? { reason: refusal } : {}),
    }),
    iqBridge: async (req, res) => {
      if (bridge) return bridge(req, res);
      res.writeHead(503, { "Retry-After": "1" }).end("Starting\n");
    },
    // The web interface (component/web/), built with the service below.
    web: async (req, res) => {
      if (web) return web.router.handle(req, res);
      res.writeHead(503, { "Retry-After": "1" }).end("Starting\n");
    },
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(config.httpPort, config.httpHost, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const httpPort = (http.address() as AddressInfo).port;
  // With port 0 (tests) the URL can only be known now.
  const publicUrl = config.publicUrl.replace(/:0\/$/, `:${httpPort}/`);
  const chunkUrl = `${publicUrl}chunks/`;
  log.info({ url: publicUrl }, "HTTP chunk server listening");

  const deps: Deps = {
    store,
    blobs,
    tokens,
    sessions,
    config: { ...config, publicUrl, chunkUrl, httpPort },
    log,
    now,
    newId,
    toSharingClients: (member: BareJid, build: (fullJid: string) => Element) => {
      for (const jid of presence?.clients(member) ?? []) void link?.send(build(jid));
    },
  };

  const service = buildService(deps, {
    send: (el) => void link?.send(el),
    request: (iq) => (link ? link.request(iq) : Promise.reject(new Error("not connected"))),
  });
  const sharing = service.presence;
  presence = sharing;
  router = service.router;
  contacts = service.contacts;
  web = buildWeb(deps, {
    clients: (member) => sharing.clients(member),
    request: (iq, timeoutMs) => (link ? link.request(iq, timeoutMs) : Promise.reject(new Error("not connected"))),
  });
  // The web interface's browsing pages: one more replica of every space (web/replica.ts).
  const webReplica = new WebReplica({ deps, replica: await loadWebReplica(config.dataDir, newId), record: recordChunks, announce: service.announce });
  registerFiles(web.router, { deps, auth: web.sessions, replica: webReplica });
  registerWebLogin(router, web.links, publicUrl);
  bridge = createIqBridge({
    router,
    lookup: (token) => sessions.lookup(token),
    domain: config.domain,
    maxBytes: config.limits.maxIqBytes,
    log: log.child({ part: "iq-bridge" }),
  });

  link = new ComponentLink({ service: config.service, domain: config.domain, secret: config.secret, log });
  const current = link;
  current.on("stanza", (stanza: Element) => {
    if (stanza.name === "presence") {
      sharing.onPresence(stanza).catch((err: unknown) => log.warn({ err }, "presence handling failed"));
      return;
    }
    void router?.handle(stanza).then((reply) => reply && current.send(reply));
  });
  current.on("offline", () => sharing.clear());
  current.on("refused", (err: Error) => (refusal = err.message));
  current.on("online", () => (refusal = undefined));

  let gcRunning: Promise<GcResult> | undefined;
  const gc = () => (gcRunning ??= collectGarbage(deps, gcLock).finally(() => (gcRunning = undefined)));
  const gcTimer = setInterval(() => {
    gc().catch((err: unknown) => log.error({ err }, "garbage collection failed"));
  }, config.gcIntervalMs);
  gcTimer.unref();

  const stop = async () => {
    clearInterval(gcTimer);
    await current.stop();
    await closeChunkServer(http, { graceMs: 5000 });
    // Web changes' SNMs not delivered (the link is down) are kept before the store closes.
    await webReplica.told();
    await gcRunning?.catch(() => undefined);
    await blobs.close();
    await store.close();
    log.info("stopped");
  };

  try {
    await current.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return { deps, link: current, chunkUrl, httpPort, collectGarbage: gc, stop };
}
