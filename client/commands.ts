/**
 * What each `xshare` command does. `cli.ts` only parses arguments and calls these; each one
 * returns the lines to print (or a JSON value) and throws a UsageError for anything the user
 * must fix, so the CLI can print one line and exit non-zero.
 */
import type { Contact } from "../protocol/stanzas/contacts.ts";
import { hostname } from "node:os";
import { isAbsolute, join, resolve, sep } from "node:path";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { ShareError } from "../protocol/errors.ts";
import type { BareJid, SpaceId } from "../protocol/ids.ts";
import { parseBareJid } from "../protocol/jid.ts";
import type { Space } from "../protocol/stanzas/spaces.ts";
import { type ClientConfig, UsageError, deviceOk, newReplicaId, readConfig, writeConfig } from "./config.ts";
import { SHOWS, isShow, type Show } from "../protocol/stanzas/sync-signals.ts";
import { Daemon, peersFile, type DaemonOptions, type PeersFile } from "./daemon.ts";
import { type Device, connect, discoverComponent, openDevice, splitJid } from "./device.ts";
import { syncSpace, type SyncReport } from "./engine/sync.ts";
import { RealFs } from "./fs/real.ts";
import type { Home } from "./home.ts";
import { layoutFolder } from "./layout.ts";
import { alive, withLock } from "./lock.ts";
import { startUi } from "./ui/launch.ts";
import { checkMarker, writeMarker } from "./marker.ts";
import type { Progress } from "./progress.ts";
import { ClientState, type LocalSpace } from "./state.ts";
import { clockFromEnv } from "./clock.ts";
import { scheduleOf, type QueuedTransfer } from "./engine/schedule.ts";
import { DEFAULT_POLICY, formatBytes } from "./schedule/policy.ts";
import { formatWhen } from "./schedule/queue.ts";
import { systemTimeZone } from "./schedule/window.ts";
import { loadPolicy, loadStoredPolicy, policyFile } from "./schedule/store.ts";

export async function loadConfig(home: Home): Promise<ClientConfig> {
  const config = await readConfig(home.configFile);
  if (!config) throw new UsageError(`not logged in on this device (${home.configFile}); run \`xshare login <jid>\` first`);
  return config;
}

/**
 * Runs `fn` with a logged-in device: `running` when given (the daemon's own, for the local UI,
 * client/ui/share/: it stays open), otherwise a one-shot login closed afterwards.
 */
async function withDevice<T>(home: Home, fn: (d: Device) => Promise<T>, running?: Device): Promise<T> {
  const device = running ?? (await openDevice(home, await loadConfig(home)));
  try {
    return await fn(device);
  } catch (err) {
    if (err instanceof ShareError) throw new UsageError(`the sharing manager refused: ${err.message}`);
    throw err;
  } finally {
    if (!running) await device.close();
  }
}

function jids(list: string): BareJid[] {
  return list.split(",").map((s) => s.trim()).filter(Boolean).map((j) => {
    try {
      return parseBareJid(j);
    } catch {
      throw new UsageError(`not a bare JID: ${JSON.stringify(j)} (expected user@example.org)`);
    }
  });
}

export interface LoginOptions {
  password: string;
  service?: string;
  device?: string;
  component?: string;
}

