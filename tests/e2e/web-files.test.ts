/**
 * The web interface to the stored data, against the real stack: Prosody, the sharing manager
 * process and `xshare run` for Alice and Bob, who share the pair folder "Trip"; Debian's
 * chromium (playwright-core) signs in as Alice with the one-time link of `xshare web-login`.
 *
 *   - a file uploaded through the page reaches both members' folders (the web interface is one
 *     more replica: its commit is told to their daemons by SNM, they pull it);
 *   - a file named `<img src=x onerror=alert(1)>.txt`, made on Bob's device, is shown as that
 *     text: no element is made from it and no dialog fires;
 *   - a folder downloads as a zip holding its files;
 *   - a rename and a deletion made in the page reach both folders, and so does a new folder;
 *   - without JavaScript, the upload form posts its files as multipart/form-data, and they arrive;
 *   - an upload from a page shown before Bob changed the same file keeps both versions: the later
 *     one at the name, the other as a conflict copy, in both folders.
 */
import { readFile, readdir, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, shot } from "../harness/browser.ts";
import { type Cast, hasContent, startCast } from "../harness/cast.ts";
import { readZip } from "../unit/fixtures/read-zip.ts";

const HOSTILE = "<img src=x onerror=alert(1)>.txt";
let cast: Cast;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let trip: { space: string; owner: string; other: string };
let spaceUrl = "";
const dialogs: string[] = [];
const pageErrors: string[] = [];
const folders = () => [trip.owner, trip.other];
const exists = (file: string) => () => readFile(file).then(() => true, () => false);

/** The sharing manager's current version of a path: who made it, and whether it is deleted. */
const entry = (p: string) =>
  cast.componentDb((db) => db.prepare("SELECT replica, deleted FROM entries WHERE space_id = ? AND path = ?").get(trip.space, p) as { replica: string; deleted: number } | undefined);

/** Uploads files through the page's form and waits for the page to report on them. */
async function uploadThroughPage(files: Array<{ name: string; content: string }>): Promise<string> {
  await page.setInputFiles("#files", files.map((f) => ({ name: f.name, mimeType: "text/plain", buffer: Buffer.from(f.content) })));
  await Promise.all([page.waitForEvent("load"), page.click("#upload button[type=submit]")]);
  const status = page.locator("#upload-status");
  await status.waitFor({ state: "visible" });
  return (await status.textContent()) ?? "";
}

beforeAll(async () => {
  // A keepalive far beyond the test's waits: the members learn of a web change from the SNM the
  // sharing manager sends them, not from the digests of a periodic presence.
  cast = await startCast(["alice", "bob"], { daemonArgs: ["--delay", "100", "--keepalive", "300"] });
  trip = await cast.pair("alice", "bob", "Trip");
  await writeFile(path.join(trip.owner, "plan.txt"), "day 1: the coast\n");
  await cast.online("alice");
  await cast.online("bob");
  await cast.eventually("plan.txt reaches Bob", hasContent(path.join(trip.other, "plan.txt"), "day 1: the coast\n"), 60_000);
  browser = await launchBrowser();
  context = await browser.newContext({ acceptDownloads: true });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // Sign in the way a user does: the one-time link from `xshare web-login`.
  const link = (await cast.run("alice", ["web-login"])).split("\n")[0]!.trim();
  await page.goto(link);
  await Promise.all([page.waitForURL(/\/web\/$/), page.click("button[type=submit]")]);
  spaceUrl = new URL(`/web/s/${trip.space}/`, page.url()).toString();
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await cast?.close();
});

