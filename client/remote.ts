/**
 * The sharing manager as the client sees it (XEP-draft.md §§ 5.8–5.11).
 *
 * XMPP carries one IQ here: `<session/>`, which proves who we are. Every other request goes
 * over HTTP (`POST /iq`) with the session token, because servers throttle what a client may
 * send (Prosody: 10 kB/s) and a sync moves index data in proportion to the folder. Chunk bytes
 * move in batches (`/chunks/batch`, `/chunks/batch-get`). Errors come back as ShareError.
 * Batch downloads are decoded and verified as they stream in (`RecordReader`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createHash } from "node:crypto";
import { Agent, type IncomingMessage, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { encodeBatch, encodeHashList, type Place, RecordReader } from "../protocol/batch.ts";
import { ShareError } from "../protocol/errors.ts";
import type { ChunkRef } from "../protocol/file.ts";
import type { ChunkHash, SpaceId } from "../protocol/ids.ts";
import * as CT from "../protocol/stanzas/contacts.ts";
import * as G from "../protocol/stanzas/groups.ts";
import * as I from "../protocol/stanzas/index-exchange.ts";
import { parseStanza } from "../protocol/stanzas/registry.ts";
import * as SE from "../protocol/stanzas/session.ts";
import * as SL from "../protocol/stanzas/slots.ts";
import * as S from "../protocol/stanzas/spaces.ts";
import type { ReplicaId } from "../protocol/ids.ts";
import { Element, parseXml, xmlPieces } from "../protocol/xml.ts";
import { release } from "./release.ts";
import type { Limiter } from "./schedule/bucket.ts";

/** Sends one IQ over XMPP and returns the reply stanza (as xmpp.js's iqCaller does). */
export type XmppRequest = (iq: Element) => Promise<Element>;

/**
 * A protocol IQ over XMPP: the payload value of the result, or the ShareError of an error
 * answer (xmpp.js rejects error answers with a StanzaError carrying the `<error/>` element).
 */
export async function xmppShareRequest<T>(send: XmppRequest, iq: Element): Promise<T> {
  let reply: Element;
  try {
    reply = await send(iq);
  } catch (err) {
    const el = (err as { element?: Element }).element;
    if (el) throw ShareError.fromElement(parseXml(el.toString()));
    throw err;
  }
  const parsed = parseStanza(parseXml(reply.toString()));
  if (parsed.context === "error") throw parsed.error;
  return parsed.value as T;
}

/**
 * Bytes per upload or download batch request. The uploader keeps PARALLEL + 1 buffers of this
 * size: 4 MiB (was 8) took 16 MiB off the sender's peak at no cost in time (npm run bench:client
 * with this constant at 8 and at 4, twice each: 1 GiB push 110-116 MB against 129-136 MB,
 * 10,000 files 135-137 against 141-144).
 */
export const BATCH_BYTES = 4 * 1024 * 1024;
/** Paths per commit request. */
export const COMMIT_BATCH = 5000;
/** Requests in flight at once. */
export const PARALLEL = 3;

/**
 * How one upload or download is paced (schedule.json, engine/schedule.ts); absent: as fast as
 * it goes, PARALLEL requests at once. The limiter is asked once per batch request, before it
 * is sent, for the batch's bytes, so a capped transfer costs nothing per chunk; batches are
 * kept to a quarter second of the tightest cap (see `batchBytes`), so that the cap holds over
 * seconds and not only on average.
 */
export interface TransferOptions {
  /** Every rate cap this transfer is subject to (device-wide, its space's). */
  readonly limiter?: Limiter;
  /** Requests in flight at once (the policy's `transfers`). */
  readonly parallel?: number;
  /** How to wait for the limiter (tests pass a fake clock's). */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Uploads only: asked before each batch is sent; a reason stops the upload there (batches in
   * flight finish) with `UploadStopped`. What was sent stays on the sharing manager.
   */
  readonly stop?: () => string | undefined;
}

