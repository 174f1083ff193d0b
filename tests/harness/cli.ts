// Runs the real `xshare` program (node bin/xshare.js, with its shebang's flags) as a user would,
// one process per command.

import { execFile } from "node:child_process";
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
