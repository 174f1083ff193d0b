/**
 * HTTP chunk server (XEP-draft.md § 5.9): the only way chunk bytes reach or leave the component.
 *
 *   PUT  /chunks/<hash>    upload token; body = the chunk → 201 new, 200 already stored.
 *                          With `Content-Range: bytes a-b/total` a part of a resumable upload
 *                          (kept per member): 308 + `Range: bytes=0-<n-1>` + `Upload-Offset: n`
 *                          until complete; a part at the wrong offset → 409 + `Upload-Offset`.
 *   HEAD /chunks/<hash>    200 + Content-Length when stored, else 404 (+ `Upload-Offset` for an
 *                          upload token: where a resumable upload continues).
 *   GET  /chunks/<hash>    download token; one `Range: bytes=` range → 206; immutable caching.
 *   POST /chunks/batch     upload token covering every record; body per component/batch.ts.
 *   POST /chunks/batch-get download token covering every hash; body = raw 32-byte hashes back
 *                          to back (at most as many as the token names); 200 with records
 *                          [hash][4-byte BE length][bytes] in request order, Content-Length
 *                          known up front. Every hash is checked (403, then 404 naming the
 *                          first missing one, JSON) before any byte is sent; a chunk deleted
 *                          while the answer streams cuts the connection (short body).
 *   GET  /health           200 {"status":"ok",…} while connected to the XMPP server, else 503.
 *   *    /web, /web/…      the web interface (component/web/router.ts), when `web` is given.
 *
 * Status codes: 400 malformed, 401 missing/unknown/expired token, 403 token not for this chunk
 * or direction, 404, 405, 409, 413 (by Content-Length before reading, or as soon as the body
 * exceeds the limit), 416, 422 hash mismatch, 503 store closed, 500 otherwise.
 *
 * Invariants: a chunk is recorded (`metadata.addChunks`) only after the store verified it (a
 * batch records every chunk it stored in one call before answering, also when it fails midway); nothing
 * a client sends or fails to send can crash the process or leave unverified bytes visible. A
 * refused request's unread body is drained (up to DRAIN_LIMIT) so keep-alive connections stay
 * usable; beyond that the connection is closed. One debug log line per request; 5xx, hash
 * mismatches and store failures at warn.
 */
import http from "node:http";
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { ShareError } from "../protocol/errors.ts";
import { isChunkHash, type BareJid, type ChunkHash } from "../protocol/ids.ts";
import type { Direction } from "../protocol/stanzas/slots.ts";
import { HASH_BYTES, parseHashList, recordHeader } from "../protocol/batch.ts";
import { BatchError, storeBatch } from "./batch.ts";
import { Body, drained, expectsContinue } from "./http-body.ts";
import type { BlobStore, ByteRange } from "./store/blobs.ts";
import type { MetadataStore } from "./store/metadata.ts";
import { OUT_OF_SPACE_TEXT, isOutOfSpace } from "./out-of-space.ts";
import type { Grant, TokenRegistry } from "./tokens.ts";

export interface ChunkServerDeps {
  readonly blobs: BlobStore;
  readonly tokens: TokenRegistry;
  readonly metadata: Pick<MetadataStore, "addChunks">;
  readonly log: Logger;
  readonly limits: { readonly maxChunkBytes: number };
  readonly now: () => number;
  /** `POST /iq`: protocol IQs over HTTP (see iq-bridge.ts); 404 when absent. */
  readonly iqBridge?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  /**
   * `GET /health` (container health checks, load balancers): 200 when `ok`, else 503; the
   * object is the JSON body. 404 when absent.
   */
  readonly health?: () => { readonly ok: boolean; readonly [key: string]: unknown };
  /**
   * Called once per batch upload received and batch download sent in full: the member, the
   * bytes moved and the ms they took (the throughput contacts.ts reports, XEP-draft.md § 5.15).
   */
  readonly onTransfer?: (member: BareJid, direction: "up" | "down", bytes: number, ms: number) => void;
  /** `/web` and everything under it: the web interface (component/web/router.ts); 404 when absent. */
  readonly web?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
}

const PREFIX = "/chunks/";
const CACHE = "private, max-age=31536000, immutable";
const OCTETS = "application/octet-stream";
/**
 * Records of one batch stored at the same time, and their bytes: overlaps file I/O with
 * parsing, and lets the store write many small chunks at once (PackBlobStore coalesces them).
 */
