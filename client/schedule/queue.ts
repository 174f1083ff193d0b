/**
 * The transfer queue's order and timing (pure): which pending transfer goes first, which waits,
 * until when, and why, from the policy and a given `now`.
 *
 * Order of `plan`'s result:
 * 1. everything that may run now: by priority (high, normal, low), then by `urgency` (higher
 *    first), then small before large, then by path, space and direction (a total order, so the
 *    same input always gives the same plan);
 * 2. then what waits for a window, by the time it may start (ties as above);
 * 3. then what no time will release: larger than the metered limit on a metered connection, or
 *    windows that never open together within `HORIZON_DAYS`.
 * Priority comes before size, so with "*.docx" high and "*.mov" low a document is never
 * behind a video, whatever their sizes.
 *
 * The plan decides when transfers start, not how many at once (the engine runs the first
 * `policy.transfers` of the runnable ones) nor how fast (bucket.ts). It is a snapshot: plan
 * again when the queue changes, when the network's metered state changes, and at `wakeAt`.
 *
 * Contacts (`urgency`): how soon a transfer matters depends on who is at the other end, e.g.
 * an upload for a member who is offline now and comes online only briefly, from a device that
 * may go offline soon. The caller turns the sharing manager's `<contacts/>` answer into
 * `urgency` in [0, 1] (urgency.ts; 0 when unknown), with `urgencyReason`, which the planned
 * reason then ends with. Urgency orders transfers within one priority; it never overrides
 * priority, windows or the metered limit.
 */
import { classify, formatBytes, type Priority, type SchedulePolicy } from "./policy.ts";
import { HORIZON_DAYS, systemTimeZone, type Window } from "./window.ts";

export interface Pending {
  /** The space id, as in `policy.spaces`. */
  readonly space: string;
  /** Space-relative, "/"-separated, as the index spells it. */
  readonly path: string;
  readonly direction: "up" | "down";
  /** Bytes to move. */
  readonly size: number;
  /** From contacts' online history, 0 (default) to 1: see the header. */
  readonly urgency?: number;
  /** Why the urgency, for people ("urgency 0.50: bob@example.org is offline now …"). */
  readonly urgencyReason?: string;
}

/** `now`: may start now; `later`: at `runAt`; `held`: not by time (metered, or never open). */
export type Timing = "now" | "later" | "held";

export interface Planned {
  readonly item: Pending;
  readonly priority: Priority;
  readonly timing: Timing;
  /** `now` for "now", when its windows are next all open for "later", undefined for "held". */
  readonly runAt: Date | undefined;
  /** For "now" with windows: when the first of them closes (start nothing of it after that). */
  readonly until?: Date;
  /** For people: "high priority (*.docx)", "waits for its window * 1-5 * * * until 01:00", … */
  readonly reason: string;
}

const RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };
const TIMING: Readonly<Record<Timing, number>> = { now: 0, later: 1, held: 2 };

function check(item: Pending): void {
  const name = `${item.space}/${item.path}`;
  if (!Number.isSafeInteger(item.size) || item.size < 0) throw new RangeError(`pending transfer ${name}: size must be a whole number of bytes, got ${item.size}`);
  const u = item.urgency;
  if (u !== undefined && !(u >= 0 && u <= 1)) throw new RangeError(`pending transfer ${name}: urgency must be from 0 to 1, got ${u}`);
}

