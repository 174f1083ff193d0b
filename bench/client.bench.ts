/**
 * The sharing client end to end (issue goals for `xshare`), on this machine, through a real
 * Prosody (tests/harness/prosody.ts) and the real sharing manager process
 * (tests/harness/component.ts, XSHARE_LOG_LEVEL=info). Two devices, Alice and Bob, log in with
 * the real CLI (`xshare login`, their own `--home` under the repo's `.tmp/`), share and accept
 * one space per workload with the CLI, and every sync runs in a process of its own
 * (bench/fixtures/sync-child.ts: what `xshare sync` does, plus the client's own counters and
 * peak RSS printed as JSON), so that each figure is one client's.
 *
 *   1. first sync of BENCH_FILES (10,000) small files (1–4 KiB random, 100 folders): Alice's
 *      push, Bob's pull, total, files/s; then Alice's no-op resync;
 *   2. first sync of one BENCH_BIG_MIB (1024) MiB random file: push, pull, total, MB/s;
 *   3. a BENCH_EDIT_MIB (256) MiB file synced, then a 1-byte overwrite in its middle, then a
 *      1-byte insertion in its middle: HTTP bytes each way for both devices (Remote.stats:
 *      bodies of IQs over HTTP, chunk batches), XMPP socket bytes beside;
 *   4. rescan of BENCH_RESCAN_FILES (100,000) unchanged files with the scanner alone
 *      (bench/fixtures/rescan-child.ts);
 *   5. peak RSS of every child process (VmHWM; see bench/fixtures/sync-child.ts).
 *
 * Times: each sync is timed inside its child from opening the device (XMPP login) to
 * closing it, i.e. what `xshare sync` spends once its code is loaded ("wall" adds starting
 * node and loading the code); goals are judged on that, and shown again without the login. MB = 10^6, MiB = 2^20.
 * Contents are verified on Bob's side after each workload (not timed).
 *
 * Knobs: BENCH_FILES, BENCH_BIG_MIB, BENCH_EDIT_MIB, BENCH_RESCAN_FILES (0 skips a workload),
 * BENCH_PROF=<dir> (node --cpu-prof for every child, profiles named after the step, and for the
 * component, in <dir>/component).
 * Run: npm run bench:client. Prints plain text; exits 0 (failures are printed).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ok } from "../tests/harness/cli.ts";
import { type ComponentProcess, startComponentProcess } from "../tests/harness/component.ts";
import { shebangFlags } from "../tests/harness/node-flags.ts";
import { type ProsodyHandle, REPO_ROOT, startProsody } from "../tests/harness/prosody.ts";
import type { RescanChildResult } from "./fixtures/rescan-child.ts";
import { fileHash, insertByte, overwriteByte } from "./harness/data.ts";
import type { SyncChildResult } from "./fixtures/sync-child.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 1024);
const EDIT_MIB = Number(process.env.BENCH_EDIT_MIB ?? 256);
const RESCAN_FILES = Number(process.env.BENCH_RESCAN_FILES ?? 100_000);
const PROF_DIR = process.env.BENCH_PROF;
/**
 * Node flags for every client child: those `xshare` runs with (its shebang's), or
 * BENCH_NODE_FLAGS when set (e.g. "" for none).
 */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS === undefined ? shebangFlags("bin/xshare.js") : process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);

const MiB = 1024 * 1024;
const PW = "bench-pass";
const GOALS = { bigSeconds: 5, filesSeconds: 6, editBytes: 256 * 1024, rescanSeconds: 3, rssMB: 150 };
const SYNCTHING = "Syncthing 1.19 on this machine when the goals were set: 1 GiB 5.6 s, 10,000 files 13.5 s, 1-byte edit 355 kB, peak RSS 115–200 MB (npm run bench measures both in the same run)";

const root = join(REPO_ROOT, ".tmp", `client-bench-${process.pid}`);
const homes = { alice: join(root, "homes", "alice"), bob: join(root, "homes", "bob") };
const children = new Set<ChildProcess>();