/** An upload stopped at a batch boundary (`TransferOptions.stop`): `sent` bytes reached the sharing manager. */
export class UploadStopped extends Error {
  constructor(
    readonly reason: string,
    readonly sent: number,
  ) {
    super(`upload stopped after ${sent} bytes: ${reason}`);
    this.name = "UploadStopped";
  }
}

/** Smallest batch under a cap: a few chunks (the chunker's largest is 128 KiB). */
const MIN_CAPPED_BATCH = 256 * 1024;

/** Bytes per batch request: BATCH_BYTES, or a quarter second of the tightest cap in force. */
export function batchBytes(opts: TransferOptions | undefined): number {
  const rates = opts?.limiter?.buckets.map((b) => b.rate) ?? [];
  if (rates.length === 0) return BATCH_BYTES;
  return Math.max(MIN_CAPPED_BATCH, Math.min(BATCH_BYTES, Math.floor(Math.min(...rates) / 4)));
}

/** Waits until the limiter lets the batch's bytes go. */
async function pace(limiter: Limiter, opts: TransferOptions, batch: ReadonlyArray<{ size: number }>): Promise<void> {
  await limiter.acquire(batch.reduce((n, c) => n + c.size, 0), opts.sleep ?? sleep);
}

export interface ChunkSource {
  readonly hash: ChunkHash;
  readonly size: number;
  /** The chunk's bytes (read from a local file). */
  read(): Promise<Uint8Array>;
}

export type Progress = (bytes: number) => void;

/** Receives each downloaded chunk once it is verified (`Remote.download`). */
export interface ChunkSink {
  (hash: ChunkHash, bytes: Uint8Array): Promise<void>;
  /**
   * Optional: the buffer to assemble the chunk `hash` (`size` bytes) in as it arrives, exactly
   * `size` bytes long, or undefined for one of the download's own. What it holds is the chunk
   * only once the sink is called with it; a damaged download leaves anything there.
   */
  readonly place?: Place;
}

export class Remote {
  readonly #xmpp: XmppRequest;
  readonly #component: string;
  #session: SE.Session | undefined;
  readonly #agent: Agent;
  /** Bytes moved over HTTP in each direction (benchmarks and status read these). */
  readonly stats = { sent: 0, received: 0, requests: 0, iqs: {} as Record<string, number> };

  constructor(xmpp: XmppRequest, component: string) {
    this.#xmpp = xmpp;
    this.#component = component;
    this.#agent = new Agent({ keepAlive: true, maxSockets: PARALLEL + 1 });
  }

  close(): void {
    this.#agent.destroy();
  }