const BATCH_CONCURRENCY = 32;
const BATCH_INFLIGHT_BYTES = 8 * 1024 * 1024;
const DRAIN_LIMIT = 8 * 1024 * 1024;
/** Batch download: chunk reads run ahead of the socket by up to this many bytes (at least one chunk). */
const READAHEAD_BYTES = 4 * 1024 * 1024;
/** A batch record's header: the raw hash and a 4-byte length. */
const HEADER_BYTES = HASH_BYTES + 4;
/** Handlers still running, per server, for closeChunkServer. */
const running = new WeakMap<http.Server, Set<Promise<void>>>();

class HttpError extends Error {
  constructor(
    readonly status: number,
    text: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(text);
  }
}

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

export function createChunkServer(deps: ChunkServerDeps): http.Server {
  const tasks = new Set<Promise<void>>();
  const onRequest = (req: Req, res: Res) => {
    const task = serve(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err }, "chunk request handler failed");
      res.destroy();
    });
    tasks.add(task);
    void task.finally(() => tasks.delete(task));
  };
  const server = http.createServer(onRequest);
  // `Expect: 100-continue` is answered only once auth and size checks passed and the body is read.
  server.on("checkContinue", onRequest);
  running.set(server, tasks);
  return server;
}

/**
 * Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts the remaining
 * connections (their uploads fail and leave nothing visible) and waits for their handlers.
 */
export async function closeChunkServer(server: http.Server, opts: { graceMs: number }): Promise<void> {
  const tasks = running.get(server) ?? new Set();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const within = (ms: number, p: Promise<unknown>) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      void p.finally(() => (clearTimeout(t), resolve()));
    });
  await within(opts.graceMs, Promise.allSettled([...tasks]));
  server.closeAllConnections();
  await within(Math.max(opts.graceMs, 1000), Promise.allSettled([...tasks]));
  await closed;
}

async function serve(deps: ChunkServerDeps, req: Req, res: Res): Promise<void> {
  const started = deps.now();
  const body = new Body(req, res);
  req.on("error", () => undefined); // surfaced through the body iterator instead
  res.on("error", () => undefined);
  let problem: { err: unknown; text: string } | undefined;
  try {
    await route(deps, req, res, body);
  } catch (err) {
    const h = toHttpError(err);
    problem = { err, text: h.message };
    if (!gone(req, res)) respond(req, res, body, h.status, h.message, h.headers);
  }
  const line = { method: req.method, path: req.url, status: gone(req, res) && !res.writableFinished ? "aborted" : res.statusCode, bytesIn: body.read, ms: deps.now() - started };
  if (problem && (res.statusCode >= 500 || res.statusCode === 422)) deps.log.warn({ ...line, err: problem.err }, problem.text);
  else deps.log.debug(problem ? { ...line, reason: problem.text } : line, "chunk request");
}

async function route(deps: ChunkServerDeps, req: Req, res: Res, body: Body): Promise<void> {
  const path = (req.url ?? "").split("?")[0]!;
  if (path === "/iq" && deps.iqBridge) return deps.iqBridge(req, res);
  if ((path === "/web" || path.startsWith("/web/")) && deps.web) return deps.web(req, res);
  if (path === "/health" && deps.health) {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "Use GET", { Allow: "GET, HEAD" });
    const { ok, ...rest } = deps.health();
    const text = `${JSON.stringify({ status: ok ? "ok" : "unavailable", ...rest })}\n`;
    return respond(req, res, body, ok ? 200 : 503, text, { "Content-Type": "application/json", "Cache-Control": "no-store" });
  }
  if (!path.startsWith(PREFIX)) throw new HttpError(404, "Not found");
  const name = path.slice(PREFIX.length);
  if (name === "batch" || name === "batch-get") {
    if (req.method !== "POST") throw new HttpError(405, "Use POST", { Allow: "POST" });
    return name === "batch" ? postBatch(deps, req, res, body) : postBatchGet(deps, req, res, body);
  }
  if (!isChunkHash(name)) throw new HttpError(400, "Not a chunk hash (64 lowercase hex digits)");
  if (req.method === "PUT") return put(deps, req, res, body, name);
  if (req.method === "GET") return get(deps, req, res, name);
  if (req.method === "HEAD") return head(deps, req, res, body, name);
  throw new HttpError(405, "Use GET, HEAD or PUT", { Allow: "GET, HEAD, PUT" });
}

