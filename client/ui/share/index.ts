/**
 * The local UI's `share` module: the sharing portion of the patent's FIG. 4 and 5. Serves
 * `/api/share/…` (routes below), gives the page its snapshot (the spaces in FIG. 3's sections,
 * each with members, sync state, conflicts, progress and gleam; the pending invitations), and
 * publishes server-sent events:
 *
 * - `share` (the snapshot again): after every sync report, remote change announced, peers
 *   list, action of the user, opening of a folder; coalesced (SNAPSHOT_MS).
 * - `share-progress` {space, up, down} (bytes this sync): at most every PROGRESS_MS.
 * - `share-change` {space, paths}: files another member changed, as they arrive.
 * - `share-conflict` {space, conflicts}: a sync kept conflicting versions as copies.
 *
 * It listens to the daemon (Daemon.events) and records, after each sync, the versions this
 * device received or sent (history.ts), which is where gleams and the history come from; what
 * it records lives in its own store (store.ts), so it survives restarts. Routes:
 *
 *   GET  tree?space&path   one folder's entries        POST open {space, path}  the same, and seen
 *   GET  file?space&path   a file's details, history   GET  conflicts
 *   POST resolve {space, copy, keep}                   POST create {kind, name, with}
 *   POST invite {space, jid}   POST accept {space}     POST leave {space}       POST refresh
 */
import { join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BareJid, SpaceId } from "../../../protocol/ids.ts";
import { bareOf, parseBareJid } from "../../../protocol/jid.ts";
import type { Space } from "../../../protocol/stanzas/spaces.ts";
import type { SyncReport } from "../../engine/sync.ts";
import type { DaemonEvents } from "../../daemon.ts";
import type { UiContext, UiModule, UiModuleFactory } from "../module.ts";
import { acceptSpace, create, inviteMember, leaveSpace, resolve, spaceId, type ActionContext } from "./actions.ts";
import { gleams } from "./gleam.ts";
import { recordVersions } from "./history.ts";
import { HttpError } from "../http.ts";
import { BadInput, readJson, sendJson } from "./http.ts";
import { ShareStore } from "./store.ts";
import { fileDetails, listFolder, relPath, type TreeInputs } from "./tree.ts";
import { spaceSnapshot, type Live } from "./snapshot.ts";
import { fig3 } from "./view.ts";

const SNAPSHOT_MS = 50;
const PROGRESS_MS = 250;
/**
 * The list of spaces (and so the invitations) is asked of the sharing manager when a page loads
 * or asks (POST refresh, every PAGE_POLL_MS from static/share.js while a page is open), at most
 * every REMOTE_MIN_MS: no page open, no requests.
 */
const REMOTE_MIN_MS = 3000;

export class ShareModule implements UiModule {
  readonly name = "share";
  readonly #ctx: UiContext;
  readonly #store: ShareStore;
  readonly #me: BareJid;
  readonly #known = new Map<string, Map<string, string>>();
  readonly #live = new Map<string, Live>();
  /** Per space, the head of the last sync whose versions were recorded (see #onSynced). */
  readonly #recordedHead = new Map<string, number>();
  #remote: readonly Space[] | undefined;
  #snapshotTimer: NodeJS.Timeout | undefined;
  #progressTimer: NodeJS.Timeout | undefined;
  #remoteAt = 0;
  #closed = false;
  /** The last snapshot published (an unchanged one is not sent again). */
  #published = "";
  readonly #off: Array<() => void> = [];

