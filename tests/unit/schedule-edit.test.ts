/**
 * The policy document's edits (client/schedule/edit.ts) and its file (client/schedule/store.ts):
 * each edit gives a new document, a bad value is refused with a clear line and changes nothing
 * on disk, and the file is replaced whole.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveHome, type Home } from "../../client/home.ts";
import { clearSpace, removeRule, setRule, setSetting, setSpace, unsetSetting } from "../../client/schedule/edit.ts";
import { DEFAULT_POLICY } from "../../client/schedule/policy.ts";
import { loadPolicy, policyFile, readPolicyDocument, writePolicyDocument } from "../../client/schedule/store.ts";

describe("policy edits", () => {
  it("rules: added in order (or first), changed in place, an empty window removed, removed", () => {
    let doc = setRule({}, "*.mov", { priority: "low", window: "* 1-5 * * *" });
    doc = setRule(doc, "*.docx", { priority: "high", first: true });
    doc = setRule(doc, "*.pdf", { priority: "high" });
    expect(doc.rules!.map((r) => r.match)).toEqual(["*.docx", "*.mov", "*.pdf"]);
    doc = setRule(doc, "*.mov", { priority: "normal" });
    expect(doc.rules![1]).toEqual({ match: "*.mov", priority: "normal", window: "* 1-5 * * *" });
    doc = setRule(doc, "*.mov", { window: "" });
    expect(doc.rules![1]).toEqual({ match: "*.mov", priority: "normal" });
    expect(removeRule(removeRule(removeRule(doc, "*.mov"), "*.pdf"), "*.docx")).toEqual({});
    expect(() => removeRule(doc, "*.txt")).toThrow('no rule for "*.txt" (rules: "*.docx", "*.mov", "*.pdf")');
    expect(() => setRule(doc, "*.txt", {})).toThrow("a rule needs --priority or --window (or --remove)");
  });

  it("spaces and device-wide settings", () => {
    let doc = setSpace({}, "s-1", { priority: "high", upload: "1MB/s" });
    doc = setSpace(doc, "s-1", { window: "* * * * 1-5" });
    expect(doc.spaces).toEqual({ "s-1": { priority: "high", upload: "1MB/s", window: "* * * * 1-5" } });
    expect(clearSpace(doc, "s-1")).toEqual({});
    expect(() => clearSpace({}, "s-2")).toThrow("no settings for space s-2");
    doc = setSetting(setSetting(setSetting({}, "transfers", "2"), "metered", "on"), "hash-cpu", "0.5");
    expect(doc).toEqual({ transfers: 2, metered: true, hashCpu: 0.5 });
    expect(unsetSetting(doc, "metered")).toEqual({ transfers: 2, hashCpu: 0.5 });
    expect(() => setSetting({}, "transfers", "two")).toThrow('transfers must be a number, got "two"');
    expect(() => setSetting({}, "metered", "maybe")).toThrow('metered must be on or off, got "maybe"');
  });
});

describe("the policy file", () => {
  let dir: string;
  let home: Home;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "xshare-schedule-"));
    home = resolveHome(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("absent: the default policy; written whole and read back; {} removes it", async () => {
    expect(await loadPolicy(home)).toBe(DEFAULT_POLICY);
    expect(await readPolicyDocument(home)).toEqual({});
    const doc = setRule({ upload: "1MB/s" }, "*.mov", { priority: "low" });
    await writePolicyDocument(home, doc);
    expect(await readPolicyDocument(home)).toEqual(doc);
    expect((await loadPolicy(home)).upload).toBe(1_000_000);
    expect(await readdir(dir)).toEqual(["schedule.json"]);
    await writePolicyDocument(home, {});
    expect(await readdir(dir)).toEqual([]);
  });

  it("a bad document is refused before anything is written", async () => {
    await writePolicyDocument(home, { transfers: 2 });
    const before = await readFile(policyFile(home), "utf8");
    await expect(writePolicyDocument(home, setRule({}, "*.x", { window: "* 25 * * *" }))).rejects.toThrow(/rules\[0\]\.window: "\* 25 \* \* \*" is not a cron expression \(hour 25 out of range\)/);
    expect(await readFile(policyFile(home), "utf8")).toBe(before);
    expect(await readdir(dir)).toEqual(["schedule.json"]);
  });

  it("a file broken by hand is reported with its name, not taken for the default", async () => {
    await writeFile(policyFile(home), "{ not json");
    await expect(loadPolicy(home)).rejects.toThrow(/schedule\.json/);
  });
});
