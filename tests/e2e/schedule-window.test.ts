/**
 * Issue 9 with real processes (Prosody, the sharing manager, `xshare run` for Adam and Bob): the
 * patent's FIG. 8 "scheduled based on the characteristics of the data items". Bob's device says,
 * through `xshare config`, that videos are low priority and travel only from 02:00 to 05:59 UTC.
 * Adam drops a document and a video into their pair folder. Bob's client receives the document
 * at once; the video waits (`xshare status` and `xshare schedule` say why and until when), and
 * Bob's client fetches it by itself when the window opens.
 *
 * The clock is the test's: Bob's processes run with XSHARE_CLOCK_OFFSET_MS (client/clock.ts) so
 * that on their clock 02:00 comes LEAD_MS after the daemons start, and the window opens while
 * the daemon runs, by its own wake-up timer, without waiting for a real 02:00 or a real minute.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, hasContent, startCast, syncLines } from "../harness/cast.ts";
import { xshare } from "../harness/cli.ts";

/** Real time between the offset being fixed and 02:00 on Bob's clock: the steps before it need a few seconds. */
const LEAD_MS = 30_000;

let cast: Cast;
let space = "";
const folder = { adam: "", bob: "" };
let offset = 0;
let opensAt = 0;
const env = () => ({ XSHARE_CLOCK_OFFSET_MS: String(offset) });
/** Bob's clock, as his processes read it. */
const bobNow = () => Date.now() + offset;

beforeAll(async () => {
  cast = await startCast(["adam", "bob"]);
  ({ space, owner: folder.adam, other: folder.bob } = await cast.pair("adam", "bob", "Trip"));
  await cast.run("bob", ["config", "rule", "*.mov", "--priority", "low", "--window", "* 2-5 * * *"]);
  await cast.run("bob", ["config", "set", "timezone", "UTC"]);
  // Tomorrow 02:00 UTC on Bob's clock, LEAD_MS from now.
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  opensAt = Date.parse(`${tomorrow}T02:00:00Z`);
  offset = opensAt - (Date.now() + LEAD_MS);
  await cast.online("adam");
  // A keepalive of an hour: within these tests only SIGHUP (sent by `xshare config`) or the
  // daemon's own wake-up timers can make it read schedule.json again, not its periodic refresh.
  await cast.online("bob", ["--keepalive", "3600"], env());
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

describe("a low-priority video waits for its window while a document syncs at once", () => {
  it("Bob receives the document now, the video when 02:00 comes on his clock", async () => {
    // Bytes that do not repeat: every one of the 2 MB is to move.
    const movie = randomBytes(2_000_000);
    await writeFile(path.join(folder.adam, "agenda.docx"), "1. the budget\n");
    await writeFile(path.join(folder.adam, "holiday.mov"), movie);
    await cast.eventually("Bob has the document", hasContent(path.join(folder.bob, "agenda.docx"), "1. the budget\n"), 20_000);
    const bob = cast.daemon("bob")!;
    await bob.waitFor(new RegExp(`${space}: 1 transfer\\(s\\) waiting; next at ${new Date(opensAt).toISOString().replace(/[.]/g, "\\.")}`), 10_000);
    await expect(readFile(path.join(folder.bob, "holiday.mov"))).rejects.toThrow();

    // What waits and until when, on Bob's clock.
    const status = await xshare(cast.home("bob"), ["status"], { env: env() });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("  waits: receive holiday.mov (2 MB): low priority, waits for its window * 2-5 * * * until 02:00");
    const plan = await xshare(cast.home("bob"), ["schedule", "--json"], { env: env() });
    expect(plan.code).toBe(0);
    const queue = (JSON.parse(plan.stdout) as { spaces: Array<{ id: string; queue: Array<{ path: string; timing: string; at?: string; priority: string }> }> }).spaces.find((s) => s.id === space)!.queue;
    expect(queue).toEqual([expect.objectContaining({ path: "holiday.mov", timing: "later", priority: "low", at: new Date(opensAt).toISOString() })]);
    const text = await xshare(cast.home("bob"), ["schedule"], { env: env() });
    expect(text.stdout).toContain("  1. receive holiday.mov (2 MB): low priority, waits for its window * 2-5 * * * until 02:00");
    const bad = await xshare(cast.home("bob"), ["schedule", "--space", "no-such-space"], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("xshare: space no-such-space is not set up on this device (see `xshare spaces`)\n");
    // All of that happened before the window opened (else this machine was too slow for LEAD_MS).
    expect(bobNow(), "the checks above took longer than LEAD_MS").toBeLessThan(opensAt);
    await expect(readFile(path.join(folder.bob, "holiday.mov"))).rejects.toThrow();

    // 02:00 on Bob's clock: his client wakes by itself and fetches the video.
    const mark = bob.output().length;
    await cast.eventually("Bob has the video after the window opens", hasContent(path.join(folder.bob, "holiday.mov"), movie), LEAD_MS + 30_000);
    expect(bobNow()).toBeGreaterThanOrEqual(opensAt);
    // The file is in place before the sync that wrote it says so: wait for its line.
    await cast.eventually("Bob's daemon reports the sync that received it", async () => syncLines(bob.output().slice(mark), space).some((l) => l.received === 1), 20_000);
    expect(bob.output().slice(mark)).toContain(`${space}: a transfer window opens`);
    expect((await xshare(cast.home("bob"), ["status"], { env: env() })).stdout).not.toContain("waits:");
  }, 120_000);

  it("on a metered connection the large file is held, not by time; turning metered off (xshare config, which tells the running daemon) lets it go", async () => {
    await cast.run("bob", ["config", "set", "metered-max", "100kB"]);
    await cast.run("bob", ["config", "set", "metered", "on"]);
    const bob = cast.daemon("bob")!;
    await bob.waitFor(/schedule: .*schedule\.json read again/);
    const big = randomBytes(300_000);
    await writeFile(path.join(folder.adam, "small.txt"), "small\n");
    await writeFile(path.join(folder.adam, "big.bin"), big);
    await cast.eventually("Bob has the small file", hasContent(path.join(folder.bob, "small.txt"), "small\n"), 20_000);
    await cast.eventually("Bob's status says the big one is held", async () =>
      (await xshare(cast.home("bob"), ["status"], { env: env() })).stdout.includes("  waits: receive big.bin (300 kB): normal priority, held (metered: larger than 100 kB"), 20_000);
    await expect(readFile(path.join(folder.bob, "big.bin"))).rejects.toThrow();
    const mark = bob.output().length;
    await cast.run("bob", ["config", "set", "metered", "off"]);
    await cast.eventually("Bob has the big file once off the metered connection", hasContent(path.join(folder.bob, "big.bin"), big), 20_000);
    await cast.eventually("Bob's daemon reports the sync that received it", async () => syncLines(bob.output().slice(mark), space).some((l) => l.received === 1), 20_000);
  }, 120_000);
});
