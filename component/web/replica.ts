/**
 * The web interface as one more replica (XEP-draft.md § 5.18): what a change made in a browser
 * does to a space, decided and committed exactly as a sharing client's change would be.
 *
 * - One replica id for the whole sharing manager's web interface (`web-…`, made at first start
 *   and kept in `<dataDir>/web-replica`), bumped `max(previous + 1, now)` like any device's.
 *   Several people (or tabs) share it, so a vector cannot tell their changes apart; what tells
 *   them apart is the page: every change names the space's head when the page was shown
 *   (`seen`), and a path whose current version is newer than that was changed by someone else
 *   meanwhile. The decision is then taken from the current version, and committed with
 *   `expect` (modules/commit.ts): should yet another change land between that read and the
 *   commit, the commit is refused and the decision taken again.
 * - Content goes in as a sharing client's does: cut by protocol/chunker.ts, each chunk (and a
 *   long file's manifest blobs) put into the blob store and recorded through the chunk server's
 *   recorder (durable before recorded), then one commit through `applyCommit`, the same rules
 *   as the `<commit/>` IQ (membership, writers, sizes, quotas, case collisions).
 * - An upload over a version the page did not show is a conflict (§ 5.6): the conflict rule's
 *   winner takes the path with a vector above both, the loser is kept as
 *   `name.sync-conflict-YYYYMMDD-HHMMSS-<replica>.ext`, in the same commit. Nothing is lost.
 * - A deletion is the protocol's deletion version (a tombstone carrying `was`); a rename is what
 *   a client's rename is: the old path deleted and the same content at the new one, in one
 *   commit; a folder's deletion or rename covers everything under it. Deleting or renaming
 *   something that changed since the page was shown is refused (an edit beats a deletion), and
 *   nothing changes.
 * - After each commit the members are told as after a client's commit (modules/snm.ts
 *   `announceChange`): an SNM to every sharing client online, kept for the others.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { conflictName, sameContent, winsConflict } from "../../protocol/conflict.ts";
import { ShareError } from "../../protocol/errors.ts";
import type { FileVersion } from "../../protocol/file.ts";
import { isToken, type BareJid, type ChunkHash, type ReplicaId, type SpaceId } from "../../protocol/ids.ts";
import { checkPath, foldKey } from "../../protocol/paths.ts";
import type { CommitChange, IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import type { Snm } from "../../protocol/stanzas/sync-signals.ts";
import { EMPTY, bump, mergeAll, type VersionVector } from "../../protocol/vv.ts";
import type { Deps } from "../deps.ts";
import { applyCommit } from "../modules/commit.ts";
import { storeContent, type StoredContent } from "./content.ts";

export type { StoredContent } from "./content.ts";

/** What the web replica needs besides the component's deps. */
export interface WebReplicaDeps {
  readonly deps: Deps;
  readonly replica: ReplicaId;
  /** The chunk server's recorder (record-chunks.ts): resolves once the chunks are durable and recorded. */
  readonly record: (chunks: ReadonlyArray<{ hash: ChunkHash; size: number }>, uploader: BareJid, nowMs: number) => Promise<void>;
  /** Tells the members (service.ts `announce`). */
  readonly announce: (snm: Snm) => Promise<void>;
}

export interface UploadResult {
  /** Where the uploaded content is now: the path, or a conflict copy's name when it lost. */
  readonly path: string;
  /** The conflict copy made (of the upload, or of the version it replaced), if any. */
  readonly conflictCopy?: string;
  /** True when the path held exactly this content already: nothing was committed. */
  readonly unchanged?: boolean;
}

const FILE = "web-replica";
/** Decisions taken again when other changes keep landing between read and commit. */
const ATTEMPTS = 5;

