/**
 * Index exchange (XEP-draft.md § 5.8): paged reads, commits, acks.
 *
 * A commit is applied by `applyCommit` (commit.ts), the one implementation of the commit rules
 * that the web interface's changes go through as well (component/web/replica.ts).
 */
import { ShareError } from "../../protocol/errors.ts";
import { MANIFEST_THRESHOLD } from "../../protocol/manifest.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";
import { applyCommit } from "./commit.ts";
import { memberSpace } from "./access.ts";

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
    const parsed = I.parseCommit(payload);
    const head = await applyCommit(deps, member, parsed);
    return I.buildCommitted({ space: parsed.space, head });
  });

  router.set("ack", async ({ member, payload }) => {
    const ack = I.parseAck(payload);
    const { record } = await memberSpace(deps, ack.space, member);
    if (ack.seq > record.head) throw new ShareError("bad-request", { text: `seq ${ack.seq} is beyond the head ${record.head}` });
    await deps.store.ack(ack.space, member, ack.replica, ack.seq);
    return undefined;
  });
}
