import path from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ShareError } from "../../protocol/errors.ts";
import {
  checkPath,
  foldKey,
  isPathRejection,
  PATH_REJECTIONS,
  STATE_DIR,
  TEMP_PREFIX,
  type PathRejection,
} from "../../protocol/paths.ts";

function reasonOf(raw: string): string | undefined {
  try {
    checkPath(raw);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(ShareError);
    expect((e as ShareError).code).toBe("invalid-path");
    return (e as ShareError).attrs.reason;
  }
}

const rejected: Array<[PathRejection, string[]]> = [
  ["invalid-unicode", ["a\uD800b", "a/\uDC00", "x\uFFFE", "\uFFFF"]],
  ["empty", [""]],
  ["path-too-long", [Array(17).fill("x".repeat(240)).join("/") + "y", Array(20).fill("x".repeat(250)).join("/"), "ä/".repeat(1400) + "a"]],
  ["nul", ["a\u0000b", "\u0000"]],
  ["control-char", ["a\u0001", "a\nb", "tab\there", "del\u007F", "a\u001F/b"]],
  ["absolute", ["/", "/etc/passwd", "//server/share"]],
  ["drive-letter", ["C:", "C:x", "c:\\Windows", "z:/a", "a:b"]],
  ["backslash", ["a\\b", "..\\x", "\\\\server\\share"]],
  ["empty-component", ["a//b", "a/", "a/b/"]],
  ["dot", [".", "./a", "a/./b", "a/."]],
  ["dot-dot", ["..", "../a", "a/../b", "a/.."]],
  ["component-too-long", ["x".repeat(256), "a/" + "é".repeat(128), "😀".repeat(64)]],
  ["colon", ["ab:c", "dir/file.txt:stream", "ab:", ":", "x/C:"]],
  ["trailing-dot-space", ["a.", "a ", "dir./b", "...", ". ", ".. ", "a/b. "]],
  [
    "windows-reserved",
    ["CON", "con", "a/PrN", "AUX.txt", "nul.tar.gz", "COM1", "com0.x", "LPT9.log", "COM¹", "lpt²", "COM³.txt", "CON .txt", "CONIN$", "conout$.x"],
  ],
  [
    "reserved",
    [".xshare", ".XShare", "a/.xshare/b", ".xshare-tmp-123", "a/.XSHARE-TMP-x", ".xſhare", ".xs\u200Chare", "XSHARE~1", "xshare~12.txt"],
  ],
];

describe("checkPath rejects", () => {
  it("covers every reason", () => {
    expect(rejected.map(([r]) => r).sort()).toEqual([...PATH_REJECTIONS].sort());
  });
  for (const [reason, examples] of rejected) {
    it.each(examples.map((x) => [JSON.stringify(x).slice(0, 40), x]))(`${reason}: %s`, (_label, raw) => {
      expect(reasonOf(raw)).toBe(reason);
    });
  }
  it("puts an XML-safe, bounded copy of the input in attrs.path", () => {
    const e = (() => {
      try {
        checkPath("a\u0001\uD800" + "x".repeat(500));
      } catch (err) {
        return err as ShareError;
      }
      throw new Error("accepted");
    })();
    expect(e.attrs.path).toMatch(/^a\\u\{1\}\\u\{d800\}x+…$/);
    expect(e.attrs.path!.length).toBeLessThan(220);
    expect(e.toElement().toString()).toContain('reason="invalid-unicode"');
  });
});

