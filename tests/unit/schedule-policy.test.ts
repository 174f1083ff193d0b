/**
 * The scheduling policy (client/schedule/policy.ts, units.ts): schedule.json is read, checked
 * field by field with one-line messages naming the field, and says per path which priority and
 * which windows apply (first matching rule; rule priority over space priority; rule and space
 * windows both).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../client/config.ts";
import { classify, DEFAULT_POLICY, describePolicy, formatBytes, parseBytes, parsePolicy, parsePolicyText, parseRate, PolicyError } from "../../client/schedule/policy.ts";

const EXAMPLE = {
  rules: [
    { match: "*.docx", priority: "high" },
    { match: "*.mov", priority: "low", window: "* 1-5 * * *" },
  ],
  spaces: { team: { priority: "high", window: "* * * * 1-5", upload: "1MB/s", download: "2MB/s" } },
  upload: "500kB/s",
  download: "10MB/s",
  transfers: 4,
  hashCpu: 0.5,
  metered: false,
  meteredMaxBytes: "1MiB",
  timezone: "Europe/Paris",
};

describe("sizes and rates", () => {
  it.each([
    ["123", 123],
    [123, 123],
    ["1.5MB", 1_500_000],
    ["64KiB", 65_536],
    ["64kib", 65_536],
    ["64k", 64_000],
    ["2 mb", 2_000_000],
    ["1GiB", 2 ** 30],
    ["1.5 TB", 1.5e12],
    ["10b", 10],
    [".5kB", 500],
    ["0", 0],
  ])("parseBytes(%j) = %d", (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it.each([
    ["2MB/s", 2_000_000],
    ["500kB/s", 500_000],
    ["500 KB / s", 500_000],
    ["1.5MB", 1_500_000],
    ["123", 123],
    [4096, 4096],
  ])("parseRate(%j) = %d", (text, rate) => {
    expect(parseRate(text)).toBe(rate);
  });

  it.each([
    ["1.5.3", `"1.5.3" is not a size (e.g. "1.5MB", "64KiB" or a number of bytes)`],
    ["MB", `"MB" is not a size (e.g. "1.5MB", "64KiB" or a number of bytes)`],
    ["-1", `"-1" is not a size (e.g. "1.5MB", "64KiB" or a number of bytes)`],
    ["1e3", `"1e3" is not a size (e.g. "1.5MB", "64KiB" or a number of bytes)`],
    ["10 Mbit", `"10 Mbit" is not a size (e.g. "1.5MB", "64KiB" or a number of bytes)`],
    ["1KiB/s", `"1KiB/s" is a rate, not a size (leave out the "/s")`],
    [true, `true is not a size (e.g. "1.5MB", "64KiB" or a number of bytes)`],
  ])("parseBytes(%j) refuses: %s", (text, message) => {
    expect(() => parseBytes(text)).toThrow(message);
  });

  it("parseRate refuses 0 and other units of time", () => {
    expect(() => parseRate("0")).toThrow(`"0" is not a rate above 0 (leave the field out for no limit)`);
    expect(() => parseRate("2MB/h")).toThrow(`"2MB/h" is not a rate (e.g. "500kB/s", "2MiB/s" or a number of bytes per second)`);
  });

  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1 kB"],
    [1024, "1 KiB"],
    [1536, "1.5 KiB"],
    [2 ** 20, "1 MiB"],
    [1_000_000, "1 MB"],
    [1_234_567, "1.23 MB"],
    [999_999, "1 MB"],
    [10_000_000, "10 MB"],
    [3 * 2 ** 40, "3 TiB"],
  ])("formatBytes(%d) = %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it("formatBytes reads back within its rounding, and exactly when binary", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (n) => {
        const back = parseBytes(formatBytes(n).replace(" ", ""));
        expect(Math.abs(back - n)).toBeLessThanOrEqual(n * 0.005 + 0.5);
        if (formatBytes(n).includes("i")) expect(back).toBe(n);
      }),
    );
  });
});

describe("parsePolicy", () => {
  it("reads the example", () => {
    const p = parsePolicy(EXAMPLE);
    expect(p.upload).toBe(500_000);
    expect(p.download).toBe(10_000_000);
    expect(p.transfers).toBe(4);
    expect(p.hashCpu).toBe(0.5);
    expect(p.metered).toBe(false);
    expect(p.meteredMaxBytes).toBe(2 ** 20);
    expect(p.timezone).toBe("Europe/Paris");
    expect(p.rules.map((r) => [r.match, r.priority, r.window?.expr])).toEqual([
      ["*.docx", "high", undefined],
      ["*.mov", "low", "* 1-5 * * *"],
    ]);
    expect(p.rules[1]?.window?.timeZone).toBe("Europe/Paris");
    const team = p.spaces.get("team");
    expect([team?.priority, team?.window?.expr, team?.upload, team?.download]).toEqual(["high", "* * * * 1-5", 1_000_000, 2_000_000]);
  });

  it("an empty document is the default policy", () => {
    const p = parsePolicy({});
    expect(p).toEqual({ ...DEFAULT_POLICY });
    expect(p.upload).toBeUndefined();
    expect(p.timezone).toBeUndefined();
    expect(DEFAULT_POLICY).toMatchObject({ rules: [], transfers: 4, hashCpu: 1, metered: false, meteredMaxBytes: 2 ** 20 });
  });

  it("spells the time zone as Intl does", () => {
    expect(parsePolicy({ timezone: "europe/paris" }).timezone).toBe("Europe/Paris");
  });

  it.each([
    [{ rules: [{ match: "*.docx" }, { match: "*.mov", window: "* 25 * * *" }] }, `schedule.json: rules[1].window: "* 25 * * *" is not a cron expression (hour 25 out of range)`],
    [{ rules: [{ match: "*.mov", window: "0 * * * * *" }] }, `schedule.json: rules[0].window: "0 * * * * *" is not a window (6 fields: a window is made of whole minutes, leave out the seconds)`],
    [{ rules: [{ match: "*.mov", window: "@nightly" }] }, `schedule.json: rules[0].window: "@nightly" is not a window (a nickname names a moment; write the minutes, e.g. "* 1-5 * * *")`],
    [{ rules: [{ match: "*.mov", window: 5 }] }, `schedule.json: rules[0].window: 5 is not a cron expression (write it as a string, e.g. "* 1-5 * * *")`],
    [{ rules: [{ match: "*.docx", priority: "urgent" }] }, `schedule.json: rules[0].priority: "urgent" is not a priority (high, normal or low)`],
    [{ rules: [{ match: "*.docx", priorty: "high" }] }, `schedule.json: rules[0]: unknown field "priorty" (known: match, priority, window)`],
    [{ rules: [{ priority: "high" }] }, `schedule.json: rules[0]: needs "match", a gitignore pattern such as "*.docx"`],
    [{ rules: [{ match: "" }] }, `schedule.json: rules[0].match: "" is not a gitignore pattern (one line, e.g. "*.docx" or "photos/")`],
    [{ rules: [{ match: "# a comment" }] }, `schedule.json: rules[0].match: "# a comment" is not a gitignore pattern (one line, e.g. "*.docx" or "photos/")`],
    [{ rules: [{ match: "a\nb" }] }, `schedule.json: rules[0].match: "a\\nb" is not a gitignore pattern (one line, e.g. "*.docx" or "photos/")`],
    [{ rules: [{ match: "!keep.mov" }] }, `schedule.json: rules[0].match: "!keep.mov": a rule cannot be negated; put a rule for the exception before this one`],
    [{ rules: "*.docx" }, `schedule.json: rules: "*.docx" is not a list of rules`],
    [{ rules: ["*.docx"] }, `schedule.json: rules[0]: "*.docx" is not an object`],
    [{ spaces: { team: { window: "* * 30 2 *" } } }, `schedule.json: spaces.team.window: "* * 30 2 *" is not a cron expression (day-of-month 30 never comes in the months it names)`],
    [{ spaces: { "my space": { upload: "fast" } } }, `schedule.json: spaces["my space"].upload: "fast" is not a rate (e.g. "500kB/s", "2MiB/s" or a number of bytes per second)`],
    [{ spaces: { team: { limit: "1MB/s" } } }, `schedule.json: spaces.team: unknown field "limit" (known: priority, window, upload, download)`],
    [{ spaces: [] }, `schedule.json: spaces: [] is not an object`],
    [{ upload: "0" }, `schedule.json: upload: "0" is not a rate above 0 (leave the field out for no limit)`],
    [{ download: "10 Mbit/s" }, `schedule.json: download: "10 Mbit/s" is not a rate (e.g. "500kB/s", "2MiB/s" or a number of bytes per second)`],
    [{ transfers: 0 }, `schedule.json: transfers: 0 is not a whole number from 1 to 64`],
    [{ transfers: 2.5 }, `schedule.json: transfers: 2.5 is not a whole number from 1 to 64`],
    [{ transfers: "4" }, `schedule.json: transfers: "4" is not a whole number from 1 to 64`],
    [{ hashCpu: 0 }, `schedule.json: hashCpu: 0 is not a share of one core (more than 0, at most 1, e.g. 0.5)`],
    [{ hashCpu: 1.5 }, `schedule.json: hashCpu: 1.5 is not a share of one core (more than 0, at most 1, e.g. 0.5)`],
    [{ metered: "yes" }, `schedule.json: metered: "yes" is not true or false`],
    [{ meteredMaxBytes: "1MiB/s" }, `schedule.json: meteredMaxBytes: "1MiB/s" is a rate, not a size (leave out the "/s")`],
    [{ timezone: "Mars/Base" }, `schedule.json: timezone: "Mars/Base" is not a time zone (use an IANA name such as "Europe/Paris" or "UTC")`],
    [{ timezone: 2 }, `schedule.json: timezone: 2 is not a time zone`],
    [{ windows: [] }, `schedule.json: unknown field "windows" (known: rules, spaces, upload, download, transfers, hashCpu, metered, meteredMaxBytes, timezone)`],
    [[], `schedule.json: [] is not an object`],
    [null, `schedule.json: null is not an object`],
  ])("refuses %j", (doc, message) => {
    let err: unknown;
    try {
      parsePolicy(doc);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain("\n");
  });

  it("names the file it was given", () => {
    expect(() => parsePolicy({ transfers: 0 }, "/home/u/.config/xshare/schedule.json")).toThrow(/^\/home\/u\/\.config\/xshare\/schedule\.json: transfers: /);
  });

  it("reads text, and says when it is not JSON", () => {
    expect(parsePolicyText(`{ "transfers": 2 }`).transfers).toBe(2);
    expect(() => parsePolicyText(`{ "transfers": 2, }`)).toThrow(/^schedule\.json: not valid JSON \(.+\)$/);
  });
});

describe("classify: what applies to a path", () => {
  const p = parsePolicy({
    rules: [
      { match: "keep/*.mov" },
      { match: "*.docx", priority: "high" },
      { match: "*.mov", priority: "low", window: "* 1-5 * * *" },
      { match: "raw/", window: "* 22-23 * * *" },
    ],
    spaces: { team: { priority: "high", window: "* * * * 1-5" }, cams: { priority: "low" } },
    timezone: "UTC",
  });

  it("the first rule that matches decides; gitignore syntax, case-insensitive", () => {
    expect(classify(p, "x", "notes/Report.DOCX")).toMatchObject({ priority: "high", because: "*.docx" });
    expect(classify(p, "x", "a/b/film.mov").rule?.match).toBe("*.mov");
    // "keep/*.mov" comes first and sets nothing: the space's priority, no rule window.
    const kept = classify(p, "x", "keep/film.mov");
    expect(kept.rule?.match).toBe("keep/*.mov");
    expect([kept.priority, kept.windows]).toEqual(["normal", []]);
    // A folder pattern covers what is inside.
    expect(classify(p, "x", "raw/2024/img.cr2").windows.map((w) => w.expr)).toEqual(["* 22-23 * * *"]);
  });

  it("the rule's priority wins over the space's, which wins over normal", () => {
    expect(classify(p, "team", "film.mov")).toMatchObject({ priority: "low", because: "*.mov" });
    expect(classify(p, "cams", "a.docx")).toMatchObject({ priority: "high", because: "*.docx" });
    expect(classify(p, "team", "notes.txt")).toMatchObject({ priority: "high", because: "space team" });
    expect(classify(p, "team", "keep/film.mov")).toMatchObject({ priority: "high", because: "space team" });
    expect(classify(p, "other", "notes.txt")).toMatchObject({ priority: "normal", because: "default" });
  });

  it("the rule's window and the space's window both apply", () => {
    expect(classify(p, "team", "film.mov").windows.map((w) => w.expr)).toEqual(["* 1-5 * * *", "* * * * 1-5"]);
    expect(classify(p, "team", "notes.txt").windows.map((w) => w.expr)).toEqual(["* * * * 1-5"]);
    expect(classify(p, "other", "notes.txt").windows).toEqual([]);
  });
});

describe("describePolicy", () => {
  it("says it in lines", () => {
    expect(describePolicy(parsePolicy(EXAMPLE))).toEqual([
      "Rates: upload at most 500 kB/s, download at most 10 MB/s.",
      "At most 4 transfers at a time; hashing uses at most 50% of one core.",
      "Not metered.",
      "Windows are read in Europe/Paris.",
      "Rule 1: *.docx: high priority.",
      "Rule 2: *.mov: low priority, only while * 1-5 * * * matches.",
      "Space team: high priority, only while * * * * 1-5 matches, upload at most 1 MB/s, download at most 2 MB/s.",
    ]);
  });

  it("and the defaults", () => {
    const lines = describePolicy(parsePolicy({ metered: true, meteredMaxBytes: "5MB", transfers: 1 }));
    expect(lines[0]).toBe("Rates: upload unlimited, download unlimited.");
    expect(lines[1]).toBe("At most 1 transfer at a time; hashing uses at most 100% of one core.");
    expect(lines[2]).toBe("Metered connection: transfers larger than 5 MB wait.");
    expect(lines[3]).toMatch(/^Windows are read in the system's time zone \(.+\)\.$/);
    expect(lines[4]).toBe("No rules: every path has normal priority (or its space's).");
  });
});
