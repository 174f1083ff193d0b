/**
 * The user's scheduling policy: schedule.json in the device's config folder, a plain JSON
 * document a person reads and edits (the patent's FIG. 8: when, in what order, how fast).
 *
 *   {
 *     "rules": [ { "match": "*.docx", "priority": "high" },
 *                { "match": "*.mov", "priority": "low", "window": "* 1-5 * * *" } ],
 *     "spaces": { "<space id>": { "priority": "high", "window": "* * * * 1-5",
 *                                 "upload": "1MB/s", "download": "2MB/s" } },
 *     "upload": "500kB/s", "download": "10MB/s",   device-wide caps; absent: unlimited
 *     "transfers": 4,                              concurrent transfers at most
 *     "hashCpu": 0.5,                              share of one core hashing may use, (0, 1]
 *     "metered": false, "meteredMaxBytes": "1MiB", when metered, larger files wait
 *     "timezone": "Europe/Paris"                   for windows; absent: the system's
 *   }
 *
 * What applies to a path (`classify`):
 * - `match` is one gitignore pattern (the `ignore` package, case-insensitive like
 *   .xshareignore; "docs/" covers everything under docs). The FIRST rule that matches decides
 *   the rule part; later rules are not looked at. Put exceptions first ("!" is refused).
 * - Priority: the rule's if it names one, else the space's, else "normal".
 * - Windows: the rule's window and the space's window both apply; a path transfers only while
 *   both are open (one alone applies alone; none: always).
 * - Rates: device-wide and per space, upload and download separately; every cap that applies
 *   holds (see bucket.ts).
 *
 * `parsePolicy` checks everything and throws a `PolicyError`, one line naming the field:
 *   schedule.json: rules[1].window: "* 25 * * *" is not a cron expression (hour 25 out of range)
 * Unknown fields are refused too (a misspelt "priorty" would otherwise do nothing, silently).
 */
import ignore from "ignore";
import { UsageError } from "../config.ts";
import { formatBytes, formatRate, parseBytes, parseRate } from "./units.ts";
import { checkTimeZone, systemTimeZone, Window } from "./window.ts";

export { formatBytes, formatRate, parseBytes, parseRate } from "./units.ts";

export const PRIORITIES = ["high", "normal", "low"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The file's shape, as written (for tools that edit it; `parsePolicy` is the judge). */
export interface PolicyDocument {
  rules?: { match: string; priority?: Priority; window?: string }[];
  spaces?: Record<string, { priority?: Priority; window?: string; upload?: string | number; download?: string | number }>;
  upload?: string | number;
  download?: string | number;
  transfers?: number;
  hashCpu?: number;
  metered?: boolean;
  meteredMaxBytes?: string | number;
  timezone?: string;
}

export interface Rule {
  /** The gitignore pattern, as written. */
  readonly match: string;
  readonly priority?: Priority;
  readonly window?: Window;
  /** Whether the pattern covers `path` (space-relative, "/"-separated). */
  readonly covers: (path: string) => boolean;
}

export interface SpacePolicy {
  readonly priority?: Priority;
  readonly window?: Window;
  /** Bytes per second; undefined: only the device-wide cap. */
  readonly upload?: number;
  readonly download?: number;
}

export interface SchedulePolicy {
  readonly rules: readonly Rule[];
  readonly spaces: ReadonlyMap<string, SpacePolicy>;
  /** Device-wide caps, bytes per second; undefined: unlimited. */
  readonly upload?: number;
  readonly download?: number;
  /** Concurrent transfers at most. */
  readonly transfers: number;
  /** Share of one core the hashing may use, 0 < hashCpu <= 1. */
  readonly hashCpu: number;
  /** On a metered connection, transfers larger than `meteredMaxBytes` wait. */
  readonly metered: boolean;
  readonly meteredMaxBytes: number;
  /** Where windows are read; undefined: the system's time zone. */
  readonly timezone?: string;
}

export const MAX_TRANSFERS = 64;

export const DEFAULT_POLICY: SchedulePolicy = Object.freeze({
  rules: [],
  spaces: new Map(),
  transfers: 4,
  hashCpu: 1,
  metered: false,
  meteredMaxBytes: 2 ** 20,
});

/** schedule.json is wrong; the message is one line, naming the file and the field. */
export class PolicyError extends UsageError {
  override name = "PolicyError";
}

const TOP = ["rules", "spaces", "upload", "download", "transfers", "hashCpu", "metered", "meteredMaxBytes", "timezone"];
const RULE = ["match", "priority", "window"];
const SPACE = ["priority", "window", "upload", "download"];

/** `spaces.abc` or `spaces["a b"]`. */
function spaceField(id: string): string {
  return /^[A-Za-z0-9_-]+$/.test(id) ? `spaces.${id}` : `spaces[${JSON.stringify(id)}]`;
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

class Reader {
  constructor(readonly file: string) {}

  fail(field: string, why: string): never {
    throw new PolicyError(`${this.file}: ${field ? `${field}: ` : ""}${why}`);
  }

  /** `f(value)`, with any Error it throws reported at `field`. */
  at<T>(field: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof PolicyError) throw err;
      return this.fail(field, (err as Error).message);
    }
  }

  /** `v` as an object; with `known`, any other field is refused. */
  object(field: string, v: unknown, known?: readonly string[]): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, `${show(v)} is not an object`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (known && !known.includes(k)) this.fail(field, `unknown field ${JSON.stringify(k)} (known: ${known.join(", ")})`);
    return o;
  }

  priority(field: string, v: unknown): Priority | undefined {
    if (v === undefined) return undefined;
    if (!(PRIORITIES as readonly unknown[]).includes(v)) this.fail(field, `${show(v)} is not a priority (high, normal or low)`);
    return v as Priority;
  }

  window(field: string, v: unknown, timeZone: string | undefined): Window | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== "string") this.fail(field, `${show(v)} is not a cron expression (write it as a string, e.g. "* 1-5 * * *")`);
    return this.at(field, () => new Window(v, timeZone));
  }

  rate(field: string, v: unknown): number | undefined {
    return v === undefined ? undefined : this.at(field, () => parseRate(v));
  }
}

