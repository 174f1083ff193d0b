/**
 * Faults (issue 7, row 8): `kill -9` of the sharing manager while Adam's client uploads a large
 * file, i.e. with chunks stored and the index not yet committed. After a restart: no index
 * entry names a chunk the sharing manager does not hold; Adam's sync, run again, completes
 * (uploads and the commit are idempotent); Bob receives the file byte for byte; and the chunks
 * of the interrupted attempt that no version ended up naming are collected.
 *
 * Bytes the kill left without a record are removed at the next start (modules/gc.ts
 * `reclaimUnrecorded`, tested in tests/integration/component-modules.test.ts): the pack index
 * cannot be read from outside while the component runs.
 */
import { randomBytes } from "node:crypto";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shebangFlags } from "../harness/node-flags.ts";
import { REPO_ROOT } from "../harness/prosody.ts";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";

let cast: Cast;
let adamDir: string;
let bobDir: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  cast = await startCast(["adam", "bob"], { componentEnv: { XSHARE_GC_INTERVAL_SECONDS: "1", XSHARE_GC_GRACE_SECONDS: "1", XSHARE_LOG_LEVEL: "info" } });
  adamDir = cast.sharing("adam", "Films");
  await mkdir(adamDir, { recursive: true });
  const space = (await cast.run("adam", ["share", adamDir, "--with", cast.jid("bob")])).trim();
  bobDir = await cast.accept("bob", space);
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

const count = (sql: string) => cast.componentDb((db) => db.prepare(sql).pluck().get() as number);

/** `xshare sync` for Adam, as a process we can watch and that may fail. */
function adamSync(): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(process.execPath, [...shebangFlags("bin/xshare.js"), path.join(REPO_ROOT, "bin/xshare.js"), "--home", cast.home("adam"), "sync"], {
    env: { PATH: process.env.PATH ?? "", HOME: cast.home("adam") },
    stdio: "ignore",
  });
  return { child, done: new Promise((r) => child.once("exit", (code) => r(code))) };
}

describe("kill -9 of the sharing manager between storing chunks and committing", () => {
  it("after a restart nothing points at a missing chunk, the retried sync completes, and the orphans go", async () => {
    const first = randomBytes(160 * MiB);
    await writeFile(path.join(adamDir, "film.bin"), first);
    const chunksBefore = count("SELECT count(*) FROM chunks");
    const attempt = adamSync();
    await cast.eventually("some chunks of the film are stored", () => count("SELECT count(*) FROM chunks") > chunksBefore + 20, 60_000);
    process.kill(cast.component.pid()!, "SIGKILL");
    expect(await attempt.done).not.toBe(0);
    await cast.component.start();

    // Recorded chunks, never committed; no entry names one that is not held.
    expect(count("SELECT count(*) FROM entries WHERE path = 'film.bin'")).toBe(0);
    expect(count("SELECT count(*) FROM chunk_refs r LEFT JOIN chunks c ON c.hash = r.hash WHERE c.hash IS NULL")).toBe(0);
    const stranded = count("SELECT count(*) FROM chunks") - chunksBefore;
    expect(stranded).toBeGreaterThan(20);

    // Adam changed his mind meanwhile: another film. The sync, run again, completes.
    const second = randomBytes(8 * MiB);
    await writeFile(path.join(adamDir, "film.bin"), second);
    expect(await adamSync().done).toBe(0);
    expect(count("SELECT count(*) FROM chunk_refs r LEFT JOIN chunks c ON c.hash = r.hash WHERE c.hash IS NULL")).toBe(0);
    expect(await cast.run("bob", ["sync"])).toContain("in-sync");
    expect(await hasContent(path.join(bobDir, "film.bin"), second)()).toBe(true);

    // The interrupted attempt's chunks, named by no version, are collected (grace: 1 s here).
    await cast.eventually("the stranded chunks are collected", () => count("SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM chunk_refs r WHERE r.hash = c.hash)") === 0, 60_000);
    // And nothing that a version names went with them.
    expect(count("SELECT count(*) FROM chunk_refs r LEFT JOIN chunks c ON c.hash = r.hash WHERE c.hash IS NULL")).toBe(0);
    expect(count("SELECT count(*) FROM chunk_refs WHERE path = 'film.bin'")).toBeGreaterThan(0);
  }, 240_000);
});