export async function login(home: Home, jid: string, opts: LoginOptions): Promise<string[]> {
  const { domain } = splitJid(jid);
  const device = opts.device ?? (hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 32) || "device");
  if (!deviceOk(device)) throw new UsageError(`--device must be 1-32 letters, digits, '-' or '_': ${JSON.stringify(opts.device)}`);
  if (opts.service && !/^xmpps?:\/\/[^/:]+:\d{1,5}$/.test(opts.service)) throw new UsageError(`--service must look like xmpp://host:port, got ${JSON.stringify(opts.service)}`);
  const conn = await connect({ jid, password: opts.password, device, ...(opts.service ? { service: opts.service } : {}) });
  try {
    const component = opts.component ?? (await discoverComponent(conn, domain));
    const previous = await readConfig(home.configFile).catch(() => undefined);
    const replica = previous && previous.jid === jid && previous.device === device ? previous.replica : newReplicaId();
    const config: ClientConfig = { jid, password: opts.password, device, replica, component, ...(opts.service ? { service: opts.service } : {}) };
    // The sharing manager must answer before we store anything.
    const { Remote } = await import("./remote.ts");
    const remote = new Remote((iq) => conn.request(iq), component);
    try {
      await remote.spaces();
    } catch (err) {
      throw new UsageError(`${component} does not answer as a sharing manager: ${(err as Error).message}`);
    } finally {
      remote.close();
    }
    await writeConfig(home.configFile, config);
    return [`logged in as ${jid} on device ${device}; sharing manager ${component}`];
  } finally {
    await conn.close();
  }
}

async function folderFor(path: string): Promise<string> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UsageError(`${abs} is not a folder`);
  if (!st) await mkdir(abs, { recursive: true });
  return abs;
}

/** The running daemon's pid file (`xshare run`), in the state directory. */
const daemonPidFile = (home: Home) => join(home.stateDir, "daemon.pid");
/** The presence the user asked for (`xshare presence`), read by the daemon. */
const showFile = (home: Home) => join(home.stateDir, "presence");
const SHOW_VALUES = ["available", ...SHOWS] as const;

async function readShow(home: Home): Promise<Show | undefined> {
  const v = (await readFile(showFile(home), "utf8").catch(() => "")).trim();
  return isShow(v) ? v : undefined;
}

/** `xshare presence <state>`: what the running daemon shows (and whether it fetches, see run). */
export async function presence(home: Home, value: string): Promise<string[]> {
  if (!(SHOW_VALUES as readonly string[]).includes(value)) throw new UsageError(`presence must be one of ${SHOW_VALUES.join(", ")}, got ${JSON.stringify(value)}`);
  await mkdir(home.stateDir, { recursive: true, mode: 0o700 });
  await writeFile(showFile(home), `${value}\n`, { mode: 0o600 });
  await nudgeDaemon(home);
  return [`presence ${value}${value === "dnd" || value === "xa" ? ": changes made elsewhere are fetched when you are back" : ""}`];
}

/** Tells a running `xshare run` of this home that its settings changed (SIGHUP); no-op without one. */
export async function nudge(home: Home): Promise<void> {
  await nudgeDaemon(home);
}