function rule(r: Reader, field: string, v: unknown, timeZone: string | undefined): Rule {
  const o = r.object(field, v, RULE);
  const match = o.match;
  if (match === undefined) r.fail(field, `needs "match", a gitignore pattern such as "*.docx"`);
  if (typeof match !== "string" || match.trim() === "" || /[\r\n]/.test(match) || match.startsWith("#")) {
    r.fail(`${field}.match`, `${show(match)} is not a gitignore pattern (one line, e.g. "*.docx" or "photos/")`);
  }
  if (match.startsWith("!")) r.fail(`${field}.match`, `${show(match)}: a rule cannot be negated; put a rule for the exception before this one`);
  const ig = ignore({ ignorecase: true }).add(match);
  return {
    match,
    ...optional("priority", r.priority(`${field}.priority`, o.priority)),
    ...optional("window", r.window(`${field}.window`, o.window, timeZone)),
    covers: (path) => ig.ignores(path),
  };
}

function space(r: Reader, field: string, v: unknown, timeZone: string | undefined): SpacePolicy {
  const o = r.object(field, v, SPACE);
  return {
    ...optional("priority", r.priority(`${field}.priority`, o.priority)),
    ...optional("window", r.window(`${field}.window`, o.window, timeZone)),
    ...optional("upload", r.rate(`${field}.upload`, o.upload)),
    ...optional("download", r.rate(`${field}.download`, o.download)),
  };
}

/** `{ [key]: value }`, or nothing when undefined (the types say optional, not undefined). */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

