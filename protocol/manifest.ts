/**
 * Chunk-list manifests (XEP-draft.md § 5.7): a file with many chunks does not list them in its
 * `<file/>` element. Its chunk list, packed 40 bytes per chunk (`chunk-list.ts`), is itself cut
 * by content-defined chunking into *manifest blobs*, stored and moved like any chunk; the
 * element names those blobs with `<manifest hash size/>`. Editing one byte of a large file then
 * changes one data chunk and one manifest blob, not a list of thousands of entries.
 *
 * Pure and deterministic: every replica derives the same manifest from the same chunk list, so
 * a receiver can often rebuild the blobs from a version it already has instead of fetching them.
 */
import { createHash } from "node:crypto";
import { type ChunkerOptions, chunkBuffer } from "./chunker.ts";
import { packChunks, unpackChunks } from "./chunk-list.ts";
import { badRequest } from "./errors.ts";
import { type ChunkRef, type FileVersion, contentId } from "./file.ts";
import type { ChunkHash } from "./ids.ts";

/** Files with more chunks than this carry a manifest instead of inline chunks. */
export const MANIFEST_THRESHOLD = 128;

/** How packed chunk lists are cut (≈100 entries per blob on average). Part of the protocol. */
export const MANIFEST_CHUNKING: ChunkerOptions = Object.freeze({ minSize: 1024, avgSize: 4096, maxSize: 16384 });

export interface Manifest {
  readonly refs: readonly ChunkRef[];
  readonly blobs: ReadonlyMap<ChunkHash, Uint8Array>;
}

/** The manifest of a chunk list, or undefined when the list is short enough to inline. */
export function manifestOf(chunks: readonly ChunkRef[]): Manifest | undefined {
  if (chunks.length <= MANIFEST_THRESHOLD) return undefined;
  const packed = packChunks(chunks);
  const refs: ChunkRef[] = [];
  const blobs = new Map<ChunkHash, Uint8Array>();
  for (const c of chunkBuffer(packed, MANIFEST_CHUNKING)) {
    refs.push({ hash: c.hash, size: c.size });
    blobs.set(c.hash, packed.subarray(c.offset, c.offset + c.size));
  }
  return { refs, blobs };
}

/** Just the manifest's blob hashes (for storage references), without keeping the bytes. */
export function manifestRefs(chunks: readonly ChunkRef[]): readonly ChunkRef[] {
  return manifestOf(chunks)?.refs ?? [];
}

/**
 * Rebuilds the chunk list from manifest blobs (each verified against its hash). The result
 * must itself produce exactly `refs`, so a manifest has one form and cannot hide a short list.
 */
export function expandManifest(refs: readonly ChunkRef[], blobs: ReadonlyMap<string, Uint8Array>): ChunkRef[] {
  const parts: Uint8Array[] = [];
  for (const r of refs) {
    const b = blobs.get(r.hash);
    if (!b) throw badRequest(`Manifest blob ${r.hash} is not available`);
    if (b.length !== r.size || createHash("sha256").update(b).digest("hex") !== r.hash) throw badRequest(`Manifest blob ${r.hash} is damaged`);
    parts.push(b);
  }
  const packed = Buffer.concat(parts);
  if (packed.length % 40 !== 0) throw badRequest("A manifest's length is not a whole number of entries");
  const chunks = unpackChunks(packed);
  const again = manifestOf(chunks)?.refs ?? [];
  if (again.length !== refs.length || again.some((r, i) => r.hash !== refs[i]!.hash)) {
    throw badRequest("A manifest must list more than 128 chunks and be cut as the protocol cuts it");
  }
  return chunks;
}

/** A version parsed with a manifest, made whole: chunks filled in and their sizes checked. */
export function withChunks(v: FileVersion, blobs: ReadonlyMap<string, Uint8Array>): FileVersion {
  if (!v.manifest) return v;
  const { manifest, ...rest } = v;
  const chunks = expandManifest(manifest, blobs);
  const total = chunks.reduce((s, c) => s + c.size, 0);
  if (total !== v.size) throw badRequest(`${v.path}: chunk sizes add up to ${total}, not ${v.size}`);
  if (contentId(chunks) !== v.hash) throw badRequest(`${v.path}: hash is not the content id of its chunks`);
  return { ...rest, chunks };
}
