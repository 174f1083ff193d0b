/**
 * Path rules (XEP-draft.md § "Path rules"): what a relative path that arrives from anyone
 * else (a stanza, an index page, another replica) must look like before any replica uses it.
 *
 * A path is NFC, `/`-separated and relative. It is rejected when it could escape the
 * sharing root, alias another name, or be impossible to create on Windows, macOS or Linux,
 * so every accepted path is safe to join onto a root on every platform. Each rule has its
 * own stable `reason`, sent as an attribute of `<invalid-path/>`.
 *
 * Characters Windows cannot store but that are harmless elsewhere (`< > " | ? *`) are
 * accepted: refusing them would stop Linux and macOS users sharing such files at all; a
 * Windows client maps or skips them locally. `:` is different: NTFS reads `a:b` as stream
 * `b` of file `a`, so a peer could write somewhere other than where the path says.
 */
import { ShareError } from "./errors.ts";

/** The client's state folder, at the root of every shared folder. */
export const STATE_DIR = ".xshare";
/** Prefix of the client's temporary files (written, then renamed into place). */
export const TEMP_PREFIX = ".xshare-tmp-";

/** Longest accepted component, in UTF-8 bytes (the common filesystem NAME_MAX). */
export const MAX_COMPONENT_BYTES = 255;
/** Longest accepted path, in UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

/** Every rejection reason, in the order the rules are checked. */
export const PATH_REJECTIONS = [
  "invalid-unicode",
  "empty",
  "path-too-long",
  "nul",
  "control-char",
  "absolute",
  "drive-letter",
  "backslash",
  "empty-component",
  "dot",
  "dot-dot",
  "component-too-long",
  "colon",
  "trailing-dot-space",
  "windows-reserved",
  "reserved",
] as const;
export type PathRejection = (typeof PATH_REJECTIONS)[number];

const REJECTIONS: ReadonlySet<string> = new Set(PATH_REJECTIONS);
export function isPathRejection(s: string): s is PathRejection {
  return REJECTIONS.has(s);
}

/** Lone surrogates, and U+FFFE/U+FFFF which XML 1.0 cannot carry. */
const INVALID_UNICODE = /[\p{Cs}\uFFFE\uFFFF]/u;
const CONTROL = /[\u0001-\u001F\u007F]/;
const DRIVE = /^[A-Za-z]:/;
/**
 * DOS device names, which Windows opens as devices whatever the directory or extension
 * (`con.txt`, `COM1.tar.gz`, `nul .txt`). CONIN$/CONOUT$ are the console's own.
 */
const DEVICE = /^(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(?:COM|LPT)[0-9\u00B9\u00B2\u00B3])$/i;
/**
 * Windows 8.3 short names that may alias the state folder or a temp file (`XSHARE~1`),
 * the same hole as git's `GIT~1` (CVE-2014-9390). Matched against the folded component.
 */
const SHORT_NAME = /^xshare~[0-9]+(?:\..*)?$/;
/** Code points HFS+ ignores when comparing names, so `.xs\u200Chare` would open `.xshare`. */
const HFS_IGNORABLE = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g;

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * The `invalid-path` error for a rejected path. `attrs.path` is for display only: the raw
 * input cut to 200 code units, with characters an XML attribute cannot carry escaped.
 */
export function pathError(reason: PathRejection, raw: string): ShareError {
  return new ShareError("invalid-path", {
    text: `Invalid path (${reason}): ${displayPath(raw)}`,
    attrs: { reason, path: displayPath(raw) },
  });
}

function displayPath(raw: string): string {
  let s = raw.length > 200 ? raw.slice(0, 200) + "\u2026" : raw;
  s = s.replace(/[\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF]|\p{Cs}/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  return s;
}

/**
 * Returns `raw` in NFC, or throws `ShareError("invalid-path")` with the first rule it
 * breaks as `attrs.reason`. Idempotent: `checkPath(checkPath(x)) === checkPath(x)`.
 */
export function checkPath(raw: string): string {
  if (typeof raw !== "string" || INVALID_UNICODE.test(raw)) throw pathError("invalid-unicode", String(raw));
  const p = raw.normalize("NFC");
  if (p === "") throw pathError("empty", raw);
  if (utf8Bytes(p) > MAX_PATH_BYTES) throw pathError("path-too-long", raw);
  if (p.includes("\u0000")) throw pathError("nul", raw);
  if (CONTROL.test(p)) throw pathError("control-char", raw);
  if (p.startsWith("/")) throw pathError("absolute", raw);
  if (DRIVE.test(p)) throw pathError("drive-letter", raw);
  if (p.includes("\\")) throw pathError("backslash", raw);
  for (const c of p.split("/")) {
    const reason = componentRejection(c);
    if (reason) throw pathError(reason, raw);
  }
  return p;
}

/** The rule one NFC component breaks, if any (characters were checked on the whole path). */
function componentRejection(c: string): PathRejection | undefined {
  if (c === "") return "empty-component";
  if (c === ".") return "dot";
  if (c === "..") return "dot-dot";
  if (utf8Bytes(c) > MAX_COMPONENT_BYTES) return "component-too-long";
  if (c.includes(":")) return "colon";
  // Windows drops trailing dots and spaces, so `a.` and `a ` would both open `a`.
  if (c.endsWith(".") || c.endsWith(" ")) return "trailing-dot-space";
  // Windows matches the part before the first dot, trailing spaces ignored.
  if (DEVICE.test(c.split(".", 1)[0]!.replace(/ +$/, ""))) return "windows-reserved";
  const folded = foldKey(c);
  if (folded === STATE_KEY || folded.startsWith(TEMP_KEY) || SHORT_NAME.test(folded)) return "reserved";
  return undefined;
}

/**
 * A key under which two paths are equal when some case-insensitive filesystem (NTFS,
 * APFS, HFS+) could treat them as the same name. Deliberately coarser than any one
 * filesystem: a false collision costs a renamed copy, a missed one an overwritten file.
 *
 * NFC, drop HFS+-ignorable code points, then lower → upper → lower case, which is full
 * case folding for practical purposes (`ß`/`ẞ`/`SS` → `ss`, `ſ` → `s`, final sigma),
 * then NFC again because case mapping can leave a string denormalised.
 */
export function foldKey(path: string): string {
  return path
    .normalize("NFC")
    .replace(HFS_IGNORABLE, "")
    .toLowerCase()
    .toUpperCase()
    .toLowerCase()
    .normalize("NFC");
}

const STATE_KEY = foldKey(STATE_DIR);
const TEMP_KEY = foldKey(TEMP_PREFIX);
