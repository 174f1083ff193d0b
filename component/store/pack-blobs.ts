/**
 * PackBlobStore: the default BlobStore, chunks appended to a few large pack files and found
 * through an index of their own (XEP-draft.md § 5.9).
 *
 *   dir/packs/<n>.pack                   chunk bytes back to back; the highest n is "current"
 *   dir/index.sqlite                     hash → (pack, pos, size); per pack: committed length,
 *                                        synced length, live and dead bytes (WAL, synchronous=NORMAL)
 *   dir/.partial/<sha256(key)>-<hash>    bytes of a resumable upload received so far, per uploader
 *
 * Why: one file per chunk costs a file creation per ~64 KiB, which on ext4 (with `discard`)
 * bounds uploads far below disk speed; appending to one file and fsyncing it does not.
 *
 * Writes: a whole-chunk put gathers its pieces in memory while hashing (copied, unless the
 * caller says they are `stablePieces`), never more than `maxBytes`, and only verified bytes
 * are queued. One writer (`#serial`) drains the queue:
 * every chunk queued meanwhile goes out in one positional `writev` at the pack's committed
 * length, then their index rows and the pack's new committed length are recorded (in memory
 * until the index's next transaction, at the latest the next `sync`: see pack-index.ts), and
 * only then do the puts resolve. Whether a chunk is already stored is looked up once per
 * turn for all its chunks (only the writer adds rows, so the answer holds until its commit);
 * a put whose source may reuse its buffers looks up first, to avoid copying known bytes.
 * A pack is rotated before it would exceed `packBytes`.
 * Every `WRITE_BEHIND_BYTES` appended, the pack is fdatasynced in the background (and its
 * synced length recorded), so that `sync()` before a commit finds little left to flush.
 *
 * Reads: `get` streams one chunk; `readInto` (batch downloads) looks up all its chunks at once
 * and reads each run of chunks lying back to back in a pack with one vectored pread, into
 * buffers the caller reuses.
 *
 * Invariants:
 * - A row exists only for bytes that were verified against their hash and written; every byte
 *   of [0, committed) of a pack belongs to exactly one live row or is dead
 *   (live + dead = committed). Nothing is ever written below a pack's committed length.
 * - `delete` only drops the row (its bytes turn dead); `compact` copies the live chunks of a
 *   mostly dead pack into the current one and unlinks it. Readers hold their own reference on
 *   the pack's fd, so a read racing with delete or compaction completes or finds nothing.
 * - Resumable parts live in small partial files (partials.ts, shared with FsBlobStore); a completed, verified one
 *   is appended like any chunk and its partial file removed.
 *
 * Crash safety:
 * - An append torn by a crash lies beyond the committed length: open() truncates every pack to
 *   its committed length, so new writes start at a clean end. A pack file without an index row
 *   (a rotation or compaction cut short) is unlinked; a row cannot point into it, because
 *   WAL commits are ordered and the pack's row came first.
 * - With synchronous=NORMAL the index may lose its last transactions on power loss, and any
 *   crash loses the rows appended since its last transaction (those rows vanish with the
 *   bytes after them: harmless, none of them was synced); or it may keep rows whose bytes
 *   never reached the disk. The latter can only lie at or after the pack's recorded synced
 *   length (it is raised only after an fdatasync), so open() re-hashes exactly those rows and
 *   drops any that no longer match. A clean close() syncs everything, so a normal restart
 *   re-hashes nothing.
 * - `sync(hashes)` fdatasyncs every pack with unsynced bytes (a superset of those holding
 *   the hashes, found without a lookup per hash), then commits the new synced lengths with
 *   synchronous=FULL, which makes the WAL (all earlier rows included) durable: once it
 *   resolves, a crash loses none of those chunks.
 * - `compact` makes the copies durable (fdatasync, then one FULL transaction that moves the
 *   rows and drops the old pack's row) before it unlinks the old pack, so a crash at any
 *   point leaves every live chunk in at least one pack that the durable index points to.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { ShareError, badRequest } from "../../protocol/errors.ts";
import { isChunkHash, type ChunkHash } from "../../protocol/ids.ts";
import { checkRange, consume, mismatch, resumableOf, tooLarge } from "./blob-common.ts";
import type { BlobSource, BlobStore, ByteRange, PutOptions, PutResult } from "./blobs.ts";
import { PartialUploads } from "./partials.ts";
import { PackIndex, type PackRow } from "./pack-index.ts";
import { PackFds, PackReader, io, isNotFound } from "./pack-io.ts";

const MiB = 1024 * 1024;
export const DEFAULT_PACK_BYTES = 256 * MiB;
/** Bytes appended to a pack after which it is fdatasynced in the background. */
const WRITE_BEHIND_BYTES = 32 * MiB;
/**
 * At most this many queued bytes go out in one writev: small enough that puts resolve (and
 * their batch request reads on) every couple of MiB, so that parsing, hashing and writing
 * overlap; large enough that the work per write stays cheap. (Measured with
 * bench/chunks-http.bench.ts, when each write also committed an index transaction: 2 MiB
 * beat 1 MiB slightly and 16 MiB by about 15%.)
 */
