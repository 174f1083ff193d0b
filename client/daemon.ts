/**
 * `xshare run`: the sharing client as a daemon, keeping every space of this device in sync
 * (XEP-draft.md § 5.12 and § 5.13; the patent's FIG. 9 and FIG. 10).
 *
 * - Local changes: each space folder and its subfolders are watched (chokidar, folders only: a
 *   folder's watch reports changes to the files in it); the first change starts an
 *   aggregation delay (`delayMs`), after which the space is synced (push and pull, engine/sync.ts).
 * - Coming online (FIG. 9): every session starts with directed presence to the sharing manager
 *   carrying, per space, the digest of this device's vector (state.ts). The manager answers with
 *   the authoritative digests and the other members' sharing clients online now; only spaces
 *   whose digests differ are synced. Nothing else is exchanged for the others.
 * - After a change (FIG. 10): when a sync changed the space's vector, an SNM with the vector goes
 *   to every peer (another member's sharing client online) that is not known to have it, and one
 *   to the manager when some member has no client online, for it to keep and deliver later.
 * - SNMs received: answered at once; a vector this device's does not dominate syncs the space.
 *   Only members of the space (and the manager) are heard; anyone else gets `item-not-found`,
 *   as for a space that does not exist.
 * - Presence: the presence this daemon broadcasts carries priority -1 (chat goes to the user's
 *   chat clients) and XEP-0115 capabilities naming `urn:xmpp:share:0`; digests go only in
 *   directed presence to the manager. It is repeated every `keepaliveMs`, so a manager that
 *   restarted (and forgot who is online) learns of this device again and delivers what it kept.
 * - dnd and xa (XEP-draft.md § 5.12 "Presence states"): the daemon still learns of changes and
 *   syncs its own (a push reads what changed remotely first), but a space that only changed
 *   remotely waits until it is available again (`setShow`): no bulk downloads meanwhile.
 * - Schedule (schedule.json, engine/schedule.ts): read at start (a bad file stops the start with
 *   its error), again before every sync and on SIGHUP (`refresh`); a bad edit while running is
 *   logged and the last good policy stays. Its rate buckets live as long as the policy does.
 *   A sync that leaves transfers waiting for a window arms a timer for the first of them
 *   (daemon-schedule.ts): the space is synced again then, on the daemon's clock (`now`).
 * - Pre-emption (with a schedule): while a sync runs, a change the daemon learns of raises the
 *   sync's `Preemption` (engine/schedule.ts) with its plan priority: a remote change (SNM,
 *   digests) with its space's priority (the paths are not known before the index is read;
 *   one the running sync of that space has read already does not count), a
 *   local one with its path's, once its aggregation delay is over and only if the file differs
 *   from what the state recorded and is not one the running sync writes (our own writes do not
 *   count). A large transfer of a lower
 *   priority pauses at its next batch boundary, the sync returns `incomplete`, and the daemon
 *   syncs what is wanted, then the paused space again (after `delayMs`): it resumes.
 * - Trouble: a lost connection is re-established with backoff (ClientConnection); a failed sync
 *   is retried with backoff; `stop()` stops the watchers, lets the running sync finish its
 *   current file (writes go through a temporary file and a rename, so none is left half
 *   written), says unavailable and closes. A large download cut off by a kill or a crash
 *   resumes from its recorded partial at the next start (engine/apply.ts); a space whose
 *   downloads an earlier run left waiting is synced at start.
 * - What people see (issue 10): `events` (DaemonEvents) tells the local UI's modules
 *   (client/ui/, started beside the daemon by commands.ts `run`) what happens, without letting
 *   them steer it; `webConfirm` holds the sharing manager's XEP-0070 sign-in confirmations for
 *   the user to accept or deny (client/web-confirm.ts, XEP-draft.md § 5.17). A space accepted
 *   while the daemon runs is synced at once: the manager's digests for it came before.
 */
