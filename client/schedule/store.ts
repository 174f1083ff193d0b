/**
 * The device's scheduling policy on disk: `schedule.json` in its configuration folder
 * (client/home.ts), the document policy.ts describes, as a person would write it. Absent: the
 * default policy. Every change (`xshare config`) is validated as a whole before it is written,
 * and written atomically (a temporary file, then a rename), so a bad value changes nothing and
 * a crash never leaves half a file.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Home } from "../home.ts";
import { DEFAULT_POLICY, parsePolicy, parsePolicyText, type PolicyDocument, type SchedulePolicy } from "./policy.ts";

export const POLICY_FILE = "schedule.json";

export function policyFile(home: Home): string {
  return join(home.configDir, POLICY_FILE);
}

/** The document as stored (`{}` when there is none); throws PolicyError when it is not valid. */
export async function readPolicyDocument(home: Home): Promise<PolicyDocument> {
  const file = policyFile(home);
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (text === undefined) return {};
  parsePolicyText(text, file);
  return JSON.parse(text) as PolicyDocument;
}

/** The policy in force: the stored one, or the default. */
export async function loadPolicy(home: Home): Promise<SchedulePolicy> {
  const doc = await readPolicyDocument(home);
  return Object.keys(doc).length === 0 ? DEFAULT_POLICY : parsePolicy(doc, policyFile(home));
}

/** Validates `doc` whole, then replaces the stored document with it; `{}` removes the file. */
export async function writePolicyDocument(home: Home, doc: PolicyDocument): Promise<SchedulePolicy> {
  const file = policyFile(home);
  const policy = parsePolicy(doc, file);
  if (Object.keys(doc).length === 0) {
    await rm(file, { force: true });
    return policy;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return policy;
}

/**
 * The stored policy, or undefined when there is no schedule.json (or it is `{}`): a device
 * without one keeps the engine's unscheduled path. Throws PolicyError when it is not valid.
 */
export async function loadStoredPolicy(home: Home): Promise<SchedulePolicy | undefined> {
  const doc = await readPolicyDocument(home);
  return Object.keys(doc).length === 0 ? undefined : parsePolicy(doc, policyFile(home));
}
