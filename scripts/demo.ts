// `npm run demo`: the product end to end on this machine, then everything stopped again.
// Debian's Prosody with docker/prosody/prosody.cfg.lua on free loopback ports, the real sharing
// manager process, and two devices running the real `xshare` CLI: Alice shares a folder with
// Bob while Bob is "offline" (he has not synced), Bob gets it later; both edit the same file,
// both versions are kept.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ok } from "../tests/harness/cli.ts";
import { startComponentProcess, type ComponentProcess } from "../tests/harness/component.ts";
import { prosodyVersion } from "../tests/harness/prosody-check.ts";
import { startProsody, type ProsodyHandle } from "../tests/harness/prosody.ts";

const say = (s: string) => console.log(s);

async function listing(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n !== ".xshare").sort();
  const rows = await Promise.all(names.map(async (n) => `    ${n}: ${JSON.stringify(await readFile(path.join(dir, n), "utf8"))}`));
  return rows.join("\n");
}

async function main(): Promise<void> {
  let prosody: ProsodyHandle | undefined;
  let manager: ComponentProcess | undefined;
  const root = await mkdtemp(path.join(tmpdir(), "xshare-demo-"));
  try {
    const version = await prosodyVersion();
    prosody = await startProsody({ accounts: [["alice", "alice-demo"], ["bob", "bob-demo"]] });
    say(`Prosody ${version} on 127.0.0.1:${prosody.c2sPort} (domain ${prosody.domain})`);
    manager = await startComponentProcess(prosody, { XSHARE_LOG_LEVEL: "info" });
    say(`sharing manager ${prosody.componentDomain} connected (xshare-component, data in ${manager.dataDir})`);

    const alice = path.join(root, "alice");
    const bob = path.join(root, "bob");
    const login = (home: string, user: string) =>
      ok(home, ["login", `${user}@${prosody!.domain}`, "--password-stdin", "--service", prosody!.service, "--device", "demo"], { input: `${user}-demo` });
    say(`$ xshare login alice@${prosody.domain}   → ${(await login(alice, "alice")).trim()}`);
    say(`$ xshare login bob@${prosody.domain}     → ${(await login(bob, "bob")).trim()}`);

    const trip = path.join(root, "Trip");
    await mkdir(trip);
    await writeFile(path.join(trip, "plan.txt"), "Day 1: Lisbon\n");
    await writeFile(path.join(trip, "packing.txt"), "passport, charger\n");
    const space = (await ok(alice, ["share", trip, "--with", `bob@${prosody.domain}`])).trim();
    say(`$ xshare share Trip --with bob@${prosody.domain}   → space ${space}`);
    say(`$ xshare sync (Alice)  → ${(await ok(alice, ["sync"])).trim()}`);
    say("Bob was offline all along; the sharing manager kept everything for him.");
    say(`$ xshare accept ${space} (Bob)  → ${(await ok(bob, ["accept", space])).trim()}`);
    say(`$ xshare sync (Bob)    → ${(await ok(bob, ["sync"])).trim()}`);
    const bobTrip = path.join(bob, "Sharing", `alice@${prosody.domain}`, "Trip");
    say(`Bob's copy:\n${await listing(bobTrip)}`);

    await writeFile(path.join(trip, "plan.txt"), "Day 1: Lisbon\nDay 2: Sintra\n");
    await writeFile(path.join(bobTrip, "plan.txt"), "Day 1: Lisbon\nDay 2: Porto\n");
    say("Both edit plan.txt before syncing again…");
    await ok(alice, ["sync"]);
    say(`$ xshare sync (Bob)    → ${(await ok(bob, ["sync"])).trim()}`);
    await ok(alice, ["sync"]);
    say(`Alice's folder after sync:\n${await listing(trip)}`);
    say(`$ xshare conflicts (Bob) → ${(await ok(bob, ["conflicts"])).trim()}`);
    say("Nothing was lost: both versions are in both folders.");
  } finally {
    await manager?.destroy();
    await prosody?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    process.exit(1);
  },
);
