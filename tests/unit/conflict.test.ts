import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { conflictName, isConflict, resolve, sameContent, winsConflict } from "../../protocol/conflict.ts";
import { ShareError } from "../../protocol/errors.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ReplicaId } from "../../protocol/ids.ts";
import { checkPath, utf8Bytes } from "../../protocol/paths.ts";
import { compare, fromEntries, merge, type VersionVector } from "../../protocol/vv.ts";

const H1 = "1".repeat(64);
const H2 = "2".repeat(64);
const T = Date.UTC(2024, 2, 5, 7, 8, 9, 500); // 2024-03-05 07:08:09.500 UTC
const vv = (o: Record<string, number>): VersionVector => fromEntries(Object.entries(o));
const A = vv({ a: 2, b: 1 });
const B = vv({ a: 1, b: 2 }); // concurrent with A

function fv(over: Partial<FileVersion> = {}): FileVersion {
  return {
    path: "docs/report.txt",
    kind: "file",
    vector: A,
    hash: H1,
    size: 10,
    mtimeMs: T,
    mode: 0o644,
    deleted: false,
    replica: "alice-laptop" as ReplicaId,
    chunks: [],
    ...over,
  };
}
const del = (over: Partial<FileVersion> = {}) => fv({ deleted: true, hash: "", size: 0, ...over });

describe("isConflict", () => {
  it.each<[string, FileVersion, FileVersion, boolean]>([
    ["concurrent, different hash", fv(), fv({ vector: B, hash: H2 }), true],
    ["concurrent, same hash", fv(), fv({ vector: B }), false],
    ["concurrent, same hash, different mode and mtime", fv(), fv({ vector: B, mode: 0o755, mtimeMs: T + 1 }), false],
    ["concurrent, edit vs delete", fv(), del({ vector: B }), true],
    ["concurrent, two deletes", del(), del({ vector: B, mtimeMs: 1 }), false],
    ["concurrent, file vs dir", fv(), fv({ vector: B, kind: "dir", hash: "" }), true],
    ["concurrent, two dirs", fv({ kind: "dir", hash: "" }), fv({ vector: B, kind: "dir", hash: "" }), false],
    ["dominated, different hash", fv({ vector: vv({ a: 2, b: 2 }) }), fv({ vector: B, hash: H2 }), false],
    ["equal vectors", fv(), fv({ hash: H2 }), false],
  ])("%s", (_name, a, b, want) => {
    expect(isConflict(a, b)).toBe(want);
    expect(isConflict(b, a)).toBe(want);
  });
});

describe("winsConflict", () => {
  it.each<[string, FileVersion, FileVersion]>([
    ["an edit beats a delete, even an older edit", fv({ mtimeMs: T - 1e9 }), del({ vector: B, mtimeMs: T })],
    ["later mtime wins", fv({ mtimeMs: T + 1, hash: H1 }), fv({ vector: B, hash: H2 })],
    ["same mtime: greater replica wins", fv({ replica: "bob" as ReplicaId }), fv({ vector: B, replica: "alice" as ReplicaId, hash: H2 })],
    ["same mtime and replica: greater hash wins", fv({ hash: H2 }), fv({ vector: B, hash: H1 })],
    ["later delete beats older delete", del({ mtimeMs: T + 1 }), del({ vector: B })],
    ["dir vs file tie: file wins", fv(), fv({ vector: B, kind: "dir", hash: H1 })],
  ])("%s", (_name, winner, loser) => {
    expect(winsConflict(winner, loser)).toBe(true);
    expect(winsConflict(loser, winner)).toBe(false);
  });
  it("neither wins against an identical version", () => {
    expect(winsConflict(fv(), fv())).toBe(false);
  });
});

