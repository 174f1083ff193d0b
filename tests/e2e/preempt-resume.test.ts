/**
 * Issue 9, pre-emption and resume, with real processes (Prosody, the sharing manager, `xshare
 * run` for Adam and Bob). Bob's device says, through `xshare config`, that videos are low
 * priority and travel only from 02:00 to 05:59 UTC, and caps his downloads so that a large
 * video takes a while. Adam drops a 48 MiB video into their pair folder while it is 05:59 on
 * Bob's clock: Bob's client starts receiving it, 06:00 comes mid-file, and the transfer pauses
 * at a window boundary. `xshare status` says so, how much is done, and why; the partial stays
 * in Bob's folder under a temporary name (nothing under the real name). Bob's client is
 * stopped, and started again inside the next window: it goes on from what it had, and the
 * bytes it downloaded over both runs (its sync lines report them) add up to the video's size
 * plus at most one batch; the content is Adam's, byte for byte.
 *
 * Then a change that matters more pre-empts a large download: while Bob's client receives a
 * second video, Adam saves a document; Bob's client hears of it (an SNM), the video pauses at a
 * window boundary, the document arrives, and the video resumes and completes, its bytes again
 * adding up to its size.
 *
 * The clock is the test's (XSHARE_CLOCK_OFFSET_MS, client/clock.ts), as in schedule-window:
 * 06:00 on Bob's clock comes CLOSE_MS after his daemon starts, and the second daemon starts at
 * 02:00:05 the day after on its clock.
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_BYTES } from "../../client/remote.ts";
import { TEMP_PREFIX } from "../../protocol/paths.ts";
import { type Cast, hasContent, startCast, syncLines } from "../harness/cast.ts";
import { xshare } from "../harness/cli.ts";

/** Real time from Bob's daemon start to 06:00 on his clock (the upload and the first part of the download fit in it). */
const CLOSE_MS = 12_000;
const SIZE = 48 * 1024 * 1024;

let cast: Cast;
let space = "";
const folder = { adam: "", bob: "" };