async function put(deps: ChunkServerDeps, req: Req, res: Res, body: Body, hash: ChunkHash): Promise<void> {
  const grant = authorize(deps, req, "upload", hash);
  // The size the slot request declared, on which its quotas were checked: no more may arrive.
  const max = Math.min(deps.limits.maxChunkBytes, grant.hashes.get(hash)!);
  const length = contentLength(req);
  const header = req.headers["content-range"];
  let result;
  if (header !== undefined) {
    const part = parseContentRange(header);
    if (part.total > max) throw new HttpError(413, `Chunk larger than ${max} bytes (the size its slot declared)`);
    const size = part.end - part.start + 1;
    if (length !== undefined && length !== size) throw new HttpError(400, "Content-Length does not match Content-Range");
    const opts = { maxBytes: size, offset: part.start, total: part.total, key: grant.member };
    result = await deps.blobs.put(hash, body, opts);
  } else {
    if (length !== undefined && length > max) throw new HttpError(413, `Chunk larger than ${max} bytes (the size its slot declared)`);
    result = await deps.blobs.put(hash, body, { maxBytes: Math.min(max, length ?? max), stablePieces: true });
  }
  if (!result.complete) {
    const headers: Record<string, string> = { "Upload-Offset": String(result.received) };
    if (result.received > 0) headers.Range = `bytes=0-${result.received - 1}`;
    return respond(req, res, body, 308, "", headers);
  }
  await deps.metadata.addChunks([{ hash, size: result.size }], grant.member, deps.now());
  respond(req, res, body, result.created ? 201 : 200, "");
}

async function head(deps: ChunkServerDeps, req: Req, res: Res, body: Body, hash: ChunkHash): Promise<void> {
  const grant = authorize(deps, req, undefined, hash);
  const size = await deps.blobs.size(hash);
  if (size !== undefined) {
    res.writeHead(200, { "Content-Length": String(size), "Content-Type": OCTETS, ETag: `"${hash}"`, "Accept-Ranges": "bytes", "Cache-Control": CACHE });
    res.end();
    return;
  }
  const headers: Record<string, string> = {};
  if (grant.direction === "upload") headers["Upload-Offset"] = String(await deps.blobs.received(hash, grant.member));
  respond(req, res, body, 404, "No such chunk", headers);
}

async function get(deps: ChunkServerDeps, req: Req, res: Res, hash: ChunkHash): Promise<void> {
  authorize(deps, req, "download", hash);
  const size = await deps.blobs.size(hash);
  if (size === undefined) throw new HttpError(404, "No such chunk");
  const etag = `"${hash}"`;
  const common = { ETag: etag, "Cache-Control": CACHE, "Accept-Ranges": "bytes" };
  const inm = req.headers["if-none-match"];
  if (inm && (inm.trim() === "*" || inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag))) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  const ifRange = req.headers["if-range"] as string | undefined;
  const range = ifRange === undefined || ifRange.trim() === etag ? parseRange(req.headers.range, size) : undefined;
  if (range === "unsatisfiable") throw new HttpError(416, "Range not satisfiable", { "Content-Range": `bytes */${size}` });
  // Always an explicit range: lets the store read the exact byte count in one go.
  const stream = await deps.blobs.get(hash, size > 0 ? (range ?? { start: 0, end: size - 1 }) : undefined);
  if (!stream) throw new HttpError(404, "No such chunk");
  const headers: Record<string, string> = { ...common, "Content-Type": OCTETS };
  headers["Content-Length"] = String(range ? range.end - range.start + 1 : size);
  if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
  res.writeHead(range ? 206 : 200, headers);
  await send(stream, res);
}

/**
 * `stream.pipe(res)` with errors handled: a failing source cuts the response (the client sees a
 * short body, never a wrong one); a client that goes away stops the source. Lighter than
 * stream/promises `pipeline`, which costs an AbortController and a DOMException per call.
 */
function send(stream: Readable, res: Res): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => {
      stream.destroy();
      res.destroy();
      reject(err);
    };
    if (res.closed) return fail(new Error("client went away"));
    stream.once("error", fail);
    res.once("close", () => {
      if (!res.writableFinished) fail(new Error("client went away"));
      else resolve();
    });
    stream.pipe(res);
  });
}

