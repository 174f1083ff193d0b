/**
 * Transfer windows (client/schedule/window.ts, cron.ts): a cron expression is open during every
 * minute it matches, on the wall clock of its time zone, across daylight saving changes; the
 * next opening and closing are found without walking minute by minute; and every answer agrees
 * with node-cron's own matcher.
 */
import fc from "fast-check";
import { createTask } from "node-cron";
import { describe, expect, it } from "vitest";
import { Cron } from "../../client/schedule/cron.ts";
import { allOpen, Window } from "../../client/schedule/window.ts";

const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString();
const MINUTE = 60_000;

describe("a window in UTC", () => {
  const w = new Window("* 1-5 * * *", "UTC");

  it("is open from the first matching minute to the end of the last", () => {
    expect(w.isOpen(at("2024-06-05T00:59:59.999Z"))).toBe(false);
    expect(w.isOpen(at("2024-06-05T01:00:00Z"))).toBe(true);
    expect(w.isOpen(at("2024-06-05T05:59:59.999Z"))).toBe(true);
    expect(w.isOpen(at("2024-06-05T06:00:00Z"))).toBe(false);
  });

  it("opens and closes at whole minutes; a moment inside (outside) is its own next opening (closing)", () => {
    expect(iso(w.nextOpen(at("2024-06-05T00:30:10Z")))).toBe("2024-06-05T01:00:00.000Z");
    expect(iso(w.nextOpen(at("2024-06-05T06:00:00Z")))).toBe("2024-06-06T01:00:00.000Z");
    expect(iso(w.nextOpen(at("2024-06-05T03:17:42.5Z")))).toBe("2024-06-05T03:17:42.500Z");
    expect(iso(w.nextClose(at("2024-06-05T03:17:42.5Z")))).toBe("2024-06-05T06:00:00.000Z");
    expect(iso(w.nextClose(at("2024-06-05T07:00:00Z")))).toBe("2024-06-05T07:00:00.000Z");
  });

  it("is open minute by minute when the minutes say so", () => {
    const q = new Window("0-14 9 * * *", "UTC");
    expect(iso(q.nextClose(at("2024-06-05T09:03:00Z")))).toBe("2024-06-05T09:15:00.000Z");
    expect(iso(q.nextOpen(at("2024-06-05T09:15:00Z")))).toBe("2024-06-06T09:00:00.000Z");
    const odd = new Window("*/2 * * * *", "UTC");
    expect(iso(odd.nextClose(at("2024-06-05T09:00:30Z")))).toBe("2024-06-05T09:01:00.000Z");
    expect(iso(odd.nextOpen(at("2024-06-05T09:01:30Z")))).toBe("2024-06-05T09:02:00.000Z");
  });

  it("wraps ranges over midnight as node-cron does", () => {
    const night = new Window("* 22-2 * * *", "UTC");
    expect(night.isOpen(at("2024-06-05T23:30:00Z"))).toBe(true);
    expect(night.isOpen(at("2024-06-06T02:59:00Z"))).toBe(true);
    expect(night.isOpen(at("2024-06-06T03:00:00Z"))).toBe(false);
    expect(iso(night.nextClose(at("2024-06-05T22:00:00Z")))).toBe("2024-06-06T03:00:00.000Z");
  });

  it("reads names, 7 as Sunday and spaces loosely", () => {
    const w2 = new Window("  *  *  *  jun  sun ", "UTC");
    expect(w2.expr).toBe("* * * jun sun");
    expect(w2.isOpen(at("2024-06-09T12:00:00Z"))).toBe(true); // a Sunday in June
    expect(w2.isOpen(at("2024-06-10T12:00:00Z"))).toBe(false);
    expect(new Window("* * * * 7", "UTC").isOpen(at("2024-06-09T12:00:00Z"))).toBe(true);
  });
});

