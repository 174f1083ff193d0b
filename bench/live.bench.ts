/**
 * Live synchronization (issue 5 goals), on this machine, through a real Prosody and the real
 * sharing manager process, with the real `xshare` program:
 *
 *   1. change-to-arrival latency of a small file between two online clients (`xshare run` for
 *      Alice and Bob, one pair space): Alice writes a new 1 KiB file, the time until Bob's copy
 *      has its content, over BENCH_LIVE_CHANGES (50) changes, p50 and p95;
 *   2. Bob with BENCH_LIVE_SPACES (100) spaces, all in sync, goes offline and comes back: the
 *      stanzas and bytes exchanged after login, the index and chunk requests made, the spaces
 *      synced (bench/fixtures/live-child.ts); then the same with one space changed by Alice
 *      while Bob was away.
 *
 * Goals: p50 <= 300 ms, p95 <= 1 s; the in-sync login makes zero index or chunk requests and
 * exchanges at most one small presence per space; with one changed space, exactly that space
 * is synced. Knobs: BENCH_LIVE_CHANGES, BENCH_LIVE_SPACES, BENCH_LIVE_DELAY (the daemons'
 * --delay, default theirs). Run: npm run bench:live. Prints plain text; exits 0.
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DaemonProcess, ok, startDaemon } from "../tests/harness/cli.ts";
import { type ComponentProcess, startComponentProcess } from "../tests/harness/component.ts";
import { shebangFlags } from "../tests/harness/node-flags.ts";
import { type ProsodyHandle, REPO_ROOT, startProsody } from "../tests/harness/prosody.ts";
import type { LiveChildResult } from "./fixtures/live-child.ts";

const CHANGES = Number(process.env.BENCH_LIVE_CHANGES ?? 50);
const SPACES = Number(process.env.BENCH_LIVE_SPACES ?? 100);
const DELAY = process.env.BENCH_LIVE_DELAY;
const PW = "bench-pass";
const root = join(REPO_ROOT, ".tmp", `live-bench-${process.pid}`);
const homes = { alice: join(root, "homes", "alice"), bob: join(root, "homes", "bob") };
const daemons: DaemonProcess[] = [];
let prosody: ProsodyHandle | undefined;
let comp: ComponentProcess | undefined;

const line = (label: string, text: string) => console.log(`  ${label.padEnd(34)} ${text}`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(1);
  }
}

function liveChild(home: string): Promise<LiveChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...shebangFlags("bin/xshare.js"), join(REPO_ROOT, "bench/fixtures/run.js"), "bench/fixtures/live-child.ts", home], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (err += b.toString()));
    p.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`live-child exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split("\n").pop()!) as LiveChildResult);
    });
  });
}

function report(label: string, r: LiveChildResult, spaces: number): void {
  const index = r.iqs.index ?? 0;
  line(label, `${r.stanzasOut} stanzas out (${r.presencesOut} presence), ${r.stanzasIn} in (${r.presencesIn} presence, ${r.snmsIn} SNM); ${r.bytesOut} B out, ${r.bytesIn} B in`);
  line("", `IQs over HTTP: ${JSON.stringify(r.iqs)}; chunk requests ${r.chunkRequests}; index requests ${index}; spaces synced ${new Set(r.synced).size} of ${spaces}`);
}

async function main(): Promise<void> {
  console.log(`live bench: node ${process.version}, real Prosody + component + xshare run; ${CHANGES} changes, ${SPACES} spaces; temp ${root}`);
  prosody = await startProsody({ accounts: [["alice", PW], ["bob", PW]] });
  comp = await startComponentProcess(prosody, { XSHARE_LOG_LEVEL: "info" });
  const jid = (u: string) => `${u}@${prosody!.domain}`;
  for (const [u, device] of [["alice", "laptop"], ["bob", "phone"]] as const) {
    await ok(homes[u], ["login", jid(u), "--password-stdin", "--service", prosody.service, "--device", device], { input: `${PW}\n` });
  }
  const args = DELAY ? ["--delay", DELAY] : [];

  // 1. latency
  const a = join(root, "alice", "trip");
  const b = join(root, "bob", "trip");
  await mkdir(a, { recursive: true });
  const space = (await ok(homes.alice, ["share", a, "--with", jid("bob")])).trim();
  await ok(homes.bob, ["accept", space, b]);
  daemons.push(await startDaemon(homes.alice, args), await startDaemon(homes.bob, args));
  const times: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const content = `change ${i} ${"x".repeat(1000)}\n`;
    const t0 = performance.now();
    await writeFile(join(a, `f${i}.txt`), content);
    await until(async () => (await readFile(join(b, `f${i}.txt`), "utf8")) === content);
    times.push(performance.now() - t0);
    await sleep(50);
  }
  console.log(`\n1. change-to-arrival latency, small file, both online (daemon --delay ${DELAY ?? "default"})`);
  line("p50 / p95 / max", `${pct(times, 50).toFixed(0)} / ${pct(times, 95).toFixed(0)} / ${Math.max(...times).toFixed(0)} ms`);
  const p50 = pct(times, 50);
  const p95 = pct(times, 95);

  // 2. coming back online with SPACES spaces
  const ids: string[] = [];
  for (let i = 0; i < SPACES - 1; i++) {
    const fa = join(root, "alice", `s${i}`);
    await mkdir(fa, { recursive: true });
    await writeFile(join(fa, "readme.txt"), `space ${i}\n`);
    const id = (await ok(homes.alice, ["share", fa, "--with", jid("bob")])).trim();
    await ok(homes.bob, ["accept", id, join(root, "bob", `s${i}`)]);
    ids.push(id);
  }
  ids.push(space);
  // Let both daemons bring every space in sync.
  await until(async () => {
    for (let i = 0; i < SPACES - 1; i++) if ((await readFile(join(root, "bob", `s${i}`, "readme.txt"), "utf8")) !== `space ${i}\n`) return false;
    return true;
  }, 300_000);
  await sleep(2000);
  await daemons[1]!.stop();
  console.log(`\n2. Bob with ${SPACES} spaces comes back online`);
  const inSync = await liveChild(homes.bob);
  report("all in sync", inSync, SPACES);
  await writeFile(join(a, "while-away.txt"), "changed while Bob was away\n");
  // Alice's daemon pushes it and leaves an SNM with the component for Bob.
  await sleep(3000);
  const oneChanged = await liveChild(homes.bob);
  report("one space changed while away", oneChanged, SPACES);
  const arrived = (await readFile(join(b, "while-away.txt"), "utf8").catch(() => "")) === "changed while Bob was away\n";

  console.log("\nsummary");
  line("latency p50", `${p50.toFixed(0)} ms (goal <= 300 ms): ${p50 <= 300 ? "met" : "MISSED"}`);
  line("latency p95", `${p95.toFixed(0)} ms (goal <= 1000 ms): ${p95 <= 1000 ? "met" : "MISSED"}`);
  const quiet = (inSync.iqs.index ?? 0) === 0 && inSync.chunkRequests === 0 && inSync.presencesOut + inSync.presencesIn <= 2 * SPACES && inSync.synced.length === 0;
  line("in-sync login", `${inSync.iqs.index ?? 0} index + ${inSync.chunkRequests} chunk requests, ${inSync.presencesOut + inSync.presencesIn} presences for ${SPACES} spaces, ${inSync.synced.length} syncs: ${quiet ? "met" : "MISSED"}`);
  const exact = new Set(oneChanged.synced).size === 1 && oneChanged.synced[0] === space && arrived;
  line("one changed space", `synced ${JSON.stringify([...new Set(oneChanged.synced)])} (expected [${space}]), file arrived: ${arrived}: ${exact ? "met" : "MISSED"}`);
}

try {
  await main();
} catch (err) {
  console.error("live bench failed:", err);
} finally {
  for (const d of daemons) await d.stop().catch(() => undefined);
  await comp?.destroy().catch(() => undefined);
  await prosody?.stop().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
process.exit(0);
