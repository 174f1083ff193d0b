// `xshare`: command-line entry of the sharing client (bin/xshare.js runs it through tsx).
// Only the program's identity lives here for now; each command is added by the module that
// implements it, and this file stays a thin commander wiring.

import { readFileSync } from "node:fs";
import { Command } from "commander";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

export function createProgram(): Command {
  return new Command("xshare")
    .description(
      [
        "Share folders with the people you already chat with over XMPP.",
        "xshare is the sharing client: it logs in to your ordinary XMPP account (Prosody, ejabberd, ...) under a resource of its own, watches your shared folders and keeps them in sync with their other members through the sharing manager on your server, which holds changes for members who are offline. Conflicting edits are kept, never lost.",
      ].join("\n\n"),
    )
    .version(version, "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "show this help and exit")
    // An unknown option is one line on stderr (no "Did you mean" line, no stack): scripts parse it.
    .showSuggestionAfterError(false)
    // No command given: show what the program is (commands arrive with the modules that need them).
    .action(function (this: Command) {
      this.help();
    });
}

/** Runs the CLI; errors are one line on stderr and exit code 1, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`xshare: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
