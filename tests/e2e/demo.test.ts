/**
 * The README's first command, `npm run demo`, in its `--once` form: the patent's story with the
 * real programs, every step reported, exit 0, and nothing left running afterwards.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/prosody.ts";

const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");

function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, ["scripts/demo.ts", ...args], { cwd: REPO_ROOT, timeout: 240_000, env: { PATH: process.env.PATH ?? "" } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Command lines of every running process that mentions `needle`. */
async function processesNaming(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(needle)) found.push(cmd.replaceAll("\0", " "));
  }
  return found;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "xshare-demo-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm run demo -- --once", () => {
  it("plays Adam, Bob and Charlene's story, every step happens, and it stops everything it started", async () => {
    const r = await demo(["--once", "--dir", path.join(dir, "run")]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const steps = [
      "The shared spaces of FIG. 3 are created and accepted",
      "Adam and Bob come online (xshare run); Charlene stays offline",
      "Adam drops a photo into the group folder; Bob, online, receives it at once",
      "Charlene is offline: the sharing manager keeps the photo; she receives it when she comes online",
      'Bob edits a file in his "my sharing"; Adam and Charlene see it, read-only',
      "Adam and Bob edit the same file while Bob is offline: both copies are kept",
    ];
    for (const [i, title] of steps.entries()) expect(r.stdout).toMatch(new RegExp(`^${i + 1}\\. ${title.replace(/[()]/g, "\\$&")}\\n(?:   .*\\n)*   ✓ `, "m"));
    expect(r.stdout).not.toContain("✗");
    expect(r.stdout).toMatch(/\nEvery step happened\.\n$/);
    // The three devices are where --dir said, laid out as FIG. 3; both versions of the edited
    // file are in Charlene's group folder; no daemon, component or Prosody is still running.
    const family = await readdir(path.join(dir, "run", "charlene", "Sharing", "Groups", "Family"));
    expect(family.filter((n) => n.startsWith("shopping.")).length).toBe(2);
    expect(family).toContain("photo.jpg");
    expect(await processesNaming(path.join(dir, "run"))).toEqual([]);
  }, 240_000);

  it("refuses a --dir that already holds something, and starts nothing", async () => {
    const full = path.join(dir, "full");
    await rm(full, { recursive: true, force: true });
    await mkdir(full);
    await writeFile(path.join(full, "keep.txt"), "mine\n");
    const r = await demo(["--once", "--dir", full]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`demo: ${full} is not empty; give --dir a new or empty directory`);
    expect(await readdir(full)).toEqual(["keep.txt"]);
  });
});
