import { describe, expect, it } from "vitest";
import { MAX_STANZA_DEPTH, dropIfTooDeep, parseXml } from "../../protocol/xml.ts";

const nested = (depth: number) => `<iq type="get" id="x">${"<a>".repeat(depth - 1)}${"</a>".repeat(depth - 1)}</iq>`;

describe("dropIfTooDeep", () => {
  it("keeps a stanza of exactly the limit, empties one level deeper, keeping the attributes", () => {
    const atLimit = parseXml(nested(MAX_STANZA_DEPTH));
    expect(dropIfTooDeep(atLimit)).toBe(false);
    expect(atLimit.children).toHaveLength(1);
    const over = parseXml(nested(MAX_STANZA_DEPTH + 1));
    expect(dropIfTooDeep(over)).toBe(true);
    expect(over.toString()).toBe('<iq type="get" id="x"/>');
  });

  it("walks 100,000 levels without overflowing the stack", () => {
    const deep = parseXml(nested(100_000));
    expect(dropIfTooDeep(deep)).toBe(true);
    expect(deep.children).toEqual([]);
  });

  it("counts depth, not size: wide stanzas and text pass", () => {
    const wide = parseXml(`<iq>${"<c r='a' n='1'/>".repeat(10_000)}text</iq>`);
    expect(dropIfTooDeep(wide, 2)).toBe(false);
    expect(wide.children).toHaveLength(10_001);
  });
});
