// Two real Syncthing instances (Debian's package, /usr/bin/syncthing, 1.19) on loopback only,
// sharing one folder, for benchmarks side by side with xshare. Nothing here touches
// ~/.config/syncthing, the well-known ports (8384, 22000, 21027) or the network: every instance
// gets its own home under `root`, a GUI/REST API on 127.0.0.1:<free port> with a random API key,
// a sync listener on tcp://127.0.0.1:<free port>, and discovery, relays, NAT/UPnP, STUN, usage
// reporting, crash reporting and upgrades off. The peer is reached only at its explicit address.
//
// Layout under `root` (the caller owns `root`; stop() leaves it in place):
//   <root>/a/home     config.xml, keys, database, syncthing.log   (same for b)
//   <root>/a/folder   the shared folder (FOLDER_ID, "bench"), with Syncthing's .stfolder marker
//
// Processes: `syncthing serve --no-restart` with STMONITORED=yes. Syncthing 1.19's `serve` always
// starts a monitor process that re-execs syncthing as its child (--no-restart only stops it from
// restarting that child); STMONITORED, which the monitor sets for its child, skips the monitor,
// so the pid we spawn is the one that syncs (checked at start: realPid() would follow a monitor's
// child). Each instance runs in a process group of its own, and every kill goes to the group.
// Invariant: no Syncthing outlives the process that started it. stop() is the normal path; an
// exit or signal handler kills whatever is left, and a small watchdog shell kills the group if
// this process dies without running any handler (SIGKILL).
//
// Usage:
//   const pair = await startSyncthingPair({ root, watcherDelayS: 1 });
//   writeFileSync(join(pair.a.folder, "x"), "hi");
//   await pair.waitUntil(() => existsSync(join(pair.b.folder, "x")), { timeoutMs: 60_000 });
//   await pair.waitInSync();              // REST: a's index matches a's disk, b needs nothing
//   pair.peakRssMB(pair.a); await pair.bytes(pair.a);
//   await pair.stopInstance(pair.b);      // b offline (a keeps running) ...
//   await pair.startInstance(pair.b);     // ... and back: same home, ports and API key
//   await pair.stop();

import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { Element, clone, parse } from "ltx";
import { deadOrZombie, exited, killOnExit, waitExit } from "../../tests/harness/processes.ts";

const execFileP = promisify(execFile);

export const FOLDER_ID = "bench";
const LOOPBACK = "127.0.0.1";
const INSTALL_HINT = "install Debian's syncthing: apt-get install syncthing";
const STOP_GRACE_MS = 10_000;
const START_ATTEMPTS = 3;
/** Syncthing counts a directory (and a symlink) as this many bytes in its folder statistics. */
const SYNTHETIC_DIR_SIZE = 128;

// ---------------------------------------------------------------- types

export interface SyncthingPairOptions {
  /** Directory for both instances' homes and folders (created if missing; not removed by stop()). */
  root: string;
  /** fsWatcherDelayS of the shared folder (default 10, Syncthing's default; documented minimum 1). */
  watcherDelayS?: number;
  /** rescanIntervalS of the shared folder (default 3600, Syncthing's default). */
  rescanIntervalS?: number;
  /**
   * Extra <options> settings, by element name, applied after the loopback-only ones (e.g.
   * { setLowPriority: false }). Do not use it to re-enable discovery, relays or NAT.
   */
  options?: Record<string, string | number | boolean>;
  /** Time for both to start, connect and finish the initial scan (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Keep Syncthing's monitor process, as `syncthing serve` runs for a user (default false: one
   * process each). With it, `pid` and the RSS figures are those of the monitor's child.
   */
  monitor?: boolean;
}

export interface SyncthingInstance {
  name: "a" | "b";
  /** --home: config.xml, cert/key, index database. */
  home: string;
  /** Path of the shared folder FOLDER_ID on this instance. */
  folder: string;
  deviceId: string;
  /** Base URL of the REST API, e.g. http://127.0.0.1:40123 (send `X-API-Key: apiKey`). */
  apiUrl: string;
  apiKey: string;
  /** Port of the sync protocol listener tcp://127.0.0.1:<listenPort>. */
  listenPort: number;
  /** pid of the syncthing process that syncs (no monitor process: --no-restart). */
  pid: number;
  /** Syncthing's stdout/stderr. */
  logFile: string;
  /** GET (or other method with a JSON body) on the REST API; throws on non-2xx. */
  api<T = unknown>(pathAndQuery: string, init?: { method?: string; body?: unknown }): Promise<T>;
}