beforeAll(async () => {
  cast = await startCast(["adam", "bob"]);
  ({ space, owner: folder.adam, other: folder.bob } = await cast.pair("adam", "bob", "Trip"));
  await cast.run("bob", ["config", "rule", "*.mov", "--priority", "low", "--window", "* 2-5 * * *"]);
  await cast.run("bob", ["config", "set", "timezone", "UTC"]);
  // 48 MiB at 2 MB/s: about 25 s, so that 06:00 comes while it is on its way.
  await cast.run("bob", ["config", "set", "download", "2MB/s"]);
  await cast.online("adam");
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

/** Whether a file is there (a boolean: a failed check must not print 48 MiB of it). */
const there = (file: string) => stat(file).then(() => true, () => false);

/** The bytes down and the lines of a daemon's sync sessions of the space. */
const bytesDown = (output: string) => syncLines(output, space).reduce((n, l) => n + Number(/bytes \d+ up, (\d+) down/.exec(l.line)?.[1] ?? 0), 0);

describe("a large download paused by its window closing resumes in the next window without fetching again what it had", () => {
  it("Bob's client pauses the video at 06:00 with status saying how far it got, and completes it after a restart at 02:00 with its size fetched in all", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const closesAt = Date.parse(`${today}T06:00:00Z`);
    const offset1 = closesAt - (Date.now() + CLOSE_MS);
    const env1 = { XSHARE_CLOCK_OFFSET_MS: String(offset1) };
    const bob1 = await cast.online("bob", undefined, env1);

    const movie = randomBytes(SIZE);
    await writeFile(path.join(folder.adam, "holiday.mov"), movie);
    // The window closes mid-file: the sync that was receiving it ends with the video waiting.
    await bob1.waitFor(new RegExp(`${space}: 1 transfer\\(s\\) waiting; next at ${tomorrow}T02:00:00\\.000Z`), CLOSE_MS + 40_000);
    expect(Date.now() + offset1, "the video arrived after the window had closed (machine too slow for CLOSE_MS)").toBeGreaterThanOrEqual(closesAt);
    expect(await there(path.join(folder.bob, "holiday.mov"))).toBe(false);

    const status = await xshare(cast.home("bob"), ["status", "--json"], { env: env1 });
    expect(status.code).toBe(0);
    const row = (JSON.parse(status.stdout) as Array<{ id: string; paused: Array<{ path: string; direction: string; done: number; size: number; reason: string }> }>).find((r) => r.id === space)!;
    // "until Thu 02:00": the next day, on Bob's clock.
    const day = new Date(`${tomorrow}T12:00:00Z`).toLocaleDateString("en-US", { weekday: "short", timeZone: "UTC" });
    const why = `waits for its window * 2-5 * * * until ${day} 02:00`;
    expect(row.paused).toEqual([{ path: "holiday.mov", direction: "down", done: expect.any(Number), size: SIZE, reason: why }]);
    const done = row.paused[0]!.done;
    // Some of it, not all: it started inside the window and stopped when it closed.
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(SIZE);
    const text = await xshare(cast.home("bob"), ["status"], { env: env1 });
    expect(text.stdout).toContain(`  receive holiday.mov: paused at `);
    expect(text.stdout).toContain(` of 48 MiB (${why})`);
    // What it has is on disk under a temporary name, exactly the video's first `done` bytes.
    const temps = (await readdir(folder.bob)).filter((n) => n.startsWith(TEMP_PREFIX));
    expect(temps).toHaveLength(1);
    expect((await readFile(path.join(folder.bob, temps[0]!))).equals(movie.subarray(0, done)), "the partial is the video's first bytes").toBe(true);
    const first = bob1.output();
    expect(bytesDown(first)).toBe(done);

    // Stopped, and started again at 02:00:05 the next day on its clock, faster.
    expect(await cast.offline("bob")).toBe(0);
    await cast.run("bob", ["config", "set", "download", "100MB/s"]);
    const env2 = { XSHARE_CLOCK_OFFSET_MS: String(Date.parse(`${tomorrow}T02:00:05Z`) - Date.now()) };
    const bob2 = await cast.online("bob", undefined, env2);
    await cast.eventually("Bob has the video", hasContent(path.join(folder.bob, "holiday.mov"), movie), 60_000);
    await cast.eventually("Bob's daemon reports the sync that received it", () => syncLines(bob2.output(), space).some((l) => l.received === 1), 20_000);
    // Over both runs: the video's size, plus at most the batch in flight when it paused.
    const total = bytesDown(first) + bytesDown(bob2.output());
    expect(total).toBeGreaterThanOrEqual(SIZE);
    expect(total).toBeLessThanOrEqual(SIZE + BATCH_BYTES);
    expect(bytesDown(bob2.output())).toBe(SIZE - done);
    expect((await readdir(folder.bob)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
    const after = await xshare(cast.home("bob"), ["status", "--json"], { env: env2 });
    expect((JSON.parse(after.stdout) as Array<{ id: string; paused: unknown[] }>).find((r) => r.id === space)!.paused).toEqual([]);
  }, 180_000);

  it("a document saved while Bob's client receives a low-priority video pre-empts it: the document arrives first, then the video resumes, no byte fetched twice", async () => {
    const bob = cast.daemon("bob")!;
    await cast.run("bob", ["config", "set", "download", "2MB/s"]);
    await bob.waitFor(/schedule: .*schedule\.json read again/);
    const mark = bob.output().length;
    const video = randomBytes(SIZE);
    await writeFile(path.join(folder.adam, "second.mov"), video);
    // Bob's client is receiving it (a partial is recorded once its temp file exists).
    await cast.eventually("Bob's client is receiving the video", async () => (await readdir(folder.bob)).some((n) => n.startsWith(TEMP_PREFIX)), 30_000);
    await writeFile(path.join(folder.adam, "agenda.docx"), "1. the budget\n");
    await cast.eventually("Bob has the document", hasContent(path.join(folder.bob, "agenda.docx"), "1. the budget\n"), 30_000);
    // It came while the video was still on its way, which paused for it.
    expect(await there(path.join(folder.bob, "second.mov")), "the video arrived before the document").toBe(false);
    const lines = () => syncLines(bob.output().slice(mark), space);
    expect(lines().some((l) => l.status === "incomplete" && l.line.includes("second.mov paused for higher-priority work (pre-empted by normal priority: "))).toBe(true);
    await cast.run("bob", ["config", "set", "download", "100MB/s"]);
    await cast.eventually("Bob has the video", hasContent(path.join(folder.bob, "second.mov"), video), 60_000);
    // The sync after the pause receives what is wanted (the document, if not yet) and the rest of the video.
    await cast.eventually("Bob's daemon reports the sync that received it", () => lines().some((l, i) => i > 0 && l.status === "in-sync" && l.received >= 1), 20_000);
    const total = bytesDown(bob.output().slice(mark));
    // The video and the document, plus at most the batch in flight when it paused.
    expect(total).toBeGreaterThanOrEqual(SIZE + 14);
    expect(total).toBeLessThanOrEqual(SIZE + 14 + BATCH_BYTES);
    expect((await readdir(folder.bob)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  }, 180_000);
});