/** The web interface's replica id: read from `<dataDir>/web-replica`, made there at first start. */
export async function loadWebReplica(dataDir: string, newId: (prefix: string) => string): Promise<ReplicaId> {
  const file = join(dataDir, FILE);
  const known = await readFile(file, "utf8").then((s) => s.trim(), () => undefined);
  if (known !== undefined) {
    if (!isToken(known)) throw new Error(`${file} does not hold a replica id`);
    return known as ReplicaId;
  }
  const id = newId("web-");
  await mkdir(dataDir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(`${id}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return id as ReplicaId;
}

/** Every current version of a space (live and deleted), by path. */
export async function readTree(deps: Deps, space: SpaceId): Promise<Map<string, IndexEntry>> {
  const out = new Map<string, IndexEntry>();
  for (let after = 0; ; ) {
    const page = await deps.store.readIndex(space, after, 1000);
    for (const e of page) out.set(e.path, e);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.seq;
  }
}

/** Whether `path` is `folder` itself or lies under it ("" is the space's root). */
export function under(path: string, folder: string): boolean {
  return folder === "" || path === folder || path.startsWith(`${folder}/`);
}

/** A pending version (§ 5.16) cannot be copied or moved here: its content is not on the component. */
function waitingFor(e: IndexEntry): ShareError {
  return new ShareError("version-conflict", { text: `${e.path} is still being uploaded by ${e.pending?.by ?? "its owner"}'s device; try again once it is there.` });
}

const parentOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf("/")));

export class WebReplica {
  readonly #telling = new Set<Promise<unknown>>();

  constructor(readonly d: WebReplicaDeps) {}

  get id(): ReplicaId {
    return this.d.replica;
  }

  /** Stores an upload's content (content.ts): durable and recorded as `member`'s uploads. */
  store(member: BareJid, source: AsyncIterable<Uint8Array>): Promise<StoredContent> {
    return storeContent(this.d.deps, this.d.record, member, source);
  }

