/**
 * Applying a commit (XEP-draft.md § 5.8): the one implementation of the commit rules, used by the
 * `<commit/>` IQ (index-exchange.ts) and by the web interface's changes (component/web/replica.ts),
 * so that a change made in a browser is held to exactly what a sharing client's change is.
 *
 * A commit is refused as a whole, with nothing changed, when any path's new version does not
 * descend from the current one (`version-conflict`, carrying that current version), when a
 * chunk it names was never uploaded (`missing-chunks`) or is named with another size than the
 * bytes it holds (`bad-request`), when a file is over the size limit or the space over its
 * quota. Chunks are recorded only once durable (record-chunks.ts), so an accepted commit never
 * names bytes a crash could lose. The check runs inside the store's transaction.
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
import { withChunks } from "../../protocol/manifest.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import { compare, type VersionVector } from "../../protocol/vv.ts";
import { sameContent } from "../../protocol/conflict.ts";
import { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import type { CommitContext } from "../store/metadata.ts";
import { assertWriter, memberSpace } from "./access.ts";

export interface CommitOptions {
  /**
   * Per path, the vector of the version the committer read before deciding (undefined: it read
   * no entry at all). Checked in the transaction: when the current version is another one, the
   * commit is refused with `version-conflict` as if its vector did not descend from it.
   */
  readonly expect?: ReadonlyMap<string, VersionVector | undefined>;
}

function conflictWith(path: string, current: I.IndexEntry | undefined): ShareError {
  return new ShareError("version-conflict", {
    attrs: { path },
    ...(current ? { children: I.buildVersionConflictChildren(current) } : {}),
  });
}

function checkCommit(deps: Deps, commit: I.Commit, ctx: CommitContext, unusable: ReadonlySet<ChunkHash>, opts: CommitOptions): void {
  let delta = 0;
  for (const { version } of commit.changes) {
    const current = ctx.current.get(version.path);
    if (opts.expect?.has(version.path)) {
      // The committer decided from a version it read earlier (the web interface): that one must
      // still be current, or another change came in between and the decision is taken again.
      const expected = opts.expect.get(version.path);
      const same = expected === undefined ? current === undefined : current !== undefined && compare(current.vector, expected) === "equal";
      if (!same) throw conflictWith(version.path, current);
    }
    if (current) {
      const order = compare(version.vector, current.vector);
      // Pending over the same version complete would take back content that is there.
      const repeat = order === "equal" && sameContent(version, current) && !(version.pending && !current.pending);
      if (order !== "greater" && !repeat) throw conflictWith(version.path, current);
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

/**
 * Applies `commit` for `member` (a member and a writer of the space) and resolves the new head,
 * or throws the ShareError that refuses it (nothing changed then).
 */
export async function applyCommit(deps: Deps, member: BareJid, received: I.Commit, opts: CommitOptions = {}): Promise<number> {
  const parsed = stampPending(received, member);
  const s = await memberSpace(deps, parsed.space, member);
  assertWriter(s, member);
  const unusable = await unusableChunks(deps, parsed, member);
  const commit: I.Commit = { space: parsed.space, changes: await expandManifests(deps, parsed.changes, unusable) };
  const head = await deps.store.commit(
    commit.space,
    commit.changes.map((c) => c.version),
    (ctx) => checkCommit(deps, commit, ctx, unusable, opts),
  );
  deps.log.debug({ space: commit.space, member, paths: commit.changes.length, head }, "commit applied");
  return head;
}