describe("day-of-month and day-of-week", () => {
  it("must both match (node-cron's rule, not Vixie cron's OR): * * 1-7 * 1 is the first Monday", () => {
    const w = new Window("* * 1-7 * 1", "UTC");
    expect(w.isOpen(at("2024-06-03T12:00:00Z"))).toBe(true); // Monday 3rd
    expect(w.isOpen(at("2024-06-10T12:00:00Z"))).toBe(false); // a Monday, but the 10th
    expect(w.isOpen(at("2024-06-01T12:00:00Z"))).toBe(false); // the 1st, but a Saturday
    expect(iso(w.nextOpen(at("2024-06-04T00:00:00Z")))).toBe("2024-07-01T00:00:00.000Z");
    expect(iso(w.nextClose(at("2024-06-03T08:00:00Z")))).toBe("2024-06-04T00:00:00.000Z");
  });

  it("finds Friday the 13th", () => {
    const w = new Window("* * 13 * 5", "UTC");
    expect(iso(w.nextOpen(at("2024-01-01T00:00:00Z")))).toBe("2024-09-13T00:00:00.000Z");
    expect(iso(w.nextOpen(at("2024-09-14T00:00:00Z")))).toBe("2024-12-13T00:00:00.000Z");
  });

  it("knows L, L-n, nW, nL and n#k", () => {
    expect(iso(new Window("* * L * *", "UTC").nextOpen(at("2024-02-10T00:00:00Z")))).toBe("2024-02-29T00:00:00.000Z");
    expect(iso(new Window("* * L-2 * *", "UTC").nextOpen(at("2024-02-10T00:00:00Z")))).toBe("2024-02-27T00:00:00.000Z");
    // 15 June 2024 is a Saturday: the nearest weekday is Friday 14th.
    expect(iso(new Window("* * 15W * *", "UTC").nextOpen(at("2024-06-01T00:00:00Z")))).toBe("2024-06-14T00:00:00.000Z");
    // 1 June 2024 is a Saturday: 1W stays in the month, Monday 3rd.
    expect(iso(new Window("* * 1W * *", "UTC").nextOpen(at("2024-06-01T00:00:00Z")))).toBe("2024-06-03T00:00:00.000Z");
    expect(iso(new Window("* * * * 5L", "UTC").nextOpen(at("2024-06-01T00:00:00Z")))).toBe("2024-06-28T00:00:00.000Z");
    expect(iso(new Window("* * * * 1#2", "UTC").nextOpen(at("2024-06-01T00:00:00Z")))).toBe("2024-06-10T00:00:00.000Z");
  });
});

describe("daylight saving time in Europe/Paris", () => {
  // 2024-03-31: 02:00 CET becomes 03:00 CEST at 01:00 UTC. 2024-10-27: 03:00 CEST becomes
  // 02:00 CET at 01:00 UTC.
  const paris = (expr: string) => new Window(expr, "Europe/Paris");

  it("follows the wall clock: 09:00-17:00 local is 08:00-16:00 UTC in winter, 07:00-15:00 in summer", () => {
    const office = paris("* 9-16 * * *");
    expect(iso(office.nextOpen(at("2024-03-30T00:00:00Z")))).toBe("2024-03-30T08:00:00.000Z");
    expect(iso(office.nextClose(at("2024-03-30T08:00:00Z")))).toBe("2024-03-30T16:00:00.000Z");
    expect(iso(office.nextOpen(at("2024-03-31T00:00:00Z")))).toBe("2024-03-31T07:00:00.000Z");
    expect(iso(office.nextClose(at("2024-03-31T07:00:00Z")))).toBe("2024-03-31T15:00:00.000Z");
  });

  it("last Sunday of March: 02:00-02:59 does not exist, so * 2 * * * stays shut that day", () => {
    const w = paris("* 2 * * *");
    expect(w.isOpen(at("2024-03-31T00:59:00Z"))).toBe(false); // 01:59 CET
    expect(w.isOpen(at("2024-03-31T01:00:00Z"))).toBe(false); // 03:00 CEST
    expect(iso(w.nextOpen(at("2024-03-30T23:00:00Z")))).toBe("2024-04-01T00:00:00.000Z"); // 02:00 CEST on the 1st
    expect(iso(paris("30 2 * * *").nextOpen(at("2024-03-31T00:00:00Z")))).toBe("2024-04-01T00:30:00.000Z");
  });

  it("last Sunday of March: * 1-3 * * * is open from 01:00 CET to 04:00 CEST, two real hours", () => {
    const w = paris("* 1-3 * * *");
    expect(iso(w.nextOpen(at("2024-03-30T23:30:00Z")))).toBe("2024-03-31T00:00:00.000Z");
    expect(w.isOpen(at("2024-03-31T00:59:00Z"))).toBe(true); // 01:59 CET
    expect(w.isOpen(at("2024-03-31T01:00:00Z"))).toBe(true); // 03:00 CEST
    expect(iso(w.nextClose(at("2024-03-31T00:30:00Z")))).toBe("2024-03-31T02:00:00.000Z");
  });

  it("last Sunday of October: 02:00-02:59 happens twice, and * 2 * * * is open for both", () => {
    const w = paris("* 2 * * *");
    expect(iso(w.nextOpen(at("2024-10-26T23:00:00Z")))).toBe("2024-10-27T00:00:00.000Z"); // 02:00 CEST
    expect(w.isOpen(at("2024-10-27T00:30:00Z"))).toBe(true); // 02:30 CEST
    expect(w.isOpen(at("2024-10-27T01:30:00Z"))).toBe(true); // 02:30 CET
    expect(iso(w.nextClose(at("2024-10-27T00:00:00Z")))).toBe("2024-10-27T02:00:00.000Z"); // 03:00 CET
  });

  it("last Sunday of October: a minute missed in the first 02:xx comes back in the second", () => {
    expect(iso(paris("55 2 * * *").nextOpen(at("2024-10-27T00:56:00Z")))).toBe("2024-10-27T01:55:00.000Z");
    expect(iso(paris("55 2 * * *").nextOpen(at("2024-10-27T01:56:00Z")))).toBe("2024-10-28T01:55:00.000Z");
  });

  it("also in 2025 (30 March and 26 October)", () => {
    expect(iso(paris("* 2 * * *").nextOpen(at("2025-03-30T00:00:00Z")))).toBe("2025-03-31T00:00:00.000Z");
    expect(iso(paris("* 2 * * *").nextClose(at("2025-10-26T00:10:00Z")))).toBe("2025-10-26T02:00:00.000Z");
  });
});

