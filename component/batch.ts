/**
 * Batch bodies (XEP-draft.md § 5.9, "Batch upload" and "Batch download"): many small chunks in
 * one HTTP request or response, as concatenated records
 *
 *     [32 bytes: SHA-256 of the chunk, raw] [4 bytes: length n, unsigned big-endian] [n bytes]
 *
 * The encodings themselves are in protocol/batch.ts (clients use them too); this module reads
 * and stores bodies as they stream in.
 *
 * `BatchParser` (and `parseBatch` over it) reads such a body incrementally: it holds at most one
 * record (≤ maxRecordBytes) plus one 36-byte header, never the whole body. `storeBatch` reads a
 * body and stores its records with bounded concurrency; when one is refused it stops reading,
 * waits for the records already started, and reports how many were stored (they were verified,
 * so they stay). Pure of HTTP: the caller (component/http.ts) supplies authorization and storage.
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

/**
 * Cuts a batch body into records as its pieces arrive, synchronously: each record's bytes are
 * views into the pieces pushed (nothing is copied but the 36-byte headers), so the pieces must
 * not be reused while a record is in use. At most one record (≤ maxRecordBytes) is pending.
 */
export class BatchParser {
  readonly #max: number;
  readonly #head = Buffer.alloc(RECORD_HEADER_BYTES);
  #headLen = 0;
  #rec: { hash: ChunkHash; size: number; pieces: Buffer[]; need: number } | undefined;
  /** An oversized record seen: the body goes no further. */
  #error: ShareError | undefined;

  constructor(maxRecordBytes: number) {
    this.#max = maxRecordBytes;
  }

  /**
   * Appends to `out` the records `piece` completes, in order. At an oversized record's header
   * it stops: the records before it are appended, and `check`, `push` and `end` throw from
   * then on (too-large), so that the caller can store those first and name the right record.
   */
  push(piece: Uint8Array, out: BatchRecord[]): void {
    this.check();
    const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    const head = this.#head;
    let off = 0;
    while (off < buf.length) {
      let rec = this.#rec;
      if (!rec) {
        const n = Math.min(RECORD_HEADER_BYTES - this.#headLen, buf.length - off);
        // A whole header inside the piece is read in place; one cut by a piece boundary is gathered.
        const whole = this.#headLen === 0 && n === RECORD_HEADER_BYTES;
        if (!whole) buf.copy(head, this.#headLen, off, off + n);
        const h = whole ? buf : head;
        const at = whole ? off : 0;
        off += n;
        if (!whole && (this.#headLen += n) < RECORD_HEADER_BYTES) break;
        this.#headLen = 0;
        const size = h.readUInt32BE(at + 32);
        if (size > this.#max) {
          this.#error = new ShareError("too-large", { text: `Record of ${size} bytes, limit ${this.#max}` });
          return;
        }
        rec = this.#rec = { hash: h.toString("hex", at, at + 32) as ChunkHash, size, pieces: [], need: size };
      }
      const n = Math.min(rec.need, buf.length - off);
      if (n > 0) rec.pieces.push(buf.subarray(off, off + n));
      off += n;
      rec.need -= n;
      if (rec.need === 0) {
        this.#rec = undefined;
        out.push({ hash: rec.hash, size: rec.size, pieces: rec.pieces });
      }
    }
  }

  /** Throws when an oversized record was met. */
  check(): void {
    if (this.#error) throw this.#error;
  }

  /** Throws when the body ended inside a record (or an oversized record was met). */
  end(): void {
    this.check();
    if (this.#rec || this.#headLen > 0) throw badRequest("Batch body ends inside a record");
  }
}

/** Yields records as soon as each is complete; rejects on a truncated body or an oversized record. */
export async function* parseBatch(body: AsyncIterable<Uint8Array>, maxRecordBytes: number): AsyncGenerator<BatchRecord> {
  const parser = new BatchParser(maxRecordBytes);
  const out: BatchRecord[] = [];
  for await (const piece of body) {
    parser.push(piece, out);
    yield* out.splice(0);
    parser.check();
  }
  parser.end();
}

export interface StoreBatchOptions {
  /** Records larger than this are refused (`too-large`) as soon as their header arrives. */
  readonly maxRecordBytes: number;
  /** Records stored at the same time (each holds one record in memory). */
  readonly concurrency: number;
  /**
   * Optional bound on the bytes of the records being stored at the same time; one record
   * always runs, however large. With it, `concurrency` can be high for small records (which
   * a store can then write together) without large ones piling up.
   */
  readonly maxInflightBytes?: number;
  readonly maxRecords: number;
  /** Throws to refuse a record before it is stored (e.g. its hash or size is not the token's). */
  readonly admit: (hash: ChunkHash, size: number) => void;
  /** Stores one record; resolves whether it was new. */
  readonly store: (rec: BatchRecord) => Promise<boolean>;
}

/**
 * Reads a batch body (its pieces must not be reused: records are views into them) and stores
 * its records as they complete, with bounded concurrency. Records are cut out synchronously
 * (BatchParser): the only awaits are one per piece read and one whenever the limits are
 * reached, not one per record.
 */
export async function storeBatch(body: AsyncIterable<Uint8Array>, opts: StoreBatchOptions): Promise<BatchResult> {
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
  const start = (rec: BatchRecord) => {
    opts.admit(rec.hash, rec.size);
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
  };
  const parser = new BatchParser(opts.maxRecordBytes);
  const records: BatchRecord[] = [];
  try {
    reading: for await (const piece of body) {
      parser.push(piece, records);
      for (let r = 0; r < records.length; r++) {
        start(records[r]!);
        while (running >= opts.concurrency || (running > 0 && runningBytes >= maxBytes)) await oneFinishes();
        if (failure) break reading;
      }
      records.length = 0;
      parser.check(); // an oversized record: refused once the ones before it are started
    }
    if (!failure) parser.end();
  } catch (reason) {
    // Refused before it was started (or unparsable): the record at `index`.
    failure ??= { reason, index };
  }
  while (running > 0) await oneFinishes();
  if (failure) throw new BatchError(failure.reason, { stored, created, failed: failure.index });
  return { stored, created };
}
