/**
 * component/web/zip.ts (yazl underneath): what it writes reads back (tests/unit/fixtures/read-zip.ts, written from
 * the format's specification) with the same names, bytes and modes, with and without ZIP64
 * records; a source that yields another byte count than its entry's size fails the archive.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { writeZip, type ZipEntry } from "../../component/web/zip.ts";
import { readZip } from "./fixtures/read-zip.ts";

async function archive(entries: ZipEntry[], zip64: "auto" | "always" = "auto"): Promise<Buffer> {
  const parts: Buffer[] = [];
  await writeZip(entries, async (b) => void parts.push(Buffer.from(b)), { zip64 });
  return Buffer.concat(parts);
}

const bytes = (b: Buffer) => async function* () {
  // In uneven pieces, as blob streams give them.
  for (let i = 0; i < b.length; i += 7777) yield b.subarray(i, i + 7777);
};

describe("zip writer", () => {
  const big = randomBytes(300_000);
  const entries: ZipEntry[] = [
    { name: "Trip", dir: true, size: 0, mtimeMs: Date.UTC(2026, 0, 2, 3, 4, 6), mode: 0o755 },
    { name: "Trip/<img src=x onerror=alert(1)>.txt", dir: false, size: 5, mtimeMs: Date.UTC(2026, 0, 2), mode: 0o644, data: bytes(Buffer.from("hello")) },
    { name: "Trip/photo.bin", dir: false, size: big.length, mtimeMs: Date.UTC(2026, 0, 2), mode: 0o755, data: bytes(big) },
    { name: "Trip/\u202Etxt.exe ünï €", dir: false, size: 0, mtimeMs: 0, mode: 0o600, data: bytes(Buffer.alloc(0)) },
  ];

  for (const mode of ["auto", "always"] as const) {
    it(`round-trips names, bytes and modes (zip64 ${mode})`, async () => {
      const back = readZip(await archive(entries, mode));
      expect(back.map((e) => e.name)).toEqual(["Trip/", "Trip/<img src=x onerror=alert(1)>.txt", "Trip/photo.bin", "Trip/\u202Etxt.exe ünï €"]);
      expect(back[1]!.data.toString()).toBe("hello");
      expect(back[2]!.data.equals(big)).toBe(true);
      expect(back.map((e) => e.mode)).toEqual([0o755, 0o644, 0o755, 0o600]);
    });
  }

  it("fails when a source gives fewer or more bytes than the entry's size", async () => {
    await expect(archive([{ name: "a", dir: false, size: 6, mtimeMs: 0, mode: 0o644, data: bytes(Buffer.from("hello")) }])).rejects.toThrow(/unexpected number of bytes/);
    await expect(archive([{ name: "a", dir: false, size: 4, mtimeMs: 0, mode: 0o644, data: bytes(Buffer.from("hello")) }])).rejects.toThrow(/unexpected number of bytes/);
  });

  it("fails when a source fails midway", async () => {
    const failing = async function* () {
      yield Buffer.from("half");
      throw new Error("chunk gone");
    };
    await expect(archive([{ name: "a", dir: false, size: 8, mtimeMs: 0, mode: 0o644, data: failing }])).rejects.toThrow(/chunk gone/);
  });

  it("an empty archive is valid", async () => {
    expect(readZip(await archive([]))).toEqual([]);
  });
});