/** /rest/db/status (the fields used here; Syncthing returns more). */
export interface FolderStatus {
  state: string;
  globalFiles: number;
  globalDirectories: number;
  globalBytes: number;
  localFiles: number;
  localDirectories: number;
  localBytes: number;
  needFiles: number;
  needDirectories: number;
  needDeletes: number;
  needBytes: number;
  needTotalItems: number;
  inSyncFiles: number;
  inSyncBytes: number;
  pullErrors: number;
  sequence: number;
  errors: number;
  [key: string]: unknown;
}

/** /rest/db/completion (as the sender sees the receiver). */
export interface Completion {
  completion: number;
  globalBytes: number;
  needBytes: number;
  globalItems: number;
  needItems: number;
  needDeletes: number;
  remoteState?: string;
  sequence?: number;
}

export interface ConnectionTotals {
  inBytesTotal: number;
  outBytesTotal: number;
}

export interface InSyncReport {
  /** ms from the call to the first poll that met every condition. */
  ms: number;
  sender: FolderStatus;
  receiver: FolderStatus;
  completion: Completion;
  /** What the sender's folder holds on disk (Syncthing's marker and temporaries excluded). */
  disk: DiskCounts;
}

export interface DiskCounts {
  files: number;
  directories: number;
  /** Sum of regular files' sizes. */
  fileBytes: number;
}

export interface WaitOptions {
  timeoutMs?: number;
  /** Poll interval (default 10 ms for waitUntil, 100 ms for waitInSync). */
  pollMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
}

export interface SyncthingPair {
  a: SyncthingInstance;
  b: SyncthingInstance;
  /** The one folder shared at start: FOLDER_ID at a.folder and b.folder. */
  folderId: string;
  /** Polls `check` until it returns true; resolves with the ms it took, rejects on timeout. */
  waitUntil(check: () => boolean | Promise<boolean>, opts?: WaitOptions): Promise<number>;
  /**
   * Waits until `from` (default a) has indexed exactly what is on its disk, and the other
   * instance is idle, needs nothing and has the same global state; judged on the REST API
   * (/rest/db/status on both, /rest/db/completion on the sender for the receiver). Default
   * timeout 10 minutes.
   */
  waitInSync(opts?: WaitOptions & { from?: "a" | "b" }): Promise<InSyncReport>;
  folderStatus(inst: SyncthingInstance): Promise<FolderStatus>;
  /** Peak resident set size (VmHWM) of the instance's process so far, MB (10^6 bytes). */
  peakRssMB(inst: SyncthingInstance): number;
  /** Current resident set size (VmRSS), MB. */
  rssMB(inst: SyncthingInstance): number;
  /** Resets VmHWM to the current RSS (writes 5 to /proc/<pid>/clear_refs); false if refused. */
  resetPeakRss(inst: SyncthingInstance): boolean;
  /** Totals of /rest/system/connections: every byte this instance sent and received so far. */
  bytes(inst: SyncthingInstance): Promise<ConnectionTotals>;
  bytesSent(inst: SyncthingInstance): Promise<number>;
  bytesReceived(inst: SyncthingInstance): Promise<number>;
  /** Last lines of the instance's log. */
  logTail(inst: SyncthingInstance, lines?: number): string;
  /**
   * Stops one instance (SIGTERM, then SIGKILL after 10 s) and waits for it to exit; the other
   * keeps running. While it is stopped, waitUntil no longer fails because it exited, and its REST
   * API (folderStatus, bytes, waitInSync) cannot be used. No-op if it is stopped already.
   */
  stopInstance(inst: SyncthingInstance): Promise<void>;
  /**
   * Starts a stopped instance again, as `syncthing serve` with the same home, database, ports and
   * API key; waits until its REST API and sync listener are up (the running config is checked
   * again, as at start) and, when `waitConnected` (default: whenever the other instance runs),
   * until the two are connected both ways. `inst.pid` is updated. No-op if it is running.
   */
  startInstance(inst: SyncthingInstance, opts?: { timeoutMs?: number; waitConnected?: boolean }): Promise<void>;
  /** False between stopInstance(inst) and startInstance(inst), and after stop(). */
  isRunning(inst: SyncthingInstance): boolean;
  /** Stops both (SIGTERM, then SIGKILL after 10 s) and waits for them to exit. Safe to call twice. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- process bookkeeping

interface Running {
  child: ChildProcess;
  dog: ChildProcess;
  inst: SyncthingInstance;
  /** Watchdog for a monitor's child (not in the monitor's process group), if there is one. */
  workerDog?: ChildProcess;
}
const live = new Set<Running>();