  async #session_(): Promise<SE.Session> {
    if (this.#session && this.#session.expiresMs - 60_000 > Date.now()) return this.#session;
    const iq = new Element("iq", { type: "get", to: this.#component });
    iq.cnode(SE.buildSessionRequest());
    this.#session = await xmppShareRequest<SE.Session>(this.#xmpp, iq);
    return this.#session;
  }

  /**
   * One HTTP request; resolves with status, headers and the whole body. A body given as pieces
   * is sent as they are (Content-Length set), not copied into one buffer first.
   */
  async #http(url: string, method: string, headers: Record<string, string>, body?: Uint8Array | string | readonly Uint8Array[]): Promise<{ status: number; body: Buffer }> {
    const res = await this.#open(url, method, headers, body);
    const parts: Buffer[] = [];
    for await (const b of this.#read(res)) parts.push(b);
    return { status: res.statusCode ?? 0, body: Buffer.concat(parts) };
  }

  /**
   * One HTTP request; resolves with the response as soon as its headers have arrived, for the
   * caller to read with `#read` as it streams. A reader that stops early must destroy it.
   */
  #open(url: string, method: string, headers: Record<string, string>, body?: Uint8Array | string | readonly Uint8Array[]): Promise<IncomingMessage> {
    const u = new URL(url);
    const send = u.protocol === "https:" ? httpsRequest : httpRequest;
    const pieces = Array.isArray(body) ? (body as readonly Uint8Array[]) : undefined;
    const length = pieces?.reduce((n, p) => n + p.byteLength, 0);
    return new Promise((resolve, reject) => {
      const req = send(u, { method, headers: length === undefined ? headers : { ...headers, "content-length": String(length) }, agent: u.protocol === "https:" ? undefined : this.#agent }, resolve);
      // After the response has started, a failure reaches its reader as the response's error.
      req.on("error", reject);
      this.stats.requests++;
      if (pieces) {
        this.stats.sent += length!;
        // Corked: the pieces leave in one writev, not one write each.
        req.cork();
        for (const p of pieces) req.write(p);
        req.end();
      } else if (body !== undefined) {
        const one = body as Uint8Array | string;
        this.stats.sent += typeof one === "string" ? Buffer.byteLength(one) : one.length;
        req.end(one);
      } else req.end();
    });
  }

  /** A response's body, piece by piece as it arrives (counted in `stats.received`). */
  async *#read(res: IncomingMessage): AsyncGenerator<Buffer> {
    for await (const b of res) {
      this.stats.received += (b as Buffer).length;
      yield b as Buffer;
    }
  }

  /**
   * One request whose 200 response body is handed to `onBody` piece by piece as it arrives;
   * reading waits while a promise `onBody` returned is pending. Any other status's body comes
   * back as `text`. A `transient` piece is valid only during the call (node's sockets give
   * each read a buffer of its own, so pieces here are not transient).
   */
  async #stream(url: string, method: string, headers: Record<string, string>, body: Uint8Array, onBody: (piece: Uint8Array, transient: boolean) => Promise<void> | undefined): Promise<{ status: number; text: string }> {
    const text: Buffer[] = [];
    let textBytes = 0;
    const other = (piece: Uint8Array) => {
      // An error body: its first few kilobytes are enough for a message.
      if (textBytes < 4096) text.push(Buffer.from(piece.subarray(0, 4096 - textBytes)));
      textBytes += piece.length;
      return undefined;
    };
    const res = await this.#open(url, method, headers, body);
    try {
      for await (const piece of this.#read(res)) {
        const wait = res.statusCode === 200 ? onBody(piece, false) : other(piece);
        if (wait) await wait;
      }
    } finally {
      if (!res.complete) res.destroy();
    }
    return { status: res.statusCode ?? 0, text: Buffer.concat(text).toString() };
  }

  /** A protocol IQ over HTTP; returns the payload value or throws the ShareError. */
  async request<T>(type: "get" | "set", payload: Element): Promise<T> {
    this.stats.iqs[payload.name] = (this.stats.iqs[payload.name] ?? 0) + 1;
    for (let attempt = 0; ; attempt++) {
      const session = await this.#session_();
      const iq = new Element("iq", { type, id: `h${this.stats.requests}` });
      iq.cnode(payload);
      let res: { status: number; body: Buffer };
      try {
        res = await this.#http(session.url, "POST", { authorization: `Bearer ${session.token}`, "content-type": "application/xml" }, xmlPieces(iq));
      } catch (err) {
        // The sharing manager restarted (perhaps on another port): ask it for a new session once.
        if (attempt > 0 || !isConnectionError(err)) throw err;
        this.#session = undefined;
        continue;
      }
      if (res.status === 401 && attempt === 0) {
        this.#session = undefined;
        continue;
      }
      if (res.status !== 200) throw new ShareError("unavailable", { text: `HTTP ${res.status} from the sharing manager: ${res.body.toString().trim()}` });
      const parsed = parseStanza(parseXml(res.body.toString("utf8")));
      if (parsed.context === "error") throw parsed.error;
      return parsed.value as T;
    }
  }

  spaces(): Promise<S.Space[]> {
    return this.request("get", S.buildSpaceListRequest());
  }
  space(id: SpaceId): Promise<S.Space> {
    return this.request("get", S.buildSpaceRef(id));
  }
  createSpace(req: S.CreateSpace): Promise<S.Space> {
    return this.request("set", S.buildCreateSpace(req));
  }
  createGroup(req: G.CreateGroup): Promise<G.Group> {
    return this.request("set", G.buildCreateGroup(req));
  }
  invite(req: S.Invite): Promise<S.Space> {
    return this.request("set", S.buildInvite(req));
  }
  async leave(space: SpaceId): Promise<void> {
    await this.request("set", S.buildLeaveSpace(space));
  }
  /** The members of a space as the sharing manager knows them (XEP-draft.md § 5.15). */
  contacts(space: SpaceId): Promise<CT.Contacts> {
    return this.request("get", CT.buildContactsRequest(space));
  }
  async ack(space: SpaceId, replica: ReplicaId, seq: number): Promise<void> {
    await this.request("set", I.buildAck({ space, replica, seq }));
  }

  /** Every index entry after `after`, page by page, until the page that reaches the head. */
  async *readIndex(space: SpaceId, after: number): AsyncGenerator<I.IndexPage> {
    for (;;) {
      const page = await this.request<I.IndexPage>("get", I.buildIndexQuery({ space, after, max: I.MAX_PAGE }));
      yield page;
      const last = Math.max(page.entries.at(-1)?.seq ?? 0, page.refused.at(-1)?.seq ?? 0);
      if (page.complete || last === 0) return;
      after = last;
    }
  }

  /**
   * Commits in batches of COMMIT_BATCH paths; returns the head after the last batch. Each
   * commit is acknowledged only once durable on the component (its chunks and index synced to
   * disk), so fewer, larger ones are faster; a batch stays a few MiB of XML, far below the
   * component's limit for an IQ over HTTP (32 MiB by default).
   */
  async commit(space: SpaceId, changes: readonly I.CommitChange[]): Promise<number> {
    let head = 0;
    for (let i = 0; i < changes.length; i += COMMIT_BATCH) {
      head = (await this.request<I.Committed>("set", I.buildCommit({ space, changes: changes.slice(i, i + COMMIT_BATCH) }))).head;
    }
    return head;
  }

  async #slots(space: SpaceId, direction: SL.Direction, chunks: readonly ChunkRef[]): Promise<SL.Slots[]> {
    const out: SL.Slots[] = [];
    for (let i = 0; i < chunks.length; i += SL.MAX_SLOT_CHUNKS) {
      out.push(await this.request<SL.Slots>("get", SL.buildSlotRequest({ space, direction, chunks: chunks.slice(i, i + SL.MAX_SLOT_CHUNKS) })));
    }
    return out;
  }

