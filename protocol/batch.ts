/**
 * Batch bodies on the wire (XEP-draft.md § 5.9, "Batch upload" and "Batch download"): many
 * chunks in one HTTP request or response, as concatenated records
 *
 *     [32 bytes: SHA-256 of the chunk, raw] [4 bytes: length n, unsigned big-endian] [n bytes]
 *
 * and a batch download request as concatenated raw 32-byte hashes. Used by the component
 * (component/batch.ts streams and stores them) and by clients.
 */
import { badRequest } from "./errors.ts";
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

/** Every record of a whole batch body (a batch download response), in order. */
export function decodeRecords(body: Uint8Array): Array<{ hash: ChunkHash; bytes: Uint8Array }> {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: Array<{ hash: ChunkHash; bytes: Uint8Array }> = [];
  for (let off = 0; off < buf.length; ) {
    if (off + RECORD_HEADER_BYTES > buf.length) throw badRequest("Batch body ends inside a record header");
    const size = buf.readUInt32BE(off + HASH_BYTES);
    const end = off + RECORD_HEADER_BYTES + size;
    if (end > buf.length) throw badRequest("Batch body ends inside a record");
    out.push({ hash: buf.toString("hex", off, off + HASH_BYTES) as ChunkHash, bytes: buf.subarray(off + RECORD_HEADER_BYTES, end) });
    off = end;
  }
  return out;
}
