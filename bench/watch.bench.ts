/**
 * What watching a folder costs in memory (issue 8's memory goal): the RSS of this process after
 * FILES new files are created in 100 watched folders, after a GC, for the ways a
 * daemon can watch: chokidar watching files too (an fs.watch per file, as `xshare run` did
 * until issue 8), chokidar watching folders only as `xshare run` does now (everything but
 * folders ignored, `atomic` and `followSymlinks` off; its `raw` events still report edits, new
 * files, renames and deletes), Node's recursive fs.watch, one plain fs.watch per folder (what
 * chokidar's folders-only mode amounts to, without its bookkeeping), and no watcher at all. Each
 * case runs in a process of its own, with the node flags `xshare` runs with, so that one's memory
 * does not count in the next.
 *
 * Run: npx tsx bench/watch.bench.ts [files=10000]. Prints plain text; cleans up after itself.
 */
import { execFileSync } from "node:child_process";
import { type FSWatcher as NodeWatcher, lstatSync, mkdirSync, readFileSync, rmSync, watch as fsWatch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { watch } from "chokidar";
import { shebangFlags } from "../tests/harness/node-flags.ts";
import { REPO_ROOT } from "../tests/harness/prosody.ts";

const CASES = ["none", "chokidar-files", "chokidar-folders", "fs.watch-recursive", "fs.watch-folders"] as const;
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
  if (kind === "chokidar-files") {
    const w = watch(dir, { ignoreInitial: true, persistent: true });
    w.on("all", () => events++);
    await new Promise<void>((r) => w.on("ready", () => r()));
    close = () => w.close();
  } else if (kind === "chokidar-folders") {
    const ignored = (_p: string, st?: { isDirectory(): boolean }) => st !== undefined && !st.isDirectory();
    const w = watch(dir, { ignoreInitial: true, persistent: true, atomic: false, followSymlinks: false, ignored });
    w.on("raw", () => events++);
    await new Promise<void>((r) => w.on("ready", () => r()));
    close = () => w.close();
  } else if (kind === "fs.watch-recursive") {
    const w = fsWatch(dir, { recursive: true }, () => events++);
    close = async () => w.close();
  } else if (kind === "fs.watch-folders") {
    const watched = new Map<string, NodeWatcher>();
    const add = (d: string): void => {
      if (watched.has(d)) return;
      const w = fsWatch(d, (ev, name) => {
        events++;
        if (ev !== "rename" || !name) return;
        const p = join(d, name);
        try {
          if (lstatSync(p).isDirectory()) add(p);
        } catch {
          watched.get(p)?.close();
          watched.delete(p);
        }
      });
      watched.set(d, w);
    };
    add(dir);
    close = async () => {
      for (const w of watched.values()) w.close();
    };
  }
  await sleep(200);
  const before = rssMB();
  const per = Math.ceil(FILES / 100);
  // The folders first, and time for the watcher to take them in: then every file is an event
  // in a watched folder (made in the same loop, most would land before their folder's watch).
  for (let d = 0; d < 100; d++) mkdirSync(join(dir, `d${d}`));
  await sleep(1000);
  for (let d = 0, n = 0; d < 100 && n < FILES; d++) {
    for (let i = 0; i < per && n < FILES; i++, n++) writeFileSync(join(dir, `d${d}`, `f${i}`), "x".repeat(2000));
    await sleep(0);
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
  console.log(`watch bench: ${FILES} new files in 100 folders under a watched folder, RSS after a GC, each case in a process of its own (node ${shebangFlags("bin/xshare.js").join(" ")} --expose-gc)`);
  for (const kind of CASES) {
    execFileSync(process.execPath, [...shebangFlags("bin/xshare.js"), "--expose-gc", "--import", "tsx", import.meta.filename, kind, String(FILES)], { stdio: "inherit", cwd: REPO_ROOT });
  }
}
