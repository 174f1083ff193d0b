/**
 * Chunk transfer over HTTP (component/http.ts, XEP-draft.md § 5.9) on loopback, the way a
 * client would use it: 1 GiB of random data cut by the protocol chunker (~36 KiB chunks),
 * uploaded in POST /chunks/batch requests of ~8 MiB (3 at a time) and made durable with
 * `blobs.sync` as the component does before acknowledging a commit (included in the time),
 * then downloaded with POST /chunks/batch-get requests of ~8 MiB (4 at a time) and compared
 * byte for byte. For comparison, 64 MiB of other data through the per-chunk PUT path and 64 MiB
 * through per-chunk GETs.
 *
 * The server runs in a child process wired as component/app.ts wires it: PackBlobStore (the
 * component's default) and SqliteMetadataStore in a temp dir, uploaded chunks recorded through
 * component/record-chunks.ts (lookup, sync, one metadata transaction per group), with the node
 * flags of bin/xshare-component.js, so that its peak RSS and CPU are the component's own. Its
 * CPU time (user and sys from process.cpuUsage() in the child, and its main thread's share from
 * /proc) is printed per GiB for the batch upload and the batch download: with two cores shared
 * by client and component, the component's CPU bounds a push. CPU-seconds vary less than wall
 * time when other work shares the machine; sys time still varies (page cache, writeback).
 * Goals: >= 300 MB/s each way (MB = 10^6 bytes), server peak RSS <= 200 MB. The temp dir is
 * under the repository's `.tmp/` (on the real disk, not a tmpfs). A probe first times creating
 * one chunk-sized file there: the kernel cost that bounds a one-file-per-chunk store
 * (FsBlobStore), which PackBlobStore avoids.
 *
 * Run: npm run bench:component, or npx tsx bench/chunks-http.bench.ts with BENCH_MIB=256 for a
 * quicker run, BENCH_DIR=/dev/shm to take the disk out, BENCH_PROF=<dir> to CPU-profile the
 * server, BENCH_PHASES=upload,download to run only some of upload, put, download, get (the
 * default; the batch upload always runs, the others need it). Prints plain text; always exits 0.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { parseBatch } from "../component/batch.ts";
import { encodeBatch, encodeHashList } from "../protocol/batch.ts";
import { closeChunkServer, createChunkServer } from "../component/http.ts";
import { Mutex } from "../component/modules/gc.ts";
import { chunkRecorder } from "../component/record-chunks.ts";
import { PackBlobStore } from "../component/store/pack-blobs.ts";
import { SqliteMetadataStore } from "../component/store/sqlite-metadata.ts";
import { TokenRegistry } from "../component/tokens.ts";
import { DEFAULT_CHUNKING, chunkBuffer, type Chunk } from "../protocol/chunker.ts";
import type { BareJid, ChunkHash, SpaceId } from "../protocol/ids.ts";
import { shebangFlags } from "../tests/harness/node-flags.ts";

const MiB = 1024 * 1024;
const SERVER_FLAG = "--chunks-http-server";
const MAX_CHUNK = DEFAULT_CHUNKING.maxSize;
const GOAL_MBPS = 300;
const GOAL_RSS_MB = 200;

type Direction = "upload" | "download";
type Ask = { op: "issue"; direction: Direction; hashes: string[] } | { op: "sync"; hashes: string[] } | { op: "stats" } | { op: "stop" };
type ToChild = Ask & { id: number };
type FromChild = { id: number; token?: string; maxRssBytes?: number; cpu?: NodeJS.CpuUsage; mainThreadS?: number; ms?: number } | { ready: number };

/** CPU seconds (user + sys) of this process's main thread, from /proc (NaN where there is none). */
function mainThreadSeconds(): number {
  try {
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // clock ticks, USER_HZ = 100 on Linux
  } catch {
    return Number.NaN;
  }
}

// --- server side (child process) ---------------------------------------------------------------

