// `xshare`: command-line entry of the sharing client (bin/xshare.js runs it through tsx).
// Parsing and printing only; every command is implemented in commands.ts.

import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { SHOWS, type Show } from "../protocol/stanzas/sync-signals.ts";
import * as C from "./commands.ts";
import { UsageError } from "./config.ts";
import { resolveHome, type Home } from "./home.ts";
import { terminalProgress } from "./progress.ts";
import { uiCommand } from "./ui/launch.ts";
import { SETTINGS, clearSpace, isSetting, removeRule, setRule, setSetting, setSpace, unsetSetting } from "./schedule/edit.ts";
import { PRIORITIES, describePolicy, type PolicyDocument, type Priority } from "./schedule/policy.ts";
import { POLICY_FILE, loadPolicy, policyFile, readPolicyDocument, writePolicyDocument } from "./schedule/store.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const piece of process.stdin) parts.push(piece as Buffer);
  return Buffer.concat(parts).toString("utf8").replace(/\r?\n$/, "");
}

function print(lines: readonly string[]): void {
  for (const l of lines) process.stdout.write(`${l}\n`);
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function createProgram(): Command {
  const program = new Command("xshare")
    .description(
      [
        "Share folders with the people you already chat with over XMPP.",
        "xshare is the sharing client: it logs in to your ordinary XMPP account (Prosody, ejabberd, ...) under a resource of its own, watches your shared folders and keeps them in sync with their other members through the sharing manager on your server, which holds changes for members who are offline. Conflicting edits are kept, never lost.",
      ].join("\n\n"),
    )
    .version(version, "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "show this help and exit")
    .option("--home <dir>", "keep this device's configuration and state in <dir> (default: XDG directories); two homes are two devices")
    .showSuggestionAfterError(false)
    .addHelpText("after", `
Typical use:
  echo "$PASSWORD" | xshare login alice@example.org --password-stdin
  xshare share ~/Trip --with bob@example.org      # prints the space id
  xshare sync                                     # on every device, or \`xshare run\`
  xshare status; xshare conflicts`);
  const home = (): Home => resolveHome(program.opts<{ home?: string }>().home);

  program
    .command("login <jid>")
    .description("log in with your XMPP account, find the sharing manager, and remember it (config file mode 0600)")
    .option("--password-stdin", "read the password from standard input (else $XSHARE_PASSWORD)")
    .option("--service <uri>", "the XMPP server, xmpp://host:port (default: the JID's domain, port 5222)")
    .option("--device <name>", "this device's name, also its XMPP resource xshare-<name> (default: host name)")
    .option("--component <jid>", "the sharing manager's address (default: discovered on your server)")
    .action(async (jid: string, o: { passwordStdin?: boolean; service?: string; device?: string; component?: string }) => {
      const password = o.passwordStdin ? await readStdin() : process.env.XSHARE_PASSWORD;
      if (!password) throw new UsageError("no password: use --password-stdin or set XSHARE_PASSWORD");
      print(await C.login(home(), jid, { password, ...(o.service ? { service: o.service } : {}), ...(o.device ? { device: o.device } : {}), ...(o.component ? { component: o.component } : {}) }));
    });

  program
    .command("share <folder>")
    .description("share a folder: with one contact (pair), several (group), or as your read-only-for-others folder (--mine); prints the space id")
    .option("--with <jids>", "comma-separated JIDs to share with")
    .option("--group <name>", "make a group space (with a persistent group object) even for one contact")
    .option("--mine", "your own 'my sharing' folder: others receive, only you write")
    .action(async (folder: string, o: { with?: string; group?: string; mine?: boolean }) => print(await C.share(home(), folder, o)));

  program
    .command("spaces")
    .description("list the spaces you belong to and where they are on this device")
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      const rows = await C.spaces(home());
      if (o.json) return json(rows);
      if (rows.length === 0) return print(["no shared spaces yet"]);
      print(rows.map((r) => `${r.id}  ${r.kind.padEnd(5)}  ${r.name}  [${r.members.join(", ")}]  ${r.folder ?? "(not accepted here: xshare accept " + r.id + ")"}`));
    });

  program.command("invite <space> <jid>").description("add a member to a space (mine: owner only; group: adds to the group)").action(async (space: string, jid: string) => print(await C.invite(home(), space, jid)));

  program
    .command("accept <space> [folder]")
    .description("set up a space on this device, in <folder> or laid out under the sharing root as FIG. 3 of the patent: <contact> (their \"my sharing\"), Groups/<name>, Pairs/<contact>/<name>")
    .action(async (space: string, folder?: string) => print(await C.accept(home(), space, folder)));

  program.command("leave <space>").description("leave a space; its folder stays on this device").action(async (space: string) => print(await C.leave(home(), space)));

  program
    .command("sync")
    .description("push local changes and pull remote ones until every space is in sync, then exit")
    .option("--space <id>", "only this space")
    .option("--json", "machine-readable summary (and no progress display)")
    .action(async (o: { space?: string; json?: boolean }) => {
      const progress = terminalProgress(!o.json);
      const reports = await C.sync(home(), { ...(o.space ? { space: o.space } : {}), ...(progress ? { progress } : {}) });
      if (o.json) json(reports);
      else {
        print(reports.map((r) => {
          const extra = [r.conflicts ? `${r.conflicts} conflict(s) kept as copies` : "", r.readOnlySkipped.length ? `${r.readOnlySkipped.length} local change(s) not sent (read-only space)` : "", r.skipped.length ? `${r.skipped.length} path(s) not synced (see status)` : ""].filter(Boolean).join("; ");
          const waiting = r.waiting?.length ? `; ${r.waiting.length} transfer(s) waiting for the schedule (see xshare schedule)` : "";
          return `${r.space}: ${r.status}${r.reason ? ` (${r.reason})` : ""}, ${r.pushed} sent, ${r.pulled} received${extra ? `; ${extra}` : ""}${waiting}`;
        }));
        if (reports.length === 0) print(["no spaces set up on this device"]);
      }
      if (reports.some((r) => r.status !== "in-sync")) process.exitCode = 1;
    });

  program
    .command("run")
    .description("keep every space of this device in sync until stopped (Ctrl-C, SIGTERM): watches the folders, tells the other members' clients about changes, and hears about theirs")
    .option("--delay <ms>", "wait this long after a local change before syncing, so that changes made together go together", "100")
    .option(
      "--keepalive <seconds>",
      "repeat this device's presence to the sharing manager this often, and ping the server (XEP-0199) after this long without hearing from it; no answer within the same time (at least 5 s, at most 20 s) means the connection is dead, and it is made again",
      "60",
    )
    .addOption(new Option("--show <state>", "presence to show; with dnd or xa, changes made elsewhere are fetched only when you are back").choices(SHOWS))
    .option("--quiet", "print nothing but errors")
    .option("--ui-port <port>", "serve the local UI (`xshare ui`) on this port of 127.0.0.1 (default: a free port, new at every start)")
    .option("--no-ui", "serve no local UI")
    .action(async (o: { delay: string; keepalive: string; show?: Show; quiet?: boolean; uiPort?: string; ui: boolean }) => {
      const delayMs = Number(o.delay);
      const keepaliveS = Number(o.keepalive);
      if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > 60_000) throw new UsageError(`--delay must be a number of milliseconds between 0 and 60000, got ${JSON.stringify(o.delay)}`);
      if (!Number.isFinite(keepaliveS) || keepaliveS < 1 || keepaliveS > 86_400) throw new UsageError(`--keepalive must be a number of seconds between 1 and 86400, got ${JSON.stringify(o.keepalive)}`);
      const uiPort = o.uiPort === undefined ? undefined : Number(o.uiPort);
      if (uiPort !== undefined && (!Number.isInteger(uiPort) || uiPort < 1 || uiPort > 65_535)) throw new UsageError(`--ui-port must be a port number between 1 and 65535, got ${JSON.stringify(o.uiPort)}`);
      if (uiPort !== undefined && !o.ui) throw new UsageError("--ui-port and --no-ui contradict each other; give one");
      const log = o.quiet ? undefined : (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      await C.run(home(), { delayMs, keepaliveMs: keepaliveS * 1000, ...(o.show ? { show: o.show } : {}), ...(log ? { log } : {}), ui: o.ui ? (uiPort !== undefined ? { port: uiPort } : {}) : false });
    });

  program
    .command("ui")
    .description("print the link to the local UI of the running `xshare run` (contacts, chat, shared folders; it changes at every start): only this user can read it")
    .option("--open", "open it in the browser (xdg-open)")
    .addHelpText("after", `
The UI is served by \`xshare run\` on 127.0.0.1 only (\`--ui-port\` picks the port, \`--no-ui\`
turns it off). The link carries a secret made at every start; opening it signs the browser in
with a cookie for that run. Other users of this computer and other web sites cannot use it.`)
    .action(async (o: { open?: boolean }) => print(await uiCommand(home(), o)));

  program
    .command("presence <state>")
    .description("what your running `xshare run` shows: available, away, chat, dnd or xa; with dnd or xa it still sends your changes but fetches other people's only when you are back")
    .action(async (state: string) => print(await C.presence(home(), state)));

  program
    .command("status")
    .description("per space: kind, members, folder, in sync or not, changes pending each way, conflicts, the transfers that wait for the schedule (schedule.json), with why and until when, and large transfers paused before the end, with how much is done and why")
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      const rows = await C.status(home());
      if (o.json) return json(rows);
      if (rows.length === 0) return print(["no shared spaces yet"]);
      for (const r of rows) {
        print([`${r.id}  ${r.kind}  ${r.name}  [${r.members.join(", ")}]`, `  folder: ${r.folder ?? "-"}`, `  ${r.status}${r.reason ? ` (${r.reason})` : ""}: ${r.pendingUp} to send, ${r.pendingDown} to receive, ${r.conflicts} conflict(s)`]);
        if (r.online) {
          const who = Object.entries(r.online).map(([m, cs]) => (cs.length ? `${m} (${cs.map((c) => `${c.resource}${c.show ? `, ${c.show}` : ""}`).join("; ")})` : `${m} (no sharing client online: the sharing manager keeps changes for them)`));
          if (who.length) print([`  members' sharing clients: ${who.join(", ")}`]);
        }
        if (r.readOnlyLocalChanges) print([`  ${r.readOnlyLocalChanges} local change(s) will not be sent: the space is read-only for you`]);
        for (const s of r.notSynced) print([`  not synced: ${s.path} (${s.reason})`]);
        for (const w of r.waiting) print([`  waits: ${C.describeQueued(w)}`]);
        for (const p of r.paused) print([`  ${C.describePaused(p)}`]);
      }
    });

  program
    .command("schedule")
    .description("the transfer plan: per space, what a sync would send and receive now, in what order, why, and when (schedule.json's priorities, windows and metered limit)")
    .option("--space <id>", "only this space")
    .option("--json", "machine-readable output")
    .addHelpText("after", `
Transfers are listed in the order they go: what may go now first (by priority, high before
normal before low, then small before large), then what waits for a transfer window, by the
time it opens, then what no time releases (larger than metered-max on a metered connection).
Only file contents are transfers; deletions, folders and conflicts go at once. A download
that waits is read from the index already (only its content waits); an upload that waits is
not committed until it goes. A running \`xshare run\` syncs the space again when the window
opens.

Within one priority, transfers with a higher urgency (0 to 1) go first. Urgency comes from
what the sharing manager records of the space's members (their presence over the last 28
days, XEP-draft.md § 5.15), listed under each space: an upload is more urgent while another
member is offline (they will fetch it from the sharing manager), more still if their
sessions are short; both directions are more urgent when this account's own sessions are
short or it is outside its usual hours. An older sharing manager reports nothing: urgency 0.

The policy is set with \`xshare config\` (see \`xshare config --help\`). Times are read on the
schedule's clock: the system's, moved by XSHARE_CLOCK_OFFSET_MS milliseconds if set (for
trying a schedule: XSHARE_CLOCK_OFFSET_MS=3600000 xshare schedule shows the plan an hour on).`)
    .action(async (o: { space?: string; json?: boolean }) => {
      const rep = await C.schedule(home(), o.space ? { space: o.space } : {});
      if (o.json) return json(rep);
      print([`${rep.file}${rep.exists ? "" : " (absent: the default policy)"}, planned at ${rep.now}:`, ...rep.policy.map((l) => `  ${l}`)]);
      if (rep.spaces.length === 0) return print(["no spaces set up on this device"]);
      for (const sp of rep.spaces) {
        print([`${sp.id}  ${sp.name}  ${sp.folder}`]);
        if (sp.status === "paused") print([`  paused${sp.reason ? ` (${sp.reason})` : ""}: nothing is transferred`]);
        else if (sp.queue.length === 0) print(["  nothing to transfer"]);
        sp.queue.forEach((q, i) => print([`  ${i + 1}. ${C.describeQueued(q)}`]));
        for (const m of sp.contacts ?? []) print([`  member ${C.describeContact(m)}`]);
      }
    });

  program
    .command("conflicts")
    .description("list conflicting edits kept as copies")
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      const rows = await C.conflicts(home());
      if (o.json) return json(rows);
      if (rows.length === 0) return print(["no conflicts"]);
      print(rows.map((c) => `${c.folder ?? c.space}: ${c.path} ⟷ ${c.copy} (this device's version is at the ${c.localAt === "path" ? "original path" : "copy"})`));
    });

  program
    .command("resolve <path>")
    .description("settle a conflict: keep the local version, the remote one, or both")
    .addOption(new Option("--keep <side>", "which version to keep").choices(["local", "remote", "both"]).makeOptionMandatory())
    .action(async (path: string, o: { keep: "local" | "remote" | "both" }) => print(await C.resolveConflict(home(), path, o.keep)));

  const config = program
    .command("config")
    .description(`when, in what order and how fast this device transfers (its ${POLICY_FILE}); without a subcommand, shows the policy`)
    .option("--json", "the stored document, as JSON")
    .action(async (o: { json?: boolean }) => {
      if (o.json) return json(await readPolicyDocument(home()));
      print([`${policyFile(home())}:`, ...describePolicy(await loadPolicy(home())).map((l) => `  ${l}`)]);
    });
  const edit = async (change: (doc: PolicyDocument) => PolicyDocument): Promise<void> => {
    const policy = await writePolicyDocument(home(), change(await readPolicyDocument(home())));
    await C.nudge(home());
    print(describePolicy(policy));
  };
  config
    .command("rule <pattern>")
    .description("priority and transfer window of the paths a pattern matches (gitignore syntax, e.g. '*.mov'); the first rule that matches a path decides")
    .addOption(new Option("--priority <p>", "high, normal or low").choices(PRIORITIES))
    .option("--window <cron>", "transfer only in the minutes this cron expression matches, e.g. '* 1-5 * * *' for 01:00 to 05:59; '' for always")
    .option("--first", "a new rule goes before the others (default: after them)")
    .option("--remove", "remove the rule for this pattern")
    .action(async (pattern: string, o: { priority?: Priority; window?: string; first?: boolean; remove?: boolean }) =>
      edit((doc) => (o.remove ? removeRule(doc, pattern) : setRule(doc, pattern, o))),
    );
  config
    .command("space <space>")
    .description("priority, transfer window and rate caps of one space")
    .addOption(new Option("--priority <p>", "high, normal or low").choices(PRIORITIES))
    .option("--window <cron>", "transfer only in the minutes this cron expression matches, e.g. '* * * * 1-5' for weekdays")
    .option("--upload <rate>", "upload cap for this space, e.g. 500kB/s")
    .option("--download <rate>", "download cap for this space, e.g. 2MB/s")
    .option("--clear", "remove this space's settings")
    .action(async (space: string, o: { priority?: Priority; window?: string; upload?: string; download?: string; clear?: boolean }) =>
      edit((doc) => {
        if (o.clear) return clearSpace(doc, space);
        const { clear: _, ...set } = o;
        return setSpace(doc, space, set);
      }),
    );
  config
    .command("set <setting> <value>")
    .description(`a device-wide setting: ${Object.keys(SETTINGS).join(", ")} (e.g. upload 1MB/s, transfers 2, hash-cpu 0.5, metered on, metered-max 1MiB, timezone Europe/Paris)`)
    .action(async (setting: string, value: string) => {
      if (!isSetting(setting)) throw new UsageError(`unknown setting ${JSON.stringify(setting)}; known: ${Object.keys(SETTINGS).join(", ")}`);
      await edit((doc) => setSetting(doc, setting, value));
    });
  config
    .command("unset <setting>")
    .description("back to the default for a device-wide setting")
    .action(async (setting: string) => {
      if (!isSetting(setting)) throw new UsageError(`unknown setting ${JSON.stringify(setting)}; known: ${Object.keys(SETTINGS).join(", ")}`);
      await edit((doc) => unsetSetting(doc, setting));
    });

  return program;
}

/** Runs the CLI; errors are one line on stderr and a non-zero exit, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`xshare: ${msg.split("\n")[0]}\n`);
    if (!(err instanceof UsageError) && process.env.XSHARE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  }
}
