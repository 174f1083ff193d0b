/**
 * One version of one path in a space's index (XEP-draft.md § "Index entries").
 * The component keeps the current one per path; clients keep theirs per device.
 */
import type { ChunkHash, ReplicaId } from "./ids.ts";
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
  /** Whole-content SHA-256, lowercase hex; empty string for directories and deletions. */
  readonly hash: string;
  readonly size: number;
  /** Modification time in milliseconds since the epoch (UTC). */
  readonly mtimeMs: number;
  /** Permission bits (0o777 mask); only the owner-executable bit is applied by clients. */
  readonly mode: number;
  /** A tombstone: the path was deleted in this version. */
  readonly deleted: boolean;
  /** The replica that made this version. */
  readonly replica: ReplicaId;
  /** The chunks that make up the content, in order; empty for directories and deletions. */
  readonly chunks: readonly ChunkRef[];
  /**
   * Set only on a version just parsed from the wire whose chunk list travelled as a manifest
   * (XEP-draft.md § 5.7): then `chunks` is empty until `expandManifest` fills it.
   */
  readonly manifest?: readonly ChunkRef[];
}
