/**
 * The HTTP chunk server (component/http.ts, XEP-draft.md § 5.9) on a real loopback socket,
 * over every blob store, with a real TokenRegistry on an injected clock: every route, every
 * refusal, resumable and batch uploads, batch downloads, clients that vanish midway, graceful
 * close.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import fc from "fast-check";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BatchError, parseBatch, storeBatch, type BatchRecord } from "../../component/batch.ts";
import { encodeBatch, encodeHashList, recordHeader } from "../../protocol/batch.ts";
import { closeChunkServer, createChunkServer } from "../../component/http.ts";
import type { BlobStore } from "../../component/store/blobs.ts";
import { FsBlobStore } from "../../component/store/fs-blobs.ts";
import { MemoryBlobStore } from "../../component/store/memory-blobs.ts";
import type { MetadataStore } from "../../component/store/metadata.ts";
import { PackBlobStore } from "../../component/store/pack-blobs.ts";
import { TokenRegistry } from "../../component/tokens.ts";
import type { BareJid, ChunkHash, SpaceId } from "../../protocol/ids.ts";
import { bytes, sha } from "../contract/blob-store.contract.ts";

const MAX = 256 * 1024;
const ALICE = "alice@example.org" as BareJid;
const SPACE = "s-1" as SpaceId;

interface Fixture {
  base: string;
  port: number;
  blobs: BlobStore;
  dir?: string;
  server: http.Server;
  tokens: TokenRegistry;
  clock: { ms: number };
  recorded: { hash: ChunkHash; size: number; uploader: BareJid }[];
  /** How many chunks each `addChunks` call recorded. */
  recordCalls: number[];
  logs: { level: number; status?: number | string; msg: string }[];
}

/** Resolves once the server has logged `n` request lines (so its cleanup has run). */
async function logged(f: Fixture, n: number): Promise<void> {
  for (let i = 0; i < 500 && f.logs.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(f.logs.length).toBeGreaterThanOrEqual(n);
}

/** A raw request we control byte by byte (fetch cannot stop halfway through a body). */
function raw(f: Fixture, method: string, path: string, headers: Record<string, string | number>) {
  const req = http.request({ host: "127.0.0.1", port: f.port, method, path: `/chunks/${path}`, headers, agent: false });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on("response", resolve);
    req.on("error", reject);
  });
  return { req, response };
}

