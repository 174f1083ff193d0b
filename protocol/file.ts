/**
 * One version of one path in a space's index (XEP-draft.md § "Index entries").
 * The component keeps the current one per path; clients keep theirs per device.
 */
import { createHash } from "node:crypto";
import type { BareJid, ChunkHash, ReplicaId } from "./ids.ts";
import type { VersionVector } from "./vv.ts";

export type EntryKind = "file" | "dir";

export interface ChunkRef {
  readonly hash: ChunkHash;
  readonly size: number;
}

export interface FileVersion {
  /** Relative path, NFC, `/`-separated, already accepted by `checkPath`. */
  readonly path: string;
  readonly kind: EntryKind;
  readonly vector: VersionVector;
  /** The content id (`contentId` of `chunks`), lowercase hex; empty string for directories and deletions. */
  readonly hash: string;
  readonly size: number;
  /** Modification time in milliseconds since the epoch (UTC). */
  readonly mtimeMs: number;
  /** Permission bits (0o777 mask); only the owner-executable bit is applied by clients. */
  readonly mode: number;
  /** A tombstone: the path was deleted in this version. */
  readonly deleted: boolean;
  /**
   * On a deletion of a file: the content id of the file it deleted (XEP-draft.md § 5.7), so that
   * a replica that never learnt of the deletion and still holds exactly those bytes (a device
   * whose database was lost) deletes them instead of bringing them back as an edit. Absent on
   * every other version, and on deletions that do not know what they deleted.
   */
  readonly was?: string;
  /** The replica that made this version. */
  readonly replica: ReplicaId;
  /** The chunks that make up the content, in order; empty for directories and deletions. */
  readonly chunks: readonly ChunkRef[];
  /**
   * Set only on a version just parsed from the wire whose chunk list travelled as a manifest
   * (XEP-draft.md § 5.7): then `chunks` is empty until `expandManifest` fills it.
   */
  readonly manifest?: readonly ChunkRef[];
  /**
   * A version committed before its content was uploaded (XEP-draft.md § 5.16): announced and
   * ordered like any other, but its chunks are not on the sharing manager yet. Only on a file
   * that is not deleted. `by` (in index reads only, set by the sharing manager) is the member
   * who committed it, whose upload it waits for. Absent: the content is there.
   */
  readonly pending?: PendingMark;
}

/** The marker of a pending version (`<pending by?/>`, XEP-draft.md § 5.16). */
export interface PendingMark {
  readonly by?: BareJid;
}

/**
 * A file's `hash` (XEP-draft.md § 5.7): SHA-256 of its chunks' raw SHA-256s, concatenated in
 * order; for a file of exactly one chunk, that chunk's hash. Content-defined chunking makes the
 * chunk list a function of the content, so equal contents have equal ids and different ones
 * differ unless SHA-256 collides. For content of at most one chunk (every file up to 8 KiB, and
 * the empty file: SHA-256 of nothing) it is the SHA-256 of the content itself. It costs 32
 * bytes of hashing per chunk, not a second pass over the content.
 */
export function contentId(chunks: readonly ChunkRef[]): string {
  if (chunks.length === 1) return chunks[0]!.hash;
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(32 * Math.min(chunks.length, 1024));
  for (let i = 0; i < chunks.length; ) {
    let n = 0;
    for (; n < 1024 && i < chunks.length; n++, i++) buf.write(chunks[i]!.hash, n * 32, 32, "hex");
    h.update(buf.subarray(0, n * 32));
  }
  return h.digest("hex");
}