describe("resolve", () => {
  it("takes a dominating version as it is, in both orders", () => {
    const newer = fv({ vector: vv({ a: 3, b: 2 }), hash: H2, mtimeMs: 1 });
    expect(resolve(newer, fv())).toEqual({ kind: "take", version: newer });
    expect(resolve(fv(), newer)).toEqual({ kind: "take", version: newer });
  });
  it("keeps both on conflict, winner under the merged vector", () => {
    const a = fv({ mtimeMs: T + 1 });
    const b = fv({ vector: B, hash: H2 });
    const want = { kind: "conflict", winner: { ...a, vector: merge(A, B) }, loser: b };
    expect(resolve(a, b)).toEqual(want);
    expect(resolve(b, a)).toEqual(want);
  });
  it("merges concurrent versions with the same content without a conflict", () => {
    const a = fv({ mode: 0o755 });
    const b = fv({ vector: B, mtimeMs: T + 5 });
    const want = { kind: "take", version: { ...b, vector: merge(A, B) } };
    expect(resolve(a, b)).toEqual(want);
    expect(resolve(b, a)).toEqual(want);
  });
  it("treats equal vectors with different content as a conflict", () => {
    expect(resolve(fv(), fv({ hash: H2 })).kind).toBe("conflict");
  });
});

describe("conflictName", () => {
  const loser = fv({ replica: "R" as ReplicaId });
  it.each([
    ["docs/report.txt", "docs/report.sync-conflict-20240305-070809-R.txt"],
    ["a.tar.gz", "a.tar.sync-conflict-20240305-070809-R.gz"],
    ["Makefile", "Makefile.sync-conflict-20240305-070809-R"],
    [".bashrc", ".bashrc.sync-conflict-20240305-070809-R"],
    ["dir.d/.config.json", "dir.d/.config.sync-conflict-20240305-070809-R.json"],
    ["a.b/c", "a.b/c.sync-conflict-20240305-070809-R"],
    ["Cafe\u0301.md", "Caf\u00e9.sync-conflict-20240305-070809-R.md"],
  ])("%s", (path, want) => {
    expect(conflictName(path, loser)).toBe(want);
  });
  it("uses the loser's mtime in UTC and the loser's replica", () => {
    expect(conflictName("x", fv({ mtimeMs: 0, replica: "dev_1-A" as ReplicaId }))).toBe(
      "x.sync-conflict-19700101-000000-dev_1-A",
    );
    expect(conflictName("x", fv({ mtimeMs: Date.UTC(1999, 11, 31, 23, 59, 59, 999) }))).toBe(
      "x.sync-conflict-19991231-235959-alice-laptop",
    );
  });
  it("cuts a long base at a character boundary to stay within 255 bytes", () => {
    const out = conflictName("d/" + "é".repeat(125) + ".txt", loser);
    const name = out.slice(2);
    expect(utf8Bytes(name)).toBeLessThanOrEqual(255);
    expect(utf8Bytes(name)).toBeGreaterThanOrEqual(254);
    expect(name).toMatch(/^é+\.sync-conflict-20240305-070809-R\.txt$/);
  });
  it("cuts an over-long extension too, never leaving a trailing dot or space", () => {
    const replica = "r".repeat(64) as ReplicaId; // suffix of 95 bytes leaves 160 for "a" + extension
    const out = conflictName("a." + "x".repeat(157) + " " + "y".repeat(40), fv({ replica }));
    expect(out).toBe(`a.sync-conflict-20240305-070809-${replica}.${"x".repeat(157)}`);
    expect(utf8Bytes(out)).toBe(254);
  });
  it("does not let a cut base become a reserved name", () => {
    const out = conflictName("CON" + " ".repeat(230) + "x.txt", loser);
    expect(checkPath(out)).toBe(out);
    expect(out.startsWith("_CON")).toBe(true);
  });
  it("keeps the whole path within 4096 bytes", () => {
    const dir = Array(16).fill("d".repeat(240)).join("/");
    const out = conflictName(dir + "/" + "f".repeat(230) + ".txt", loser);
    expect(utf8Bytes(out)).toBe(4096);
    expect(out.endsWith("f.sync-conflict-20240305-070809-R.txt")).toBe(true);
  });
  it("throws path-too-long when the directory leaves no room", () => {
    const dir = Array(16).fill("d".repeat(253)).join("/"); // 4063 bytes, + "/" leaves 32: suffix only
    expect(() => conflictName(dir + "/f", loser)).toThrow(ShareError);
    expect(() => conflictName(dir + "/f", loser)).toThrow(/path-too-long/);
    expect(conflictName(dir.slice(1) + "/f", loser)).toBe(dir.slice(1) + "/f.sync-conflict-20240305-070809-R");
  });
});

