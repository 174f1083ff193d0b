/**
 * The web interface's sign-in on the real stack (Prosody, the sharing manager process, Alice's
 * `xshare run` with its local UI), in a real browser: two pages, the web interface and Alice's
 * local UI. Signing in by JID asks Alice's running sharing client over XMPP (XEP-0070); the
 * notice in her local UI shows the same code as the web page, and her Accept signs the page in
 * (Deny refuses it); `xshare web-confirm` answers the same requests from the command line;
 * `xshare web-login` prints a link that signs in once. An unknown JID and a member without a
 * sharing client online get the same words; attempts per JID are limited.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newPage, shot } from "../harness/browser.ts";
import { type Cast, startCast } from "../harness/cast.ts";

let cast: Cast;
let browser: Browser;
/** The sharing manager's public URL, ending in "/". */
let base = "";
let uiUrl = "";

beforeAll(async () => {
  cast = await startCast(["alice", "bob"]);
  base = /HTTP (\S+) \(health/.exec(cast.component.output())![1]!;
  await cast.pair("alice", "bob", "Trip");
  await cast.online("alice");
  uiUrl = (await cast.run("alice", ["ui"])).trim();
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cast?.close();
});

/** A browser of its own (its own cookies), as another person or device would have. */
const freshPage = (): Promise<Page> => newPage(browser, { viewport: { width: 1100, height: 720 } });

/** Types the JID into the sign-in form; resolves the transaction id the page shows. */
async function askToSignIn(page: Page, jid: string): Promise<string> {
  await page.goto(`${base}web/login`);
  await page.getByLabel("Your XMPP address").fill(jid);
  await page.getByRole("button", { name: "Continue" }).click();
  const tx = (await page.locator("#tx").textContent({ timeout: 30_000 }))!.trim();
  expect(tx).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  return tx;
}

async function localUi(): Promise<Page> {
  const ui = await freshPage();
  await ui.goto(uiUrl);
  await ui.getByText(cast.jid("alice"), { exact: true }).first().waitFor();
  return ui;
}

async function signedInAs(page: Page): Promise<string | null> {
  await page.goto(`${base}web/account`);
  return page.locator("#who").textContent({ timeout: 5000 }).catch(() => null);
}

describe("web sign-in through the sharing client", () => {
  it("Alice types her JID, her local UI shows the same code, she accepts: the page is signed in (HttpOnly, SameSite=Strict), then signs out", async () => {
    const ui = await localUi();
    const web = await freshPage();
    await web.goto(`${base}web/login`);
    await shot(web, "web-sign-in");
    const tx = await askToSignIn(web, cast.jid("alice"));
    await web.getByText("Waiting for your confirmation").waitFor();
    await shot(web, "web-sign-in-confirm");

    const notice = ui.locator(`.confirm-request[data-id="${tx}"]`);
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.locator(".confirm-tx").textContent()).toBe(tx);
    expect(await notice.textContent()).toContain(new URL(base).host);
    await shot(ui, "ui-confirm");
    await notice.getByRole("button", { name: "Accept" }).click();
    await notice.waitFor({ state: "detached" });

    // The page was waiting without reloading; it goes on by itself once confirmed.
    await web.waitForURL(`${base}web/`, { timeout: 30_000 });
    expect(await signedInAs(web)).toBe(cast.jid("alice"));
    await shot(web, "web-signed-in");
    const cookie = (await web.context().cookies()).find((c) => c.name === "xshare_web")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/web", secure: false });

    await web.getByRole("button", { name: "Sign out" }).click();
    await web.getByText("You are signed out.").waitFor();
    expect(await signedInAs(web)).toBeNull();
    expect(web.url()).toBe(`${base}web/login`);
  }, 120_000);

  it("Alice denies in her local UI: the page says so and is not signed in", async () => {
    const ui = await localUi();
    const web = await freshPage();
    const tx = await askToSignIn(web, cast.jid("alice"));
    const notice = ui.locator(`.confirm-request[data-id="${tx}"]`);
    await notice.getByRole("button", { name: "Deny" }).click({ timeout: 30_000 });
    await web.getByText("The sign-in was denied on your device.").waitFor({ timeout: 30_000 });
    await shot(web, "web-sign-in-denied");
    // Going on by hand does not help either.
    await web.goto(`${base}web/login/continue`);
    expect(await signedInAs(web)).toBeNull();
    expect((await web.context().cookies()).some((c) => c.name === "xshare_web")).toBe(false);
  }, 120_000);

  it("xshare web-confirm lists the request with its code and accepts it from the command line", async () => {
    const web = await freshPage();
    const tx = await askToSignIn(web, cast.jid("alice"));
    let listed = "";
    await cast.eventually("xshare web-confirm lists the request", async () => (listed = await cast.run("alice", ["web-confirm"])).includes(tx));
    expect(listed).toContain(`POST ${base}web/login`);
    expect(await cast.run("alice", ["web-confirm", "--accept", tx])).toContain(`accepted ${tx}`);
    await web.waitForURL(`${base}web/`, { timeout: 30_000 });
    expect(await signedInAs(web)).toBe(cast.jid("alice"));
    // Answered: nothing waits any more, and answering again says so.
    expect(await cast.run("alice", ["web-confirm"])).toContain("no sign-in requests waiting");
    const again = await cast.try("alice", ["web-confirm", "--deny", tx]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`No sign-in request ${tx} is waiting`);
  }, 120_000);

  it("an unknown JID and a member without a sharing client online get the same words, suggesting xshare web-login", async () => {
    const page = await freshPage();
    const say = async (jid: string) => {
      await page.goto(`${base}web/login`);
      await page.getByLabel("Your XMPP address").fill(jid);
      await page.getByRole("button", { name: "Continue" }).click();
      return (await page.locator(".status").textContent())!;
    };
    const unknown = await say(`nobody@${cast.prosody.domain}`);
    const offline = await say(cast.jid("bob"));
    expect(unknown).toContain("xshare web-login");
    expect(offline).toBe(unknown);
  }, 60_000);

  it("sign-in attempts for one JID are limited: the sixth within ten minutes is refused", async () => {
    const post = () =>
      fetch(`${base}web/login`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `jid=${encodeURIComponent(cast.jid("bob"))}` });
    // Bob had one attempt in the test before.
    for (let i = 0; i < 4; i++) expect((await post()).status).toBe(200);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(await refused.text()).toContain("Too many sign-in attempts");
  });
});

describe("xshare web-login", () => {
  it("prints a link that signs in once; the second use is refused", async () => {
    const out = await cast.run("alice", ["web-login"]);
    const link = out.split("\n")[0]!.trim();
    expect(link.startsWith(`${base}web/login/link/`)).toBe(true);
    expect(out).toMatch(/works once, until \d{4}-\d\d-\d\dT/);

    const web = await freshPage();
    await web.goto(link);
    await web.getByRole("heading", { name: `Sign in as ${cast.jid("alice")}?` }).waitFor();
    await shot(web, "web-login-link");
    await web.getByRole("button", { name: `Sign in as ${cast.jid("alice")}` }).click();
    await web.waitForURL(`${base}web/`);
    expect(await signedInAs(web)).toBe(cast.jid("alice"));

    const other = await freshPage();
    const res = await other.goto(link);
    expect(res?.status()).toBe(410);
    await other.getByText("This link does not work any more").waitFor();
    expect(await signedInAs(other)).toBeNull();
  }, 60_000);
});