/** Checks and reads a parsed schedule.json. `file` names it in messages. Throws `PolicyError`. */
export function parsePolicy(json: unknown, file = "schedule.json"): SchedulePolicy {
  const r: Reader = new Reader(file);
  const o = r.object("", json, TOP);
  let timezone: string | undefined;
  if (o.timezone !== undefined) {
    if (typeof o.timezone !== "string") r.fail("timezone", `${show(o.timezone)} is not a time zone`);
    const tz = o.timezone;
    timezone = r.at("timezone", () => checkTimeZone(tz));
  }
  const rules = o.rules === undefined ? [] : o.rules;
  if (!Array.isArray(rules)) r.fail("rules", `${show(rules)} is not a list of rules`);
  const spaces = new Map<string, SpacePolicy>();
  if (o.spaces !== undefined) {
    for (const [id, v] of Object.entries(r.object("spaces", o.spaces))) {
      if (id === "") r.fail("spaces", `a space id cannot be empty`);
      spaces.set(id, space(r, spaceField(id), v, timezone));
    }
  }
  let transfers = DEFAULT_POLICY.transfers;
  if (o.transfers !== undefined) {
    if (!Number.isInteger(o.transfers) || (o.transfers as number) < 1 || (o.transfers as number) > MAX_TRANSFERS) {
      r.fail("transfers", `${show(o.transfers)} is not a whole number from 1 to ${MAX_TRANSFERS}`);
    }
    transfers = o.transfers as number;
  }
  let hashCpu = DEFAULT_POLICY.hashCpu;
  if (o.hashCpu !== undefined) {
    if (typeof o.hashCpu !== "number" || !(o.hashCpu > 0 && o.hashCpu <= 1)) r.fail("hashCpu", `${show(o.hashCpu)} is not a share of one core (more than 0, at most 1, e.g. 0.5)`);
    hashCpu = o.hashCpu;
  }
  if (o.metered !== undefined && typeof o.metered !== "boolean") r.fail("metered", `${show(o.metered)} is not true or false`);
  const meteredMaxBytes = o.meteredMaxBytes === undefined ? DEFAULT_POLICY.meteredMaxBytes : r.at("meteredMaxBytes", () => parseBytes(o.meteredMaxBytes));
  return {
    rules: rules.map((v, i) => rule(r, `rules[${i}]`, v, timezone)),
    spaces,
    ...optional("upload", r.rate("upload", o.upload)),
    ...optional("download", r.rate("download", o.download)),
    transfers,
    hashCpu,
    metered: o.metered === true,
    meteredMaxBytes,
    ...optional("timezone", timezone),
  };
}

/** `parsePolicy` of the file's text, with invalid JSON reported as such. */
export function parsePolicyText(text: string, file = "schedule.json"): SchedulePolicy {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parsePolicy(json, file);
}

/** What the policy says about one path of one space. */
export interface Classified {
  readonly priority: Priority;
  /** What set the priority, for people: the rule's pattern, `space <id>`, or "default". */
  readonly because: string;
  /** The first rule that covers the path, if any. */
  readonly rule?: Rule;
  /** Every window that applies (rule's, then space's); the path may move while all are open. */
  readonly windows: readonly Window[];
}

/** The policy for `path` (space-relative, "/"-separated, as the index spells it) in `space`. */
export function classify(policy: SchedulePolicy, space: string, path: string): Classified {
  const rule = policy.rules.find((r) => r.covers(path));
  const sp = policy.spaces.get(space);
  const windows = [rule?.window, sp?.window].filter((w): w is Window => w !== undefined);
  const [priority, because] = rule?.priority ? [rule.priority, rule.match] : sp?.priority ? [sp.priority, `space ${space}`] : ["normal" as const, "default"];
  return { priority, because, ...optional("rule", rule), windows };
}

function caps(up: number | undefined, down: number | undefined): string {
  const one = (what: string, v: number | undefined) => `${what} ${v === undefined ? "unlimited" : `at most ${formatRate(v)}`}`;
  return `${one("upload", up)}, ${one("download", down)}`;
}

/** The policy in plain lines, for `xshare schedule` and `xshare config`. */
export function describePolicy(p: SchedulePolicy): string[] {
  const lines = [
    `Rates: ${caps(p.upload, p.download)}.`,
    `At most ${p.transfers} transfer${p.transfers === 1 ? "" : "s"} at a time; hashing uses at most ${Math.round(p.hashCpu * 100)}% of one core.`,
    p.metered ? `Metered connection: transfers larger than ${formatBytes(p.meteredMaxBytes)} wait.` : "Not metered.",
    `Windows are read in ${p.timezone ?? `the system's time zone (${systemTimeZone()})`}.`,
  ];
  if (p.rules.length === 0) lines.push("No rules: every path has normal priority (or its space's).");
  p.rules.forEach((r, i) => {
    const what = [r.priority ? `${r.priority} priority` : "its space's priority", ...(r.window ? [`only while ${r.window.expr} matches`] : [])];
    lines.push(`Rule ${i + 1}: ${r.match}: ${what.join(", ")}.`);
  });
  for (const [id, s] of p.spaces) {
    const what = [
      ...(s.priority ? [`${s.priority} priority`] : []),
      ...(s.window ? [`only while ${s.window.expr} matches`] : []),
      ...(s.upload !== undefined ? [`upload at most ${formatRate(s.upload)}`] : []),
      ...(s.download !== undefined ? [`download at most ${formatRate(s.download)}`] : []),
    ];
    lines.push(`Space ${id}: ${what.length ? what.join(", ") : "nothing special"}.`);
  }
  return lines;
}
