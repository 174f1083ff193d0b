/**
 * xmpp-share and Syncthing side by side, on this machine, in one run (issue 8): `npm run bench`.
 *
 * It starts everything on loopback: Prosody (Debian's, the deployment's docker/prosody config),
 * the sharing manager and two xshare devices each running `xshare run` (bench/harness/xshare-side.ts;
 * for scenario 4 alone, a stack of its own with a byte-counting proxy on every client connection,
 * since the proxy costs CPU that Syncthing's own counters do not), and, per scenario, a pair of Syncthing
 * instances (bench/harness/syncthing.ts: own homes and API keys, loopback only, no discovery,
 * relays or usage reporting, setLowPriority off) for each watcher delay it is run with. Each
 * scenario runs on every system in turn, xmpp-share then Syncthing, round after round
 * (A B A B ...), and the table shows medians over the rounds and the ratio xmpp-share / Syncthing.
 * Before that it measures this machine's limits (bench/harness/machine.ts) and, for scenarios
 * 2–4, prints the floor they imply and each time as a multiple of it; and the runtime's memory
 * floor (node alone, and with xshare's or the sharing manager's code loaded, idle), printed
 * under the memory tables.
 *
 * Scenarios (what is timed: see SCENARIOS below, also printed): 1 latency of a small change,
 * 2 first sync of many small files, 3 one big file, 4 1-byte overwrite and insertion in a large
 * file (time and bytes on the wire), 5 rescan of many unchanged files, 6 peak memory (VmHWM) of
 * every process in every scenario, 7 receiver offline while the sender changes, sender offline
 * before the receiver returns.
 *
 * Everything lives in .tmp/bench-<pid>/ (TMPDIR points there too, so Prosody's and the
 * component's temporary directories are inside), removed at the end, also on failure and Ctrl-C;
 * every child process is stopped. The JSON report goes to .tmp/bench-report-<date>.json (outside that
 * directory) or --json.
 * MB = 10^6 bytes, MiB = 2^20. Exit code 1 if any measurement failed.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { shebangFlags } from "../tests/harness/node-flags.ts";
import { prosodyVersion } from "../tests/harness/prosody-check.ts";
import { REPO_ROOT } from "../tests/harness/prosody.ts";
import type { ProxyCounts } from "./harness/counting-proxy.ts";
import {
  MiB,
  countFiles,
  fileHash,
  hasContent,
  hashAfterEdit,
  insertByte,
  kibToMB,
  makeRandomFile,
  makeSmallFiles,
  overwriteByte,
  procKiB,
  resetPeak,
  sameTree,
  sizeOf,
  statKey,
} from "./harness/data.ts";
import { type Limits, type MachineInfo, type MemoryFloor, machineInfo, measureLimits, memoryFloor } from "./harness/machine.ts";
import { type FolderStatus, type SyncthingInstance, type SyncthingPair, killAllSyncthingsNow, startSyncthingPair, syncthingVersion } from "./harness/syncthing.ts";
import { type XshareSide, startXshareSide } from "./harness/xshare-side.ts";
import { deadOrZombie } from "../tests/harness/processes.ts";

// ------------------------------------------------------------------ options

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
  return n;
};

const DEFAULTS = { rounds: 3, files: 10_000, bigMib: 1024, editMib: 256, rescanFiles: 100_000, latencyReps: 5, offlineWaitS: 60, probeMib: 1024, probeFiles: 2000 };
const QUICK = { rounds: 1, files: 500, bigMib: 64, editMib: 32, rescanFiles: 3_000, latencyReps: 2, offlineWaitS: 5, probeMib: 128, probeFiles: 300 };

const program = new Command("npm run bench --")
  .description(
    "xmpp-share and Syncthing side by side on this machine: the same workloads on both, on loopback, in one run. " +
      "Starts Prosody, the sharing manager, two `xshare run` devices and pairs of Syncthing instances, runs each " +
      "scenario on both systems in turn (A B A B ...), and prints medians, ratios xmpp-share/Syncthing, this " +
      "machine's limits and what they imply, peak memory of every process, and a JSON report.",
  )
  .option("--scenarios <list>", "scenarios to run, comma separated (see below)", "1,2,3,4,5,6,7")
  .option("--rounds <n>", `rounds per scenario (default ${DEFAULTS.rounds}; --quick ${QUICK.rounds})`, int(1))
  .option("--quick", "smoke run: small sizes, 1 round (under 3 minutes); explicit size options still apply")
  .option("--files <n>", `scenario 2: small files (default ${DEFAULTS.files}; --quick ${QUICK.files})`, int(1))
  .option("--big-mib <n>", `scenario 3: size of the big file, MiB (default ${DEFAULTS.bigMib}; --quick ${QUICK.bigMib})`, int(1))
  .option("--edit-mib <n>", `scenario 4: size of the edited file, MiB (default ${DEFAULTS.editMib}; --quick ${QUICK.editMib})`, int(1))
  .option("--rescan-files <n>", `scenario 5: unchanged files rescanned (default ${DEFAULTS.rescanFiles}; --quick ${QUICK.rescanFiles})`, int(1))
  .option("--latency-reps <n>", `scenario 1: changes per round (default ${DEFAULTS.latencyReps}; --quick ${QUICK.latencyReps})`, int(1))
  .option("--offline-wait-s <n>", `scenario 7: how long to wait for a file that cannot arrive, s (default ${DEFAULTS.offlineWaitS}; --quick ${QUICK.offlineWaitS})`, int(1))
  .option("--syncthing-10s", "also run scenarios 2-7 with Syncthing's default watcher delay (10 s); scenario 1 always runs with 1 s and 10 s")
  .option("--probe-mib <n>", `machine limits: MiB hashed, sent over loopback and written (default ${DEFAULTS.probeMib}; --quick ${QUICK.probeMib})`, int(1))
  .option("--timeout-s <n>", "longest wait for any one step, s", int(1), 900)
  .option("--no-proxy", "scenario 4 without the byte-counting proxy too (the other scenarios never use it): shows what the proxy costs; scenario 4's bytes are then not counted for xmpp-share")
  .option("--json <file>", "write the JSON report here (default .tmp/bench-report-<date>.json)")
  .addHelpText(
    "after",
    `
Scenarios:
  1  latency of a small change, both peers online: a new 100-byte file written on A, time until B's
     folder has it (polled every 5 ms); --latency-reps per round, the round's figure is their median.
     Syncthing runs with fsWatcherDelayS=1 (documented minimum) and 10 (default).
  2  first sync of --files small files (1-4 KiB random, 100 folders) written on A while both run: time
     from the end of the creation until B has them all (counted every 20 ms); then verified byte for byte.
  3  one --big-mib MiB random file: time from the end of the write until B has it complete (size
     polled every 10 ms); then verified by sha256.
  4  a --edit-mib MiB file synced on both; a 1-byte overwrite in its middle, then a 1-byte insertion in
     its middle: time until B has the new content (stat polled every 10 ms, verified by sha256) and
     bytes on the wire (Syncthing: /rest/system/connections; xmpp-share: a counting proxy in front
     of Prosody and the sharing manager's HTTP server) until both are quiet again.
  5  rescan of --rescan-files unchanged files. Syncthing: POST /rest/db/scan (it returns when the scan
     is done) until the folder is idle. xmpp-share: the daemon stopped, \`xshare sync\` timed from
     spawn to exit (node start, login, index read, scan, nothing to do).
  6  peak memory of every process in each scenario: VmHWM (reset at the start of each scenario) and
     RssAnon (its own heap and stacks, without program file and shared libraries; sampled every 100 ms);
     the tables are printed when 6 is among --scenarios, the figures are always in the JSON report;
     under each, the floor: the same measure of a node process that only loaded the program's code.
  7  the receiver is offline while the sender makes a change, and the sender goes offline before the
     receiver comes back: time from the receiver's start until the file is there, or, for
     Syncthing, 'does not arrive' after --offline-wait-s.

Examples:
  npm run bench                          the full run (about 20-30 minutes on a 2-core VM)
  npm run bench -- --quick               smoke run, under 3 minutes
  npm run bench -- --scenarios 1,4 --rounds 5 --json /tmp/bench.json`,
  );
program.parse(process.argv);
const raw = program.opts<{
  scenarios: string;
  rounds?: number;
  quick?: boolean;
  files?: number;
  bigMib?: number;
  editMib?: number;
  rescanFiles?: number;
  latencyReps?: number;
  offlineWaitS?: number;
  syncthing10s?: boolean;
  probeMib?: number;
  timeoutS: number;
  json?: string;
  proxy: boolean;
}>();
const base = raw.quick ? QUICK : DEFAULTS;
const opts = {
  scenarios: raw.scenarios.split(",").map((s) => Number(s.trim())),
  rounds: raw.rounds ?? base.rounds,
  files: raw.files ?? base.files,
  bigMib: raw.bigMib ?? base.bigMib,
  editMib: raw.editMib ?? base.editMib,
  rescanFiles: raw.rescanFiles ?? base.rescanFiles,
  latencyReps: raw.latencyReps ?? base.latencyReps,
  offlineWaitS: raw.offlineWaitS ?? base.offlineWaitS,
  probeMib: raw.probeMib ?? base.probeMib,
  probeFiles: base.probeFiles,
  syncthing10s: raw.syncthing10s ?? false,
  timeoutMs: raw.timeoutS * 1000,
  quick: raw.quick ?? false,
  proxy: raw.proxy,
};
for (const s of opts.scenarios) if (![1, 2, 3, 4, 5, 6, 7].includes(s)) program.error(`--scenarios: no scenario ${s} (1-7)`);
const startedAt = new Date();
const jsonFile = resolve(raw.json ?? join(REPO_ROOT, ".tmp", `bench-report-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`));

// ------------------------------------------------------------------ where, and cleanup

const root = join(REPO_ROOT, ".tmp", `bench-${process.pid}`);
mkdirSync(join(root, "tmp"), { recursive: true });
// Prosody's and the component's harnesses make their directories in os.tmpdir(): in here.
process.env.TMPDIR = join(root, "tmp");

const pairs = new Set<SyncthingPair>();

/** Every descendant of `pid` (children first found through /proc/<pid>/task/<tid>/children). */
function descendants(pid: number, out = new Set<number>()): Set<number> {
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    let kids: string[] = [];
    try {
      kids = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      // thread gone
    }
    for (const k of kids.map(Number)) {
      if (out.has(k)) continue;
      out.add(k);
      descendants(k, out);
    }
  }
  return out;
}

