/**
 * Cron expressions as sets of wall-clock minutes (pure calendar arithmetic, no time zones:
 * `window.ts` maps instants to wall clocks and back). node-cron 4.6 checks the syntax and expands
 * the fields (`validateDetailed`); matching is done here, so that it works on any given time
 * (a fake clock) and can skip whole hours, days and months that cannot match.
 *
 * Semantics are node-cron's, on purpose: whatever else in the client uses node-cron (a timer at
 * a window's edge, say) must agree with the windows minute for minute, and
 * tests/unit/schedule-window.test.ts checks against node-cron's own matcher.
 * - A minute matches when minute, hour, month, day-of-month AND day-of-week all match. Unlike
 *   Vixie/POSIX cron, a restricted day-of-month and a restricted day-of-week are not ORed:
 *   "* * 1-7 * 1" is the first Monday of the month, not "the 1st to 7th, and every Monday".
 * - Ranges may wrap ("* 22-2 * * *" is 22:00 to 02:59), 7 is Sunday, names (jan, mon, monday)
 *   are accepted, and the extensions L, nW, LW, L-n (day-of-month), nL and n#k (day-of-week).
 *
 * Refused, with a reason: a seconds field (6 fields; a window is made of whole minutes) and
 * nicknames such as "@daily" (they name a moment, "0 0 * * *", not a period).
 */
import { validateDetailed, type CronFieldError } from "node-cron";

/** A wall-clock time as milliseconds since 1970 read as UTC (`Date.UTC(y, m - 1, d, h, mi)`). */
export type WallMs = number;

const FIELDS = {
  second: { label: "second", min: 0, max: 59 },
  minute: { label: "minute", min: 0, max: 59 },
  hour: { label: "hour", min: 0, max: 23 },
  dayOfMonth: { label: "day-of-month", min: 1, max: 31 },
  month: { label: "month", min: 1, max: 12 },
  dayOfWeek: { label: "day-of-week", min: 0, max: 7 },
} as const;

/** One day-of-month or day-of-week token beyond plain numbers, as node-cron reads it. */
type DayTest = (y: number, m: number, d: number, weekday: number) => boolean;

