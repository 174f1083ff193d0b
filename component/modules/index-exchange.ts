/**
 * Index exchange (XEP-draft.md § 5.8): paged reads, commits under the conflict rule, acks.
 *
 * A commit is refused as a whole, with nothing changed, when any path's new version does not
 * descend from the current one (`version-conflict`, carrying that current version), when a
 * chunk it names was never uploaded (`missing-chunks`) or is named with another size than the
 * bytes it holds (`bad-request`), when a file is over the size limit or
 * the space over its quota. Chunks are recorded only once durable (app.ts), so an accepted
 * commit never names bytes a crash could lose.
 *
 * A pending version (§ 5.16, `<pending/>`) is one whose content is not uploaded yet: the
 * missing-chunks rule does not apply to its chunks (its manifest blobs, if any, must be there),
 * the size limit and the quota do. It is stored with `by`, the committing member, and served so;
 * a commit naming `by` itself is refused. The same version complete (equal vector, same content,
 * no marker) completes it like a repeat; the same version pending over a complete one is refused
 * as a conflict (it would hide content that is there). The store keeps the chunks of the version
 * a pending one replaced until it is completed or replaced (store/memory-metadata.ts `pendingLive`).
 */
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid, ChunkHash } from "../../protocol/ids.ts";
import { MANIFEST_THRESHOLD, withChunks } from "../../protocol/manifest.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import { compare } from "../../protocol/vv.ts";
import { sameContent } from "../../protocol/conflict.ts";
import { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";
import type { CommitContext } from "../store/metadata.ts";
import { assertWriter, memberSpace } from "./access.ts";

/** Page size when the client names none. */
export const DEFAULT_PAGE = 500;

/** A page stops growing past this many bytes (files with many chunks are large). */
const PAGE_BYTES = { xmpp: 256 * 1024, http: 8 * 1024 * 1024 } as const;

/**
 * An upper estimate of an entry's serialised size (attributes ~300 bytes, a vector entry ~40,
 * a chunk ~100; paths counted twice for escaping). The router's XMPP_REPLY_LIMIT is the exact
 * safety net; this only keeps pages from reaching it.
 */
function estimateBytes(e: I.IndexEntry): number {
  // Long chunk lists travel as manifests: about one reference per 100 chunks.
  const listed = e.chunks.length > MANIFEST_THRESHOLD ? Math.ceil(e.chunks.length / 100) + 2 : e.chunks.length;
  return 300 + 2 * Buffer.byteLength(e.path) + 40 * e.vector.entries.length + 100 * listed;
}

/** The longest prefix of `entries` that fits `budget` serialised bytes, and at least one. */
function withinBudget(entries: I.IndexEntry[], budget: number): I.IndexEntry[] {
  let used = 0;
  for (let i = 0; i < entries.length; i++) {
    used += estimateBytes(entries[i]!);
    if (used > budget && i > 0) return entries.slice(0, i);
  }
  return entries;
}

function checkCommit(deps: Deps, commit: I.Commit, ctx: CommitContext, unusable: ReadonlySet<ChunkHash>): void {
  let delta = 0;
  for (const { version } of commit.changes) {
    const current = ctx.current.get(version.path);
    if (current) {
      const order = compare(version.vector, current.vector);
      // Pending over the same version complete would take back content that is there.
      const repeat = order === "equal" && sameContent(version, current) && !(version.pending && !current.pending);
      if (order !== "greater" && !repeat) {
        throw new ShareError("version-conflict", {
          attrs: { path: version.path },
          children: I.buildVersionConflictChildren(current),
        });
      }
      if (!current.deleted) delta -= current.size;
    }
    if (!version.deleted && version.size > deps.config.limits.maxFileBytes) {
      throw new ShareError("too-large", { text: `${version.path} is larger than ${deps.config.limits.maxFileBytes} bytes` });
    }
    if (!version.deleted) delta += version.size;
  }
  const clash = ctx.foldClashes[0];
  if (clash) {
    throw new ShareError("invalid-path", {
      text: `${clash.path} differs from ${clash.with} only in case or Unicode form: one file on a case-insensitive disk`,
      attrs: { reason: "case-collision", path: clash.path, with: clash.with },
    });
  }
  const missing = new Set([...ctx.missingChunks, ...unusable]);
  if (missing.size > 0) throw missingChunks([...missing]);
  // The sizes a commit declares are what every other member's download and quota count on: a
  // chunk held with other bytes than declared would fail every member's sync of the space.
  const wrong = ctx.wrongSizes[0];
  if (wrong) throw new ShareError("bad-request", { text: `Chunk ${wrong.hash} has ${wrong.held} bytes, not ${wrong.declared}` });
  if (delta > 0 && ctx.space.usedBytes + delta > deps.config.limits.spaceQuotaBytes) {
    throw new ShareError("quota-exceeded", { text: `The space would exceed its quota of ${deps.config.limits.spaceQuotaBytes} bytes` });
  }
}

function missingChunks(hashes: readonly string[]): ShareError {
  const children = hashes.slice(0, 100).map((hash) => new Element("missing", { hash }));
  return new ShareError("missing-chunks", { text: `${hashes.length} chunk(s) were not uploaded`, children });
}

async function readBlob(deps: Deps, hash: ChunkHash): Promise<Uint8Array | undefined> {
  const stream = await deps.blobs.get(hash);
  if (!stream) return undefined;
  const parts: Buffer[] = [];
  for await (const piece of stream) parts.push(piece as Buffer);
  return Buffer.concat(parts);
}

/**
 * Every chunk and manifest a commit names must be one the member may name in this space (§ 8):
 * already the space's, or uploaded by the member. Knowing a hash is not having the bytes; a
 * commit naming another space's chunk would otherwise serve it to the committer. Those not
 * usable are reported as missing, as if nobody held them: the client uploads them (a repeat).
 */
async function unusableChunks(deps: Deps, commit: I.Commit, member: BareJid): Promise<ReadonlySet<ChunkHash>> {
  const named = new Set<ChunkHash>();
  for (const { version: v } of commit.changes) {
    if (v.deleted) continue;
    // A pending version's chunks are neither required nor referenced (§ 5.16): nothing to prove.
    if (!v.pending) for (const c of v.chunks) named.add(c.hash);
    for (const m of v.manifest ?? []) named.add(m.hash);
  }
  if (named.size === 0) return named;
  const usable = await deps.store.usableChunks(commit.space, [...named], member);
  return new Set([...named].filter((h) => !usable.has(h)));
}

/** Versions whose chunk list came as a manifest (§ 5.7) get it back from the uploaded blobs. */
async function expandManifests(deps: Deps, changes: readonly I.CommitChange[], unusable: ReadonlySet<ChunkHash>): Promise<I.CommitChange[]> {
  const refs = changes.flatMap((c) => c.version.manifest ?? []);
  if (refs.length === 0) return [...changes];
  const hashes = [...new Set(refs.map((r) => r.hash))];
  const held = await deps.store.hasChunks(hashes);
  const absent = hashes.filter((h) => !held.has(h) || unusable.has(h));
  if (absent.length) throw missingChunks(absent);
  const blobs = new Map<string, Uint8Array>();
  for (const h of hashes) {
    const b = await readBlob(deps, h);
    if (!b) throw missingChunks([h]);
    blobs.set(h, b);
  }
  return changes.map((c) => ({ ...c, version: withChunks(c.version, blobs) }));
}

/**
 * A commit's pending versions (§ 5.16) get `by`, the committing member, as stored and served;
 * a commit that names `by` itself is refused (only the component says who committed).
 */
function stampPending(commit: I.Commit, member: BareJid): I.Commit {
  if (!commit.changes.some((c) => c.version.pending)) return commit;
  for (const { version: v } of commit.changes) {
    if (v.pending?.by !== undefined) throw new ShareError("bad-request", { text: `${v.path}: a commit's <pending/> carries no by (the sharing manager sets it)` });
  }
  return { ...commit, changes: commit.changes.map((c) => (c.version.pending ? { ...c, version: { ...c.version, pending: { by: member } } } : c)) };
}

export function registerIndex(router: Router, deps: Deps): void {
  router.get("index", async ({ member, payload, via }) => {
    const q = I.parseIndexQuery(payload);
    const { record } = await memberSpace(deps, q.space, member);
    const max = Math.min(q.max ?? DEFAULT_PAGE, I.MAX_PAGE);
    const entries = withinBudget(await deps.store.readIndex(q.space, q.after, max), PAGE_BYTES[via]);
    const last = entries[entries.length - 1];
    // The head read with the space may be older than the entries read after it; never report less.
    const head = Math.max(record.head, last?.seq ?? 0);
    // The newest applied version is always current, so the page that holds seq == head is the last.
    const complete = last === undefined || last.seq === head;
    return I.buildIndexPage({ space: q.space, head, complete, entries });
  });

  router.set("commit", async ({ member, payload }) => {
    const parsed = stampPending(I.parseCommit(payload), member);
    const s = await memberSpace(deps, parsed.space, member);
    assertWriter(s, member);
    const unusable = await unusableChunks(deps, parsed, member);
    const commit: I.Commit = { space: parsed.space, changes: await expandManifests(deps, parsed.changes, unusable) };
    const head = await deps.store.commit(
      commit.space,
      commit.changes.map((c) => c.version),
      (ctx) => checkCommit(deps, commit, ctx, unusable),
    );
    deps.log.debug({ space: commit.space, member, paths: commit.changes.length, head }, "commit applied");
    return I.buildCommitted({ space: commit.space, head });
  });

  router.set("ack", async ({ member, payload }) => {
    const ack = I.parseAck(payload);
    const { record } = await memberSpace(deps, ack.space, member);
    if (ack.seq > record.head) throw new ShareError("bad-request", { text: `seq ${ack.seq} is beyond the head ${record.head}` });
    await deps.store.ack(ack.space, member, ack.replica, ack.seq);
    return undefined;
  });
}
