// Runs the real `xshare` program (node bin/xshare.js, with its shebang's flags) as a user would,
// one process per command.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import path from "node:path";
import { shebangFlags } from "./node-flags.ts";
import { REPO_ROOT } from "./prosody.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function xshare(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...shebangFlags("bin/xshare.js"), path.join(REPO_ROOT, "bin/xshare.js"), "--home", home, ...args],
      { cwd: REPO_ROOT, timeout: 120_000, env: { PATH: process.env.PATH ?? "", HOME: home, ...opts.env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like `xshare`, but fails the test with the program's output unless it exits 0. */
export async function ok(home: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await xshare(home, args, opts);
  if (r.code !== 0) throw new Error(`xshare ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

export interface DaemonProcess {
  readonly pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when the output matches `re` (searching from the start), rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  /** SIGTERM (or `signal`), then the exit code; SIGKILL after 20 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const daemons = new Set<ChildProcess>();
process.once("exit", () => {
  for (const d of daemons) d.kill("SIGKILL");
});

/** Starts `xshare run` for a home, as a user would leave it running (`env`: more variables); waits until it is online. */
export async function startDaemon(home: string, args: string[] = [], env: Record<string, string> = {}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [...shebangFlags("bin/xshare.js"), path.join(REPO_ROOT, "bin/xshare.js"), "--home", home, "run", ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: home, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  daemons.add(child);
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const l of listeners) l();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      daemons.delete(child);
      for (const l of listeners) l();
      resolve(code);
    }),
  );
  const waitFor = (re: RegExp, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(out)) {
          done();
          resolve();
        } else if (child.exitCode !== null) {
          done();
          reject(new Error(`xshare run exited (${child.exitCode}) before printing ${re}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`xshare run did not print ${re} within ${ms} ms:\n${out}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  await waitFor(/ online as /);
  return {
    pid: child.pid!,
    output: () => out,
    waitFor,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}
