// `xshare-component`: command-line entry of the sharing manager (bin/xshare-component.js runs it
// through tsx). It parses options and hands over to main.ts; nothing else lives here.

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
    .option("-c, --config <file>", "JSON configuration file (environment variables XSHARE_* override it)")
    .addHelpText(
      "after",
      `
Settings (JSON key / environment variable, default):
  domain            XSHARE_COMPONENT_DOMAIN     required, e.g. share.example.org
  secret            XSHARE_COMPONENT_SECRET     required, the component_secret in Prosody
  dataDir           XSHARE_DATA_DIR             required, where metadata and chunks live
  service           XSHARE_XMPP_SERVICE         xmpp://127.0.0.1:5347
  http              XSHARE_HTTP_LISTEN          127.0.0.1:5290
  publicUrl         XSHARE_PUBLIC_URL           http://<http>/ (what clients are told to use)
  maxChunkBytes     XSHARE_MAX_CHUNK_BYTES      4194304
  maxFileBytes      XSHARE_MAX_FILE_BYTES       68719476736
  spaceQuotaBytes   XSHARE_SPACE_QUOTA_BYTES    107374182400
  userQuotaBytes    XSHARE_USER_QUOTA_BYTES     107374182400
  maxIqBytes        XSHARE_MAX_IQ_BYTES         33554432 (IQs over HTTP)
  tokenTtlSeconds   XSHARE_TOKEN_TTL_SECONDS    300
  sessionTtlSeconds XSHARE_SESSION_TTL_SECONDS  3600
  gcIntervalSeconds XSHARE_GC_INTERVAL_SECONDS  3600
  gcGraceSeconds    XSHARE_GC_GRACE_SECONDS     86400
  logLevel          XSHARE_LOG_LEVEL            info

Example:
  XSHARE_COMPONENT_DOMAIN=share.example.org XSHARE_COMPONENT_SECRET=... \\
  XSHARE_DATA_DIR=/var/lib/xshare xshare-component`,
    )
    .action(async (opts: { config?: string }) => {
      const { runComponent } = await import("./main.ts");
      await runComponent(opts);
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
