/**
 * MemoryBlobStore: BlobStore in RAM, for tests and small demos (XEP-draft.md § 5.9).
 *
 * Same semantics as FsBlobStore (both run tests/contract/blob-store.contract.ts): a blob is
 * visible only once verified; too-large stops pulling the source at once; resumable parts are
 * kept per (key, hash), accepted only at the exact current offset, rolled back when refused for
 * their size and kept up to where their source failed; one part at a time per key and hash.
 * Pieces are copied as they arrive, so a source may reuse its buffers. `sync` has nothing to do. The clock (for `prunePartials`) is
 * injected.
 */
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import { ShareError, badRequest } from "../../protocol/errors.ts";
import { isChunkHash, type ChunkHash } from "../../protocol/ids.ts";
import type { BlobSource, BlobStore, ByteRange, PutOptions, PutResult } from "./blobs.ts";
import { checkRange, consume, mismatch, offsetMismatch, pastTotal, resumableOf, tooLarge, KeyedLocks } from "./blob-common.ts";

interface Partial {
  pieces: Buffer[];
  size: number;
  writtenMs: number;
}

export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<ChunkHash, Buffer>();
  readonly #partials = new Map<string, Partial>();
  /** One resumable part at a time per (key, hash): id → the tail of its queue. */
  readonly #locks = new KeyedLocks();
  readonly #now: () => number;
  #closed = false;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  async has(hash: ChunkHash): Promise<boolean> {
    this.#check(hash);
    return this.#blobs.has(hash);
  }

  async size(hash: ChunkHash): Promise<number | undefined> {
    this.#check(hash);
    return this.#blobs.get(hash)?.byteLength;
  }

  async sizes(hashes: readonly ChunkHash[]): Promise<(number | undefined)[]> {
    for (const h of hashes) this.#check(h);
    return hashes.map((h) => this.#blobs.get(h)?.byteLength);
  }

  async put(hash: ChunkHash, source: BlobSource, opts: PutOptions): Promise<PutResult> {
    this.#check(hash);
    const part = resumableOf(opts);
    if (!part) {
      const existing = this.#blobs.get(hash);
      if (existing) return { complete: true, size: await consume(hash, source, opts.maxBytes), created: false };
      const pieces: Buffer[] = [];
      await collect(source, (n, piece) => {
        if (n > opts.maxBytes) throw tooLarge(opts.maxBytes);
        pieces.push(Buffer.from(piece));
      });
      return this.#finish(hash, Buffer.concat(pieces));
    }

    const id = `${part.key}\u0000${hash}`;
    return this.#locks.run(id, async () => {
      const existing = this.#blobs.get(hash);
      if (existing) {
        await consume(undefined, source, opts.maxBytes);
        this.#partials.delete(id);
        return { complete: true, size: existing.byteLength, created: false };
      }
      const p = this.#partials.get(id) ?? { pieces: [], size: 0, writtenMs: this.#now() };
      if (part.offset !== p.size) throw offsetMismatch(p.size);
      this.#partials.set(id, p);
      const before = p.pieces.length;
      let refused = false;
      try {
        await collect(source, (n, piece) => {
          refused = true;
          if (n > opts.maxBytes) throw tooLarge(opts.maxBytes);
          if (part.offset + n > part.total) throw pastTotal(part.total);
          refused = false;
          p.pieces.push(Buffer.from(piece));
          p.size += piece.byteLength;
          p.writtenMs = this.#now();
        });
      } catch (err) {
        // Refused for its size: roll the part back. Cut short by its source: keep what arrived.
        if (refused) {
          p.pieces.length = before;
          p.size = part.offset;
        }
        throw err;
      }
      if (p.size < part.total) return { complete: false, received: p.size };
      this.#partials.delete(id);
      return this.#finish(hash, Buffer.concat(p.pieces));
    });
  }

  async received(hash: ChunkHash, key: string): Promise<number> {
    this.#check(hash);
    return this.#partials.get(`${key}\u0000${hash}`)?.size ?? 0;
  }

  async get(hash: ChunkHash, range?: ByteRange): Promise<Readable | undefined> {
    this.#check(hash);
    if (range) checkRange(range);
    const blob = this.#blobs.get(hash);
    if (!blob) return undefined;
    const bytes = range ? blob.subarray(range.start, range.end + 1) : blob;
    // One piece, not Readable.from(buffer) (which would iterate it byte by byte).
    return Readable.from([bytes], { objectMode: false });
  }

  async delete(hash: ChunkHash): Promise<void> {
    this.#check(hash);
    this.#blobs.delete(hash);
  }

  async *hashes(): AsyncIterable<ChunkHash> {
    this.#open();
    yield* [...this.#blobs.keys()];
  }

  async sync(_hashes: readonly ChunkHash[]): Promise<void> {
    this.#open();
  }

  async prunePartials(beforeMs: number): Promise<number> {
    this.#open();
    let pruned = 0;
    for (const [id, p] of this.#partials) {
      if (!this.#locks.busy(id) && p.writtenMs < beforeMs) {
        this.#partials.delete(id);
        pruned++;
      }
    }
    return pruned;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }


  #finish(hash: ChunkHash, bytes: Buffer): PutResult {
    if (createHash("sha256").update(bytes).digest("hex") !== hash) throw mismatch();
    const created = !this.#blobs.has(hash);
    if (created) this.#blobs.set(hash, bytes);
    return { complete: true, size: bytes.byteLength, created };
  }

  #check(hash: string): void {
    this.#open();
    if (!isChunkHash(hash)) throw badRequest(`Not a chunk hash: ${JSON.stringify(hash)}`);
  }

  #open(): void {
    if (this.#closed) throw new ShareError("unavailable", { text: "Blob store is closed" });
  }
}

/** Hands every piece, with the byte count so far, to `onPiece` (which may throw to stop). */
async function collect(source: BlobSource, onPiece: (n: number, piece: Uint8Array) => void): Promise<void> {
  let n = 0;
  for await (const piece of source) {
    n += piece.byteLength;
    onPiece(n, piece);
  }
}
