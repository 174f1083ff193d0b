// This machine, for bench/compare.bench.ts: what it is (CPU, RAM, kernel, load) and what it can
// do at best, measured in the same run, so that every figure can be put against the machine's
// own limits:
//   - SHA-256 rate: node:crypto over one large random buffer (both systems hash every byte
//     they send and every byte they receive);
//   - loopback TCP throughput: node:net, a socket pair on 127.0.0.1 (both ends in this
//     process), `bytes` sent in 1 MiB writes, timed until the last byte is received; and the
//     same through the byte-counting proxy the benchmark puts in front of xmpp-share
//     (bench/harness/counting-proxy.ts), to show what it costs;
//   - disk: `bytes` written in 8 MiB writes then fdatasync, in `dir`; and the small-file
//     creation rate (2 KiB each, written then fsynced, one at a time), with and without the fsync;
//   - the runtime's memory floor (`memoryFloor`): RSS and RssAnon of a node process that does
//     nothing, with the flags `xshare` runs with, bare and with a program's code loaded (its
//     bundle and every library it imports, nothing started): what any `xshare` process holds
//     before it has done any work.
// MB = 10^6 bytes, MiB = 2^20.

import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import net from "node:net";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startCountingProxy } from "./counting-proxy.ts";

const MiB = 1024 * 1024;

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  ramGB: number;
  kernel: string;
  /** From /etc/os-release, if any. */
  os: string;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  let os = "";
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {
    // not Linux-like
  }
  return { cpuModel: c[0]?.model.trim() ?? "unknown", cpuCount: c.length, ramGB: totalmem() / 1e9, kernel: release(), os, loadAverage: loadavg() };
}

export interface Limits {
  /** MB/s. */
  sha256MBps: number;
  /** MB/s, both ends in one node process. */
  tcpMBps: number;
  /** MB/s through the counting proxy (its own process). */
  tcpViaProxyMBps: number;
  /** MB/s, write + fdatasync. */
  diskWriteMBps: number;
  /** files/s, 2 KiB each, write + fsync each. */
  smallFilesFsyncPerS: number;
  /** files/s, 2 KiB each, no fsync. */
  smallFilesPerS: number;
  /** What was measured: bytes for the big ones, files for the small-file rates. */
  sizes: { shaBytes: number; tcpBytes: number; diskBytes: number; smallFiles: number };
}

export function sha256Rate(bytes: number): number {
  const buf = randomBytes(Math.min(bytes, 256 * MiB));
  const h = createHash("sha256");
  const t0 = performance.now();
  for (let done = 0; done < bytes; done += buf.length) h.update(done + buf.length <= bytes ? buf : buf.subarray(0, bytes - done));
  h.digest();
  return bytes / 1e6 / ((performance.now() - t0) / 1000);
}

/** Sends `bytes` from a client socket to a server on 127.0.0.1:`port` (default: our own server), 1 MiB per write; MB/s. */
export async function tcpRate(bytes: number, via?: (serverPort: number) => Promise<number>): Promise<number> {
  const chunk = randomBytes(MiB);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = net.createServer((s) => {
    s.on("data", (b: Buffer) => {
      received += b.length;
      if (received >= bytes) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const serverPort = (server.address() as net.AddressInfo).port;
  const port = via ? await via(serverPort) : serverPort;
  const client = net.connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise<void>((r, j) => {
    client.once("connect", r);
    client.once("error", j);
  });
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!client.write(sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent))) await new Promise((r) => client.once("drain", r));
  }
  await finished;
  const ms = performance.now() - t0;
  client.destroy();
  await new Promise((r) => server.close(r));
  return bytes / 1e6 / (ms / 1000);
}

export function diskWriteRate(dir: string, bytes: number): number {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "disk-probe.bin");
  const buf = randomBytes(8 * MiB);
  const t0 = performance.now();
  const fd = openSync(file, "w");
  try {
    for (let done = 0; done < bytes; done += buf.length) writeSync(fd, buf, 0, Math.min(buf.length, bytes - done));
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const ms = performance.now() - t0;
  rmSync(file, { force: true });
  return bytes / 1e6 / (ms / 1000);
}

export function smallFileRate(dir: string, n: number, fsync: boolean): number {
  const d = join(dir, fsync ? "small-fsync" : "small");
  mkdirSync(d, { recursive: true });
  const body = randomBytes(2048);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const fd = openSync(join(d, `f${i}`), "w");
    try {
      writeSync(fd, body);
      if (fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  if (fsync) {
    const dfd = openSync(d, "r");
    fsyncSync(dfd);
    closeSync(dfd);
  }
  const ms = performance.now() - t0;
  rmSync(d, { recursive: true, force: true });
  return n / (ms / 1000);
}

/** Every limit, one after the other (nothing else of the benchmark runs meanwhile). */
export async function measureLimits(dir: string, opts: { bytes: number; smallFiles: number }): Promise<Limits> {
  const sha256MBps = sha256Rate(opts.bytes);
  const tcpMBps = await tcpRate(opts.bytes);
  const proxy = await startCountingProxy();
  let tcpViaProxyMBps: number;
  try {
    tcpViaProxyMBps = await tcpRate(opts.bytes, (port) => proxy.listen("probe", port));
  } finally {
    await proxy.close();
  }
  const diskWriteMBps = diskWriteRate(dir, opts.bytes);
  const smallFilesFsyncPerS = smallFileRate(dir, opts.smallFiles, true);
  const smallFilesPerS = smallFileRate(dir, opts.smallFiles, false);
  return {
    sha256MBps,
    tcpMBps,
    tcpViaProxyMBps,
    diskWriteMBps,
    smallFilesFsyncPerS,
    smallFilesPerS,
    sizes: { shaBytes: opts.bytes, tcpBytes: opts.bytes, diskBytes: opts.bytes, smallFiles: opts.smallFiles },
  };
}

export interface MemoryFloor {
  /** MB (10^6 bytes), idle, after a full garbage collection. */
  rssMB: number;
  anonMB: number;
}

/**
 * RSS and RssAnon of a node process started with `flags` that, after loading `entry` through
 * bin/launch.js (the program's bundle and its libraries; its `main` is not called) or nothing
 * when `entry` is undefined, sits idle for 500 ms and then collects its garbage (--expose-gc).
 */
export function memoryFloor(repoRoot: string, flags: readonly string[], entry?: string): MemoryFloor {
  const load = entry ? `const { launch } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, "bin/launch.js")).href)}); await launch(${JSON.stringify(entry)});` : "";
  // Collected before it is read: what loading left behind as garbage is not a floor.
  const code = `${load} await new Promise((r) => setTimeout(r, 500)); globalThis.gc(); globalThis.gc(); await new Promise((r) => setTimeout(r, 100)); const s = (await import("node:fs")).readFileSync("/proc/self/status", "utf8"); process.stdout.write(JSON.stringify([/VmRSS:\\s+(\\d+)/.exec(s)[1], /RssAnon:\\s+(\\d+)/.exec(s)[1]]));`;
  const r = spawnSync(process.execPath, [...flags, "--expose-gc", "--input-type=module", "-e", code], { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`memory floor probe (${entry ?? "bare node"}) failed: ${r.stderr || r.error?.message}`);
  const [rss, anon] = (JSON.parse(r.stdout) as string[]).map(Number) as [number, number];
  return { rssMB: (rss * 1024) / 1e6, anonMB: (anon * 1024) / 1e6 };
}
