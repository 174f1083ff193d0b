/**
 * Reclaiming space (XEP-draft.md § 6, rule 6): chunks that no current version needs and that
 * every replica of every current member has acknowledged past are deleted; the index stays.
 * After each pass, a store that only marks deleted bytes dead (PackBlobStore) compacts.
 *
 * Invariant kept with the upload path: a chunk's record exists only while its bytes do.
 * Both sides take one process-wide mutex: GC drops the record then the bytes, per candidate;
 * an upload records its chunks (the batches that finished meanwhile together, see
 * component/record-chunks.ts) only after checking the bytes are there.
 * A commit that raced with GC finds the chunk missing and is refused with `missing-chunks`,
 * and the client uploads it again. One mutex rather than a lock per hash: a batch records up
 * to thousands of chunks in one metadata transaction, and both critical sections are short
 * (no chunk bytes move inside them).
 */
import type { ChunkHash } from "../../protocol/ids.ts";
import type { Deps } from "../deps.ts";

/** An async mutex (in-process; one component instance owns its stores). FIFO, never re-entrant. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every earlier holder is done; a holder that throws releases all the same. */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

export interface GcResult {
  readonly chunks: number;
  readonly partials: number;
  /** Bytes given back by the blob store's compaction (0 for stores without one). */
  readonly compactedBytes: number;
}

/** One pass; returns how many chunks and stale partial uploads were removed, and the bytes compacted. */
export async function collectGarbage(deps: Deps, lock: Mutex, batch = 1000): Promise<GcResult> {
  const cutoff = deps.now() - deps.config.gcGraceMs;
  let chunks = 0;
  for (;;) {
    const candidates: ChunkHash[] = await deps.store.reclaimable(cutoff, batch);
    let dropped = 0;
    for (const hash of candidates) {
      await lock.runExclusive(async () => {
        if (await deps.store.dropChunk(hash, cutoff)) {
          await deps.blobs.delete(hash);
          dropped++;
        }
      });
    }
    chunks += dropped;
    if (candidates.length < batch || dropped === 0) break;
  }
  const partials = await deps.blobs.prunePartials(cutoff);
  const compactedBytes = deps.blobs.compact ? await deps.blobs.compact() : 0;
  if (chunks || partials || compactedBytes) deps.log.info({ chunks, partials, compactedBytes }, "reclaimed space");
  return { chunks, partials, compactedBytes };
}

/**
 * Removes stored blobs that no chunk record names: bytes a crash (a kill -9 between a blob's
 * write and its record, component/record-chunks.ts) left behind, which `collectGarbage` never
 * sees since it works from the records. Run at start-up, before uploads are taken: then no
 * upload can be between its write and its record. Resolves how many were removed.
 */
export async function reclaimUnrecorded(deps: Pick<Deps, "store" | "blobs" | "log">, batch = 1000): Promise<number> {
  // Listed first, deleted after: a store may not change while it lists (few are expected).
  const orphans: ChunkHash[] = [];
  let pending: ChunkHash[] = [];
  const check = async () => {
    const recorded = await deps.store.hasChunks(pending);
    for (const h of pending) if (!recorded.has(h)) orphans.push(h);
    pending = [];
  };
  for await (const h of deps.blobs.hashes()) {
    pending.push(h);
    if (pending.length >= batch) await check();
  }
  if (pending.length) await check();
  for (const h of orphans) await deps.blobs.delete(h);
  if (orphans.length) deps.log.warn({ removed: orphans.length }, "removed stored chunks that no record names (left by a crash)");
  return orphans.length;
}