  /** One batch upload (POST /chunks/batch) with an upload slot's token. */
  async #postBatch(slots: SL.Slots, records: ReadonlyArray<{ hash: ChunkHash; bytes: Uint8Array }>): Promise<void> {
    const res = await this.#http(`${slots.url}batch`, "POST", { authorization: `Bearer ${slots.token}`, "content-type": "application/octet-stream" }, encodeBatch(records));
    if (res.status !== 200) throw new ShareError("unavailable", { text: `Chunk upload refused (HTTP ${res.status}): ${res.body.toString().trim()}` });
  }

  /** Uploads the chunks the component lacks; returns how many bytes were sent. */
  async upload(space: SpaceId, sources: readonly ChunkSource[], progress?: Progress, opts?: TransferOptions): Promise<number> {
    const unique = [...new Map(sources.map((s) => [s.hash, s])).values()];
    if (unique.length === 0) return 0;
    const byHash = new Map(unique.map((s) => [s.hash, s]));
    let sent = 0;
    let stopped: string | undefined;
    for (const slots of await this.#slots(space, "upload", unique)) {
      // Chunks the sharing manager already holds (an earlier, stopped upload's) are not named missing: never sent again.
      const missing = slots.missing.map((h) => byHash.get(h)).filter((s): s is ChunkSource => s !== undefined);
      const batches = groupBySize(missing, batchBytes(opts));
      await runParallel(batches, opts?.parallel ?? PARALLEL, async (batch) => {
        if (opts?.stop && (stopped ??= opts.stop()) !== undefined) return;
        if (opts?.limiter) await pace(opts.limiter, opts, batch);
        const records: Array<{ hash: ChunkHash; bytes: Uint8Array }> = [];
        for (const s of batch) {
          const bytes = await s.read();
          if (createHash("sha256").update(bytes).digest("hex") !== s.hash) {
            throw new ShareError("hash-mismatch", { text: `A local file changed while its chunk ${s.hash} was being uploaded` });
          }
          records.push({ hash: s.hash, bytes });
        }
        await this.#postBatch(slots, records);
        const bytes = batch.reduce((n, s) => n + s.size, 0);
        sent += bytes;
        progress?.(bytes);
      });
      if (stopped !== undefined) throw new UploadStopped(stopped, sent);
    }
    return sent;
  }

  /**
   * A stream of chunks to upload as they are read (the scanner hands them over while it
   * hashes), in batches, a few requests in flight: see ChunkUploader.
   */
  uploader(space: SpaceId, progress?: Progress): ChunkUploader {
    return new ChunkUploader(async (chunks) => {
      const slots = await this.request<SL.Slots>("get", SL.buildSlotRequest({ space, direction: "upload", chunks: chunks.map(({ hash, size }) => ({ hash, size })) }));
      const missing = new Set(slots.missing);
      const records = chunks.filter((c) => missing.has(c.hash));
      if (records.length) await this.#postBatch(slots, records);
      const bytes = records.reduce((n, c) => n + c.bytes.length, 0);
      if (bytes) progress?.(bytes);
      return bytes;
    });
  }

  /**
   * Downloads chunks and hands each, verified, to `sink`. Chunks the component does not hold
   * are returned (the caller reports them; another member must upload them again).
   */
  async download(space: SpaceId, chunks: readonly ChunkRef[], sink: ChunkSink, progress?: Progress, opts?: TransferOptions): Promise<ChunkHash[]> {
    const unique = [...new Map(chunks.map((c) => [c.hash, c])).values()];
    const absent: ChunkHash[] = [];
    const pages = await this.#slots(space, "download", unique);
    for (const [page, slots] of pages.entries()) {
      const gone = new Set(slots.missing);
      absent.push(...slots.missing);
      // Each token names the chunks of its own page only.
      const mine = unique.slice(page * SL.MAX_SLOT_CHUNKS, (page + 1) * SL.MAX_SLOT_CHUNKS);
      const wanted = mine.filter((c) => !gone.has(c.hash));
      await runParallel(groupBySize(wanted, batchBytes(opts)), opts?.parallel ?? PARALLEL, async (batch) => {
        if (opts?.limiter) await pace(opts.limiter, opts, batch);
        // Records are decoded as they stream in: each chunk is verified and handed over as soon
        // as its last byte has arrived, and the body is never held whole. Handing over is
        // sequential, in order; reading waits while the sink is busy.
        const records = new RecordReader(batch, sink.place);
        let handed: Promise<void> = Promise.resolve();
        const onBody = (piece: Uint8Array, transient: boolean) => {
          const done = records.push(piece, transient);
          if (!done.length) return undefined;
          handed = handed.then(async () => {
            for (const r of done) {
              await sink(r.hash, r.bytes);
              progress?.(r.bytes.length);
            }
          });
          return handed;
        };
        let res: { status: number; text: string };
        try {
          res = await this.#stream(`${slots.url}batch-get`, "POST", { authorization: `Bearer ${slots.token}`, "content-type": "application/octet-stream" }, encodeHashList(batch.map((c) => c.hash)), onBody);
        } catch (err) {
          // No chunk is handed over after download() has failed.
          await handed.catch(() => undefined);
          throw err;
        }
        await handed;
        if (res.status !== 200) throw new ShareError("unavailable", { text: `Chunk download refused (HTTP ${res.status}): ${res.text.trim()}` });
        records.end();
      });
    }
    return absent;
  }
}