const arbVV = fc
  .uniqueArray(fc.tuple(fc.constantFrom("a", "b", "c"), fc.nat({ max: 3 })), { selector: (e) => e[0], maxLength: 3 })
  .map((pairs) => fromEntries(pairs));
const arbVersion: fc.Arbitrary<FileVersion> = fc.record({
  path: fc.constant("p"),
  kind: fc.constantFrom("file", "dir"),
  vector: arbVV,
  hash: fc.constantFrom("", H1, H2),
  size: fc.constant(0),
  mtimeMs: fc.constantFrom(0, 1, T, T + 0.5),
  mode: fc.constantFrom(0o644, 0o755),
  deleted: fc.boolean(),
  replica: fc.constantFrom("a", "b", "Z").map((r) => r as ReplicaId),
  chunks: fc.constant([]),
});

describe("properties", () => {
  it("winsConflict: exactly one side wins whenever the versions differ in an ordering field", () => {
    fc.assert(
      fc.property(arbVersion, arbVersion, (a, b) => {
        const differ = a.deleted !== b.deleted || a.mtimeMs !== b.mtimeMs || a.replica !== b.replica || a.hash !== b.hash;
        if (differ) expect(winsConflict(a, b)).not.toBe(winsConflict(b, a));
        if (winsConflict(a, b)) expect(winsConflict(b, a)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
  it("winsConflict is transitive", () => {
    fc.assert(
      fc.property(arbVersion, arbVersion, arbVersion, (a, b, c) => {
        if (winsConflict(a, b) && winsConflict(b, c)) expect(winsConflict(a, c)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
  it("isConflict is symmetric and resolve does not depend on argument order", () => {
    fc.assert(
      fc.property(arbVersion, arbVersion, (a, b) => {
        expect(isConflict(a, b)).toBe(isConflict(b, a));
        const differ = winsConflict(a, b) || winsConflict(b, a) || compare(a.vector, b.vector) !== "concurrent";
        if (differ) expect(resolve(a, b)).toEqual(resolve(b, a));
        if (isConflict(a, b)) expect(resolve(a, b).kind).toBe("conflict");
        if (sameContent(a, b)) expect(resolve(a, b).kind).toBe("take");
      }),
      { numRuns: 2000 },
    );
  });
  it("conflictName always passes checkPath", () => {
    const component = fc.string({ unit: "grapheme", minLength: 1, maxLength: 300 });
    const path = fc.array(component, { minLength: 1, maxLength: 3 }).map((cs) => cs.join("/"));
    const loser = fc.record({
      mtimeMs: fc.oneof(fc.integer({ min: -1e15, max: 1e16 }), fc.double()),
      replica: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    });
    let seen = 0;
    fc.assert(
      fc.property(path, loser, (raw, l) => {
        let p: string;
        try {
          p = checkPath(raw);
        } catch {
          return;
        }
        seen++;
        const out = conflictName(p, fv({ mtimeMs: l.mtimeMs, replica: l.replica as ReplicaId }));
        expect(checkPath(out)).toBe(out);
        expect(out.slice(0, p.lastIndexOf("/") + 1)).toBe(p.slice(0, p.lastIndexOf("/") + 1));
        expect(out).toMatch(/\.sync-conflict-\d{8}-\d{6}-[A-Za-z0-9_-]+(\.[^/]*)?$/);
      }),
      { numRuns: 2000 },
    );
    expect(seen).toBeGreaterThan(200);
  });
});