import { EventEmitter } from "node:events";
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { xml } from "@xmpp/client";
import type { Element as XmppElement } from "@xmpp/xml";
import { ShareError } from "../protocol/errors.ts";
import type { BareJid, ReplicaId, SpaceId } from "../protocol/ids.ts";
import { bareOf, parseBareJid } from "../protocol/jid.ts";
import { NS } from "../protocol/ns.ts";
import { STATE_DIR, TEMP_PREFIX } from "../protocol/paths.ts";
import { CLIENT_DISCO, buildDiscoInfo, capsVer, CAPS_NODE } from "../protocol/stanzas/disco.ts";
import { buildDigests, buildSnm, parseDigests, parseSnm, type Peer, type Show, type Snm } from "../protocol/stanzas/sync-signals.ts";
import { digest, dominates, type VersionVector } from "../protocol/vv.ts";
import { Element, parseXml } from "../protocol/xml.ts";
import type { ClientConfig } from "./config.ts";
import { connect, type Device } from "./device.ts";
import type { ClientConnection } from "./xmpp-connection.ts";
import { Preemption } from "./engine/schedule.ts";
import { hasLocalChanges, syncSpace, type SyncReport } from "./engine/sync.ts";
import { RealFs } from "./fs/real.ts";
import type { Home } from "./home.ts";
import { Remote } from "./remote.ts";
import { DaemonSchedule } from "./daemon-schedule.ts";
import { classify } from "./schedule/policy.ts";
import type { Known } from "./scanner.ts";
import { ClientState, type LocalSpace } from "./state.ts";
import { WebConfirm } from "./web-confirm.ts";

/** How long a sync waits for the answers to the SNMs it sent before the next sync may start. */
const SNM_WAIT_MS = 1000;

/** Where the running daemon tells `xshare status` which peers are online (see #writePeers). */
export const peersFile = (home: Home) => join(home.stateDir, "peers.json");

/** What peersFile holds. */
export interface PeersFile {
  readonly pid: number;
  readonly spaces: Record<string, Array<{ jid: string; show?: Show }>>;
}

export interface DaemonOptions {
  /** Aggregation delay between a local change and the sync it causes (ms, default 100). */
  readonly delayMs?: number;
  /** How often presence is repeated to the sharing manager (ms, default 60 s). */
  readonly keepaliveMs?: number;
  /** First retry delay after a failed sync or connection (ms, default 1000; doubles up to 30 s). */
  readonly retryMs?: number;
  /** Presence `<show/>` to start with (default: available). */
  readonly show?: Show;
  /** One line per event worth telling (default: nothing). */
  readonly log?: (line: string) => void;
  /** Called after every sync (tests and the benchmark watch this). */
  readonly onSynced?: (report: SyncReport) => void;
  /** Called once logged in, before anything is sent (the benchmark counts stanzas from here). */
  readonly onConnection?: (conn: ClientConnection) => void;
  /** The clock the syncs and the schedule read (ms; default Date.now; see client/clock.ts). */
  readonly now?: () => number;
}

/**
 * What the daemon tells the local UI's modules (client/ui/): `connection` once logged in, before
 * anything is sent (a listener on its stanzas hears the contacts' first presence), `show` after
 * setShow, `synced` after every sync. For the share module (client/ui/share/) also: a sync of a
 * space starting (`sync-start`) or failing, its transfer progress, a remote change learned of
 * (before it is fetched), the other members' sharing clients online (`peers`), and which member
 * a replica is (`replica`: an SNM's sender). Listeners must not throw; they see, never steer.
 */
export interface DaemonEvents {
  connection: [conn: ClientConnection];
  show: [show: Show | undefined];
  synced: [report: SyncReport];
  "sync-start": [space: SpaceId];
  "sync-failed": [space: SpaceId, message: string];
  progress: [space: SpaceId, event: { phase: "upload" | "download"; bytes: number }];
  "remote-change": [space: SpaceId];
  peers: [space: SpaceId, peers: readonly Peer[]];
  replica: [fullJid: string, replica: ReplicaId];
}

/** Which stanza errors mean "the sharing manager is not there right now". */
function unreachable(err: unknown): boolean {
  if (err instanceof ShareError) return err.code === "unavailable";
  const msg = String((err as Error)?.message ?? err);
  return /not online|timeout|ECONNREFUSED|ECONNRESET|socket hang up|service-unavailable|remote-server-not-found/i.test(msg);
}

/** ltx elements (protocol/) as @xmpp/xml elements, for xmpp.js's iq callee. */
function toXmpp(el: Element): XmppElement {
  const children = el.children.map((c) => (typeof c === "string" ? c : toXmpp(c)));
  return xml(el.name, el.attrs as Record<string, string>, ...children);
}

