/**
 * Resumable uploads on disk (XEP-draft.md § 5.9, "Resumable upload"), shared by the on-disk
 * blob stores: one file per (uploader, chunk) under `<dir>/.partial/`, parts appended only at
 * the offset already received, one part at a time per file. A complete file is verified against
 * its hash (it is at most the chunk size limit, which the HTTP layer checks against `total`)
 * and handed to the store, which adopts it; then the partial file is gone.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ChunkHash } from "../../protocol/ids.ts";
import { KeyedLocks, consume, mismatch, offsetMismatch, pastTotal, prunePartialFiles, tooLarge, type Resumable } from "./blob-common.ts";
import type { BlobSource, PutResult } from "./blobs.ts";

export interface PartialHooks {
  /** The size of the blob when the store holds it already (the part is then drained). */
  readonly stored: () => Promise<number | undefined>;
  /** Takes the verified complete content; true when it was new to the store. */
  readonly adopt: (file: string, bytes: Buffer) => Promise<boolean>;
}

const call = <T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

export class PartialUploads {
  readonly #dir: string;
  readonly #now: () => number;
  readonly #locks = new KeyedLocks();

  private constructor(dir: string, now: () => number) {
    this.#dir = dir;
    this.#now = now;
  }

  static async open(dir: string, now: () => number = Date.now): Promise<PartialUploads> {
    await mkdir(dir, { recursive: true });
    return new PartialUploads(dir, now);
  }

  #path(hash: ChunkHash, key: string): string {
    return join(this.#dir, `${createHash("sha256").update(key).digest("hex")}-${hash}`);
  }

  async received(hash: ChunkHash, key: string): Promise<number> {
    return (await stat(this.#path(hash, key)).catch(() => undefined))?.size ?? 0;
  }

  put(hash: ChunkHash, source: BlobSource, maxBytes: number, part: Resumable, hooks: PartialHooks): Promise<PutResult> {
    const file = this.#path(hash, part.key);
    return this.#locks.run(file, () => this.#put(hash, source, maxBytes, part, file, hooks));
  }

  async #put(hash: ChunkHash, source: BlobSource, maxBytes: number, { offset, total }: Resumable, file: string, hooks: PartialHooks): Promise<PutResult> {
    const existing = await hooks.stored();
    if (existing !== undefined) {
      await consume(undefined, source, maxBytes);
      await rm(file, { force: true });
      return { complete: true, size: existing, created: false };
    }
    const have = (await stat(file).catch(() => undefined))?.size ?? 0;
    if (offset !== have) throw offsetMismatch(have);
    const fd = await call<number>((cb) => fs.open(file, "a", 0o644, cb));
    let refused = false;
    try {
      let n = 0;
      // Parts are rare: each piece is written before the next is pulled, nothing is staged.
      for await (const piece of source) {
        n += piece.byteLength;
        refused = true;
        if (n > maxBytes) throw tooLarge(maxBytes);
        if (offset + n > total) throw pastTotal(total);
        refused = false;
        await call<number>((cb) => fs.write(fd, piece, 0, piece.byteLength, null, cb));
      }
    } catch (err) {
      // A part refused for its size is rolled back; one cut short keeps what arrived.
      if (refused) await call<void>((cb) => fs.ftruncate(fd, offset, (e) => cb(e, undefined))).catch(() => undefined);
      throw err;
    } finally {
      // The age `prune` goes by is the store's clock, so that tests can move it.
      const t = this.#now() / 1000;
      await call<void>((cb) => fs.futimes(fd, t, t, (e) => cb(e, undefined))).catch(() => undefined);
      await call<void>((cb) => fs.close(fd, (e) => cb(e, undefined))).catch(() => undefined);
    }
    const bytes = await readFile(file);
    if (bytes.length < total) return { complete: false, received: bytes.length };
    if (createHash("sha256").update(bytes).digest("hex") !== hash) {
      await rm(file, { force: true });
      throw mismatch();
    }
    const created = await hooks.adopt(file, bytes);
    await rm(file, { force: true });
    return { complete: true, size: bytes.length, created };
  }

  /** Drops partial files last written before `beforeMs` (not those being written). */
  prune(beforeMs: number): Promise<number> {
    return prunePartialFiles(this.#dir, this.#locks, beforeMs);
  }

  /** Resolves when every part being written has finished. */
  settled(): Promise<void> {
    return this.#locks.settled();
  }
}
