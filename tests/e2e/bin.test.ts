// The two installed programs, run as a user runs them: `node bin/<name>.js ...` in a child process.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/prosody.ts";

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(bin: string, ...args: string[]): Promise<Run> {
  return runWith({}, bin, ...args);
}

async function runWith(env: Record<string, string>, bin: string, ...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, bin), ...args], {
      cwd: REPO_ROOT,
      timeout: 20_000,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const programs = [
  { name: "xshare", about: /sharing client/ },
  { name: "xshare-component", about: /XEP-0114 external component/ },
] as const;

describe.concurrent.each(programs)("$name", ({ name, about }) => {
  const bin = pkg.bin[name] ?? "";

  it("is declared in package.json with a node shebang, and runs as an executable", async () => {
    expect(bin).toBe(`bin/${name}.js`);
    expect(readFileSync(path.join(REPO_ROOT, bin), "utf8")).toMatch(/^#!\/usr\/bin\/env (node|-S node( --[a-z-]+=\d+)+)\n/);
    // Through the shebang (and its flags), as a shell runs it.
    const { stdout } = await promisify(execFile)(path.join(REPO_ROOT, bin), ["--version"], { cwd: REPO_ROOT, timeout: 20_000 });
    expect(stdout).toBe(`${pkg.version}\n`);
  });

  it("--help describes the program and exits 0", async () => {
    const { code, stdout, stderr } = await run(bin, "--help");
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(new RegExp(`^Usage: ${name} `));
    expect(stdout).toMatch(about);
    expect(stdout).toMatch(/--version/);
  });

  it("--version prints the package version and exits 0", async () => {
    const { code, stdout, stderr } = await run(bin, "--version");
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  it("rejects an unknown option with one line on stderr and no stack trace", async () => {
    const { code, stdout, stderr } = await run(bin, "--no-such-option");
    expect(code).not.toBe(0);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/unknown option '--no-such-option'/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("xshare-component configuration errors", () => {
  const bin = "bin/xshare-component.js";
  const good = { XSHARE_COMPONENT_DOMAIN: "share.example.org", XSHARE_COMPONENT_SECRET: "s3cret-s3cret", XSHARE_DATA_DIR: "/nonexistent/xshare" };

  it.concurrent.each([
    [{ ...good, XSHARE_COMPONENT_SECRET: "" }, /^xshare-component: setting secret .*missing$/],
    [{ ...good, XSHARE_XMPP_SERVICE: "localhost" }, /^xshare-component: setting service \(environment XSHARE_XMPP_SERVICE\): expected xmpp:\/\/host:port/],
    [{ ...good, XSHARE_HTTP_LISTEN: "127.0.0.1:99999" }, /^xshare-component: setting http /],
  ])("stops at start-up with one line naming the setting (%#)", async (env, line) => {
    const { code, stdout, stderr } = await runWith(env, bin);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr.trimEnd()).toMatch(line);
  });

  it("names a missing configuration file", async () => {
    const { code, stderr } = await runWith(good, bin, "--config", "/nonexistent/component.json");
    expect(code).toBe(2);
    expect(stderr.trimEnd()).toBe("xshare-component: cannot read configuration file /nonexistent/component.json: ENOENT");
  });
});
