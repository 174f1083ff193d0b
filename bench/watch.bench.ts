/**
 * What watching a folder costs in memory (issue 8's memory goal): the RSS of this process after
 * FILES new files (100 folders) are created under a watched folder, after a GC, for the ways a
 * daemon can watch: chokidar as `xshare run` uses it (an fs.watch per file), chokidar watching
 * folders only (files ignored; its `raw` events still report edits, new files, renames and
 * deletes), Node's recursive fs.watch, and no watcher at all. Each case runs in a process of its
 * own, so that one's memory does not count in the next.
 *
 * Run: npx tsx bench/watch.bench.ts [files=10000]. Prints plain text; cleans up after itself.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, watch as fsWatch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { watch } from "chokidar";
import { REPO_ROOT } from "../tests/harness/prosody.ts";

const CASES = ["none", "chokidar", "chokidar-folders", "fs.watch-recursive"] as const;
type Case = (typeof CASES)[number];
const FILES = Number(process.argv[3] ?? process.argv[2] ?? 10_000);
const rssMB = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function one(kind: Case): Promise<void> {
  const dir = join(REPO_ROOT, ".tmp", `watch-bench-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let events = 0;
  let close = async () => {};
  if (kind === "chokidar" || kind === "chokidar-folders") {
    const w = watch(dir, { ignoreInitial: true, persistent: true, ...(kind === "chokidar-folders" ? { ignored: (_p: string, st?: { isFile(): boolean }) => st?.isFile() === true } : {}) });
    w.on(kind === "chokidar" ? "all" : "raw", () => events++);
    await new Promise<void>((r) => w.on("ready", () => r()));
    close = () => w.close();
  } else if (kind === "fs.watch-recursive") {
    const w = fsWatch(dir, { recursive: true }, () => events++);
    close = async () => w.close();
  }
  await sleep(200);
  const before = rssMB();
  const per = Math.ceil(FILES / 100);
  for (let d = 0, n = 0; d < 100 && n < FILES; d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let i = 0; i < per && n < FILES; i++, n++) writeFileSync(join(dir, `d${d}`, `f${i}`), "x".repeat(2000));
  }
  await sleep(3000);
  (globalThis as { gc?: () => void }).gc?.();
  console.log(`  ${kind.padEnd(20)} RSS ${before} MB before, ${rssMB()} MB after ${FILES} new files (${events} events)`);
  await close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] && (CASES as readonly string[]).includes(process.argv[2])) {
  await one(process.argv[2] as Case);
} else {
  console.log(`watch bench: ${FILES} new files in 100 folders under a watched folder, RSS after a GC, each case in a process of its own`);
  for (const kind of CASES) {
    execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", import.meta.filename, kind, String(FILES)], { stdio: "inherit", cwd: REPO_ROOT });
  }
}