/**
 * Uploads chunks handed over one by one (with their bytes) in batches of about BATCH_BYTES, at
 * most PARALLEL requests in flight; `add` makes the producer wait while that many are, so the
 * bytes held stay bounded (about (PARALLEL + 1) × BATCH_BYTES). Each batch first asks the
 * component which of its chunks it lacks. An optimisation only: after a failure it stops
 * uploading and remembers nothing more; whatever did not reach `stored` is uploaded by the
 * ordinary path before the commit, which also reports the error.
 */
export class ChunkUploader {
  /** Chunks the component confirmed it holds (stored now, or already present). */
  readonly stored = new Set<ChunkHash>();
  /** Bytes this uploader sent. */
  sent = 0;
  /** Set by the first failed request: nothing more is sent. */
  failed = false;
  readonly #send: (chunks: ReadonlyArray<{ hash: ChunkHash; size: number; bytes: Uint8Array }>) => Promise<number>;
  readonly #seen = new Set<ChunkHash>();
  #batch: Array<{ hash: ChunkHash; size: number; bytes: Uint8Array }> = [];
  /** The buffer the current batch's bytes are copied into, and how much of it is used. */
  #buffer: Buffer | undefined;
  #used = 0;
  /** Batch buffers whose request has completed, for the next batches. */
  readonly #free: Buffer[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(send: (chunks: ReadonlyArray<{ hash: ChunkHash; size: number; bytes: Uint8Array }>) => Promise<number>) {
    this.#send = send;
  }

  /** Chunks not to send (known to be on the component already). */
  skip(hashes: Iterable<ChunkHash>): void {
    for (const h of hashes) this.#seen.add(h);
  }

  /**
   * Queues one chunk; resolves once there is room for more. Never rejects. `bytes` are copied
   * before this returns (into one of at most PARALLEL + 1 reused batch buffers), so the caller
   * may reuse them at once, and memory stays bounded whoever holds what.
   */
  async add(chunk: ChunkRef, bytes: Uint8Array): Promise<void> {
    if (this.failed || this.#seen.has(chunk.hash)) return;
    this.#seen.add(chunk.hash);
    if (this.#buffer && this.#used + bytes.length > this.#buffer.length) this.#dispatch();
    if (!this.#buffer) this.#buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, bytes.length));
    const at = this.#used;
    this.#buffer.set(bytes, at);
    this.#used += bytes.length;
    this.#batch.push({ hash: chunk.hash, size: chunk.size, bytes: this.#buffer.subarray(at, at + bytes.length) });
    if (this.#used >= this.#buffer.length || this.#batch.length >= SL.MAX_SLOT_CHUNKS) this.#dispatch();
    while (this.#inFlight.size >= PARALLEL) await Promise.race(this.#inFlight);
  }

  /**
   * Sends what is queued and waits for every request. Never rejects (see `failed`). The batch
   * buffers are freed: a sync drains once its scan is over, and the commit and the rounds
   * after it would otherwise carry (PARALLEL + 1) × BATCH_BYTES they never use (a later scan
   * that finds new chunks allocates again).
   */
  async drain(): Promise<void> {
    this.#dispatch();
    while (this.#inFlight.size) await Promise.race(this.#inFlight);
    for (const b of this.#free.splice(0)) release(b);
  }

  /** Bytes of batch buffers kept for the next batches (those of requests in flight aside). */
  get spareBytes(): number {
    return this.#free.reduce((n, b) => n + b.length, this.#buffer?.length ?? 0);
  }

  #dispatch(): void {
    const batch = this.#batch;
    const buffer = this.#buffer;
    this.#batch = [];
    this.#buffer = undefined;
    this.#used = 0;
    if (batch.length === 0 || this.failed) {
      if (buffer) this.#free.push(buffer);
      return;
    }
    const p: Promise<void> = this.#send(batch).then(
      (n) => {
        this.sent += n;
        for (const c of batch) this.stored.add(c.hash);
        // The component answered, so it has read the whole body: the buffer is free again.
        // (After a failure it is left to the garbage collector: a request may still hold it.)
        if (buffer && buffer.length === BATCH_BYTES) this.#free.push(buffer);
      },
      () => {
        this.failed = true;
      },
    );
    const tracked = p.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}

const CONNECTION_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

function isConnectionError(err: unknown): boolean {
  return CONNECTION_ERRORS.has(String((err as NodeJS.ErrnoException)?.code ?? ""));
}

function groupBySize<T extends { size: number }>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const it of items) {
    if (cur.length > 0 && size + it.size > max) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(it);
    size += it.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

async function runParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
