/**
 * What every BlobStore implementation checks and refuses the same way (component/store/blobs.ts,
 * XEP-draft.md § 5.9): validation of resumable options and byte ranges, the errors a put can
 * end with, reading a source without storing it, per-key locks and partial-file pruning. Shared by
 * FsBlobStore, PackBlobStore and MemoryBlobStore
 * so that the contract suite sees one behaviour.
 */
import { createHash } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ShareError, badRequest } from "../../protocol/errors.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import type { BlobSource, ByteRange, PutOptions } from "./blobs.ts";

export interface Resumable {
  readonly offset: number;
  readonly total: number;
  readonly key: string;
}

/** The resumable part of PutOptions, checked; undefined for a whole-blob put. */
export function resumableOf(opts: PutOptions): Resumable | undefined {
  const { offset, total, key } = opts;
  if (offset === undefined && total === undefined && key === undefined) return undefined;
  if (offset === undefined || total === undefined || key === undefined) {
    throw badRequest("A resumable upload needs offset, total and key together");
  }
  if (!Number.isSafeInteger(total) || total < 0 || !Number.isSafeInteger(offset) || offset < 0 || offset > total) {
    throw badRequest(`Invalid part: offset ${offset} of total ${total}`);
  }
  return { offset, total, key };
}

export function checkRange(r: ByteRange): void {
  if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.end < r.start) {
    throw badRequest(`Invalid byte range ${r.start}-${r.end}`);
  }
}

export const tooLarge = (max: number) => new ShareError("too-large", { text: `Larger than ${max} bytes` });
export const mismatch = () => new ShareError("hash-mismatch");
export const pastTotal = (total: number) => badRequest(`Part goes past the total size ${total}`);
/** The expected offset also travels as an attribute, so that HTTP can answer with it. */
export const offsetMismatch = (have: number) =>
  new ShareError("bad-request", { text: `Part must start at offset ${have}`, attrs: { offset: String(have) } });

/** Reads a source to its end, counting (and, with `hash`, verifying) without storing. */
export async function consume(hash: ChunkHash | undefined, source: BlobSource, maxBytes: number): Promise<number> {
  const hasher = hash ? createHash("sha256") : undefined;
  let n = 0;
  for await (const piece of source) {
    n += piece.byteLength;
    if (n > maxBytes) throw tooLarge(maxBytes);
    hasher?.update(piece);
  }
  if (hasher && hasher.digest("hex") !== hash) throw mismatch();
  return n;
}

/** Serialises work per key (one partial upload at a time per uploader and hash). */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Whether work under `key` is running or queued. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }

  /** Resolves when everything running now has finished. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#tails.values()]);
  }
}

/** Removes partial-upload files in `dir` last written before `beforeMs`, except those in use. */
export async function prunePartialFiles(dir: string, locks: KeyedLocks, beforeMs: number): Promise<number> {
  let pruned = 0;
  for (const name of await readdir(dir)) {
    const file = join(dir, name);
    if (locks.busy(file)) continue; // a part is being written right now
    const st = await stat(file).catch(() => undefined);
    if (st && st.mtimeMs < beforeMs) {
      await rm(file, { force: true });
      pruned++;
    }
  }
  return pruned;
}
