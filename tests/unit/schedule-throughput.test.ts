/**
 * Throughput used by the scheduler (client/schedule/throughput.ts), pure, with fake
 * `<contacts/>` answers and a given clock: whether a transfer can finish within this account's
 * typical session at the rate the sharing manager recorded, the urgency it adds and the reason;
 * then through engine/contacts.ts's answer and the plan: transfers that can finish before the
 * device goes offline go before those that cannot, within one priority only.
 */
import { describe, expect, it } from "vitest";
import { spaceContacts } from "../../client/engine/contacts.ts";
import { scheduleRound } from "../../client/engine/schedule.ts";
import { parsePolicy } from "../../client/schedule/policy.ts";
import { budgetOf, fitTerm, FIT_URGENCY, withFit } from "../../client/schedule/throughput.ts";
import { NO_URGENCY, urgencyOf } from "../../client/schedule/urgency.ts";
import type { BareJid } from "../../protocol/ids.ts";
import type { Contact } from "../../protocol/stanzas/contacts.ts";
import { me, bob, at, answer, send, pull, none } from "./fixtures/schedule.ts";

/** Alice: sessions of 10 minutes, uploads at 10 kB/s (a slow uplink), downloads at 1 MB/s. */
const alice = (o: Partial<Contact> = {}): Contact => ({ jid: me as BareJid, online: true, hours: 100, sessionS: 600, upBps: 10_000, downBps: 1_000_000, ...o });

describe("the fit rule", () => {
  it("knows nothing without an answer, a session or a rate", () => {
    expect(budgetOf(undefined, me)).toBeUndefined();
    expect(budgetOf(answer(alice({ sessionS: undefined })), me)).toBeUndefined();
    expect(budgetOf(answer(alice({ upBps: undefined, downBps: undefined })), me)).toBeUndefined();
    expect(budgetOf(answer({ jid: bob, online: true, hours: 1, sessionS: 60, upBps: 5 }), me)).toBeUndefined();
    expect(fitTerm(undefined, "up", 1000)).toBeUndefined();
    // A rate known in one direction only says nothing of the other.
    expect(fitTerm(budgetOf(answer(alice({ downBps: undefined })), me), "down", 1000)).toBeUndefined();
  });

  it("a transfer that fits the session at its direction's rate gets FIT_URGENCY; one that does not gets 0 and says why", () => {
    const b = budgetOf(answer(alice()), me);
    expect(b).toEqual({ sessionS: 600, upBps: 10_000, downBps: 1_000_000 });
    // 5 MB down at 1 MB/s: 5 s of a 10 min session.
    expect(fitTerm(b, "down", 5_000_000)).toEqual([FIT_URGENCY, "~5 s at 1 MB/s, within this account's ~10 min sessions"]);
    // The same 5 MB up at 10 kB/s: 500 s, still within 600 s.
    expect(fitTerm(b, "up", 5_000_000)).toEqual([FIT_URGENCY, "~8 min at 10 kB/s, within this account's ~10 min sessions"]);
    // 6,000,001 bytes up: just over the session.
    expect(fitTerm(b, "up", 6_000_001)).toEqual([0, "needs ~10 min at 10 kB/s, longer than this account's ~10 min sessions: it may not finish before this device goes offline (it resumes next time)"]);
    expect(fitTerm(b, "up", 60_000_000)?.[1]).toMatch(/^needs ~2 h at 10 kB\/s/);
  });

  it("adds to the space's urgency for the direction, capped at 1, the reasons joined", () => {
    const b = budgetOf(answer(alice()), me);
    expect(withFit({ urgency: 0 }, b, "down", 1_000_000)).toEqual({ urgency: 0.2, reason: "urgency 0.20: ~1 s at 1 MB/s, within this account's ~10 min sessions" });
    expect(withFit({ urgency: 0.5, reason: "urgency 0.50: bob@example.org is offline now (will fetch it from the sharing manager)" }, b, "up", 1000)).toEqual({
      urgency: 0.7,
      reason: "urgency 0.70: bob@example.org is offline now (will fetch it from the sharing manager); ~1 s at 10 kB/s, within this account's ~10 min sessions",
    });
    expect(withFit({ urgency: 0.9, reason: "urgency 0.90: x" }, b, "up", 1000).urgency).toBe(1);
    // Not fitting: the urgency stays, the reason says why.
    expect(withFit({ urgency: 0 }, b, "up", 60_000_000)).toMatchObject({ urgency: 0, reason: expect.stringMatching(/^urgency 0\.00: needs ~2 h at 10 kB\/s/) });
    expect(withFit({ urgency: 0.3, reason: "urgency 0.30: y" }, undefined, "up", 1)).toEqual({ urgency: 0.3, reason: "urgency 0.30: y" });
  });
});


describe("throughput in the plan", () => {
  const policy = parsePolicy({ timezone: "UTC", rules: [{ match: "*.mov", priority: "low" }] });

  it("what can finish before this device goes offline goes first: a 20 MB download before an 8 MB upload that needs longer than a session", async () => {
    const contacts = answer(alice(), { jid: bob, online: true, hours: 5 });
    // As the sync gets it: engine/contacts.ts asks the sharing manager once (a fake remote here).
    const got = await spaceContacts({ remote: { contacts: async () => contacts } as never, space: { id: "s" } as never, me, now: () => at(9) });
    expect(got.urgency).toEqual({ ...urgencyOf(contacts, me, at(9)), budget: { sessionS: 600, upBps: 10_000, downBps: 1_000_000 } });
    const actions = [send("slides.pptx", 8_000_000), pull("recording.wav", 20_000_000), send("clip.mov", 100)];
    const round = scheduleRound("s", actions, none, none, policy, new Date(at(9)), got.urgency);
    // Every transfer gets +0.3 for the short sessions (urgency.ts); those that fit, +0.2 more.
    const short = "this account's sessions are short (~10 min): it may go offline soon";
    expect(round.queue.map((q) => [q.path, q.urgency ?? 0, q.reason])).toEqual([
      ["recording.wav", 0.5, `normal priority; urgency 0.50: ${short}; ~20 s at 1 MB/s, within this account's ~10 min sessions`],
      ["slides.pptx", 0.3, `normal priority; urgency 0.30: ${short}; needs ~13 min at 10 kB/s, longer than this account's ~10 min sessions: it may not finish before this device goes offline (it resumes next time)`],
      // Fitting never lifts a transfer above a higher priority.
      ["clip.mov", 0.5, `low priority (*.mov); urgency 0.50: ${short}; ~1 s at 10 kB/s, within this account's ~10 min sessions`],
    ]);
    // Without what the sharing manager recorded: small before large, as before.
    const plain = scheduleRound("s", actions, none, none, policy, new Date(at(9)), NO_URGENCY);
    expect(plain.queue.map((q) => q.path)).toEqual(["slides.pptx", "recording.wav", "clip.mov"]);
  });
});
