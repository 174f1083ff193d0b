// Locates Debian's Prosody for the e2e harness and the demo, with a message that says what to do
// when it is missing. `npm test` / `npm run demo` install it first (scripts/ensure-deps.mjs);
// this check covers running vitest or tsx directly.
//
// Never run the `prosody` binary without `--config`: with no config it starts a full server from
// /etc/prosody on every interface. Its version comes from `prosodyctl about`.

import { accessSync, constants } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface ProsodyBinaries {
  prosody: string;
  prosodyctl: string;
}

/** Where Debian's package puts the binaries; PROSODY_BIN_DIR overrides for other layouts. */
const BIN_DIR = process.env["PROSODY_BIN_DIR"] ?? "/usr/bin";

export const PROSODY_MISSING =
  "prosody is missing: run  sudo apt-get install prosody  (or `npm test`, which installs it when run as root)";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns the absolute paths of prosody and prosodyctl, or throws with install instructions. */
export function ensureProsody(): ProsodyBinaries {
  const bins = { prosody: `${BIN_DIR}/prosody`, prosodyctl: `${BIN_DIR}/prosodyctl` };
  if (!executable(bins.prosody) || !executable(bins.prosodyctl)) {
    throw new Error(PROSODY_MISSING);
  }
  return bins;
}

/** "0.12.3", from `prosodyctl about` (safe: prints and exits, starts nothing). */
export async function prosodyVersion(): Promise<string> {
  const { prosodyctl } = ensureProsody();
  const { stdout } = await promisify(execFile)(prosodyctl, ["about"], { timeout: 10_000 });
  const match = /^Prosody (\S+)/m.exec(stdout);
  if (!match?.[1]) throw new Error(`cannot read the Prosody version from \`prosodyctl about\`:\n${stdout}`);
  return match[1];
}
