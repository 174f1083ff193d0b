/** Chunk-list manifests (XEP-draft.md § 5.7). */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ShareError } from "../../protocol/errors.ts";
import { type ChunkRef, type FileVersion, contentId } from "../../protocol/file.ts";
import type { ChunkHash, ReplicaId } from "../../protocol/ids.ts";
import { MANIFEST_THRESHOLD, expandManifest, manifestOf, withChunks } from "../../protocol/manifest.ts";
import { buildFile, parseFile } from "../../protocol/stanzas/file.ts";
import { fromEntries } from "../../protocol/vv.ts";
import { parseXml } from "../../protocol/xml.ts";

const list = (n: number, salt = ""): ChunkRef[] =>
  Array.from({ length: n }, (_, i) => ({ hash: createHash("sha256").update(`${salt}${i}`).digest("hex") as ChunkHash, size: 65_536 + (i % 7) }));

describe("manifests", () => {
  it("short lists stay inline; long ones become blobs that expand back exactly", () => {
    expect(manifestOf(list(MANIFEST_THRESHOLD))).toBeUndefined();
    const chunks = list(3600);
    const m = manifestOf(chunks)!;
    expect(m.refs.length).toBeGreaterThan(20);
    expect(m.refs.length).toBeLessThan(80);
    expect(expandManifest(m.refs, m.blobs)).toEqual(chunks);
  });

  it("changing one entry of a long list changes one or two blobs", () => {
    const chunks = list(3600);
    const edited = [...chunks];
    edited[1800] = { hash: createHash("sha256").update("new").digest("hex") as ChunkHash, size: 70_000 };
    const inserted = [...chunks.slice(0, 1800), edited[1800]!, ...chunks.slice(1800)];
    for (const other of [edited, inserted]) {
      const a = new Set(manifestOf(chunks)!.refs.map((r) => r.hash));
      const changed = manifestOf(other)!.refs.filter((r) => !a.has(r.hash));
      expect(changed.length).toBeGreaterThanOrEqual(1);
      expect(changed.length).toBeLessThanOrEqual(2);
    }
  });

  it("refuses damaged, missing or non-canonical manifests with bad-request", () => {
    const m = manifestOf(list(500))!;
    const first = m.refs[0]!;
    const damaged = new Map(m.blobs);
    damaged.set(first.hash, new Uint8Array(first.size));
    for (const blobs of [damaged, new Map()]) expect(() => expandManifest(m.refs, blobs)).toThrow(ShareError);
    // A "manifest" of a short list is not the protocol's form.
    const short = list(10);
    const bytes = Buffer.concat(short.map((c) => Buffer.concat([Buffer.from(c.hash, "hex"), Buffer.alloc(8)])));
    const hash = createHash("sha256").update(bytes).digest("hex") as ChunkHash;
    expect(() => expandManifest([{ hash, size: bytes.length }], new Map([[hash, bytes]]))).toThrow(ShareError);
  });

  it("a <file/> with many chunks carries <manifest/>, and parses back to a version to expand", () => {
    const chunks = list(1000);
    const size = chunks.reduce((s, c) => s + c.size, 0);
    const v: FileVersion = { path: "big.bin", kind: "file", vector: fromEntries([["r", 1]]), hash: contentId(chunks), size, mtimeMs: 1, mode: 0o644, deleted: false, replica: "r" as ReplicaId, chunks };
    const xml = buildFile(v, { xmlns: "urn:xmpp:share:0" }).toString();
    expect(xml).not.toContain("<chunk");
    const parsed = parseFile(parseXml(xml));
    expect(parsed.chunks).toEqual([]);
    expect(withChunks(parsed, manifestOf(chunks)!.blobs)).toEqual(v);
    // The declared size and content id are checked once expanded.
    expect(() => withChunks({ ...parsed, size: size + 1 }, manifestOf(chunks)!.blobs)).toThrow(ShareError);
    expect(() => withChunks({ ...parsed, hash: "a".repeat(64) }, manifestOf(chunks)!.blobs)).toThrow(/content id/);
    // Listing that many chunks inline is refused.
    const inline = xml.replace(/<manifest[^>]*\/>/g, "") .replace("</file>", `${chunks.map((c) => `<chunk hash='${c.hash}' size='${c.size}'/>`).join("")}</file>`);
    expect(() => parseFile(parseXml(inline))).toThrow(ShareError);
  });
});