async function serveInChild(dir: string): Promise<void> {
  const blobs = await PackBlobStore.open(join(dir, "chunks"));
  const store = SqliteMetadataStore.open(join(dir, "metadata.sqlite"));
  const addChunks = chunkRecorder({ blobs, store, lock: new Mutex() });
  const tokens = new TokenRegistry({ now: Date.now, random: () => randomBytes(24).toString("base64url"), ttlMs: 3_600_000 });
  const server = createChunkServer({
    blobs,
    tokens,
    metadata: { addChunks },
    log: pino({ level: "silent" }),
    limits: { maxChunkBytes: MAX_CHUNK },
    now: Date.now,
  });
  server.listen(0, "127.0.0.1", () => process.send!({ ready: (server.address() as { port: number }).port }));
  process.on("message", (m: ToChild) => {
    void (async () => {
      if (m.op === "issue") {
        const { token } = tokens.issue("bench@example.org" as BareJid, "s-bench" as SpaceId, m.direction, (m.hashes as ChunkHash[]).map((hash) => ({ hash, size: Number.MAX_SAFE_INTEGER })));
        process.send!({ id: m.id, token });
      } else if (m.op === "sync") {
        const t0 = performance.now();
        await blobs.sync(m.hashes as ChunkHash[]);
        process.send!({ id: m.id, ms: performance.now() - t0 });
      } else if (m.op === "stats") {
        process.send!({ id: m.id, maxRssBytes: process.resourceUsage().maxRSS * 1024, cpu: process.cpuUsage(), mainThreadS: mainThreadSeconds() });
      } else {
        await closeChunkServer(server, { graceMs: 1000 });
        await blobs.close();
        await store.close();
        process.send!({ id: m.id }, () => process.exit(0));
      }
    })();
  });
}

// --- client side ---------------------------------------------------------------------------------

class Child {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, (m: FromChild) => void>();
  #next = 0;
  readonly port: Promise<number>;

  constructor(dir: string) {
    const tsx = import.meta.resolve("tsx");
    const prof = process.env.BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir=" + process.env.BENCH_PROF] : [];
    const execArgv = [...shebangFlags("bin/xshare-component.js"), "--import", tsx, ...prof];
    this.#proc = fork(fileURLToPath(import.meta.url), [SERVER_FLAG, dir], { execArgv, stdio: "inherit" });
    this.port = new Promise((resolve) => {
      this.#proc.on("message", (m: FromChild) => {
        if ("ready" in m) return resolve(m.ready);
        this.#waiting.get(m.id)?.(m);
        this.#waiting.delete(m.id);
      });
    });
  }

  ask(m: Ask): Promise<Extract<FromChild, { id: number }>> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve as (m: FromChild) => void);
      this.#proc.send({ ...m, id });
    });
  }
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  pieces: Buffer[];
}

function request(agent: http.Agent, port: number, method: string, path: string, headers: http.OutgoingHttpHeaders, body: Uint8Array[] = []): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: "127.0.0.1", port, method, path, headers }, (res) => {
      const pieces: Buffer[] = [];
      res.on("data", (p: Buffer) => pieces.push(p));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, pieces }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.cork();
    for (const b of body) req.write(b);
    req.uncork();
    req.end();
  });
}

/** Like `request`, but resolves with the response as soon as its head arrives (body unread). */
function respond(agent: http.Agent, port: number, method: string, path: string, headers: http.OutgoingHttpHeaders, body: Uint8Array): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: "127.0.0.1", port, method, path, headers }, resolve);
    req.on("error", reject);
    req.end(body);
  });
}

async function parallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function randomData(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += 16 * MiB) randomBytes(Math.min(16 * MiB, size - off)).copy(out, off);
  return out;
}

