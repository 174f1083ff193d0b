/**
 * Recording uploaded chunks in the metadata (what the chunk server calls `metadata.addChunks`
 * once a batch or a PUT is stored; app.ts wires it).
 *
 * Invariants (modules/gc.ts): a chunk is recorded only while its bytes exist, checked under the
 * process-wide GC mutex; and only once durable (`blobs.sync`), so that a commit the component
 * accepts never names bytes a power loss could take back.
 *
 * Group commit: calls that arrive while a recording is in progress wait (as they did for the
 * mutex) and then go together: one lookup of every hash, one `sync` (one pack fdatasync, one
 * durable index commit), one `addChunks` transaction per uploader (usually one): the same
 * work as before, a fraction of the fsyncs and transactions when several batch uploads run at
 * once. Each call still resolves only once its own chunks are durable and recorded, and fails
 * alone when one of its own chunks vanished (as a single call would); a failure of the shared
 * steps fails the calls that shared them.
 */
import type { BareJid, ChunkHash } from "../protocol/ids.ts";
import type { Mutex } from "./modules/gc.ts";
import type { BlobStore } from "./store/blobs.ts";
import type { MetadataStore } from "./store/metadata.ts";

type Chunks = ReadonlyArray<{ readonly hash: ChunkHash; readonly size: number }>;

interface Call {
  readonly chunks: Chunks;
  readonly uploader: BareJid;
  readonly nowMs: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface ChunkRecorderDeps {
  readonly blobs: Pick<BlobStore, "sizes" | "sync">;
  readonly store: Pick<MetadataStore, "addChunks">;
  readonly lock: Mutex;
}

/** `addChunks` as the chunk server needs it: durable, checked, grouped (see the header). */
export function chunkRecorder(deps: ChunkRecorderDeps): (chunks: Chunks, uploader: BareJid, nowMs: number) => Promise<void> {
  let waiting: Call[] = [];
  let running = false;

  const drain = async () => {
    running = true;
    try {
      while (waiting.length > 0) {
        const group = waiting;
        waiting = [];
        await deps.lock.runExclusive(() => record(deps, group)).catch((err: unknown) => {
          for (const c of group) c.reject(err); // no-op for the ones already settled
        });
      }
    } finally {
      running = false;
    }
  };

  return (chunks, uploader, nowMs) => {
    if (chunks.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      waiting.push({ chunks, uploader, nowMs, resolve, reject });
      if (!running) void drain();
    });
  };
}

async function record(deps: ChunkRecorderDeps, group: readonly Call[]): Promise<void> {
  const sizes = await deps.blobs.sizes(group.flatMap((c) => c.chunks.map((x) => x.hash)));
  const present: Call[] = [];
  let at = 0;
  for (const c of group) {
    const gone = sizes.slice(at, (at += c.chunks.length)).indexOf(undefined);
    if (gone >= 0) c.reject(new Error(`chunk ${c.chunks[gone]!.hash} vanished before it was recorded`));
    else present.push(c);
  }
  if (present.length === 0) return;
  // Durable before recorded: a chunk the metadata names survives a power loss.
  await deps.blobs.sync(present.flatMap((c) => c.chunks.map((x) => x.hash)));
  // One transaction per uploader. The latest call's time stands for the group: a chunk's
  // recorded time only ever starts its grace period later, never earlier.
  const byUploader = new Map<BareJid, Call[]>();
  for (const c of present) byUploader.set(c.uploader, [...(byUploader.get(c.uploader) ?? []), c]);
  for (const [uploader, calls] of byUploader) {
    try {
      const nowMs = Math.max(...calls.map((c) => c.nowMs));
      await deps.store.addChunks(calls.flatMap((c) => c.chunks), uploader, nowMs);
      for (const c of calls) c.resolve();
    } catch (err) {
      for (const c of calls) c.reject(err);
    }
  }
}