function lastDay(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** node-cron's `nW`: the weekday nearest to day n, staying inside the month. */
function nearestWeekday(y: number, m: number, target: number): number {
  const last = lastDay(y, m);
  if (target < 1 || target > last) return -1;
  const wd = new Date(Date.UTC(y, m - 1, target)).getUTCDay();
  if (wd === 6) return target === 1 ? 3 : target - 1;
  if (wd === 0) return target === last ? target - 2 : target + 1;
  return target;
}

function dayOfMonthTest(values: readonly (number | string)[]): DayTest {
  const days = new Set<number>();
  const special: DayTest[] = [];
  for (const v of values) {
    if (typeof v === "number") days.add(v);
    else if (v === "L") special.push((y, m, d) => d === lastDay(y, m));
    else if (/^L-\d+$/.test(v)) special.push((y, m, d) => d === lastDay(y, m) - Number(v.slice(2)));
    else if (/^(\d+|L)W$/.test(v)) {
      const n = v.slice(0, -1);
      special.push((y, m, d) => d === nearestWeekday(y, m, n === "L" ? lastDay(y, m) : Number(n)));
    } else throw new Error(`node-cron returned an unknown day-of-month token ${JSON.stringify(v)}`);
  }
  return (y, m, d, wd) => days.has(d) || special.some((t) => t(y, m, d, wd));
}

function dayOfWeekTest(values: readonly (number | string)[]): DayTest {
  const days = new Set<number>();
  const special: DayTest[] = [];
  for (const v of values) {
    if (typeof v === "number") days.add(v % 7);
    else if (/^[0-7]L$/.test(v)) {
      const want = Number(v[0]) % 7;
      special.push((y, m, d, wd) => wd === want && d + 7 > lastDay(y, m));
    } else if (/^[0-7]#[1-5]$/.test(v)) {
      const want = Number(v[0]) % 7;
      const nth = Number(v[2]);
      special.push((_y, _m, d, wd) => wd === want && Math.floor((d - 1) / 7) + 1 === nth);
    } else throw new Error(`node-cron returned an unknown day-of-week token ${JSON.stringify(v)}`);
  }
  return (y, m, d, wd) => days.has(wd) || special.some((t) => t(y, m, d, wd));
}

/** The first number in a comma list that lies outside the field's bounds (step sizes aside). */
function outOfRange(raw: string, min: number, max: number): number | undefined {
  for (const part of raw.split(",")) {
    const base = part.split("/")[0] ?? "";
    for (const n of base.split("-")) if (/^\d+$/.test(n) && (Number(n) < min || Number(n) > max)) return Number(n);
  }
  return undefined;
}

/** node-cron's complaint, as the reason in `"…" is not a cron expression (reason)`. */
function explain(e: CronFieldError): string {
  if (e.field === "expression") {
    const fields = /expected 5 or 6 fields but got (\d+)/.exec(e.message);
    if (fields) return `${fields[1]} field${fields[1] === "1" ? "" : "s"}; a window has 5: minute hour day-of-month month day-of-week`;
    if (/illegal characters/.test(e.message)) {
      const bad = /[^a-zA-Z0-9\-*/,#? ]/.exec(e.value ?? "");
      return bad ? `${JSON.stringify(bad[0])} has no meaning in cron` : "it is empty";
    }
    return e.message;
  }
  const f = FIELDS[e.field as keyof typeof FIELDS];
  if (!f) return e.message;
  if (/impossible day of month/.test(e.message)) return `day-of-month ${e.value ?? ""} never comes in the months it names`;
  const n = outOfRange(e.value ?? "", f.min, f.max);
  if (n !== undefined) return `${f.label} ${n} out of range`;
  return `${f.label} ${JSON.stringify(e.value ?? "")} is not valid`;
}

interface Sets {
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  readonly months: readonly boolean[];
  /** All must hold: day-of-month and day-of-week tests, of every expression combined. */
  readonly days: readonly DayTest[];
}

function setOf(values: readonly number[], size: number): boolean[] {
  const out = new Array<boolean>(size).fill(false);
  for (const x of values) out[x] = true;
  return out;
}

function next(set: readonly boolean[], after: number, want: boolean): number | undefined {
  for (let i = after + 1; i < set.length; i++) if (set[i] === want) return i;
  return undefined;
}

/**
 * A compiled 5-field cron expression: which wall-clock minutes match, and the next minute that
 * does (or does not), skipping hours, days and months that cannot.
 */
export class Cron {
  /** The expression, whitespace normalised; "a and b" for a combination. */
  readonly expr: string;
  readonly #s: Sets;

  private constructor(expr: string, sets: Sets) {
    this.expr = expr;
    this.#s = sets;
  }

  /** Throws an Error reading `"* 25 * * *" is not a cron expression (hour 25 out of range)`. */
  static parse(expr: string): Cron {
    const text = expr.trim().split(/\s+/).join(" ");
    const quoted = JSON.stringify(expr);
    if (text.startsWith("@")) throw new Error(`${quoted} is not a window (a nickname names a moment; write the minutes, e.g. "* 1-5 * * *")`);
    if (text.split(" ").length === 6) throw new Error(`${quoted} is not a window (6 fields: a window is made of whole minutes, leave out the seconds)`);
    const v = validateDetailed(text);
    const first = v.errors[0];
    if (!v.valid || !v.fields) throw new Error(`${quoted} is not a cron expression (${first ? explain(first) : "refused"})`);
    const f = v.fields;
    return new Cron(text, {
      minutes: setOf(f.minute, 60),
      hours: setOf(f.hour, 24),
      months: setOf(f.month, 13),
      days: [dayOfMonthTest(f.dayOfMonth), dayOfWeekTest(f.dayOfWeek)],
    });
  }

  /** The minutes both match (read on the same wall clock). */
  and(other: Cron): Cron {
    const a = this.#s;
    const b = other.#s;
    const both = (x: readonly boolean[], y: readonly boolean[]) => x.map((v, i) => v && y[i] === true);
    return new Cron(`${this.expr} and ${other.expr}`, {
      minutes: both(a.minutes, b.minutes),
      hours: both(a.hours, b.hours),
      months: both(a.months, b.months),
      days: [...a.days, ...b.days],
    });
  }

  /** Whether the day (month, day-of-month and day-of-week) can match at all. */
  #day(y: number, m: number, d: number): boolean {
    if (!this.#s.months[m]) return false;
    const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
    return this.#s.days.every((t) => t(y, m, d, wd));
  }

  /** Whether the minute that starts at (or holds) `wall` matches. */
  matches(wall: WallMs): boolean {
    const t = new Date(wall);
    return this.#day(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()) && this.#s.hours[t.getUTCHours()] === true && this.#s.minutes[t.getUTCMinutes()] === true;
  }

  /** The first matching minute at or after `from` (minute-aligned), if before `limit`. */
  nextMatch(from: WallMs, limit: WallMs): WallMs | undefined {
    const s = this.#s;
    for (let w = from; w < limit; ) {
      const t = new Date(w);
      const [y, m, d, h, mi] = [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes()];
      if (!s.months[m]) w = Date.UTC(y, m, 1);
      else if (!this.#day(y, m, d)) w = Date.UTC(y, m - 1, d + 1);
      else if (!s.hours[h]) {
        const nh = next(s.hours, h, true);
        w = nh === undefined ? Date.UTC(y, m - 1, d + 1) : Date.UTC(y, m - 1, d, nh);
      } else if (!s.minutes[mi]) {
        const nm = next(s.minutes, mi, true);
        w = nm === undefined ? Date.UTC(y, m - 1, d, h + 1) : Date.UTC(y, m - 1, d, h, nm);
      } else return w;
    }
    return undefined;
  }

  /** The first minute at or after `from` (minute-aligned) that does not match, if before `limit`. */
  nextMiss(from: WallMs, limit: WallMs): WallMs | undefined {
    const s = this.#s;
    const everyMinute = s.minutes.every(Boolean);
    for (let w = from; w < limit; ) {
      if (!this.matches(w)) return w;
      const t = new Date(w);
      const [y, m, d, h, mi] = [t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes()];
      const nm = next(s.minutes, mi, false);
      if (nm !== undefined) return Date.UTC(y, m, d, h, nm);
      if (!everyMinute) {
        w = Date.UTC(y, m, d, h + 1);
        continue;
      }
      const nh = next(s.hours, h, false);
      if (nh !== undefined) return Date.UTC(y, m, d, nh);
      w = Date.UTC(y, m, d + 1);
    }
    return undefined;
  }
}