async function postBatch(deps: ChunkServerDeps, req: Req, res: Res, body: Body): Promise<void> {
  const started = deps.now();
  const grant = authorize(deps, req, "upload", undefined);
  const max = deps.limits.maxChunkBytes;
  // Recorded all at once (one metadata transaction), also when the batch stops midway.
  const stored: { hash: ChunkHash; size: number }[] = [];
  const record = () => (stored.length > 0 ? deps.metadata.addChunks(stored, grant.member, deps.now()) : undefined);
  const putOptions = { maxBytes: max, stablePieces: true };
  try {
    const result = await storeBatch(body, {
      maxRecordBytes: max,
      concurrency: BATCH_CONCURRENCY,
      maxInflightBytes: BATCH_INFLIGHT_BYTES,
      maxRecords: grant.hashes.size,
      admit: (hash, size) => {
        const declared = grant.hashes.get(hash);
        if (declared === undefined) throw new HttpError(403, `Token does not cover chunk ${hash}`);
        if (size > declared) throw new HttpError(413, `Chunk ${hash} has ${size} bytes, its slot declared ${declared}`);
      },
      // The pieces are all here (an array): the store reads them without an await per piece.
      store: (rec) =>
        deps.blobs.put(rec.hash, rec.pieces, putOptions).then((r) => {
          if (!r.complete) throw new Error("whole-blob put returned a partial result");
          stored.push({ hash: rec.hash, size: r.size });
          return r.created;
        }),
    });
    await record();
    deps.onTransfer?.(grant.member, "up", body.read, deps.now() - started);
    respond(req, res, body, 200, JSON.stringify(result), { "Content-Type": "application/json" });
  } catch (err) {
    if (err instanceof BatchError) await record();
    if (!(err instanceof BatchError) || gone(req, res)) throw err instanceof BatchError ? err.reason : err;
    const h = toHttpError(err.reason);
    const json = JSON.stringify({ error: h.message, ...err.result });
    respond(req, res, body, h.status, json, { ...h.headers, "Content-Type": "application/json" });
  }
}

/** Batch download (XEP-draft.md § 5.9): decides everything, then streams the records. */
async function postBatchGet(deps: ChunkServerDeps, req: Req, res: Res, body: Body): Promise<void> {
  const started = deps.now();
  const grant = authorize(deps, req, "download", undefined);
  const limit = grant.hashes.size * HASH_BYTES;
  const length = contentLength(req);
  const tooMany = () => new HttpError(413, `More hashes than the token names (${grant.hashes.size})`);
  if (length !== undefined && length > limit) throw tooMany();
  const parts: Buffer[] = [];
  let n = 0;
  for await (const piece of body) {
    n += piece.length;
    if (n > limit) throw tooMany();
    parts.push(piece);
  }
  const hashes = parseHashList(Buffer.concat(parts, n));
  const refuse = (status: number, error: string, i: number) =>
    respond(req, res, body, status, JSON.stringify({ error, hash: hashes[i], index: i }), { "Content-Type": "application/json" });
  const uncovered = hashes.findIndex((h) => !grant.hashes.has(h));
  if (uncovered >= 0) return refuse(403, "Token does not cover this chunk", uncovered);
  const found = await deps.blobs.sizes(hashes);
  const absent = found.indexOf(undefined);
  if (absent >= 0) return refuse(404, "No such chunk", absent);
  const sizes = found as number[];
  const total = sizes.reduce((sum, size) => sum + HEADER_BYTES + size, 0);
  res.writeHead(200, { "Content-Type": OCTETS, "Content-Length": String(total), "Cache-Control": "no-store" });
  if (deps.blobs.readInto) await sendRuns(deps.blobs as Required<Pick<BlobStore, "readInto">>, res, hashes, sizes);
  else await sendRecords(deps.blobs, res, hashes, sizes);
  if (res.writableFinished) deps.onTransfer?.(grant.member, "down", total, deps.now() - started);
}

/**
 * Buffers that batch downloads read chunks into, reused once the socket has taken their
 * bytes: a download then allocates (almost) nothing per byte, which keeps V8 from running a
 * full garbage collection every few MiB (freshly allocated buffers count as external memory).
 * A slab goes back to the pool only when every write of a view into it has called back without
 * error (the bytes are in the kernel then); otherwise it is simply left to the collector.
 */
class SlabPool {
  readonly #free: Buffer[] = [];
  constructor(
    readonly slabBytes: number,
    readonly maxFree: number,
  ) {}
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
  }
  give(b: Buffer): void {
    if (b.length === this.slabBytes && this.#free.length < this.maxFree) this.#free.push(b);
  }
}
/** Reads of a batch download are about this large (a run of adjacent chunks is one read). */
const SLAB_BYTES = 1024 * 1024;
const slabs = new SlabPool(SLAB_BYTES, 12);