export class Daemon {
  readonly #home: Home;
  readonly #config: ClientConfig;
  readonly #opts: Required<Omit<DaemonOptions, "show" | "onSynced" | "onConnection">> & Pick<DaemonOptions, "onSynced" | "onConnection">;
  /** schedule.json as last read, and the wake-ups for transfers waiting for a window. */
  readonly #schedule: DaemonSchedule;
  readonly #me: BareJid;
  #show: Show | undefined;
  #device: Device | undefined;
  readonly #watchers = new Map<SpaceId, FSWatcher>();
  /** Per space, files hashed but not synced yet (SyncContext.hashCache): not read again by each sync. */
  readonly #hashCaches = new Map<SpaceId, Map<string, Known>>();
  /** Per space: the other members' sharing clients online, as the manager last listed them. */
  readonly #peers = new Map<SpaceId, readonly Peer[]>();
  /** Per `${peer full JID} ${space}`: the digest of the last vector seen from that replica. */
  readonly #peerHas = new Map<string, string>();
  /** Spaces to sync, and their aggregation timers. */
  readonly #wanted = new Set<SpaceId>();
  /**
   * Wanted spaces that need a sync session whatever the disk says (a remote change, a retry).
   * The others were only touched on disk, often by our own writes: the disk is checked first
   * (hasLocalChanges, no request), and a sync starts only if something really changed.
   */
  readonly #mustSync = new Set<SpaceId>();
  readonly #timers = new Map<SpaceId, NodeJS.Timeout>();
  /** Spaces with downloads waiting for the end of dnd/xa. */
  readonly #deferred = new Set<SpaceId>();
  #pumping: Promise<void> | undefined;
  /** SNMs sent whose answers have not come (see #syncOne); stop() waits for them. */
  readonly #inflight = new Set<Promise<void>>();
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Spaces whose sync failed, synced again when the retry timer fires. */
  readonly #retry = new Set<SpaceId>();
  /** Whether the retry must first reach the sharing manager again (#online). */
  #retryOnline = false;
  #keepalive: NodeJS.Timeout | undefined;
  #announced = "";
  #stopping = false;
  /** Aborts the running sync between two files when stopping. */
  readonly #abort = new AbortController();
  /** The running sync's pre-emption flag (see the header), while one runs with a schedule, and its space. */
  #preempt: Preemption | undefined;
  #syncing: SpaceId | undefined;
  /** Per space: paths of local events seen while a sync ran, looked at when their delay is over. */
  readonly #touchedPaths = new Map<SpaceId, Set<string>>();
  /** Sign-in requests of the sharing manager's web interface waiting for the user (web-confirm.ts). */
  readonly webConfirm: WebConfirm;
  /** See DaemonEvents. */
  readonly events = new EventEmitter<DaemonEvents>();