const FLUSH_BYTES = 2 * MiB;
/** At most this many chunks in one vectored read (IOV_MAX is 1024 on Linux). */
const READV_MAX = 512;
/** Compaction copies live chunks in runs of about this size (one writer turn each). */
const COMPACT_RUN_BYTES = 8 * MiB;

export interface PackBlobStoreOptions {
  /** A pack is rotated before it would grow past this size (default 256 MiB). */
  readonly packBytes?: number;
  /** Clock for the age of partial uploads (their last write), as `prunePartials` sees it. */
  readonly now?: () => number;
}

/** What the store keeps in memory about a pack (the index holds the same, durably). */
interface Pack {
  readonly id: number;
  /** Bytes written and indexed; the next append starts here. */
  committed: number;
  /** Bytes known to be on disk (fdatasync done) in this process. */
  flushed: number;
  /** The fdatasync in flight, if any. */
  syncing?: Promise<void>;
  /** A failed fdatasync: the pack can no longer promise durability (Linux forgets the error). */
  failed?: unknown;
}

interface Job {
  readonly hash: ChunkHash;
  readonly pieces: readonly Buffer[];
  readonly size: number;
  readonly resolve: (created: boolean) => void;
  readonly reject: (err: unknown) => void;
}

export class PackBlobStore implements BlobStore {
  readonly #packDir: string;
  #partials!: PartialUploads;
  readonly #packBytes: number;
  readonly #index: PackIndex;
  readonly #packs = new Map<number, Pack>();
  readonly #fds: PackFds;
  #current!: Pack;
  #writeFd = -1;
  /** The writer: appends, rotations and compaction runs take turns on this chain. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly #queue: Job[] = [];
  #flushQueued = false;
  #compacting: Promise<number> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(dir: string, opts: PackBlobStoreOptions) {
    this.#packDir = join(dir, "packs");
    this.#packBytes = opts.packBytes ?? DEFAULT_PACK_BYTES;
    if (!(this.#packBytes > 0)) throw new RangeError(`packBytes must be positive, got ${this.#packBytes}`);
    this.#index = new PackIndex(join(dir, "index.sqlite"));
    this.#fds = new PackFds((id) => this.#packPath(id));
  }

  /**
   * Opens (creating if needed) the store in `dir`: truncates each pack to its committed
   * length, re-hashes chunks written after the last sync (see the header), removes pack files
   * the index does not know.
   */
  static async open(dir: string, opts: PackBlobStoreOptions = {}): Promise<PackBlobStore> {
    await mkdir(join(dir, "packs"), { recursive: true });
    const store = new PackBlobStore(dir, opts);
    store.#partials = await PartialUploads.open(join(dir, ".partial"), opts.now ?? Date.now);
    try {
      await store.#recover();
    } catch (err) {
      store.#index.close();
      throw err;
    }
    return store;
  }