const mb = (bytes: number) => bytes / 1e6;
const rssMB = (kib: number) => (kib * 1024) / 1e6;
const s = (ms: number) => (ms / 1000).toFixed(2);
const verdict = (okay: boolean) => (okay ? "met" : "MISSED");
const line = (label: string, text: string) => console.log(`  ${label.padEnd(34)} ${text}`);

// ------------------------------------------------------------------ cleanup, also on failure

let cleaned = false;
function cleanupSync(): void {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
  if (!cleaned) {
    cleaned = true;
    rmSync(root, { recursive: true, force: true });
  }
}
process.on("exit", cleanupSync);
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  // `on`, not `once`: while this listener exists the Prosody harness does not re-raise the
  // signal, so the component and Prosody are stopped and their temp dirs removed first.
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: cleaning up`);
    for (const c of children) c.kill("SIGKILL");
    const stopAll = Promise.allSettled([comp?.destroy(), prosody?.stop()]);
    void Promise.race([stopAll, new Promise((r) => setTimeout(r, 15_000))]).finally(() => {
      cleanupSync();
      process.exit(130);
    });
  });
}

// ------------------------------------------------------------------ children

interface Timed<T> {
  result: T;
  wallMs: number;
}

function runChild<T>(script: string, args: string[], profName?: string): Promise<Timed<T>> {
  // One directory per step: node writes a profile per thread.
  const prof = PROF_DIR && profName ? ["--cpu-prof", "--cpu-prof-dir", join(PROF_DIR, profName)] : [];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    // Through bin/launch.js, as bin/xshare.js runs the client (a bundle, not tsx's loader).
    const child = spawn(process.execPath, [...prof, ...NODE_FLAGS, join(REPO_ROOT, "bench/fixtures/run.js"), `bench/fixtures/${script}`, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      children.delete(child);
      const wallMs = performance.now() - t0;
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) return reject(new Error(`${script} ${args.join(" ")} exited ${code ?? signal}\n${err.slice(-4000)}${out.slice(-2000)}`));
      try {
        resolve({ result: JSON.parse(last) as T, wallMs });
      } catch {
        reject(new Error(`${script}: no JSON result\n${out.slice(-2000)}${err.slice(-2000)}`));
      }
    });
  });
}

interface Synced {
  r: SyncChildResult;
  wallMs: number;
  /** CPU seconds the component process used meanwhile. */
  componentCpuS?: number;
  /** Minor page faults of the component process meanwhile. */
  componentFaults?: number;
}

/** Fields of /proc/<pid>/stat after the command name (undefined when unknown). */
function procStat(pid: number | undefined): string[] | undefined {
  if (!pid) return undefined;
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  } catch {
    return undefined;
  }
}

/** user + system CPU seconds of a process so far, from /proc (NaN when unknown). */
function cpuSeconds(pid: number | undefined): number {
  const f = procStat(pid);
  return f ? (Number(f[11]) + Number(f[12])) / 100 : Number.NaN; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Minor page faults of a process so far (NaN when unknown). */
function minorFaults(pid: number | undefined): number {
  const f = procStat(pid);
  return f ? Number(f[7]) : Number.NaN;
}

const allSyncs: Array<{ step: string; rssKiB: number }> = [];

async function sync(who: "alice" | "bob", space: string, step: string): Promise<Synced> {
  const cpu0 = cpuSeconds(comp?.pid());
  const faults0 = minorFaults(comp?.pid());
  const { result: r, wallMs } = await runChild<SyncChildResult>("sync-child.ts", [homes[who], space], step);
  const componentCpuS = cpuSeconds(comp?.pid()) - cpu0;
  const componentFaults = minorFaults(comp?.pid()) - faults0;
  const rep = r.reports[0];
  if (!rep || rep.status !== "in-sync") throw new Error(`${step}: ${who}'s sync did not end in sync: ${JSON.stringify(r.reports)}`);
  allSyncs.push({ step, rssKiB: r.peakRssKiB });
  return { r, wallMs, componentCpuS, componentFaults };
}

