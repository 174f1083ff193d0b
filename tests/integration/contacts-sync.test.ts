/**
 * Contacts' characteristics in the sync engine, in process (real engine, real HTTP data path
 * and IQ bridge, the component's router: tests/integration/fixtures/sharing.ts, where nobody has a
 * sharing client online). With a schedule a sync asks `<contacts/>` once per space, whatever the
 * number of files and rounds, over HTTP like every other IQ, and Alice's uploads for Bob (offline)
 * are urgent; without a schedule it never asks; an older sharing manager's refusal leaves the
 * urgency at 0 and the sync as it was. The throughput the HTTP server saw comes back in the answer.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scheduleOf } from "../../client/engine/schedule.ts";
import { inspectSpace, syncSpace, type SyncContext } from "../../client/engine/sync.ts";
import { parsePolicy } from "../../client/schedule/policy.ts";
import { ShareError } from "../../protocol/errors.ts";
import type { ReplicaId } from "../../protocol/ids.ts";
import { alicePairsWithBob, startSharing, type Sharing } from "./fixtures/sharing.ts";

let world: Sharing;
beforeEach(async () => {
  world = await startSharing();
});
afterEach(async () => {
  await world.stop();
});

type Device = ReturnType<Sharing["device"]>;
const schedule = () => scheduleOf(parsePolicy({ timezone: "UTC" }), world.now)!;
const ctx = (d: Device, space: string, withSchedule: boolean, replica: string): SyncContext => ({
  state: d.state, remote: d.remote, fs: d.fs, space: d.state.space(space as never)!, replica: replica as ReplicaId, me: d.member, now: world.now,
  ...(withSchedule ? { schedule: schedule() } : {}),
});
/** Bytes that do not repeat, so that every chunk moves. */
const noise = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 2654435761) >>> 24));

describe("contacts in a scheduled sync", () => {
  it("asks once per sync, makes uploads for an offline member urgent, and sends them", async () => {
    const { a, b, space, afs } = await alicePairsWithBob(world);
    for (const f of ["one.txt", "two.txt", "three.txt"]) await afs.writeFile(f, `${f}\n`);
    const st = await inspectSpace(ctx(a, space.id, true, "laptop"));
    expect(st.contacts?.map((m) => [m.jid, m.online])).toEqual([["alice@example.org", false], ["bob@example.org", false]]);
    expect(st.queue?.map((q) => [q.path, q.urgency])).toEqual([["one.txt", 0.5], ["two.txt", 0.5], ["three.txt", 0.5]]);
    expect(st.queue?.[0]?.reason).toBe("normal priority; urgency 0.50: bob@example.org is offline now (will fetch it from the sharing manager)");
    const before = a.remote.stats.iqs.contacts ?? 0;
    const report = await syncSpace(ctx(a, space.id, true, "laptop"));
    expect(report).toMatchObject({ status: "in-sync", pushed: 3 });
    expect((a.remote.stats.iqs.contacts ?? 0) - before).toBe(1);
    // Bob's plain sync (no schedule) never asks.
    await b.sync(space.id);
    expect(b.remote.stats.iqs.contacts).toBeUndefined();
  });

  it("with an older sharing manager urgency stays 0 and the sync goes on; a transport failure is not hidden", async () => {
    const { a, space, afs } = await alicePairsWithBob(world);
    await afs.writeFile("doc.txt", "hello\n");
    // An older sharing manager: its router knows no <contacts/> (feature-not-implemented), or cannot answer.
    for (const code of ["not-implemented", "unavailable"] as const) {
      a.remote.contacts = async () => {
        throw new ShareError(code);
      };
      const st = await inspectSpace(ctx(a, space.id, true, "laptop"));
      expect(st.contacts).toBeUndefined();
      expect(st.queue).toEqual([expect.objectContaining({ path: "doc.txt", reason: "normal priority" })]);
      expect(st.queue?.[0]?.urgency).toBeUndefined();
    }
    expect(await syncSpace(ctx(a, space.id, true, "laptop"))).toMatchObject({ status: "in-sync", pushed: 1 });
    // A transport failure is not hidden: the sync fails as any request's failure makes it.
    a.remote.contacts = async () => {
      throw new Error("socket hang up");
    };
    await expect(inspectSpace(ctx(a, space.id, true, "laptop"))).rejects.toThrow("socket hang up");
  });

  it("reports the throughput the HTTP server saw for batch uploads and downloads", async () => {
    const { a, b, space, afs } = await alicePairsWithBob(world);
    await afs.writeFile("big.bin", noise(600_000));
    await a.sync(space.id);
    await b.sync(space.id);
    const told = await a.remote.contacts(space.id);
    const alice = told.members.find((m) => m.jid === "alice@example.org");
    const bob = told.members.find((m) => m.jid === "bob@example.org");
    expect(alice?.upBps).toBeGreaterThan(0);
    expect(alice?.downBps).toBeUndefined();
    expect(bob?.downBps).toBeGreaterThan(0);
    expect(bob?.upBps).toBeUndefined();
  });
});
