// `npm run demo`: the patent's story on this machine, with the real programs. Debian's Prosody
// (docker/prosody/prosody.cfg.lua, free loopback ports), the real sharing manager process, and
// three people, Adam, Bob and Charlene, each with their own `xshare` device (tests/harness/cast.ts):
//
//   1. the shared spaces of FIG. 3: a "Family" group, Bob's "my sharing", a pair folder;
//   2. Adam drops a photo into the group folder; Bob, online, receives it at once (FIG. 6);
//   3. Charlene is offline; the sharing manager keeps the photo; she receives it when she comes
//      online (FIG. 6, FIG. 10);
//   4. Bob edits a file in his "my sharing"; Adam and Charlene see it, read-only (FIG. 7);
//   5. Adam and Bob edit the same file while Bob is offline: both copies are kept, everywhere.
//
// Then it keeps running, so that files dropped into the demo folders travel, until Ctrl-C, which
// stops everything it started. `--once` plays the story and exits: 0 only if every step happened.

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { watch } from "chokidar";
import { Command } from "commander";
import { type Cast, hasContent, startCast } from "../tests/harness/cast.ts";
import { folderFiles } from "../tests/harness/folder.ts";
import { prosodyVersion } from "../tests/harness/prosody-check.ts";
import { stopEntity } from "../tests/harness/xmpp.ts";

const PEOPLE = ["adam", "bob", "charlene"] as const;
type Person = (typeof PEOPLE)[number];
const Name: Record<Person, string> = { adam: "Adam", bob: "Bob", charlene: "Charlene" };

const say = (line = "") => process.stdout.write(`${line}\n`);
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** One step of the story: prints what happened, or why it did not. */
class Story {
  readonly failed: string[] = [];
  #n = 0;
  async step(title: string, body: () => Promise<string | void>): Promise<void> {
    const n = ++this.#n;
    say(`\n${n}. ${title}`);
    try {
      const detail = await body();
      say(`   ✓ ${detail ?? "done"}`);
    } catch (err) {
      const message = (err as Error).message.split("\n");
      say(`   ✗ ${message[0]}`);
      for (const line of message.slice(1, 30)) say(`     ${line}`);
      this.failed.push(`${n}. ${title}`);
    }
  }
}

/** A folder's files (not the client's state), relative, sorted. */
async function files(dir: string): Promise<string[]> {
  return [...(await folderFiles(dir)).keys()];
}