function describe(label: string, x: Synced): void {
  const rep = x.r.reports[0];
  const rm = x.r.remoteMs;
  const local = x.r.ms.sync - rm.upload - rm.download - rm.iq;
  const xm = x.r.xmpp ? `; XMPP ${x.r.xmpp.sent}/${x.r.xmpp.received} B out/in (login incl.)` : "";
  line(label, `${s(x.r.ms.total)} s = login ${s(x.r.ms.open)} + sync ${s(x.r.ms.sync)} + close ${s(x.r.ms.close)} (wall ${s(x.wallMs)}); pushed ${rep?.pushed ?? 0}, pulled ${rep?.pulled ?? 0}`);
  const compCpu = x.componentCpuS !== undefined && !Number.isNaN(x.componentCpuS) ? `; component CPU meanwhile ${x.componentCpuS.toFixed(2)} s, ${((x.componentFaults ?? Number.NaN) / 1000).toFixed(0)}k page faults` : "";
  line("", `in sync: upload ${s(rm.upload)}, download ${s(rm.download)}, other IQs ${s(rm.iq)}, local (scan, plan, disk, state) ${s(local)} s${compCpu}`);
  line("", `HTTP ${x.r.http.requests} req, ${x.r.http.sent} B out, ${x.r.http.received} B in${xm}; CPU ${s(x.r.cpuUserMs)} user + ${s(x.r.cpuSystemMs)} sys s, ${(x.r.minorFaults / 1000).toFixed(0)}k page faults; peak RSS ${rssMB(x.r.peakRssKiB).toFixed(0)} MB (largest JS heap ${x.r.memPeakMB.heapUsed}, buffers ${x.r.memPeakMB.arrayBuffers} MB)`);
}

/** A sync of nothing (no space matches): login, module load, close: the floor of every figure. */
async function baseline(): Promise<void> {
  console.log("\n0. baseline: a sync child that logs in and syncs no space");
  const { result: r, wallMs } = await runChild<SyncChildResult>("sync-child.ts", [homes.alice, "no-such-space"], "baseline");
  allSyncs.push({ step: "baseline", rssKiB: r.peakRssKiB });
  describe("Alice, no space", { r, wallMs });
}

// ------------------------------------------------------------------ data

/** `n` files of 1–4 KiB random bytes in 100 folders. */
function makeSmallFiles(dir: string, n: number): number {
  const t0 = performance.now();
  const pool = randomBytes(8 * MiB);
  for (let d = 0; d < Math.min(100, n); d++) mkdirSync(join(dir, `d${String(d).padStart(2, "0")}`), { recursive: true });
  for (let i = 0; i < n; i++) {
    const size = 1024 + ((i * 2654435761) >>> 0) % (3 * 1024 + 1);
    // Fresh random prefix (unique content) + a slice of the random pool.
    const body = Buffer.concat([randomBytes(32), pool.subarray((i * 4099) % (pool.length - 4096), ((i * 4099) % (pool.length - 4096)) + size - 32)]);
    writeFileSync(join(dir, `d${String(i % 100).padStart(2, "0")}`, `f${i}.bin`), body);
  }
  return performance.now() - t0;
}

function makeRandomFile(file: string, mib: number): number {
  const t0 = performance.now();
  const fd = openSync(file, "w");
  try {
    for (let left = mib * MiB; left > 0; ) {
      const piece = randomBytes(Math.min(16 * MiB, left));
      writeSync(fd, piece);
      left -= piece.length;
    }
  } finally {
    closeSync(fd);
  }
  return performance.now() - t0;
}

/** Relative path → sha256 of every file under `dir` (skipping the client's `.xshare`). */
function treeHashes(dir: string, prefix = "", out = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === ".xshare" || e.name.startsWith(".xshare-tmp")) continue;
    const p = prefix + e.name;
    if (e.isDirectory()) treeHashes(join(dir, e.name), `${p}/`, out);
    else out.set(p, createHash("sha256").update(readFileSync(join(dir, e.name))).digest("hex"));
  }
  return out;
}

