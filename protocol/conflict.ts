/**
 * Conflict rule (XEP-draft.md § "Conflict rule"; DESIGN.md decision 4).
 *
 * Deterministic and pure, so every replica and the component reach the same verdict, the
 * same winner and the same name for the kept loser without talking to each other:
 *
 * - a conflict needs concurrent vectors *and* different content (deleted, kind or hash);
 *   two deletions never conflict, and neither do two versions with the same hash.
 *   Mode and mtime are metadata, not content: concurrent versions with the same bytes but
 *   different modes are not a conflict (a copy of identical bytes only adds noise); the
 *   winner's mode is taken, as `resolve` does.
 * - the winner stays at the path; the loser is kept as
 *   `name.sync-conflict-YYYYMMDD-HHMMSS-<replica>.ext`, named from the loser's own
 *   mtime (UTC) and replica. Only the resolving replica makes the copy; where that name is
 *   taken it moves the time to the nearest free second (client/engine/plan.ts `copyName`).
 */
import type { FileVersion } from "./file.ts";
import { checkPath, MAX_COMPONENT_BYTES, MAX_PATH_BYTES, pathError, utf8Bytes } from "./paths.ts";
import { compare, merge } from "./vv.ts";

/** Same content: both deleted, or same kind and hash. */
export function sameContent(a: FileVersion, b: FileVersion): boolean {
  if (a.deleted || b.deleted) return a.deleted === b.deleted;
  return a.kind === b.kind && a.hash === b.hash;
}

/** True iff the vectors are concurrent and the content differs. Symmetric. */
export function isConflict(a: FileVersion, b: FileVersion): boolean {
  return compare(a.vector, b.vector) === "concurrent" && !sameContent(a, b);
}

/**
 * Whether `a` beats `b` when their vectors are concurrent. A strict total order:
 * an edit beats a delete, then the later `mtimeMs`, then the greater replica id, then the
 * greater hash; kind and mode only break ties no honest pair of versions reaches.
 * Exactly one of `winsConflict(a, b)`, `winsConflict(b, a)` holds unless `a` and `b`
 * agree on all of these. `mtimeMs` must be finite (parsers reject anything else).
 */
export function winsConflict(a: FileVersion, b: FileVersion): boolean {
  if (a.deleted !== b.deleted) return !a.deleted;
  if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs > b.mtimeMs;
  if (a.replica !== b.replica) return a.replica > b.replica;
  if (a.hash !== b.hash) return a.hash > b.hash;
  if (a.kind !== b.kind) return a.kind === "file";
  return a.mode > b.mode;
}

export type Resolution =
  /** Keep `version` at the path; nothing else to keep. */
  | { readonly kind: "take"; readonly version: FileVersion }
  /** Keep `winner` at the path and `loser` under `conflictName(path, loser)`. */
  | { readonly kind: "conflict"; readonly winner: FileVersion; readonly loser: FileVersion };

/**
 * Reconciles two versions of one path; `resolve(a, b)` and `resolve(b, a)` agree.
 * When one vector dominates, that version is taken as it is. Otherwise the winner is
 * given the merged vector, so it dominates both and every replica converges on the same
 * entry without minting a new counter. Equal vectors with different content break the
 * vector invariant; they are treated as a conflict so that neither side is lost.
 */
export function resolve(a: FileVersion, b: FileVersion): Resolution {
  const order = compare(a.vector, b.vector);
  if (order === "greater") return { kind: "take", version: a };
  if (order === "lesser") return { kind: "take", version: b };
  const [w, loser] = winsConflict(b, a) ? [b, a] : [a, b];
  const winner: FileVersion = order === "equal" ? w : { ...w, vector: merge(a.vector, b.vector) };
  return sameContent(a, b) ? { kind: "take", version: winner } : { kind: "conflict", winner, loser };
}

/** Latest time a 4-digit year can show: 9999-12-31T23:59:59.999Z. */
const MAX_STAMP_MS = 253_402_300_799_999;

/** `YYYYMMDD-HHMMSS` in UTC; out-of-range times are clamped so the form never changes. */
function stamp(ms: number): string {
  const t = Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_STAMP_MS) : 0;
  const iso = new Date(t).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** The longest prefix of `s` within `maxBytes` UTF-8 bytes, never splitting a character. */
function truncateUtf8(s: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    bytes += utf8Bytes(ch);
    if (bytes > maxBytes) break;
    end += ch.length;
  }
  return s.slice(0, end);
}

function accepted(path: string): boolean {
  try {
    checkPath(path);
    return true;
  } catch {
    return false;
  }
}

/** A base name kept in full when it is the extension that makes a name too long. */
const KEEP_BASE_BYTES = 32;

/**
 * Where the loser of a conflict at `path` (an accepted path) is kept:
 * `dir/base.sync-conflict-YYYYMMDD-HHMMSS-<replica>.ext`, `ext` being the last extension
 * of the final component (none for a dotfile such as `.bashrc`). The base, then an
 * over-long extension, is cut at a character boundary so the result passes `checkPath`.
 * Throws `invalid-path`/`path-too-long` only when the directory alone leaves no room for
 * the suffix (a directory over ~4000 bytes).
 */
export function conflictName(path: string, loser: FileVersion): string {
  const p = checkPath(path);
  const slash = p.lastIndexOf("/");
  const dir = p.slice(0, slash + 1);
  const name = p.slice(slash + 1);
  const dot = name.lastIndexOf(".");
  const base = dot > 0 ? name.slice(0, dot) : name;
  const suffix = `.sync-conflict-${stamp(loser.mtimeMs)}-${loser.replica}`;
  const room = Math.min(MAX_COMPONENT_BYTES, MAX_PATH_BYTES - utf8Bytes(dir)) - utf8Bytes(suffix);
  if (room < 1) throw pathError("path-too-long", path);
  // Cutting may leave the extension ending in "." or " ", which no component may.
  const extRoom = Math.max(0, room - Math.min(utf8Bytes(base), KEEP_BASE_BYTES));
  const ext = dot > 0 ? truncateUtf8(name.slice(dot), extRoom).replace(/[. ]+$/, "") : "";
  const cut = truncateUtf8(base, room - utf8Bytes(ext));
  let out = dir + (cut || "_") + suffix + ext;
  // Only a cut base can turn into a reserved name (`CONFIG…` → `CON`); "_" never is one.
  if (!accepted(out)) out = dir + "_" + truncateUtf8(base, room - utf8Bytes(ext) - 1) + suffix + ext;
  return checkPath(out);
}
