/**
 * Scanner micro-benchmark on the real disk: N small files (default 100,000: 10 × 10 folders of
 * 1,000) under the repo's .tmp/, a first scan (reads and hashes every file), then a rescan with
 * the first result as `previous` (readdir + lstat only). Prints seconds and peak RSS.
 * Then one large random file (default 256 MiB) scanned alone: hashing throughput of one file.
 * Goal: rescan of 100,000 unchanged files <= 3 s. Run: npx tsx bench/scan.bench.ts [N] [MiB]
 * (or `node --expose-gc --import tsx bench/scan.bench.ts` to also print the live heap).
 * Everything is deleted afterwards, also when the run fails.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RealFs } from "../client/fs/real.ts";
import { scan, type Known } from "../client/scanner.ts";

const N = Number(process.argv[2] ?? 100_000);
const BIG_MIB = Number(process.argv[3] ?? 256);
const PER_DIR = 1000;
const GOAL_S = 3;
const root = join(import.meta.dirname, "..", ".tmp", `scan-bench-${process.pid}`);

const seconds = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(2);
const rssMB = (): string => (process.resourceUsage().maxRSS / 1024).toFixed(0);

function create(): void {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const dir = join(root, `d${Math.floor(i / (PER_DIR * 10)) % 10}`, `s${Math.floor(i / PER_DIR) % 10}-${Math.floor(i / (PER_DIR * 100))}`);
    if (i % PER_DIR === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file-${i}.txt`), `file ${i} ${"x".repeat(i % 200)}\n`);
  }
  console.log(`created ${N} files in ${seconds(t0)} s`);
}

async function big(): Promise<void> {
  const dir = join(root, "big");
  mkdirSync(dir, { recursive: true });
  const piece = randomBytes(16 * 1024 * 1024);
  const file = join(dir, "big.bin");
  writeFileSync(file, "");
  for (let i = 0; i < BIG_MIB / 16; i++) writeFileSync(file, piece.map((b) => b ^ i), { flag: "a" });
  const t0 = performance.now();
  const r = await scan(new RealFs(dir), new Map());
  const s = (performance.now() - t0) / 1000;
  const e = r.entries[0]!;
  console.log(`one ${BIG_MIB} MiB file: ${e.chunks.length} chunks in ${s.toFixed(2)} s = ${(e.size / 1e6 / s).toFixed(0)} MB/s (peak RSS ${rssMB()} MB)`);
}

async function main(): Promise<void> {
  console.log(`baseline RSS ${rssMB()} MB`);
  create();
  const fs = new RealFs(root);

  let t0 = performance.now();
  const first = await scan(fs, new Map());
  console.log(`first scan: ${first.entries.length} entries in ${seconds(t0)} s (peak RSS ${rssMB()} MB)`);

  const previous = new Map<string, Known>(first.entries.map((e) => [e.path, e]));
  for (let run = 1; run <= 3; run++) {
    t0 = performance.now();
    const again = await scan(fs, previous);
    const s = (performance.now() - t0) / 1000;
    const changed = again.entries.filter((e) => e.changed).length;
    console.log(
      `rescan ${run}: ${again.entries.length} entries, ${changed} changed, in ${s.toFixed(2)} s ` +
        `(goal <= ${GOAL_S} s: ${s <= GOAL_S ? "met" : "MISSED"}; peak RSS ${rssMB()} MB)`,
    );
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    const mb = (process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0);
    console.log(`live heap holding \`previous\` (${previous.size} entries) after GC: ${mb} MB`);
  }
  rmSync(root, { recursive: true, force: true });
  if (BIG_MIB > 0) await big();
}

try {
  await main();
} finally {
  const t0 = performance.now();
  rmSync(root, { recursive: true, force: true });
  console.log(`cleaned up in ${seconds(t0)} s`);
}