function sameTree(a: string, b: string): void {
  const x = treeHashes(a);
  const y = treeHashes(b);
  if (x.size !== y.size) throw new Error(`verification failed: ${a} has ${x.size} files, ${b} has ${y.size}`);
  for (const [p, h] of x) if (y.get(p) !== h) throw new Error(`verification failed: ${p} differs`);
}

// ------------------------------------------------------------------ setup

async function newSpace(name: string): Promise<{ space: string; a: string; b: string }> {
  const a = join(root, "alice", name);
  const b = join(root, "bob", name);
  mkdirSync(a, { recursive: true });
  const space = (await ok(homes.alice, ["share", a, "--with", `bob@${prosody!.domain}`])).trim();
  await ok(homes.bob, ["accept", space, b]);
  return { space, a, b };
}

let prosody: ProsodyHandle | undefined;

async function setup(): Promise<void> {
  mkdirSync(homes.alice, { recursive: true });
  mkdirSync(homes.bob, { recursive: true });
  const p = (prosody = await startProsody({ accounts: [["alice", PW], ["bob", PW]] }));
  comp = await startComponentProcess(p, { XSHARE_LOG_LEVEL: "info" }, PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", join(PROF_DIR, "component")] : []);
  for (const [user, dev] of [["alice", "laptop"], ["bob", "desktop"]] as const) {
    await ok(homes[user], ["login", `${user}@${p.domain}`, "--password-stdin", "--service", p.service, "--device", dev], { input: `${PW}\n` });
  }
}

// ------------------------------------------------------------------ workloads

const summary: string[] = [];

async function smallFiles(): Promise<void> {
  console.log(`\n1. first sync of ${FILES} small files (1–4 KiB random, 100 folders), Alice → Bob`);
  const w = await newSpace("files");
  line("created", `${FILES} files in ${s(makeSmallFiles(w.a, FILES))} s`);
  const push = await sync("alice", w.space, "files-push");
  describe("Alice sync (push)", push);
  const pull = await sync("bob", w.space, "files-pull");
  describe("Bob sync (pull)", pull);
  const total = push.r.ms.total + pull.r.ms.total;
  const noLogin = push.r.ms.sync + pull.r.ms.sync;
  const wall = push.wallMs + pull.wallMs;
  line("total", `${s(total)} s = ${(FILES / (total / 1000)).toFixed(0)} files/s; without the two logins ${s(noLogin)} s = ${(FILES / (noLogin / 1000)).toFixed(0)} files/s (wall ${s(wall)} s)`);
  const again = await sync("alice", w.space, "files-noop");
  describe("Alice resync, nothing changed", again);
  sameTree(w.a, w.b);
  line("verified", "Bob's tree equals Alice's");
  const goal = (GOALS.filesSeconds * FILES) / 10_000;
  summary.push(`${FILES} files first sync: ${s(total)} s (goal <= ${goal.toFixed(2)} s${FILES === 10_000 ? "" : ", scaled"}): ${verdict(total / 1000 <= goal)}; without logins ${s(noLogin)} s: ${verdict(noLogin / 1000 <= goal)}  [wall ${s(wall)} s]`);
}

async function bigFile(): Promise<void> {
  console.log(`\n2. first sync of one ${BIG_MIB} MiB random file, Alice → Bob`);
  const w = await newSpace("big");
  line("created", `${BIG_MIB} MiB in ${s(makeRandomFile(join(w.a, "big.bin"), BIG_MIB))} s`);
  const push = await sync("alice", w.space, "big-push");
  describe("Alice sync (push)", push);
  const pull = await sync("bob", w.space, "big-pull");
  describe("Bob sync (pull)", pull);
  const total = push.r.ms.total + pull.r.ms.total;
  const noLogin = push.r.ms.sync + pull.r.ms.sync;
  const bytes = BIG_MIB * MiB;
  line("total", `${s(total)} s = ${(mb(bytes) / (total / 1000)).toFixed(0)} MB/s end to end; without the two logins ${s(noLogin)} s = ${(mb(bytes) / (noLogin / 1000)).toFixed(0)} MB/s (push ${(mb(bytes) / (push.r.ms.sync / 1000)).toFixed(0)}, pull ${(mb(bytes) / (pull.r.ms.sync / 1000)).toFixed(0)} MB/s); wall ${s(push.wallMs + pull.wallMs)} s`);
  if (fileHash(join(w.a, "big.bin")) !== fileHash(join(w.b, "big.bin"))) throw new Error("verification failed: big.bin differs");
  line("verified", "Bob's big.bin equals Alice's");
  const goal = (GOALS.bigSeconds * BIG_MIB) / 1024;
  summary.push(`${BIG_MIB} MiB first sync: ${s(total)} s = ${(mb(bytes) / (total / 1000)).toFixed(0)} MB/s (goal <= ${goal.toFixed(2)} s${BIG_MIB === 1024 ? "" : ", scaled"}): ${verdict(total / 1000 <= goal)}; without logins ${s(noLogin)} s: ${verdict(noLogin / 1000 <= goal)}  [wall ${s(push.wallMs + pull.wallMs)} s]`);
  rmSync(w.a, { recursive: true, force: true });
  rmSync(w.b, { recursive: true, force: true });
}

async function edits(): Promise<void> {
  console.log(`\n3. 1-byte edits in the middle of a ${EDIT_MIB} MiB file (after both sides are in sync)`);
  const w = await newSpace("edit");
  const fa = join(w.a, "edit.bin");
  const fb = join(w.b, "edit.bin");
  makeRandomFile(fa, EDIT_MIB);
  describe("first sync: Alice (push)", await sync("alice", w.space, "edit-initial-push"));
  describe("first sync: Bob (pull)", await sync("bob", w.space, "edit-initial-pull"));
  const mid = Math.floor((EDIT_MIB * MiB) / 2);

  const measure = async (kind: string, edit: () => void): Promise<void> => {
    edit();
    const a = await sync("alice", w.space, `edit-${kind}-push`);
    const b = await sync("bob", w.space, `edit-${kind}-pull`);
    if (fileHash(fa) !== fileHash(fb)) throw new Error(`verification failed after the ${kind}`);
    const total = a.r.http.sent + a.r.http.received + b.r.http.sent + b.r.http.received;
    console.log(`  ${kind}:`);
    describe("  Alice sync (push)", a);
    describe("  Bob sync (pull)", b);
    line("  chunk data", `Alice uploaded ${a.r.reports[0]!.bytesUp} B, Bob downloaded ${b.r.reports[0]!.bytesDown} B`);
    line(
      "  HTTP bytes",
      `Alice up ${a.r.http.sent} + down ${a.r.http.received}, Bob up ${b.r.http.sent} + down ${b.r.http.received} = ${total} B (${(total / 1024).toFixed(0)} KiB); ` +
        `Alice up + Bob down = ${a.r.http.sent + b.r.http.received} B`,
    );
    summary.push(`1-byte ${kind} in ${EDIT_MIB} MiB: ${(total / 1024).toFixed(0)} KiB over HTTP, both devices, both ways (goal <= 256 KiB): ${verdict(total <= GOALS.editBytes)}  [Alice push ${s(a.r.ms.total)} s, Bob pull ${s(b.r.ms.total)} s, logins incl.]`);
  };

  await measure("overwrite", () => overwriteByte(fa, mid));
  // Rewritten in place through a scratch copy of the tail (this process stays small: see peak RSS).
  await measure("insertion", () => insertByte(fa, mid, join(w.a, "..", "edit-tail.tmp")));
  rmSync(w.a, { recursive: true, force: true });
  rmSync(w.b, { recursive: true, force: true });
}

async function rescan(): Promise<void> {
  console.log(`\n4. rescan of ${RESCAN_FILES} unchanged files (client/scanner.ts scan with \`previous\`)`);
  const dir = join(root, "rescan");
  line("created", `${RESCAN_FILES} files in ${s(makeSmallFiles(dir, RESCAN_FILES))} s`);
  const { result: r, wallMs } = await runChild<RescanChildResult>("rescan-child.ts", [dir, "3"], "rescan");
  line("first scan (hash all)", `${r.entries} entries in ${r.firstSeconds.toFixed(2)} s`);
  line("rescans", `${r.rescanSeconds.map((x) => x.toFixed(2)).join(", ")} s (${r.changedOnRescan} changed); peak RSS ${rssMB(r.peakRssKiB).toFixed(0)} MB; wall ${s(wallMs)} s`);
  const best = Math.min(...r.rescanSeconds);
  const goal = (GOALS.rescanSeconds * RESCAN_FILES) / 100_000;
  summary.push(`rescan of ${RESCAN_FILES} unchanged files: best ${best.toFixed(2)} s, worst ${Math.max(...r.rescanSeconds).toFixed(2)} s (goal <= ${goal.toFixed(2)} s${RESCAN_FILES === 100_000 ? "" : ", scaled"}): ${verdict(Math.max(...r.rescanSeconds) <= goal)}  [peak RSS ${rssMB(r.peakRssKiB).toFixed(0)} MB]`);
  rmSync(dir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ main

console.log(`client bench: node ${process.version}, real Prosody + component process (log level info), two devices; temp ${root}`);
console.log(`client node flags: ${NODE_FLAGS.join(" ") || "(none)"} (as bin/xshare.js runs; BENCH_NODE_FLAGS overrides)`);
console.log(`knobs: BENCH_FILES=${FILES} BENCH_BIG_MIB=${BIG_MIB} BENCH_EDIT_MIB=${EDIT_MIB} BENCH_RESCAN_FILES=${RESCAN_FILES}${PROF_DIR ? ` BENCH_PROF=${PROF_DIR}` : ""}`);
console.log("per sync: login (XMPP connect + SASL) + sync + close, all inside the child; wall adds starting node and loading the code. Goals are judged on login + sync + close, and also shown without the login");
let comp: ComponentProcess | undefined;
const t0 = performance.now();
try {
  const steps: Array<[number, () => Promise<void>]> = [[FILES, smallFiles], [BIG_MIB, bigFile], [EDIT_MIB, edits]];
  if (steps.some(([n]) => n > 0)) {
    await setup();
    await baseline();
  }
  for (const [n, step] of steps) {
    if (n <= 0) continue;
    try {
      await step();
    } catch (err) {
      console.log(`  FAILED: ${(err as Error).stack ?? String(err)}`);
      summary.push(`${step.name}: FAILED (${(err as Error).message.split("\n")[0]})`);
    }
  }
  if (RESCAN_FILES > 0) {
    try {
      await rescan();
    } catch (err) {
      console.log(`  FAILED: ${(err as Error).stack ?? String(err)}`);
      summary.push(`rescan: FAILED (${(err as Error).message.split("\n")[0]})`);
    }
  }
} catch (err) {
  console.log(`bench failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  await comp?.destroy().catch(() => undefined);
  await prosody?.stop().catch(() => undefined);
  cleanupSync();
}

if (allSyncs.length) {
  const worst = allSyncs.reduce((a, b) => (b.rssKiB > a.rssKiB ? b : a));
  console.log("\n5. peak RSS (VmHWM) of each sync process (MB)");
  console.log(`  ${allSyncs.map((x) => `${x.step} ${rssMB(x.rssKiB).toFixed(0)}`).join(", ")}`);
  summary.push(`client peak RSS: ${rssMB(worst.rssKiB).toFixed(0)} MB in ${worst.step} (goal <= ${GOALS.rssMB} MB): ${verdict(rssMB(worst.rssKiB) <= GOALS.rssMB)}`);
}
console.log("\nsummary");
for (const l of summary) console.log(`  ${l}`);
console.log(`reference: ${SYNCTHING}`);
console.log(`(bench took ${s(performance.now() - t0)} s, cleaned up)`);
process.exit(0);
