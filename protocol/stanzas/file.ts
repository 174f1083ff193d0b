/**
 * `<file/>`: one version of one path (XEP-draft.md § "Index entries").
 *
 *   <file path='notes/plan.txt' kind='file' hash='…64 hex…' size='5' mtime='1732531200000'
 *         mode='420' replica='laptop-7f3a'>
 *     <vector><c r='laptop-7f3a' n='1732531200000'/></vector>
 *     <chunk hash='…64 hex…' size='5'/>
 *   </file>
 *
 * A deletion is `deleted='true'` with no hash and no chunks (and, for a deleted file, `was`:
 * the content id it deleted); a directory is `kind='dir'`.
 * In an index page each `<file/>` also has `seq`; in a commit it may carry `<base/>`.
 * A version committed before its content (§ 5.16) carries `<pending/>`, in index reads with
 * `by`, the member who committed it; never on a deletion or a directory.
 */
import { badRequest } from "../errors.ts";
import { type ChunkRef, type EntryKind, type FileVersion, type PendingMark, contentId } from "../file.ts";
import { isChunkHash, type ChunkHash } from "../ids.ts";
import { MANIFEST_THRESHOLD, manifestOf } from "../manifest.ts";
import { parseBareJid } from "../jid.ts";
import { checkPath } from "../paths.ts";
import { replicaId } from "../vv.ts";
import {
  Element,
  childrenNamed,
  expectElement,
  optionalAttr,
  optionalBool,
  requiredAttr,
  requiredChild,
  requiredEnum,
  requiredUint,
} from "../xml.ts";
import { buildVector, parseVector } from "./vector.ts";

const KINDS: readonly EntryKind[] = ["file", "dir"];

/** Mode bits travel as a decimal integer; only 0o777 is meaningful. */
const MODE_MASK = 0o777;

export function buildFile(f: FileVersion, extra: Record<string, string> = {}): Element {
  const attrs: Record<string, string> = {
    path: f.path,
    kind: f.kind,
    size: String(f.size),
    mtime: String(f.mtimeMs),
    mode: String(f.mode),
    replica: f.replica,
    ...extra,
  };
  if (f.deleted) {
    attrs.deleted = "true";
    if (f.was) attrs.was = f.was;
  } else if (f.kind === "file") attrs.hash = f.hash;
  const el = new Element("file", attrs);
  el.cnode(buildVector(f.vector));
  if (!f.deleted) {
    // Long chunk lists travel as manifests (§ 5.7); a version not yet expanded keeps its own.
    const manifest = f.manifest ?? manifestOf(f.chunks)?.refs;
    if (manifest) for (const m of manifest) el.c("manifest", { hash: m.hash, size: String(m.size) });
    else for (const c of f.chunks) el.c("chunk", { hash: c.hash, size: String(c.size) });
    if (f.pending) el.c("pending", f.pending.by ? { by: f.pending.by } : {});
  }
  return el;
}

function parseHash(el: Element, name: string): ChunkHash {
  const h = requiredAttr(el, name);
  if (!isChunkHash(h)) throw badRequest(`<${el.name} ${name}/> is not a lowercase hex SHA-256`);
  return h;
}

export function parseChunkRef(el: Element): ChunkRef {
  return { hash: parseHash(el, "hash"), size: requiredUint(el, "size") };
}

/** Reads a `<file/>`; every field is checked, the path against the path rules. */
export function parseFile(el: Element): FileVersion {
  expectElement(el, "file");
  const path = checkPath(requiredAttr(el, "path"));
  const kind = requiredEnum(el, "kind", KINDS);
  const deleted = optionalBool(el, "deleted", false);
  const size = requiredUint(el, "size");
  const mtimeMs = requiredUint(el, "mtime");
  const mode = requiredUint(el, "mode");
  if ((mode & ~MODE_MASK) !== 0) throw badRequest(`<file mode/> has bits outside 0o777: ${mode}`);
  const replica = replicaId(requiredAttr(el, "replica"));
  const vector = parseVector(requiredChild(el, "vector"));
  if (vector.entries.length === 0) throw badRequest("<file/> has an empty <vector/>");
  const chunkEls = childrenNamed(el, "chunk");
  const manifestEls = childrenNamed(el, "manifest");
  const pendingEls = childrenNamed(el, "pending");
  if (pendingEls.length > 1) throw badRequest(`<file path='${path}'/> has more than one <pending/>`);
  let hash = "";
  let chunks: ChunkRef[] = [];
  if (deleted || kind === "dir") {
    if (pendingEls.length > 0) throw badRequest(`<file path='${path}'/> is a ${deleted ? "deletion" : "directory"} and cannot be pending`);
    if (optionalAttr(el, "hash") !== undefined || chunkEls.length > 0 || manifestEls.length > 0) {
      throw badRequest(`<file path='${path}'/> is a ${deleted ? "deletion" : "directory"} and cannot carry content`);
    }
    if (size !== 0) throw badRequest(`<file path='${path}'/> is a ${deleted ? "deletion" : "directory"}; size must be 0`);
    if (optionalAttr(el, "was") !== undefined) {
      if (!deleted || kind !== "file") throw badRequest(`<file path='${path}'/> has was= but is not the deletion of a file`);
      return { path, kind, vector, hash, size, mtimeMs, mode, deleted, replica, chunks, was: parseHash(el, "was") };
    }
  } else {
    if (optionalAttr(el, "was") !== undefined) throw badRequest(`<file path='${path}'/> has was= but is not a deletion`);
    hash = parseHash(el, "hash");
    const pending = parsePending(pendingEls[0]);
    if (manifestEls.length > 0) {
      if (chunkEls.length > 0) throw badRequest(`<file path='${path}'/> has both <chunk/> and <manifest/>`);
      // The sizes are checked once the manifest is expanded.
      const manifest = manifestEls.map(parseChunkRef);
      return { path, kind, vector, hash, size, mtimeMs, mode, deleted, replica, chunks: [], manifest, ...pending };
    }
    chunks = chunkEls.map(parseChunkRef);
    if (chunks.length > MANIFEST_THRESHOLD) throw badRequest(`<file path='${path}'/> lists more than ${MANIFEST_THRESHOLD} chunks; use a manifest`);
    const total = chunks.reduce((s, c) => s + c.size, 0);
    if (total !== size) throw badRequest(`<file path='${path}'/> chunk sizes add up to ${total}, not ${size}`);
    if (contentId(chunks) !== hash) throw badRequest(`<file path='${path}'/> hash is not the content id of its chunks`);
    return { path, kind, vector, hash, size, mtimeMs, mode, deleted, replica, chunks, ...pending };
  }
  return { path, kind, vector, hash, size, mtimeMs, mode, deleted, replica, chunks };
}

/** `<pending by?/>` as the `pending` field of a version (empty when absent); `by` is a bare JID. */
function parsePending(el: Element | undefined): { pending?: PendingMark } {
  if (!el) return {};
  const by = optionalAttr(el, "by");
  return { pending: by === undefined ? {} : { by: parseBareJid(by) } };
}
