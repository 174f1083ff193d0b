/**
 * Transfer windows: a cron expression read as "open during every minute it matches", on the
 * wall clock of one time zone (Intl.DateTimeFormat; no time zone library).
 *
 * - Pure: every answer is about the `Date` it is given (a fake clock in tests); no timers.
 * - Minutes are wall-clock minutes. Across a daylight saving change a window follows the wall
 *   clock: in Europe/Paris on the last Sunday of March 02:00-02:59 does not exist, so
 *   "* 2 * * *" stays shut that day and "* 1-3 * * *" is open 01:00-04:00 local, two real
 *   hours; on the last Sunday of October 02:00-02:59 happens twice, and "* 2 * * *" is open
 *   for both, two real hours. This is what node-cron's own matcher does too.
 * - `nextOpen`/`nextClose` look at most `HORIZON_DAYS` ahead (so "never" is an answer, e.g.
 *   "* * 29 2 1", a 29 February that is a Monday, may be decades away) and never step minute
 *   by minute: they jump to the next wall-clock minute that could change the answer
 *   (`Cron.nextMatch`/`nextMiss`), stopping at a UTC offset change on the way to look again.
 * - Time zones whose offset is not whole minutes (none since 1972) are not supported.
 */
import { Cron, type WallMs } from "./cron.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;

/** How far `nextOpen`/`nextClose` look: five years, so any 29 February is found. */
export const HORIZON_DAYS = 5 * 366;

/** No zone changes its UTC offset twice within this (the walk looks again at least this often). */
const MAX_STEP = 7 * DAY;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The system's time zone, as Intl names it. */
export function systemTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Throws `"Mars/Base" is not a time zone` unless Intl knows the name. Returns Intl's spelling. */
export function checkTimeZone(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new Error(`${JSON.stringify(timeZone)} is not a time zone (use an IANA name such as "Europe/Paris" or "UTC")`);
  }
}

/** The wall-clock minute holding instant `t`, in `timeZone`. */
export function wallClock(t: number, timeZone: string): WallMs {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(t)) if (part.type !== "literal") p[part.type] = Number(part.value);
  return Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0);
}

export class Window {
  /** The time zone the window is read in (Intl's name; the system's when none was given). */
  readonly timeZone: string;
  readonly #cron: Cron;

  /**
   * `expr`: 5 cron fields, minute hour day-of-month month day-of-week (see `cron.ts` for what
   * is accepted). Throws a one-line Error for a bad expression or time zone.
   */
  constructor(expr: string | Cron, timeZone?: string) {
    this.timeZone = timeZone === undefined ? systemTimeZone() : checkTimeZone(timeZone);
    this.#cron = typeof expr === "string" ? Cron.parse(expr) : expr;
  }

  /** The expression, whitespace normalised ("a and b" for `both`). */
  get expr(): string {
    return this.#cron.expr;
  }

  /** Open when both are (same time zone only). */
  and(other: Window): Window {
    if (other.timeZone !== this.timeZone) throw new Error(`cannot combine windows of ${this.timeZone} and ${other.timeZone}`);
    return new Window(this.#cron.and(other.#cron), this.timeZone);
  }

  isOpen(at: Date): boolean {
    return this.#cron.matches(wallClock(at.getTime(), this.timeZone));
  }

  /** The first moment at or after `from` when the window is open: `from` itself when open then. */
  nextOpen(from: Date): Date | undefined {
    if (this.isOpen(from)) return new Date(from.getTime());
    return this.#walk(Math.ceil(from.getTime() / MINUTE) * MINUTE, from.getTime(), (w, limit) => this.#cron.nextMatch(w, limit));
  }

  /** The first moment at or after `from` when the window is shut: `from` itself when shut then. */
  nextClose(from: Date): Date | undefined {
    if (!this.isOpen(from)) return new Date(from.getTime());
    return this.#walk(Math.floor(from.getTime() / MINUTE) * MINUTE, from.getTime(), (w, limit) => this.#cron.nextMiss(w, limit));
  }

  /**
   * From minute-aligned instant `t`, the first instant whose wall-clock minute `seek` accepts.
   * `seek(w, limit)` is the first wall minute at or after `w` that would do; the walk moves
   * there in one step while the UTC offset stays put, and otherwise stops at the offset change
   * (found by bisection) and asks again from the wall clock it finds there.
   */
  #walk(t: number, from: number, seek: (w: WallMs, limit: WallMs) => WallMs | undefined): Date | undefined {
    const end = from + HORIZON_DAYS * DAY;
    let w = wallClock(t, this.timeZone);
    let target = seek(w, w + (end - t) + DAY);
    while (target !== undefined && t <= end) {
      if (target === w) return new Date(t);
      const step = Math.min(target - w, MAX_STEP);
      const [next, sameOffset] = this.#advance(t, w - t, step);
      t = next;
      if (sameOffset) {
        // The wall clock moved by `step` too, and `target` still stands.
        w += step;
      } else {
        w = wallClock(t, this.timeZone);
        target = seek(w, w + (end - t) + DAY);
      }
    }
    return undefined;
  }

  /**
   * `[t + step, true]` when the UTC offset is still `offset` there, else `[x, false]` with `x`
   * the first minute after `t` whose offset differs (one change within `MAX_STEP` at most).
   */
  #advance(t: number, offset: number, step: number): [number, boolean] {
    const offsetAt = (x: number) => wallClock(x, this.timeZone) - x;
    let hi = t + step;
    if (offsetAt(hi) === offset) return [hi, true];
    let lo = t;
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offsetAt(mid) === offset) lo = mid;
      else hi = mid;
    }
    return [hi, false];
  }
}

/** Open when every one of `windows` is (an empty list is always open). */
export function allOpen(windows: readonly Window[], at: Date): boolean {
  return windows.every((w) => w.isOpen(at));
}