  /**
   * Puts stored content at `folder/name`. `seen` is the space's head when the page was shown: a
   * live version there with a higher sequence number was not seen, and the upload conflicts
   * with it (see the header). Missing parent folders are made.
   */
  async upload(member: BareJid, space: SpaceId, folder: string, name: string, content: StoredContent, seen: number): Promise<UploadResult> {
    const path = checkPath(folder ? `${folder}/${name}` : name);
    if (name.includes("/")) throw new ShareError("bad-request", { text: "A file name cannot contain '/'" });
    return this.#attempts(async () => {
      const tree = await readTree(this.d.deps, space);
      const now = this.d.deps.now();
      const changes: CommitChange[] = [];
      const expect = new Map<string, VersionVector | undefined>();
      const cur = tree.get(path);
      expect.set(path, cur?.vector);
      if (cur && !cur.deleted && cur.kind === "dir") throw new ShareError("bad-request", { text: `${path} is a folder` });
      // Its content is on another device still: it could be neither kept as a copy nor lost.
      if (cur && !cur.deleted && cur.pending && cur.seq > seen) throw waitingFor(cur);
      this.#parents(tree, path, now, changes, expect);
      const mine: FileVersion = {
        path,
        kind: "file",
        vector: bump(cur?.vector ?? EMPTY, this.id, now),
        hash: content.hash,
        size: content.size,
        mtimeMs: now,
        mode: cur && !cur.deleted ? cur.mode : 0o644,
        deleted: false,
        replica: this.id,
        chunks: content.chunks,
      };
      let result: UploadResult = { path };
      if (cur && !cur.deleted && cur.seq > seen) {
        // Changed since the page was shown: the conflict rule (§ 5.6), decided here.
        if (sameContent(mine, cur)) return { path, unchanged: true };
        const [winner, loser] = winsConflict(mine, cur) ? [mine, cur] : [cur, mine];
        const copy = this.#copyName(tree, path, loser, changes);
        expect.set(copy, tree.get(copy)?.vector);
        if (winner === mine) changes.push({ version: mine, base: cur.vector });
        const { seq: _seq, ...kept } = loser as IndexEntry;
        changes.push({ version: { ...kept, path: copy, vector: bump(tree.get(copy)?.vector ?? EMPTY, this.id, now), replica: this.id, deleted: false }, base: EMPTY });
        result = winner === mine ? { path, conflictCopy: copy } : { path: copy, conflictCopy: copy };
      } else {
        if (cur && !cur.deleted && sameContent(mine, cur)) return { path, unchanged: true };
        changes.push({ version: mine, base: cur?.vector ?? EMPTY });
      }
      await this.#commit(member, space, changes, expect);
      return result;
    });
  }

  /** Renames `path` (a file or a folder with everything under it) to `name` in the same folder. */
  async rename(member: BareJid, space: SpaceId, path: string, name: string, seen: number): Promise<string> {
    const from = checkPath(path);
    if (name.includes("/")) throw new ShareError("bad-request", { text: "A name cannot contain '/'; rename within the folder" });
    const parent = parentOf(from);
    const to = checkPath(parent ? `${parent}/${name}` : name);
    if (to === from) return to;
    await this.#attempts(async () => {
      const tree = await readTree(this.d.deps, space);
      const moved = this.#live(tree, from, seen);
      const waiting = moved.find((e) => e.pending);
      if (waiting) throw waitingFor(waiting);
      const now = this.d.deps.now();
      const changes: CommitChange[] = [];
      const expect = new Map<string, VersionVector | undefined>();
      const renamedKeys = new Set(moved.map((e) => foldKey(e.path)));
      for (const e of moved) {
        const target = to + e.path.slice(from.length);
        const there = tree.get(target);
        // Taken by another live path (also one that differs only in case), unless it is one of those moving away.
        if ((there && !there.deleted) || this.#clash(tree, target, renamedKeys)) {
          throw new ShareError("bad-request", { text: `${to} already exists; choose another name` });
        }
        changes.push({ version: this.#deletion(e, now), base: e.vector });
        expect.set(e.path, e.vector);
        const { seq: _seq, ...version } = e;
        changes.push({ version: { ...version, path: target, vector: bump(there?.vector ?? EMPTY, this.id, now), replica: this.id }, base: there?.vector ?? EMPTY });
        expect.set(target, there?.vector);
      }
      this.#parents(tree, to, now, changes, expect);
      await this.#commit(member, space, changes, expect);
    });
    return to;
  }

  /** Makes the folder `parent/name` (and any missing parent). */
  async mkdir(member: BareJid, space: SpaceId, parent: string, name: string): Promise<string> {
    if (name.includes("/")) throw new ShareError("bad-request", { text: "A folder name cannot contain '/'" });
    const path = checkPath(parent ? `${parent}/${name}` : name);
    await this.#attempts(async () => {
      const tree = await readTree(this.d.deps, space);
      const there = tree.get(path);
      if (there && !there.deleted) throw new ShareError("bad-request", { text: `${path} already exists` });
      const changes: CommitChange[] = [];
      const expect = new Map<string, VersionVector | undefined>();
      // The folder is the last "parent" of a path one level below it.
      this.#parents(tree, `${path}/x`, this.d.deps.now(), changes, expect);
      await this.#commit(member, space, changes, expect);
    });
    return path;
  }

  /** Deletes `path` (a file, or a folder with everything under it). */
  async remove(member: BareJid, space: SpaceId, path: string, seen: number): Promise<void> {
    const target = checkPath(path);
    await this.#attempts(async () => {
      const tree = await readTree(this.d.deps, space);
      const gone = this.#live(tree, target, seen);
      const now = this.d.deps.now();
      const changes = gone.map((e) => ({ version: this.#deletion(e, now), base: e.vector }));
      await this.#commit(member, space, changes, new Map(gone.map((e) => [e.path, e.vector])));
    });
  }

  /** The live versions at or under `path`, refused when there are none or one is newer than `seen`. */
  #live(tree: ReadonlyMap<string, IndexEntry>, path: string, seen: number): IndexEntry[] {
    const found = [...tree.values()].filter((e) => !e.deleted && under(e.path, path));
    if (found.length === 0) throw new ShareError("not-found", { text: `${path} is not there any more` });
    const newer = found.find((e) => e.seq > seen);
    if (newer) throw new ShareError("version-conflict", { text: `${newer.path} changed since this page was shown; nothing was changed. Reload the page and try again.` });
    return found;
  }

  /** Whether `path` would share a fold key with a live path that is not moving away. */
  #clash(tree: ReadonlyMap<string, IndexEntry>, path: string, moving: ReadonlySet<string>): boolean {
    const key = foldKey(path);
    if (moving.has(key)) return false;
    for (const e of tree.values()) if (!e.deleted && e.path !== path && foldKey(e.path) === key) return true;
    return false;
  }

  /** The protocol's deletion of `e` (as client/engine/plan.ts makes one): a tombstone with `was`. */
  #deletion(e: IndexEntry, now: number): FileVersion {
    const was = e.kind === "file" && e.hash ? { was: e.hash } : {};
    return { path: e.path, kind: e.kind, vector: bump(e.vector, this.id, now), hash: "", size: 0, mtimeMs: now, mode: e.mode, deleted: true, replica: this.id, chunks: [], ...was };
  }

  /** Folder versions for every missing parent of `path` (a file in the way refuses). */
  #parents(tree: ReadonlyMap<string, IndexEntry>, path: string, now: number, changes: CommitChange[], expect: Map<string, VersionVector | undefined>): void {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      const e = tree.get(dir);
      if (e && !e.deleted && e.kind === "dir") continue;
      if (e && !e.deleted) throw new ShareError("bad-request", { text: `${dir} is a file, not a folder` });
      if (changes.some((c) => c.version.path === dir)) continue;
      changes.push({ version: { path: dir, kind: "dir", vector: bump(e?.vector ?? EMPTY, this.id, now), hash: "", size: 0, mtimeMs: now, mode: 0o755, deleted: false, replica: this.id, chunks: [] }, base: e?.vector ?? EMPTY });
      expect.set(dir, e?.vector);
    }
  }

  /**
   * `conflictName` for the loser; where that name is taken (a live path with its fold key), the
   * time moves a second at a time, later then earlier, as § 5.6 says.
   */
  #copyName(tree: ReadonlyMap<string, IndexEntry>, path: string, loser: FileVersion, changes: readonly CommitChange[]): string {
    const taken = new Set([...tree.values()].filter((e) => !e.deleted).map((e) => foldKey(e.path)));
    for (const c of changes) taken.add(foldKey(c.version.path));
    for (let k = 0; ; k++) {
      for (const delta of k === 0 ? [0] : [k * 1000, -k * 1000]) {
        const name = conflictName(path, { ...loser, mtimeMs: loser.mtimeMs + delta });
        if (!taken.has(foldKey(name))) return name;
      }
    }
  }

  async #commit(member: BareJid, space: SpaceId, changes: CommitChange[], expect: ReadonlyMap<string, VersionVector | undefined>): Promise<void> {
    if (changes.length === 0) return;
    await applyCommit(this.d.deps, member, { space, changes }, { expect });
    const vector = mergeAll([...(await readTree(this.d.deps, space)).values()].map((e) => e.vector));
    // The change is committed: telling the members may wait for a client that does not answer.
    const told = this.d.announce({ space, replica: this.id, vector }).catch((err: unknown) => this.d.deps.log.warn({ err, space }, "members not told"));
    this.#telling.add(told);
    void told.finally(() => this.#telling.delete(told));
  }

  /** Resolves once every change made so far has been told to the members (tests, shutdown). */
  async told(): Promise<void> {
    while (this.#telling.size > 0) await Promise.all([...this.#telling]);
  }

  /** Runs a read-decide-commit step again when another change landed in between. */
  async #attempts<T>(step: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await step();
      } catch (err) {
        const raced = err instanceof ShareError && err.code === "version-conflict" && err.attrs.path !== undefined;
        if (!raced || i >= ATTEMPTS) throw err;
      }
    }
  }
}
