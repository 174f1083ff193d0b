/**
 * A wrong component secret (issue 7, row 6), against a real Prosody: the sharing manager says
 * so clearly at each attempt, tries again less and less often (5 s, then 10 s, …), stays up with
 * its health check saying the secret was refused, and nothing else happens: Prosody goes on serving
 * its users. SIGTERM still stops it at once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shebangFlags } from "../harness/node-flags.ts";
import { type ProsodyHandle, REPO_ROOT, startProsody } from "../harness/prosody.ts";
import { connectClient, stopEntity } from "../harness/xmpp.ts";

let prosody: ProsodyHandle;
let dataDir: string;
let child: ChildProcess | undefined;
let out = "";

beforeAll(async () => {
  prosody = await startProsody({ accounts: [["alice", "pw"]] });
  dataDir = await mkdtemp(path.join(tmpdir(), "xshare-secret-"));
}, 60_000);

afterAll(async () => {
  child?.kill("SIGKILL");
  await prosody?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Waits until the output matches `re` `count` times. */
async function seen(re: RegExp, count: number, ms = 40_000): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const found = out.match(new RegExp(re.source, "g")) ?? [];
    if (found.length >= count) return found;
    if (Date.now() > until || child?.exitCode !== null) throw new Error(`expected ${count} × ${re}, got ${found.length}:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a wrong component secret", () => {
  it("is reported at every attempt, retried with growing waits, and changes nothing else", async () => {
    child = spawn(process.execPath, [...shebangFlags("bin/xshare-component.js"), path.join(REPO_ROOT, "bin/xshare-component.js")], {
      env: {
        PATH: process.env.PATH ?? "",
        XSHARE_COMPONENT_DOMAIN: prosody.componentDomain,
        XSHARE_COMPONENT_SECRET: "not the secret Prosody has",
        XSHARE_XMPP_SERVICE: prosody.componentService,
        XSHARE_DATA_DIR: dataDir,
        XSHARE_HTTP_LISTEN: "127.0.0.1:0",
        XSHARE_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    const said = await seen(/the XMPP server refused the component secret for [^ ]+ \(check component_secret and XSHARE_COMPONENT_SECRET\); retrying in \d+ s/, 3);
    expect(said.map((l) => Number(/retrying in (\d+) s/.exec(l)![1]))).toEqual([5, 10, 20]);
    expect(said[0]).toContain(prosody.componentDomain);
    // Still running, not claiming to be ready, and its health check says why.
    expect(child.exitCode).toBeNull();
    expect(out).not.toContain("xshare-component ready");
    expect(out).not.toContain("not reachable yet");
    const url = (JSON.parse(out.split("\n").find((l) => l.includes('"HTTP chunk server listening"'))!) as { url: string }).url;
    const health = await fetch(`${url}health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ xmpp: "refused", reason: expect.stringMatching(/refused the component secret/) });
    // Prosody goes on serving everyone else.
    const alice = await connectClient(prosody, "alice", "pw");
    await stopEntity(alice);
    // And SIGTERM ends it, though it never connected.
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 90_000);
});
