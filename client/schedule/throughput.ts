/**
 * Throughput as urgency (pure): whether one transfer can finish while this account is online,
 * from what the sharing manager records of it (XEP-draft.md § 5.15: the bytes per second of its
 * recent batch uploads and downloads, `up` and `down`, and its typical session length), so that
 * within one priority the transfers that can finish before the device goes offline go first
 * (the patent's FIG. 8: connection speed and presence history; issue 9: "the sender's own
 * expected online time counts too").
 *
 * The rule, per transfer of `size` bytes in direction `up` (to the sharing manager) or `down`:
 * - the time it needs is size / rate, the rate being this account's `up` for an upload and
 *   `down` for a download;
 * - its budget is this account's typical session (`session`): how long it usually stays online,
 *   i.e. how long this device may expect to stay from the start of a session (a conservative
 *   bound later in a session: the sharing manager does not say when the current one began);
 * - it fits when the time is at most the budget: urgency +FIT_URGENCY, "~40 s at 1 MB/s, within
 *   this account's ~10 min sessions"; it does not fit: +0, and the reason says so ("needs ~25 min
 *   at 1 MB/s, longer than …: it may not finish before this device goes offline; it resumes
 *   next time"), so that `xshare schedule` explains why the others went first.
 * Unknown rate or session (no batch large enough seen yet, no session ended yet, an older
 * sharing manager): nothing is added and nothing is said. The term is added to the space's
 * urgency (urgency.ts) for that direction; the sum stays capped at 1.
 */
import type { Contacts } from "../../protocol/stanzas/contacts.ts";
import { formatRate } from "./units.ts";
import type { Urgent } from "./urgency.ts";

/** What a transfer that fits the expected time online gets. */
export const FIT_URGENCY = 0.2;

/** This account's rates to and from the sharing manager and its typical session, as known. */
export interface TimeBudget {
  readonly upBps?: number;
  readonly downBps?: number;
  readonly sessionS?: number;
}

/** The budget of `me` (a bare JID) in a `<contacts/>` answer; undefined when nothing useful is known. */
export function budgetOf(contacts: Contacts | undefined, me: string): TimeBudget | undefined {
  const self = contacts?.members.find((m) => m.jid === me);
  if (!self || self.sessionS === undefined || self.sessionS <= 0 || (!self.upBps && !self.downBps)) return undefined;
  return { sessionS: self.sessionS, ...(self.upBps ? { upBps: self.upBps } : {}), ...(self.downBps ? { downBps: self.downBps } : {}) };
}

/** "45 s", "12 min", "3 h" (rounded). */
export function duration(s: number): string {
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** The fit term of one transfer (see the header): its weight and why; undefined when unknown. */
export function fitTerm(budget: TimeBudget | undefined, direction: "up" | "down", size: number): readonly [number, string] | undefined {
  const rate = direction === "up" ? budget?.upBps : budget?.downBps;
  const session = budget?.sessionS;
  if (!rate || !session || size <= 0) return undefined;
  const needs = size / rate;
  if (needs <= session) return [FIT_URGENCY, `~${duration(needs)} at ${formatRate(rate)}, within this account's ~${duration(session)} sessions`];
  return [0, `needs ~${duration(needs)} at ${formatRate(rate)}, longer than this account's ~${duration(session)} sessions: it may not finish before this device goes offline (it resumes next time)`];
}

/** `base` (the space's urgency for that direction) with the transfer's fit term added. */
export function withFit(base: Urgent, budget: TimeBudget | undefined, direction: "up" | "down", size: number): Urgent {
  const fit = fitTerm(budget, direction, size);
  if (!fit) return base;
  const urgency = Math.min(1, Math.round((base.urgency + fit[0]) * 100) / 100);
  const before = base.reason ? base.reason.replace(/^urgency [0-9.]+: /, "") : undefined;
  return { urgency, reason: `urgency ${urgency.toFixed(2)}: ${before ? `${before}; ` : ""}${fit[1]}` };
}
