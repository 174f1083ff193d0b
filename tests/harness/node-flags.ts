// The node flags a program runs with when started as a command: those on its
// `#!/usr/bin/env -S node …` line. Tests and benchmarks start programs with `node <file>`
// (no shebang involved), so they add these to run them exactly as users do.
import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./prosody.ts";

export function shebangFlags(bin: string): string[] {
  const first = readFileSync(path.join(REPO_ROOT, bin), "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!\/usr\/bin\/env -S node (.*)$/.exec(first);
  return m ? m[1]!.split(/\s+/).filter(Boolean) : [];
}