describe("never", () => {
  it("a window that does not open within the horizon has no next opening", () => {
    // 29 February on a Monday: 2044 is the next.
    expect(new Window("* * 29 2 1", "UTC").nextOpen(at("2024-06-04T00:00:00Z"))).toBeUndefined();
    // ...but a plain 29 February is found, four years ahead.
    expect(iso(new Window("0 0 29 2 *", "UTC").nextOpen(at("2024-03-01T00:00:00Z")))).toBe("2028-02-29T00:00:00.000Z");
  });

  it("a window that is always open never closes", () => {
    expect(new Window("* * * * *", "Europe/Paris").nextClose(at("2024-06-04T00:00:00Z"))).toBeUndefined();
    expect(new Window("* * * * 0-6", "Europe/Paris").nextClose(at("2024-06-04T00:00:00Z"))).toBeUndefined();
  });
});

describe("combined windows", () => {
  it("are open where both are", () => {
    const nights = new Window("* 1-5 * * *", "UTC");
    const weekends = new Window("* * * * 6,0", "UTC");
    const both = nights.and(weekends);
    expect(both.expr).toBe("* 1-5 * * * and * * * * 6,0");
    expect(both.isOpen(at("2024-06-05T02:00:00Z"))).toBe(false); // Wednesday night
    expect(iso(both.nextOpen(at("2024-06-05T02:00:00Z")))).toBe("2024-06-08T01:00:00.000Z"); // Saturday 01:00
    expect(iso(both.nextClose(at("2024-06-08T01:00:00Z")))).toBe("2024-06-08T06:00:00.000Z");
    expect(allOpen([nights, weekends], at("2024-06-08T03:00:00Z"))).toBe(true);
    expect(allOpen([], at("2024-06-08T03:00:00Z"))).toBe(true);
  });

  it("that never overlap never open", () => {
    expect(new Window("* 1 * * *", "UTC").and(new Window("* 2 * * *", "UTC")).nextOpen(at("2024-06-05T00:00:00Z"))).toBeUndefined();
  });

  it("must share a time zone", () => {
    expect(() => new Window("* 1 * * *", "UTC").and(new Window("* 2 * * *", "Europe/Paris"))).toThrow("cannot combine windows of UTC and Europe/Paris");
  });
});

