/**
 * `xshare config`'s edits of the policy document (pure): each returns a new document and leaves
 * the old one alone; store.ts validates the result whole before anything is written, so these
 * check only what the document's shape cannot say (a rule to remove that is not there, a value
 * that is not a number).
 */
import { UsageError } from "../config.ts";
import { PRIORITIES, type PolicyDocument, type Priority } from "./policy.ts";

/** The device-wide settings `xshare config set` knows, by their command-line names. */
export const SETTINGS = {
  upload: "upload",
  download: "download",
  transfers: "transfers",
  "hash-cpu": "hashCpu",
  metered: "metered",
  "metered-max": "meteredMaxBytes",
  timezone: "timezone",
} as const satisfies Record<string, keyof PolicyDocument>;
export type Setting = keyof typeof SETTINGS;

export function isSetting(s: string): s is Setting {
  return Object.hasOwn(SETTINGS, s);
}

export function checkPriority(p: string): Priority {
  if (!(PRIORITIES as readonly string[]).includes(p)) throw new UsageError(`priority must be one of ${PRIORITIES.join(", ")}, got ${JSON.stringify(p)}`);
  return p as Priority;
}

/** Adds the rule for `match`, or changes it where it is (rules apply in order: `first` puts a new one first). */
export function setRule(doc: PolicyDocument, match: string, o: { priority?: Priority; window?: string; first?: boolean }): PolicyDocument {
  if (o.priority === undefined && o.window === undefined) throw new UsageError("a rule needs --priority or --window (or --remove)");
  const rules = [...(doc.rules ?? [])];
  const at = rules.findIndex((r) => r.match === match);
  const { window: was, ...kept } = rules[at] ?? { match };
  // An empty window is no window: transfers at any time.
  const window = o.window === undefined ? was : o.window || undefined;
  const rule = { ...kept, match, ...(o.priority ? { priority: o.priority } : {}), ...(window !== undefined ? { window } : {}) };
  if (at >= 0) rules[at] = rule;
  else if (o.first) rules.unshift(rule);
  else rules.push(rule);
  return { ...doc, rules };
}

export function removeRule(doc: PolicyDocument, match: string): PolicyDocument {
  const rules = doc.rules ?? [];
  if (!rules.some((r) => r.match === match)) throw new UsageError(`no rule for ${JSON.stringify(match)}${rules.length ? ` (rules: ${rules.map((r) => JSON.stringify(r.match)).join(", ")})` : ""}`);
  const rest = rules.filter((r) => r.match !== match);
  const { rules: _, ...others } = doc;
  return rest.length ? { ...others, rules: rest } : others;
}

export function setSpace(doc: PolicyDocument, space: string, o: { priority?: Priority; window?: string; upload?: string; download?: string }): PolicyDocument {
  const set = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  if (Object.keys(set).length === 0) throw new UsageError("give --priority, --window, --upload or --download (or --clear)");
  const merged: Record<string, unknown> = { ...doc.spaces?.[space], ...set };
  // An empty window is no window.
  if (merged.window === "") delete merged.window;
  return { ...doc, spaces: { ...doc.spaces, [space]: merged } };
}

export function clearSpace(doc: PolicyDocument, space: string): PolicyDocument {
  if (!doc.spaces?.[space]) throw new UsageError(`no settings for space ${space}`);
  const { [space]: _, ...spaces } = doc.spaces;
  const { spaces: __, ...others } = doc;
  return Object.keys(spaces).length ? { ...others, spaces } : others;
}

/** `value` as the document wants it: numbers for transfers and hash-cpu, on/off for metered. */
export function setSetting(doc: PolicyDocument, name: Setting, value: string): PolicyDocument {
  const key = SETTINGS[name];
  let v: string | number | boolean = value;
  if (name === "transfers" || name === "hash-cpu") {
    v = Number(value);
    if (value.trim() === "" || !Number.isFinite(v)) throw new UsageError(`${name} must be a number, got ${JSON.stringify(value)}`);
  } else if (name === "metered") {
    const on = ["on", "true", "yes"].includes(value.toLowerCase());
    if (!on && !["off", "false", "no"].includes(value.toLowerCase())) throw new UsageError(`metered must be on or off, got ${JSON.stringify(value)}`);
    v = on;
  }
  return { ...doc, [key]: v };
}

export function unsetSetting(doc: PolicyDocument, name: Setting): PolicyDocument {
  const { [SETTINGS[name]]: _, ...rest } = doc;
  return rest;
}
