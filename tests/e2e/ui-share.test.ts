/**
 * The sharing portion of the local UI (client/ui/share/, static/share.js) on the real stack:
 * Prosody, the sharing manager and Alice's and Bob's real `xshare run`, each serving its UI,
 * driven in Debian's chromium. The patent's FIG. 5: a file Bob drops into the folder he shares
 * with Alice makes it gleam in Alice's page without a reload; opening it clears the star. A
 * conflict is resolved from Bob's page and the chosen copy reaches Alice. A space is created,
 * a member invited, the invitation accepted and the space left, all from the pages.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newPage, shot } from "../harness/browser.ts";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";

let cast: Cast;
let browser: Browser;

beforeAll(async () => {
  cast = await startCast(["alice", "bob"]);
  // Alice and Bob are contacts (their rosters, through their chat clients), as in FIG. 5.
  await cast.befriend(await cast.chat("alice"), await cast.chat("bob"));
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cast?.close();
});

/** The person's UI in a browser of their own, signed in through `xshare ui`'s link. */
async function openUi(name: string): Promise<Page> {
  const url = (await cast.run(name, ["ui"])).trim();
  const page = await newPage(browser, { viewport: { width: 1360, height: 860 } });
  await page.goto(url);
  await page.locator(".share .pane-title").first().waitFor();
  return page;
}

const spaceRow = (page: Page, space: string) => page.locator(`.sh-space[data-space="${space}"]`);

