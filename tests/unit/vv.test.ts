import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ShareError } from "../../protocol/errors.ts";
import type { ReplicaId } from "../../protocol/ids.ts";
import {
  bump,
  compare,
  digest,
  dominates,
  EMPTY,
  EMPTY_DIGEST,
  encode,
  fromEntries,
  get,
  merge,
  type Ordering,
  type VersionVector,
} from "../../protocol/vv.ts";

const v = (o: Record<string, number>): VersionVector => fromEntries(Object.entries(o));
const r = (s: string) => s as ReplicaId;

/** Few replicas and small counters, so equal, dominated and concurrent pairs all occur often. */
const arbVV = fc
  .uniqueArray(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.nat({ max: 3 })), { selector: (e) => e[0], maxLength: 4 })
  .map((pairs) => fromEntries(pairs));
const arbReplica = fc.constantFrom("a", "b", "c", "e").map(r);

describe("compare", () => {
  const cases: Array<[string, VersionVector, VersionVector, Ordering]> = [
    ["empty vs empty", EMPTY, EMPTY, "equal"],
    ["empty vs non-empty", EMPTY, v({ a: 1 }), "lesser"],
    ["non-empty vs empty", v({ a: 1 }), EMPTY, "greater"],
    ["same entries", v({ a: 1, b: 2 }), v({ b: 2, a: 1 }), "equal"],
    ["one counter higher", v({ a: 2, b: 2 }), v({ a: 1, b: 2 }), "greater"],
    ["one counter lower", v({ a: 1, b: 2 }), v({ a: 1, b: 3 }), "lesser"],
    ["extra replica", v({ a: 1, b: 1 }), v({ a: 1 }), "greater"],
    ["missing replica", v({ b: 1 }), v({ a: 1, b: 1 }), "lesser"],
    ["crossed counters", v({ a: 2, b: 1 }), v({ a: 1, b: 2 }), "concurrent"],
    ["disjoint replicas", v({ a: 1 }), v({ b: 1 }), "concurrent"],
    ["zero counter is no entry", v({ a: 0, b: 1 }), v({ b: 1 }), "equal"],
    ["all zero is empty", v({ a: 0 }), EMPTY, "equal"],
  ];
  it.each(cases)("%s", (_name, a, b, want) => {
    expect(compare(a, b)).toBe(want);
  });

  it("drops zero counters from entries", () => {
    expect(v({ a: 0, b: 3 }).entries).toEqual([["b", 3]]);
  });
});

describe("merge", () => {
  it.each([
    ["empty, empty", EMPTY, EMPTY, {}],
    ["empty, x", EMPTY, v({ a: 1 }), { a: 1 }],
    ["entry-wise max", v({ a: 3, b: 1 }), v({ a: 1, b: 2, c: 5 }), { a: 3, b: 2, c: 5 }],
  ])("%s", (_name, a, b, want) => {
    expect(merge(a, b)).toEqual(v(want));
  });
});

describe("bump", () => {
  it("sets max(previous + 1, now)", () => {
    expect(get(bump(EMPTY, r("a"), 1000), r("a"))).toBe(1000);
    expect(get(bump(v({ a: 5 }), r("a"), 1000), r("a"))).toBe(1000);
    expect(get(bump(v({ a: 5000 }), r("a"), 1000), r("a"))).toBe(5001);
  });
  it("still increases when the clock goes backwards", () => {
    const once = bump(EMPTY, r("a"), 1000);
    const twice = bump(once, r("a"), 500);
    expect(get(twice, r("a"))).toBe(1001);
    expect(compare(twice, once)).toBe("greater");
  });
  it("leaves other entries alone and the input unchanged", () => {
    const before = v({ a: 1, b: 2 });
    expect(bump(before, r("c"), 7)).toEqual(v({ a: 1, b: 2, c: 7 }));
    expect(before).toEqual(v({ a: 1, b: 2 }));
  });
  it.each([["bad id", "a b", 1], ["NaN clock", "a", NaN], ["infinite clock", "a", Infinity]])(
    "rejects %s",
    (_n, id, now) => {
      expect(() => bump(EMPTY, r(id as string), now as number)).toThrow(ShareError);
    },
  );
});