describe("refused expressions and zones", () => {
  it.each([
    ["* 25 * * *", `"* 25 * * *" is not a cron expression (hour 25 out of range)`],
    ["60 * * * *", `"60 * * * *" is not a cron expression (minute 60 out of range)`],
    ["* * * 13 *", `"* * * 13 *" is not a cron expression (month 13 out of range)`],
    ["* * * * 8", `"* * * * 8" is not a cron expression (day-of-week 8 out of range)`],
    ["* * 0 * *", `"* * 0 * *" is not a cron expression (day-of-month 0 out of range)`],
    ["* 20-25 * * *", `"* 20-25 * * *" is not a cron expression (hour 25 out of range)`],
    ["*/0 * * * *", `"*/0 * * * *" is not a cron expression (minute "*/0" is not valid)`],
    ["* * 31 2 *", `"* * 31 2 *" is not a cron expression (day-of-month 31 never comes in the months it names)`],
    ["* * * *", `"* * * *" is not a cron expression (4 fields; a window has 5: minute hour day-of-month month day-of-week)`],
    ["0 * * * * *", `"0 * * * * *" is not a window (6 fields: a window is made of whole minutes, leave out the seconds)`],
    ["@daily", `"@daily" is not a window (a nickname names a moment; write the minutes, e.g. "* 1-5 * * *")`],
    ["1.5 * * * *", `"1.5 * * * *" is not a cron expression ("." has no meaning in cron)`],
    ["", `"" is not a cron expression (it is empty)`],
  ])("%j", (expr, message) => {
    expect(() => new Window(expr, "UTC")).toThrow(message);
  });

  it("a time zone Intl does not know", () => {
    expect(() => new Window("* * * * *", "Mars/Base")).toThrow(`"Mars/Base" is not a time zone (use an IANA name such as "Europe/Paris" or "UTC")`);
  });

  it("without a zone, the system's", () => {
    expect(new Window("* * * * *").timeZone).toBe(new Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});

// Pieces of expressions, including wrapping ranges, steps, names and the L/W/# extensions.
const field = {
  minute: fc.constantFrom("*", "*/15", "0-29", "5,35", "45-15", "7", "*/7"),
  hour: fc.constantFrom("*", "1-5", "22-2", "9-17", "*/6", "2", "0,12"),
  dom: fc.constantFrom("*", "1-7", "13", "L", "15W", "1,15", "L-2", "29"),
  month: fc.constantFrom("*", "1-6", "mar,oct", "12", "*/2"),
  dow: fc.constantFrom("*", "1-5", "0,6", "5", "1#2", "5L", "sun", "mon-fri"),
};
const ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns"] as const;
const expression = fc.tuple(field.minute, field.hour, field.dom, field.month, field.dow).map((f) => f.join(" "));
// Instants around 2023-2026, biased towards daylight saving changes.
const DST_EDGES = ["2024-03-31T01:00:00Z", "2024-10-27T01:00:00Z", "2024-03-10T07:00:00Z", "2024-11-03T06:00:00Z", "2024-04-06T15:00:00Z", "2024-10-05T15:30:00Z"].map((s) => Date.parse(s));
const instant = fc.oneof(
  fc.integer({ min: Date.parse("2023-01-01T00:00:00Z") / MINUTE, max: Date.parse("2026-12-31T00:00:00Z") / MINUTE }).map((m) => m * MINUTE),
  fc.tuple(fc.constantFrom(...DST_EDGES), fc.integer({ min: -180, max: 180 })).map(([t, m]) => t + m * MINUTE),
);

describe("agrees with node-cron", () => {
  it("isOpen is node-cron's match, for any expression, zone and minute", () => {
    fc.assert(
      fc.property(expression, fc.constantFrom(...ZONES), fc.array(instant, { minLength: 1, maxLength: 20 }), (expr, zone, times) => {
        const task = createTask(expr, () => {}, { timezone: zone });
        try {
          const w = new Window(expr, zone);
          for (const t of times) expect(w.isOpen(new Date(t)), `${expr} ${zone} ${new Date(t).toISOString()}`).toBe(task.match(new Date(t)));
        } finally {
          void task.destroy();
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("nextOpen and nextClose", () => {
  /** The answer walking minute by minute (over `days` days at most). */
  function scan(w: Window, from: number, open: boolean, days: number): number | undefined {
    if (w.isOpen(new Date(from)) === open) return from;
    for (let t = Math.floor(from / MINUTE) * MINUTE + MINUTE; t <= from + days * 1440 * MINUTE; t += MINUTE) if (w.isOpen(new Date(t)) === open) return t;
    return undefined;
  }
  const frequent = fc.tuple(field.minute, field.hour, fc.constantFrom("*", "L", "1-7"), fc.constant("*"), fc.constantFrom("*", "1-5", "0,6")).map((f) => f.join(" "));

  it("are the first minute a minute-by-minute walk finds", () => {
    fc.assert(
      fc.property(frequent, fc.constantFrom(...ZONES), instant, fc.integer({ min: 0, max: MINUTE - 1 }), (expr, zone, t0, ms) => {
        const w = new Window(expr, zone);
        const from = t0 + ms;
        for (const open of [true, false]) {
          const want = scan(w, from, open, 2);
          const got = (open ? w.nextOpen(new Date(from)) : w.nextClose(new Date(from)))?.getTime();
          if (want !== undefined) expect(got, `${open ? "nextOpen" : "nextClose"} ${expr} ${zone} ${new Date(from).toISOString()}`).toBe(want);
          else expect(got === undefined || got > from + 2 * 1440 * MINUTE).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("the wall-clock search skips what cannot match (Cron.nextMatch is exact on the calendar)", () => {
    const c = Cron.parse("30 4 29 2 *");
    expect(new Date(c.nextMatch(Date.UTC(2024, 2, 1), Date.UTC(2030, 0, 1)) ?? 0).toISOString()).toBe("2028-02-29T04:30:00.000Z");
    expect(c.nextMatch(Date.UTC(2024, 2, 1), Date.UTC(2027, 0, 1))).toBeUndefined();
    expect(Cron.parse("* * * * *").nextMiss(Date.UTC(2024, 0, 1), Date.UTC(2030, 0, 1))).toBeUndefined();
    expect(new Date(Cron.parse("* 0-22 * * *").nextMiss(Date.UTC(2024, 0, 1), Date.UTC(2030, 0, 1)) ?? 0).toISOString()).toBe("2024-01-01T23:00:00.000Z");
  });
});