function byCode(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order `plan` returns (see the header). */
export function compare(a: Planned, b: Planned): number {
  return (
    TIMING[a.timing] - TIMING[b.timing] ||
    (a.timing === "later" ? (a.runAt?.getTime() ?? 0) - (b.runAt?.getTime() ?? 0) : 0) ||
    RANK[a.priority] - RANK[b.priority] ||
    (b.item.urgency ?? 0) - (a.item.urgency ?? 0) ||
    a.item.size - b.item.size ||
    byCode(a.item.path, b.item.path) ||
    byCode(a.item.space, b.item.space) ||
    byCode(a.item.direction, b.item.direction)
  );
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** "01:00" the same day, "Sat 01:00" within six days, "2025-01-04 01:00" beyond, in `timeZone`. */
export function formatWhen(at: Date, now: Date, timeZone: string): string {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", weekday: "short", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    formatters.set(timeZone, f);
  }
  const fmt = f;
  const parts = (d: Date) => {
    const p: Record<string, string> = {};
    for (const x of fmt.formatToParts(d)) p[x.type] = x.value;
    return p;
  };
  const a = parts(at);
  const n = parts(now);
  const time = `${a.hour}:${a.minute}`;
  if (a.year === n.year && a.month === n.month && a.day === n.day) return time;
  if (at.getTime() - now.getTime() < 6 * 86_400_000) return `${a.weekday} ${time}`;
  return `${a.year}-${a.month}-${a.day} ${time}`;
}

function windowsText(ws: readonly Window[]): string {
  return ws.length === 1 ? `its window ${ws[0]?.expr}` : `its windows ${ws.map((w) => w.expr).join(" and ")}`;
}

/** Plans `items` under `policy` at `now`; see the header for the order. */
export function plan(items: readonly Pending[], policy: SchedulePolicy, now: Date): Planned[] {
  const timeZone = policy.timezone ?? systemTimeZone();
  // Items of one rule and space share their windows: combine and search them once.
  const timing = new Map<string, { open: boolean; runAt?: Date; until?: Date; closed: Window[] }>();
  const out = items.map((item): Planned => {
    check(item);
    const c = classify(policy, item.space, item.path);
    const rank = { item, priority: c.priority };
    const said = c.because === "default" ? `${c.priority} priority` : `${c.priority} priority (${c.because})`;
    if (policy.metered && item.size > policy.meteredMaxBytes) {
      return { ...rank, timing: "held", runAt: undefined, reason: `metered: larger than ${formatBytes(policy.meteredMaxBytes)}` };
    }
    if (c.windows.length === 0) return { ...rank, timing: "now", runAt: now, reason: said };
    const key = `${c.rule ? policy.rules.indexOf(c.rule) : -1}\n${item.space}`;
    let t = timing.get(key);
    if (!t) {
      const both = c.windows.reduce((a, b) => a.and(b));
      const open = both.isOpen(now);
      const next = open ? both.nextClose(now) : both.nextOpen(now);
      t = { open, closed: c.windows.filter((w) => !w.isOpen(now)), ...(next ? (open ? { until: next } : { runAt: next }) : {}) };
      timing.set(key, t);
    }
    if (t.open) return { ...rank, timing: "now", runAt: now, ...(t.until ? { until: t.until } : {}), reason: said };
    if (t.runAt) return { ...rank, timing: "later", runAt: t.runAt, reason: `waits for ${windowsText(t.closed)} until ${formatWhen(t.runAt, now, timeZone)}` };
    const never = c.windows.length === 1 ? `${windowsText(c.windows)} does not open` : `${windowsText(c.windows)} are not open together`;
    return { ...rank, timing: "held", runAt: undefined, reason: `${never} within ${Math.round(HORIZON_DAYS / 366)} years` };
  });
  // Why the urgency, after the reason of the timing.
  // (Also at urgency 0: a transfer that will not finish in the time online says so, throughput.ts.)
  const said = out.map((p) => (p.item.urgencyReason ? { ...p, reason: `${p.reason}; ${p.item.urgencyReason}` } : p));
  return said.sort(compare);
}

/** When the plan next changes by time alone (a window opens or closes); undefined: never. */
export function wakeAt(planned: readonly Planned[]): Date | undefined {
  let best: number | undefined;
  for (const p of planned) {
    const t = p.timing === "later" ? p.runAt : p.until;
    if (t && (best === undefined || t.getTime() < best)) best = t.getTime();
  }
  return best === undefined ? undefined : new Date(best);
}
