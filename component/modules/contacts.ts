/**
 * Contacts' characteristics (XEP-draft.md § 5.15, the patent's FIG. 8): what the sharing manager
 * records per member (bare JID) for the members' schedulers, and the `<contacts/>` IQ that tells
 * a member about the members of one of their spaces.
 *
 * Presence history (PresenceRecorder), persisted in the metadata store:
 * - a bit per UTC hour during which any sharing client of the member was online (presence with
 *   `<digests/>`, sharing-presence.ts), kept for KEEP_HOURS (28 days) and pruned once per hour;
 * - when last seen, and a typical session: a moving average (weight SESSION_WEIGHT for the
 *   newest) of the member's finished sessions, from their first sharing client online to their
 *   last one gone.
 * Writes are cheap: one `markOnline` when a member comes online and at most one more per hour
 * while they stay (their daemon's keepalive presence, every minute, finds the hour changed), one
 * summary when they go. A session in progress is in memory: after a restart of the component, or
 * of its link to the server (everyone counts as gone then), it starts again at the next presence.
 *
 * Throughput (Throughput), in memory only (a restart forgets it; the next transfers teach it
 * again): a moving average of the bytes per second of the batch uploads the HTTP server received
 * from the member and of the batch downloads it sent them (component/http.ts `onTransfer`).
 * Batches below MIN_SAMPLE_BYTES are ignored: their time is latency, not throughput. Clients
 * weigh each transfer by it (client/schedule/throughput.ts: can it finish within a session?).
 *
 * Only members of the space may ask (others get item-not-found, as for a space that does not
 * exist, § 6 rule 2), and the answer lists only that space's members.
 */
import type { BareJid } from "../../protocol/ids.ts";
import { buildContacts, parseContactsRequest, type Contact } from "../../protocol/stanzas/contacts.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";
import type { MetadataStore } from "../store/metadata.ts";
import { memberSpace } from "./access.ts";

export const HOUR_MS = 3_600_000;
/** Hours of presence history kept: 28 days. */
export const KEEP_HOURS = 28 * 24;
/** Weight of the newest session in the typical session length. */
export const SESSION_WEIGHT = 0.3;
/** Weight of the newest batch in the throughput averages. */
export const RATE_WEIGHT = 0.3;
/** Smaller batches say nothing about throughput. */
export const MIN_SAMPLE_BYTES = 64 * 1024;

const hourOf = (ms: number) => Math.floor(ms / HOUR_MS);

/** A member's usual hours are known once they were online on this many days of the kept ones. */
export const USUAL_MIN_DAYS = 3;

/**
 * The hours of the day (UTC) a member is usually online in: those in which they were online on
 * at least half of the days (of `hours`) on which they were online at all; none before they
 * were online on USUAL_MIN_DAYS days (one afternoon says nothing about their habits). Ascending.
 */
export function usualHours(hours: readonly number[]): number[] {
  const days = new Set(hours.map((h) => Math.floor(h / 24)));
  if (days.size < USUAL_MIN_DAYS) return [];
  const count = new Array<number>(24).fill(0);
  for (const h of hours) count[h % 24]!++;
  const out: number[] = [];
  for (let h = 0; h < 24; h++) if (count[h]! > 0 && count[h]! * 2 >= days.size) out.push(h);
  return out;
}

/** The moving average `prev` becomes with `sample` (the first sample is taken as it is). */
export function movingAverage(prev: number | undefined, sample: number, weight: number): number {
  return prev === undefined ? sample : prev * (1 - weight) + sample * weight;
}

export class PresenceRecorder {
  readonly #store: MetadataStore;
  readonly #now: () => number;
  /** Members online now: since when, and the last hour recorded for them. */
  readonly #sessions = new Map<BareJid, { sinceMs: number; markedHour: number }>();
  #prunedHour = -1;

