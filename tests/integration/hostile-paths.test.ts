/**
 * Hostile names through the real write path (issue 7, row 1): a name from the network is first
 * read by the protocol's parser (protocol/stanzas/file.ts applies the path rules of § 5.4), and
 * only what it accepts reaches `writeVersion` on a `RealFs`. 10,000 generated names built from
 * the pieces attackers use (`..`, `/`, `\`, drive letters, device names, NUL and control
 * characters, the client's own state folder and temporary prefix, trailing dots, long names,
 * NFD, case variants, ignorable code points): each is refused with a path-rule reason or
 * written strictly inside the shared folder, and nothing ever appears beside it.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Slabs, writeVersion } from "../../client/engine/disk.ts";
import { RealFs } from "../../client/fs/real.ts";
import { ShareError } from "../../protocol/errors.ts";
import type { ChunkHash, ReplicaId } from "../../protocol/ids.ts";
import { NS } from "../../protocol/ns.ts";
import { PATH_REJECTIONS } from "../../protocol/paths.ts";
import { buildFile, parseFile } from "../../protocol/stanzas/file.ts";
import { EMPTY, bump } from "../../protocol/vv.ts";

const BYTES = Buffer.from("payload\n");
const HASH = createHash("sha256").update(BYTES).digest("hex") as ChunkHash;
const PIECES = [
  "..", ".", "/", "\\", "a", "B", "é", "e\u0301", "C:", "c:\\", "\\\\host\\share", "CON", "nul.txt", "COM1", "LPT\u00b9", "CONIN$",
  "\u0000", "\u0001", "\u001f", "\u007f", ".xshare", ".XSHARE", ".xshare-tmp-", "XSHARE~1", ".xs\u200chare", " ", "x.", "x ", "a:b",
  "\ud800", "\uffff", "~", "*", "?", "<", "|", "%2e%2e", "x".repeat(300), "ÿ".repeat(130), "\u202e", "ß", "İ",
];
const hostile = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((p) => p.join("")),
  fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 6 }).map((p) => p.join("/")),
  fc.string({ unit: "binary", maxLength: 40 }),
);

let sandbox: string;
let root: string;
beforeAll(async () => {
  // tmpfs where there is one: 10,000 fsynced writes on a disk would take minutes.
  sandbox = await mkdtemp(path.join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "xshare-hostile-"));
  root = path.join(sandbox, "shared");
  await mkdir(root);
});
afterAll(async () => {
  await rm(sandbox, { recursive: true, force: true });
});

/** Every file and folder under `dir`, as absolute real paths. */
async function everything(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) out.push(await realpath(path.join(e.parentPath, e.name)));
  return out;
}

describe("10,000 hostile names from the network", () => {
  it("are refused with a path-rule reason, or written inside the shared folder; nothing lands beside it", async () => {
    const fs = new RealFs(root);
    const supply = { fs, local: new Map(), cache: new Map(), slabs: new Slabs(), fetch: async (_c: unknown, into: { put: (h: ChunkHash, b: Uint8Array) => void }) => into.put(HASH, BYTES) };
    const outcomes = { refused: 0, written: 0 };
    await fc.assert(
      fc.asyncProperty(hostile, async (name) => {
        // As a peer would send it: an index entry whose path is the name.
        const el = buildFile({ path: "placeholder", kind: "file", vector: bump(EMPTY, "r1" as ReplicaId, 1), hash: HASH, size: BYTES.length, mtimeMs: 1_764_000_000_000, mode: 0o644, deleted: false, replica: "r1" as ReplicaId, chunks: [{ hash: HASH, size: BYTES.length }] });
        el.attrs.xmlns = NS.share;
        el.attrs.path = name;
        let v;
        try {
          v = parseFile(el);
        } catch (err) {
          expect(err).toBeInstanceOf(ShareError);
          // An empty attribute is refused before the path rules look at it.
          if (name === "") expect((err as ShareError).code).toBe("bad-request");
          else {
            expect((err as ShareError).code).toBe("invalid-path");
            expect(PATH_REJECTIONS).toContain((err as ShareError).attrs.reason);
          }
          outcomes.refused++;
          return;
        }
        try {
          await writeVersion(supply as never, v, v.path, undefined, { syncDir: false });
          outcomes.written++;
        } catch (err) {
          // Only a clash with what an earlier name wrote (a file where a folder must go, or a
          // path already there) may stop a write the rules accepted.
          expect(["EEXIST", "ENOTDIR", "EISDIR", "LocalChanged"]).toContain((err as { code?: string; name?: string }).code ?? (err as Error).constructor.name);
        }
      }),
      { numRuns: 10_000 },
    );
    const real = await realpath(root);
    for (const p of await everything(root)) expect(p === real || p.startsWith(real + path.sep), p).toBe(true);
    expect(await readdir(sandbox)).toEqual(["shared"]);
    expect(outcomes.refused).toBeGreaterThan(1000);
    expect(outcomes.written).toBeGreaterThan(100);
  }, 120_000);
});