/** Tells a running `xshare run` of this home that its spaces changed (SIGHUP); no-op without one. */
async function nudgeDaemon(home: Home): Promise<void> {
  const pid = Number((await readFile(daemonPidFile(home), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  try {
    process.kill(pid, "SIGHUP");
  } catch {
    // Not running any more.
  }
}

/**
 * Refuses a folder that is, holds or lies inside another space's folder on this device: the
 * outer space would sync the inner one's files as its own (and its marker).
 */
function checkFolderFree(state: ClientState, folder: string, id?: string): void {
  const within = (inner: string, outer: string) => inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
  for (const s of state.spaces()) {
    if (!s.folder || s.id === id) continue;
    if (s.folder === folder) throw new UsageError(`${folder} already holds space ${s.id}`);
    if (within(folder, s.folder)) throw new UsageError(`${folder} is inside ${s.folder}, the folder of space ${s.id}; choose a folder outside it`);
    if (within(s.folder, folder)) throw new UsageError(`${folder} holds ${s.folder}, the folder of space ${s.id}; choose a folder that does not`);
  }
}

async function bind(state: ClientState, space: Space, folder: string): Promise<void> {
  const fs = new RealFs(folder);
  const marker = await checkMarker(fs, space.id);
  if (marker === "other-space") throw new UsageError(`${folder} already holds another shared space`);
  checkFolderFree(state, folder, space.id);
  state.putSpace(space);
  state.setFolder(space.id, folder);
  await writeMarker(fs, space.id);
}

export async function share(home: Home, folder: string, opts: { with?: string; group?: string; mine?: boolean; name?: string }, running?: Device): Promise<string[]> {
  const others = opts.with ? jids(opts.with) : [];
  if (!opts.mine && others.length === 0) throw new UsageError("say who to share with: --with <jid>[,<jid>…], or --mine for your own read-only-for-others folder");
  const name = opts.name ?? (resolve(folder).split("/").pop() || "Shared");
  return withDevice(home, async (d) => {
    checkFolderFree(d.state, resolve(folder));
    const abs = await folderFor(folder);
    let space: Space;
    if (opts.mine) space = await d.remote.createSpace({ kind: "mine", name, members: others });
    else if (others.length === 1 && !opts.group) space = await d.remote.createSpace({ kind: "pair", name, members: [others[0]!] });
    else {
      const group = await d.remote.createGroup({ name: opts.group ?? name, members: others });
      space = await d.remote.createSpace({ kind: "group", name, group: group.id });
    }
    await bind(d.state, space, abs);
    await nudgeDaemon(home);
    return [space.id];
  }, running);
}

export async function accept(home: Home, id: string, folder?: string, running?: Device): Promise<string[]> {
  return withDevice(home, async (d) => {
    const space = await d.remote.space(id as SpaceId).catch((err: unknown) => {
      if (err instanceof ShareError && err.code === "not-found") throw new UsageError(`no space ${id} is shared with you`);
      throw err;
    });
    const target = folder ? resolve(folder) : layoutFolder(home, parseBareJid(d.config.jid), space);
    checkFolderFree(d.state, target, space.id);
    await bind(d.state, space, await folderFor(target));
    await nudgeDaemon(home);
    return [`${space.id} → ${target}`];
  }, running);
}

export interface SpaceRow {
  id: string;
  kind: string;
  name: string;
  owner: string;
  members: string[];
  folder: string | null;
}

export async function spaces(home: Home, running?: Device): Promise<SpaceRow[]> {
  return withDevice(home, async (d) => {
    const list = await d.remote.spaces();
    for (const s of list) if (d.state.space(s.id)) d.state.putSpace(s);
    return list.map((s) => ({ id: s.id, kind: s.kind, name: s.name, owner: s.owner, members: [...s.members], folder: d.state.space(s.id)?.folder ?? null }));
  }, running);
}

export async function invite(home: Home, id: string, jid: string, running?: Device): Promise<string[]> {
  const [who] = jids(jid);
  return withDevice(home, async (d) => {
    const s = await d.remote.invite({ space: id as SpaceId, jid: who! });
    return [`${who} is now a member of ${s.id}`];
  }, running);
}

export async function leave(home: Home, id: string, running?: Device): Promise<string[]> {
  return withDevice(home, async (d) => {
    await d.remote.leave(id as SpaceId);
    const folder = d.state.space(id as SpaceId)?.folder;
    // Partial downloads (temp files of large transfers that stopped) are of no use any more.
    if (folder) {
      const fs = new RealFs(folder);
      for (const p of d.state.partials(id as SpaceId)) for (const t of p.temps) await fs.remove(t).catch(() => undefined);
    }
    d.state.removeSpace(id as SpaceId);
    await nudgeDaemon(home);
    return [`left ${id}${folder ? `; ${folder} and its files stay on this device` : ""}`];
  }, running);
}

export async function sync(home: Home, opts: { space?: string; progress?: Progress }): Promise<SyncReport[]> {
  return withLock(join(home.stateDir, "sync.lock"), () => syncLocked(home, opts));
}

async function syncLocked(home: Home, opts: { space?: string; progress?: Progress }): Promise<SyncReport[]> {
  const now = clockFromEnv();
  // Read before logging in: a bad schedule.json is said at once and nothing is synced.
  const schedule = scheduleOf(await loadStoredPolicy(home), now);
  return withDevice(home, async (d) => {
    const remoteList = await d.remote.spaces();
    for (const s of remoteList) if (d.state.space(s.id)) d.state.putSpace(s);
    const local: LocalSpace[] = d.state.spaces().filter((s) => s.folder && (!opts.space || s.id === opts.space));
    if (opts.space && local.length === 0) throw new UsageError(`space ${opts.space} is not set up on this device; \`xshare accept ${opts.space}\` first`);
    const me = parseBareJid(d.config.jid);
    const reports: SyncReport[] = [];
    for (const space of local) {
      if (!remoteList.some((r) => r.id === space.id)) {
        reports.push({ space: space.id, status: "paused", reason: "no longer a member", pushed: 0, pulled: 0, conflicts: 0, readOnlySkipped: [], skipped: [], bytesUp: 0, bytesDown: 0, head: space.pulled });
        continue;
      }
      reports.push(
        await syncSpace({
          state: d.state, remote: d.remote, fs: new RealFs(space.folder!), space, replica: d.config.replica, me, now, holdsLock: true,
          ...(schedule ? { schedule } : {}),
          ...(opts.progress ? { onProgress: opts.progress.update } : {}),
        }),
      );
    }
    opts.progress?.done();
    return reports;
  });
}

/**
 * `xshare run`: the daemon (daemon.ts) until SIGINT or SIGTERM. It holds the device's sync
 * lock for its whole life, so `xshare sync` meanwhile says that the daemon is syncing.
 */
export async function run(home: Home, opts: DaemonOptions & { ui?: { port?: number } | false }): Promise<void> {
  const config = await loadConfig(home);
  await withLock(join(home.stateDir, "sync.lock"), async () => {
    if (opts.show) await writeFile(showFile(home), `${opts.show}\n`, { mode: 0o600 });
    const show = opts.show ?? (await readShow(home));
    const daemon = new Daemon(home, config, { now: clockFromEnv(), ...opts, ...(show ? { show } : {}) });
    // The local UI (client/ui/launch.ts): listening before the login, so a taken port stops the start.
    const ui = opts.ui === false ? undefined : await startUi(daemon, home, config, { ...opts.ui, ...(opts.log ? { log: opts.log } : {}) });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onSignal = () => stop();
    // `xshare accept`, `share` and `leave` send SIGHUP: the daemon looks at its spaces again.
    const onHup = () => void readShow(home).then((s) => daemon.setShow(s)).then(() => daemon.refresh());
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    process.on("SIGHUP", onHup);
    try {
      if (ui) opts.log?.(`local UI at http://127.0.0.1:${ui.info.port}/ (\`xshare ui\` prints the link that opens it)`);
      await daemon.start();
      await writeFile(daemonPidFile(home), `${process.pid}\n`, { mode: 0o600 });
      await stopped;
      opts.log?.("stopping");
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onHup);
      await rm(daemonPidFile(home), { force: true });
      await ui?.close();
      await daemon.stop();
    }
    opts.log?.("stopped");
  });
}

/** `running`: the daemon's open state (the local UI), left open; otherwise the home's, opened here. */
export async function conflicts(home: Home, running?: ClientState) {
  const state = running ?? ClientState.open(home.stateDb);
  try {
    return state.conflicts().map((c) => ({ ...c, folder: state.space(c.space)?.folder ?? null }));
  } finally {
    if (!running) state.close();
  }
}

/**
 * Picks a side of a conflict (`path` is the original path or the copy, relative to a space
 * folder or absolute). The files are changed here; the next sync sends the result.
 */
export async function resolveConflict(home: Home, path: string, keep: "local" | "remote" | "both", running?: ClientState): Promise<string[]> {
  const state = running ?? ClientState.open(home.stateDb);
  try {
    const all = state.conflicts();
    const match = all.find((c) => {
      const folder = state.space(c.space)?.folder ?? "";
      const abs = (p: string) => join(folder, p);
      const given = isAbsolute(path) ? path : resolve(path);
      return [c.path, c.copy].includes(path) || [abs(c.path), abs(c.copy)].includes(given);
    });
    if (!match) throw new UsageError(`no conflict recorded for ${path}; see \`xshare conflicts\``);
    const folder = state.space(match.space)?.folder;
    if (!folder) throw new UsageError(`space ${match.space} has no folder on this device`);
    const at = (p: string) => join(folder, p);
    if (keep !== "both") {
      const winnerAt = keep === "local" ? match.localAt : match.localAt === "path" ? "copy" : "path";
      if (winnerAt === "copy") await rename(at(match.copy), at(match.path));
      else await (await import("node:fs/promises")).rm(at(match.copy), { force: true });
    }
    state.removeConflict(match.space, match.copy);
    return [keep === "both" ? `kept both ${match.path} and ${match.copy}` : `kept the ${keep} version at ${match.path}; run \`xshare sync\` to share the choice`];
  } finally {
    if (!running) state.close();
  }
}

export interface StatusRow extends SpaceRow {
  /**
   * Per other member, their sharing clients online (resource and show) while this device's
   * `xshare run` is running (it hears of them); undefined without a running daemon. A member
   * with none is offline or has no sharing client, and is reached through the sharing manager.
   */
  online?: Record<string, Array<{ resource: string; show?: string }>>;
  status: string;
  reason?: string;
  pendingUp: number;
  pendingDown: number;
  conflicts: number;
  readOnlyLocalChanges: number;
  notSynced: Array<{ path: string; reason: string }>;
  /** Transfers the schedule (schedule.json) holds back, in the order they will go. */
  waiting: WaitingRow[];
  /**
   * Large transfers that stopped before the end (paused by the schedule, pre-empted, or cut
   * off) and resume from what they have: bytes done of `size`, and why they stopped.
   */
  paused: PausedRow[];
}

/** A large transfer that stopped before the end (state.ts `partials`). */
export interface PausedRow {
  path: string;
  direction: "up" | "down";
  /** Bytes it already has (downloads: a verified prefix on disk; uploads: sent to the sharing manager). */
  done: number;
  size: number;
  reason: string;
}

/** "receive movie.mov: paused at 8 MB of 24 MiB (waits for its window …)". */
export function describePaused(p: PausedRow): string {
  return `${p.direction === "up" ? "send" : "receive"} ${p.path}: paused at ${formatBytes(p.done)} of ${formatBytes(p.size)} (${p.reason})`;
}

/** A transfer of the plan, for people and for `--json`. */
export interface WaitingRow {
  path: string;
  direction: "up" | "down";
  /** Bytes to move. */
  size: number;
  priority: string;
  /** now: this sync; later: at `at`; held: not by time (metered, or a window that never opens). */
  timing: "now" | "later" | "held";
  reason: string;
  /** From contacts' characteristics (0 to 1, absent: 0): the reason says why. */
  urgency?: number;
  /** ISO time it may start (`later`), undefined otherwise. */
  at?: string;
  /** `at` in the schedule's time zone, e.g. "02:00" or "Sat 01:00". */
  when?: string;
  /** A large transfer that paused before the end: bytes it already has, and why it paused. */
  paused?: { bytes: number; reason: string };
}

function rowOf(q: QueuedTransfer, nowMs: number, timeZone: string): WaitingRow {
  const at = q.timing === "later" && q.runAtMs !== undefined ? new Date(q.runAtMs) : undefined;
  return {
    path: q.path, direction: q.direction, size: q.size, priority: q.priority, timing: q.timing, reason: q.reason,
    ...(q.urgency ? { urgency: q.urgency } : {}),
    ...(at ? { at: at.toISOString(), when: formatWhen(at, new Date(nowMs), timeZone) } : {}),
    ...(q.paused ? { paused: { bytes: q.paused.bytes, reason: q.paused.reason } } : {}),
  };
}

/** The running daemon's view of who is online, if a daemon runs. */
async function runningPeers(home: Home): Promise<PeersFile | undefined> {
  const text = await readFile(peersFile(home), "utf8").catch(() => undefined);
  if (!text) return undefined;
  try {
    const data = JSON.parse(text) as PeersFile;
    return alive(data.pid) ? data : undefined;
  } catch {
    return undefined;
  }
}

export async function status(home: Home): Promise<StatusRow[]> {
  const { inspectSpace } = await import("./engine/sync.ts");
  const peers = await runningPeers(home);
  const now = clockFromEnv();
  const policy = await loadPolicy(home);
  const schedule = scheduleOf(policy, now)!;
  const timeZone = policy.timezone ?? systemTimeZone();
  return withDevice(home, async (d) => {
    const me = parseBareJid(d.config.jid);
    const rows: StatusRow[] = [];
    for (const s of await d.remote.spaces()) {
      const local = d.state.space(s.id);
      const base: SpaceRow & Pick<StatusRow, "online"> = { id: s.id, kind: s.kind, name: s.name, owner: s.owner, members: [...s.members], folder: local?.folder ?? null };
      if (peers) {
        const online: Record<string, Array<{ resource: string; show?: string }>> = {};
        for (const m of s.members) if (m !== me) online[m] = [];
        for (const p of peers.spaces[s.id] ?? []) {
          const slash = p.jid.indexOf("/");
          (online[p.jid.slice(0, slash)] ??= []).push({ resource: p.jid.slice(slash + 1), ...(p.show ? { show: p.show } : {}) });
        }
        base.online = online;
      }
      if (!local?.folder) {
        rows.push({ ...base, status: "not accepted on this device", pendingUp: 0, pendingDown: 0, conflicts: 0, readOnlyLocalChanges: 0, notSynced: [], waiting: [], paused: [] });
        continue;
      }
      d.state.putSpace(s);
      const st = await inspectSpace({ state: d.state, remote: d.remote, fs: new RealFs(local.folder), space: d.state.space(s.id)!, replica: d.config.replica, me, now, schedule });
      rows.push({
        ...base,
        status: st.status,
        ...(st.reason ? { reason: st.reason } : {}),
        pendingUp: st.pendingUp,
        pendingDown: st.pendingDown,
        conflicts: d.state.conflicts(s.id).length,
        readOnlyLocalChanges: st.readOnlySkipped,
        notSynced: st.skipped,
        waiting: (st.queue ?? []).filter((q) => q.timing !== "now").map((q) => rowOf(q, now(), timeZone)),
        paused: d.state.partials(s.id).flatMap((p) => (p.reason !== undefined ? [{ path: p.path, direction: p.direction, done: p.bytes, size: p.size, reason: p.reason }] : [])),
      });
    }
    return rows;
  });
}

export interface ScheduleReport {
  /** schedule.json, and whether it exists (absent: the default policy, everything at once). */
  file: string;
  exists: boolean;
  /** The policy in plain lines (describePolicy). */
  policy: string[];
  /** The schedule's clock when planned (ISO). */
  now: string;
  spaces: Array<{ id: string; name: string; folder: string; status: string; reason?: string; queue: WaitingRow[]; contacts?: ContactRow[] }>;
}

/** A member of a space as the sharing manager describes them (XEP-draft.md § 5.15). */
export interface ContactRow {
  jid: string;
  online: boolean;
  /** Hours online among the `keptHours` the sharing manager keeps. */
  hours: number;
  usual?: number[];
  sessionS?: number;
  /** ISO. */
  lastSeen?: string;
  upBps?: number;
  downBps?: number;
}

function contactRow(c: Contact): ContactRow {
  const { jid, online, hours, usual, sessionS, lastSeenMs, upBps, downBps } = c;
  return {
    jid, online, hours,
    ...(usual ? { usual: [...usual] } : {}),
    ...(sessionS !== undefined ? { sessionS } : {}),
    ...(lastSeenMs !== undefined ? { lastSeen: new Date(lastSeenMs).toISOString() } : {}),
    ...(upBps !== undefined ? { upBps } : {}),
    ...(downBps !== undefined ? { downBps } : {}),
  };
}

/** A member for people: "bob@example.org: offline, last seen 2026-11-25T20:41:00.000Z, online 3 h of the kept, sessions ~4 min, usually 18-20h UTC". */
export function describeContact(c: ContactRow): string {
  const parts = [c.online ? "online now" : "offline"];
  if (!c.online && c.lastSeen) parts.push(`last seen ${c.lastSeen}`);
  parts.push(`online in ${c.hours} h of the last 28 days`);
  if (c.sessionS !== undefined) parts.push(`sessions ~${c.sessionS < 60 ? `${c.sessionS} s` : `${Math.round(c.sessionS / 60)} min`}`);
  if (c.usual?.length) parts.push(`usually at ${c.usual.map((h) => `${String(h).padStart(2, "0")}h`).join(" ")} UTC`);
  if (c.upBps !== undefined) parts.push(`sends ${formatBytes(c.upBps)}/s`);
  if (c.downBps !== undefined) parts.push(`receives ${formatBytes(c.downBps)}/s`);
  return `${c.jid}: ${parts.join(", ")}`;
}

/**
 * `xshare schedule`: per space set up here, every transfer a sync would make now (what the
 * status command counts as pending), in the order it would make them, why, and when: the same
 * plan the engine makes (engine/schedule.ts), on the same clock (XSHARE_CLOCK_OFFSET_MS).
 */
export async function schedule(home: Home, opts: { space?: string }): Promise<ScheduleReport> {
  const { inspectSpace } = await import("./engine/sync.ts");
  const { describePolicy } = await import("./schedule/policy.ts");
  const now = clockFromEnv();
  const stored = await loadStoredPolicy(home);
  const policy = stored ?? DEFAULT_POLICY;
  const engine = scheduleOf(policy, now)!;
  const timeZone = policy.timezone ?? systemTimeZone();
  return withDevice(home, async (d) => {
    const me = parseBareJid(d.config.jid);
    const remoteList = await d.remote.spaces();
    for (const s of remoteList) if (d.state.space(s.id)) d.state.putSpace(s);
    const local = d.state.spaces().filter((s) => s.folder && remoteList.some((r) => r.id === s.id));
    if (opts.space && !local.some((s) => s.id === opts.space)) throw new UsageError(`space ${opts.space} is not set up on this device (see \`xshare spaces\`)`);
    const spaces: ScheduleReport["spaces"] = [];
    for (const space of local.filter((s) => !opts.space || s.id === opts.space)) {
      const st = await inspectSpace({ state: d.state, remote: d.remote, fs: new RealFs(space.folder!), space, replica: d.config.replica, me, now, schedule: engine });
      spaces.push({
        id: space.id, name: space.name, folder: space.folder!, status: st.status, ...(st.reason ? { reason: st.reason } : {}),
        queue: (st.queue ?? []).map((q) => rowOf(q, now(), timeZone)),
        ...(st.contacts ? { contacts: st.contacts.map(contactRow) } : {}),
      });
    }
    return { file: policyFile(home), exists: stored !== undefined, policy: describePolicy(policy), now: new Date(now()).toISOString(), spaces };
  });
}

/** A transfer of the plan for people: "receive movie.mov (12 MB): low priority (*.mov), waits for …". */
export function describeQueued(r: WaitingRow): string {
  const what = `${r.direction === "up" ? "send" : "receive"} ${r.path} (${formatBytes(r.size)})`;
  const paused = r.paused ? `; paused at ${formatBytes(r.paused.bytes)} (${r.paused.reason}), resumes from there` : "";
  if (r.timing === "now") return `${what}: now, ${r.reason}${paused}`;
  return `${what}: ${r.priority} priority, ${r.timing === "held" ? `held (${r.reason})` : r.reason}${paused}`;
}