/** SIGKILLs every Syncthing this process started and waits (synchronously, ≤ 2 s) until they are dead. */
export function killAllSyncthingsNow(): void {
  const pids: number[] = [];
  for (const r of live) {
    if (!exited(r.child)) killGroup(r.child, "SIGKILL");
    killWorker(r, "SIGKILL");
    for (const dog of [r.dog, r.workerDog]) {
      try {
        dog?.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    if (r.child.pid) pids.push(r.child.pid);
    if (r.inst.pid !== r.child.pid) pids.push(r.inst.pid);
  }
  live.clear();
  // In an exit handler nothing reaps our children: wait until each is gone or a zombie (a
  // zombie writes nothing more), so that the caller can remove the directories right after.
  const until = Date.now() + 2_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (pids.some((pid) => !deadOrZombie(pid)) && Date.now() < until) Atomics.wait(pause, 0, 0, 10);
}

function installExitHandlers(): void {
  killOnExit(killAllSyncthingsNow);
}

/**
 * Signals the process that syncs when it is not the one we spawned (a monitor's child: the
 * monitor puts it in a process group of its own), if it is still a syncthing.
 */
function killWorker(r: Running, signal: NodeJS.Signals): void {
  if (r.inst.pid === r.child.pid) return;
  try {
    if (!/syncthing/.test(readlinkSync(`/proc/${r.inst.pid}/exe`))) return;
    process.kill(r.inst.pid, signal);
  } catch {
    // gone
  }
}

/** Sends `signal` to the child's process group (the child leads it: spawned detached). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Kills group `pgid` (or process, group = false) if this process disappears without cleaning up (exit handlers do not run on SIGKILL). */
function spawnWatchdog(pgid: number, group = true): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL ${group ? "-" : ""}${pgid} 2>/dev/null`;
  const dog = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  dog.unref();
  return dog;
}

// ---------------------------------------------------------------- helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `n` distinct free loopback ports. (tests/harness/prosody.ts has the same helper, but does not
 * export it.) All servers are open at once, so the ports are distinct.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.unref();
          server.on("error", reject);
          server.listen(0, LOOPBACK, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === "object" && address ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The syncthing binary: $SYNCTHING_BIN, else `syncthing` on PATH; a clear error if there is none. */
export function syncthingBinary(): string {
  const wanted = process.env.SYNCTHING_BIN ?? "syncthing";
  const candidates = wanted.includes("/") ? [wanted] : [...(process.env.PATH ?? "").split(":").filter(Boolean).map((d) => path.join(d, wanted)), `/usr/bin/${wanted}`];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(`syncthing not found (${wanted}${wanted.includes("/") ? "" : " on PATH"}): ${INSTALL_HINT}`);
}

/** `syncthing --version`'s line, e.g. `syncthing v1.19.2-ds1 "Fermium Flea" (go1.19.8 linux-amd64) ...`. */
export async function syncthingVersion(): Promise<string> {
  const { stdout } = await execFileP(syncthingBinary(), ["--version"], { timeout: 10_000 });
  return stdout.trim();
}

/** Environment for every syncthing run: no default home, no monitor, no upgrades, no default folder. */
function syncthingEnv(home: string, monitor = false): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home, // so that nothing can fall back to /root/.config/syncthing
    // In 1.19 `serve` always starts the monitor process, which re-execs syncthing as a child;
    // --no-restart / STNORESTART only stop it from restarting that child. STMONITORED (the
    // hidden flag the monitor sets for its child) makes the process we spawn the one that syncs.
    ...(monitor ? {} : { STMONITORED: "yes" }),
    STNORESTART: "1",
    STNOUPGRADE: "1",
    STNODEFAULTFOLDER: "1",
    ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
  };
}

/** Name of a file Syncthing keeps for itself in a folder (marker, ignores, temporaries). */
export function isSyncthingInternal(name: string): boolean {
  return name === ".stfolder" || name === ".stignore" || name === ".stversions" || /^\.syncthing\..*\.tmp$/.test(name) || /^~syncthing~.*\.tmp$/.test(name);
}

/** Files, directories and file bytes under `dir`, as Syncthing would count them. */
export async function diskCounts(dir: string): Promise<DiskCounts> {
  const out: DiskCounts = { files: 0, directories: 0, fileBytes: 0 };
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    await Promise.all(
      entries.map(async (e) => {
        if (isSyncthingInternal(e.name)) return;
        const p = path.join(d, e.name);
        if (e.isDirectory()) {
          out.directories++;
          await walk(p);
        } else if (e.isFile()) {
          const { size } = await lstat(p); // not `+= (await …)`: that would read the sum before the await
          out.files++;
          out.fileBytes += size;
        } else if (e.isSymbolicLink()) {
          out.directories++; // counted like a directory by size; rare in benchmarks
        }
      }),
    );
  };
  await walk(dir);
  return out;
}

function procStatusKiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * The pid that does the work: `pid` itself, unless it is Syncthing's monitor, whose child is the
 * same executable (without STMONITORED, `syncthing serve` re-execs itself under a monitor).
 */
export function realPid(pid: number): number {
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return pid;
  }
  // Any thread may have forked the child: look at every task's children.
  const children: string[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        children.push(...readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean));
      } catch {
        // thread gone
      }
    }
  } catch {
    return pid;
  }
  for (const c of children) {
    try {
      if (readlinkSync(`/proc/${c}/exe`) === exe) return realPid(Number(c));
    } catch {
      // gone
    }
  }
  return pid;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "(no log)";
  }
}

class PortInUse extends Error {}

// ---------------------------------------------------------------- config

interface Plan {
  name: "a" | "b";
  home: string;
  folder: string;
  guiPort: number;
  listenPort: number;
  apiKey: string;
  deviceId: string;
}

function child(parent: Element, name: string): Element {
  const el = parent.getChild(name);
  if (!el) throw new Error(`config.xml: no <${name}> in <${parent.name}>`);
  return el;
}

/** Sets the text of <parent><name>, creating the element if Syncthing did not write it. */
function setText(parent: Element, name: string, value: string | number | boolean): void {
  const [target, ...extra] = parent.getChildren(name);
  if (target) target.children = [String(value)];
  else parent.children.push("    ", new Element(name).t(String(value)), "\n    ");
  for (const e of extra) parent.remove(e);
}

function removeChildren(parent: Element, name: string): void {
  parent.children = parent.children.filter((c) => typeof c === "string" || c.name !== name);
}

/**
 * Rewrites the config.xml that `syncthing generate` wrote: loopback only, no default folder,
 * the peer device at its explicit address, and the shared folder (made from the config's own
 * <defaults> templates, so that every folder setting not named here keeps Syncthing's default).
 */
function rewriteConfig(xml: string, me: Plan, peer: Plan, opts: SyncthingPairOptions): string {
  const root = parse(xml) as Element;
  if (root.name !== "configuration") throw new Error(`config.xml: root is <${root.name}>`);

  const gui = child(root, "gui");
  gui.attrs.enabled = "true";
  gui.attrs.tls = "false";
  setText(gui, "address", `${LOOPBACK}:${me.guiPort}`);
  setText(gui, "apikey", me.apiKey);

  const options = child(root, "options");
  const settings: Record<string, string | number | boolean> = {
    listenAddress: `tcp://${LOOPBACK}:${me.listenPort}`,
    globalAnnounceEnabled: false,
    localAnnounceEnabled: false,
    relaysEnabled: false,
    natEnabled: false, // also disables STUN (IsStunDisabled)
    urAccepted: -1,
    autoUpgradeIntervalH: 0,
    crashReportingEnabled: false,
    startBrowser: false,
    announceLANAddresses: false,
    ...opts.options,
  };
  for (const [k, v] of Object.entries(settings)) setText(options, k, v);

  // Devices: me (as generated, named) and the peer at its explicit address.
  const defaults = child(root, "defaults");
  const mine = root.getChildren("device").find((d) => d.attrs.id === me.deviceId);
  if (!mine) throw new Error(`config.xml: no <device id="${me.deviceId}">`);
  mine.attrs.name = me.name;
  removeChildren(root, "device");
  const other = clone(child(defaults, "device")) as Element;
  other.attrs.id = peer.deviceId;
  other.attrs.name = peer.name;
  setText(other, "address", `tcp://${LOOPBACK}:${peer.listenPort}`);

  // Folders: none but ours (in case a default "Sync" folder was generated).
  removeChildren(root, "folder");
  const folder = clone(child(defaults, "folder")) as Element;
  Object.assign(folder.attrs, {
    id: FOLDER_ID,
    label: FOLDER_ID,
    path: me.folder,
    type: "sendreceive",
    rescanIntervalS: String(opts.rescanIntervalS ?? 3600),
    fsWatcherEnabled: "true",
    fsWatcherDelayS: String(opts.watcherDelayS ?? 10),
  });
  removeChildren(folder, "device");
  for (const id of [me.deviceId, peer.deviceId]) {
    const d = new Element("device", { id, introducedBy: "" });
    d.c("encryptionPassword");
    folder.children.unshift("\n            ", d);
  }

  // Order does not matter to Syncthing's decoder; keep folder, devices, gui... readable anyway.
  const rest = root.children;
  root.children = ["\n    ", folder, "\n    ", mine, "\n    ", other, ...rest];
  return root.toString();
}