describe.each(["memory", "fs", "pack"] as const)("chunk server over the %s store", (kind) => {
  let f: Fixture;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  /** A token as slots issue it; a bare hash declares any size up to the chunk limit. */
  const grant = (direction: "upload" | "download", items: Array<ChunkHash | { hash: ChunkHash; size: number }>) =>
    f.tokens.issue(ALICE, SPACE, direction, items.map((i) => (typeof i === "string" ? { hash: i, size: Number.MAX_SAFE_INTEGER } : i))).token;
  const upload = (...items: Array<ChunkHash | { hash: ChunkHash; size: number }>) => grant("upload", items);
  const download = (...hashes: ChunkHash[]) => grant("download", hashes);
  const put = (hash: string, body: Uint8Array, token: string, headers: Record<string, string> = {}) =>
    fetch(`${f.base}${hash}`, { method: "PUT", body: body as Uint8Array<ArrayBuffer>, headers: { ...auth(token), ...headers } });
  const get = (hash: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${f.base}${hash}`, { headers: { ...auth(token), ...headers } });
  const head = (hash: string, token: string) => fetch(`${f.base}${hash}`, { method: "HEAD", headers: auth(token) });
  const batch = (records: { hash: ChunkHash; bytes: Uint8Array }[] | Uint8Array[], token: string) => {
    const body = records[0] instanceof Uint8Array ? Buffer.concat(records as Uint8Array[]) : Buffer.concat(encodeBatch(records as never));
    return fetch(`${f.base}batch`, { method: "POST", body, headers: auth(token) });
  };
  const batchGet = (hashes: ChunkHash[] | Uint8Array<ArrayBuffer>, token: string) =>
    fetch(`${f.base}batch-get`, { method: "POST", body: hashes instanceof Uint8Array ? hashes : encodeHashList(hashes), headers: auth(token) });
  /** The records of a batch download body, in order. */
  const records = async (r: Response) => {
    const out: { hash: ChunkHash; bytes: Buffer }[] = [];
    const body = Buffer.from(await r.arrayBuffer());
    for await (const rec of parseBatch((async function* () { yield body; })(), 1 << 30)) out.push({ hash: rec.hash, bytes: Buffer.concat(rec.pieces) });
    return out;
  };

  beforeEach(async () => {
    const dir = kind === "memory" ? undefined : await mkdtemp(join(tmpdir(), "xshare-http-"));
    const blobs = !dir ? new MemoryBlobStore() : kind === "fs" ? await FsBlobStore.open(dir) : await PackBlobStore.open(dir, { packBytes: 1 << 20 });
    const clock = { ms: 1_764_000_000_000 };
    const tokens = new TokenRegistry({ now: () => clock.ms, random: () => randomBytes(24).toString("base64url"), ttlMs: 60_000 });
    const recorded: Fixture["recorded"] = [];
    const recordCalls: number[] = [];
    const metadata: Pick<MetadataStore, "addChunks"> = {
      addChunks: async (chunks, uploader) => {
        recordCalls.push(chunks.length);
        for (const { hash, size } of chunks) recorded.push({ hash, size, uploader });
      },
    };
    const logs: Fixture["logs"] = [];
    const sink = new Writable({
      write(line: Buffer, _enc, done) {
        logs.push(JSON.parse(line.toString()) as Fixture["logs"][number]);
        done();
      },
    });
    const log = pino({ level: "debug" }, sink);
    const server = createChunkServer({ blobs, tokens, metadata, log, limits: { maxChunkBytes: MAX }, now: () => clock.ms });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    f = { base: `http://127.0.0.1:${port}/chunks/`, port, blobs, dir, server, tokens, clock, recorded, recordCalls, logs };
  });

  afterEach(async () => {
    await closeChunkServer(f.server, { graceMs: 100 });
    await f.blobs.close();
    if (f.dir) await rm(f.dir, { recursive: true, force: true });
  });

  /** Nothing half-written is left in the fs store's temp folder. */
  const noTemp = async () => {
    if (f.dir && kind === "fs") expect(await readdir(join(f.dir, ".tmp"))).toEqual([]);
  };

  it("uploads a chunk (201), again (200), and serves it back with caching headers", async () => {
    const data = bytes(70_000);
    const h = sha(data);
    const t = upload(h);
    expect((await put(h, data, t)).status).toBe(201);
    expect((await put(h, data, t)).status).toBe(200);
    expect(f.recorded).toEqual([
      { hash: h, size: 70_000, uploader: ALICE },
      { hash: h, size: 70_000, uploader: ALICE },
    ]);
    const r = await get(h, download(h));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(r.headers.get("content-length")).toBe("70000");
    expect(r.headers.get("etag")).toBe(`"${h}"`);
    expect(r.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect(Buffer.from(await r.arrayBuffer()).equals(data)).toBe(true);
    const cached = await get(h, download(h), { "if-none-match": `"${h}"` });
    expect(cached.status).toBe(304);
    const h200 = await head(h, t);
    expect([h200.status, h200.headers.get("content-length")]).toEqual([200, "70000"]);
    expect(f.logs.filter((l) => l.msg === "chunk request" && l.level === 20)).toHaveLength(5);
  });

  it("uploads and downloads the empty chunk", async () => {
    const h = sha(new Uint8Array(0));
    expect((await put(h, new Uint8Array(0), upload(h))).status).toBe(201);
    const r = await get(h, download(h));
    expect([r.status, (await r.arrayBuffer()).byteLength]).toEqual([200, 0]);
    expect((await get(h, download(h), { range: "bytes=0-0" })).status).toBe(416);
  });

  it("refuses a chunk whose bytes do not match (422), and it is not stored", async () => {
    const h = sha(bytes(1000, 1));
    const r = await put(h, bytes(1000, 2), upload(h));
    expect(r.status).toBe(422);
    expect(await r.text()).toMatch(/SHA-256/);
    expect((await get(h, download(h))).status).toBe(404);
    expect(f.recorded).toEqual([]);
    expect(f.logs.some((l) => l.level === 40 && l.status === 422)).toBe(true);
    await noTemp();
  });

  it("answers 401 without a token, with an unknown one and with an expired one", async () => {
    const data = bytes(10);
    const h = sha(data);
    const missing = await fetch(`${f.base}${h}`, { method: "PUT", body: data });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await put(h, data, "not-a-token-at-all")).status).toBe(401);
    const t = upload(h);
    f.clock.ms += 60_000;
    expect((await put(h, data, t)).status).toBe(401);
    expect((await get(h, download(h))).status).toBe(404); // nothing was stored
  });

  it("answers 403 for a chunk the token does not name, or the wrong direction", async () => {
    const data = bytes(10);
    const h = sha(data);
    expect((await put(h, data, upload(sha(bytes(11))))).status).toBe(403);
    expect((await put(h, data, download(h))).status).toBe(403);
    expect((await put(h, data, upload(h))).status).toBe(201);
    expect((await get(h, upload(h))).status).toBe(403);
    expect((await get(h, download(sha(bytes(11))))).status).toBe(403);
  });

  it("answers 413 from Content-Length alone, before any body is sent", async () => {
    const h = sha(bytes(10));
    const { req, response } = raw(f, "PUT", h, { ...auth(upload(h)), "content-length": 1 << 30 });
    req.flushHeaders(); // headers only: the answer must come without the body
    const res = await response;
    expect(res.statusCode).toBe(413);
    expect(res.headers.connection).toBe("close");
    req.destroy();
  });

  it("answers 413 for a too-large body, with or without Content-Length, and keeps serving", async () => {
    const big = bytes(MAX + 1);
    const h = sha(big);
    expect((await put(h, big, upload(h))).status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(bytes(64 * 1024, i));
        c.close();
      },
    });
    const chunked = await fetch(`${f.base}${h}`, { method: "PUT", body: stream, headers: auth(upload(h)), duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
    const ok = bytes(100);
    expect((await put(sha(ok), ok, upload(sha(ok)))).status).toBe(201);
    await noTemp();
  });

  it("answers 413 for more bytes than the slot declared, by PUT and in a batch, and stores nothing", async () => {
    // Quotas are checked on the sizes a slot request declares: a chunk of 1 byte, declared,
    // must not bring 100 KB.
    const big = bytes(100_000, 3);
    const h = sha(big);
    expect((await put(h, big, upload({ hash: h, size: 1 }))).status).toBe(413);
    const batched = await batch([{ hash: h, bytes: big }], upload({ hash: h, size: 1 }));
    expect(batched.status).toBe(413);
    expect(((await batched.json()) as { error: string }).error).toBe(`Chunk ${h} has 100000 bytes, its slot declared 1`);
    expect(await f.blobs.has(h)).toBe(false);
    // Declared right, the same bytes are taken.
    expect((await put(h, big, upload({ hash: h, size: big.length }))).status).toBe(201);
    await noTemp();
  });

  it("does not send 100 Continue for a request it refuses", async () => {
    const h = sha(bytes(10));
    const { req, response } = raw(f, "PUT", h, { ...auth(upload(h)), "content-length": MAX + 1, expect: "100-continue" });
    let continued = false;
    req.on("continue", () => (continued = true));
    req.flushHeaders();
    expect((await response).statusCode).toBe(413);
    expect(continued).toBe(false);
    req.destroy();
  });

  it("resumes an upload: 308 with the received range, HEAD with Upload-Offset, 409 at a wrong offset", async () => {
    const data = bytes(100_000, 3);
    const h = sha(data);
    const t = upload(h);
    const part = (a: number, b: number) => put(h, data.subarray(a, b), t, { "content-range": `bytes ${a}-${b - 1}/100000` });
    const first = await part(0, 40_000);
    expect(first.status).toBe(308);
    expect(first.headers.get("range")).toBe("bytes=0-39999");
    expect(first.headers.get("upload-offset")).toBe("40000");
    const probe = await head(h, t);
    expect([probe.status, probe.headers.get("upload-offset")]).toEqual([404, "40000"]);
    const wrong = await part(50_000, 100_000);
    expect([wrong.status, wrong.headers.get("upload-offset")]).toEqual([409, "40000"]);
    expect((await part(40_000, 100_000)).status).toBe(201);
    expect(f.recorded).toEqual([{ hash: h, size: 100_000, uploader: ALICE }]);
    expect(Buffer.from(await (await get(h, download(h))).arrayBuffer()).equals(data)).toBe(true);
    expect((await put(h, data, t, { "content-range": "bytes 0-99999/300000" })).status).toBe(413);
    expect((await put(h, data, t, { "content-range": "bytes 5-1/100000" })).status).toBe(400);
  });

  it("serves ranges: first byte, middle, suffix, open-ended; 416 past the end", async () => {
    const data = bytes(5000, 4);
    const h = sha(data);
    await put(h, data, upload(h));
    const t = download(h);
    const range = async (r: string) => {
      const res = await get(h, t, { range: r });
      return { status: res.status, cr: res.headers.get("content-range"), body: Buffer.from(await res.arrayBuffer()) };
    };
    expect(await range("bytes=0-0")).toEqual({ status: 206, cr: "bytes 0-0/5000", body: data.subarray(0, 1) });
    expect(await range("bytes=1000-1999")).toEqual({ status: 206, cr: "bytes 1000-1999/5000", body: data.subarray(1000, 2000) });
    expect(await range("bytes=-10")).toEqual({ status: 206, cr: "bytes 4990-4999/5000", body: data.subarray(4990) });
    expect(await range("bytes=4999-")).toEqual({ status: 206, cr: "bytes 4999-4999/5000", body: data.subarray(4999) });
    expect(await range("bytes=4000-9999")).toMatchObject({ status: 206, cr: "bytes 4000-4999/5000" });
    expect(await range("bytes=5000-")).toMatchObject({ status: 416, cr: "bytes */5000" });
    expect(await range("bytes=0-1,5-6")).toMatchObject({ status: 200, body: data });
  });

  it("uploads 50 chunks in one batch, then serves each", async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => bytes(1000 + i * 997, i));
    const records = chunks.map((b) => ({ hash: sha(b), bytes: b }));
    const t = upload(...records.map((r) => r.hash));
    const r = await batch(records, t);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ stored: 50, created: 50 });
    expect(await (await batch(records, t)).json()).toEqual({ stored: 50, created: 0 });
    const d = download(...records.map((r) => r.hash));
    for (const rec of records) {
      const res = await get(rec.hash, d);
      expect(Buffer.from(await res.arrayBuffer()).equals(rec.bytes)).toBe(true);
    }
    expect(new Set(f.recorded.map((x) => x.hash)).size).toBe(50);
    expect(f.recordCalls).toEqual([50, 50]); // one metadata call per batch
  });

  it("stops a batch at a corrupt record, keeping the records before it", async () => {
    const records = Array.from({ length: 20 }, (_, i) => ({ hash: sha(bytes(3000, i)), bytes: bytes(3000, i) }));
    records[10] = { hash: records[10]!.hash, bytes: bytes(3000, 99) };
    const r = await batch(records, upload(...records.map((x) => x.hash)));
    expect(r.status).toBe(422);
    const body = (await r.json()) as { stored: number; failed: number };
    expect(body.failed).toBe(10);
    expect(body.stored).toBeGreaterThanOrEqual(10);
    const d = download(...records.map((x) => x.hash));
    for (let i = 0; i < 10; i++) expect((await get(records[i]!.hash, d)).status).toBe(200);
    expect((await get(records[10]!.hash, d)).status).toBe(404);
    // The records stored before the failure were recorded, in one call, before the answer.
    expect(f.recordCalls).toEqual([body.stored]);
    expect(f.recorded.map((x) => x.hash)).toEqual(expect.arrayContaining(records.slice(0, 10).map((x) => x.hash)));
    await noTemp();
  });

  it("downloads chunks in one batch-get, in request order, repeats and the empty chunk included", async () => {
    const chunks = [...Array.from({ length: 30 }, (_, i) => bytes(500 + i * 7919, i)), new Uint8Array(0)];
    const recs = chunks.map((b) => ({ hash: sha(b), bytes: Buffer.from(b) }));
    expect((await batch(recs, upload(...recs.map((r) => r.hash)))).status).toBe(200);
    // Reversed, with one chunk asked twice (no more hashes than the token names).
    const order = [...recs].reverse();
    order[0] = recs[3]!;
    const r = await batchGet(order.map((x) => x.hash), download(...recs.map((x) => x.hash)));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    const expected = order.reduce((n, x) => n + 36 + x.bytes.length, 0);
    expect(r.headers.get("content-length")).toBe(String(expected));
    const got = await records(r);
    expect(got.map((x) => x.hash)).toEqual(order.map((x) => x.hash));
    got.forEach((x, i) => expect(x.bytes.equals(order[i]!.bytes)).toBe(true));
    const empty = await batchGet([], download(recs[0]!.hash));
    expect([empty.status, (await empty.arrayBuffer()).byteLength]).toEqual([200, 0]);
  });

  it("batch-get of megabytes: scattered and adjacent chunks, several at once, every byte right", async () => {
    // Enough bytes for many read runs and read-ahead; chunks stored in two uploads with deletes
    // in between, so that some lie next to each other in a pack and some do not.
    const chunks = Array.from({ length: 90 }, (_, i) => bytes(20_000 + ((i * 7919) % 200_000), 300 + i));
    const recs = chunks.map((b) => ({ hash: sha(b), bytes: b }));
    expect((await batch(recs.slice(0, 45), upload(...recs.map((r) => r.hash)))).status).toBe(200);
    for (const r of recs.slice(10, 20)) await f.blobs.delete(r.hash);
    expect((await batch(recs.slice(10, 90), upload(...recs.map((r) => r.hash)))).status).toBe(200);
    const token = download(...recs.map((r) => r.hash));
    const orders = [recs, [...recs].reverse(), recs.filter((_, i) => i % 3 === 0), [...recs.slice(40), ...recs.slice(0, 40)]];
    const answers = await Promise.all(orders.map((o) => batchGet(o.map((r) => r.hash), token)));
    for (const [k, r] of answers.entries()) {
      expect(r.status).toBe(200);
      const got = await records(r);
      expect(got.map((x) => x.hash)).toEqual(orders[k]!.map((x) => x.hash));
      got.forEach((x, i) => expect(x.bytes.equals(orders[k]![i]!.bytes)).toBe(true));
    }
    // A chunk larger than a read run (stored directly: over this server's upload limit).
    const big = bytes(1_600_000, 399);
    await f.blobs.put(sha(big), (async function* () { yield big; })(), { maxBytes: 2_000_000 });
    const mixed = [recs[0]!, { hash: sha(big), bytes: big }, recs[1]!];
    const r = await batchGet(mixed.map((x) => x.hash), download(...mixed.map((x) => x.hash)));
    const got = await records(r);
    expect(got.map((x) => x.hash)).toEqual(mixed.map((x) => x.hash));
    got.forEach((x, i) => expect(x.bytes.equals(mixed[i]!.bytes)).toBe(true));
  });

  it("refuses batch-get before sending a byte: 401, 403 (first hash not covered), 404 (first missing), 400, 413, 405", async () => {
    const have = bytes(2000, 1);
    const h = sha(have);
    const missing = sha(bytes(2000, 2));
    const other = sha(bytes(2000, 3));
    expect((await put(h, have, upload(h))).status).toBe(201);
    expect((await fetch(`${f.base}batch-get`, { method: "POST", body: encodeHashList([h]) })).status).toBe(401);
    expect((await batchGet([h], upload(h))).status).toBe(403);
    const notCovered = await batchGet([h, other], download(h, missing));
    expect(notCovered.status).toBe(403);
    expect(await notCovered.json()).toMatchObject({ hash: other, index: 1 });
    const absent = await batchGet([h, missing, other], download(h, missing, other));
    expect(absent.status).toBe(404);
    expect(await absent.json()).toMatchObject({ error: "No such chunk", hash: missing, index: 1 });
    expect((await batchGet(new Uint8Array(33), download(h, missing))).status).toBe(400);
    expect((await batchGet([h, h, h], download(h, missing))).status).toBe(413);
    expect((await fetch(`${f.base}batch-get`, { headers: auth(download(h)) })).status).toBe(405);
    // Refusals leave the connection usable and the chunk still downloadable.
    const ok = await batchGet([h], download(h));
    expect((await records(ok))[0]!.bytes.equals(have)).toBe(true);
  });

  it("a client that stops reading a large batch-get and goes away does not hurt the server", async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => bytes(200_000, 50 + i));
    const recs = chunks.map((b) => ({ hash: sha(b), bytes: b }));
    expect((await batch(recs, upload(...recs.map((r) => r.hash)))).status).toBe(200);
    const hashes = recs.map((r) => r.hash);
    const req = http.request({ host: "127.0.0.1", port: f.port, method: "POST", path: "/chunks/batch-get", headers: auth(download(...hashes)), agent: false });
    req.end(encodeHashList(hashes));
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => req.on("response", resolve).on("error", reject));
    expect(res.statusCode).toBe(200);
    // Read one piece, then stop reading (the server must wait for drain), then vanish.
    await new Promise<void>((resolve) => res.once("data", () => (res.pause(), resolve())));
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await logged(f, 2);
    expect(f.logs.at(-1)!.status).toBe("aborted");
    const again = await batchGet(hashes.slice(0, 3), download(...hashes));
    const got = await records(again);
    got.forEach((x, i) => expect(x.bytes.equals(recs[i]!.bytes)).toBe(true));
  });

  it("refuses batches: chunk not in the token (403), truncated (400), oversized record (413)", async () => {
    const a = bytes(500, 1);
    const b = bytes(500, 2);
    const notCovered = await batch([{ hash: sha(a), bytes: a }, { hash: sha(b), bytes: b }], upload(sha(a)));
    expect(notCovered.status).toBe(403);
    expect(await notCovered.json()).toMatchObject({ stored: 1, failed: 1 });
    const [header, payload] = encodeBatch([{ hash: sha(b), bytes: b }]);
    expect((await batch([header!, payload!.subarray(0, 100)], upload(sha(b)))).status).toBe(400);
    expect((await batch([recordHeader(sha(b), MAX + 1), new Uint8Array(10)], upload(sha(b)))).status).toBe(413);
    expect((await fetch(`${f.base}batch`, { method: "POST", body: a })).status).toBe(401);
  });

  it("answers 400, 404 and 405 for bad paths and methods", async () => {
    const t = upload(sha(bytes(1)));
    expect((await put("ABC", bytes(1), t)).status).toBe(400);
    expect((await put("../../etc/passwd", bytes(1), t)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${f.port}/other`)).status).toBe(404);
    const del = await fetch(`${f.base}${sha(bytes(1))}`, { method: "DELETE", headers: auth(t) });
    expect([del.status, del.headers.get("allow")]).toEqual([405, "GET, HEAD, PUT"]);
    expect((await fetch(`${f.base}batch`, { headers: auth(t) })).status).toBe(405);
  });

  it("raw dot-dot, encoded and double-encoded paths, and huge headers: refused, and nothing outside the data directory is touched", async () => {
    // fetch() would normalise the URL; these go on the wire as written.
    const wire = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.connect(f.port, "127.0.0.1");
        let got = "";
        sock.on("data", (b) => (got += b.toString()));
        sock.on("error", reject);
        sock.on("close", () => resolve(got.split("\r\n")[0]!));
        sock.end(head);
      });
    const before = f.dir ? await readdir(f.dir, { recursive: true }) : [];
    const t = upload(sha(bytes(1)));
    const statuses: string[] = [];
    for (const target of ["/chunks/../../etc/passwd", "/chunks/..%2f..%2fetc%2fpasswd", "/chunks/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/chunks/%252e%252e%252fetc%252fpasswd", "/chunks/..\\..\\etc\\passwd", "/chunks/" + "%2e%2e/".repeat(20) + "tmp%2fx"]) {
      statuses.push(await wire(`PUT ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`));
    }
    for (const line of statuses) expect(line).toMatch(/^HTTP\/1\.1 (400|404) /);
    const huge = await wire(`GET /chunks/${sha(bytes(1))} HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`);
    expect(huge).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    if (f.dir) expect(await readdir(f.dir, { recursive: true })).toEqual(before);
    // Still serving.
    const ok = bytes(10, 9);
    expect((await put(sha(ok), ok, upload(sha(ok)))).status).toBe(201);
  });

  it("a client that disconnects mid-upload leaves nothing visible, and the server keeps serving", async () => {
    const data = bytes(200_000, 5);
    const h = sha(data);
    const { req, response } = raw(f, "PUT", h, { ...auth(upload(h)), "content-length": data.length });
    response.catch(() => undefined);
    req.write(data.subarray(0, 100_000));
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await logged(f, 1);
    expect(f.logs[0]!.status).toBe("aborted");
    expect(await f.blobs.has(h)).toBe(false);
    await noTemp();
    expect((await put(h, data, upload(h))).status).toBe(201);
  });

  it("a resumable part cut short keeps what arrived, and the upload continues from there", async () => {
    const data = bytes(200_000, 6);
    const h = sha(data);
    const t = upload(h);
    const { req, response } = raw(f, "PUT", h, { ...auth(t), "content-length": data.length, "content-range": "bytes 0-199999/200000" });
    response.catch(() => undefined);
    req.write(data.subarray(0, 120_000));
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await logged(f, 1);
    const offset = Number((await head(h, t)).headers.get("upload-offset"));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(120_000);
    const rest = await put(h, data.subarray(offset), t, { "content-range": `bytes ${offset}-199999/200000` });
    expect(rest.status).toBe(201);
  });

  it("closes gracefully: finishes uploads within the grace period, cuts the rest", async () => {
    const data = bytes(100_000, 7);
    const h = sha(data);
    const quick = raw(f, "PUT", h, { ...auth(upload(h)), "content-length": data.length });
    quick.req.write(data.subarray(0, 50_000));
    const other = bytes(100_000, 8);
    const stuck = raw(f, "PUT", sha(other), { ...auth(upload(sha(other))), "content-length": other.length });
    stuck.response.catch(() => undefined);
    stuck.req.write(other.subarray(0, 50_000));
    await new Promise((r) => setTimeout(r, 50));
    const closing = closeChunkServer(f.server, { graceMs: 300 });
    quick.req.end(data.subarray(50_000));
    expect((await quick.response).statusCode).toBe(201);
    await closing;
    await expect(stuck.response).rejects.toThrow();
    expect(await f.blobs.has(h)).toBe(true);
    expect(await f.blobs.has(sha(other))).toBe(false);
    await noTemp();
    await expect(fetch(`${f.base}${h}`)).rejects.toThrow();
  });
});

describe("batch body parsing", () => {
  const collect = async (pieces: Uint8Array[], max: number) => {
    const out: { hash: string; bytes: Buffer }[] = [];
    for await (const r of parseBatch((async function* () { yield* pieces; })(), max)) out.push({ hash: r.hash, bytes: Buffer.concat(r.pieces) });
    return out;
  };

  it("yields the same records however the body is cut into pieces", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.nat(4000), { maxLength: 12 }), async (chunks, cuts) => {
        const body = Buffer.concat(encodeBatch(chunks.map((b) => ({ hash: sha(b), bytes: b }))));
        const points = [...new Set([0, ...cuts.map((c) => c % (body.length + 1)), body.length])].sort((a, b) => a - b);
        const pieces = points.slice(1).map((end, i) => body.subarray(points[i], end));
        const records = await collect(pieces, 1000);
        expect(records.map((r) => r.hash)).toEqual(chunks.map((b) => sha(b)));
        records.forEach((r, i) => expect(r.bytes.equals(Buffer.from(chunks[i]!))).toBe(true));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a body cut inside a header or a record, and an oversized record", async () => {
    const [header, payload] = encodeBatch([{ hash: sha(bytes(10)), bytes: bytes(10) }]);
    await expect(collect([header!.subarray(0, 20)], 100)).rejects.toThrow(/ends inside/);
    await expect(collect([header!, payload!.subarray(0, 5)], 100)).rejects.toThrow(/ends inside/);
    await expect(collect([header!, payload!], 9)).rejects.toThrow(/limit 9/);
  });
});

describe("storing a batch (storeBatch)", () => {
  const recs = (sizes: number[]) => sizes.map((size, i) => ({ hash: sha(bytes(8, i)), bytes: new Uint8Array(size) }));
  /** A body of those records, a header or a record's bytes per piece (the store does not verify here). */
  const from = (rs: { hash: ChunkHash; bytes: Uint8Array }[]) => (async function* () { yield* encodeBatch(rs); })();
  /** A store whose calls finish in a shuffled order; records the most running at once. */
  const store = (fail?: number) => {
    const s = { running: 0, most: 0, bytes: 0, mostBytes: 0, seen: [] as number[] };
    return Object.assign(s, {
      fn: async (rec: BatchRecord) => {
        const i = Number(rec.hash === sha(bytes(8, fail ?? -1)) ? -1 : 0);
        s.running++;
        s.bytes += rec.size;
        s.most = Math.max(s.most, s.running);
        s.mostBytes = Math.max(s.mostBytes, s.bytes);
        await new Promise((r) => setTimeout(r, (rec.size * 7) % 5));
        s.running--;
        s.bytes -= rec.size;
        s.seen.push(rec.size);
        if (i < 0) throw new Error("refused");
        return rec.size % 2 === 0;
      },
    });
  };

  it("stores every record, at most `concurrency` (and about maxInflightBytes) at a time", async () => {
    const sizes = Array.from({ length: 50 }, (_, i) => 10 + i);
    const s = store();
    const r = await storeBatch(from(recs(sizes)), { maxRecordBytes: MAX, concurrency: 4, maxInflightBytes: 100, maxRecords: 50, admit: () => undefined, store: s.fn });
    expect(r).toEqual({ stored: 50, created: sizes.filter((x) => x % 2 === 0).length });
    expect(s.seen.sort((a, b) => a - b)).toEqual(sizes);
    expect(s.most).toBeLessThanOrEqual(4);
    expect(s.mostBytes).toBeLessThan(100 + 60);
    expect(s.running).toBe(0);
  });

  it("a refused record stops the batch after the ones started; a refusal before starting names its index", async () => {
    const s = store(3);
    const err = await storeBatch(from(recs(Array.from({ length: 20 }, () => 5))), { maxRecordBytes: MAX, concurrency: 2, maxRecords: 20, admit: () => undefined, store: s.fn }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect((err as BatchError).result.failed).toBe(3);
    expect(s.running).toBe(0); // nothing still running once it rejects
    expect((err as BatchError).result.stored).toBe(s.seen.length - 1);
    const admitted = (await storeBatch(from(recs([1, 2, 3])), {
      maxRecordBytes: MAX,
      concurrency: 2,
      maxRecords: 3,
      admit: (h) => {
        if (h === sha(bytes(8, 2))) throw new Error("not in token");
      },
      store: store().fn,
    }).catch((e: unknown) => e)) as BatchError;
    expect(admitted.result).toEqual({ stored: 2, created: 1, failed: 2 });
    const tooMany = (await storeBatch(from(recs([1, 2, 3])), { maxRecordBytes: MAX, concurrency: 2, maxRecords: 2, admit: () => undefined, store: store().fn }).catch((e: unknown) => e)) as BatchError;
    expect(tooMany.result.failed).toBe(2);
  });

  it("reads the body piece by piece: a body cut inside a record, or an oversized record, fails at that record", async () => {
    const body = Buffer.concat(encodeBatch(recs([10, 20, 30])));
    const pieces = (cuts: number[]) => (async function* () { for (let i = 0; i < cuts.length - 1; i++) yield body.subarray(cuts[i], cuts[i + 1]); })();
    // Headers and records split across pieces every which way, several records in one piece.
    const s = store();
    expect(await storeBatch(pieces([0, 1, 37, 40, 70, body.length]), { maxRecordBytes: MAX, concurrency: 2, maxRecords: 3, admit: () => undefined, store: s.fn })).toEqual({ stored: 3, created: 3 });
    expect(s.seen.sort((a, b) => a - b)).toEqual([10, 20, 30]);
    const cut = (await storeBatch(pieces([0, 50, body.length - 1]), { maxRecordBytes: MAX, concurrency: 2, maxRecords: 3, admit: () => undefined, store: store().fn }).catch((e: unknown) => e)) as BatchError;
    expect(cut.result).toEqual({ stored: 2, created: 2, failed: 2 });
    expect(cut.message).toMatch(/ends inside/);
    const big = (await storeBatch(pieces([0, body.length]), { maxRecordBytes: 25, concurrency: 2, maxRecords: 3, admit: () => undefined, store: store().fn }).catch((e: unknown) => e)) as BatchError;
    expect(big.result).toEqual({ stored: 2, created: 2, failed: 2 });
    expect(big.message).toMatch(/limit 25/);
  });
});

describe("GET /health", () => {
  it("answers 200 while the component is connected, 503 when not, and only to GET or HEAD", async () => {
    let ok = true;
    const blobs = new MemoryBlobStore();
    const server = createChunkServer({
      blobs,
      tokens: new TokenRegistry({ now: () => 0, random: () => "t", ttlMs: 1000 }),
      metadata: { addChunks: async () => undefined },
      log: pino({ level: "silent" }),
      limits: { maxChunkBytes: 1024 },
      now: () => 0,
      health: () => ({ ok, domain: "share.example.org", xmpp: ok ? "connected" : "connecting" }),
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    try {
      const up = await fetch(url);
      expect(up.status).toBe(200);
      expect(up.headers.get("content-type")).toBe("application/json");
      expect(await up.json()).toEqual({ status: "ok", domain: "share.example.org", xmpp: "connected" });
      ok = false;
      const down = await fetch(url);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: "unavailable", domain: "share.example.org", xmpp: "connecting" });
      expect((await fetch(url, { method: "HEAD" })).status).toBe(503);
      expect((await fetch(url, { method: "POST", body: "x" })).status).toBe(405);
    } finally {
      await closeChunkServer(server, { graceMs: 100 });
    }
  });
});