/** Groups chunks into consecutive runs of at most `bytes` bytes each. */
function groups(chunks: readonly Chunk[], bytes: number): Chunk[][] {
  const out: Chunk[][] = [];
  let cur: Chunk[] = [];
  let n = 0;
  for (const c of chunks) {
    if (cur.length > 0 && n + c.size > bytes) (out.push(cur), (cur = []), (n = 0));
    cur.push(c);
    n += c.size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Microseconds to create, write and close one `size`-byte file in `base` (synchronously, so it is the kernel's cost). */
function probeCreate(base: string, size: number): number {
  const dir = mkdtempSync(join(base, "xshare-probe-"));
  const bytes = randomBytes(Math.round(size));
  const n = 1000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) writeFileSync(join(dir, String(i)), bytes, { flag: "wx" });
  const us = ((performance.now() - t0) * 1000) / n;
  rmSync(dir, { recursive: true, force: true });
  return us;
}

export interface ChunksHttpResult {
  uploadMBps: number;
  putMBps: number;
  downloadMBps: number;
  serverMaxRssMB: number;
  /** Server CPU-seconds (user + sys) per GiB of the batch upload (sync included) and download. */
  uploadServerCpuPerGiB: number;
  downloadServerCpuPerGiB: number;
}

export async function runChunksHttpBench(totalMiB = Number(process.env.BENCH_MIB ?? 1024)): Promise<ChunksHttpResult> {
  const total = totalMiB * MiB;
  const putTotal = Math.min(64 * MiB, total);
  const base = process.env.BENCH_DIR ?? fileURLToPath(new URL("../.tmp/", import.meta.url));
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, "xshare-bench-"));
  const child = new Child(dir);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const data = randomData(total);
    const chunks = chunkBuffer(data);
    const putData = randomData(putTotal);
    const putChunks = chunkBuffer(putData);
    const port = await child.port;
    const token = async (direction: Direction, cs: readonly Chunk[]) =>
      (await child.ask({ op: "issue", direction, hashes: cs.map((c) => c.hash) })).token!;
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const mb = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
    console.log(`chunks-http bench: node ${process.version}, ${totalMiB} MiB random data, ${chunks.length} chunks (mean ${(total / chunks.length / 1024).toFixed(1)} KiB), PackBlobStore in ${base}`);
    const createUs = probeCreate(base, total / chunks.length);
    console.log(`filesystem probe: creating + writing one chunk-sized file costs ${createUs.toFixed(0)} us here (one core: at most ${((total / chunks.length) / createUs).toFixed(0)} MB/s for one file per chunk; packs append instead)`);

    /**
     * Runs one timed phase; returns MB/s, the CPU both processes spent (in % of one core) and
     * the server's CPU seconds (user, sys) per GiB moved.
     */
    const phase = async (bytes: number, fn: () => Promise<void>) => {
      const s0 = await child.ask({ op: "stats" });
      const server0 = s0.cpu!;
      const client0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      const ms = performance.now() - t0;
      const c = process.cpuUsage(client0);
      const s1 = await child.ask({ op: "stats" });
      const server1 = s1.cpu!;
      const user = (server1.user - server0.user) / 1e6;
      const sys = (server1.system - server0.system) / 1e6;
      const perGiB = (1024 * MiB) / bytes;
      const mainPerGiB = (s1.mainThreadS! - s0.mainThreadS!) * perGiB;
      return { mbps: mb(bytes, ms), ms, serverCpu: ((user + sys) * 1e5) / ms, clientCpu: (c.user + c.system) / 10 / ms, serverUserPerGiB: user * perGiB, serverSysPerGiB: sys * perGiB, mainPerGiB };
    };
    const phases = new Set((process.env.BENCH_PHASES ?? "upload,put,download,get").split(","));
    const skipped = { mbps: NaN, ms: NaN, serverCpu: NaN, clientCpu: NaN, serverUserPerGiB: NaN, serverSysPerGiB: NaN, mainPerGiB: NaN };

    // Upload: ~8 MiB batches, 3 requests in flight, then sync (the commit's durability point).
    const batches = await Promise.all(groups(chunks, 8 * MiB).map(async (g) => ({ g, t: await token("upload", g) })));
    let syncMs = 0;
    const upload = await phase(total, async () => {
      await parallel(batches, 3, async ({ g, t }) => {
        const body = encodeBatch(g.map((c) => ({ hash: c.hash, bytes: data.subarray(c.offset, c.offset + c.size) })));
        const length = body.reduce((n, b) => n + b.byteLength, 0);
        const r = await request(agent, port, "POST", "/chunks/batch", { ...auth(t), "content-length": length }, body);
        if (r.status !== 200) throw new Error(`batch: HTTP ${r.status} ${Buffer.concat(r.pieces).toString()}`);
      });
      syncMs = (await child.ask({ op: "sync", hashes: chunks.map((c) => c.hash) })).ms!;
    });

    const rssAfterUpload = (await child.ask({ op: "stats" })).maxRssBytes!;

    // Per-chunk PUT of other data, 8 in flight, plus sync.
    const putTokens = await Promise.all(groups(putChunks, 2000 * 72 * 1024).map(async (g) => ({ g, t: await token("upload", g) })));
    const putJobs = putTokens.flatMap(({ g, t }) => g.map((c) => ({ c, t })));
    const put = !phases.has("put") ? skipped : await phase(putTotal, async () => {
      await parallel(putJobs, 8, async ({ c, t }) => {
        const body = [putData.subarray(c.offset, c.offset + c.size)];
        const r = await request(agent, port, "PUT", `/chunks/${c.hash}`, { ...auth(t), "content-length": c.size }, body);
        if (r.status !== 201) throw new Error(`PUT: HTTP ${r.status}`);
      });
      await child.ask({ op: "sync", hashes: putChunks.map((c) => c.hash) });
    });

    // Download: ~8 MiB batch-get requests, 4 in flight, every byte compared as it arrives.
    let mismatches = 0;
    const offsets = new Map(chunks.map((c) => [c.hash, c] as const));
    const getBatches = await Promise.all(groups(chunks, 8 * MiB).map(async (g) => ({ g, t: await token("download", g) })));
    const download = !phases.has("download") ? skipped : await phase(total, async () => {
      await parallel(getBatches, 4, async ({ g, t }) => {
        const body = encodeHashList(g.map((c) => c.hash));
        const res = await respond(agent, port, "POST", "/chunks/batch-get", { ...auth(t), "content-length": body.length }, body);
        if (res.statusCode !== 200) throw new Error(`batch-get: HTTP ${res.statusCode}`);
        let i = 0;
        for await (const rec of parseBatch(res, MAX_CHUNK)) {
          const c = g[i++];
          if (!c || rec.hash !== c.hash || offsets.get(rec.hash) !== c) {
            mismatches++;
            continue;
          }
          let off = c.offset;
          for (const p of rec.pieces) {
            if (!data.subarray(off, off + p.length).equals(p)) mismatches++;
            off += p.length;
          }
          if (off !== c.offset + c.size) mismatches++;
        }
        if (i !== g.length) mismatches++;
      });
    });

    // Per-chunk GETs of the first 64 MiB, 16 keep-alive connections (for comparison).
    const getChunks = chunks.slice(0, groups(chunks, 64 * MiB)[0]!.length);
    const getBytes = getChunks.reduce((n, c) => n + c.size, 0);
    const getTokens = await Promise.all(groups(getChunks, 2000 * 72 * 1024).map(async (g) => ({ g, t: await token("download", g) })));
    const getJobs = getTokens.flatMap(({ g, t }) => g.map((c) => ({ c, t })));
    const perChunk = !phases.has("get") ? skipped : await phase(getBytes, async () => {
      await parallel(getJobs, 16, async ({ c, t }) => {
        const r = await request(agent, port, "GET", `/chunks/${c.hash}`, auth(t));
        if (r.status !== 200) throw new Error(`GET: HTTP ${r.status}`);
        let off = c.offset;
        for (const p of r.pieces) {
          if (!data.subarray(off, off + p.length).equals(p)) mismatches++;
          off += p.length;
        }
        if (off !== c.offset + c.size) mismatches++;
      });
    });
    const maxRss = (await child.ask({ op: "stats" })).maxRssBytes!;

    const result = { uploadMBps: upload.mbps, putMBps: put.mbps, downloadMBps: download.mbps, serverMaxRssMB: maxRss / 1e6,
      uploadServerCpuPerGiB: upload.serverUserPerGiB + upload.serverSysPerGiB,
      downloadServerCpuPerGiB: download.serverUserPerGiB + download.serverSysPerGiB,
    };
    const row = (label: string, value: string, goal?: boolean) =>
      console.log(`${label.padEnd(40)} ${value.padEnd(56)} ${goal === undefined ? "" : goal ? "goal met" : "GOAL MISSED"}`);
    const cpu = (p: { serverCpu: number; clientCpu: number }) => `CPU server ${p.serverCpu.toFixed(0)}%, client ${p.clientCpu.toFixed(0)}%`;
    row(`upload, 8 MiB batches x3, incl. sync`, `${upload.mbps.toFixed(0)} MB/s  ${(upload.ms / 1000).toFixed(2)} s (sync ${(syncMs / 1000).toFixed(2)} s), ${cpu(upload)}`, upload.mbps >= GOAL_MBPS);
    row(`upload, PUT per chunk x8, ${putTotal / MiB} MiB`, `${put.mbps.toFixed(0)} MB/s  ${putChunks.length} requests, ${cpu(put)}`);
    row(`download, 8 MiB batch-get x4`, `${download.mbps.toFixed(0)} MB/s  ${(download.ms / 1000).toFixed(2)} s, ${cpu(download)}`, download.mbps >= GOAL_MBPS);
    row(`download, GET per chunk x16, ${(getBytes / MiB).toFixed(0)} MiB`, `${perChunk.mbps.toFixed(0)} MB/s  ${getChunks.length} requests, ${cpu(perChunk)}`);
    const serverCpu = (p: { serverUserPerGiB: number; serverSysPerGiB: number; mainPerGiB: number }) =>
      `${(p.serverUserPerGiB + p.serverSysPerGiB).toFixed(2)} CPU-s (user ${p.serverUserPerGiB.toFixed(2)} + sys ${p.serverSysPerGiB.toFixed(2)}; main thread ${p.mainPerGiB.toFixed(2)})`;
    row(`server CPU per GiB, batch upload`, serverCpu(upload));
    row(`server CPU per GiB, batch download`, serverCpu(download));
    row(`server peak RSS`, `${result.serverMaxRssMB.toFixed(0)} MB (${(rssAfterUpload / 1e6).toFixed(0)} MB by the end of the batch upload)`, result.serverMaxRssMB <= GOAL_RSS_MB);
    row(`downloaded bytes equal uploaded`, mismatches === 0 ? "yes" : `NO (${mismatches} chunks differ)`);
    return result;
  } finally {
    agent.destroy();
    await child.ask({ op: "stop" }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes(SERVER_FLAG)) {
  await serveInChild(process.argv[process.argv.indexOf(SERVER_FLAG) + 1]!);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runChunksHttpBench().catch((err: unknown) => console.error("chunks-http bench failed:", err));
}
