/**
 * Faults (issue 7, row 7): `kill -9` of Bob's `xshare run` in the middle of downloading a large
 * file, then a restart. At the moment of the kill his file is still the old version, whole (a
 * new version only ever arrives by rename); after the restart the sync resumes and ends with
 * the new version, byte for byte, and no temporary file is left in his folder.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEMP_PREFIX } from "../../protocol/paths.ts";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";

let cast: Cast;
let adamDir: string;
let bobDir: string;
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Temporary files anywhere in a folder. */
async function temps(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((n) => path.basename(String(n)).startsWith(TEMP_PREFIX)).map(String);
}

beforeAll(async () => {
  cast = await startCast(["adam", "bob"]);
  adamDir = cast.sharing("adam", "Films");
  await mkdir(adamDir, { recursive: true });
  const space = (await cast.run("adam", ["share", adamDir, "--with", cast.jid("bob")])).trim();
  bobDir = await cast.accept("bob", space);
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

describe("kill -9 of a sharing client while it downloads a large file", () => {
  it("leaves the old file whole; after a restart the new one arrives and no temporary file is left", async () => {
    const v1 = randomBytes(96 * MiB);
    await writeFile(path.join(adamDir, "film.bin"), v1);
    await cast.online("adam");
    await cast.online("bob");
    await cast.eventually("Bob has version 1", hasContent(path.join(bobDir, "film.bin"), v1), 60_000);

    const v2 = randomBytes(96 * MiB);
    await writeFile(path.join(adamDir, "film.bin"), v2);
    // Bob's client is writing version 2 into a temporary file: kill it there.
    await cast.eventually("Bob's client is writing the new version", async () => (await temps(bobDir)).length > 0, 60_000);
    process.kill(cast.daemon("bob")!.pid, "SIGKILL");
    expect(sha(await readFile(path.join(bobDir, "film.bin")))).toBe(sha(v1));
    expect((await temps(bobDir)).length).toBeGreaterThan(0);

    await cast.online("bob");
    await cast.eventually("Bob has version 2", hasContent(path.join(bobDir, "film.bin"), v2), 60_000);
    await cast.eventually("no temporary file is left", async () => (await temps(bobDir)).length === 0);
    expect((await readdir(bobDir)).filter((n) => n !== ".xshare")).toEqual(["film.bin"]);
  }, 180_000);
});
