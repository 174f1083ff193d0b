/**
 * Disk full (issue 7, row 11), with real full disks: size-limited tmpfs mounts (this needs root,
 * as `npm test` has on this project's machines) for Bob's shared folder and for the sharing
 * manager's data directory. When either fills up, the error is reported, the files already
 * there are intact, no temporary file is left, and the sync goes through by itself once there
 * is room again (the mount is grown, as a user would free space).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEMP_PREFIX } from "../../protocol/paths.ts";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";

const MiB = 1024 * 1024;

/**
 * Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as on this project's
 * machines and CI). Elsewhere the two tests are reported as skipped, with this reason, rather
 * than failing for want of a privilege: a full disk cannot be had otherwise.
 */
const canMount = (() => {
  const probe = mkdtempSync(path.join(tmpdir(), "xshare-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "pipe" });
    execFileSync("umount", [probe], { stdio: "pipe" });
    return true;
  } catch {
    console.warn("disk-full.test.ts: cannot mount a tmpfs here (needs root); its tests are skipped");
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();
let cast: Cast;
let mounts: string[] = [];
let scratch: string;

function mountTmpfs(dir: string, mib: number): void {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`this test mounts a size-limited tmpfs and needs root: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? err}`);
  }
  mounts.push(dir);
}
const grow = (dir: string, mib: number) => execFileSync("mount", ["-o", `remount,size=${mib}m`, dir]);

async function temps(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).filter((n) => path.basename(n).startsWith(TEMP_PREFIX));
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "xshare-full-"));
}, 60_000);

afterAll(async () => {
  await cast?.close();
  for (const m of mounts.reverse()) execFileSync("umount", ["-l", m]);
  await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!canMount)("a full disk", () => {
  it("on Bob's side: reported, his files intact, no temporary file, and the file arrives once there is room", async () => {
    cast = await startCast(["adam", "bob"]);
    const bobDir = path.join(scratch, "bob-folder");
    await mkdir(bobDir);
    mountTmpfs(bobDir, 24);
    const adamDir = cast.sharing("adam", "Films");
    await mkdir(adamDir, { recursive: true });
    await writeFile(path.join(adamDir, "small.txt"), "already there\n");
    const space = (await cast.run("adam", ["share", adamDir, "--with", cast.jid("bob")])).trim();
    await cast.run("bob", ["accept", space, bobDir]);
    await cast.online("adam");
    const bob = await cast.online("bob");
    await cast.eventually("Bob has small.txt", hasContent(path.join(bobDir, "small.txt"), "already there\n"));

    const big = randomBytes(40 * MiB);
    await writeFile(path.join(adamDir, "big.bin"), big);
    await bob.waitFor(/sync failed: [^\n]*ENOSPC[^\n]*; retrying/, 60_000);
    expect(await hasContent(path.join(bobDir, "small.txt"), "already there\n")()).toBe(true);
    await cast.eventually("no temporary file is left", async () => (await temps(bobDir)).length === 0);
    expect(bob.output()).not.toMatch(/exited|uncaught/i);

    grow(bobDir, 128);
    await cast.eventually("Bob has big.bin once there is room", hasContent(path.join(bobDir, "big.bin"), big), 120_000);
    expect(await temps(bobDir)).toEqual([]);
  }, 240_000);

  it("on the sharing manager's side: reported to the sender, what it holds intact, and the upload goes through once there is room", async () => {
    await cast?.close();
    const data = path.join(scratch, "component-data");
    await mkdir(data);
    mountTmpfs(data, 24);
    cast = await startCast(["adam", "bob"], { componentEnv: { XSHARE_DATA_DIR: data } });
    const adamDir = cast.sharing("adam", "Films");
    await mkdir(adamDir, { recursive: true });
    await writeFile(path.join(adamDir, "small.txt"), "already there\n");
    const space = (await cast.run("adam", ["share", adamDir, "--with", cast.jid("bob")])).trim();
    const bobDir = await cast.accept("bob", space);
    const adam = await cast.online("adam");
    await cast.online("bob");
    await cast.eventually("Bob has small.txt", hasContent(path.join(bobDir, "small.txt"), "already there\n"));

    const big = randomBytes(40 * MiB);
    await writeFile(path.join(adamDir, "big.bin"), big);
    await adam.waitFor(/sync failed: [^\n]*out of disk space[^\n]*; retrying/, 60_000);
    // Still running and serving, nothing it held lost, nothing half-stored visible to Bob.
    expect(cast.component.pid()).toBeDefined();
    const health = (await fetch(new URL("health", cast.component.output().match(/HTTP (http:\S+) /)![1]!)).then((r) => r.json())) as { xmpp: string };
    expect(health.xmpp).toBe("connected");
    expect(await hasContent(path.join(bobDir, "small.txt"), "already there\n")()).toBe(true);
    expect((await readdir(bobDir)).filter((n) => n !== ".xshare")).toEqual(["small.txt"]);

    grow(data, 256);
    await cast.eventually("Bob has big.bin once the sharing manager has room", hasContent(path.join(bobDir, "big.bin"), big), 120_000);
    await writeFile(path.join(adamDir, "small.txt"), "and more\n");
    await cast.eventually("later changes go on", hasContent(path.join(bobDir, "small.txt"), "and more\n"), 60_000);
  }, 240_000);
});
