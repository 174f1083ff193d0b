/**
 * The local UI around the real `xshare run` (client/ui/launch.ts, server.ts): `xshare ui` prints
 * the link of the running daemon's UI, the link signs a real browser in, the page mounts the
 * modules; without a daemon, or with `--no-ui`, `xshare ui` says why there is no link; the
 * stopped daemon's page is signed out.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../harness/browser.ts";
import { type Cast, startCast } from "../harness/cast.ts";
import { xshare } from "../harness/cli.ts";

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

  it("prints the link, which signs a browser in and shows the account; ui.json is the user's only; stopping the daemon shows on the page", async () => {
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

  it("--open hands the link to xdg-open", async () => {
    await cast.online("alice");
    const bin = await mkdtemp(path.join(tmpdir(), "xshare-open-"));
    try {
      const got = path.join(bin, "opened");
      await writeFile(path.join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > '${got}'\n`);
      await chmod(path.join(bin, "xdg-open"), 0o755);
      const url = (await cast.run("alice", ["ui"])).trim();
      const r = await xshare(cast.home("alice"), ["ui", "--open"], { env: { PATH: `${bin}:${process.env.PATH ?? ""}` } });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`opening ${url}`);
      await cast.eventually("xdg-open got the link", async () => (await readFile(got, "utf8").catch(() => "")) === url);
    } finally {
      await rm(bin, { recursive: true, force: true });
      await cast.offline("alice");
    }
  });

  it("--ui-port: a restart on the same port has a new secret, and the old page is signed out; a taken port stops the start", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const args = ["--delay", "100", "--keepalive", "2", "--ui-port", String(port)];
    await cast.online("alice", args);
    const first = (await cast.run("alice", ["ui"])).trim();
    expect(new URL(first).port).toBe(String(port));
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(first);
    await page.getByText(cast.jid("alice"), { exact: true }).waitFor();
    await cast.offline("alice");
    await cast.online("alice", args);
    const second = (await cast.run("alice", ["ui"])).trim();
    expect(new URL(second).port).toBe(String(port));
    expect(second).not.toBe(first);
    // The page's event stream reconnects to the new server, which refuses its old cookie.
    await page.getByText("This page is no longer signed in", { exact: false }).waitFor({ timeout: 30_000 });
    await page.goto(first);
    expect(await page.content()).toContain("This page needs its key");
    await page.goto(second);
    await page.getByText(cast.jid("alice"), { exact: true }).waitFor();
    await context.close();
    // Something else holds the port: the start stops with the reason, before logging in.
    await cast.offline("alice");
    const blocker = createServer().listen(port, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    try {
      const r = await cast.try("alice", ["run", "--ui-port", String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the UI port ${port} is in use`);
    } finally {
      blocker.close();
    }
  }, 120_000);
});