async function play(cast: Cast, story: Story): Promise<Map<string, string>> {
  const jid = (p: Person) => cast.jid(p);
  const spaceNames = new Map<string, string>();
  const family = cast.sharing("adam", "Groups", "Family");
  const bobsOwn = cast.sharing("bob", "My sharing");
  const plans = cast.sharing("adam", "Pairs", jid("bob"), "Plans");
  const copyOf = { family: (p: Person) => cast.sharing(p, "Groups", "Family"), bobs: (p: Person) => cast.sharing(p, jid("bob")) };
  const photo = randomBytes(1_500_000);

  await story.step("The shared spaces of FIG. 3 are created and accepted", async () => {
    await mkdir(family, { recursive: true });
    await writeFile(path.join(family, "shopping.txt"), "bread\n");
    const g = (await cast.run("adam", ["share", family, "--with", `${jid("bob")},${jid("charlene")}`, "--group", "Family"])).trim();
    await mkdir(bobsOwn, { recursive: true });
    await writeFile(path.join(bobsOwn, "recipes.txt"), "Pancakes: flour, milk, eggs\n");
    const m = (await cast.run("bob", ["share", bobsOwn, "--mine", "--with", `${jid("adam")},${jid("charlene")}`])).trim();
    await mkdir(plans, { recursive: true });
    const p = (await cast.run("adam", ["share", plans, "--with", jid("bob")])).trim();
    for (const [id, name] of [[g, "Family (group)"], [m, "Bob's my sharing"], [p, "Plans (Adam/Bob)"]] as const) spaceNames.set(id, name);
    say(`   $ xshare share Groups/Family --with bob,charlene --group Family   (Adam)   → ${g}`);
    say(`   $ xshare share "My sharing" --mine --with adam,charlene           (Bob)    → ${m}`);
    say(`   $ xshare share Pairs/${jid("bob")}/Plans --with bob              (Adam)   → ${p}`);
    for (const [who, ids] of [["bob", [g, m, p]], ["charlene", [g, m]], ["adam", [m]]] as const) {
      for (const id of ids) say(`   $ xshare accept ${id}   (${Name[who]})  → ${(await cast.run(who, ["accept", id])).trim().replace(cast.root + "/", "")}`);
    }
    for (const who of PEOPLE) say(`   ${Name[who]}'s sharing root: ${(await readdir(cast.sharing(who))).sort().join(", ")}`);
    return "each person has a folder per contact's \"my sharing\", per group and per pair";
  });

  await story.step("Adam and Bob come online (xshare run); Charlene stays offline", async () => {
    await cast.online("adam");
    await cast.online("bob");
    await cast.eventually("Bob has the group's shopping list", hasContent(path.join(copyOf.family("bob"), "shopping.txt"), "bread\n"));
    await cast.eventually("Adam has Bob's recipes", hasContent(path.join(copyOf.bobs("adam"), "recipes.txt"), "Pancakes: flour, milk, eggs\n"));
    return "what was shared before they came online is already there";
  });

  await story.step("Adam drops a photo into the group folder; Bob, online, receives it at once", async () => {
    const t = Date.now();
    await writeFile(path.join(family, "photo.jpg"), photo);
    await cast.eventually("Bob receives photo.jpg", hasContent(path.join(copyOf.family("bob"), "photo.jpg"), photo));
    return `Bob has photo.jpg (${(photo.length / 1e6).toFixed(1)} MB) ${seconds(t)} after Adam dropped it`;
  });

  await story.step("Charlene is offline: the sharing manager keeps the photo; she receives it when she comes online", async () => {
    if ((await files(copyOf.family("charlene"))).includes("photo.jpg")) throw new Error("Charlene has the photo although she was offline");
    const status = JSON.parse(await cast.run("adam", ["status", "--json"])) as Array<{ name: string; online?: Record<string, unknown[]> }>;
    const seen = status.find((s) => s.name === "Family")?.online;
    say(`   Adam's xshare status: Bob's sharing client ${seen?.[jid("bob")]?.length ? "online" : "offline"}, Charlene's ${seen?.[jid("charlene")]?.length ? "online" : "offline"}`);
    const t = Date.now();
    await cast.online("charlene");
    await cast.eventually("Charlene receives photo.jpg", hasContent(path.join(copyOf.family("charlene"), "photo.jpg"), photo));
    return `Charlene has photo.jpg ${seconds(t)} after she came online, though Adam and she were never online together before`;
  });

  await story.step("Bob edits a file in his \"my sharing\"; Adam and Charlene see it, read-only", async () => {
    const text = "Pancakes: flour, milk, eggs, a pinch of salt\n";
    const t = Date.now();
    await writeFile(path.join(bobsOwn, "recipes.txt"), text);
    for (const who of ["adam", "charlene"] as const) await cast.eventually(`${Name[who]} sees Bob's edit`, hasContent(path.join(copyOf.bobs(who), "recipes.txt"), text));
    say(`   Adam and Charlene have Bob's edit ${seconds(t)} after he saved it, in their "${jid("bob")}" folder`);
    await writeFile(path.join(copyOf.bobs("adam"), "recipes.txt"), "Adam was here\n");
    await cast.eventually("Adam's client reports his change as not sent", async () => {
      const rows = JSON.parse(await cast.run("adam", ["status", "--json"])) as Array<{ owner: string; kind: string; readOnlyLocalChanges: number }>;
      return rows.some((r) => r.kind === "mine" && r.owner === jid("bob") && r.readOnlyLocalChanges === 1);
    });
    for (const [who, file] of [["bob", path.join(bobsOwn, "recipes.txt")], ["charlene", path.join(copyOf.bobs("charlene"), "recipes.txt")]] as const) {
      if ((await readFile(file, "utf8")) !== text) throw new Error(`Adam's change to Bob's read-only file reached ${Name[who]}`);
    }
    return "Adam's change to his copy stays on his machine (xshare status: 1 local change will not be sent); Bob's and Charlene's are unchanged";
  });

  await story.step("Adam and Bob edit the same file while Bob is offline: both copies are kept", async () => {
    await cast.offline("bob");
    const adams = "bread\nmilk (Adam)\n";
    const bobs = "bread\ncheese (Bob, offline)\n";
    await writeFile(path.join(family, "shopping.txt"), adams);
    await cast.eventually("Charlene receives Adam's edit", hasContent(path.join(copyOf.family("charlene"), "shopping.txt"), adams));
    await writeFile(path.join(copyOf.family("bob"), "shopping.txt"), bobs);
    say("   Bob comes back online…");
    await cast.online("bob");
    const both = async (who: Person) => {
      const dir = copyOf.family(who);
      const names = (await files(dir)).filter((n) => n.startsWith("shopping."));
      const texts = await Promise.all(names.map((n) => readFile(path.join(dir, n), "utf8")));
      return names.length === 2 && texts.includes(adams) && texts.includes(bobs) ? names : undefined;
    };
    for (const who of PEOPLE) await cast.eventually(`${Name[who]} has both versions of shopping.txt`, async () => (await both(who)) !== undefined);
    const conflicts = (await cast.run("bob", ["conflicts"])).trim();
    say(`   every folder: ${(await both("charlene"))!.join(", ")}`);
    for (const line of conflicts.split("\n")) say(`   $ xshare conflicts (Bob)  ${line}`);
    return "nothing was lost: both versions are in Adam's, Bob's and Charlene's folders";
  });
  return spaceNames;
}

