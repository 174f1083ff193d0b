/**
 * Index exchange (XEP-draft.md § "Index exchange"): paged, incremental reads of a space's
 * index, commits of new versions, and acknowledgements of what a replica has applied.
 *
 *   get  <index space='S'><set xmlns='http://jabber.org/protocol/rsm'><after>42</after><max>500</max></set></index>
 *   res  <index space='S' head='57' complete='true'><file seq='43' …/>…<set …><first>43</first><last>57</last></set></index>
 *   set  <commit space='S'><file …><vector/><base/></file>…</commit>
 *   res  <committed space='S' head='59'/>
 *   set  <ack space='S' replica='R' seq='59'/>
 *
 * Sequence numbers are per space, start at 1 and grow by one per applied path version;
 * `after` is exclusive. A commit's files get consecutive numbers ending at `head`, in order.
 */
import { ShareError, badRequest } from "../errors.ts";
import type { FileVersion } from "../file.ts";
import { spaceId, type ReplicaId, type SpaceId } from "../ids.ts";
import { NS } from "../ns.ts";
import { EMPTY, replicaId, type VersionVector } from "../vv.ts";
import {
  Element,
  childrenNamed,
  expectElement,
  optionalBool,
  optionalChild,
  parseUint,
  requiredAttr,
  requiredChild,
  requiredUint,
} from "../xml.ts";
import { buildFile, parseFile } from "./file.ts";
import { buildVector, parseVector } from "./vector.ts";

/** Upper bound on entries per page a server returns; a larger `max` is clamped, not refused. */
export const MAX_PAGE = 1000;

export interface IndexQuery {
  readonly space: SpaceId;
  /** Exclusive lower bound on `seq`; 0 reads from the start. */
  readonly after: number;
  /** Requested page size; absent means the server's default. */
  readonly max?: number;
}

export interface IndexEntry extends FileVersion {
  readonly seq: number;
}

export interface IndexPage {
  readonly space: SpaceId;
  /** The space's latest sequence number at the time of the read. */
  readonly head: number;
  /** True when this page reaches `head`: nothing newer is left to read. */
  readonly complete: boolean;
  readonly entries: readonly IndexEntry[];
  /**
   * Entries left out because their path breaks the path rules (§ 5.4): the receiver writes
   * nothing for them and goes on with the others. Their vectors still count as read.
   */
  readonly refused: readonly RefusedEntry[];
}

/** An index entry whose path a receiver refused: the rule's reason and the path as reported. */
export interface RefusedEntry {
  readonly seq: number;
  /** At most 200 characters of the path, characters XML cannot carry written as `\u{..}`. */
  readonly path: string;
  readonly reason: string;
  readonly vector: VersionVector;
}

export function buildIndexQuery(q: IndexQuery): Element {
  const el = new Element("index", { xmlns: NS.share, space: q.space });
  const set = el.c("set", { xmlns: NS.rsm });
  if (q.max !== undefined) set.c("max").t(String(q.max));
  if (q.after > 0) set.c("after").t(String(q.after));
  return el;
}

function rsmUint(set: Element, name: string): number | undefined {
  const c = optionalChild(set, name, NS.rsm);
  return c === undefined ? undefined : parseUint(c.getText().trim(), `<${name}/>`);
}

export function parseIndexQuery(el: Element): IndexQuery {
  expectElement(el, "index");
  const space = spaceId(requiredAttr(el, "space"));
  if (childrenNamed(el, "file").length > 0) throw badRequest("An index query carries no <file/>");
  const set = optionalChild(el, "set", NS.rsm);
  const after = set ? (rsmUint(set, "after") ?? 0) : 0;
  const max = set ? rsmUint(set, "max") : undefined;
  if (max === 0) throw badRequest("<max/> must be at least 1");
  return max === undefined ? { space, after } : { space, after, max };
}

export function buildIndexPage(p: Omit<IndexPage, "refused">): Element {
  const el = new Element("index", { xmlns: NS.share, space: p.space, head: String(p.head), complete: String(p.complete) });
  for (const e of p.entries) el.cnode(buildFile(e, { seq: String(e.seq) }));
  const first = p.entries[0];
  const last = p.entries[p.entries.length - 1];
  if (first && last) {
    const set = el.c("set", { xmlns: NS.rsm });
    set.c("first").t(String(first.seq));
    set.c("last").t(String(last.seq));
  }
  return el;
}

