/**
 * Issue 9's contacts' characteristics with real processes (Prosody, the sharing manager,
 * `xshare` for Alice and Bob): the patent's FIG. 8 "scheduled based on the characteristics of
 * the contacts". Bob's daemon comes online and goes offline again; the sharing manager records it
 * (its presence history, persisted in its database). Alice, with a schedule, asks for the plan:
 * `xshare schedule` tells her Bob is offline, last seen a moment ago, after a short session, and
 * her upload for their space gets a non-zero urgency with the reason. Her sync with the schedule
 * then sends it. What the sharing manager recorded is still there after it restarts.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, startCast } from "../harness/cast.ts";

let cast: Cast;
let space = "";
let folder = "";

beforeAll(async () => {
  cast = await startCast(["alice", "bob"]);
  ({ space, owner: folder } = await cast.pair("alice", "bob", "Trip"));
  // Alice's device has a schedule (schedule.json): syncs plan their transfers.
  await cast.run("alice", ["config", "set", "timezone", "UTC"]);
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

interface Plan {
  spaces: Array<{ id: string; queue: Array<{ path: string; direction: string; timing: string; urgency?: number; reason: string }>; contacts?: Array<{ jid: string; online: boolean; hours: number; sessionS?: number; lastSeen?: string }> }>;
}

describe("an upload for a member who is offline now is urgent (FIG. 8, contacts' characteristics)", () => {
  it("Bob was online and went; Alice's plan says so and ranks her upload for him urgent", async () => {
    const bob = cast.jid("bob");
    /** The hours the sharing manager recorded Bob online in: set bits of his per-day rows. */
    const hours = () =>
      cast.componentDb((db) => (db.prepare("SELECT bits FROM presence_days WHERE member = ?").pluck().all(bob) as number[]).reduce((n, bits) => n + bits.toString(2).replace(/0/g, "").length, 0));
    const summary = () => cast.componentDb((db) => db.prepare("SELECT last_seen, session_ms FROM presence_summary WHERE member = ?").get(bob) as { last_seen: number; session_ms: number } | undefined);
    expect(hours()).toBe(0);
    const wentOnline = Date.now();
    await cast.online("bob");
    await cast.eventually("the sharing manager records Bob's hour online", () => hours() >= 1, 20_000);
    await cast.offline("bob");
    await cast.eventually("the sharing manager records Bob's session when he goes", () => summary() !== undefined, 20_000);
    const s = summary()!;
    // One hour, or two if his session crossed the hour.
    const recorded = hours();
    expect([1, 2]).toContain(recorded);
    expect(s.last_seen).toBeGreaterThanOrEqual(wentOnline);
    expect(s.session_ms).toBeLessThan(Date.now() - wentOnline + 1000);

    await writeFile(path.join(folder, "report.txt"), "for Bob, who is not here\n");
    const plan = JSON.parse(await cast.run("alice", ["schedule", "--json"])) as Plan;
    const sp = plan.spaces.find((x) => x.id === space)!;
    // Alice's client is told Bob is offline, with his history.
    const told = sp.contacts?.find((m) => m.jid === bob);
    expect(told).toMatchObject({ online: false, hours: recorded });
    expect(told?.sessionS).toBeLessThan(30 * 60);
    expect(Date.parse(told!.lastSeen!)).toBeGreaterThanOrEqual(Math.floor(s.last_seen / 1000) * 1000 - 1);
    // Her upload is urgent, and the plan says why.
    expect(sp.queue).toEqual([expect.objectContaining({ path: "report.txt", direction: "up", timing: "now", urgency: 0.7 })]);
    expect(sp.queue[0]!.reason).toBe(`normal priority; urgency 0.70: ${bob} is offline now (will fetch it from the sharing manager); ${bob} stays ~${told!.sessionS} s when online`);
    const text = await cast.run("alice", ["schedule"]);
    expect(text).toContain(`  1. send report.txt (25 B): now, normal priority; urgency 0.70: ${bob} is offline now`);
    expect(text).toMatch(new RegExp(`  member ${bob.replace(/\./g, "\\.")}: offline, last seen \\S+, online in ${recorded} h of the last 28 days, sessions ~\\d+ s`));

    // The sync with the schedule asks once and sends it.
    const out = await cast.run("alice", ["sync"]);
    expect(out).toMatch(new RegExp(`${space}: in-sync.*1 sent`));
  }, 120_000);

  it("Bob's history survives a restart of the sharing manager (it is in its database)", async () => {
    const bob = cast.jid("bob");
    const ask = async () => (JSON.parse(await cast.run("alice", ["schedule", "--json"])) as Plan).spaces.find((x) => x.id === space)!.contacts!.find((m) => m.jid === bob)!;
    const before = await ask();
    expect(before.hours).toBeGreaterThanOrEqual(1);
    await cast.component.stop();
    await cast.component.start();
    expect(await ask()).toEqual(before);
  }, 120_000);
});
