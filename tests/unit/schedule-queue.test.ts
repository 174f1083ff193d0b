/**
 * The queue's order and timing (client/schedule/queue.ts): what may run now comes first, by
 * priority, then small before large; then what waits for its windows, by when; then what no
 * time releases (metered, never open). Times come from a given `now`, never the clock.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePolicy, type PolicyDocument } from "../../client/schedule/policy.ts";
import { formatWhen, plan, wakeAt, type Pending, type Planned } from "../../client/schedule/queue.ts";

const WEDNESDAY = new Date("2024-06-05T10:00:00Z"); // 12:00 in Paris
const policy = (doc: PolicyDocument) => parsePolicy({ timezone: "UTC", ...doc });
const up = (path: string, size: number, more: Partial<Pending> = {}): Pending => ({ space: "s", path, direction: "up", size, ...more });
const paths = (ps: readonly Planned[]) => ps.map((p) => p.item.path);

const MEDIA = policy({
  rules: [
    { match: "*.docx", priority: "high" },
    { match: "*.mov", priority: "low" },
  ],
});

describe("order", () => {
  it("a document is never behind a video, whatever the sizes", () => {
    const out = plan([up("huge.mov", 1), up("tiny.docx", 5e9), up("b.mov", 0), up("a.docx", 10e9)], MEDIA, WEDNESDAY);
    expect(paths(out)).toEqual(["tiny.docx", "a.docx", "b.mov", "huge.mov"]);
    expect(out.map((p) => p.priority)).toEqual(["high", "high", "low", "low"]);
    expect(out[0]?.reason).toBe("high priority (*.docx)");
    expect(out[3]?.reason).toBe("low priority (*.mov)");
  });

  it("high, normal, low; within a priority small before large, then by path", () => {
    const out = plan([up("z.txt", 5), up("a.mov", 5), up("y.txt", 5), up("big.txt", 500), up("x.docx", 9e9), up("a.txt", 1)], MEDIA, WEDNESDAY);
    expect(paths(out)).toEqual(["x.docx", "a.txt", "y.txt", "z.txt", "big.txt", "a.mov"]);
    expect(out.find((p) => p.item.path === "a.txt")?.reason).toBe("normal priority");
  });

  it("runnable ones run now", () => {
    for (const p of plan([up("a.txt", 1), up("b.docx", 1)], MEDIA, WEDNESDAY)) {
      expect(p.timing).toBe("now");
      expect(p.runAt).toEqual(WEDNESDAY);
      expect(p.until).toBeUndefined();
    }
  });

  it("urgency orders within a priority, never across", () => {
    const out = plan([up("a.txt", 1), up("b.txt", 100, { urgency: 0.9 }), up("c.mov", 1, { urgency: 1 }), up("d.docx", 1e6)], MEDIA, WEDNESDAY);
    expect(paths(out)).toEqual(["d.docx", "b.txt", "a.txt", "c.mov"]);
  });

  it("is the same for any order of the same input", () => {
    const items = [up("a.txt", 1), up("b.txt", 1, { space: "t" }), up("b.txt", 1, { direction: "down" }), up("b.txt", 1), up("c.mov", 3), up("d.docx", 2), up("e.docx", 2)];
    const once = plan(items, MEDIA, WEDNESDAY);
    fc.assert(
      fc.property(fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }), (shuffled) => {
        expect(plan(shuffled, MEDIA, WEDNESDAY)).toEqual(once);
      }),
    );
  });

  it("refuses nonsense it is given", () => {
    expect(() => plan([up("a", -1)], MEDIA, WEDNESDAY)).toThrow("pending transfer s/a: size must be a whole number of bytes, got -1");
    expect(() => plan([up("a", 1.5)], MEDIA, WEDNESDAY)).toThrow("pending transfer s/a: size must be a whole number of bytes, got 1.5");
    expect(() => plan([up("a", 1, { urgency: 2 })], MEDIA, WEDNESDAY)).toThrow("pending transfer s/a: urgency must be from 0 to 1, got 2");
  });
});

describe("windows", () => {
  const NIGHTS = policy({ rules: [{ match: "*.mov", priority: "low", window: "* 1-5 * * *" }, { match: "*.docx", priority: "high" }] });

  it("a closed window makes a path wait until it opens, after everything runnable", () => {
    const out = plan([up("film.mov", 1), up("report.docx", 9e9), up("notes.txt", 5)], NIGHTS, WEDNESDAY);
    expect(paths(out)).toEqual(["report.docx", "notes.txt", "film.mov"]);
    const film = out[2];
    expect(film?.timing).toBe("later");
    expect(film?.runAt?.toISOString()).toBe("2024-06-06T01:00:00.000Z");
    expect(film?.reason).toBe("waits for its window * 1-5 * * * until Thu 01:00");
  });

  it("an open window lets it run now, until it closes", () => {
    const out = plan([up("film.mov", 1)], NIGHTS, new Date("2024-06-06T02:30:00Z"));
    expect(out[0]).toMatchObject({ timing: "now", reason: "low priority (*.mov)" });
    expect(out[0]?.until?.toISOString()).toBe("2024-06-06T06:00:00.000Z");
  });

  it("the waiting ones go by when they may start, whatever their priority", () => {
    const p = policy({
      rules: [
        { match: "*.docx", priority: "high", window: "* 20 * * *" },
        { match: "*.mov", priority: "low", window: "* 12-13 * * *" },
      ],
    });
    const out = plan([up("a.docx", 1), up("b.mov", 1), up("c.txt", 1)], p, WEDNESDAY);
    expect(paths(out)).toEqual(["c.txt", "b.mov", "a.docx"]);
    expect(out.map((x) => x.reason)).toEqual(["normal priority", "waits for its window * 12-13 * * * until 12:00", "waits for its window * 20 * * * until 20:00"]);
  });

  it("a rule's window and its space's window combine: both must be open", () => {
    const p = policy({ rules: [{ match: "*.mov", window: "* 1-5 * * *" }], spaces: { s: { window: "* * * * 6" } } });
    const wednesday = plan([up("film.mov", 1), up("notes.txt", 1)], p, WEDNESDAY);
    expect(wednesday.map((x) => [x.item.path, x.runAt?.toISOString(), x.reason])).toEqual([
      ["notes.txt", "2024-06-08T00:00:00.000Z", "waits for its window * * * * 6 until Sat 00:00"],
      ["film.mov", "2024-06-08T01:00:00.000Z", "waits for its windows * 1-5 * * * and * * * * 6 until Sat 01:00"],
    ]);
    // Saturday 00:30: the space's window is open, the rule's not yet; only its rule's window is named.
    const saturday = plan([up("film.mov", 1)], p, new Date("2024-06-08T00:30:00Z"));
    expect(saturday[0]?.reason).toBe("waits for its window * 1-5 * * * until 01:00");
    // Saturday 03:00: both open; it runs until the first closes.
    const open = plan([up("film.mov", 1), up("other.mov", 1, { space: "t" })], p, new Date("2024-06-08T03:00:00Z"));
    expect(open.map((x) => [x.timing, x.until?.toISOString()])).toEqual([
      ["now", "2024-06-08T06:00:00.000Z"],
      ["now", "2024-06-08T06:00:00.000Z"],
    ]);
  });

  it("windows that never open together hold the path", () => {
    const p = policy({ rules: [{ match: "*.mov", window: "* 1 * * *" }], spaces: { s: { window: "* 2 * * *" } } });
    const out = plan([up("film.mov", 1), up("a.txt", 1)], p, WEDNESDAY);
    expect(out.map((x) => [x.item.path, x.timing, x.runAt])).toEqual([
      ["a.txt", "later", new Date("2024-06-06T02:00:00Z")],
      ["film.mov", "held", undefined],
    ]);
    expect(out[1]?.reason).toBe("its windows * 1 * * * and * 2 * * * are not open together within 5 years");
  });

  it("times are told in the policy's time zone", () => {
    const p = parsePolicy({ rules: [{ match: "*.mov", window: "* 1-5 * * *" }], timezone: "Europe/Paris" });
    const out = plan([up("film.mov", 1)], p, WEDNESDAY);
    expect(out[0]?.runAt?.toISOString()).toBe("2024-06-05T23:00:00.000Z");
    expect(out[0]?.reason).toBe("waits for its window * 1-5 * * * until Thu 01:00");
  });

  it("formatWhen: the time today, the weekday within six days, the date beyond", () => {
    const now = new Date("2024-06-05T10:00:00Z");
    expect(formatWhen(new Date("2024-06-05T23:59:00Z"), now, "UTC")).toBe("23:59");
    expect(formatWhen(new Date("2024-06-05T23:59:00Z"), now, "Europe/Paris")).toBe("Thu 01:59");
    expect(formatWhen(new Date("2024-06-10T09:00:00Z"), now, "UTC")).toBe("Mon 09:00");
    expect(formatWhen(new Date("2024-06-12T09:00:00Z"), now, "UTC")).toBe("2024-06-12 09:00");
  });
});

describe("metered", () => {
  const p = policy({ metered: true, meteredMaxBytes: "1MiB", rules: [{ match: "*.docx", priority: "high" }] });

  it("defers everything larger than the limit; the rest runs", () => {
    const out = plan([up("big.docx", 2 ** 20 + 1), up("edge.bin", 2 ** 20), up("small.txt", 10)], p, WEDNESDAY);
    expect(out.map((x) => [x.item.path, x.timing, x.runAt])).toEqual([
      ["small.txt", "now", WEDNESDAY],
      ["edge.bin", "now", WEDNESDAY],
      ["big.docx", "held", undefined],
    ]);
    expect(out[2]?.reason).toBe("metered: larger than 1 MiB");
  });

  it("holds before windows are looked at, and nothing is held when not metered", () => {
    const both = policy({ metered: true, meteredMaxBytes: 0, rules: [{ match: "*.mov", window: "* 1-5 * * *" }] });
    expect(plan([up("film.mov", 1)], both, WEDNESDAY)[0]?.reason).toBe("metered: larger than 0 B");
    expect(plan([up("big.docx", 2 ** 40)], policy({ meteredMaxBytes: 0 }), WEDNESDAY)[0]?.timing).toBe("now");
  });
});

describe("wakeAt", () => {
  it("is the first window opening or closing among the plan", () => {
    const p = policy({ rules: [{ match: "*.mov", window: "* 1-5 * * *" }, { match: "*.docx", window: "* 8-11 * * *" }] });
    const out = plan([up("film.mov", 1), up("report.docx", 1), up("a.txt", 1)], p, WEDNESDAY);
    expect(wakeAt(out)?.toISOString()).toBe("2024-06-05T12:00:00.000Z"); // the .docx window closes
    expect(wakeAt(plan([up("film.mov", 1)], p, WEDNESDAY))?.toISOString()).toBe("2024-06-06T01:00:00.000Z");
    expect(wakeAt(plan([up("a.txt", 1)], p, WEDNESDAY))).toBeUndefined();
  });
});