async function generate(bin: string, plan: Omit<Plan, "deviceId">): Promise<string> {
  await mkdir(plan.home, { recursive: true });
  try {
    await execFileP(bin, ["generate", "--home", plan.home, "--no-default-folder", "--skip-port-probing"], { env: syncthingEnv(plan.home), timeout: 60_000 });
  } catch (err) {
    throw new Error(`syncthing generate --home ${plan.home} failed: ${(err as Error).message}`);
  }
  const xml = await readFile(path.join(plan.home, "config.xml"), "utf8");
  const root = parse(xml) as Element;
  const ids = root.getChildren("device").map((d) => String(d.attrs.id));
  if (ids.length !== 1 || !ids[0]) throw new Error(`syncthing generate: expected one device in ${plan.home}/config.xml, found ${ids.length}`);
  return ids[0];
}

// ---------------------------------------------------------------- REST

function makeApi(apiUrl: string, apiKey: string): SyncthingInstance["api"] {
  return async <T>(pathAndQuery: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
    const res = await fetch(apiUrl + pathAndQuery, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "X-API-Key": apiKey, ...(init.body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${pathAndQuery}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

interface RawConnections {
  total: ConnectionTotals;
  connections: Record<string, { connected: boolean; address: string; type: string } & ConnectionTotals>;
}

// ---------------------------------------------------------------- the pair

export async function startSyncthingPair(opts: SyncthingPairOptions): Promise<SyncthingPair> {
  const bin = syncthingBinary();
  const root = path.resolve(opts.root);
  const homeA = path.join(root, "a", "home");
  if (path.resolve(homeA).startsWith(path.join(process.env.HOME ?? "/root", ".config", "syncthing"))) throw new Error("refusing to use the default Syncthing home");
  installExitHandlers();

  const base = (name: "a" | "b") => ({ name, home: path.join(root, name, "home"), folder: path.join(root, name, "folder") });
  const ids: Record<"a" | "b", string> = {
    a: await generate(bin, { ...base("a"), guiPort: 0, listenPort: 0, apiKey: "" }),
    b: await generate(bin, { ...base("b"), guiPort: 0, listenPort: 0, apiKey: "" }),
  };
  const generated = {
    a: await readFile(path.join(base("a").home, "config.xml"), "utf8"),
    b: await readFile(path.join(base("b").home, "config.xml"), "utf8"),
  };
  for (const name of ["a", "b"] as const) await mkdir(path.join(base(name).folder, ".stfolder"), { recursive: true });

  for (let attempt = 1; ; attempt++) {
    const [guiA, listenA, guiB, listenB] = (await freePorts(4)) as [number, number, number, number];
    const plans: Record<"a" | "b", Plan> = {
      a: { ...base("a"), guiPort: guiA, listenPort: listenA, apiKey: randomBytes(24).toString("base64url"), deviceId: ids.a },
      b: { ...base("b"), guiPort: guiB, listenPort: listenB, apiKey: randomBytes(24).toString("base64url"), deviceId: ids.b },
    };
    await writeFile(path.join(plans.a.home, "config.xml"), rewriteConfig(generated.a, plans.a, plans.b, opts));
    await writeFile(path.join(plans.b.home, "config.xml"), rewriteConfig(generated.b, plans.b, plans.a, opts));
    const running: Running[] = [];
    try {
      // One after the other: b's first dial then finds a listening (when both start at once,
      // both first dials can fail, and Syncthing retries only after 1, 2, 4, 8… s).
      const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
      for (const name of ["a", "b"] as const) {
        const r = launch(bin, plans[name], opts.monitor ?? false);
        running.push(r);
        await waitUp(r, plans, deadline);
      }
      const pair = makePair(running, plans, bin, opts.monitor ?? false);
      await waitConnected(pair, deadline);
      return pair;
    } catch (err) {
      await stopAll(running);
      if (err instanceof PortInUse && attempt < START_ATTEMPTS) continue;
      throw err;
    }
  }
}

/** Spawns `syncthing serve` for `plan`; with `reuse`, that instance object is updated (a restart) instead of a new one made. */
function launch(bin: string, plan: Plan, monitor: boolean, reuse?: SyncthingInstance): Running {
  const logFile = path.join(plan.home, "syncthing.log");
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(bin, ["serve", "--home", plan.home, "--no-browser", "--no-restart", "--no-upgrade", "--no-default-folder", "--skip-port-probing"], {
      stdio: ["ignore", fd, fd],
      env: syncthingEnv(plan.home, monitor),
      detached: true, // own process group: a monitor and its child die together
    });
  } finally {
    closeSync(fd);
  }
  if (!child.pid) throw new Error(`could not start ${bin}: ${INSTALL_HINT}`);
  child.on("error", () => {}); // reported through exit / readiness
  const dog = spawnWatchdog(child.pid);
  const spawnedPid = child.pid;
  if (reuse) reuse.pid = spawnedPid;
  const inst: SyncthingInstance = reuse ?? {
    name: plan.name,
    home: plan.home,
    folder: plan.folder,
    deviceId: plan.deviceId,
    apiUrl: `http://${LOOPBACK}:${plan.guiPort}`,
    apiKey: plan.apiKey,
    listenPort: plan.listenPort,
    pid: spawnedPid,
    logFile,
    api: makeApi(`http://${LOOPBACK}:${plan.guiPort}`, plan.apiKey),
  };
  const r: Running = { child, dog, inst };
  live.add(r); // until stopAll / killAllSyncthingsNow, even if it exits by itself
  return r;
}

async function stopAll(running: Array<Running>): Promise<void> {
  for (const r of running) {
    if (!exited(r.child)) killGroup(r.child, "SIGTERM");
    killWorker(r, "SIGTERM");
  }
  await Promise.all(
    running.map(async (r) => {
      if (!(await waitExit(r.child, STOP_GRACE_MS))) {
        killGroup(r.child, "SIGKILL");
        await waitExit(r.child, STOP_GRACE_MS);
      }
      if (r.inst.pid !== r.child.pid) {
        for (let t = 0; t < STOP_GRACE_MS && !deadOrZombie(r.inst.pid); t += 50) await sleep(50);
        killWorker(r, "SIGKILL");
      }
      for (const dog of [r.dog, r.workerDog]) {
        try {
          dog?.kill("SIGKILL");
        } catch {
          // gone
        }
      }
      live.delete(r);
    }),
  );
}

function failStart(inst: SyncthingInstance, msg: string): never {
  const log = tail(inst.logFile, 30);
  if (/address already in use/i.test(log)) throw new PortInUse(`${inst.name}: ${msg}\n${log}`);
  throw new Error(`syncthing ${inst.name} (${inst.home}): ${msg}\n--- ${inst.logFile}:\n${log}`);
}

/** Waits for the REST API and the sync listener, and checks that the running config is loopback only with our folder only. */
async function waitUp(r: Running, plans: Record<"a" | "b", Plan>, deadline: number): Promise<void> {
  const inst = r.inst;
  const fail = (msg: string): never => failStart(inst, msg);
  for (;;) {
    if (exited(r.child)) fail(`exited (${r.child.exitCode ?? r.child.signalCode}) during start`);
    if (/address already in use/i.test(tail(inst.logFile, 50))) fail("port in use");
    try {
      await inst.api("/rest/system/ping");
      break;
    } catch {
      if (Date.now() > deadline) fail(`REST API at ${inst.apiUrl} not answering`);
      await sleep(50);
    }
  }
  // The process that syncs (there is no monitor with STMONITORED, but check).
  inst.pid = realPid(r.child.pid!);
  if (inst.pid !== r.child.pid) r.workerDog = spawnWatchdog(inst.pid, false);

  // What Syncthing actually runs with: loopback only, our folder only.
  const cfg = await inst.api<{
    options: Record<string, unknown> & { listenAddresses: string[] };
    folders: Array<{ id: string; path: string; fsWatcherEnabled: boolean; fsWatcherDelayS: number; rescanIntervalS: number }>;
    devices: Array<{ deviceID: string; addresses: string[] }>;
    gui: { address: string };
  }>("/rest/config");
  const o = cfg.options;
  const problems: string[] = [];
  const expect = (what: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  const plan = plans[inst.name];
  expect("listenAddresses", o.listenAddresses, [`tcp://${LOOPBACK}:${plan.listenPort}`]);
  for (const k of ["globalAnnounceEnabled", "localAnnounceEnabled", "relaysEnabled", "natEnabled", "crashReportingEnabled", "startBrowser"]) expect(k, o[k], false);
  expect("urAccepted", o.urAccepted, -1);
  expect("autoUpgradeIntervalH", o.autoUpgradeIntervalH, 0);
  expect("gui.address", cfg.gui.address, `${LOOPBACK}:${plan.guiPort}`);
  expect("folders", cfg.folders.map((f) => [f.id, f.path, f.fsWatcherEnabled]), [[FOLDER_ID, plan.folder, true]]);
  const peer = plans[inst.name === "a" ? "b" : "a"];
  expect("peer addresses", cfg.devices.find((d) => d.deviceID === peer.deviceId)?.addresses, [`tcp://${LOOPBACK}:${peer.listenPort}`]);
  if (problems.length) fail(`running config is not what was written:\n  ${problems.join("\n  ")}`);

  // The sync listener is up (it starts just before the GUI; wait for it anyway).
  const listen = `tcp://${LOOPBACK}:${plan.listenPort}`;
  for (;;) {
    const status = await inst.api<{ connectionServiceStatus?: Record<string, { error: string | null }> }>("/rest/system/status");
    const st = status.connectionServiceStatus?.[listen];
    if (st?.error) {
      if (/address already in use/i.test(st.error)) throw new PortInUse(`${inst.name}: ${listen}: ${st.error}`);
      fail(`listener ${listen}: ${st.error}`);
    }
    if (st) break;
    if (Date.now() > deadline) fail(`listener ${listen} not started`);
    await sleep(50);
  }
}

/** Waits until a and b are connected both ways and the (empty) folder is in sync. */
async function waitConnected(pair: SyncthingPair & { _running: Running[] }, deadline: number): Promise<void> {
  const fail = failStart;
  // Connected both ways.
  for (;;) {
    const [ca, cb] = await Promise.all([pair.a.api<RawConnections>("/rest/system/connections"), pair.b.api<RawConnections>("/rest/system/connections")]);
    if (ca.connections[pair.b.deviceId]?.connected && cb.connections[pair.a.deviceId]?.connected) break;
    for (const r of pair._running) if (exited(r.child)) fail(r.inst, "exited while connecting");
    if (Date.now() > deadline) fail(pair.a, `a and b did not connect in time: ${JSON.stringify({ a: ca.connections, b: cb.connections })}`);
    await sleep(100);
  }
  await pair.waitInSync({ timeoutMs: Math.max(1_000, deadline - Date.now()), what: "initial scan of the empty folder" });
}

function makePair(running: Running[], plans: Record<"a" | "b", Plan>, bin: string, monitor: boolean): SyncthingPair & { _running: typeof running } {
  const [ra, rb] = running as [Running, Running];
  const a = ra.inst;
  const b = rb.inst;
  let stopped = false;
  /** Instances stopped on purpose (stopInstance): their exit is no failure. */
  const down = new Set<"a" | "b">();
  const indexOf = (inst: SyncthingInstance): number => {
    const i = running.findIndex((r) => r.inst.name === inst.name);
    if (i < 0) throw new Error(`not an instance of this pair: ${inst.name}`);
    return i;
  };

  const waitUntil: SyncthingPair["waitUntil"] = async (check, wo = {}) => {
    const timeoutMs = wo.timeoutMs ?? 600_000;
    const pollMs = wo.pollMs ?? 10;
    const t0 = performance.now();
    for (;;) {
      if (await check()) return performance.now() - t0;
      for (const r of running) if (exited(r.child) && !down.has(r.inst.name)) throw new Error(`syncthing ${r.inst.name} exited while waiting for ${wo.what ?? "a condition"}\n${tail(r.inst.logFile, 30)}`);
      if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${wo.what ?? "a condition"}`);
      await sleep(pollMs);
    }
  };

  const folderStatus = (inst: SyncthingInstance) => inst.api<FolderStatus>(`/rest/db/status?folder=${encodeURIComponent(FOLDER_ID)}`);

  const waitInSync: SyncthingPair["waitInSync"] = async (wo = {}) => {
    const sender = wo.from === "b" ? b : a;
    const receiver = sender === a ? b : a;
    let last: { s?: FolderStatus; r?: FolderStatus; c?: Completion; disk?: DiskCounts } = {};
    const t0 = performance.now();
    try {
      await waitUntil(
        async () => {
          const [s, r, c] = await Promise.all([
            folderStatus(sender),
            folderStatus(receiver),
            sender.api<Completion>(`/rest/db/completion?folder=${encodeURIComponent(FOLDER_ID)}&device=${receiver.deviceId}`),
          ]);
          last = { ...last, s, r, c };
          const restOk =
            s.state === "idle" &&
            r.state === "idle" &&
            s.needTotalItems === 0 &&
            s.localFiles === s.globalFiles &&
            s.localDirectories === s.globalDirectories &&
            s.localBytes === s.globalBytes &&
            r.needTotalItems === 0 &&
            r.needBytes === 0 &&
            r.globalFiles === s.globalFiles &&
            r.globalDirectories === s.globalDirectories &&
            r.globalBytes === s.globalBytes &&
            r.localFiles === r.globalFiles &&
            r.localBytes === r.globalBytes &&
            c.completion === 100 &&
            c.needBytes === 0 &&
            c.needItems === 0 &&
            c.needDeletes === 0;
          if (!restOk) return false;
          // Only now walk the disk (cheap enough once, not every 100 ms for 10,000 files).
          const disk = await diskCounts(sender.folder);
          last.disk = disk;
          return s.localFiles === disk.files && s.localDirectories === disk.directories && s.localBytes === disk.fileBytes + SYNTHETIC_DIR_SIZE * disk.directories;
        },
        { timeoutMs: wo.timeoutMs ?? 600_000, pollMs: wo.pollMs ?? 100, what: `${wo.what ?? "folder in sync"} (${sender.name} → ${receiver.name})` },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlast seen: ${JSON.stringify(
        {
          sender: last.s && pick(last.s),
          receiver: last.r && pick(last.r),
          completion: last.c,
          disk: last.disk,
        },
        null,
        1,
      )}`);
    }
    return { ms: performance.now() - t0, sender: last.s!, receiver: last.r!, completion: last.c!, disk: last.disk! };
  };

  const bytes = async (inst: SyncthingInstance): Promise<ConnectionTotals> => {
    const c = await inst.api<RawConnections>("/rest/system/connections");
    return { inBytesTotal: c.total.inBytesTotal, outBytesTotal: c.total.outBytesTotal };
  };

  return {
    _running: running,
    a,
    b,
    folderId: FOLDER_ID,
    waitUntil,
    waitInSync,
    folderStatus,
    peakRssMB: (inst) => (procStatusKiB(inst.pid, "VmHWM") * 1024) / 1e6,
    rssMB: (inst) => (procStatusKiB(inst.pid, "VmRSS") * 1024) / 1e6,
    resetPeakRss: (inst) => {
      try {
        writeFileSync(`/proc/${inst.pid}/clear_refs`, "5");
        return true;
      } catch {
        return false;
      }
    },
    bytes,
    bytesSent: async (inst) => (await bytes(inst)).outBytesTotal,
    bytesReceived: async (inst) => (await bytes(inst)).inBytesTotal,
    logTail: (inst, lines = 40) => tail(inst.logFile, lines),
    stopInstance: async (inst) => {
      const r = running[indexOf(inst)]!;
      if (down.has(inst.name)) return;
      down.add(inst.name);
      await stopAll([r]);
    },
    startInstance: async (inst, so = {}) => {
      if (stopped) throw new Error("startInstance after stop()");
      const i = indexOf(inst);
      if (!down.has(inst.name)) return;
      const deadline = Date.now() + (so.timeoutMs ?? 60_000);
      const r = launch(bin, plans[inst.name], monitor, inst);
      running[i] = r;
      try {
        await waitUp(r, plans, deadline);
      } catch (err) {
        await stopAll([r]);
        throw err;
      }
      down.delete(inst.name);
      const other = running[1 - i]!;
      if (so.waitConnected ?? !down.has(other.inst.name)) {
        for (;;) {
          const [ci, co] = await Promise.all([inst.api<RawConnections>("/rest/system/connections"), other.inst.api<RawConnections>("/rest/system/connections")]);
          if (ci.connections[other.inst.deviceId]?.connected && co.connections[inst.deviceId]?.connected) break;
          if (exited(r.child)) failStart(inst, "exited while connecting");
          if (Date.now() > deadline) failStart(inst, `did not connect to ${other.inst.name} in time`);
          await sleep(100);
        }
      }
    },
    isRunning: (inst) => !stopped && !down.has(inst.name) && !exited(running[indexOf(inst)]!.child),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopAll(running);
    },
  };
}

function pick(s: FolderStatus): Partial<FolderStatus> {
  const keys = ["state", "globalFiles", "globalDirectories", "globalBytes", "localFiles", "localDirectories", "localBytes", "needFiles", "needDirectories", "needDeletes", "needBytes", "pullErrors", "errors"] as const;
  return Object.fromEntries(keys.map((k) => [k, s[k]]));
}