describe("the sharing portion", () => {
  it("FIG. 5: Bob's new file makes the folder gleam on Alice's page, live; opening it clears the star", async () => {
    const pair = await cast.pair("alice", "bob", "Work");
    await cast.online("alice");
    await cast.online("bob");
    const page = await openUi("alice");
    const contact = page.locator(`[data-section="contact:${cast.jid("bob")}"]`);
    // Bob in Alice's contacts (the im module), with the folder icon of a contact who shares.
    const bobIcon = page.locator(`li.contact[data-jid="${cast.jid("bob")}"] .share-indicator`);
    await bobIcon.waitFor({ timeout: 30_000 });
    await spaceRow(page, pair.space).waitFor();
    await expect(contact.locator(".sh-section-title .sh-star").count()).resolves.toBe(0);
    // Who sees the gleam of a contact (the im module shows it on the contact, FIG. 5).
    await page.evaluate(() => {
      const w = window as unknown as { xshare: { on(t: string, f: (d: unknown) => void): void }; gleamed: unknown[] };
      w.gleamed = [];
      w.xshare.on("gleam", (d) => w.gleamed.push(d));
    });

    const hostile = "<img src=x onerror=alert(1)>.txt";
    await mkdir(path.join(pair.other, "photos"), { recursive: true });
    const t0 = Date.now();
    await writeFile(path.join(pair.other, "photos", "beach.jpg"), "sand and sea");
    await writeFile(path.join(pair.other, "photos", hostile), "just text");
    await contact.locator(".sh-section-title .sh-star").waitFor({ timeout: 30_000 });
    const gleamMs = Date.now() - t0;
    await page.locator(`li.contact[data-jid="${cast.jid("bob")}"] .share-indicator.gleam`).waitFor();
    const iconMs = Date.now() - t0;
    console.log(`gleam on Alice's page ${gleamMs} ms (Bob's contact icon ${iconMs} ms) after Bob's file was written`);
    await spaceRow(page, pair.space).locator(".sh-star").waitFor();
    const gleamed = await page.evaluate(() => (window as unknown as { gleamed: Array<{ contacts: Record<string, boolean> }> }).gleamed);
    expect(gleamed.at(-1)).toEqual({ contacts: { [cast.jid("bob")]: true } });
    await shot(page, "ui-sharing-gleam");

    // Opening the space: its own star goes; "photos", where the change is, keeps its own.
    await spaceRow(page, pair.space).click();
    const photos = page.locator('.sh-entry-dir[data-path="photos"]');
    await photos.locator(".sh-star").waitFor();
    await expect(page.locator(".sh-space-title .sh-star").count()).resolves.toBe(0);
    await photos.click();
    const file = page.locator('.sh-entry-file[data-path="photos/beach.jpg"]');
    await file.waitFor();
    // The attacker's name is text, never markup.
    await expect(page.locator(".sh-entries img").count()).resolves.toBe(0);
    await expect(page.locator(".sh-entry-name", { hasText: hostile }).count()).resolves.toBe(1);
    await file.click();
    const details = page.locator(".sh-details");
    await details.getByText(cast.jid("bob")).first().waitFor();
    await expect(details.locator("dd").first().textContent()).resolves.toBe("12 B");
    await shot(page, "ui-sharing-details");
    await page.locator(".sh-crumb").first().click();
    await page.locator('.sh-entry-dir[data-path="photos"]').waitFor();
    await expect(page.locator('.sh-entry-dir[data-path="photos"] .sh-star').count()).resolves.toBe(0);
    await page.locator(".sh-back").click();
    await spaceRow(page, pair.space).waitFor();
    await expect(page.locator(".share .sh-star").count()).resolves.toBe(0);
    // Alice's own change gleams nowhere.
    await writeFile(path.join(pair.owner, "notes.txt"), "mine");
    await cast.eventually("Bob has Alice's notes", hasContent(path.join(pair.other, "notes.txt"), "mine"));
    await new Promise((r) => setTimeout(r, 500));
    await expect(page.locator(".share .sh-star").count()).resolves.toBe(0);
    // No gleam on Bob's contact icon either; clicking it (FIG. 5) opens his folder.
    await expect(page.locator(`li.contact[data-jid="${cast.jid("bob")}"] .share-indicator.gleam`).count()).resolves.toBe(0);
    await bobIcon.click();
    await page.locator(".sh-space-title", { hasText: "Work" }).waitFor();
    await cast.offline("alice");
    await cast.offline("bob");
  }, 120_000);

  it("a conflict is resolved from Bob's page, and the copy he chose reaches Alice", async () => {
    const pair = await cast.pair("alice", "bob", "Report");
    await cast.online("alice");
    await cast.online("bob");
    const alicePath = path.join(pair.owner, "report.txt");
    const bobPath = path.join(pair.other, "report.txt");
    await writeFile(alicePath, "first draft");
    await cast.eventually("Bob has the first draft", hasContent(bobPath, "first draft"));
    // Both edit while Bob is offline; Bob's edit is the later one, so it wins the path and
    // Alice's is kept as a conflict copy on Bob's device.
    await cast.offline("bob");
    await writeFile(alicePath, "alice's version");
    const t = Date.now() / 1000;
    await utimes(alicePath, t - 600, t - 600);
    await cast.eventually("the manager has Alice's edit", () => cast.componentDigest(pair.space) === cast.deviceDigest("alice", pair.space));
    await writeFile(bobPath, "bob's version");
    await utimes(bobPath, t - 60, t - 60);
    await cast.online("bob");
    const page = await openUi("bob");
    await spaceRow(page, pair.space).locator(".sh-conflict-count").waitFor({ timeout: 30_000 });
    await cast.eventually("Alice has Bob's winning version", hasContent(alicePath, "bob's version"));
    await spaceRow(page, pair.space).click();
    const conflict = page.locator(".sh-conflict");
    await conflict.waitFor();
    await expect(conflict.textContent()).resolves.toContain("report.txt");
    await shot(page, "ui-sharing-conflict");
    await conflict.locator('[data-keep="remote"]').click();
    await page.locator(".sh-conflict").waitFor({ state: "detached" });
    // The copy Bob kept (Alice's) is at the path on both devices; no conflict copy is left.
    await cast.eventually("Alice has the version Bob chose", hasContent(alicePath, "alice's version"));
    await cast.eventually("Bob has it too", hasContent(bobPath, "alice's version"));
    await cast.eventually("no conflict copy on either side", async () => {
      const names = [...(await readdir(pair.owner)), ...(await readdir(pair.other))];
      return !names.some((n) => n.includes(".sync-conflict-"));
    });
    expect(JSON.parse(await cast.run("bob", ["conflicts", "--json"]))).toEqual([]);
    await cast.offline("alice");
    await cast.offline("bob");
  }, 120_000);

  it("a running transfer's progress is live, and a transfer the schedule holds back says why and until when", async () => {
    const pair = await cast.pair("alice", "bob", "Films");
    // Alice receives at 2 MB/s at most; her videos only at an hour that is not now.
    const hour = (new Date().getUTCHours() + 12) % 24;
    await cast.run("alice", ["config", "set", "download", "2MB/s"]);
    await cast.run("alice", ["config", "set", "timezone", "UTC"]);
    await cast.run("alice", ["config", "rule", "*.mov", "--priority", "low", "--window", `* ${hour} * * *`]);
    await cast.online("alice");
    await cast.online("bob");
    const page = await openUi("alice");
    await spaceRow(page, pair.space).waitFor();
    await writeFile(path.join(pair.other, "big.bin"), randomBytes(8 * 1024 * 1024));
    const progress = spaceRow(page, pair.space).locator(".sh-progress");
    await progress.waitFor({ timeout: 30_000 });
    await expect(progress.textContent()).resolves.toMatch(/↓ [1-9][\d.]* (KB|MB)/);
    await shot(page, "ui-sharing-progress");
    await cast.eventually("Alice has the big file", async () => (await readdir(pair.owner)).includes("big.bin"), 60_000);
    await progress.waitFor({ state: "detached", timeout: 30_000 });

    await writeFile(path.join(pair.other, "holiday.mov"), "a film");
    const row = spaceRow(page, pair.space);
    await row.locator(".sh-status-waiting").waitFor({ timeout: 30_000 });
    const text = await row.locator(".sh-space-sub").textContent();
    expect(text).toContain("receiving holiday.mov waits");
    expect(text).toContain(`until ${String(hour).padStart(2, "0")}:00`);
    await rm(path.join(cast.home("alice"), "schedule.json"));
    await cast.offline("alice");
    await cast.offline("bob");
  }, 120_000);

  it("create a space, invite Bob, Bob accepts from his page, a file reaches him, he leaves; a pair made from the page works both ways", async () => {
    await cast.online("alice");
    await cast.online("bob");
    const alice = await openUi("alice");
    const bob = await openUi("bob");
    await alice.locator(".sh-new").click();
    await alice.locator('select[name="kind"]').selectOption("mine");
    await alice.locator('input[name="name"]').fill("Holiday");
    await alice.locator('.sh-form button[type="submit"]').click();
    await alice.locator(".sh-space-title", { hasText: "My sharing" }).or(alice.locator(".sh-space-title", { hasText: "Holiday" })).waitFor();
    const spaces = JSON.parse(await cast.run("alice", ["spaces", "--json"])) as Array<{ id: string; kind: string; folder: string; members: string[] }>;
    const made = spaces.find((s) => s.kind === "mine")!;
    expect(made.folder).toBe(cast.sharing("alice", "My sharing"));
    await alice.locator('input[name="invite"]').fill(cast.jid("bob"));
    await alice.locator(".sh-invite-form button").click();
    await alice.locator(".sh-member", { hasText: cast.jid("bob") }).waitFor();
    await writeFile(path.join(made.folder, "itinerary.txt"), "Lisbon, then Porto");

    // Bob's page lists the invitation (the sharing manager's list, polled) and accepts it.
    const invite = bob.locator(`.sh-invite[data-space="${made.id}"]`);
    await invite.waitFor({ timeout: 30_000 });
    await shot(bob, "ui-sharing-invitation");
    await invite.getByRole("button", { name: "Accept" }).click();
    await spaceRow(bob, made.id).waitFor();
    const bobFolder = cast.sharing("bob", cast.jid("alice"));
    await cast.eventually("the itinerary reaches Bob", hasContent(path.join(bobFolder, "itinerary.txt"), "Lisbon, then Porto"));
    // In Alice's folder of Bob's page (FIG. 3), read-only for him: no invite there.
    await expect(bob.locator(`[data-section="contact:${cast.jid("alice")}"] .sh-space[data-space="${made.id}"]`).count()).resolves.toBe(1);
    await spaceRow(bob, made.id).click();
    await bob.locator('.sh-entry-file[data-path="itinerary.txt"]').waitFor();
    await expect(bob.locator(".sh-invite-form").count()).resolves.toBe(0);
    // Alice's sharing client is online, and her device is known as hers: the author of the file.
    await bob.locator(".sh-member.on", { hasText: cast.jid("alice") }).waitFor();
    await bob.locator(".sh-crumb").first().click();
    await bob.locator('.sh-entry-file[data-path="itinerary.txt"] .sh-entry-meta', { hasText: cast.jid("alice") }).waitFor();
    await shot(bob, "ui-sharing-space");

    await bob.locator(".sh-leave").click();
    await bob.getByRole("button", { name: "Leave", exact: true }).click();
    await spaceRow(bob, made.id).waitFor({ state: "detached" });
    const after = JSON.parse(await cast.run("alice", ["spaces", "--json"])) as Array<{ id: string; members: string[] }>;
    expect(after.find((s) => s.id === made.id)!.members).toEqual([cast.jid("alice")]);
    // Bob's files stay on his device.
    await expect(readdir(bobFolder)).resolves.toContain("itinerary.txt");

    // A folder with one contact (a pair, "alice/bob"), made from the page: laid out as FIG. 3 on both sides.
    await alice.locator(".sh-back").click();
    await alice.locator(".sh-new").click();
    await alice.locator('select[name="kind"]').selectOption("pair");
    await alice.locator('input[name="name"]').fill("Plans");
    await alice.locator('input[name="with"]').fill(cast.jid("bob"));
    await alice.locator('.sh-form button[type="submit"]').click();
    await alice.locator(".sh-space-title", { hasText: "Plans" }).waitFor();
    const plans = (JSON.parse(await cast.run("alice", ["spaces", "--json"])) as Array<{ id: string; kind: string; name: string; folder: string }>).find((s) => s.name === "Plans")!;
    expect(plans).toMatchObject({ kind: "pair", folder: cast.sharing("alice", "Pairs", cast.jid("bob"), "Plans") });
    const pairInvite = bob.locator(`.sh-invite[data-space="${plans.id}"]`);
    await pairInvite.waitFor({ timeout: 30_000 });
    await pairInvite.getByRole("button", { name: "Accept" }).click();
    await bob.locator(`[data-section="contact:${cast.jid("alice")}"] .sh-space[data-space="${plans.id}"]`, { hasText: "bob/alice: Plans" }).waitFor();
    await writeFile(path.join(cast.sharing("bob", "Pairs", cast.jid("alice"), "Plans"), "idea.txt"), "from Bob");
    await cast.eventually("Bob's idea reaches Alice", hasContent(path.join(plans.folder, "idea.txt"), "from Bob"));
    await cast.offline("alice");
    await cast.offline("bob");
  }, 120_000);
});