  constructor(store: MetadataStore, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  /** The first sharing client of `member` came online. */
  async came(member: BareJid): Promise<void> {
    const now = this.#now();
    const hour = hourOf(now);
    this.#sessions.set(member, { sinceMs: now, markedHour: hour });
    await this.#prune(hour);
    await this.#store.markOnline(member, hour, hour);
  }

  /** A member online is still online (any presence of theirs): records the hour if it is a new one. */
  async stays(member: BareJid): Promise<void> {
    const s = this.#sessions.get(member);
    if (!s) return this.came(member);
    const hour = hourOf(this.#now());
    if (hour <= s.markedHour) return;
    const from = Math.max(s.markedHour + 1, hour - KEEP_HOURS + 1);
    s.markedHour = hour;
    await this.#prune(hour);
    await this.#store.markOnline(member, from, hour);
  }

  /** The last sharing client of `member` went: the hours up to now, and the session, are recorded. */
  async went(member: BareJid): Promise<void> {
    const s = this.#sessions.get(member);
    if (!s) return;
    this.#sessions.delete(member);
    const now = this.#now();
    const hour = hourOf(now);
    await this.#prune(hour);
    if (hour > s.markedHour) await this.#store.markOnline(member, Math.max(s.markedHour + 1, hour - KEEP_HOURS + 1), hour);
    const prev = await this.#store.presenceSummary(member);
    const sessionMs = Math.round(movingAverage(prev?.sessionMs, Math.max(0, now - s.sinceMs), SESSION_WEIGHT));
    await this.#store.putPresenceSummary(member, { lastSeenMs: now, sessionMs });
  }

  /** Members whose session is in progress (for the link's loss: each one `went`). */
  online(): BareJid[] {
    return [...this.#sessions.keys()];
  }

  /** What is known of `member`'s presence, as the `<contacts/>` answer says it. */
  async describe(member: BareJid, online: boolean): Promise<Omit<Contact, "upBps" | "downBps">> {
    if (online) await this.stays(member);
    const now = this.#now();
    const hours = await this.#store.onlineHours(member, hourOf(now) - KEEP_HOURS + 1);
    const summary = await this.#store.presenceSummary(member);
    const usual = usualHours(hours);
    const lastSeenMs = online ? now : summary?.lastSeenMs;
    return {
      jid: member,
      online,
      hours: hours.length,
      ...(usual.length ? { usual } : {}),
      ...(summary?.sessionMs !== undefined ? { sessionS: Math.round(summary.sessionMs / 1000) } : {}),
      ...(lastSeenMs !== undefined ? { lastSeenMs: Math.floor(lastSeenMs / 1000) * 1000 } : {}),
    };
  }

  /** Once per hour: forget what is older than the window. */
  async #prune(hour: number): Promise<void> {
    if (hour <= this.#prunedHour) return;
    this.#prunedHour = hour;
    await this.#store.forgetPresenceBefore(Math.max(0, hour - KEEP_HOURS + 1));
  }
}

/** Bytes per second seen to and from each member (see the header); in memory. */
export class Throughput {
  readonly #rates = new Map<string, number>();

  /** One batch: `bytes` moved in `ms` (uploads: from the member; downloads: to them). */
  record(member: BareJid, direction: "up" | "down", bytes: number, ms: number): void {
    if (!(bytes >= MIN_SAMPLE_BYTES) || !Number.isFinite(ms)) return;
    const key = `${member}\u0000${direction}`;
    this.#rates.set(key, movingAverage(this.#rates.get(key), (bytes * 1000) / Math.max(1, ms), RATE_WEIGHT));
  }

  of(member: BareJid): { upBps?: number; downBps?: number } {
    const up = this.#rates.get(`${member}\u0000up`);
    const down = this.#rates.get(`${member}\u0000down`);
    return { ...(up !== undefined ? { upBps: Math.round(up) } : {}), ...(down !== undefined ? { downBps: Math.round(down) } : {}) };
  }
}

/** The recorder and the meter together: what sharing-presence.ts and http.ts feed. */
export class ContactBook {
  readonly presence: PresenceRecorder;
  readonly throughput = new Throughput();

  constructor(deps: Pick<Deps, "store" | "now">) {
    this.presence = new PresenceRecorder(deps.store, deps.now);
  }
}

/** `<contacts space/>` (XEP-draft.md § 5.15): `online` says whether a member has a sharing client online now. */
export function registerContacts(router: Router, deps: Deps, book: ContactBook, online: (member: BareJid) => boolean): void {
  router.get("contacts", async ({ member, payload }) => {
    const s = await memberSpace(deps, parseContactsRequest(payload), member);
    const members: Contact[] = [];
    for (const m of s.members) members.push({ ...(await book.presence.describe(m, online(m))), ...book.throughput.of(m) });
    return buildContacts({ space: s.record.id, keptHours: KEEP_HOURS, members });
  });
}
