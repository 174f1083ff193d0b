/**
 * How long after a member writes a file the folder gleams in another member's local UI (issue
 * 10: "within a second"; the patent's FIG. 5). The real stack (tests/harness/cast.ts): Prosody,
 * the sharing manager, Alice's and Bob's `xshare run`; Alice's UI open in Debian's chromium.
 * Each round Bob writes a file into the folder he shares with Alice; the time is from the write
 * to the star on Bob's section of Alice's page (the page updates by server-sent events, no
 * reload). Alice then opens the space in her page, which clears the star for the next round.
 *
 * Run: npm run bench:gleam [-- rounds=10]. Prints each round and the median and worst.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { launchBrowser } from "../tests/harness/browser.ts";
import { startCast } from "../tests/harness/cast.ts";

const ROUNDS = Number(/^rounds=(\d+)$/.exec(process.argv.slice(2).find((a) => a.startsWith("rounds=")) ?? "")?.[1] ?? 10);

const cast = await startCast(["alice", "bob"]);
const browser = await launchBrowser();
try {
  await cast.befriend(await cast.chat("alice"), await cast.chat("bob"));
  const pair = await cast.pair("alice", "bob", "Work");
  await cast.online("alice");
  await cast.online("bob");
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  await page.goto((await cast.run("alice", ["ui"])).trim());
  const section = page.locator(`[data-section="contact:${cast.jid("bob")}"] .sh-section-title .sh-star`);
  const space = page.locator(`.sh-space[data-space="${pair.space}"]`);
  await space.waitFor({ timeout: 30_000 });
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await writeFile(path.join(pair.other, `note-${i}.txt`), `round ${i}\n`);
    await section.waitFor({ timeout: 30_000 });
    const ms = Math.round(performance.now() - t0);
    times.push(ms);
    console.log(`round ${i + 1}: gleam after ${ms} ms`);
    // Opening the space clears its star (and the section's) for the next round.
    await space.click();
    await page.locator(".sh-back").click();
    await space.waitFor();
    await section.waitFor({ state: "detached", timeout: 30_000 });
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`gleam latency over ${ROUNDS} rounds: median ${sorted[Math.floor(sorted.length / 2)]} ms, best ${sorted[0]} ms, worst ${sorted.at(-1)} ms`);
} finally {
  await browser.close();
  await cast.close();
}