interface Run {
  /** The records' bytes, headers included (a view of `slab`). */
  readonly bytes: Buffer;
  readonly slab: Buffer;
  /** Resolves once the slab holds the run's chunks. */
  readonly read: Promise<void>;
}

/**
 * `sendRecords` for stores with `readInto`: consecutive records are laid out in a pooled slab
 * exactly as they go on the wire (up to SLAB_BYTES, at least one record), the store reads the
 * chunks into their places, and the run goes out in one write; reads run READAHEAD_BYTES ahead
 * of the socket. Same answer, same failure behaviour (a chunk gone or changed cuts the response).
 */
async function sendRuns(blobs: Required<Pick<BlobStore, "readInto">>, res: Res, hashes: readonly ChunkHash[], sizes: readonly number[]): Promise<void> {
  const runs: Run[] = [];
  let next = 0;
  let ahead = 0;
  const start = () => {
    const first = next;
    let bytes = HEADER_BYTES + sizes[next++]!;
    while (next < hashes.length && bytes + HEADER_BYTES + sizes[next]! <= SLAB_BYTES) bytes += HEADER_BYTES + sizes[next++]!;
    const slab = bytes <= SLAB_BYTES ? slabs.take() : Buffer.allocUnsafeSlow(bytes);
    const views: Buffer[] = [];
    for (let i = first, off = 0; i < next; i++) {
      slab.write(hashes[i]!, off, HASH_BYTES, "hex");
      slab.writeUInt32BE(sizes[i]!, off + HASH_BYTES);
      off += HEADER_BYTES;
      views.push(slab.subarray(off, off + sizes[i]!));
      off += sizes[i]!;
    }
    const read = blobs.readInto(hashes.slice(first, next), sizes.slice(first, next), views);
    read.catch(() => undefined); // awaited in order below; never unhandled meanwhile
    runs.push({ bytes: slab.subarray(0, bytes), slab, read });
    ahead += bytes;
  };
  try {
    while (next < hashes.length || runs.length > 0) {
      while (next < hashes.length && (runs.length === 0 || ahead + HEADER_BYTES + sizes[next]! <= READAHEAD_BYTES)) start();
      const run = runs.shift()!;
      await run.read;
      ahead -= run.bytes.length;
      if (res.destroyed) throw new Error("client went away");
      // Back to the pool only once the socket took the bytes (an error: left to the collector).
      const ok = res.write(run.bytes, (err) => err || slabs.give(run.slab));
      if (!ok) await drained(res);
    }
    await endResponse(res);
  } catch (err) {
    res.destroy();
    throw err;
  }
}

/**
 * Writes `[hash][length][bytes]` per chunk, reading ahead of the socket by READAHEAD_BYTES and
 * waiting for 'drain' whenever the socket is full, so memory stays bounded however slow the
 * client. A chunk that vanished (or changed size) since the sizes were taken cuts the response.
 */
async function sendRecords(blobs: BlobStore, res: Res, hashes: readonly ChunkHash[], sizes: readonly number[]): Promise<void> {
  const reads: Promise<Buffer[]>[] = [];
  let next = 0;
  let ahead = 0;
  try {
    for (let i = 0; i < hashes.length; i++) {
      while (next < hashes.length && (reads.length === 0 || ahead + sizes[next]! <= READAHEAD_BYTES)) {
        const read = readChunk(blobs, hashes[next]!, sizes[next]!);
        read.catch(() => undefined); // awaited in order below; never unhandled meanwhile
        reads.push(read);
        ahead += sizes[next++]!;
      }
      const pieces = await reads.shift()!;
      ahead -= sizes[i]!;
      if (res.destroyed) throw new Error("client went away");
      res.cork();
      let ok = res.write(recordHeader(hashes[i]!, sizes[i]!));
      for (const p of pieces) ok = res.write(p);
      res.uncork();
      if (!ok) await drained(res);
    }
    await endResponse(res);
  } catch (err) {
    res.destroy();
    throw err;
  }
}

/** Ends a streamed response: resolves once flushed ('finish'), or if the client went away after the last write ('close'). */
function endResponse(res: Res): Promise<void> {
  return new Promise<void>((resolve) => {
    res.once("close", resolve);
    res.end(resolve);
  });
}

