/**
 * Request bodies are serialized in pieces (protocol/xml.ts `xmlPieces`): the bytes must be
 * exactly those of `toString()`, whatever the piece size and whatever the characters.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Element, xmlPieces } from "../../protocol/xml.ts";

const joined = (pieces: readonly Uint8Array[]) => Buffer.concat(pieces).toString("utf8");

describe("xmlPieces", () => {
  it("gives the bytes of toString(), cut into pieces of about the size asked for", () => {
    const el = new Element("commit", { xmlns: "urn:xmpp:share:0", space: "s-1" });
    for (let i = 0; i < 500; i++) el.c("file", { path: `d/ä ${i} <&> "'`, size: String(i) }).c("chunk", { hash: "ab".repeat(32) }).up().t("😀 & text");
    const pieces = xmlPieces(el, 1024);
    expect(joined(pieces)).toBe(el.toString());
    expect(pieces.length).toBeGreaterThan(10);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(1024);
    expect(joined(xmlPieces(el))).toBe(el.toString());
  });

  it("matches toString() for any attribute and text content", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" })), { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (items, size) => {
        const el = new Element("x");
        for (const [a, t] of items) el.c("y", { a }).t(t);
        expect(joined(xmlPieces(el, size))).toBe(el.toString());
      }),
    );
  });
});
