// xmpp-share as bench/compare.bench.ts runs it: Prosody (Debian's, the deployment's config), the
// sharing manager process and two devices, alice (A) and bob (B), each with `xshare run` (the
// daemon, with the CLI's default options: --delay 100, --keepalive 60), all through
// tests/harness/cast.ts, plus a byte-counting proxy (bench/harness/counting-proxy.ts, its own
// process) on every path a client talks over:
//
//   alice ── xmpp://127.0.0.1:<proxy xmpp-alice> ──┐
//   bob   ── xmpp://127.0.0.1:<proxy xmpp-bob>   ──┴─ Prosody c2s
//   alice, bob ── http://127.0.0.1:<proxy http>/ ─── component HTTP (XSHARE_HTTP_LISTEN 127.0.0.1:<port>)
//
// The component is started with XSHARE_PUBLIC_URL = the proxy's URL, so the session and slot
// URLs it hands out lead through the proxy; the devices, first logged in by startCast directly,
// log in again (same JID, device and replica) with --service pointing at their XMPP proxy.
// With { proxy: false } there is none: the devices talk to Prosody and the component directly,
// counts() stays at zero and quiet() just waits (to see what the proxy costs).
//
// Layout under `root`: <root>/alice, <root>/bob (device homes, startCast's), <root>/alice/<label>
// and <root>/bob/<label> (the folders of the spaces made by open()). Prosody's and the
// component's data go to os.tmpdir(): the caller points TMPDIR into its own directory.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { type Cast, castPassword, startCast, syncLines } from "../../tests/harness/cast.ts";
import { ok } from "../../tests/harness/cli.ts";
import { shebangFlags } from "../../tests/harness/node-flags.ts";
import { REPO_ROOT } from "../../tests/harness/prosody.ts";
import { type CountingProxy, type ProxyCounts, startCountingProxy } from "./counting-proxy.ts";
import { hasContent } from "./data.ts";
import { freePorts } from "./syncthing.ts";

export type Who = "alice" | "bob";

export interface SpacePair {
  space: string;
  /** Alice's folder (the sender's). */
  a: string;
  /** Bob's folder. */
  b: string;
  /** Both leave the space; both folders are removed. */
  close(): Promise<void>;
}

export interface TimedCli {
  /** Wall time from spawning the command to its exit (node start, code load, login, work, close). */
  ms: number;
  /** Peak RSS of the node process (GNU time's %M), KiB. */
  peakKiB: number;
  stdout: string;
  stderr: string;
}

export interface XshareSide {
  readonly cast: Cast;
  /** undefined with { proxy: false }. */
  readonly proxy: CountingProxy | undefined;
  readonly root: string;
  /** Arguments of every `xshare run` ([]: the CLI's defaults). */
  readonly daemonArgs: readonly string[];
  readonly ports: { http: number; httpProxy: number; xmppAlice: number; xmppBob: number; c2s: number };
  /** A new pair space: alice shares <root>/alice/<label>, bob accepts it into <root>/bob/<label>; resolves once a probe file made it across. */
  open(label: string, timeoutMs?: number): Promise<SpacePair>;
  /** alice shares `folder` with bob, who does not accept it; resolves the space id. */
  shareOnly(folder: string): Promise<string>;
  leave(who: Who, space: string): Promise<void>;
  online(who: Who): Promise<void>;
  offline(who: Who): Promise<void>;
  isOnline(who: Who): boolean;
  /** Everything the device's current daemon printed (undefined when offline). */
  daemonOutput(who: Who): string | undefined;
  /** Sync sessions the daemon reported for `space` in its output since character `from`. */
  syncedSince(who: Who, space: string, from: number): ReturnType<typeof syncLines>;
  /** `xshare <args>` for the device, timed and measured (GNU time); throws unless it exits 0. */
  timedCli(who: Who, args: string[], timeoutMs?: number): Promise<TimedCli>;
  /** pids of the processes that make up xmpp-share right now (undefined when not running). */
  pids(): Record<string, number | undefined>;
  /** Byte counts of the proxy so far. */
  counts(): Promise<ProxyCounts>;
  /** Waits until nothing crossed the proxy for `quietMs`; resolves false if that did not happen within `maxMs`. */
  quiet(quietMs?: number, maxMs?: number): Promise<boolean>;
  /** The pid of the `xshare` node process running a timedCli() now, if any. */
  cliPid(): number | undefined;
  /** Stops every process it started (daemons, component, Prosody, proxy). Safe to call twice. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function pollUntil(check: () => boolean, timeoutMs: number, what: string, pollMs = 5): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** The node process under GNU time (its only child), once it exists. */
function childOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const c = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0];
    return c ? Number(c) : undefined;
  } catch {
    return undefined;
  }
}