  async has(hash: ChunkHash): Promise<boolean> {
    return (await this.size(hash)) !== undefined;
  }

  async size(hash: ChunkHash): Promise<number | undefined> {
    this.#check(hash);
    return this.#index.size(hash);
  }

  async sizes(hashes: readonly ChunkHash[]): Promise<(number | undefined)[]> {
    for (const h of hashes) this.#check(h);
    return this.#index.sizesMany(hashes);
  }

  put(hash: ChunkHash, source: BlobSource, opts: PutOptions): Promise<PutResult> {
    try {
      this.#check(hash);
      const part = resumableOf(opts);
      if (!part && opts.stablePieces === true && Array.isArray(source)) return this.#putPieces(hash, source as readonly Uint8Array[], opts.maxBytes);
      if (!part) return this.#putWhole(hash, source, opts.maxBytes, opts.stablePieces === true);
      return this.#partials.put(hash, source, opts.maxBytes, part, {
        stored: async () => this.#index.size(hash),
        adopt: (_file, bytes) => this.#append(hash, [bytes], bytes.length),
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async received(hash: ChunkHash, key: string): Promise<number> {
    this.#check(hash);
    return this.#partials.received(hash, key);
  }

  async get(hash: ChunkHash, range?: ByteRange): Promise<Readable | undefined> {
    this.#check(hash);
    if (range) checkRange(range);
    // A chunk moved by compaction between the lookup and the open is looked up again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const loc = this.#index.locate(hash);
      if (!loc) return undefined;
      const handle = await this.#fds.acquire(loc.pack).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!handle) continue;
      const start = range ? Math.min(range.start, loc.size) : 0;
      const end = range ? Math.min(range.end + 1, loc.size) : loc.size;
      return new PackReader(handle.fd, loc.pos + start, loc.pos + end, handle.release);
    }
    return undefined;
  }

  /**
   * Reads whole chunks into `into[i]`: one positional (vectored) read per run of chunks lying
   * next to each other in a pack, as chunks uploaded together do. Rejects when a chunk is
   * missing or its size is not `sizes[i]`.
   */
  async readInto(hashes: readonly ChunkHash[], sizes: readonly number[], into: readonly Buffer[]): Promise<void> {
    for (const h of hashes) this.#check(h);
    if (hashes.length !== sizes.length || into.length !== sizes.length || into.some((b, i) => b.length !== sizes[i])) {
      throw new RangeError("readInto: sizes and buffers do not match the hashes");
    }
    let todo = hashes.map((hash, i) => ({ hash, size: sizes[i]!, buf: into[i]! }));
    // A chunk moved by compaction between the lookup and the read is looked up again.
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (attempt === 3) throw new Error(`chunk ${todo[0]!.hash} keeps moving while being read`);
      const locs = this.#index.locateMany(todo.map((t) => t.hash));
      const runs: { pack: number; pos: number; size: number; items: typeof todo }[] = [];
      for (const t of todo) {
        const loc = locs.get(t.hash);
        if (!loc) throw new Error(`chunk ${t.hash} is not stored`);
        if (loc.size !== t.size) throw new Error(`chunk ${t.hash} has ${loc.size} bytes, not ${t.size}`);
        const last = runs[runs.length - 1];
        if (last && last.pack === loc.pack && last.pos + last.size === loc.pos && last.items.length < READV_MAX) {
          last.size += t.size;
          last.items.push(t);
        } else runs.push({ pack: loc.pack, pos: loc.pos, size: t.size, items: [t] });
      }
      const again: typeof todo = [];
      // Settled, not raced: no read may still be writing into `into` once this returns.
      const done = await Promise.allSettled(
        runs.map(async (r) => {
          const handle = await this.#fds.acquire(r.pack).catch((err: unknown) => {
            if (isNotFound(err)) return undefined;
            throw err;
          });
          if (!handle) return void again.push(...r.items); // compacted away meanwhile
          try {
            await io.readvExactly(handle.fd, r.items.map((t) => t.buf), r.pos);
          } finally {
            handle.release();
          }
        }),
      );
      const failed = done.find((d): d is PromiseRejectedResult => d.status === "rejected");
      if (failed) throw failed.reason;
      todo = again;
    }
  }

  async delete(hash: ChunkHash): Promise<void> {
    this.#check(hash);
    this.#index.remove(hash);
  }

  async *hashes(): AsyncIterable<ChunkHash> {
    this.#open();
    yield* this.#index.hashes();
  }

  async sync(hashes: readonly ChunkHash[]): Promise<void> {
    this.#open();
    if (hashes.length === 0) return;
    // Rather than looking up the pack of every hash: every pack with bytes not yet on disk
    // (usually the current one alone) and the current pack (so that the commit below writes,
    // and thereby makes the WAL durable, even when nothing is left to flush). Only when an
    // fdatasync failed are the hashes looked up: a chunk in that pack cannot be made durable.
    const packs = [...this.#packs.values()].filter((p) => p === this.#current || (p.flushed < p.committed && !p.failed));
    if ([...this.#packs.values()].some((p) => p.failed)) {
      for (const loc of this.#index.locateMany(hashes.filter((h) => isChunkHash(h))).values()) {
        const failed = this.#packs.get(loc.pack)?.failed;
        if (failed) throw failed;
      }
    }
    await Promise.all(packs.map((p) => this.#flush(p)));
    if (this.#closed) return this.#closing; // close() makes everything durable
    this.#index.durably(() => {
      for (const p of packs) this.#index.setSynced(p.id, p.flushed);
    });
  }

  async prunePartials(beforeMs: number): Promise<number> {
    this.#open();
    return this.#partials.prune(beforeMs);
  }

  /**
   * Copies the live chunks of every non-current pack that is more than half dead into the
   * current pack, then unlinks it; returns the bytes reclaimed. Uploads go on meanwhile (the
   * copying takes the writer's turn in runs of COMPACT_RUN_BYTES).
   */
  async compact(): Promise<number> {
    this.#open();
    this.#compacting ??= this.#compactAll().finally(() => (this.#compacting = undefined));
    return this.#compacting;
  }

  /** Waits for queued writes, makes every pack durable, closes. Reads in flight complete. */
  close(): Promise<void> {
    this.#closed = true;
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    await this.#compacting?.catch(() => undefined);
    await this.#partials.settled();
    // A writer turn may queue another behind itself: wait until the chain stops growing.
    for (let t = this.#tail; ; t = this.#tail) {
      await t;
      if (t === this.#tail) break;
    }
    try {
      const packs = [...this.#packs.values()];
      await Promise.all(packs.map((p) => this.#flush(p)));
      this.#index.durably(() => {
        for (const p of packs) this.#index.setSynced(p.id, p.flushed);
      });
    } finally {
      if (this.#writeFd >= 0) await io.close(this.#writeFd).catch(() => undefined);
      this.#writeFd = -1;
      this.#fds.retireAll();
      this.#index.close();
    }
  }

  // --- writing -----------------------------------------------------------------------------

  async #putWhole(hash: ChunkHash, source: BlobSource, maxBytes: number, stable: boolean): Promise<PutResult> {
    // Already stored: read and check the bytes anyway (the caller must not get "ok" for wrong
    // content), but do not write them again. Stable pieces cost nothing to hold, so for them
    // the writer's check (one lookup per turn, not one per chunk) is enough.
    if (!stable && this.#index.size(hash) !== undefined) {
      return { complete: true, size: await consume(hash, source, maxBytes), created: false };
    }
    const hasher = createHash("sha256");
    const pieces: Buffer[] = [];
    let size = 0;
    for await (const piece of source) {
      size += piece.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      hasher.update(piece);
      // A source that may reuse its buffer gets copied; a stable one is kept as is (a copy per
      // byte costs as much as the write itself on a loaded machine).
      pieces.push(stable ? Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength) : Buffer.from(piece));
    }
    if (hasher.digest("hex") !== hash) throw mismatch();
    const created = await this.#append(hash, pieces, size);
    return { complete: true, size, created };
  }

  /**
   * `#putWhole` of stable pieces that are all here (batch records): hashed at once, kept as
   * they are, and queued with no await in between (one promise per chunk, besides the
   * caller's). Throws (put turns it into a rejection) when refused.
   */
  #putPieces(hash: ChunkHash, source: readonly Uint8Array[], maxBytes: number): Promise<PutResult> {
    const hasher = createHash("sha256");
    let size = 0;
    let buffers = true;
    for (const piece of source) {
      size += piece.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      hasher.update(piece);
      buffers &&= Buffer.isBuffer(piece);
    }
    if (hasher.digest("hex") !== hash) throw mismatch();
    const pieces = buffers ? (source as readonly Buffer[]) : source.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    return this.#append(hash, pieces, size).then((created) => ({ complete: true, size, created }));
  }

  /** Queues verified bytes for the writer; resolves once indexed (false: it already was). */
  #append(hash: ChunkHash, pieces: readonly Buffer[], size: number): Promise<boolean> {
    this.#open();
    return new Promise((resolve, reject) => {
      this.#queue.push({ hash, pieces, size, resolve, reject });
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        void this.#serial(() => this.#writeQueued());
      }
    });
  }

  /** One writer turn: everything queued so far (up to FLUSH_BYTES) in one write per pack. */
  async #writeQueued(): Promise<void> {
    this.#flushQueued = false;
    let take = 0;
    let bytes = 0;
    while (take < this.#queue.length && (take === 0 || bytes + this.#queue[take]!.size <= FLUSH_BYTES)) bytes += this.#queue[take++]!.size;
    const jobs = this.#queue.splice(0, take);
    if (this.#queue.length > 0) {
      this.#flushQueued = true;
      void this.#serial(() => this.#writeQueued());
    }
    // Chunks already stored, and two puts of one hash racing: the first one writes, the others
    // find it. Only the writer adds rows, so what this lookup misses is still missing at the write.
    const fresh: Job[] = [];
    const dups: Job[] = [];
    const seen = new Set<string>(this.#index.locateMany(jobs.map((j) => j.hash)).keys());
    for (const j of jobs) {
      if (seen.has(j.hash)) dups.push(j);
      else (seen.add(j.hash), fresh.push(j));
    }
    let failure: { err: unknown } | undefined;
    try {
      await this.#appendRuns(fresh, (pack, placed) => {
        this.#index.append(
          pack.id,
          pack.committed,
          placed.map(({ item, pos }) => ({ hash: item.hash, pos, size: item.size })),
        );
        for (const { item } of placed) item.resolve(true);
      });
    } catch (err) {
      failure = { err };
      for (const j of fresh) j.reject(err); // no-op for the ones already resolved
    }
    for (const j of dups) {
      if (this.#index.size(j.hash) !== undefined) j.resolve(false);
      else j.reject(failure?.err ?? new Error(`chunk ${j.hash} vanished while being stored`));
    }
  }

  /**
   * Appends items at the end of the current pack, rotating before a pack would exceed
   * packBytes; one writev per pack touched, then `commit(pack, placed)` (which must record
   * them and the new committed length in the index) with `pack.committed` already advanced.
   * Must run on the writer chain.
   */
  async #appendRuns<T extends { readonly pieces: readonly Buffer[]; readonly size: number }>(
    items: readonly T[],
    commit: (pack: Pack, placed: { item: T; pos: number }[]) => void,
  ): Promise<void> {
    let i = 0;
    while (i < items.length) {
      if (this.#current.committed > 0 && this.#current.committed + items[i]!.size > this.#packBytes) await this.#rotate();
      const pack = this.#current;
      const placed: { item: T; pos: number }[] = [];
      const bufs: Buffer[] = [];
      let end = pack.committed;
      while (i < items.length && (placed.length === 0 || end + items[i]!.size <= this.#packBytes)) {
        const item = items[i++]!;
        placed.push({ item, pos: end });
        for (const b of item.pieces) if (b.byteLength > 0) bufs.push(b);
        end += item.size;
      }
      if (bufs.length > 0) await io.writev(this.#writeFd, bufs, pack.committed, end - pack.committed);
      const before = pack.committed;
      pack.committed = end;
      try {
        commit(pack, placed);
      } catch (err) {
        pack.committed = before; // not indexed: the next append overwrites these bytes
        throw err;
      }
      if (pack.committed - pack.flushed >= WRITE_BEHIND_BYTES && !pack.syncing) this.#writeBehind(pack);
    }
  }

  /** Starts a new current pack. Must run on the writer chain. */
  async #rotate(): Promise<void> {
    const old = this.#current;
    const id = old.id + 1;
    // File first: a file without a row is a stray that open() removes; a row without its file
    // would make every later rotation fail.
    const fd = await io.open(this.#packPath(id), fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC);
    try {
      this.#index.addPack(id);
    } catch (err) {
      await io.close(fd).catch(() => undefined);
      throw err;
    }
    const oldFd = this.#writeFd;
    this.#writeFd = fd;
    this.#current = { id, committed: 0, flushed: 0 };
    this.#packs.set(id, this.#current);
    await io.close(oldFd).catch(() => undefined);
    if (old.committed > old.flushed) this.#writeBehind(old);
  }

  #writeBehind(pack: Pack): void {
    void this.#flush(pack).then(
      () => this.#closed || this.#index.setSynced(pack.id, pack.flushed),
      () => undefined, // kept in pack.failed; the next sync() reports it
    );
  }

  /** Resolves once every byte committed to `pack` when called is on disk. */
  async #flush(pack: Pack): Promise<void> {
    for (;;) {
      if (pack.failed) throw pack.failed;
      const target = pack.committed;
      if (pack.flushed >= target) return;
      if (pack.syncing) {
        await pack.syncing.catch(() => undefined);
        continue;
      }
      pack.syncing = this.#fdatasync(pack.id)
        .then(
          () => void (pack.flushed = Math.max(pack.flushed, target)),
          (err: unknown) => void (pack.failed = err),
        )
        .finally(() => (pack.syncing = undefined));
      await pack.syncing;
    }
  }

  async #fdatasync(pack: number): Promise<void> {
    const { fd, release } = await this.#fds.acquire(pack);
    try {
      await io.fdatasync(fd);
    } finally {
      release();
    }
  }

  /** Runs `fn` on the writer chain (after every turn queued before it). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  // --- compaction --------------------------------------------------------------------------

  async #compactAll(): Promise<number> {
    let reclaimed = 0;
    for (const row of this.#index.compactable(this.#current.id)) {
      if (this.#closed) break;
      reclaimed += await this.#compactPack(row);
    }
    return reclaimed;
  }

  async #compactPack(old: PackRow): Promise<number> {
    const rows = this.#index.rowsFrom(old.id, 0);
    const moves: { hash: ChunkHash; from: number; pack: number; pos: number; size: number }[] = [];
    const dests = new Set<Pack>();
    for (let i = 0; i < rows.length; ) {
      const run: typeof rows = [];
      // Bounded by the span read (live bytes and the dead gaps between them), not only live bytes.
      const first = rows[i]!.pos;
      while (i < rows.length && (run.length === 0 || rows[i]!.pos + rows[i]!.size - first <= COMPACT_RUN_BYTES)) run.push(rows[i++]!);
      await this.#serial(async () => {
        const items = await this.#readRun(old.id, run);
        await this.#appendRuns(items, (pack, placed) => {
          // Dead until the switch-over claims them: a crash before it leaves only garbage.
          this.#index.appendDead(pack.id, pack.committed, placed.reduce((n, p) => n + p.item.size, 0));
          for (const { item, pos } of placed) moves.push({ hash: item.hash, from: item.from, pack: pack.id, pos, size: item.size });
          dests.add(pack);
        });
      });
    }
    await Promise.all([...dests].map((p) => this.#flush(p)));
    const synced = new Map([...dests].map((p) => [p.id, p.flushed] as const));
    const { moved, unlink } = this.#index.switchOver(old.id, moves, synced);
    if (!unlink) return 0;
    this.#packs.delete(old.id);
    this.#fds.retire(old.id);
    await rm(this.#packPath(old.id), { force: true });
    return old.committed - moved;
  }

  /** The bytes of consecutive rows of a pack, read in one go. */
  async #readRun(pack: number, run: readonly { hash: ChunkHash; pos: number; size: number }[]) {
    const first = run[0]!.pos;
    const last = run[run.length - 1]!;
    const buf = Buffer.allocUnsafe(last.pos + last.size - first);
    const { fd, release } = await this.#fds.acquire(pack);
    try {
      await io.readExactly(fd, buf, first);
    } finally {
      release();
    }
    return run.map((r) => ({ hash: r.hash, from: r.pos, size: r.size, pieces: [buf.subarray(r.pos - first, r.pos - first + r.size)] }));
  }

  // --- opening -----------------------------------------------------------------------------

  async #recover(): Promise<void> {
    const rows = this.#index.packs();
    const known = new Set(rows.map((r) => r.id));
    for (const name of await readdir(this.#packDir)) {
      const id = /^(\d+)\.pack$/.exec(name)?.[1];
      if (id === undefined || !known.has(Number(id))) await rm(join(this.#packDir, name), { force: true });
    }
    for (const row of rows) await this.#recoverPack(row);
    if (rows.length === 0) {
      this.#index.addPack(1);
      this.#packs.set(1, { id: 1, committed: 0, flushed: 0 });
    }
    const current = [...this.#packs.values()].reduce((a, b) => (b.id > a.id ? b : a));
    this.#current = current;
    this.#writeFd = await io.open(this.#packPath(current.id), fs.constants.O_RDWR | fs.constants.O_CREAT);
  }

  async #recoverPack(row: PackRow): Promise<void> {
    const path = this.#packPath(row.id);
    const fd = await io.open(path, fs.constants.O_RDWR | fs.constants.O_CREAT);
    try {
      const length = (await io.fstat(fd)).size;
      let committed = row.committed;
      if (length < committed) committed = length; // rows past the end vanish (lost with the bytes)
      if (length > committed) await io.ftruncate(fd, committed); // a torn append
      // Rows after the synced length may point at bytes that never reached the disk.
      const bad: string[] = [];
      for (const r of this.#index.rowsFrom(row.id, Math.min(row.synced, committed))) {
        if (r.pos + r.size > committed) continue;
        const buf = Buffer.allocUnsafe(r.size);
        await io.readExactly(fd, buf, r.pos);
        if (createHash("sha256").update(buf).digest("hex") !== r.hash) bad.push(r.hash);
      }
      if (committed > row.synced) await io.fdatasync(fd);
      this.#index.resetPack(row.id, committed, row.synced);
      if (bad.length > 0) this.#index.dropRows(row.id, bad);
      this.#index.setSynced(row.id, committed);
      this.#packs.set(row.id, { id: row.id, committed, flushed: committed });
    } finally {
      await io.close(fd);
    }
  }

  // --- helpers -----------------------------------------------------------------------------


  #packPath(id: number): string {
    return join(this.#packDir, `${id}.pack`);
  }

  #check(hash: string): void {
    this.#open();
    // The hash becomes part of a path: never trust a cast.
    if (!isChunkHash(hash)) throw badRequest(`Not a chunk hash: ${JSON.stringify(hash)}`);
  }

  #open(): void {
    if (this.#closed) throw new ShareError("unavailable", { text: "Blob store is closed" });
  }
}

