/**
 * BlobStore: chunk bytes, content-addressed by SHA-256 (XEP-draft.md § 5.9).
 *
 * Implementations: `PackBlobStore` (default: chunks appended to pack files under the data
 * directory), `FsBlobStore` (one file per chunk: simpler, slower to create chunks) and
 * `MemoryBlobStore` (tests). All run `tests/contract/blob-store.contract.ts`; an
 * S3-compatible store is meant to be one more implementation.
 *
 * Invariants: a blob is visible (`has`, `get`) only after its bytes were verified against its
 * hash; writing the same hash twice is harmless; a failed or aborted write leaves nothing
 * visible. Partial uploads are kept per upload key so that an interrupted upload resumes.
 */
import type { Readable } from "node:stream";
import type { ChunkHash } from "../../protocol/ids.ts";

/**
 * The bytes of a put: a stream of pieces, or an array of pieces that are all here already
 * (a batch record), which a store may read without an async iteration per piece.
 */
export type BlobSource = AsyncIterable<Uint8Array> | readonly Uint8Array[];

export interface PutOptions {
  /** Refuse (with `too-large`) as soon as more than this many bytes arrive in total. */
  readonly maxBytes: number;
  /**
   * Resumable uploads: the byte offset this part starts at and the total size of the blob.
   * Without them the source is the whole blob. A part whose offset is not exactly the number
   * of bytes already received for this key is refused (`bad-request`), nothing changes.
   */
  readonly offset?: number;
  readonly total?: number;
  /** Who is uploading: partial data is kept per (key, hash), never shared between uploaders. */
  readonly key?: string;
  /**
   * The source never reuses or changes a piece once it has yielded it (socket reads, for
   * instance): a store may then hold on to the pieces until they are written instead of
   * copying them. Without it a store must assume the source reuses its buffers.
   */
  readonly stablePieces?: boolean;
}

export type PutResult =
  /** The blob is now stored and verified (or was already). */
  | { readonly complete: true; readonly size: number; readonly created: boolean }
  /** A part was stored; `received` bytes are kept for the next part. */
  | { readonly complete: false; readonly received: number };

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

export interface BlobStore {
  has(hash: ChunkHash): Promise<boolean>;
  /** Size in bytes, or undefined when absent. */
  size(hash: ChunkHash): Promise<number | undefined>;
  /**
   * `size` of each hash, in order, in one call: the same answers as one `size` per hash (a
   * store with an index looks them up together, for batch requests of thousands of chunks).
   */
  sizes(hashes: readonly ChunkHash[]): Promise<(number | undefined)[]>;
  /**
   * Streams bytes in. Rejects with ShareError `hash-mismatch` when the complete content does
   * not hash to `hash` (and discards it), `too-large` beyond `maxBytes`.
   */
  put(hash: ChunkHash, source: BlobSource, opts: PutOptions): Promise<PutResult>;
  /** Bytes already received for a partial upload (0 when none). */
  received(hash: ChunkHash, key: string): Promise<number>;
  /** A stream of the blob (or of an inclusive byte range of it); undefined when absent. */
  get(hash: ChunkHash, range?: ByteRange): Promise<Readable | undefined>;
  /**
   * Optional: the whole content of each blob `hashes[i]` into `into[i]` (exactly `sizes[i]`
   * bytes long), for batch downloads: a store that keeps blobs next to each other reads a run
   * of them with one call, into the caller's (reusable) buffers instead of a fresh one per
   * blob. Rejects when a blob is absent or its size is not `sizes[i]`; once it settles,
   * nothing writes into `into` any more.
   */
  readInto?(hashes: readonly ChunkHash[], sizes: readonly number[], into: readonly Buffer[]): Promise<void>;
  /** Removes a blob; removing an absent one is not an error. */
  delete(hash: ChunkHash): Promise<void>;
  /**
   * Every stored blob's hash, once each, in no particular order. Meant for a store at rest (the
   * sharing manager's start-up, modules/gc.ts `reclaimUnrecorded`): blobs written meanwhile may
   * or may not be listed, and none may be deleted until the listing is done.
   */
  hashes(): AsyncIterable<ChunkHash>;
  /**
   * Makes blobs durable (fsync) before the component acknowledges a commit that names them.
   * Stores that are durable on write return at once.
   */
  sync(hashes: readonly ChunkHash[]): Promise<void>;
  /** Drops partial uploads older than `beforeMs` (by last write). */
  prunePartials(beforeMs: number): Promise<number>;
  /**
   * Optional: gives back the space of deleted blobs, for stores where `delete` only marks
   * bytes dead (PackBlobStore rewrites mostly dead pack files). Blobs stay readable throughout,
   * including streams already handed out. Resolves the bytes reclaimed. Garbage collection
   * (component/modules/gc.ts) calls it after each pass.
   */
  compact?(): Promise<number>;
  close(): Promise<void>;
}
