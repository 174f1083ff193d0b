/**
 * Issue 9's throughput with real processes (Prosody, the sharing manager, `xshare` for Alice and
 * Bob): the rate the sharing manager records of a member's transfers is used by that member's
 * scheduler. Alice's daemon uploads a file of 2 MB (the sharing manager measures its batches) and
 * goes offline (it records her session). Her next plan, `xshare schedule`, then says of each
 * upload how long it needs at her rate and whether that fits in one of her sessions
 * (client/schedule/throughput.ts); what the figures are depends on this machine, the form does not.
 */
import { randomBytes } from "node:crypto";
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
  await cast.run("alice", ["config", "set", "timezone", "UTC"]);
}, 120_000);

afterAll(async () => {
  await cast?.close();
});

interface Plan {
  spaces: Array<{ id: string; queue: Array<{ path: string; direction: string; urgency?: number; reason: string }>; contacts?: Array<{ jid: string; sessionS?: number; upBps?: number }> }>;
}

describe("the throughput the sharing manager records is used by the member's scheduler", () => {
  it("after Alice's client has uploaded and gone, her plan says how long each upload needs at her rate and whether it fits in her sessions", async () => {
    const alice = cast.jid("alice");
    await cast.online("alice");
    await writeFile(path.join(folder, "first.bin"), randomBytes(2_000_000));
    await cast.daemon("alice")!.waitFor(new RegExp(`${space}: in-sync.*1 sent`), 30_000);
    // A session of a few seconds (the manager keeps whole seconds; one under a second says nothing).
    await new Promise((r) => setTimeout(r, 3000));
    await cast.offline("alice");
    const ask = async () => (JSON.parse(await cast.run("alice", ["schedule", "--json"])) as Plan).spaces.find((x) => x.id === space)!;
    await cast.eventually("the sharing manager tells Alice her own session and upload rate", async () => {
      const me = (await ask()).contacts?.find((m) => m.jid === alice);
      return (me?.sessionS ?? 0) > 0 && (me?.upBps ?? 0) > 0;
    }, 20_000);

    await writeFile(path.join(folder, "report.txt"), "for Bob\n");
    const sp = await ask();
    const me = sp.contacts!.find((m) => m.jid === alice)!;
    const q = sp.queue.find((x) => x.path === "report.txt")!;
    expect(q.direction).toBe("up");
    // 8 bytes at any rate the manager measured fit in any session it recorded: +0.2, and why.
    expect(q.reason).toMatch(/; ~1 s at [0-9.]+ [kMG]?i?B\/s, within this account's ~[0-9]+ (s|min|h) sessions$/);
    expect(q.urgency).toBeGreaterThanOrEqual(0.2);
    expect(me.upBps).toBeGreaterThan(0);
    const text = await cast.run("alice", ["schedule"]);
    expect(text).toContain("send report.txt (8 B): now, normal priority; urgency ");
    expect(text).toMatch(/within this account's ~[0-9]+ (s|min|h) sessions\n/);
  }, 120_000);
});