async function readChunk(blobs: BlobStore, hash: ChunkHash, size: number): Promise<Buffer[]> {
  const stream = await blobs.get(hash, size > 0 ? { start: 0, end: size - 1 } : undefined);
  if (!stream) throw new Error(`chunk ${hash} vanished while being sent`);
  const pieces = await new Promise<Buffer[]>((resolve, reject) => {
    const out: Buffer[] = [];
    stream.on("data", (p: Buffer) => out.push(p));
    stream.once("end", () => resolve(out));
    stream.once("error", reject);
  });
  if (pieces.reduce((sum, p) => sum + p.length, 0) !== size) throw new Error(`chunk ${hash} changed size while being sent`);
  return pieces;
}


/** The live grant of the request's bearer token, covering `direction` and `hash` when given. */
function authorize(deps: ChunkServerDeps, req: Req, direction: Direction | undefined, hash: ChunkHash | undefined): Grant {
  const m = /^Bearer +([^\s]+) *$/i.exec(req.headers.authorization ?? "");
  const grant = m ? deps.tokens.lookup(m[1]!) : undefined;
  if (!grant) {
    const challenge = m ? 'Bearer realm="chunks", error="invalid_token"' : 'Bearer realm="chunks"';
    throw new HttpError(401, m ? "Unknown or expired token" : "Missing bearer token", { "WWW-Authenticate": challenge });
  }
  if (direction && grant.direction !== direction) throw new HttpError(403, `Token is not for ${direction}`);
  if (hash && !grant.hashes.has(hash)) throw new HttpError(403, "Token does not cover this chunk");
  return grant;
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (isOutOfSpace(err)) return new HttpError(507, OUT_OF_SPACE_TEXT, { "Retry-After": "60" });
  if (!(err instanceof ShareError)) return new HttpError(500, "Internal error");
  switch (err.code) {
    case "hash-mismatch":
      return new HttpError(422, "Content does not match its SHA-256");
    case "too-large":
      return new HttpError(413, err.message);
    case "bad-request": {
      const offset = err.attrs.offset;
      return offset === undefined ? new HttpError(400, err.message) : new HttpError(409, err.message, { "Upload-Offset": offset });
    }
    case "forbidden":
      return new HttpError(403, err.message);
    case "not-found":
      return new HttpError(404, err.message);
    case "unavailable":
      return new HttpError(503, err.message);
    default:
      return new HttpError(500, "Internal error");
  }
}

/**
 * Sends a complete answer. If the body was not read to its end, the rest is drained (up to
 * DRAIN_LIMIT, then the connection is cut) or, when it is declared larger, the connection is
 * closed after the answer; an answer that cannot be sent any more (headers already out) cuts
 * the connection so the client sees a truncated response, not a wrong one.
 */
function respond(req: Req, res: Res, body: Body, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.complete) {
    const length = contentLength(req);
    const remaining = length === undefined ? 0 : length - body.read;
    if (remaining > DRAIN_LIMIT || (expectsContinue(req) && !body.started)) headers = { ...headers, Connection: "close" };
    let drained = 0;
    req.on("data", (c: Buffer) => {
      drained += c.length;
      if (drained > DRAIN_LIMIT) req.destroy();
    });
    req.resume();
  }
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function gone(req: Req, res: Res): boolean {
  return res.destroyed || req.socket.destroyed;
}

function contentLength(req: Req): number | undefined {
  const v = req.headers["content-length"];
  return v === undefined ? undefined : Number(v); // llhttp already refused malformed values
}

/** `bytes a-b/total` with a ≤ b < total. */
function parseContentRange(v: string): { start: number; end: number; total: number } {
  const m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(v.trim());
  const [start, end, total] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  if (!m || start > end || end >= total) throw new HttpError(400, "Content-Range must be bytes <first>-<last>/<total>");
  return { start, end, total };
}

/**
 * One `bytes=a-b`, `bytes=a-` or `bytes=-n` range (RFC 9110 § 14.1.2), clamped to the blob.
 * Anything else (several ranges, other units, malformed) is ignored: the whole blob is sent.
 */
function parseRange(v: string | undefined, size: number): ByteRange | "unsatisfiable" | undefined {
  const m = v === undefined ? null : /^bytes=(\d{0,15})-(\d{0,15})$/.exec(v.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    return n === 0 || size === 0 ? "unsatisfiable" : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end: m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1) };
}
