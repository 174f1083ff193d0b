/**
 * Batch bodies (XEP-draft.md § 5.9, "Batch upload" and "Batch download"): many small chunks in
 * one HTTP request or response, as concatenated records
 *
 *     [32 bytes: SHA-256 of the chunk, raw] [4 bytes: length n, unsigned big-endian] [n bytes]
 *
 * The encodings themselves are in protocol/batch.ts (clients use them too); this module reads
 * and stores bodies as they stream in.
 *
 * `parseBatch` reads such a body incrementally: it holds at most one record (≤ maxRecordBytes)
 * plus one 36-byte header, never the whole body. `storeBatch` stores records with bounded
 * concurrency; when one is refused it stops reading, waits for the records already started,
 * and reports how many were stored (they were verified, so they stay). Pure of HTTP: the
 * caller (component/http.ts) supplies authorization and storage.
 */
import { badRequest, ShareError } from "../protocol/errors.ts";
import { RECORD_HEADER_BYTES } from "../protocol/batch.ts";
import type { ChunkHash } from "../protocol/ids.ts";


export interface BatchRecord {
  readonly hash: ChunkHash;
  readonly size: number;
  /** The record's bytes as views into the source's buffers (which must not be reused). */
  readonly pieces: readonly Buffer[];
}

export interface BatchResult {
  readonly stored: number;
  readonly created: number;
}

/** A batch that stopped at record `failed` (0-based); `stored` records before it are kept. */
export class BatchError extends Error {
  constructor(
    readonly reason: unknown,
    readonly result: BatchResult & { readonly failed: number },
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
    this.name = "BatchError";
  }
}

/** Yields records as soon as each is complete; rejects on a truncated body or an oversized record. */
export async function* parseBatch(body: AsyncIterable<Uint8Array>, maxRecordBytes: number): AsyncGenerator<BatchRecord> {
  const head = Buffer.alloc(RECORD_HEADER_BYTES);
  let headLen = 0;
  let rec: { hash: ChunkHash; size: number; pieces: Buffer[]; need: number } | undefined;
  for await (const chunk of body) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let off = 0;
    while (off < buf.length) {
      if (!rec) {
        const n = Math.min(RECORD_HEADER_BYTES - headLen, buf.length - off);
        buf.copy(head, headLen, off, off + n);
        headLen += n;
        off += n;
        if (headLen < RECORD_HEADER_BYTES) break;
        headLen = 0;
        const size = head.readUInt32BE(32);
        if (size > maxRecordBytes) throw new ShareError("too-large", { text: `Record of ${size} bytes, limit ${maxRecordBytes}` });
        rec = { hash: head.toString("hex", 0, 32) as ChunkHash, size, pieces: [], need: size };
      }
      const n = Math.min(rec.need, buf.length - off);
      if (n > 0) rec.pieces.push(buf.subarray(off, off + n));
      off += n;
      rec.need -= n;
      if (rec.need === 0) {
        const { hash, size, pieces } = rec;
        rec = undefined;
        yield { hash, size, pieces };
      }
    }
  }
  if (rec || headLen > 0) throw badRequest("Batch body ends inside a record");
}

export interface StoreBatchOptions {
  /** Records stored at the same time (each holds one record in memory). */
  readonly concurrency: number;
  /**
   * Optional bound on the bytes of the records being stored at the same time; one record
   * always runs, however large. With it, `concurrency` can be high for small records (which
   * a store can then write together) without large ones piling up.
   */
  readonly maxInflightBytes?: number;
  readonly maxRecords: number;
  /** Throws to refuse a record before it is stored (e.g. its hash is not in the token). */
  readonly admit: (hash: ChunkHash) => void;
  /** Stores one record; resolves whether it was new. */
  readonly store: (rec: BatchRecord) => Promise<boolean>;
}

export async function storeBatch(records: AsyncIterable<BatchRecord>, opts: StoreBatchOptions): Promise<BatchResult> {
  let stored = 0;
  let created = 0;
  let index = 0;
  let failure: { reason: unknown; index: number } | undefined;
  // Records being stored and their bytes; `wake` is the loop below, waiting for one to finish
  // (a counter and one waiter: no Promise.race over every record in flight, per record).
  let running = 0;
  let runningBytes = 0;
  let wake: (() => void) | undefined;
  const maxBytes = opts.maxInflightBytes ?? Infinity;
  const finished = (size: number) => {
    running--;
    runningBytes -= size;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const oneFinishes = () => new Promise<void>((resolve) => (wake = resolve));
  try {
    for await (const rec of records) {
      opts.admit(rec.hash);
      if (index >= opts.maxRecords) throw new ShareError("too-large", { text: `More than ${opts.maxRecords} records` });
      const i = index++;
      running++;
      runningBytes += rec.size;
      void opts.store(rec).then(
        (isNew) => {
          stored++;
          if (isNew) created++;
          finished(rec.size);
        },
        (reason: unknown) => {
          failure ??= { reason, index: i };
          finished(rec.size);
        },
      );
      while (running >= opts.concurrency || (running > 0 && runningBytes >= maxBytes)) await oneFinishes();
      if (failure) break;
    }
  } catch (reason) {
    // Refused before it was started (or unparsable): the record at `index`.
    failure ??= { reason, index };
  }
  while (running > 0) await oneFinishes();
  if (failure) throw new BatchError(failure.reason, { stored, created, failed: failure.index });
  return { stored, created };
}
