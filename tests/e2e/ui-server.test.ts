/**
 * The local UI around the real `xshare run` (client/ui/launch.ts, server.ts): `xshare ui` prints
 * the link of the running daemon's UI, the link signs a real browser in, the page mounts the
 * modules; without a daemon, or with `--no-ui`, `xshare ui` says why there is no link; the
 * stopped daemon's page is signed out.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../harness/browser.ts";
import { type Cast, startCast } from "../harness/cast.ts";

let cast: Cast;
let browser: Browser;

beforeAll(async () => {
  cast = await startCast(["alice"]);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await cast?.close();
});

describe("xshare ui", () => {
  it("without a running daemon: says to start xshare run, exit 1", async () => {
    const r = await cast.try("alice", ["ui"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no xshare run is running on this device; start it with `xshare run`/);
  });

  it("with --no-ui: says the daemon runs without its UI", async () => {
    await cast.online("alice", ["--delay", "100", "--keepalive", "2", "--no-ui"]);
    try {
      const r = await cast.try("alice", ["ui"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/runs without its UI \(--no-ui\)/);
    } finally {
      await cast.offline("alice");
    }
  });

  it("prints the link, which signs a browser in and shows the account; ui.json is the user's only; stopping signs the page out", async () => {
    const d = await cast.online("alice");
    const url = (await cast.run("alice", ["ui"])).trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?k=[A-Za-z0-9_-]{43}$/);
    const file = path.join(cast.home("alice"), "ui.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toMatchObject({ url, pid: d.pid });
    // The daemon's log names the port, never the secret.
    expect(d.output()).toContain(`local UI at ${new URL(url).origin}/`);
    expect(d.output()).not.toContain(new URL(url).searchParams.get("k")!);

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(url);
    expect(new URL(page.url()).search).toBe(""); // the key left the address bar
    await page.getByText(cast.jid("alice"), { exact: true }).waitFor();
    expect(await page.locator(".presence-select").inputValue()).toBe("available");
    expect(errors).toEqual([]);

    await cast.offline("alice");
    await expect(stat(file)).rejects.toThrow();
    await page.getByText("Connection to xshare run lost; reconnecting…").waitFor({ timeout: 30_000 });
    await context.close();
  }, 90_000);
});
