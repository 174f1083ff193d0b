/**
 * Batch bodies on the wire (XEP-draft.md § 5.9, "Batch upload" and "Batch download"): many
 * chunks in one HTTP request or response, as concatenated records
 *
 *     [32 bytes: SHA-256 of the chunk, raw] [4 bytes: length n, unsigned big-endian] [n bytes]
 *
 * and a batch download request as concatenated raw 32-byte hashes. Used by the component
 * (component/batch.ts streams and stores them) and by clients (`RecordReader` decodes a
 * download response as it arrives).
 */
import { createHash, type Hash } from "node:crypto";
import { ShareError, badRequest } from "./errors.ts";
import type { ChunkRef } from "./file.ts";
import type { ChunkHash } from "./ids.ts";

export const RECORD_HEADER_BYTES = 36;
export const HASH_BYTES = 32;

/** The 36-byte header of a record. */
export function recordHeader(hash: ChunkHash, size: number): Buffer {
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  h.write(hash, 0, 32, "hex");
  h.writeUInt32BE(size, 32);
  return h;
}

/** A batch body as a list of buffers (headers interleaved with the chunks, nothing copied). */
export function encodeBatch(records: Iterable<{ readonly hash: ChunkHash; readonly bytes: Uint8Array }>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of records) out.push(recordHeader(r.hash, r.bytes.byteLength), r.bytes);
  return out;
}

/** A batch download request body: raw 32-byte hashes back to back, in the order wanted. */
export function parseHashList(body: Uint8Array): ChunkHash[] {
  if (body.byteLength % HASH_BYTES !== 0) throw badRequest(`Body must be a sequence of ${HASH_BYTES}-byte SHA-256 hashes`);
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: ChunkHash[] = [];
  for (let off = 0; off < buf.length; off += HASH_BYTES) out.push(buf.toString("hex", off, off + HASH_BYTES) as ChunkHash);
  return out;
}

export function encodeHashList(hashes: readonly ChunkHash[]): Buffer<ArrayBuffer> {
  const out = Buffer.alloc(hashes.length * HASH_BYTES);
  hashes.forEach((h, i) => out.write(h, i * HASH_BYTES, HASH_BYTES, "hex"));
  return out;
}

/** Where a decoded chunk should be assembled: a buffer of exactly `size` bytes, or undefined. */
export type Place = (hash: ChunkHash, size: number) => Uint8Array | undefined;

/**
 * Decodes a batch download response (protocol/batch.ts records) piece by piece as it arrives,
 * expecting exactly the chunks asked for, in order. A chunk goes where `place` says, or, when
 * it has no place, is a view of the piece holding it whole or else a buffer of its own. Each is
 * checked against its size (before anything is copied) and its hash: a damaged, missing,
 * reordered or extra record throws `hash-mismatch`.
 */
export class RecordReader {
  readonly #want: readonly ChunkRef[];
  readonly #place: Place | undefined;
  #next = 0;
  readonly #header = Buffer.alloc(RECORD_HEADER_BYTES);
  #headerHave = 0;
  /** The record being assembled: its buffer, how much has arrived, its hash so far. */
  #body: Uint8Array | undefined;
  #bodyHave = 0;
  #hash: Hash | undefined;

  constructor(want: readonly ChunkRef[], place?: Place) {
    this.#want = want;
    this.#place = place;
  }

  /**
   * Feeds one piece of the body; returns the chunks it completed, in order. A `transient` piece
   * will be overwritten after the call: nothing returned is a view of it.
   */
  push(piece: Uint8Array, transient = false): Array<{ hash: ChunkHash; bytes: Uint8Array }> {
    const out: Array<{ hash: ChunkHash; bytes: Uint8Array }> = [];
    let off = 0;
    while (off < piece.length) {
      if (this.#body) {
        // Continues the record being assembled.
        const n = Math.min(piece.length - off, this.#body.length - this.#bodyHave);
        const part = piece.subarray(off, off + n);
        this.#body.set(part, this.#bodyHave);
        this.#hash!.update(part);
        this.#bodyHave += n;
        off += n;
        if (this.#bodyHave === this.#body.length) out.push(this.#done(this.#body, this.#hash!));
        continue;
      }
      const c = this.#want[this.#next];
      if (!c) throw new ShareError("hash-mismatch", { text: "A chunk download returned more than was asked for" });
      const n = Math.min(piece.length - off, RECORD_HEADER_BYTES - this.#headerHave);
      this.#header.set(piece.subarray(off, off + n), this.#headerHave);
      this.#headerHave += n;
      off += n;
      if (this.#headerHave < RECORD_HEADER_BYTES) continue;
      if (this.#header.toString("hex", 0, HASH_BYTES) !== c.hash || this.#header.readUInt32BE(HASH_BYTES) !== c.size) throw this.#damaged();
      const dest = this.#place?.(c.hash, c.size);
      if (dest && dest.length !== c.size) throw new Error(`place() gave ${dest.length} bytes for a chunk of ${c.size}`);
      if (!dest && !transient && piece.length - off >= c.size) {
        // The whole record is in this piece: a view of it, no copy.
        const bytes = piece.subarray(off, off + c.size);
        out.push(this.#done(bytes, createHash("sha256").update(bytes)));
        off += c.size;
      } else {
        this.#body = dest ?? Buffer.allocUnsafe(c.size);
        this.#bodyHave = 0;
        this.#hash = createHash("sha256");
        if (c.size === 0) out.push(this.#done(this.#body, this.#hash));
      }
    }
    return out;
  }

  /** The body has ended: throws unless every chunk asked for arrived whole. */
  end(): void {
    if (this.#next < this.#want.length) throw this.#damaged();
  }

  #done(bytes: Uint8Array, hash: Hash): { hash: ChunkHash; bytes: Uint8Array } {
    const c = this.#want[this.#next]!;
    if (hash.digest("hex") !== c.hash) throw this.#damaged();
    this.#next++;
    this.#headerHave = 0;
    this.#body = undefined;
    this.#hash = undefined;
    return { hash: c.hash, bytes };
  }

  #damaged(): ShareError {
    const c = this.#want[this.#next]!;
    return new ShareError("hash-mismatch", { text: `Chunk ${c.hash} arrived damaged or incomplete` });
  }
}