  constructor(ctx: UiContext, storeFile = join(ctx.home.stateDir, "share-ui.sqlite")) {
    this.#ctx = ctx;
    this.#store = ShareStore.open(storeFile);
    this.#me = parseBareJid(ctx.config.jid);
    const ev = {
      on: <K extends keyof DaemonEvents>(type: K, fn: (...args: DaemonEvents[K]) => void) => {
        ctx.daemon.events.on(type, fn as never);
        this.#off.push(() => ctx.daemon.events.off(type, fn as never));
      },
    };
    ev.on("sync-start", (id) => {
      Object.assign(this.#liveOf(id), { syncing: true, up: 0, down: 0 });
      this.#soon();
    });
    ev.on("progress", (id, e) => {
      const l = this.#liveOf(id);
      if (e.phase === "upload") l.up += e.bytes;
      else l.down += e.bytes;
      this.#progressSoon();
    });
    ev.on("synced", (report) => this.#onSynced(report));
    ev.on("sync-failed", (id, message) => {
      Object.assign(this.#liveOf(id), { syncing: false, error: message });
      this.#soon();
    });
    ev.on("remote-change", (id) => {
      this.#liveOf(id).incoming = true;
      this.#soon();
    });
    ev.on("peers", (_id, peers) => {
      for (const p of peers) this.#learn(p.jid, p.replica, true);
      this.#soon();
    });
    ev.on("replica", (jid, replica) => this.#learn(jid, replica, false));
  }

  #liveOf(id: string): Live {
    let l = this.#live.get(id);
    if (!l) this.#live.set(id, (l = { syncing: false, incoming: false, up: 0, down: 0 }));
    return l;
  }

  /**
   * Which member a replica is. The sharing manager's list of clients online decides; an SNM's
   * sender (another member, who names its own replica) only fills in a replica not known yet,
   * so one member cannot pass off another's device as theirs once it is known.
   */
  #learn(fullJid: string, replica: string, fromManager: boolean): void {
    try {
      const jid = bareOf(fullJid);
      const known = this.#store.member(replica);
      if (known !== jid && (fromManager || known === undefined)) this.#store.setMember(replica, jid);
    } catch {
      // Not a JID: nothing learned.
    }
  }

  /** Records what the space's state holds now (history, remote changes); what was received. */
  #record(id: string): string[] {
    const d = this.#ctx.daemon.device;
    if (!d || !d.state.space(id as SpaceId)?.folder) return [];
    let known = this.#known.get(id);
    if (!known) this.#known.set(id, (known = this.#store.latestKeys(id)));
    const versions = [...d.state.entries(id as SpaceId).values()].map((s) => s.version);
    return recordVersions({ store: this.#store, replica: d.config.replica, me: this.#me, now: () => Date.now() }, id, versions, known).received;
  }

  /** Spaces followed since before this start (or just accepted): recorded once, before the first look. */
  #catchUp(): void {
    const d = this.#ctx.daemon.device;
    if (!d) return;
    for (const s of d.state.spaces()) if (s.folder && !this.#known.has(s.id)) this.#record(s.id);
  }

  #onSynced(report: SyncReport): void {
    if (this.#closed) return;
    const l = this.#liveOf(report.space);
    l.syncing = false;
    l.incoming = false;
    l.report = report;
    delete l.error;
    // A sync that read nothing new and moved nothing (the head is where the last recording
    // saw it) left the synced versions as they were: no reading of the whole space for it.
    const unchanged = this.#recordedHead.get(report.space) === report.head && !report.pushed && !report.pulled && !report.conflicts;
    const received = unchanged ? [] : this.#record(report.space);
    this.#recordedHead.set(report.space, report.head);
    if (received.length) this.#ctx.publish("share-change", { space: report.space, paths: received.slice(0, 100) });
    if (report.conflicts) this.#ctx.publish("share-conflict", { space: report.space, conflicts: report.conflicts });
    this.#publishProgress();
    this.#soon();
  }

  #soon(): void {
    if (this.#snapshotTimer || this.#closed) return;
    this.#snapshotTimer = setTimeout(() => {
      this.#snapshotTimer = undefined;
      const snap = this.snapshot();
      const text = JSON.stringify(snap);
      if (text === this.#published) return;
      this.#published = text;
      this.#ctx.publish("share", snap);
    }, SNAPSHOT_MS);
  }

  #progressSoon(): void {
    if (this.#progressTimer || this.#closed) return;
    this.#progressTimer = setTimeout(() => {
      this.#progressTimer = undefined;
      this.#publishProgress();
    }, PROGRESS_MS);
  }

  #publishProgress(): void {
    for (const [space, l] of this.#live) if (l.up || l.down) this.#ctx.publish("share-progress", { space, up: l.up, down: l.down, syncing: l.syncing });
  }