/** Prints every change in the demo folders, and the daemons' sync lines, until stopped. */
function watchFolders(cast: Cast, spaceNames: Map<string, string>): () => Promise<void> {
  const watchers = PEOPLE.map((who) => {
    const root = cast.sharing(who);
    const w = watch(root, { ignoreInitial: true, ignored: (p) => path.basename(p).startsWith(".xshare"), awaitWriteFinish: { stabilityThreshold: 200 } });
    const show = (sign: string) => (p: string) => say(`[${Name[who]}] ${sign} ${path.relative(root, p)}`);
    w.on("add", show("+")).on("change", show("~")).on("unlink", show("-")).on("error", () => undefined);
    return w;
  });
  const seen = new Map<Person, number>();
  const timer = setInterval(() => {
    for (const who of PEOPLE) {
      const out = cast.daemon(who)?.output() ?? "";
      const from = seen.get(who) ?? out.length;
      seen.set(who, out.length);
      for (const line of out.slice(from).split("\n").filter(Boolean)) {
        let text = line.replace(/^\S+Z /, "");
        for (const [id, name] of spaceNames) text = text.replaceAll(id, name);
        say(`[${Name[who]}'s xshare] ${text}`);
      }
    }
  }, 250);
  return async () => {
    clearInterval(timer);
    await Promise.all(watchers.map((w) => w.close()));
  };
}

async function main(opts: { once?: boolean; dir?: string }): Promise<number> {
  const root = opts.dir ? path.resolve(opts.dir) : path.join(tmpdir(), `xshare-demo-${process.pid}`);
  if (opts.dir && (await readdir(root).catch(() => [])).length > 0) {
    process.stderr.write(`demo: ${root} is not empty; give --dir a new or empty directory\n`);
    return 2;
  }
  say(`xmpp-share demo: Prosody ${await prosodyVersion()}, the sharing manager and three sharing clients, all on loopback`);
  let cast: Cast | undefined;
  let stopWatching: (() => Promise<void>) | undefined;
  let stopping = false;
  const stopAll = async () => {
    await stopWatching?.();
    await cast?.close();
    if (!opts.dir) await rm(root, { recursive: true, force: true });
  };
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    say("\nStopping everything the demo started…");
    void stopAll().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    cast = await startCast(PEOPLE, { root, componentEnv: { XSHARE_LOG_LEVEL: "warn" } });
    say(`Prosody on ${cast.prosody.service} (domain ${cast.prosody.domain}), sharing manager ${cast.prosody.componentDomain}`);
    say(`Adam, Bob and Charlene logged in with xshare; their devices are under ${root}`);
    // They are contacts, as people who share are (their rosters, made by their chat clients, which
    // then go offline): the local UIs list each other with presence and the sharing indicator.
    const chats = await Promise.all(PEOPLE.map((who) => cast!.chat(who)));
    for (const [a, b] of [[0, 1], [0, 2], [1, 2]] as const) await cast.befriend(chats[a]!, chats[b]!);
    for (const c of chats) await stopEntity(c.xmpp);
    say("Adam, Bob and Charlene are contacts (each one's roster has the other two)");
    const story = new Story();
    const spaceNames = await play(cast, story);
    if (story.failed.length > 0) {
      say(`\nThe story did not play out: ${story.failed.join("; ")}`);
      if (opts.once) return 1;
    } else say("\nEvery step happened.");
    if (opts.once) return 0;
    say("\nThe demo keeps running. Drop files into these folders and watch them travel:");
    for (const who of PEOPLE) say(`  ${Name[who]}: ${cast.sharing(who)}`);
    // What people see (README "The local UI", "Web interface"): each running client's page, and
    // a one-time sign-in link to the sharing manager's web pages.
    say("Each person's local UI (contacts, chat, shared folders), from `xshare ui`:");
    for (const who of PEOPLE) {
      const link = await cast.run(who, ["ui"]).then((out) => out.trim(), () => "(not running now)");
      say(`  ${Name[who]}: ${link}`);
    }
    const web = await cast.run("adam", ["web-login"]).then((out) => out.trim(), (err: Error) => `(no link: ${err.message.split("\n")[0]})`);
    say(`The sharing manager's web interface, signed in as Adam (\`xshare web-login\`, works once): ${web}`);
    say("Press Ctrl-C to stop everything the demo started.\n");
    stopWatching = watchFolders(cast, spaceNames);
    await new Promise<never>(() => undefined);
    return 0;
  } finally {
    if (!stopping) await stopAll();
  }
}

const program = new Command("npm run demo --")
  .description("Play the patent's story with real programs (Prosody, the sharing manager, three xshare clients), then keep running until Ctrl-C")
  .option("--once", "play the story and exit: 0 only if every step happened")
  .option("--dir <dir>", "keep the three devices (homes and shared folders) in this new or empty directory, and leave it there afterwards (default: a temporary directory, removed at the end)")
  .showHelpAfterError()
  .action(async (opts: { once?: boolean; dir?: string }) => {
    process.exitCode = await main(opts).catch((err: unknown) => {
      process.stderr.write(`demo failed: ${err instanceof Error ? err.message.split("\n").slice(0, 20).join("\n") : String(err)}\n`);
      return 1;
    });
  });
await program.parseAsync();
process.exit(process.exitCode ?? 0);
