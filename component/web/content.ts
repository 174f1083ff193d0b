/**
 * An upload's content into the sharing manager's store, as a sharing client's content gets
 * there (component/web/replica.ts uses it): cut by protocol/chunker.ts, each chunk (and a long
 * file's manifest blobs, § 5.7) put into the blob store, which verifies it against its hash,
 * then recorded through the chunk server's recorder (record-chunks.ts: durable before
 * recorded), as the member's uploads. Memory stays at about one chunk plus one piece.
 */
import { Chunker } from "../../protocol/chunker.ts";
import { ShareError } from "../../protocol/errors.ts";
import { type ChunkRef, contentId } from "../../protocol/file.ts";
import type { BareJid, ChunkHash } from "../../protocol/ids.ts";
import { manifestOf } from "../../protocol/manifest.ts";
import type { Deps } from "../deps.ts";
import type { WebReplicaDeps } from "./replica.ts";

/** Content stored for a file being uploaded: its chunks are durable and recorded. */
export interface StoredContent {
  readonly chunks: readonly ChunkRef[];
  readonly size: number;
  readonly hash: string;
}

/**
 * Cuts `source` into chunks and stores them (and a long file's manifest blobs), durable and
 * recorded as `member`'s uploads. Refuses (`too-large`, `quota-exceeded`) as soon as the bytes
 * pass the file limit or the member's upload quota; what was stored by then is left to
 * garbage collection, as an abandoned HTTP upload is.
 */
export async function storeContent(deps: Deps, record: WebReplicaDeps["record"], member: BareJid, source: AsyncIterable<Uint8Array>): Promise<StoredContent> {
  const { limits } = deps.config;
  const quotaLeft = limits.userQuotaBytes - (await deps.store.uploadedBytes(member));
  const chunker = new Chunker();
  const chunks: ChunkRef[] = [];
  const stored = new Map<ChunkHash, number>();
  let pending: Buffer[] = [];
  let size = 0;
  const put = async (hash: ChunkHash, bytes: Uint8Array) => {
    if (stored.has(hash)) return;
    const r = await deps.blobs.put(hash, [bytes], { maxBytes: bytes.length });
    if (!r.complete) throw new Error("whole-blob put returned a partial result");
    stored.set(hash, bytes.length);
  };
  const take = async (c: { hash: ChunkHash; size: number }) => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = all.length > c.size ? [all.subarray(c.size)] : [];
    await put(c.hash, all.subarray(0, c.size));
    chunks.push({ hash: c.hash, size: c.size });
  };
  for await (const piece of source) {
    size += piece.length;
    if (size > limits.maxFileBytes) throw new ShareError("too-large", { text: `The file is larger than ${limits.maxFileBytes} bytes` });
    if (size > quotaLeft) throw new ShareError("quota-exceeded", { text: `Your uploads would exceed your quota of ${limits.userQuotaBytes} bytes` });
    pending.push(Buffer.from(piece));
    for (const c of chunker.push(piece)) await take(c);
  }
  for (const c of chunker.finish()) await take(c);
  for (const [hash, bytes] of manifestOf(chunks)?.blobs ?? []) await put(hash, bytes);
  // Durable before recorded, recorded before any commit names them (record-chunks.ts).
  await record([...stored].map(([hash, n]) => ({ hash, size: n })), member, deps.now());
  return { chunks, size, hash: contentId(chunks) };
}