  async #refreshRemote(force = true): Promise<void> {
    const d = this.#ctx.daemon.device;
    if (!d || !d.conn.online || this.#closed) return;
    if (!force && Date.now() - this.#remoteAt < REMOTE_MIN_MS) return;
    this.#remoteAt = Date.now();
    try {
      const list = await d.remote.spaces();
      const before = JSON.stringify(this.#remote?.map((s) => [s.id, s.members, s.name]));
      this.#remote = list;
      if (JSON.stringify(list.map((s) => [s.id, s.members, s.name])) !== before) this.#soon();
    } catch {
      // The manager is not there now; the next poll asks again.
    }
  }

  snapshot(): unknown {
    const d = this.#ctx.daemon.device;
    if (!d) return { ready: false };
    this.#catchUp();
    if (!this.#remote) void this.#refreshRemote(false);
    const online = d.conn.online;
    const local = d.state.spaces().filter((s) => s.folder);
    const remote = new Map((this.#remote ?? []).map((s) => [s.id, s]));
    const gleamContacts: Record<string, true> = {};
    const spaces: Record<string, unknown> = {};
    for (const s of local) {
      const gleam = gleams("", this.#store.changes(s.id), this.#store.seen(s.id));
      const members = remote.get(s.id)?.members;
      spaces[s.id] = spaceSnapshot({ space: s, state: d.state, live: this.#liveOf(s.id), peers: this.#ctx.daemon.peers(s.id), me: this.#me, online, gleam, ...(members ? { members } : {}) });
      if (gleam) {
        const sec = fig3(this.#me, [s]).find((x) => x.kind === "contact");
        if (sec?.contact) gleamContacts[sec.contact] = true;
      }
    }
    const sections = fig3(this.#me, local).map((sec) => ({ ...sec, gleam: sec.spaces.some((x) => (spaces[x.id] as { gleam: boolean }).gleam) }));
    const invitations = (this.#remote ?? []).filter((s) => !d.state.space(s.id)?.folder).map((s) => ({ id: s.id, kind: s.kind, name: s.name, owner: s.owner, members: [...s.members] }));
    return { ready: true, me: this.#me, online, sections, spaces, invitations, gleamContacts };
  }

  #tree(id: SpaceId): TreeInputs {
    const d = this.#device();
    const space = d.state.space(id);
    if (!space?.folder) throw new BadInput("That space is not on this device.", 404);
    this.#catchUp();
    return { space: id, folder: space.folder, state: d.state, store: this.#store, changes: this.#store.changes(id), seen: this.#store.seen(id), me: this.#me, replica: d.config.replica };
  }

  #device() {
    const d = this.#ctx.daemon.device;
    if (!d) throw new BadInput("The sharing client is still starting; try again in a moment.", 503);
    return d;
  }

  #actions(): ActionContext {
    return { home: this.#ctx.home, daemon: this.#ctx.daemon, device: this.#device(), me: this.#me };
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const route = `${req.method} ${url.pathname.slice("/api/share/".length)}`;
    const q = (k: string) => url.searchParams.get(k) ?? undefined;
    try {
      const answer = await this.#route(route, req, q);
      if (answer === undefined) return false;
      sendJson(res, 200, answer);
    } catch (err) {
      if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else {
        this.#ctx.log(`share: ${route}: ${(err as Error).stack ?? String(err)}`);
        sendJson(res, 500, { error: `Something went wrong: ${(err as Error).message}` });
      }
    }
    return true;
  }

  async #route(route: string, req: IncomingMessage, q: (k: string) => string | undefined): Promise<unknown> {
    switch (route) {
      case "GET tree": {
        const id = spaceId(q("space"));
        return { space: id, path: relPath(q("path"), true), entries: await listFolder(this.#tree(id), relPath(q("path"), true)) };
      }
      case "POST open": {
        const body = await readJson(req);
        const id = spaceId(body.space);
        const path = relPath(body.path, true);
        const t = this.#tree(id);
        const entries = await listFolder(t, path);
        // Seen up to now (gleam.ts): its star clears, and its parents' when nothing else changed.
        this.#store.setSeen(id, new Map([[path, this.#store.seq()]]));
        this.#soon();
        const after = this.#tree(id);
        return { space: id, path, entries: await listFolder(after, path), spaceGleam: gleams("", after.changes, after.seen) };
      }
      case "GET file": {
        const id = spaceId(q("space"));
        return fileDetails(this.#tree(id), relPath(q("path"), false));
      }
      case "GET conflicts": {
        const d = this.#device();
        return { conflicts: d.state.conflicts().map((c) => ({ ...c, author: c.replica === d.config.replica ? this.#me : this.#store.member(c.replica) })) };
      }
      case "POST resolve": {
        const line = await resolve(this.#actions(), await readJson(req));
        this.#soon();
        return { message: line };
      }
      case "POST create": {
        const made = await create(this.#actions(), await readJson(req));
        await this.#refreshRemote();
        this.#soon();
        return made;
      }
      case "POST invite": {
        const line = await inviteMember(this.#actions(), await readJson(req));
        await this.#refreshRemote();
        this.#soon();
        return { message: line };
      }
      case "POST accept": {
        const line = await acceptSpace(this.#actions(), await readJson(req));
        await this.#refreshRemote();
        this.#soon();
        return { message: line };
      }
      case "POST leave": {
        const body = await readJson(req);
        const line = await leaveSpace(this.#actions(), body);
        this.#store.forget(String(body.space));
        this.#known.delete(String(body.space));
        this.#live.delete(String(body.space));
        await this.#refreshRemote();
        this.#soon();
        return { message: line };
      }
      case "POST refresh":
        await this.#refreshRemote(false);
        this.#soon();
        return { ok: true };
      default:
        return undefined;
    }
  }

  close(): void {
    this.#closed = true;
    for (const off of this.#off.splice(0)) off();
    clearTimeout(this.#snapshotTimer);
    clearTimeout(this.#progressTimer);
    this.#store.close();
  }
}

export const shareModule: UiModuleFactory = (ctx) => new ShareModule(ctx);