describe("encode and digest", () => {
  it("encodes length, id, 8-byte big-endian counter, sorted whatever the input order", () => {
    const want = [1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0x62, 0x63, 0, 0, 0, 0, 0, 0, 1, 0x02];
    expect([...encode(fromEntries([["bc", 258], ["a", 1]]))]).toEqual(want);
    expect([...encode(fromEntries([["a", 1], ["bc", 258]]))]).toEqual(want);
  });
  it("encodes the empty vector as no bytes", () => {
    expect(encode(EMPTY).length).toBe(0);
  });
  it("digests the empty vector as SHA-256 of zero bytes", () => {
    expect(EMPTY_DIGEST).toBe("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    expect(digest(v({ a: 0 }))).toBe(EMPTY_DIGEST);
  });
  it("digests the encoding", () => {
    const x = v({ a: 1, b: 2 });
    expect(digest(x)).toBe(createHash("sha256").update(encode(x)).digest("base64"));
    expect(digest(x)).not.toBe(digest(v({ a: 2, b: 1 })));
  });
});

describe("fromEntries rejects", () => {
  it.each<[string, Array<[string, number]>]>([
    ["a duplicate", [["a", 1], ["a", 2]]],
    ["a duplicate with a zero counter", [["a", 0], ["a", 2]]],
    ["a negative counter", [["a", -1]]],
    ["a fractional counter", [["a", 1.5]]],
    ["NaN", [["a", NaN]]],
    ["an unsafe integer", [["a", 2 ** 53]]],
    ["an empty replica id", [["", 1]]],
    ["a replica id with a space", [["a b", 1]]],
    ["a non-ASCII replica id", [["é", 1]]],
    ["a replica id over 64 characters", [["x".repeat(65), 1]]],
  ])("%s", (_name, pairs) => {
    let caught: unknown;
    try {
      fromEntries(pairs);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ShareError);
    expect((caught as ShareError).code).toBe("invalid-vector");
  });
  it("accepts a 64-character id", () => {
    expect(fromEntries([["x".repeat(64), 1]]).entries).toHaveLength(1);
  });
});

describe("laws", () => {
  it("merge is commutative", () => {
    fc.assert(fc.property(arbVV, arbVV, (a, b) => {
      expect(merge(a, b)).toEqual(merge(b, a));
    }));
  });
  it("merge is associative", () => {
    fc.assert(
      fc.property(arbVV, arbVV, arbVV, (a, b, c) => {
        expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)));
      }),
    );
  });
  it("merge is idempotent", () => {
    fc.assert(fc.property(arbVV, (a) => {
      expect(merge(a, a)).toEqual(a);
    }));
  });
  it("merge is the least upper bound", () => {
    fc.assert(
      fc.property(arbVV, arbVV, arbVV, (a, b, c) => {
        const m = merge(a, b);
        expect(dominates(m, a) && dominates(m, b)).toBe(true);
        expect(dominates(c, m)).toBe(dominates(c, a) && dominates(c, b));
      }),
    );
  });
  it("bump strictly increases", () => {
    fc.assert(
      fc.property(arbVV, arbReplica, fc.integer({ min: -5, max: 2 ** 45 }), (a, id, now) => {
        expect(compare(bump(a, id, now), a)).toBe("greater");
      }),
    );
  });
  it("compare is antisymmetric", () => {
    const flip: Record<Ordering, Ordering> = { equal: "equal", greater: "lesser", lesser: "greater", concurrent: "concurrent" };
    fc.assert(fc.property(arbVV, arbVV, (a, b) => {
      expect(compare(b, a)).toBe(flip[compare(a, b)]);
    }));
  });
  it("equal vectors and only they have equal digests", () => {
    fc.assert(
      fc.property(arbVV, arbVV, (a, b) => {
        expect(digest(a) === digest(b)).toBe(compare(a, b) === "equal");
      }),
    );
  });
  it("encoding does not depend on input order", () => {
    fc.assert(
      fc.property(arbVV, (a) => {
        const reversed = fromEntries([...a.entries].reverse());
        expect(encode(reversed)).toEqual(encode(a));
      }),
    );
  });
});