  constructor(home: Home, config: ClientConfig, opts: DaemonOptions = {}) {
    this.#home = home;
    this.#config = config;
    this.#opts = {
      delayMs: opts.delayMs ?? 100, keepaliveMs: opts.keepaliveMs ?? 60_000, retryMs: opts.retryMs ?? 1000, log: opts.log ?? (() => undefined), now: opts.now ?? (() => Date.now()),
      ...(opts.onSynced ? { onSynced: opts.onSynced } : {}),
      ...(opts.onConnection ? { onConnection: opts.onConnection } : {}),
    };
    this.#retryMs = this.#opts.retryMs;
    this.#schedule = new DaemonSchedule(home, this.#opts.now, this.#opts.log);
    this.#me = parseBareJid(config.jid);
    this.#show = opts.show;
    this.webConfirm = new WebConfirm({ component: config.component });
  }

  /** The logged-in device (connection, remote, state), once started. */
  get device(): Device | undefined {
    return this.#device;
  }

  /** The presence `<show/>` broadcast now (undefined: available). */
  get show(): Show | undefined {
    return this.#show;
  }

  /** The other members' sharing clients online in a space, as the manager last listed them. */
  peers(id: SpaceId): readonly Peer[] {
    return this.#peers.get(id) ?? [];
  }

  get state(): ClientState {
    if (!this.#device) throw new Error("the daemon is not started");
    return this.#device.state;
  }

  /** Logs in (rejects with a UsageError when that fails), then runs until stop(). */
  async start(): Promise<void> {
    // A bad schedule.json is said before anything else happens.
    await this.#schedule.read(true);
    const conn = await connect({ ...this.#config, daemon: true, reconnectDelayMs: this.#opts.retryMs });
    // Liveness (XEP-0199 ping, ClientConnection): the server is pinged after a keepalive period
    // without a byte from it, and the link is given up (and re-established) when a ping gets no
    // byte back within the keepalive period, but never less than 5 s (a busy or rate-limiting
    // server is not a dead one) nor more than 20 s. A silently dead network is noticed within
    // keepalive + that, e.g. 80 s at the default 60 s, instead of TCP's ~15 min.
    conn.setLiveness({ pingIdleMs: this.#opts.keepaliveMs, pingTimeoutMs: Math.min(20_000, Math.max(5_000, this.#opts.keepaliveMs)) });
    this.#opts.onConnection?.(conn);
    this.events.emit("connection", conn);
    const remote = new Remote((iq) => conn.request(iq), this.#config.component);
    const state = ClientState.open(this.#home.stateDb);
    this.#device = {
      config: this.#config,
      conn,
      remote,
      state,
      close: async () => {
        remote.close();
        state.close();
        await conn.close();
      },
    };
    conn.xmpp.iqCallee.set(NS.share, "snm", (ctx: { stanza: XmppElement; element: XmppElement }) => this.#onSnm(ctx.stanza));
    conn.xmpp.iqCallee.get(NS.discoInfo, "query", () => toXmpp(buildDiscoInfo(CLIENT_DISCO)));
    // XEP-0070 sign-in confirmations (type get per its § 6; set taken too), held for the user.
    const confirm = (ctx: { stanza: XmppElement; element: XmppElement }) =>
      this.webConfirm.handle(String(ctx.stanza.attrs.from ?? ""), parseXml(ctx.element.toString())).then((r) => (r === true ? true : toXmpp(r)));
    conn.xmpp.iqCallee.get(NS.httpAuth, "confirm", confirm);
    conn.xmpp.iqCallee.set(NS.httpAuth, "confirm", confirm);
    conn.xmpp.on("stanza", (stanza: XmppElement) => {
      if (stanza.is("presence")) this.#onPresence(stanza);
    });
    conn.on("online", () => void this.#online());
    conn.on("disconnect", (info) => this.#opts.log(`disconnected${info.streamError ? ` (${info.streamError})` : ""}${info.willReconnect ? "; reconnecting" : ""}`));
    this.#keepalive = setInterval(() => {
      void this.refresh().then(() => this.#announce(true));
    }, this.#opts.keepaliveMs);
    this.#keepalive.unref();
    await this.#online();
  }

  /** Changes the presence show; leaving dnd/xa starts the downloads that waited. */
  async setShow(show: Show | undefined): Promise<void> {
    if (show === this.#show) return;
    this.#show = show;
    this.#opts.log(`presence ${show ?? "available"}`);
    await this.#broadcastPresence();
    await this.#announce(true);
    this.events.emit("show", show);
    if (this.#defersDownloads()) return;
    for (const s of this.#deferred) this.#want(s, 0);
    this.#deferred.clear();
  }

  /** Stops watching, lets the running sync finish, says unavailable and logs out. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#abort.abort();
    this.webConfirm.close();
    clearInterval(this.#keepalive);
    clearTimeout(this.#retryTimer);
    this.#schedule.stop();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await Promise.all([...this.#watchers.values()].map((w) => w.close()));
    this.#watchers.clear();
    await this.#pumping;
    await Promise.allSettled([...this.#inflight]);
    const d = this.#device;
    await rm(peersFile(this.#home), { force: true });
    if (d) {
      if (d.conn.online) await d.conn.send(new Element("presence", { type: "unavailable" })).catch(() => undefined);
      await d.close();
    }
  }

  // ---------------------------------------------------------------- sessions and presence

  async #online(): Promise<void> {
    const d = this.#device!;
    if (this.#stopping || !d.conn.online) return;
    try {
      const list = await d.remote.spaces();
      for (const s of list) if (d.state.space(s.id)) d.state.putSpace(s);
      for (const s of d.state.spaces()) if (s.folder && !list.some((r) => r.id === s.id)) this.#unwatch(s.id);
      await this.#broadcastPresence();
      this.#announced = "";
      await this.#announce(true);
      for (const s of this.#spaces()) this.#watchSpace(s);
      this.#opts.log(`online as ${d.conn.xmpp.jid?.toString() ?? this.#config.jid}; ${this.#spaces().length} space(s)`);
    } catch (err) {
      this.#opts.log(`cannot reach the sharing manager: ${(err as Error).message}; retrying`);
      this.#retryLater(undefined, true);
      return;
    }
    // Syncs that waited for the connection (or failed while it was down).
    this.#pump();
  }

  #spaces(): LocalSpace[] {
    return this.#device!.state.spaces().filter((s) => s.folder);
  }

  #defersDownloads(): boolean {
    return this.#show === "dnd" || this.#show === "xa";
  }

  /** Broadcast presence: priority -1 and capabilities; nothing about spaces. */
  async #broadcastPresence(): Promise<void> {
    const d = this.#device!;
    if (!d.conn.online) return;
    const p = new Element("presence");
    if (this.#show) p.c("show").t(this.#show);
    p.c("priority").t("-1");
    p.c("c", { xmlns: NS.caps, hash: "sha-1", node: CAPS_NODE, ver: capsVer(CLIENT_DISCO) });
    await d.conn.send(p).catch(() => undefined);
  }

  /** Directed presence to the manager with this device's digests; `force` repeats an unchanged one. */
  async #announce(force: boolean): Promise<void> {
    const d = this.#device;
    if (!d || this.#stopping || !d.conn.online) return;
    const spaces = this.#spaces().map((s) => ({ space: s.id, digest: digest(d.state.vector(s.id)) }));
    const payload = buildDigests({ replica: this.#config.replica, spaces });
    const key = `${this.#show ?? ""} ${payload.toString()}`;
    if (!force && key === this.#announced) return;
    this.#announced = key;
    const p = new Element("presence", { to: this.#config.component });
    if (this.#show) p.c("show").t(this.#show);
    p.c("priority").t("-1");
    p.cnode(payload);
    await d.conn.send(p).catch(() => undefined);
  }

  #onPresence(stanza: XmppElement): void {
    const d = this.#device!;
    if (this.#stopping || String(stanza.attrs.from ?? "") !== this.#config.component) return;
    const el = stanza.getChild("digests", NS.share);
    if (!el) return;
    let digests;
    try {
      digests = parseDigests(parseXml(el.toString()));
    } catch {
      return; // presence gets no error replies
    }
    for (const s of digests.spaces) {
      // Kept for spaces not accepted here too: the manager does not repeat an unchanged list,
      // so a space accepted later (while running) would know no peer until the list changes.
      this.#peers.set(s.space, s.peers ?? []);
      this.events.emit("peers", s.space, s.peers ?? []);
      const local = d.state.space(s.space);
      if (!local?.folder) continue;
      for (const p of s.peers ?? []) if (p.digest) this.#peerHas.set(`${p.jid} ${s.space}`, p.digest);
      if (s.digest !== digest(d.state.vector(s.space))) this.#remoteChange(s.space, { digest: s.digest });
    }
    this.#writePeers();
  }

  /**
   * What `xshare status` shows about the other members while the daemon runs: per space, their
   * sharing clients online as the manager last said (peersFile). Best effort.
   */
  #writePeers(): void {
    const spaces: Record<string, Array<{ jid: string; show?: Show }>> = {};
    for (const [id, peers] of this.#peers) spaces[id] = peers.map((p) => ({ jid: p.jid, ...(p.show ? { show: p.show } : {}) }));
    const file = peersFile(this.#home);
    void writeFile(`${file}.tmp`, JSON.stringify({ pid: process.pid, spaces }), { mode: 0o600 })
      .then(() => rename(`${file}.tmp`, file))
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------- SNM

  async #onSnm(stanza: XmppElement): Promise<XmppElement | true> {
    const d = this.#device!;
    if (this.#stopping) return toXmpp(new ShareError("unavailable", { text: "Stopping" }).toElement());
    const from = String(stanza.attrs.from ?? "");
    let snm: Snm;
    try {
      snm = parseSnm(parseXml(stanza.getChild("snm", NS.share)!.toString()));
    } catch (err) {
      return toXmpp((err instanceof ShareError ? err : new ShareError("bad-request")).toElement());
    }
    const space = d.state.space(snm.space);
    let member = false;
    try {
      member = from === this.#config.component || (from.includes("/") && (space?.members.includes(bareOf(from)) ?? false));
    } catch {
      member = false;
    }
    // A stranger learns nothing, not even whether the space exists here.
    if (!space?.folder || !member) return toXmpp(new ShareError("not-found").toElement());
    const theirs = "vector" in snm ? digest(snm.vector) : snm.digest;
    if (from !== this.#config.component) {
      this.#peerHas.set(`${from} ${snm.space}`, theirs);
      this.events.emit("replica", from, snm.replica);
    }
    const mine = d.state.vector(snm.space);
    if ("vector" in snm ? !dominates(mine, snm.vector) : theirs !== digest(mine)) this.#remoteChange(snm.space, "vector" in snm ? { vector: snm.vector } : { digest: theirs });
    return true;
  }

  /**
   * After a sync that moved the space's vector: tell the peers that lack it, and the manager;
   * after one that completed a pending version (`all`), every peer (their vectors lack it).
   */
  async #notify(space: LocalSpace, vector: VersionVector, all = false): Promise<void> {
    const d = this.#device!;
    const mine = digest(vector);
    const to = snmTargets(this.#peers.get(space.id) ?? [], all ? new Map() : this.#peerHas, space, mine);
    const snm = buildSnm({ space: space.id, replica: this.#config.replica, vector });
    const sends: Array<Promise<unknown>> = [];
    for (const p of to.peers) {
      this.#peerHas.set(`${p.jid} ${space.id}`, mine);
      const iq = new Element("iq", { type: "set", to: p.jid });
      iq.cnode(snm);
      sends.push(d.conn.request(iq, 10_000).catch((err: unknown) => this.#opts.log(`SNM to ${p.jid} not delivered: ${(err as Error).message}`)));
    }
    if (to.manager) {
      const iq = new Element("iq", { type: "set", to: this.#config.component });
      iq.cnode(snm);
      sends.push(d.conn.request(iq, 10_000).catch((err: unknown) => this.#opts.log(`SNM to the sharing manager not delivered: ${(err as Error).message}`)));
    }
    await Promise.all(sends);
  }

  // ---------------------------------------------------------------- watching and syncing

  #watchSpace(space: LocalSpace, accepted = false): void {
    if (this.#watchers.has(space.id) || this.#stopping) return;
    const folder = space.folder!;
    // Folders only: chokidar keeps one fs.watch per watched path, and a folder's watch already
    // reports every change to the files in it (inotify on Linux, FSEvents, ReadDirectoryChangesW),
    // which its `raw` events pass on. Watching each file as well cost ~8 kB of memory per file
    // (npm run bench:watch: RSS 74 -> 154 MB for 10,000 new files, against 79 -> 91 folders only),
    // and the sync that follows reads the disk anyway (#touched), so the event's path is only a
    // filter: our own temporary files and the state folder start nothing.
    const w = watch(folder, {
      ignoreInitial: true,
      persistent: true,
      // Neither matters when any event only starts a sync (the scanner skips links), and each
      // costs work and memory per path.
      atomic: false,
      followSymlinks: false,
      ignored: (p: string, stats?: { isDirectory(): boolean }) => {
        if (stats && !stats.isDirectory()) return true; // files, links, anything else
        const rel = p.slice(folder.length + 1);
        return rel === STATE_DIR || rel.startsWith(`${STATE_DIR}/`);
      },
    });
    w.on("raw", (_event, name: string | null, details) => {
      const watched = (details as { watchedPath?: string }).watchedPath;
      if (name && (name.startsWith(TEMP_PREFIX) || (name === STATE_DIR && watched === folder))) return;
      if (name && this.#preempt && watched !== undefined && (watched === folder || watched.startsWith(`${folder}/`))) {
        let paths = this.#touchedPaths.get(space.id);
        if (!paths) this.#touchedPaths.set(space.id, (paths = new Set()));
        paths.add(watched === folder ? name : `${watched.slice(folder.length + 1)}/${name}`);
      }
      this.#want(space.id, this.#opts.delayMs, false);
    });
    w.on("error", (err: unknown) => this.#opts.log(`watching ${folder}: ${(err as Error).message}`));
    this.#watchers.set(space.id, w);
    // Changes made while the daemon was not running: checked on disk like any touch (#touched);
    // remote ones come from the digests. Downloads an earlier run left waiting (the schedule
    // deferred or paused them) are in no digest: the space is synced for them, which plans
    // them again and arms the wake-up for their window. So is a space accepted while the daemon
    // runs (`accepted`: `xshare accept`, the UI): the manager's digests for it came before it
    // was accepted here, and are not sent again until they change.
    this.#want(space.id, 0, accepted || this.#device!.state.waiting(space.id).length > 0);
  }

  /** Spaces accepted or left since the daemon started (SIGHUP, and every keepalive). */
  async refresh(): Promise<void> {
    const d = this.#device;
    if (!d || this.#stopping) return;
    const now = new Set(this.#spaces().map((s) => s.id));
    for (const id of [...this.#watchers.keys()]) if (!now.has(id)) this.#unwatch(id);
    for (const s of this.#spaces()) this.#watchSpace(s, true);
    await this.#announce(false);
    // A changed schedule may let waiting transfers go (or hold new ones): plan those spaces again.
    if (await this.#schedule.read(false)) for (const id of this.#schedule.waitingIn) this.#want(id, 0);
  }

  #unwatch(id: SpaceId): void {
    void this.#watchers.get(id)?.close();
    this.#watchers.delete(id);
    this.#hashCaches.delete(id);
  }

  #hashCache(id: SpaceId): Map<string, Known> {
    let c = this.#hashCaches.get(id);
    if (!c) this.#hashCaches.set(id, (c = new Map()));
    return c;
  }

  /**
   * A remote change (`seen`: the vector or digest that said so): synced now, or after dnd/xa.
   * While a sync runs it raises the pre-emption flag, unless the running sync of that space has
   * read it already (see Preemption.read).
   */
  #remoteChange(id: SpaceId, seen?: { vector?: VersionVector; digest?: string }): void {
    this.events.emit("remote-change", id);
    if (!this.#defersDownloads()) {
      const policy = this.#schedule.current?.policy;
      const p = this.#preempt;
      const read = p && this.#syncing === id ? p.read : undefined;
      const known = read !== undefined && seen !== undefined && (seen.vector ? dominates(read, seen.vector) : seen.digest === digest(read));
      if (p && policy && !known) p.raise(policy.spaces.get(id)?.priority ?? "normal", `${id} changed elsewhere`);
      return this.#want(id, 0);
    }
    if (!this.#deferred.has(id)) this.#opts.log(`${id}: changed elsewhere; fetched when you are back (presence ${this.#show})`);
    this.#deferred.add(id);
  }

  /**
   * Syncs the space after `delayMs`; changes within the delay join the same sync. Without
   * `must`, only if the disk shows a change by then (see #mustSync).
   */
  #want(id: SpaceId, delayMs: number, must = true): void {
    if (must) this.#mustSync.add(id);
    if (this.#stopping || this.#timers.has(id)) return;
    const fire = () => {
      this.#timers.delete(id);
      this.#wanted.add(id);
      this.#raiseLocal(id);
      this.#pump();
    };
    if (delayMs <= 0) return fire();
    const t = setTimeout(fire, delayMs);
    this.#timers.set(id, t);
  }

  /**
   * While a sync runs: local paths of `id` touched since it started that really changed (their
   * stat is not the one the state recorded) raise its pre-emption flag with their priority.
   */
  #raiseLocal(id: SpaceId): void {
    const paths = this.#touchedPaths.get(id);
    this.#touchedPaths.delete(id);
    const preempt = this.#preempt;
    const policy = this.#schedule.current?.policy;
    const folder = this.#device?.state.space(id)?.folder;
    if (!paths || !preempt || !policy || !folder) return;
    const fs = new RealFs(folder);
    for (const path of paths) {
      // A file the running sync writes itself (its rename into place is an event too).
      if (this.#syncing === id && preempt.incoming.has(path)) continue;
      void fs.lstat(path).then(
        (st) => {
          if (!st || st.kind !== "file") return;
          const was = this.#device?.state.synced(id, path)?.local;
          if (was && was.size === st.size && was.mtimeMs === st.mtimeMs && was.ino === st.ino) return;
          preempt.raise(classify(policy, id, path).priority, `${path} changed on this device`);
        },
        () => undefined,
      );
    }
  }

  /** Runs the wanted syncs one at a time, while online (the pump is restarted by #online). */
  #pump(): void {
    if (this.#pumping || this.#stopping || this.#wanted.size === 0 || !this.#device!.conn.online) return;
    // `finally` runs after this assignment (it is asynchronous), so #pumping is always cleared.
    this.#pumping = this.#drain()
      .catch((err: unknown) => this.#opts.log(`syncing stopped by an unexpected error: ${(err as Error).message}`))
      .finally(() => {
        this.#pumping = undefined;
        this.#pump();
      });
  }

  async #drain(): Promise<void> {
    while (this.#wanted.size && !this.#stopping && this.#device!.conn.online) {
      const id = this.#wanted.values().next().value as SpaceId;
      this.#wanted.delete(id);
      const must = this.#mustSync.delete(id);
      if (must || (await this.#touched(id))) await this.#syncOne(id);
    }
  }

  /** Whether a space only touched on disk really changed (a failed check counts as yes). */
  async #touched(id: SpaceId): Promise<boolean> {
    const d = this.#device!;
    const space = d.state.space(id);
    if (!space?.folder) return false;
    return hasLocalChanges({ fs: new RealFs(space.folder), state: d.state, space }).catch(() => true);
  }

  async #syncOne(id: SpaceId): Promise<void> {
    const d = this.#device!;
    const space = d.state.space(id);
    if (!space?.folder) return;
    const before = digest(d.state.vector(id));
    try {
      await this.#schedule.read(false);
      const current = this.#schedule.current;
      // The policy as re-read on SIGHUP (`xshare config`) while the sync runs, for its pause checks.
      const schedule = current ? { ...current, latest: () => this.#schedule.current?.policy } : undefined;
      const preempt = schedule ? new Preemption() : undefined;
      this.#preempt = preempt;
      this.#syncing = id;
      this.#touchedPaths.clear();
      this.events.emit("sync-start", id);
      const report = await syncSpace({
        state: d.state,
        remote: d.remote,
        fs: new RealFs(space.folder),
        space,
        replica: this.#config.replica,
        me: this.#me,
        now: this.#opts.now,
        signal: this.#abort.signal,
        ...(schedule ? { schedule } : {}),
        ...(preempt ? { preempt } : {}),
        // A daemon only runs under the device's sync lock (commands.ts `run`).
        holdsLock: true,
        hashCache: this.#hashCache(id),
        onProgress: (e) => this.events.emit("progress", id, e),
      });
      this.#preempt = undefined;
      this.#retryMs = this.#opts.retryMs;
      this.#opts.log(`${id}: ${report.status}${report.reason ? ` (${report.reason})` : ""}, ${report.pushed} sent, ${report.pulled} received${report.conflicts ? `, ${report.conflicts} conflict(s) kept as copies` : ""}${report.waiting?.length ? `, ${report.waiting.length} waiting for the schedule` : ""}; bytes ${report.bytesUp} up, ${report.bytesDown} down`);
      // Downloads that waited still wait for the end of dnd/xa; uploads go (as any local change).
      if (!this.#stopping) this.#schedule.wakeFor(id, report.waiting ?? [], (uploads) => (uploads ? this.#want(id, 0) : this.#remoteChange(id)));
      this.#opts.onSynced?.(report);
      this.events.emit("synced", report);
      // The folder kept changing while it synced: go again once it is quiet.
      if (report.status === "incomplete") this.#want(id, this.#opts.delayMs);
      const vector = d.state.vector(id);
      // A completion (XEP-draft.md § 5.16) leaves the vector as it was: its SNM goes to every peer.
      const completed = (report.completed ?? 0) > 0;
      if (digest(vector) !== before || completed) {
        await this.#announce(false);
        if (report.pushed > 0) {
          // Sent now; their answers are awaited a moment only: an SNM lost on the way (a reset
          // connection) would otherwise hold every other space's sync for its whole timeout.
          const sent = this.#notify(d.state.space(id)!, vector, completed);
          this.#inflight.add(sent);
          void sent.finally(() => this.#inflight.delete(sent));
          await Promise.race([sent, new Promise((r) => setTimeout(r, SNM_WAIT_MS).unref())]);
        }
      }
    } catch (err) {
      this.#preempt = undefined;
      this.events.emit("sync-failed", id, (err as Error).message);
      if (this.#stopping) return this.#opts.log(`${id}: stopped between two files; the next run goes on`);
      this.#opts.log(`${id}: sync failed: ${(err as Error).message}; retrying`);
      this.#retryLater(id, unreachable(err));
    }
  }

  /**
   * Retries after a failure, with backoff (retryMs doubling to 30 s, reset by a sync that
   * works): every space that failed meanwhile is synced again, after reaching the sharing
   * manager again if it was unreachable.
   */
  #retryLater(id: SpaceId | undefined, reconnect: boolean): void {
    if (this.#stopping) return;
    if (id) this.#retry.add(id);
    this.#retryOnline ||= reconnect;
    if (this.#retryTimer) return;
    const ms = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const ids = [...this.#retry];
      const online = this.#retryOnline;
      this.#retry.clear();
      this.#retryOnline = false;
      for (const s of ids) {
        this.#mustSync.add(s);
        this.#wanted.add(s);
      }
      if (online) void this.#online();
      else this.#pump();
    }, ms);
  }
}

/**
 * Where the SNM about a change of `space` goes (XEP-draft.md § 5.13): to each peer (another
 * member's sharing client online) unless the last vector seen from it (`seen`, by
 * `${peer jid} ${space id}`, as a digest) is already `mine`; and to the sharing manager when
 * some member, this user included (their other devices), has no sharing client online.
 */
export function snmTargets(peers: readonly Peer[], seen: ReadonlyMap<string, string>, space: Pick<LocalSpace, "id" | "members">, mine: string): { peers: Peer[]; manager: boolean } {
  const online = new Set(peers.map((p) => bareOf(p.jid)));
  return {
    peers: peers.filter((p) => seen.get(`${p.jid} ${space.id}`) !== mine),
    manager: space.members.some((m) => !online.has(m)),
  };
}

