/**
 * Issue 9 with real processes (Prosody, the sharing manager, `xshare run` for Alice and Bob):
 * "outside a window, changes are still indexed and announced (presence, SNM), only the bulk
 * transfer waits" (XEP-draft.md § 5.16, pending versions).
 *
 * Alice's device sends videos only from 02:00 to 05:59 UTC. She edits cut.mov (which both
 * have) and drops holiday.mov. Her client commits both pending at once: Bob's `xshare status`
 * and `xshare schedule` say they wait for Alice's upload. Bob edits cut.mov too, concurrently:
 * his edit waits as well. When 02:00 comes on Alice's clock her client uploads by itself; Bob
 * gets holiday.mov, and cut.mov ends with both copies on both devices.
 *
 * The clock is the test's: Alice's daemon runs with XSHARE_CLOCK_OFFSET_MS (client/clock.ts)
 * so that on its clock 02:00 comes LEAD_MS after it starts, by its own wake-up timer.
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";
import { xshare } from "../harness/cli.ts";

/** Real time between Alice's daemon starting and 02:00 on her clock: the steps before it need a few seconds. */
const LEAD_MS = 40_000;

let cast: Cast;
let space = "";
const folder = { alice: "", bob: "" };
let offset = 0;
let opensAt = 0;
const aliceEnv = () => ({ XSHARE_CLOCK_OFFSET_MS: String(offset) });
const aliceNow = () => Date.now() + offset;
const names = async (dir: string) => (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();

beforeAll(async () => {
  cast = await startCast(["alice", "bob"]);
  ({ space, owner: folder.alice, other: folder.bob } = await cast.pair("alice", "bob", "Trip"));
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

describe("a change held by its window is announced at once; only its content waits", () => {
  it("Bob's status says the videos wait for Alice's upload; his concurrent edit waits too; at 02:00 on Alice's clock both arrive and the edit ends with both copies", async () => {
    // cut.mov on both devices before Alice's window rule exists.
    const first = randomBytes(1_000_000);
    await writeFile(path.join(folder.alice, "cut.mov"), first);
    await cast.online("alice");
    await cast.online("bob");
    await cast.eventually("Bob has the first cut", hasContent(path.join(folder.bob, "cut.mov"), first), 30_000);
    await cast.offline("alice");

    await cast.run("alice", ["config", "rule", "*.mov", "--priority", "low", "--window", "* 2-5 * * *"]);
    await cast.run("alice", ["config", "set", "timezone", "UTC"]);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    opensAt = Date.parse(`${tomorrow}T02:00:00Z`);
    offset = opensAt - (Date.now() + LEAD_MS);
    await cast.online("alice", ["--keepalive", "3600"], aliceEnv());

    const alicesCut = randomBytes(1_500_000);
    const holiday = randomBytes(3_000_000);
    await writeFile(path.join(folder.alice, "cut.mov"), alicesCut);
    await writeFile(path.join(folder.alice, "holiday.mov"), holiday);
    const alice = cast.daemon("alice")!;
    await alice.waitFor(new RegExp(`${space}: 2 transfer\\(s\\) waiting; next at ${new Date(opensAt).toISOString().replace(/[.]/g, "\\.")}`), 20_000);

    // Bob learns of both at once; nothing of their content is there.
    const waitsFor = `waits for ${cast.jid("alice")}'s upload`;
    await cast.eventually("Bob's status says holiday.mov waits for Alice's upload", async () =>
      (await xshare(cast.home("bob"), ["status"])).stdout.includes(`  waits: receive holiday.mov (3 MB): normal priority, held (${waitsFor})`), 20_000);
    const plan = await xshare(cast.home("bob"), ["schedule"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`receive holiday.mov (3 MB): normal priority, held (${waitsFor})`);
    expect(plan.stdout).toContain(`receive cut.mov (1.5 MB): normal priority, held (${waitsFor})`);
    await expect(readFile(path.join(folder.bob, "holiday.mov"))).rejects.toThrow();
    expect((await readFile(path.join(folder.bob, "cut.mov"))).equals(first)).toBe(true);
    // Alice's own status: announced, its content at 02:00.
    const mine = (await xshare(cast.home("alice"), ["status"], { env: aliceEnv() })).stdout;
    // (An urgency from the members' characteristics may stand between the two.)
    expect(mine).toMatch(/\n {2}waits: send holiday\.mov \(3 MB\): low priority, waits for its window \* 2-5 \* \* \* until 02:00(;[^\n]*)?; announced to the members, its content goes then\n/);

    // Bob edits cut.mov concurrently: the conflict needs Alice's content, so his edit waits too.
    const bobsCut = randomBytes(1_200_000);
    await writeFile(path.join(folder.bob, "cut.mov"), bobsCut);
    await cast.eventually("Bob's status says his edit of cut.mov waits for Alice's version", async () =>
      (await xshare(cast.home("bob"), ["status"])).stdout.includes(`  waits: receive cut.mov (1.5 MB): normal priority, held (conflicts with ${cast.jid("alice")}'s version, which waits for their upload (both are kept once it is there))`), 20_000);
    expect(aliceNow(), "the checks above took longer than LEAD_MS").toBeLessThan(opensAt);
    await expect(readFile(path.join(folder.bob, "holiday.mov"))).rejects.toThrow();

    // 02:00 on Alice's clock: her client uploads by itself; Bob's client is told and fetches.
    await cast.eventually("Bob has holiday.mov after Alice's window opens", hasContent(path.join(folder.bob, "holiday.mov"), holiday), LEAD_MS + 40_000);
    expect(aliceNow()).toBeGreaterThanOrEqual(opensAt);
    const both = [alicesCut, bobsCut].sort(Buffer.compare);
    const cuts = async (dir: string) => {
      const ns = (await names(dir)).filter((n) => n.startsWith("cut"));
      return Promise.all(ns.map((n) => readFile(path.join(dir, n)))).then((bs) => bs.sort(Buffer.compare));
    };
    await cast.eventually("Bob has both cuts", async () => JSON.stringify(await cuts(folder.bob)) === JSON.stringify(both), 30_000);
    await cast.eventually("Alice has both cuts", async () => JSON.stringify(await cuts(folder.alice)) === JSON.stringify(both), 30_000);
    expect(await names(folder.alice)).toEqual(await names(folder.bob));
    expect((await names(folder.bob)).filter((n) => n.includes(".sync-conflict-"))).toHaveLength(1);
    expect((await xshare(cast.home("bob"), ["status"])).stdout).not.toContain("waits:");
  }, 180_000);
});
