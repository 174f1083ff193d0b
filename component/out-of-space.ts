/**
 * A full disk (or a filesystem quota) under the sharing manager's data directory, as the blob
 * stores (node:fs: ENOSPC, EDQUOT) and SQLite (SQLITE_FULL) report it. Not a bug of ours and
 * not the client's fault: the chunk server answers 507, the router `unavailable` (wait), both
 * with this text, so that clients say what is wrong and retry later (XEP-draft.md § 5.9).
 */
export const OUT_OF_SPACE_TEXT = "The sharing manager is out of disk space; try again later";

export function isOutOfSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL";
}