describe("checkPath accepts", () => {
  it.each([
    ["a", "a"],
    ["a/b/c.txt", "a/b/c.txt"],
    ["a.b/c", "a.b/c"],
    [".bashrc", ".bashrc"],
    ["dir/.hidden/.x", "dir/.hidden/.x"],
    ["...a", "...a"],
    ["Café/naïve.txt", "Café/naïve.txt"],
    ["Cafe\u0301", "Caf\u00e9"], // NFD in, NFC out
    ["日本語/ファイル.txt", "日本語/ファイル.txt"],
    ["😀/emoji", "😀/emoji"],
    ["x".repeat(255), "x".repeat(255)],
    [" leading space", " leading space"],
    ["CONFIG", "CONFIG"],
    ["COM10", "COM10"],
    ["console.log", "console.log"],
    [".xshare2", ".xshare2"],
    ["xshare", "xshare"],
    ["xshare~a", "xshare~a"],
    ["a/.xshare-tmp", "a/.xshare-tmp"],
    ["what?*<>|\"", "what?*<>|\""],
    ["~", "~"],
  ])("%s", (raw, want) => {
    expect(checkPath(raw)).toBe(want);
  });
  it("accepts exactly 4096 bytes", () => {
    const p = Array(17).fill("x".repeat(240)).join("/");
    expect(p.length).toBe(4096);
    expect(checkPath(p)).toBe(p);
  });
  it("isPathRejection knows the codes", () => {
    expect(isPathRejection("dot-dot")).toBe(true);
    expect(isPathRejection("nope")).toBe(false);
  });
  it("exports the client's reserved names", () => {
    expect(STATE_DIR).toBe(".xshare");
    expect(TEMP_PREFIX).toBe(".xshare-tmp-");
  });
});

describe("foldKey", () => {
  it.each([
    ["Foo", "foo"],
    ["README.TXT", "readme.txt"],
    ["Straße", "STRASSE"],
    ["ẞ", "ß"],
    ["ſ", "S"],
    ["ΟΔΟΣ", "οδος"],
    ["Caf\u00e9", "CAFE\u0301"],
    ["K", "\u212A"], // Kelvin sign
    ["a\u200Cb", "AB"],
    ["Dir/File", "dir/file"],
  ])("%s collides with %s", (a, b) => {
    expect(foldKey(a)).toBe(foldKey(b));
  });
  it.each([
    ["a", "b"],
    ["a/b", "ab"],
    ["file1", "file2"],
    ["é", "e"],
  ])("%s does not collide with %s", (a, b) => {
    expect(foldKey(a)).not.toBe(foldKey(b));
  });
  it("is idempotent", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => foldKey(foldKey(s)) === foldKey(s)));
  });
  it("agrees with toLowerCase on ASCII", () => {
    fc.assert(fc.property(fc.string(), (s) => foldKey(s) === s.toLowerCase()));
  });
});

/** Components built from the characters the rules are about, so accepted and rejected both occur. */
const tricky = fc.constantFrom(
  "a", "B", "é", "e\u0301", ".", "..", " ", ":", "\\", "/", "~", "C", "c:", "\u0000", "\u0001", "\u007F",
  "\uD800", "😀", "CON", "com1", "¹", ".xshare", "-tmp-", "\u200C", "ſ", "\u2024", "\uFF0E", "%2e",
);
const trickyPath = fc.oneof(
  fc.array(fc.array(tricky, { minLength: 1, maxLength: 4 }).map((xs) => xs.join("")), { minLength: 1, maxLength: 5 })
    .map((cs) => cs.join("/")),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
);

function accepted(raw: string): string | undefined {
  try {
    return checkPath(raw);
  } catch (e) {
    if (!(e instanceof ShareError) || e.code !== "invalid-path" || !isPathRejection(e.attrs.reason ?? "")) throw e;
    return undefined;
  }
}

describe("checkPath properties", () => {
  it("only ever throws invalid-path with a known reason", () => {
    fc.assert(fc.property(trickyPath, (raw) => void accepted(raw)), { numRuns: 2000 });
  });
  it("is idempotent", () => {
    fc.assert(
      fc.property(trickyPath, (raw) => {
        const p = accepted(raw);
        if (p !== undefined) expect(checkPath(p)).toBe(p);
      }),
      { numRuns: 2000 },
    );
  });
  it("keeps accepted paths inside the root on POSIX and Windows", () => {
    let seen = 0;
    fc.assert(
      fc.property(trickyPath, (raw) => {
        const p = accepted(raw);
        if (p === undefined) return;
        seen++;
        expect(path.posix.resolve("/root", p).startsWith("/root/")).toBe(true);
        expect(path.win32.resolve("C:\\root", p).startsWith("C:\\root\\")).toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(seen).toBeGreaterThan(300); // the generator must reach accepted paths, or this proves nothing
  });
});
