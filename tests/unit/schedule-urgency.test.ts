/**
 * Contacts' characteristics as urgency (client/schedule/urgency.ts), pure, with fake answers and
 * a given clock: which terms apply, the cap, the reason; then through transfersOf and the plan:
 * a space's uploads get the up urgency and its downloads the down one, the reason ends with why,
 * and urgency orders within a priority only.
 */
import { describe, expect, it } from "vitest";
import { scheduleRound, transfersOf } from "../../client/engine/schedule.ts";
import { parsePolicy } from "../../client/schedule/policy.ts";
import { plan } from "../../client/schedule/queue.ts";
import { NO_URGENCY, SHORT_SESSION_S, urgencyOf } from "../../client/schedule/urgency.ts";
import type { BareJid } from "../../protocol/ids.ts";
import type { Contact, Contacts } from "../../protocol/stanzas/contacts.ts";
import { me, bob, carol, at, answer, send, pull, none } from "./fixtures/schedule.ts";

const alice = (o: Partial<Contact> = {}): Contact => ({ jid: me as BareJid, online: true, hours: 100, ...o });

describe("the urgency rule", () => {
  it("is 0 without an answer, or when everyone is online and nothing is known of this account", () => {
    expect(urgencyOf(undefined, me, at(9))).toEqual(NO_URGENCY);
    expect(urgencyOf(answer(alice(), { jid: bob, online: true, hours: 3 }), me, at(9))).toEqual(NO_URGENCY);
    // Alone in a space: nobody to upload for.
    expect(urgencyOf(answer(alice()), me, at(9))).toEqual(NO_URGENCY);
  });

  it("raises uploads when another member is offline now, more when their sessions are short", () => {
    const u = urgencyOf(answer(alice(), { jid: bob, online: false, hours: 1, sessionS: 240 }, { jid: carol, online: true, hours: 5 }), me, at(9));
    expect(u.down).toEqual({ urgency: 0 });
    expect(u.up).toEqual({ urgency: 0.7, reason: "urgency 0.70: bob@example.org is offline now (will fetch it from the sharing manager); bob@example.org stays ~4 min when online" });
    const long = urgencyOf(answer(alice(), { jid: bob, online: false, hours: 1, sessionS: SHORT_SESSION_S }), me, at(9));
    expect(long.up.urgency).toBe(0.5);
  });

  it("raises both directions when this account's sessions are short or it is outside its usual hours; capped at 1", () => {
    const short = urgencyOf(answer(alice({ sessionS: 45, usual: [9, 10] }), { jid: bob, online: true, hours: 0 }), me, at(9));
    expect(short.down).toEqual({ urgency: 0.3, reason: "urgency 0.30: this account's sessions are short (~45 s): it may go offline soon" });
    expect(short.up.urgency).toBe(0.3);
    // 23:30 UTC is not among its usual hours.
    const late = urgencyOf(answer(alice({ sessionS: 45, usual: [9, 10] }), { jid: bob, online: false, hours: 0, sessionS: 10 }), me, at(23));
    expect(late.down).toEqual({ urgency: 0.5, reason: "urgency 0.50: this account's sessions are short (~45 s): it may go offline soon; this account is not usually online at 23:00 UTC" });
    expect(late.up.urgency).toBe(1);
    expect(late.up.reason).toMatch(/^urgency 1\.00: bob@example\.org is offline now/);
    // Unknown usual hours say nothing.
    expect(urgencyOf(answer(alice({ usual: [] })), me, at(23))).toEqual(NO_URGENCY);
  });
});


describe("urgency in the plan", () => {
  const u = urgencyOf(answer(alice(), { jid: bob, online: false, hours: 2 }), me, at(9));
  const policy = parsePolicy({ timezone: "UTC", rules: [{ match: "*.mov", priority: "low" }] });

  it("uploads carry the up urgency and its reason, downloads the down one", () => {
    const up = send("a.txt", 10);
    const down = pull("b.txt", 20);
    const t = transfersOf("s", [up, down], none, none, u);
    expect(t.get(up)).toEqual({ space: "s", path: "a.txt", direction: "up", size: 10, urgency: 0.5, urgencyReason: u.up.reason });
    expect(t.get(down)).toEqual({ space: "s", path: "b.txt", direction: "down", size: 20, urgency: 0 });
  });

  it("orders within a priority (an urgent larger upload before a smaller download), never across priorities; the reason says why", () => {
    const round = scheduleRound("s", [pull("small.txt", 5), send("report.txt", 500), send("movie.mov", 50)], none, none, policy, new Date(at(9)), u);
    expect(round.queue.map((q) => [q.path, q.urgency ?? 0, q.reason])).toEqual([
      ["report.txt", 0.5, `normal priority; ${u.up.reason}`],
      ["small.txt", 0, "normal priority"],
      ["movie.mov", 0.5, `low priority (*.mov); ${u.up.reason}`],
    ]);
    // Without contacts: as before, small before large.
    expect(scheduleRound("s", [pull("small.txt", 5), send("report.txt", 500)], none, none, policy, new Date(at(9))).queue.map((q) => q.path)).toEqual(["small.txt", "report.txt"]);
    // plan refuses an urgency outside [0, 1], as before.
    expect(() => plan([{ space: "s", path: "x", direction: "up", size: 1, urgency: 1.5 }], policy, new Date(at(9)))).toThrow(/urgency must be from 0 to 1/);
  });
});
