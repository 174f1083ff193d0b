import { mkdtempSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../client/config.ts";
import { withLock } from "../../client/lock.ts";

describe("sync lock", () => {
  const file = () => join(mkdtempSync(join(tmpdir(), "xshare-lock-")), "sync.lock");

  it("holds the pid while running and releases afterwards, also on failure", async () => {
    const f = file();
    await withLock(f, async () => expect(readFileSync(f, "utf8")).toBe(`${process.pid}\n`));
    expect(existsSync(f)).toBe(false);
    await expect(withLock(f, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(f)).toBe(false);
  });

  it("refuses while another live process holds it", async () => {
    const f = file();
    writeFileSync(f, `${process.ppid}\n`);
    await expect(withLock(f, async () => 1)).rejects.toThrow(UsageError);
    expect(readFileSync(f, "utf8")).toBe(`${process.ppid}\n`);
  });

  it("takes over a lock left by a process that is gone", async () => {
    const f = file();
    writeFileSync(f, "999999999\n");
    expect(await withLock(f, async () => 42)).toBe(42);
  });
});
