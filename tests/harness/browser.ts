/**
 * The UI tests' browser: Debian's chromium (/usr/bin/chromium, installed by
 * scripts/ensure-deps.mjs) driven by playwright-core, which never downloads a browser of its own.
 * Headless, no sandbox (tests run as root), and nothing that talks to the outside: no GPU, no
 * background networking, no component updates, no sync. One browser per test file; each test
 * opens its own context (cookies and storage of its own) and closes it.
 *
 * `shot(page, name)` writes a screenshot into docs/screenshots/<name>.png, the pictures the
 * README shows, when SCREENSHOTS=1 (`npm run screenshots`); `npm test` leaves docs/ as it is.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContextOptions, type Page, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENSHOT_DIR = path.join(ROOT, "docs", "screenshots");

/** Starts Debian's chromium headless; close it with `browser.close()` (playwright also kills it
 *  when this process exits or gets SIGINT, SIGTERM or SIGHUP). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A page in a context of its own (its own cookies: one signed-in person), closed with the
 * browser. A dialog (`alert`, `confirm`) fails the test: no page of ours opens one, and a
 * hostile file name that ran as markup would.
 */
export async function newPage(browser: Browser, options: BrowserContextOptions = {}): Promise<Page> {
  const page = await (await browser.newContext(options)).newPage();
  page.on("dialog", (d) => {
    throw new Error(`a dialog opened: ${d.message()}`);
  });
  return page;
}

/** A screenshot of the whole page into docs/screenshots/<name>.png (with SCREENSHOTS=1 only). */
export async function shot(page: Page, name: string): Promise<void> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`screenshot name ${JSON.stringify(name)}: lower-case letters, digits and dashes only`);
  if (process.env.SCREENSHOTS !== "1") return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
