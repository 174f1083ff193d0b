import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chunkBuffer } from "../../protocol/chunker.ts";
import { ShareError } from "../../protocol/errors.ts";
import { contentId } from "../../protocol/file.ts";
import type { ChunkHash } from "../../protocol/ids.ts";
import { buildFile, parseFile } from "../../protocol/stanzas/file.ts";
import { parseXml } from "../../protocol/xml.ts";
import { file } from "./fixtures/stanzas.ts";

const sha = (d: Uint8Array | string) => createHash("sha256").update(d).digest("hex") as ChunkHash;

describe("content id (XEP-draft.md § 5.7)", () => {
  it("is SHA-256 of the content for no chunk and for one chunk", () => {
    expect(contentId([])).toBe(sha(""));
    const small = Buffer.from("a file of one chunk");
    expect(contentId(chunkBuffer(small))).toBe(sha(small));
  });

  it("is SHA-256 of the raw chunk hashes, in order, for several chunks", () => {
    const data = createHash("sha512").update("seed").digest().toString("hex").repeat(20_000); // 2.5 MB
    const chunks = chunkBuffer(Buffer.from(data));
    expect(chunks.length).toBeGreaterThan(2);
    const raw = Buffer.concat(chunks.map((c) => Buffer.from(c.hash, "hex")));
    expect(contentId(chunks)).toBe(sha(raw));
    expect(contentId(chunks)).not.toBe(sha(data));
    // Order matters; so does every chunk.
    expect(contentId([...chunks].reverse())).not.toBe(contentId(chunks));
    expect(contentId(chunks.slice(1))).not.toBe(contentId(chunks));
    // More chunks than one internal buffer (1,024) hash the same as one update.
    const many = Array.from({ length: 2500 }, (_, i) => ({ hash: sha(String(i)), size: 1 }));
    expect(contentId(many)).toBe(sha(Buffer.concat(many.map((c) => Buffer.from(c.hash, "hex")))));
  });

  it("a <file/> whose hash is not the content id of its chunks is refused", () => {
    const xml = buildFile({ ...file, hash: sha("hello world") }, { xmlns: "urn:xmpp:share:0" }).toString();
    expect(() => parseFile(parseXml(xml))).toThrow(ShareError);
    expect(() => parseFile(parseXml(xml))).toThrow(/content id/);
    expect(parseFile(parseXml(buildFile(file, { xmlns: "urn:xmpp:share:0" }).toString())).hash).toBe(file.hash);
  });
});
