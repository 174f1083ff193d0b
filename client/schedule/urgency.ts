/**
 * Contacts' characteristics as urgency (pure): the rule that turns the sharing manager's
 * `<contacts/>` answer for a space (XEP-draft.md § 5.15) into the `urgency` of that space's
 * uploads and downloads, which orders transfers within one priority (queue.ts), with the reason
 * `xshare schedule` shows.
 *
 * The rule, each term added, the sum capped at 1:
 * - upload, +0.5: another member of the space has no sharing client online now: they will fetch
 *   the data from the sharing manager when they come, so it should be there before this device
 *   goes offline;
 * - upload, +0.2: such an offline member's sessions are short (typically under SHORT_SESSION_S):
 *   when they come, they do not stay long;
 * - upload and download, +0.3: this account's own sessions are short (it may go offline soon);
 * - upload and download, +0.2: this account is not usually online at the current UTC hour
 *   (its usual hours are known and do not include it).
 * "This account" is the user's member entry: the component records presence per bare JID, so
 * every device of the user counts. Unknown facts add nothing: no answer (an older sharing
 * manager), no history, urgency 0.
 *
 * Per transfer, throughput.ts adds whether it can finish within this account's typical session
 * at its recorded rate (`budget`, set by engine/contacts.ts beside these).
 */
import type { Contact, Contacts } from "../../protocol/stanzas/contacts.ts";
import type { TimeBudget } from "./throughput.ts";

/** Sessions shorter than this (seconds) count as short. */
export const SHORT_SESSION_S = 30 * 60;

export interface Urgent {
  /** In [0, 1]. */
  readonly urgency: number;
  /** Why, for people; absent when the urgency is 0. */
  readonly reason?: string;
}

export interface SpaceUrgency {
  readonly up: Urgent;
  readonly down: Urgent;
  /** This account's rates and typical session (throughput.ts): each transfer's fit is added to the above. */
  readonly budget?: TimeBudget;
}

export const NO_URGENCY: SpaceUrgency = { up: { urgency: 0 }, down: { urgency: 0 } };

const minutes = (s: number) => (s < 60 ? `${s} s` : `${Math.round(s / 60)} min`);

function urgent(terms: ReadonlyArray<readonly [number, string]>): Urgent {
  if (terms.length === 0) return { urgency: 0 };
  const urgency = Math.min(1, Math.round(terms.reduce((n, [w]) => n + w, 0) * 100) / 100);
  return { urgency, reason: `urgency ${urgency.toFixed(2)}: ${terms.map(([, why]) => why).join("; ")}` };
}

/** The urgency of a space's uploads and downloads for `me` (a bare JID) at `nowMs` (see the header). */
export function urgencyOf(contacts: Contacts | undefined, me: string, nowMs: number): SpaceUrgency {
  if (!contacts) return NO_URGENCY;
  const self: Contact | undefined = contacts.members.find((m) => m.jid === me);
  const offline = contacts.members.filter((m) => m.jid !== me && !m.online);
  const own: Array<readonly [number, string]> = [];
  if (self?.sessionS !== undefined && self.sessionS < SHORT_SESSION_S) own.push([0.3, `this account's sessions are short (~${minutes(self.sessionS)}): it may go offline soon`]);
  const hour = new Date(nowMs).getUTCHours();
  if (self?.usual && self.usual.length > 0 && !self.usual.includes(hour)) own.push([0.2, `this account is not usually online at ${String(hour).padStart(2, "0")}:00 UTC`]);
  const up: Array<readonly [number, string]> = [];
  if (offline.length > 0) {
    const names = offline.map((m) => m.jid).join(", ");
    up.push([0.5, `${names} ${offline.length === 1 ? "is" : "are"} offline now (will fetch it from the sharing manager)`]);
    const brief = offline.filter((m) => m.sessionS !== undefined && m.sessionS < SHORT_SESSION_S);
    if (brief.length > 0) up.push([0.2, `${brief.map((m) => `${m.jid} stays ~${minutes(m.sessionS!)}`).join(", ")} when online`]);
  }
  return { up: urgent([...up, ...own]), down: urgent(own) };
}
