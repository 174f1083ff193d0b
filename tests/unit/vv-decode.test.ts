import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ShareError } from "../../protocol/errors.ts";
import { decode, EMPTY, encode, fromEntries } from "../../protocol/vv.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

function rejects(bytes: Uint8Array): void {
  let err: unknown;
  try {
    decode(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ShareError);
  expect((err as ShareError).code).toBe("invalid-vector");
}

describe("vv.decode", () => {
  it("decodes the empty vector from no bytes", () => {
    expect(decode(new Uint8Array(0))).toEqual(EMPTY);
  });

  it("decodes a known encoding", () => {
    // "a" → 5, "bc" → 2^40
    const v = decode(hex("01 61 0000000000000005  02 6263 0000010000000000"));
    expect(v.entries).toEqual([
      ["a", 5],
      ["bc", 2 ** 40],
    ]);
    expect(Object.isFrozen(v)).toBe(true);
  });

  it("accepts the largest safe counter and works on a subarray view", () => {
    const v = fromEntries([["r", Number.MAX_SAFE_INTEGER]]);
    const buf = new Uint8Array(3 + encode(v).length);
    buf.set(encode(v), 3);
    expect(decode(buf.subarray(3))).toEqual(v);
  });

  it("round-trips every vector (decode ∘ encode = id, encode ∘ decode = id)", () => {
    const arb = fc
      .uniqueArray(fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), {
        selector: (e) => e[0],
        maxLength: 8,
      })
      .map((pairs) => fromEntries(pairs));
    fc.assert(
      fc.property(arb, (v) => {
        const bytes = encode(v);
        const back = decode(bytes);
        expect(back).toEqual(v);
        expect(encode(back)).toEqual(bytes);
      }),
    );
  });

  it.each([
    ["a length byte with nothing after it", "01"],
    ["a zero-length id", "00 0000000000000001"],
    ["an id cut short", "05 6162"],
    ["a counter cut short", "01 61 00000000000001"],
    ["trailing garbage", "01 61 0000000000000001 01"],
    ["a zero counter", "01 61 0000000000000000"],
    ["a counter beyond 2^53-1", "01 61 0020000000000000"],
    ["an id that is not a token", "01 2f 0000000000000001"],
    ["a non-ASCII id byte", "01 e9 0000000000000001"],
    ["an id longer than 64", "41 " + "61".repeat(65) + " 0000000000000001"],
    ["unsorted ids", "01 62 0000000000000001 01 61 0000000000000001"],
    ["a duplicate id", "01 61 0000000000000001 01 61 0000000000000002"],
  ])("rejects %s", (_what, bytes) => {
    rejects(hex(bytes));
  });
});