describe("the web interface to the stored data", () => {
  it("lists Alice's spaces; an upload through the page appears in every member's folder", async () => {
    expect(await page.locator(".space-name").allTextContents()).toEqual(["Trip"]);
    await shot(page, "web-spaces");
    await page.goto(spaceUrl);
    const said = await uploadThroughPage([{ name: "from-the-web.txt", content: "uploaded in a browser\n" }]);
    expect(said).toContain("from-the-web.txt uploaded.");
    for (const f of folders()) await cast.eventually(`the upload reaches ${f}`, hasContent(path.join(f, "from-the-web.txt"), "uploaded in a browser\n"), 60_000);
    expect(entry("from-the-web.txt")?.replica).toMatch(/^web-/);
    await expect(page.locator("tr.file td.name a", { hasText: "from-the-web.txt" }).count()).resolves.toBe(1);
    await shot(page, "web-space");
  }, 120_000);

  it("a file named <img src=x onerror=alert(1)>.txt renders as text: no element, no dialog", async () => {
    await writeFile(path.join(trip.other, HOSTILE), "not markup\n");
    await cast.eventually("Bob's hostile name reaches the sharing manager", () => entry(HOSTILE)?.deleted === 0, 60_000);
    await page.goto(spaceUrl);
    const link = page.locator("tr.file td.name a").filter({ hasText: "onerror" });
    expect(await link.textContent()).toBe(HOSTILE);
    expect(await page.locator("main img").count()).toBe(0);
    // A moment for anything that would run (an onerror fires as soon as the element exists).
    await page.waitForLoadState("networkidle");
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    await shot(page, "web-hostile-name");
  }, 120_000);

  it("a folder downloads as a zip with the right contents", async () => {
    await mkdir(path.join(trip.owner, "Photos", "Day 1"), { recursive: true });
    await writeFile(path.join(trip.owner, "Photos", "beach.txt"), "sand\n");
    await writeFile(path.join(trip.owner, "Photos", "Day 1", "boat.txt"), "waves\n");
    await cast.eventually("the photos reach the sharing manager", () => entry("Photos/Day 1/boat.txt")?.deleted === 0 && entry("Photos/beach.txt")?.deleted === 0, 60_000);
    await page.goto(spaceUrl);
    const row = page.locator("tr.dir", { has: page.locator("td.name a", { hasText: "Photos" }) });
    const [download] = await Promise.all([page.waitForEvent("download"), row.locator("a.act", { hasText: "Zip" }).click()]);
    expect(download.suggestedFilename()).toBe("Photos.zip");
    const zip = readZip(await readFile((await download.path())!));
    expect(zip.filter((e) => !e.dir).map((e) => [e.name, e.data.toString()])).toEqual([
      ["Photos/Day 1/boat.txt", "waves\n"],
      ["Photos/beach.txt", "sand\n"],
    ]);
  }, 120_000);

  it("a rename and a deletion made in the page reach both folders", async () => {
    await page.goto(spaceUrl);
    const row = page.locator("tr.file", { has: page.locator("td.name a", { hasText: "from-the-web.txt" }) });
    await row.locator("summary", { hasText: "Rename" }).click();
    await row.locator("input[name=name]").fill("renamed.txt");
    await Promise.all([page.waitForLoadState("load"), row.locator("form[action$='/rename'] button").click()]);
    for (const f of folders()) {
      await cast.eventually(`the rename reaches ${f}`, async () => (await hasContent(path.join(f, "renamed.txt"), "uploaded in a browser\n")()) && !(await exists(path.join(f, "from-the-web.txt"))()), 60_000);
    }
    await page.goto(spaceUrl);
    const photos = page.locator("tr.dir", { has: page.locator("td.name a", { hasText: "Photos" }) });
    await photos.locator("summary", { hasText: "Delete" }).click();
    await shot(page, "web-delete");
    await Promise.all([page.waitForLoadState("load"), photos.locator("form[action$='/delete'] button").click()]);
    for (const f of folders()) await cast.eventually(`the deletion reaches ${f}`, async () => !(await exists(path.join(f, "Photos", "beach.txt"))()) && !(await exists(path.join(f, "Photos", "Day 1", "boat.txt"))()), 60_000);
    expect(await page.locator("td.name a", { hasText: "Photos" }).count()).toBe(0);
  }, 120_000);

  it("a folder made in the page appears in both folders, and an upload into it", async () => {
    await page.goto(spaceUrl);
    await page.locator(".new-folder summary").click();
    await page.fill(".new-folder input[name=name]", "Notes");
    await Promise.all([page.waitForURL(/\?path=Notes$/), page.click(".new-folder button")]);
    const said = await uploadThroughPage([{ name: "todo.txt", content: "pack\n" }]);
    expect(said).toContain("todo.txt uploaded.");
    for (const f of folders()) await cast.eventually(`Notes/todo.txt reaches ${f}`, hasContent(path.join(f, "Notes", "todo.txt"), "pack\n"), 60_000);
  }, 120_000);

  it("without JavaScript the upload form posts the files itself (multipart), and they reach both folders", async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    try {
      const p = await plain.newPage();
      await p.goto((await cast.run("alice", ["web-login"])).split("\n")[0]!.trim());
      await Promise.all([p.waitForURL(/\/web\/$/), p.click("button[type=submit]")]);
      await p.goto(spaceUrl);
      await p.setInputFiles("#files", [{ name: "no-script.txt", mimeType: "text/plain", buffer: Buffer.from("posted as a form\n") }]);
      await Promise.all([p.waitForURL(spaceUrl), p.click("#upload button[type=submit]")]);
      expect(await p.locator("td.name a", { hasText: "no-script.txt" }).count()).toBe(1);
      for (const f of folders()) await cast.eventually(`the form's file reaches ${f}`, hasContent(path.join(f, "no-script.txt"), "posted as a form\n"), 60_000);
    } finally {
      await plain.close();
    }
  }, 120_000);

  it("an upload over a change the page did not show is kept as a conflict copy, never lost", async () => {
    await page.goto(spaceUrl); // Alice's page shows plan.txt as it is now (made on her device)
    const alices = entry("plan.txt")!.replica;
    await writeFile(path.join(trip.other, "plan.txt"), "day 1: the mountains (Bob)\n");
    await cast.eventually("Bob's edit reaches the sharing manager", () => entry("plan.txt")?.replica !== alices, 60_000);
    const said = await uploadThroughPage([{ name: "plan.txt", content: "day 1: the lakes (Alice, on the web)\n" }]);
    expect(said).toMatch(/plan\.txt was changed by someone else meanwhile; their version is kept as plan\.sync-conflict-\d{8}-\d{6}-[^ ]+\.txt\./);
    const copy = /kept as (plan\.sync-conflict-[^ ]+\.txt)\./.exec(said)![1]!;
    for (const f of folders()) {
      await cast.eventually(`both versions are in ${f}`, async () => (await hasContent(path.join(f, "plan.txt"), "day 1: the lakes (Alice, on the web)\n")()) && (await hasContent(path.join(f, copy), "day 1: the mountains (Bob)\n")()), 60_000);
    }
    for (const f of folders()) expect((await readdir(f)).filter((n) => n.startsWith("plan")).sort()).toEqual([copy, "plan.txt"].sort());
    await shot(page, "web-conflict");
  }, 120_000);
});
