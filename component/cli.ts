// `xshare-component`: command-line entry of the sharing manager (bin/xshare-component.js runs it
// through tsx). Only the program's identity lives here for now; commands are added as thin
// wirings to the modules that implement them.

import { readFileSync } from "node:fs";
import { Command } from "commander";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

export function createProgram(): Command {
  return new Command("xshare-component")
    .description(
      [
        "The xmpp-share sharing manager: an XEP-0114 external component attached to your XMPP server (e.g. share.example.org next to Prosody).",
        "It keeps every shared space's membership and authoritative index, stores the blocks that some member still lacks and forwards synchronization messages to members who are offline, so folders reach everyone even when they are never online together. File content moves over HTTP with short-lived tokens; control stays on XMPP.",
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
    process.stderr.write(`xshare-component: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