/**
 * SIGKILLs every process this run started (every descendant of this process: the harnesses'
 * children, CLI commands in flight, Syncthing in its own process groups, watchdogs), waits
 * (≤ 3 s) until none can write any more, and removes the work directory.
 */
let cleaned = false;
function cleanupNow(): void {
  if (cleaned) return;
  cleaned = true;
  killAllSyncthingsNow();
  const all = new Set<number>();
  for (let pass = 0; pass < 3; pass++) {
    const found = [...descendants(process.pid)].filter((p) => !deadOrZombie(p));
    if (!found.length) break;
    for (const pid of found) {
      all.add(pid);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  const until = Date.now() + 3_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while ([...all].some((p) => !deadOrZombie(p)) && Date.now() < until) Atomics.wait(pause, 0, 0, 10);
  try {
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (err) {
    console.error(`could not remove ${root}: ${(err as Error).message}`);
  }
}
process.on("exit", cleanupNow);
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  // While this listener exists the harnesses do not re-raise the signal: we clean up and exit.
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: stopping everything and removing ${root}`);
    cleanupNow();
    process.exit(130);
  });
}

// ------------------------------------------------------------------ small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};
const fmtMs = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtBytes = (b: number) => (b < 1e6 ? `${(b / 1e3).toFixed(1)} kB` : `${(b / 1e6).toFixed(2)} MB`);
const fmtN = (n: number) => n.toLocaleString("en-US");
const loadLine = (l = loadavg()) => l.map((x) => x.toFixed(2)).join(", ");

/** Polls `check` every `pollMs` until it holds; resolves the ms from `t0` to the poll that saw it. */
async function waitFor(check: () => boolean | Promise<boolean>, o: { t0?: number; pollMs?: number; timeoutMs?: number; what: string }): Promise<number> {
  const t0 = o.t0 ?? performance.now();
  const timeoutMs = o.timeoutMs ?? opts.timeoutMs;
  for (;;) {
    const now = performance.now();
    if (await check()) return now - t0;
    if (now - t0 > timeoutMs) throw new Error(`timed out after ${fmtMs(timeoutMs)} waiting for ${o.what}`);
    await sleep(o.pollMs ?? 10);
  }
}

// ------------------------------------------------------------------ results

type SideKey = "xshare" | "st1" | "st10";
const SIDE_NAMES: Record<SideKey, string> = { xshare: "xmpp-share", st1: "Syncthing 1 s", st10: "Syncthing 10 s" };

interface Metric {
  id: string;
  scenario: number;
  label: string;
  unit: "ms" | "B";
  /** What is timed or counted, for each system. */
  what: string;
  /** Per round; null: did not happen (scenario 7, Syncthing). */
  values: Partial<Record<SideKey, Array<number | null>>>;
  detail: Partial<Record<SideKey, unknown[]>>;
  /** For a null value: what to print instead. */
  absent?: string;
}
const metrics = new Map<string, Metric>();
const failures: string[] = [];

function record(m: Omit<Metric, "values" | "detail">, side: SideKey, value: number | null, detail: unknown): void {
  let x = metrics.get(m.id);
  if (!x) metrics.set(m.id, (x = { ...m, values: {}, detail: {} }));
  (x.values[side] ??= []).push(value);
  (x.detail[side] ??= []).push(detail);
}

function medianOf(m: Metric, side: SideKey): number | null | undefined {
  const v = m.values[side];
  if (!v?.length) return undefined;
  const got = v.filter((x): x is number => x !== null);
  return got.length ? median(got) : null;
}

const fmtValue = (m: Metric, v: number | null | undefined) => (v === undefined ? "—" : v === null ? (m.absent ?? "none") : m.unit === "B" ? fmtBytes(v) : fmtMs(v));

function progress(scenario: number, round: number, side: SideKey, text: string): void {
  console.log(`  [${scenario}] round ${round} ${SIDE_NAMES[side].padEnd(14)} ${text}`);
}

// ------------------------------------------------------------------ peak memory

/**
 * Peak memory per process label during the current scenario: RSS (VmHWM, KiB, kept by the
 * kernel) and anonymous memory (RssAnon, sampled every 100 ms: the process's own heap and stacks,
 * without the pages of its program file and shared libraries, which RSS counts whole: 34 MB of
 * a bare node process's 41 MB RSS are its binary's).
 */
class Peaks {
  peak: Record<string, number> = {};
  anon: Record<string, number> = {};
  sources: Array<() => Record<string, number | undefined>> = [];
  #timer: NodeJS.Timeout | undefined;
  #anonTimer: NodeJS.Timeout | undefined;
  #resetOk = true;
  current(): Record<string, number | undefined> {
    return Object.assign({}, ...this.sources.map((s) => s()));
  }
  /** Folds every live process's VmHWM into the peaks (also before a process is stopped). */
  fold(): void {
    for (const [label, pid] of Object.entries(this.current())) {
      const kib = procKiB(pid, "VmHWM");
      if (!Number.isNaN(kib)) this.peak[label] = Math.max(this.peak[label] ?? 0, kib);
    }
    this.#sampleAnon();
  }
  extra(label: string, kib: number): void {
    if (!Number.isNaN(kib)) this.peak[label] = Math.max(this.peak[label] ?? 0, kib);
  }
  /** Starts a scenario: VmHWM of every process reset to its current RSS; sampled every 500 ms. */
  start(): void {
    this.peak = {};
    this.anon = {};
    this.#resetOk = true;
    for (const pid of Object.values(this.current())) if (pid) this.#resetOk = resetPeak(pid) && this.#resetOk;
    clearInterval(this.#timer);
    clearInterval(this.#anonTimer);
    this.#timer = setInterval(() => this.fold(), 500);
    this.#timer.unref();
    this.#anonTimer = setInterval(() => this.#sampleAnon(), 100);
    this.#anonTimer.unref();
  }
  stop(): { peaksMB: Record<string, number>; anonPeaksMB: Record<string, number>; resetOk: boolean } {
    this.fold();
    clearInterval(this.#timer);
    clearInterval(this.#anonTimer);
    const mb = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, kibToMB(v)]));
    return { peaksMB: mb(this.peak), anonPeaksMB: mb(this.anon), resetOk: this.#resetOk };
  }
  #sampleAnon(): void {
    for (const [label, pid] of Object.entries(this.current())) {
      const kib = procKiB(pid, "RssAnon");
      if (!Number.isNaN(kib)) this.anon[label] = Math.max(this.anon[label] ?? 0, kib);
    }
  }
}
const peaks = new Peaks();
const memory: Array<{ scenario: number; peaksMB: Record<string, number>; anonPeaksMB: Record<string, number>; resetOk: boolean }> = [];
/** The runtime's memory floor (machine.ts `memoryFloor`), measured with the limits. */
let memFloors: Record<string, MemoryFloor> = {};
const floorLine = (pick: (f: MemoryFloor) => number) =>
  `  floor, before any work: ${Object.entries(memFloors).map(([k, f]) => `${k} ${pick(f).toFixed(0)}`).join("; ")} MB`;

// ------------------------------------------------------------------ the systems, as the scenarios see them

interface Workspace {
  /** The sender's folder (A). */
  a: string;
  /** The receiver's folder (B). */
  b: string;
  close(): Promise<void>;
}

interface Wire {
  total: number;
  parts: Record<string, number>;
}

interface Side {
  key: SideKey;
  /** A new folder pair that syncs A → B, once a probe file made it across. */
  open(label: string): Promise<Workspace>;
  /** Until nothing is in flight any more. */
  settle(): Promise<void>;
  /** Bytes on the wire so far (undefined: not counted). */
  wire(): Promise<Wire | undefined>;
  pids(): Record<string, number | undefined>;
}

function xshareSide(x: XshareSide): Side {
  return {
    key: "xshare",
    open: async (label) => {
      const w = await x.open(label, opts.timeoutMs);
      return { a: w.a, b: w.b, close: w.close, space: w.space } as Workspace & { space: string };
    },
    settle: async () => {
      if (!(await x.quiet(2_000, 60_000))) console.log("    (xmpp-share: the proxy did not go quiet for 2 s within 60 s)");
    },
    wire: async () => (x.proxy ? xshareWire(await x.counts()) : undefined),
    pids: () => x.pids(),
  };
}

function xshareWire(c: ProxyCounts): Wire {
  const parts: Record<string, number> = {};
  for (const [listener, owners] of Object.entries(c.listeners)) {
    const proto = listener === "http" ? "HTTP" : "XMPP";
    for (const [owner, n] of Object.entries(owners)) {
      const who = owner === "alice" ? "A" : owner === "bob" ? "B" : "CLI/other";
      parts[`${proto} ${who} up`] = (parts[`${proto} ${who} up`] ?? 0) + n.up;
      parts[`${proto} ${who} down`] = (parts[`${proto} ${who} down`] ?? 0) + n.down;
    }
  }
  return { total: c.total.up + c.total.down, parts };
}

function diffWire(a: Wire, b: Wire): Wire {
  const parts: Record<string, number> = {};
  for (const [k, v] of Object.entries(a.parts)) {
    const d = v - (b.parts[k] ?? 0);
    if (d) parts[k] = d;
  }
  return { total: a.total - b.total, parts };
}

function syncthingSide(pair: SyncthingPair, key: SideKey, delayS: number): Side {
  const quietBytes = async () => {
    // The counters change no more for 2 s (at most 60 s).
    let last = -1;
    let since = performance.now();
    const t0 = performance.now();
    for (;;) {
      const b = await pair.bytes(pair.a);
      const now = b.inBytesTotal + b.outBytesTotal;
      if (now !== last) {
        last = now;
        since = performance.now();
      } else if (performance.now() - since >= 2_000) return;
      if (performance.now() - t0 > 60_000) return;
      await sleep(200);
    }
  };
  return {
    key,
    open: async (label) => {
      const a = join(pair.a.folder, label);
      const b = join(pair.b.folder, label);
      mkdirSync(a, { recursive: true });
      const probe = randomBytes(64);
      writeFileSync(join(a, "probe.bin"), probe);
      await waitFor(() => hasContent(join(b, "probe.bin"), probe), { pollMs: 20, what: `the probe file of ${label} on B` });
      return {
        a,
        b,
        close: async () => {
          rmSync(a, { recursive: true, force: true });
          await pair.waitInSync({ timeoutMs: opts.timeoutMs, what: `${label} removed` });
          rmSync(b, { recursive: true, force: true });
        },
      };
    },
    settle: async () => {
      await pair.waitInSync({ timeoutMs: opts.timeoutMs });
      await quietBytes();
    },
    wire: async () => {
      const [x, y] = await Promise.all([pair.bytes(pair.a), pair.bytes(pair.b)]);
      // A's one connection is the one to B: its two directions are everything on the wire.
      return { total: x.inBytesTotal + x.outBytesTotal, parts: { "A sent": x.outBytesTotal, "A received": x.inBytesTotal, "B sent": y.outBytesTotal, "B received": y.inBytesTotal } };
    },
    pids: () => ({
      [`Syncthing A (${delayS} s)`]: pair.isRunning(pair.a) ? pair.a.pid : undefined,
      [`Syncthing B (${delayS} s)`]: pair.isRunning(pair.b) ? pair.b.pid : undefined,
    }),
  };
}

// ------------------------------------------------------------------ the scenarios

interface Ctx {
  side: Side;
  /** The xshare side (scenarios 5 and 7 act on it directly). */
  x?: XshareSide;
  /** The Syncthing pair (scenarios 5 and 7). */
  pair?: SyncthingPair;
  state: Record<string, unknown>;
}

interface Scenario {
  n: number;
  title: string;
  /** What is timed, per system. */
  timed: string;
  prepare?(c: Ctx): Promise<void>;
  round(c: Ctx, r: number): Promise<void>;
  finish?(c: Ctx): Promise<void>;
}

const EDIT_KINDS = [
  { kind: "overwrite", label: "1-byte overwrite" },
  { kind: "insert", label: "1-byte insertion" },
] as const;

const SCENARIOS: Scenario[] = [
  {
    n: 1,
    title: "latency of a small change, both online",
    timed: "a new 100-byte random file written on A (writeFileSync); time from the write until B's copy has that content (read every 5 ms); the round's figure is the median of its repetitions, each after 1.5 s of quiet",
    prepare: async (c) => {
      c.state.w = await c.side.open("latency");
    },
    round: async (c, r) => {
      const w = c.state.w as Workspace;
      const times: number[] = [];
      for (let i = 0; i < opts.latencyReps; i++) {
        await sleep(1_500);
        const content = randomBytes(100);
        const name = `small-r${r}-${i}.bin`;
        writeFileSync(join(w.a, name), content);
        const t0 = performance.now();
        times.push(await waitFor(() => hasContent(join(w.b, name), content), { t0, pollMs: 5, what: `${name} on B` }));
        if (c.pair) await c.pair.waitInSync({ timeoutMs: opts.timeoutMs });
      }
      const m = median(times);
      record({ id: "1", scenario: 1, label: "small change, both online: latency", unit: "ms", what: "write on A → content on B" }, c.side.key, m, { times });
      progress(1, r, c.side.key, `median ${fmtMs(m)} (${times.map(fmtMs).join(", ")})`);
    },
    finish: async (c) => (c.state.w as Workspace).close(),
  },
  {
    n: 2,
    title: `first sync of ${fmtN(opts.files)} small files (1-4 KiB random, 100 folders)`,
    timed: "the files are written on A while both run (no fsync); time from the end of the creation until B's folder holds all of them under their names (counted every 20 ms); then every file compared byte for byte (not timed)",
    round: async (c, r) => {
      const w = await c.side.open(`files-r${r}`);
      try {
        const src = join(w.a, "files");
        const dst = join(w.b, "files");
        const c0 = performance.now();
        const bytes = makeSmallFiles(src, opts.files);
        const t0 = performance.now();
        const ms = await waitFor(() => countFiles(dst) >= opts.files, { t0, pollMs: 20, what: `${opts.files} files on B` });
        const verified = sameTree(src, dst);
        if (verified !== opts.files) throw new Error(`verification failed: ${verified} files compared, expected ${opts.files}`);
        record({ id: "2", scenario: 2, label: `${fmtN(opts.files)} small files, first sync`, unit: "ms", what: "end of creation on A → all on B" }, c.side.key, ms, { bytes, creationMs: t0 - c0, verified });
        progress(2, r, c.side.key, `${fmtMs(ms)} = ${((opts.files / ms) * 1000).toFixed(0)} files/s (${fmtBytes(bytes)} created in ${fmtMs(t0 - c0)}; ${verified} files verified)`);
        c.state.bytes = bytes;
      } finally {
        await w.close();
      }
    },
  },
  {
    n: 3,
    title: `one ${opts.bigMib} MiB random file`,
    timed: "the file is written on A while both run; time from the end of the write until B's copy has the full size (polled every 10 ms: both move a file to its name only once complete); then its sha256 checked (not timed)",
    round: async (c, r) => {
      const w = await c.side.open(`big-r${r}`);
      try {
        const size = opts.bigMib * MiB;
        const c0 = performance.now();
        const sha = makeRandomFile(join(w.a, "big.bin"), opts.bigMib);
        const t0 = performance.now();
        const ms = await waitFor(() => sizeOf(join(w.b, "big.bin")) === size, { t0, pollMs: 10, what: "big.bin complete on B" });
        const got = fileHash(join(w.b, "big.bin"));
        if (got !== sha) throw new Error(`verification failed: big.bin on B has sha256 ${got}, expected ${sha}`);
        record({ id: "3", scenario: 3, label: `one ${opts.bigMib} MiB file`, unit: "ms", what: "end of write on A → complete on B" }, c.side.key, ms, { writeMs: t0 - c0, sha256: sha });
        progress(3, r, c.side.key, `${fmtMs(ms)} = ${(size / 1e6 / (ms / 1000)).toFixed(0)} MB/s (written in ${fmtMs(t0 - c0)}; sha256 verified)`);
      } finally {
        await w.close();
      }
    },
  },
  {
    n: 4,
    title: `1-byte edits in the middle of a ${opts.editMib} MiB file synced on both`,
    timed:
      "the edit is made on A (overwrite: one byte flipped in place; insertion: the tail rewritten one byte further); time from the end of the edit until B's file changes (stat polled every 10 ms) to the expected content (sha256, computed before the edit); bytes: every byte on the wire from just before the edit until both are quiet for 2 s (Syncthing: REST in sync, then its connection counters; xmpp-share: the counting proxy, XMPP and HTTP, both devices, both ways)",
    prepare: async (c) => {
      const w = await c.side.open("edit");
      c.state.w = w;
      const file = join(w.a, "edit.bin");
      const sha = makeRandomFile(file, opts.editMib);
      await waitFor(() => sizeOf(join(w.b, "edit.bin")) === opts.editMib * MiB, { pollMs: 50, what: "edit.bin on B" });
      if (fileHash(join(w.b, "edit.bin")) !== sha) throw new Error("verification failed: edit.bin differs on B after its first sync");
      await c.side.settle();
    },
    round: async (c, r) => {
      const w = c.state.w as Workspace;
      const fa = join(w.a, "edit.bin");
      const fb = join(w.b, "edit.bin");
      for (const { kind, label } of EDIT_KINDS) {
        const at = Math.floor(sizeOf(fa) / 2);
        const expected = hashAfterEdit(fa, { kind, at });
        let seen = statKey(fb);
        let changedAt = 0;
        const w0 = await c.side.wire();
        if (kind === "overwrite") overwriteByte(fa, at);
        else insertByte(fa, at, join(dirname(w.a), `edit-scratch-${process.pid}.tmp`));
        const t0 = performance.now();
        await waitFor(
          () => {
            const k = statKey(fb);
            if (k === seen || k === "") return false;
            seen = k;
            changedAt = performance.now();
            return fileHash(fb) === expected;
          },
          { t0, pollMs: 10, what: `the ${label} on B` },
        );
        const ms = changedAt - t0;
        await c.side.settle();
        const w1 = await c.side.wire();
        const wire = w0 && w1 ? diffWire(w1, w0) : undefined;
        record({ id: `4.${kind}.time`, scenario: 4, label: `${label} in ${opts.editMib} MiB: time`, unit: "ms", what: "end of edit on A → new content on B" }, c.side.key, ms, { at });
        record({ id: `4.${kind}.bytes`, scenario: 4, label: `${label} in ${opts.editMib} MiB: bytes on the wire`, unit: "B", what: "edit → both quiet", absent: "not counted (--no-proxy)" }, c.side.key, wire?.total ?? null, wire?.parts ?? null);
        progress(4, r, c.side.key, `${label}: ${fmtMs(ms)}, ${wire ? `${fmtBytes(wire.total)} on the wire (${Object.entries(wire.parts).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(", ")})` : "bytes not counted (--no-proxy)"}`);
      }
    },
    finish: async (c) => (c.state.w as Workspace).close(),
  },
  {
    n: 5,
    title: `rescan of ${fmtN(opts.rescanFiles)} unchanged files`,
    timed:
      "Syncthing (B stopped, so that nothing is pulled): POST /rest/db/scan?folder=bench, which returns when the scan is done, and until /rest/db/status says idle. xmpp-share (A's daemon stopped, the space shared with B, who does not accept it): `xshare sync` from spawn to exit: node start and code load, XMPP login, index read, scan, nothing to do, close; `xshare spaces` (node start, login, one request) beside it as the fixed part",
    prepare: async (c) => {
      if (c.x) {
        const x = c.x;
        peaks.fold();
        await x.offline("alice");
        const dir = join(x.root, "alice", "rescan");
        const c0 = performance.now();
        makeSmallFiles(dir, opts.rescanFiles);
        const created = performance.now() - c0;
        const space = await x.shareOnly(dir);
        const first = await x.timedCli("alice", ["sync"], opts.timeoutMs);
        if (!/: in-sync, /.test(first.stdout)) throw new Error(`first xshare sync did not end in sync: ${first.stdout}`);
        console.log(`  [5] xmpp-share: ${fmtN(opts.rescanFiles)} files created in ${fmtMs(created)}; first \`xshare sync\` (push, not measured) ${fmtMs(first.ms)}, peak RSS ${kibToMB(first.peakKiB).toFixed(0)} MB`);
        c.state.space = space;
        c.state.dir = dir;
      } else {
        const pair = c.pair!;
        peaks.fold();
        await pair.stopInstance(pair.b);
        const dir = join(pair.a.folder, "rescan");
        const c0 = performance.now();
        makeSmallFiles(dir, opts.rescanFiles);
        const created = performance.now() - c0;
        const t0 = performance.now();
        await postScan(pair.a);
        await waitFor(async () => {
          const s = await pair.folderStatus(pair.a);
          return s.state === "idle" && s.localFiles >= opts.rescanFiles;
        }, { pollMs: 100, what: "Syncthing A's first scan" });
        console.log(`  [5] ${SIDE_NAMES[c.side.key]}: ${fmtN(opts.rescanFiles)} files created in ${fmtMs(created)}; first scan (hashing, not measured) ${fmtMs(performance.now() - t0)}`);
      }
    },
    round: async (c, r) => {
      if (c.x) {
        const x = c.x;
        const fixed = await x.timedCli("alice", ["spaces"], opts.timeoutMs);
        const t = await x.timedCli("alice", ["sync"], opts.timeoutMs);
        peaks.extra("xshare sync A (CLI)", t.peakKiB);
        if (!/: in-sync, 0 sent, 0 received/.test(t.stdout)) throw new Error(`xshare sync found something to do: ${t.stdout}`);
        record({ id: "5", scenario: 5, label: `rescan of ${fmtN(opts.rescanFiles)} unchanged files`, unit: "ms", what: "xmpp-share: `xshare sync` spawn → exit; Syncthing: POST /rest/db/scan → idle" }, "xshare", t.ms, { spacesMs: fixed.ms, peakKiB: t.peakKiB });
        progress(5, r, "xshare", `${fmtMs(t.ms)} (\`xshare spaces\` ${fmtMs(fixed.ms)}; peak RSS ${kibToMB(t.peakKiB).toFixed(0)} MB)`);
      } else {
        const pair = c.pair!;
        const before = await pair.folderStatus(pair.a);
        const t0 = performance.now();
        await postScan(pair.a);
        const postMs = performance.now() - t0;
        let after: FolderStatus | undefined;
        const ms = await waitFor(async () => (after = await pair.folderStatus(pair.a)).state === "idle", { t0, pollMs: 10, what: "Syncthing A idle after the rescan" });
        if (after!.sequence !== before.sequence) console.log(`    (Syncthing's sequence moved ${before.sequence} → ${after!.sequence}: it found changes)`);
        record({ id: "5", scenario: 5, label: `rescan of ${fmtN(opts.rescanFiles)} unchanged files`, unit: "ms", what: "xmpp-share: `xshare sync` spawn → exit; Syncthing: POST /rest/db/scan → idle" }, c.side.key, ms, { postMs, localFiles: after!.localFiles });
        progress(5, r, c.side.key, `${fmtMs(ms)} (POST returned after ${fmtMs(postMs)}; ${fmtN(after!.localFiles)} files in its index)`);
      }
    },
    finish: async (c) => {
      if (c.x) {
        await c.x.leave("alice", c.state.space as string);
        rmSync(c.state.dir as string, { recursive: true, force: true });
        await c.x.online("alice");
      }
    },
  },
  {
    n: 7,
    title: "receiver offline while the sender changes; sender offline before the receiver returns",
    timed:
      "B stopped; a new 1000-byte file written on A; A syncs it (xmpp-share: A's daemon reports the push; Syncthing: /rest/db/file on A shows it indexed and A is idle); A stopped; B started: time from starting B until B's folder has the file (polled every 5 ms), up to --offline-wait-s. Syncthing: then A is started again and the time until the file arrives is noted",
    prepare: async (c) => {
      c.state.w = await c.side.open("offline");
    },
    round: async (c, r) => {
      const w = c.state.w as Workspace & { space?: string };
      const content = randomBytes(1000);
      const name = `offline-r${r}.bin`;
      const target = join(w.b, name);
      const waitMs = opts.offlineWaitS * 1000;
      const metric = { id: "7", scenario: 7, label: "offline receiver, then offline sender: arrival", unit: "ms" as const, what: "start of B → file on B", absent: `does not arrive (waited ${opts.offlineWaitS} s)` };
      if (c.x) {
        const x = c.x;
        peaks.fold();
        await x.offline("bob");
        const mark = x.daemonOutput("alice")?.length ?? 0;
        writeFileSync(join(w.a, name), content);
        const tw = performance.now();
        const sentMs = await waitFor(() => x.syncedSince("alice", w.space!, mark).some((l) => l.status === "in-sync" && l.sent >= 1), { t0: tw, pollMs: 10, what: "A's daemon to push the file" });
        peaks.fold();
        await x.offline("alice");
        const t0 = performance.now();
        const arrived = waitFor(() => hasContent(target, content), { t0, pollMs: 5, timeoutMs: Math.max(waitMs, 120_000), what: `${name} on B` });
        arrived.catch(() => undefined);
        await x.online("bob");
        const onlineMs = performance.now() - t0;
        const ms = await arrived;
        await x.online("alice");
        record(metric, "xshare", ms, { senderPushedMs: sentMs, receiverOnlineMs: onlineMs });
        progress(7, r, "xshare", `arrived ${fmtMs(ms)} after B's start (B's daemon online after ${fmtMs(onlineMs)}; A had pushed it ${fmtMs(sentMs)} after the write)`);
      } else {
        const pair = c.pair!;
        const rel = relative(pair.a.folder, join(w.a, name));
        peaks.fold();
        await pair.stopInstance(pair.b);
        writeFileSync(join(w.a, name), content);
        const tw = performance.now();
        const indexedMs = await waitFor(
          async () => {
            try {
              const f = await pair.a.api<{ local?: { size: number; deleted: boolean } }>(`/rest/db/file?folder=${pair.folderId}&file=${encodeURIComponent(rel)}`);
              return f.local?.size === content.length && !f.local.deleted && (await pair.folderStatus(pair.a)).state === "idle";
            } catch {
              return false;
            }
          },
          { t0: tw, pollMs: 20, what: "A to index the file" },
        );
        peaks.fold();
        await pair.stopInstance(pair.a);
        const t0 = performance.now();
        await pair.startInstance(pair.b, { waitConnected: false });
        const upMs = performance.now() - t0;
        let ms: number | null = null;
        while (performance.now() - t0 < waitMs) {
          if (hasContent(target, content)) {
            ms = performance.now() - t0;
            break;
          }
          await sleep(5);
        }
        // A comes back: then it does arrive.
        const t1 = performance.now();
        await pair.startInstance(pair.a);
        const backMs = await waitFor(() => hasContent(target, content), { t0: t1, pollMs: 5, what: `${name} on B once A is back` });
        await pair.waitInSync({ timeoutMs: opts.timeoutMs });
        record(metric, c.side.key, ms, { senderIndexedMs: indexedMs, receiverUpMs: upMs, waitedMs: waitMs, arrivedAfterSenderBackMs: backMs });
        progress(7, r, c.side.key, `${ms === null ? `did not arrive within ${opts.offlineWaitS} s` : `arrived ${fmtMs(ms)} after B's start`} (B up after ${fmtMs(upMs)}); once A was back it arrived ${fmtMs(backMs)} after A's start`);
      }
    },
    finish: async (c) => (c.state.w as Workspace).close(),
  },
];

/** POST /rest/db/scan for the shared folder; Syncthing answers once the scan is done. */
async function postScan(inst: SyncthingInstance): Promise<void> {
  const res = await fetch(`${inst.apiUrl}/rest/db/scan?folder=bench`, { method: "POST", headers: { "X-API-Key": inst.apiKey }, signal: AbortSignal.timeout(opts.timeoutMs) });
  if (!res.ok) throw new Error(`POST /rest/db/scan: HTTP ${res.status} ${await res.text()}`);
}

// ------------------------------------------------------------------ running a scenario

async function runScenario(s: Scenario, x: XshareSide): Promise<void> {
  const delays = s.n === 1 || opts.syncthing10s ? [1, 10] : [1];
  console.log(`\n${s.n}. ${s.title}`);
  console.log(`   timed: ${s.timed}`);
  const loadBefore = loadavg();
  const ctxs: Ctx[] = [{ side: xshareSide(x), x, state: {} }];
  const started: Array<{ pair: SyncthingPair; dir: string }> = [];
  try {
    // A round that failed may have left a device offline: every scenario starts with both online.
    for (const who of ["alice", "bob"] as const) if (!x.isOnline(who)) await x.online(who);
    for (const d of delays) {
      const key: SideKey = d === 1 ? "st1" : "st10";
      const dir = join(root, "syncthing", `s${s.n}-${d}s`);
      try {
        const pair = await startSyncthingPair({ root: dir, watcherDelayS: d, rescanIntervalS: 3600, options: { setLowPriority: false }, startTimeoutMs: 120_000 });
        pairs.add(pair);
        started.push({ pair, dir });
        const cfg = await pair.a.api<{ options: { setLowPriority?: boolean }; folders: Array<{ fsWatcherDelayS: number }> }>("/rest/config");
        if (cfg.options.setLowPriority !== false || cfg.folders[0]?.fsWatcherDelayS !== d) throw new Error(`Syncthing runs with setLowPriority=${cfg.options.setLowPriority}, fsWatcherDelayS=${cfg.folders[0]?.fsWatcherDelayS}`);
        ctxs.push({ side: syncthingSide(pair, key, d), pair, state: {} });
      } catch (err) {
        fail(s.n, 0, key, err);
      }
    }
    peaks.sources = ctxs.map((c) => c.side.pids);
    const ready: Ctx[] = [];
    for (const c of ctxs) {
      try {
        await s.prepare?.(c);
        ready.push(c);
      } catch (err) {
        fail(s.n, 0, c.side.key, err);
      }
    }
    peaks.start();
    for (let r = 1; r <= opts.rounds; r++) {
      for (const c of ready) {
        try {
          await s.round(c, r);
        } catch (err) {
          fail(s.n, r, c.side.key, err);
        }
      }
    }
    const mem = peaks.stop();
    memory.push({ scenario: s.n, ...mem });
    for (const c of ready) {
      try {
        await s.finish?.(c);
      } catch (err) {
        fail(s.n, 0, c.side.key, err);
      }
    }
  } finally {
    peaks.sources = [];
    for (const { pair, dir } of started) {
      await pair.stop();
      pairs.delete(pair);
      rmSync(dir, { recursive: true, force: true });
    }
    scenarioLoad.push({ scenario: s.n, before: loadBefore, after: loadavg() });
  }
}

const scenarioLoad: Array<{ scenario: number; before: number[]; after: number[] }> = [];

function fail(scenario: number, round: number, side: SideKey, err: unknown): void {
  const msg = (err as Error).stack ?? String(err);
  failures.push(`scenario ${scenario}${round ? ` round ${round}` : ""} ${SIDE_NAMES[side]}: ${(err as Error).message?.split("\n")[0] ?? err}`);
  console.log(`  [${scenario}]${round ? ` round ${round}` : ""} ${SIDE_NAMES[side]} FAILED: ${msg}`);
}

// ------------------------------------------------------------------ report

interface Versions {
  node: string;
  xshare: string;
  git: string;
  prosody: string;
  syncthing: string;
}

async function versions(): Promise<Versions> {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  let git = "unknown";
  try {
    const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    // --no-optional-locks: a plain `git status` may rewrite the index; this one only reads.
    const dirty = execFileSync("git", ["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    git = dirty ? `${head} + uncommitted changes in ${dirty.split("\n").length} tracked files` : head;
  } catch {
    // not a git checkout
  }
  const safe = async (f: () => Promise<string>) => f().catch((e: Error) => `unknown (${e.message.split("\n")[0]})`);
  return { node: process.version, xshare: pkg.version, git, prosody: await safe(prosodyVersion), syncthing: await safe(syncthingVersion) };
}

function proxyLine(x: XshareSide): string {
  return `XMPP 127.0.0.1:${x.ports.xmppAlice}/${x.ports.xmppBob} → ${x.ports.c2s}; HTTP 127.0.0.1:${x.ports.httpProxy} → ${x.ports.http}, XSHARE_PUBLIC_URL pointing at it`;
}

function settings(x: XshareSide | undefined): Record<string, string> {
  const flags = shebangFlags("bin/xshare.js").join(" ");
  return {
    "xmpp-share": `two devices, each \`xshare run\` with the CLI's defaults (--delay 100 ms: the watcher's aggregation delay, left at its default; --keepalive 60 s), node ${flags} as bin/xshare.js runs; the sharing manager (log level info) and Prosody ${"(docker/prosody/prosody.cfg.lua, mod_limits c2s 10 kB/s as deployed, no TLS on loopback)"}; ${opts.proxy && opts.scenarios.includes(4) ? `clients connect to Prosody and the component directly, except in scenario 4 (bytes on the wire), which runs on a stack of its own with every client connection through a byte-counting proxy in a process of its own${x ? ` (${proxyLine(x)})` : ""}` : "clients connect to Prosody and the component directly (no byte-counting proxy: scenario 4's bytes are not counted)"}`,
    Syncthing: `two instances per scenario (fresh homes, keys and API keys), \`syncthing serve\` without its monitor, listening on 127.0.0.1 only, no global/local discovery, relays, NAT, usage or crash reporting; one send-receive folder, file-system watcher on with fsWatcherDelayS=1 (documented minimum) and, for scenario 1${opts.syncthing10s ? " and all others" : ""}, 10 (default); rescanIntervalS=3600 (default); setLowPriority=false (default true: Syncthing lowers its own CPU and I/O priority; off here so that it competes on equal terms); TLS and every other setting at Syncthing's defaults`,
    sizes: `rounds ${opts.rounds}; latency reps ${opts.latencyReps}; files ${opts.files}; big ${opts.bigMib} MiB; edit ${opts.editMib} MiB; rescan ${opts.rescanFiles} files; offline wait ${opts.offlineWaitS} s${opts.quick ? " (--quick)" : ""}`,
  };
}

interface Floor {
  scenario: number;
  label: string;
  floorMs: number;
  boundBy: string;
  parts: Record<string, number>;
}

/** What the machine's limits imply for scenarios 2-4: the largest of the times each resource needs for the work that cannot be avoided. */
function floors(l: Limits, filesBytes: number | undefined): Floor[] {
  const out: Floor[] = [];
  const mk = (scenario: number, label: string, parts: Record<string, number>) => {
    const [boundBy, floorMs] = Object.entries(parts).reduce((a, b) => (b[1] > a[1] ? b : a));
    out.push({ scenario, label, floorMs, boundBy, parts });
  };
  const ms = (bytes: number, mbps: number) => (bytes / 1e6 / mbps) * 1000;
  if (opts.scenarios.includes(2)) {
    const bytes = filesBytes ?? opts.files * 2560;
    mk(2, `${fmtN(opts.files)} files, ${fmtBytes(bytes)}`, {
      "sha256 once": ms(bytes, l.sha256MBps),
      "loopback TCP once": ms(bytes, l.tcpMBps),
      "disk write": ms(bytes, l.diskWriteMBps),
      "file creation with fsync": (opts.files / l.smallFilesFsyncPerS) * 1000,
    });
  }
  if (opts.scenarios.includes(3)) {
    const bytes = opts.bigMib * MiB;
    mk(3, `${opts.bigMib} MiB file`, { "sha256 once": ms(bytes, l.sha256MBps), "loopback TCP once": ms(bytes, l.tcpMBps), "disk write + fdatasync": ms(bytes, l.diskWriteMBps) });
  }
  if (opts.scenarios.includes(4)) {
    const bytes = opts.editMib * MiB;
    // Neither system learns where a file changed: the sender re-reads and hashes all of it.
    mk(4, `1-byte edit in ${opts.editMib} MiB`, { "sha256 of the whole file (sender)": ms(bytes, l.sha256MBps) });
  }
  return out;
}

function table(rows: string[][], aligns: Array<"l" | "r">): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => "  " + r.map((c, i) => (aligns[i] === "r" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

function printResults(stKeys: SideKey[], fl: Floor[]): void {
  console.log(`\nresults: median of ${opts.rounds} round${opts.rounds > 1 ? "s" : ""}; ratio = xmpp-share / Syncthing (below 1: xmpp-share takes less)`);
  const head = ["#", "metric", SIDE_NAMES.xshare, ...stKeys.flatMap((k) => [SIDE_NAMES[k], "ratio"])];
  const rows = [head];
  for (const m of [...metrics.values()].sort((a, b) => a.scenario - b.scenario)) {
    const xv = medianOf(m, "xshare");
    const cells = [String(m.scenario), m.label, fmtValue(m, xv)];
    for (const k of stKeys) {
      const sv = medianOf(m, k);
      cells.push(fmtValue(m, sv));
      cells.push(typeof xv === "number" && typeof sv === "number" && sv > 0 ? (xv / sv).toFixed(2) : sv === null && typeof xv === "number" ? "only xmpp-share" : "—");
    }
    rows.push(cells);
  }
  console.log(table(rows, ["l", "l", "r", ...stKeys.flatMap(() => ["r", "r"] as const)]));

  if (fl.length) {
    console.log("\nhow close to this machine's limits (floor = the largest time any one resource needs for work neither system can avoid)");
    const frows = [["#", "workload", "floor", "bound by", SIDE_NAMES.xshare, "× floor", ...stKeys.flatMap((k) => [SIDE_NAMES[k], "× floor"])]];
    for (const f of fl) {
      const ids = f.scenario === 4 ? ["4.overwrite.time", "4.insert.time"] : [String(f.scenario)];
      for (const id of ids) {
        const m = metrics.get(id);
        const cells = [String(f.scenario), f.scenario === 4 ? `${id.includes("overwrite") ? "overwrite" : "insertion"}, ${f.label}` : f.label, fmtMs(f.floorMs), f.boundBy];
        for (const k of ["xshare" as SideKey, ...stKeys]) {
          const v = m ? medianOf(m, k) : undefined;
          cells.push(m ? fmtValue(m, v) : "—", typeof v === "number" ? `${(v / f.floorMs).toFixed(1)}×` : "—");
        }
        frows.push(cells);
      }
    }
    console.log(table(frows, ["l", "l", "r", "l", "r", "r", ...stKeys.flatMap(() => ["r", "r"] as const)]));
    for (const f of fl) console.log(`  ${f.scenario}: ${Object.entries(f.parts).map(([k, v]) => `${k} ${fmtMs(v)}`).join(", ")}`);
    console.log("  (each time includes its system's watcher delay: xmpp-share 100 ms, Syncthing 1 s or 10 s; a multiple below 1 means the system overlapped what the probes did one at a time)");
  }

  if (opts.scenarios.includes(6) && memory.length) {
    const labels = [...new Set(memory.flatMap((m) => Object.keys(m.peaksMB)))];
    const order = (l: string) => (l.startsWith("xshare") ? 0 : l === "component" ? 1 : l === "Prosody" ? 2 : 3);
    labels.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
    const memTable = (title: string, pick: (m: (typeof memory)[number]) => Record<string, number>) => {
      console.log(title);
      const mrows = [["process", ...memory.map((m) => `scenario ${m.scenario}`)]];
      for (const l of labels) mrows.push([l, ...memory.map((m) => (pick(m)[l] === undefined ? "—" : pick(m)[l]!.toFixed(0)))]);
      console.log(table(mrows, ["l", ...memory.map(() => "r" as const)]));
    };
    memTable("\npeak memory: VmHWM of each process during each scenario (reset at its start, after its preparation), MB", (m) => m.peaksMB);
    if (memory.some((m) => !m.resetOk)) console.log("  (some VmHWM could not be reset: those figures are peaks since the process started)");
    console.log(floorLine((f) => f.rssMB));
    memTable("\npeak anonymous memory: RssAnon (the process's own heap and stacks, without its program file and shared libraries), sampled every 100 ms, MB", (m) => m.anonPeaksMB);
    console.log(floorLine((f) => f.anonMB));
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const info: MachineInfo = machineInfo();
  const v = await versions();
  console.log(`xmpp-share vs Syncthing, side by side (${startedAt.toISOString()})`);
  console.log(`machine: ${info.cpuModel}, ${info.cpuCount} CPUs, ${info.ramGB.toFixed(1)} GB RAM, Linux ${info.kernel}${info.os ? ` (${info.os})` : ""}`);
  console.log(`load average before: ${loadLine(info.loadAverage)}${info.loadAverage[0]! > info.cpuCount * 0.5 ? "  (the machine is busy: every figure is slowed and noisier)" : ""}`);
  console.log(`versions: node ${v.node}; xmpp-share ${v.xshare} (git ${v.git}); Prosody ${v.prosody}; ${v.syncthing}`);
  console.log(`scenarios ${opts.scenarios.join(",")}; ${settings(undefined).sizes}; work directory ${root}`);

  console.log(`\nthis machine's limits (measured now, nothing else of the benchmark running; ${opts.probeMib} MiB, ${opts.probeFiles} small files)`);
  const limits = await measureLimits(join(root, "probe"), { bytes: opts.probeMib * MiB, smallFiles: opts.probeFiles });
  rmSync(join(root, "probe"), { recursive: true, force: true });
  console.log(`  SHA-256 (node:crypto)                 ${limits.sha256MBps.toFixed(0)} MB/s`);
  console.log(`  loopback TCP (node:net, 1 MiB writes) ${limits.tcpMBps.toFixed(0)} MB/s; through the counting proxy ${limits.tcpViaProxyMBps.toFixed(0)} MB/s`);
  console.log(`  disk write + fdatasync                ${limits.diskWriteMBps.toFixed(0)} MB/s`);
  console.log(`  small files (2 KiB)                   ${limits.smallFilesFsyncPerS.toFixed(0)} files/s with fsync each, ${limits.smallFilesPerS.toFixed(0)} without`);
  // What a node process holds before any work: no xmpp-share process can use less.
  memFloors = {
    "node alone": memoryFloor(REPO_ROOT, shebangFlags("bin/xshare.js")),
    "xshare's code loaded, idle": memoryFloor(REPO_ROOT, shebangFlags("bin/xshare.js"), "client/cli.ts"),
    "the sharing manager's code loaded, idle": memoryFloor(REPO_ROOT, shebangFlags("bin/xshare-component.js"), "component/cli.ts"),
  };
  for (const [k, f] of Object.entries(memFloors)) console.log(`  memory floor, ${`${k}:`.padEnd(41)} RSS ${f.rssMB.toFixed(0)} MB, RssAnon ${f.anonMB.toFixed(0)} MB`);

  const t0 = performance.now();
  let x: XshareSide | undefined;
  let counted: XshareSide | undefined;
  try {
    // The byte-counting proxy only where bytes are reported (scenario 4): elsewhere it would
    // only take CPU from xmpp-share (about 3 s of a 1 GiB sync here), while Syncthing's bytes
    // come from its own counters at no cost.
    for (const s of SCENARIOS) {
      if (!opts.scenarios.includes(s.n)) continue;
      const proxy = opts.proxy && s.n === 4;
      const cur = x;
      if (!cur || (cur.proxy !== undefined) !== proxy) {
        await cur?.stop().catch(() => undefined);
        x = undefined;
        const ts = performance.now();
        const started = await startXshareSide(join(root, proxy ? "xshare-counted" : "xshare"), { proxy });
        x = started;
        if (proxy) counted = started;
        console.log(`\nxmpp-share started in ${fmtMs(performance.now() - ts)} (${proxy ? "through the byte-counting proxy" : "direct"}): ${Object.entries(started.pids()).map(([k, p]) => `${k} pid ${p}`).join(", ")}`);
        if (!cur) for (const [k, v] of Object.entries(settings(undefined))) if (k !== "sizes") console.log(`settings, ${k}: ${v}`);
        if (proxy) console.log(`settings, proxy: ${proxyLine(started)}`);
      }
      await runScenario(s, x!);
    }
  } catch (err) {
    failures.push(`run: ${(err as Error).message.split("\n")[0]}`);
    console.log(`FAILED: ${(err as Error).stack ?? err}`);
  } finally {
    for (const p of pairs) await p.stop().catch(() => undefined);
    await x?.stop().catch(() => undefined);
  }
  const loadAfter = loadavg();

  const stKeys: SideKey[] = [...new Set([...metrics.values()].flatMap((m) => Object.keys(m.values) as SideKey[]))].filter((k) => k !== "xshare").sort();
  const s2 = metrics.get("2")?.detail.xshare?.[0] as { bytes?: number } | undefined;
  const fl = floors(limits, s2?.bytes);
  printResults(stKeys, fl);
  console.log(`\nload average before ${loadLine(info.loadAverage)}, after ${loadLine(loadAfter)}; the run took ${fmtMs(performance.now() - t0)} after the limits`);
  if (failures.length) console.log(`\nFAILED (${failures.length}):\n${failures.map((f) => `  ${f}`).join("\n")}`);

  const report = {
    startedAt: startedAt.toISOString(),
    durationS: (performance.now() - t0) / 1000,
    command: process.argv.slice(2),
    options: opts,
    machine: { ...info, loadAverageAfter: loadAfter },
    versions: v,
    settings: settings(counted),
    limits,
    floors: fl,
    metrics: [...metrics.values()].map((m) => ({ ...m, medians: Object.fromEntries(Object.keys(m.values).map((k) => [k, medianOf(m, k as SideKey)])) })),
    memoryMB: memory,
    memoryFloorMB: memFloors,
    load: scenarioLoad,
    failures,
    scenarios: SCENARIOS.filter((s) => opts.scenarios.includes(s.n)).map((s) => ({ n: s.n, title: s.title, timed: s.timed })),
  };
  mkdirSync(dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nJSON report: ${jsonFile}`);
}

try {
  await main();
} finally {
  cleanupNow();
}
process.exitCode = failures.length ? 1 : 0;