export function parseIndexPage(el: Element): IndexPage {
  expectElement(el, "index");
  const space = spaceId(requiredAttr(el, "space"));
  const head = requiredUint(el, "head");
  const complete = optionalBool(el, "complete", false);
  let prev = 0;
  const entries: IndexEntry[] = [];
  const refused: RefusedEntry[] = [];
  for (const f of childrenNamed(el, "file")) {
    const seq = requiredUint(f, "seq");
    if (seq <= prev || seq > head) throw badRequest(`Index entries must have increasing seq ≤ head; got ${seq}`);
    prev = seq;
    try {
      entries.push({ ...parseFile(f), seq });
    } catch (err) {
      // A path that breaks the rules costs that entry only (§ 5.4); anything else malformed
      // is the page's fault.
      if (!(err instanceof ShareError) || err.code !== "invalid-path") throw err;
      const vector = parseVector(requiredChild(f, "vector"));
      refused.push({ seq, path: err.attrs.path ?? "", reason: err.attrs.reason ?? "invalid-path", vector });
    }
  }
  return { space, head, complete, entries, refused };
}

/** One path in a commit: the new version and the version it was based on (empty for a new path). */
export interface CommitChange {
  readonly version: FileVersion;
  readonly base: VersionVector;
}

export interface Commit {
  readonly space: SpaceId;
  readonly changes: readonly CommitChange[];
}

export function buildCommit(c: Commit): Element {
  const el = new Element("commit", { xmlns: NS.share, space: c.space });
  for (const ch of c.changes) {
    const f = buildFile(ch.version);
    if (ch.base.entries.length > 0) f.cnode(buildVector(ch.base, "base"));
    el.cnode(f);
  }
  return el;
}

export function parseCommit(el: Element): Commit {
  expectElement(el, "commit");
  const space = spaceId(requiredAttr(el, "space"));
  const files = childrenNamed(el, "file");
  if (files.length === 0) throw badRequest("<commit/> carries no <file/>");
  const seen = new Set<string>();
  const changes = files.map((f): CommitChange => {
    const version = parseFile(f);
    if (seen.has(version.path)) throw badRequest(`<commit/> names ${version.path} twice`);
    seen.add(version.path);
    const b = optionalChild(f, "base");
    return { version, base: b ? parseVector(b) : EMPTY };
  });
  return { space, changes };
}

export interface Committed {
  readonly space: SpaceId;
  readonly head: number;
}

export function buildCommitted(c: Committed): Element {
  return new Element("committed", { xmlns: NS.share, space: c.space, head: String(c.head) });
}

export function parseCommitted(el: Element): Committed {
  expectElement(el, "committed");
  return { space: spaceId(requiredAttr(el, "space")), head: requiredUint(el, "head") };
}

/** A replica has applied everything up to `seq` (store-and-forward bookkeeping). */
export interface Ack {
  readonly space: SpaceId;
  readonly replica: ReplicaId;
  readonly seq: number;
}

export function buildAck(a: Ack): Element {
  return new Element("ack", { xmlns: NS.share, space: a.space, replica: a.replica, seq: String(a.seq) });
}

export function parseAck(el: Element): Ack {
  expectElement(el, "ack");
  return {
    space: spaceId(requiredAttr(el, "space")),
    replica: replicaId(requiredAttr(el, "replica")),
    seq: requiredUint(el, "seq"),
  };
}

/**
 * The application condition of a `conflict` error: the path and the component's current
 * version, so that the client can keep both copies without another round trip.
 */
export function buildVersionConflictChildren(current: FileVersion): Element[] {
  // The error's application element is in NS.errors; the version inside keeps NS.share.
  return [buildFile(current, { xmlns: NS.share })];
}

export function parseVersionConflictChildren(children: readonly Element[]): FileVersion {
  const f = children.find((c) => c.name === "file");
  if (!f) throw badRequest("<version-conflict/> lacks the current <file/>");
  return parseFile(f);
}
