/**
 * This machine's disk limits for the client's work, under the repository's `.tmp/` (the disk
 * the benchmarks use): new small files written the way the sync engine writes them (create,
 * write 2.5 kB, close, rename) without and with an fsync each, and with fdatasync; then 1 GiB
 * written and made durable with one fdatasync (what a large download costs at least). Sequential
 * synchronous calls, so the figures are the kernel's, not the thread pool's. Several rounds,
 * each printed: the disk of a virtual machine varies from run to run.
 *
 * Run: npx tsx bench/disk.bench.ts [files=2000] [MiB=1024] [rounds=3]. Cleans up after itself.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../tests/harness/prosody.ts";

const FILES = Number(process.argv[2] ?? 2000);
const MIB = Number(process.argv[3] ?? 1024);
const ROUNDS = Number(process.argv[4] ?? 3);
const dir = join(REPO_ROOT, ".tmp", `disk-bench-${process.pid}`);
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

function smallFiles(label: string, flush: ((fd: number) => void) | undefined): void {
  rmSync(dir, { recursive: true, force: true });
  for (let d = 0; d < 20; d++) mkdirSync(join(dir, `d${d}`), { recursive: true });
  const data = randomBytes(2500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    const tmp = join(dir, `d${i % 20}`, `.t${i}`);
    const fd = openSync(tmp, "wx");
    writeSync(fd, data);
    flush?.(fd);
    closeSync(fd);
    renameSync(tmp, join(dir, `d${i % 20}`, `f${i}`));
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(`  ${label.padEnd(34)} ${(ms / FILES).toFixed(3)} ms/file (${((FILES * 1000) / ms).toFixed(0)} files/s), kernel CPU ${(cpu.system / 1000 / FILES).toFixed(3)} ms/file`);
}

function bigFile(): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const block = randomBytes(4 * 1024 * 1024);
  const t0 = performance.now();
  const fd = openSync(join(dir, "big"), "w");
  for (let i = 0; i < MIB / 4; i++) writeSync(fd, block);
  const written = performance.now() - t0;
  fdatasyncSync(fd);
  closeSync(fd);
  const ms = performance.now() - t0;
  console.log(`  ${`${MIB} MiB, one fdatasync`.padEnd(34)} ${(ms / 1000).toFixed(2)} s = ${((MIB * 1.048576) / (ms / 1000)).toFixed(0)} MB/s (written to the page cache in ${(written / 1000).toFixed(2)} s)`);
}

console.log(`disk bench under ${join(REPO_ROOT, ".tmp")}: ${FILES} small files, ${MIB} MiB, ${ROUNDS} rounds`);
for (let r = 1; r <= ROUNDS; r++) {
  console.log(`round ${r}`);
  smallFiles("create + write + close + rename", undefined);
  smallFiles("... + fsync", fsyncSync);
  smallFiles("... + fdatasync", fdatasyncSync);
  if (MIB > 0) bigFile();
}
