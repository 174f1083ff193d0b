// `npm run soak [-- --minutes N --seed S]`: a long run through the real stack (issue 7, row 14).
// Prosody, the sharing manager and three `xshare run` clients (tests/harness/cast.ts) share a
// group folder; for N minutes (default 3) each person makes random changes (new files, edits,
// deletions, renames) while, now and then, one process at a time is restarted: a client with
// SIGTERM or SIGKILL, the sharing manager, or Prosody. Then everything is left to settle, and the
// run checks that every replica and the sharing manager agree and that no byte anyone wrote was
// lost: every content that was last at some path is in every folder, at that path or in a
// conflict copy. It prints the figures it ran with and exits 0 only if all of that holds.
// Not part of `npm test`: it takes minutes.

import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { type Cast, startCast } from "../tests/harness/cast.ts";
import { folderFiles } from "../tests/harness/folder.ts";

const PEOPLE = ["adam", "bob", "charlene"] as const;
type Person = (typeof PEOPLE)[number];

/** A small seeded generator (mulberry32): the same seed, the same run of choices. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Every file of a folder (not the client's state) → its content's hash. */
async function tree(dir: string): Promise<Map<string, string>> {
  return new Map([...(await folderFiles(dir))].map(([p, b]) => [p, sha(b)]));
}

async function main(opts: { minutes: string; seed: string }): Promise<number> {
  const minutes = Number(opts.minutes);
  const seed = Number(opts.seed);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 600) throw new Error(`--minutes must be between 0 and 600, got ${opts.minutes}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be a whole number, got ${opts.seed}`);
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const figures = { operations: 0, writes: 0, deletes: 0, renames: 0, restarts: { clientTerm: 0, clientKill: 0, component: 0, prosody: 0 }, bytesWritten: 0 };
  const cast: Cast = await startCast(PEOPLE, { componentEnv: { XSHARE_LOG_LEVEL: "warn" } });
  try {
    const folder: Record<Person, string> = { adam: cast.sharing("adam", "Groups", "Soak"), bob: "", charlene: "" };
    await mkdir(folder.adam, { recursive: true });
    const space = (await cast.run("adam", ["share", folder.adam, "--with", `${cast.jid("bob")},${cast.jid("charlene")}`, "--group", "Soak"])).trim();
    for (const who of ["bob", "charlene"] as const) folder[who] = (await cast.run(who, ["accept", space])).trim().split(" → ")[1]!;
    for (const who of PEOPLE) await cast.online(who);
    /**
     * The last thing done to each path, in real time, by anyone: a write (its content's hash) or
     * its end (delete, or renamed away). A content that was the last written at its path must
     * survive the settling, at that path or as a conflict copy: whatever it met was older or
     * concurrent, and the conflict rule keeps both. Earlier contents may be legitimately gone.
     */
    const last = new Map<string, string | undefined>();
    const written = new Set<string>();
    const names = Array.from({ length: 24 }, (_, i) => `d${i % 4}/f${i}.txt`);
    const until = Date.now() + minutes * 60_000;
    let nextRestart = Date.now() + 15_000;
    console.log(`soak: ${minutes} min, seed ${seed}, 3 clients, ${names.length} paths; space ${space}`);
    while (Date.now() < until) {
      const who = pick(PEOPLE);
      const dir = folder[who];
      const name = pick(names);
      const at = path.join(dir, name);
      const r = random();
      try {
        if (r < 0.6) {
          const text = `${who} ${figures.operations} ${"x".repeat(Math.floor(random() * 20_000))}\n`;
          await mkdir(path.dirname(at), { recursive: true });
          await writeFile(at, text);
          written.add(sha(text));
          last.set(name, sha(text));
          figures.writes++;
          figures.bytesWritten += text.length;
        } else if (r < 0.8) {
          await rm(at, { force: true });
          last.set(name, undefined);
          figures.deletes++;
        } else {
          const toName = pick(names);
          const to = path.join(dir, toName);
          const moved = sha(await readFile(at));
          await mkdir(path.dirname(to), { recursive: true });
          await rename(at, to);
          last.set(name, undefined);
          last.set(toName, moved);
          figures.renames++;
        }
      } catch {
        // The path was not there (a rename of a deleted file): nothing done.
      }
      figures.operations++;
      if (Date.now() > nextRestart) {
        const what = random();
        if (what < 0.5) {
          const victim = pick(PEOPLE);
          const kill = random() < 0.5;
          if (kill) process.kill(cast.daemon(victim)!.pid, "SIGKILL");
          await cast.online(victim);
          figures.restarts[kill ? "clientKill" : "clientTerm"]++;
        } else if (what < 0.8) {
          await cast.component.stop();
          await cast.component.start();
          figures.restarts.component++;
        } else {
          await cast.prosody.restart();
          figures.restarts.prosody++;
        }
        nextRestart = Date.now() + 10_000 + random() * 20_000;
      }
      await new Promise((res) => setTimeout(res, 50 + random() * 250));
    }
    console.log("soak: changes stopped; waiting for everyone to agree");
    const settled = Date.now();
    let trees: Map<string, string>[] = [];
    // Agreement must hold at two looks a second apart (not a passing moment mid-sync).
    let agreedBefore = "";
    for (;;) {
      trees = await Promise.all(PEOPLE.map((p) => tree(folder[p])));
      const first = JSON.stringify([...trees[0]!].sort());
      const same = trees.every((t) => JSON.stringify([...t].sort()) === first);
      const digests = PEOPLE.every((p) => cast.deviceDigest(p, space) === cast.componentDigest(space));
      if (same && digests && agreedBefore === first + cast.componentDigest(space)) break;
      agreedBefore = same && digests ? first + cast.componentDigest(space) : "";
      if (Date.now() - settled > 5 * 60_000) {
        console.log("soak: FAILED: the replicas did not agree within 5 minutes");
        return 1;
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
    const everywhere = new Set(trees[0]!.values());
    const missing = [...last].filter(([, h]) => h !== undefined && !everywhere.has(h)).map(([p]) => p);
    const conflicts = [...trees[0]!.keys()].filter((k) => k.includes(".sync-conflict-")).length;
    console.log(
      `soak: ${figures.operations} operations (${figures.writes} writes, ${figures.deletes} deletes, ${figures.renames} renames, ${(figures.bytesWritten / 1e6).toFixed(1)} MB), ` +
        `restarts: ${figures.restarts.clientTerm} client SIGTERM, ${figures.restarts.clientKill} client SIGKILL, ${figures.restarts.component} sharing manager, ${figures.restarts.prosody} Prosody; ` +
        `${trees[0]!.size} files at the end, ${conflicts} conflict copies, settled in ${((Date.now() - settled) / 1000).toFixed(1)} s`,
    );
    if (missing.length > 0) {
      console.log(`soak: FAILED: the last content written at ${missing.length} path(s) is in no folder: ${missing.join(", ")}`);
      return 1;
    }
    console.log(`soak: every replica and the sharing manager agree; nothing lost (${written.size} distinct contents written)`);
    return 0;
  } finally {
    await cast.close();
  }
}

const program = new Command("npm run soak --")
  .description("Random changes by three xshare clients through the real stack, with random restarts, then a check that everyone agrees and nothing was lost")
  .option("--minutes <n>", "how long to make changes", "3")
  .option("--seed <n>", "seed of the random choices (the same seed, the same run of choices)", String(Date.now() % 1_000_000))
  .action(async (opts: { minutes: string; seed: string }) => {
    process.exitCode = await main(opts).catch((err: unknown) => {
      console.error(`soak failed: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    });
  });
await program.parseAsync();
process.exit(process.exitCode ?? 0);