export async function startXshareSide(root: string, o: { proxy?: boolean } = {}): Promise<XshareSide> {
  mkdirSync(root, { recursive: true });
  const proxy = o.proxy === false ? undefined : await startCountingProxy();
  let cast: Cast | undefined;
  const cliChildren = new Set<ChildProcess>();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of cliChildren) c.kill("SIGKILL");
    await cast?.close().catch(() => undefined);
    await proxy?.close();
  };
  try {
    const [http] = (await freePorts(1)) as [number];
    const httpProxy = proxy ? await proxy.listen("http", http) : 0;
    const daemonArgs: string[] = [];
    cast = await startCast(["alice", "bob"], {
      root,
      daemonArgs,
      componentEnv: { XSHARE_LOG_LEVEL: "info", XSHARE_HTTP_LISTEN: `127.0.0.1:${http}`, ...(proxy ? { XSHARE_PUBLIC_URL: `http://127.0.0.1:${httpProxy}/` } : {}) },
    });
    const c = cast;
    const c2s = c.prosody.c2sPort;
    const xmppAlice = proxy ? await proxy.listen("xmpp-alice", c2s) : 0;
    const xmppBob = proxy ? await proxy.listen("xmpp-bob", c2s) : 0;
    for (const [who, port] of proxy ? ([["alice", xmppAlice], ["bob", xmppBob]] as const) : []) {
      // Same JID and device as startCast's login: the same replica, now through the proxy.
      await ok(c.home(who), ["login", c.jid(who), "--password-stdin", "--service", `xmpp://127.0.0.1:${port}`, "--device", `${who}-pc`], { input: `${castPassword(who)}\n` });
      const cfg = JSON.parse(readFileSync(join(c.home(who), "config.json"), "utf8")) as { service?: string };
      if (cfg.service !== `xmpp://127.0.0.1:${port}`) throw new Error(`${who}'s device is not configured for the proxy: ${JSON.stringify(cfg.service)}`);
    }
    let cliChild: ChildProcess | undefined;
    const owners = () => {
      const o: Record<string, number> = {};
      for (const who of ["alice", "bob"] as const) {
        const pid = c.daemon(who)?.pid;
        if (pid) o[who] = pid;
      }
      return proxy?.setOwners(o);
    };
    const online = async (who: Who) => {
      await c.online(who);
      await owners();
    };
    await online("alice");
    await online("bob");

    const leave = async (who: Who, space: string) => {
      await c.run(who, ["leave", space]);
    };
    const side: XshareSide = {
      cast: c,
      proxy,
      root,
      daemonArgs,
      ports: { http, httpProxy, xmppAlice, xmppBob, c2s },
      open: async (label, timeoutMs = 120_000) => {
        const a = join(root, "alice", label);
        const b = join(root, "bob", label);
        mkdirSync(a, { recursive: true });
        const space = (await c.run("alice", ["share", a, "--with", c.jid("bob")])).trim();
        await c.run("bob", ["accept", space, b]);
        const probe = randomBytes(64);
        writeFileSync(join(a, "probe.bin"), probe);
        await pollUntil(() => hasContent(join(b, "probe.bin"), probe), timeoutMs, `the probe file of space ${label} on bob's side`, 20);
        return {
          space,
          a,
          b,
          close: async () => {
            await leave("bob", space).catch(() => undefined);
            await leave("alice", space).catch(() => undefined);
            rmSync(a, { recursive: true, force: true });
            rmSync(b, { recursive: true, force: true });
          },
        };
      },
      shareOnly: async (folder) => (await c.run("alice", ["share", folder, "--with", c.jid("bob")])).trim(),
      leave,
      online,
      offline: async (who) => {
        await c.offline(who);
        await owners();
      },
      isOnline: (who) => c.daemon(who) !== undefined,
      daemonOutput: (who) => c.daemon(who)?.output(),
      syncedSince: (who, space, from) => syncLines((c.daemon(who)?.output() ?? "").slice(from), space),
      timedCli: (who, args, timeoutMs = 3_600_000) =>
        new Promise<TimedCli>((resolve, reject) => {
          const home = c.home(who);
          const t0 = performance.now();
          const child = spawn("/usr/bin/time", ["-f", "XBENCH-TIME %M", process.execPath, ...shebangFlags("bin/xshare.js"), join(REPO_ROOT, "bin/xshare.js"), "--home", home, ...args], {
            cwd: REPO_ROOT,
            env: { PATH: process.env.PATH ?? "", HOME: home },
            stdio: ["ignore", "pipe", "pipe"],
          });
          cliChild = child;
          cliChildren.add(child);
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
          child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
          const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
          child.on("error", reject);
          child.on("exit", (code, signal) => {
            const ms = performance.now() - t0;
            clearTimeout(timer);
            cliChildren.delete(child);
            if (cliChild === child) cliChild = undefined;
            const m = /XBENCH-TIME (\d+)\s*$/.exec(stderr);
            const err = m ? stderr.slice(0, m.index) : stderr;
            if (code !== 0) return reject(new Error(`xshare ${args.join(" ")} exited ${code ?? signal}\nstdout: ${stdout.slice(-2000)}\nstderr: ${err.slice(-2000)}`));
            resolve({ ms, peakKiB: m ? Number(m[1]) : Number.NaN, stdout, stderr: err });
          });
        }),
      pids: () => {
        let prosody: number | undefined;
        try {
          prosody = Number(readFileSync(join(dirname(c.prosody.logFile), "prosody.pid"), "utf8").trim()) || undefined;
        } catch {
          prosody = undefined;
        }
        return {
          "xshare daemon A": c.daemon("alice")?.pid,
          "xshare daemon B": c.daemon("bob")?.pid,
          component: c.component.pid(),
          Prosody: prosody,
        };
      },
      counts: async () => proxy?.counts() ?? { listeners: {}, idleMs: Number.POSITIVE_INFINITY, total: { up: 0, down: 0 } },
      quiet: async (quietMs = 2_000, maxMs = 30_000) => {
        if (!proxy) {
          await sleep(quietMs);
          return true;
        }
        const t0 = performance.now();
        for (;;) {
          const { idleMs } = await proxy.counts();
          if (idleMs >= quietMs) return true;
          if (performance.now() - t0 > maxMs) return false;
          await sleep(Math.min(250, Math.max(20, quietMs - idleMs)));
        }
      },
      cliPid: () => childOf(cliChild?.pid),
      stop,
    };
    return side;
  } catch (err) {
    await stop();
    throw err;
  }
}
