/**
 * The local UI's instant messaging in a real browser against the real stack (issue 10,
 * "Client UI"): Prosody, the sharing manager, `xshare run` for Alice (whose UI we drive) and
 * for Bob, and plain XMPP clients (tests/harness/cast.ts `chat`) for Alice's own phone, Bob's
 * and Carol's chat clients.
 *
 * - Contacts: Bob (xshare + chat client) and Carol (chat client only) are in Alice's roster;
 *   both show their presence, which changes live when Carol goes away and offline; Bob has the
 *   sharing indicator (his xshare's caps, verified by disco), Carol has not.
 * - Chat: a message written in the UI reaches Carol's chat client; her answer to the full JID
 *   it came from, and one to Alice's bare JID (delivered to Alice's phone, copied to the
 *   daemon by carbons), appear in the UI, without a reload.
 * - Carbons: Alice's phone (carbons enabled) gets a `<sent/>` copy of what the UI sent; what
 *   the phone sends to Bob appears in the UI's conversation with Bob; a carbon forged by Carol
 *   (not from Alice's own bare JID) appears nowhere.
 * - Trust: a roster push from a contact is refused (only Alice's server may push).
 * - Escaping: a roster name and a message body that are markup are shown as text.
 * - Presence selector: what Bob's client sees of Alice's xshare changes, priority -1 stays.
 * - History: the conversation is still there after `xshare run` restarts.
 */
import { xml } from "@xmpp/client";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, shot } from "../harness/browser.ts";
import { type Cast, type ChatClient, startCast } from "../harness/cast.ts";

let cast: Cast;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const chat = {} as Record<"phone" | "bob" | "carol", ChatClient>;
const jid = { alice: "", bob: "", carol: "" };
const pageErrors: string[] = [];

const NS_CARBONS = "urn:xmpp:carbons:2";

async function openUi(): Promise<void> {
  const url = (await cast.run("alice", ["ui"])).trim();
  await context?.close();
  context = await browser.newContext({ viewport: { width: 1360, height: 820 } });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(url);
  await page.locator(".contact").first().waitFor();
}

const row = (who: string) => page.locator(`li.contact[data-jid="${who}"]`);
const heard = (c: ChatClient, test: (s: string) => boolean) => () => c.heard.some(test);

beforeAll(async () => {
  cast = await startCast(["alice", "bob", "carol"]);
  jid.alice = cast.jid("alice");
  jid.bob = cast.jid("bob");
  jid.carol = cast.jid("carol");
  chat.phone = await cast.chat("alice", "phone");
  chat.bob = await cast.chat("bob");
  chat.carol = await cast.chat("carol");
  await cast.befriend(chat.phone, chat.bob);
  await cast.befriend(chat.phone, chat.carol);
  // Alice's phone enables carbons, as a modern chat client does.
  await chat.phone.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("enable", { xmlns: NS_CARBONS })));
  await cast.online("bob");
  await cast.online("alice");
  browser = await launchBrowser();
  await openUi();
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await cast?.close();
});

describe("contacts", () => {
  it("shows the roster with presence, and the sharing indicator only for the contact who runs xshare", async () => {
    await expect.poll(() => row(jid.bob).getAttribute("data-show"), { timeout: 30_000 }).toBe("available");
    await expect.poll(() => row(jid.carol).getAttribute("data-show"), { timeout: 30_000 }).toBe("available");
    // Bob's xshare announced caps naming urn:xmpp:share:0; the daemon asked disco#info once.
    await row(jid.bob).locator(".share-indicator").waitFor({ timeout: 30_000 });
    expect(await row(jid.bob).getAttribute("data-shares")).toBe("yes");
    expect(await row(jid.carol).locator(".share-indicator").count()).toBe(0);
    expect(await row(jid.carol).getAttribute("data-shares")).toBe("no");
    expect(pageErrors).toEqual([]);
  });

  it("follows a contact's presence live: away, then offline, then back", async () => {
    await chat.carol.xmpp.send(xml("presence", {}, xml("show", {}, "away"), xml("status", {}, "at lunch")));
    await expect.poll(() => row(jid.carol).getAttribute("data-show"), { timeout: 30_000 }).toBe("away");
    await expect.poll(() => row(jid.carol).locator(".contact-sub").textContent()).toContain("at lunch");
    await shot(page, "ui-contacts-presence");
    await chat.carol.xmpp.send(xml("presence", {}, xml("show", {}, "dnd")));
    await expect.poll(() => row(jid.carol).getAttribute("data-show"), { timeout: 30_000 }).toBe("dnd");
    await expect.poll(() => row(jid.carol).locator(".contact-sub").textContent()).toBe("Do not disturb");
    await chat.carol.xmpp.send(xml("presence", { type: "unavailable" }));
    await expect.poll(() => row(jid.carol).getAttribute("data-show"), { timeout: 30_000 }).toBe("offline");
    await chat.carol.xmpp.send(xml("presence"));
    await expect.poll(() => row(jid.carol).getAttribute("data-show"), { timeout: 30_000 }).toBe("available");
  });

  it("a roster push from anyone but Alice's server is refused and changes nothing", async () => {
    const answer = await chat.carol.xmpp.iqCaller
      .request(xml("iq", { type: "set", to: `${jid.alice}/xshare-alice-pc` }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "mallory@example.org", name: "Mallory" }))))
      .then(() => "result", (err: { condition?: string }) => err.condition ?? String(err));
    expect(answer).toBe("service-unavailable");
    // A trusted push after it (a name set by Alice's phone) is shown; Mallory is not.
    await chat.phone.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: jid.carol, name: "Carol D." }))));
    await expect.poll(() => row(jid.carol).locator(".contact-name").textContent(), { timeout: 30_000 }).toBe("Carol D.");
    expect(await row("mallory@example.org").count()).toBe(0);
    expect(await page.getByText("Mallory").count()).toBe(0);
  });

  it("a roster name that is markup is shown as text (set by Alice's phone, pushed to the daemon)", async () => {
    const name = "<img src=x onerror=alert(1)>Carol";
    await chat.phone.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: jid.carol, name }))));
    await expect.poll(() => row(jid.carol).locator(".contact-name").textContent(), { timeout: 30_000 }).toBe(name);
    expect(await page.locator(".contact-list img").count()).toBe(0);
    for (const [who, name] of [[jid.carol, "Carol Danvers"], [jid.bob, "Bob Martin"]] as const) {
      await chat.phone.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: who, name }))));
      await expect.poll(() => row(who).locator(".contact-name").textContent(), { timeout: 30_000 }).toBe(name);
    }
  });

  it("the sharing indicator gleams when the share module says so, and a click asks it to open that contact's folder", async () => {
    await page.evaluate(() => {
      const w = window as unknown as { xshare: { on(t: string, f: (d: unknown) => void): void; emit(t: string, d: unknown): void }; opened: unknown[] };
      w.opened = [];
      w.xshare.on("open-contact", (d) => w.opened.push(d));
    });
    await page.evaluate((who) => (window as unknown as { xshare: { emit(t: string, d: unknown): void } }).xshare.emit("gleam", { contacts: { [who]: true } }), jid.bob);
    await row(jid.bob).locator(".share-indicator.gleam").waitFor();
    await row(jid.bob).locator(".share-indicator").click();
    expect(await page.evaluate(() => (window as unknown as { opened: unknown[] }).opened)).toEqual([{ jid: jid.bob }]);
    await page.evaluate(() => (window as unknown as { xshare: { emit(t: string, d: unknown): void } }).xshare.emit("gleam", { contacts: {} }));
    await expect.poll(() => row(jid.bob).locator(".share-indicator.gleam").count()).toBe(0);
  });

  it("the presence selector changes what contacts see, still with priority -1", async () => {
    const mark = chat.bob.heard.length;
    const daemonPresence = (show: string) => () =>
      chat.bob.heard.slice(mark).some((s) => s.startsWith("<presence") && s.includes(`from="${jid.alice}/xshare-alice-pc"`) && s.includes(`<show>${show}</show>`) && s.includes("<priority>-1</priority>"));
    await page.locator(".presence-select").selectOption("dnd");
    await cast.eventually("Bob's client sees Alice's xshare as dnd, priority -1", daemonPresence("dnd"));
    expect(await page.locator(".account .presence-dot").getAttribute("data-show")).toBe("dnd");
    await page.locator(".presence-select").selectOption("available");
    await cast.eventually("Bob's client sees Alice's xshare available again, priority -1", () =>
      chat.bob.heard.slice(mark).some((s) => s.startsWith("<presence") && s.includes(`from="${jid.alice}/xshare-alice-pc"`) && !s.includes("<show>") && !s.includes('type="') && s.includes("<priority>-1</priority>")),
    );
  });
});

describe("chat", () => {
  it("a message from the UI reaches Carol's client and Alice's phone (sent carbon); Carol's answers come back", async () => {
    await row(jid.carol).click();
    await page.locator(".composer-input").fill("Hello Carol, photos are in our folder");
    await page.locator(".composer-input").press("Enter");
    await page.locator(".message.mine .message-body", { hasText: "Hello Carol, photos are in our folder" }).waitFor();
    await cast.eventually("Carol's client gets the message", heard(chat.carol, (s) => s.startsWith("<message") && s.includes("Hello Carol, photos are in our folder") && s.includes(`from="${jid.alice}/xshare-alice-pc"`)));
    await cast.eventually("Alice's phone gets a sent carbon", heard(chat.phone, (s) => s.includes(`<sent xmlns="${NS_CARBONS}"`) && s.includes("Hello Carol, photos are in our folder")));

    // Carol answers where it came from, as chat clients do.
    await chat.carol.xmpp.send(xml("message", { type: "chat", to: `${jid.alice}/xshare-alice-pc` }, xml("body", {}, "Thanks! <b>Looking</b> now")));
    await page.locator(".message.theirs .message-body", { hasText: "Thanks! <b>Looking</b> now" }).waitFor({ timeout: 30_000 });
    // And to the bare JID: Alice's phone gets it; the daemon (priority -1) by a received carbon.
    await chat.carol.xmpp.send(xml("message", { type: "chat", to: jid.alice }, xml("body", {}, "Also: <img src=x onerror=alert(1)>")));
    await cast.eventually("Alice's phone gets the bare-JID message", heard(chat.phone, (s) => s.startsWith("<message") && s.includes("Also: &lt;img") && !s.includes(NS_CARBONS)));
    await page.locator(".message.theirs .message-body", { hasText: "Also: <img src=x onerror=alert(1)>" }).waitFor({ timeout: 30_000 });
    expect(await page.locator(".messages img").count()).toBe(0);
    await shot(page, "ui-contacts-chat");
  });

  it("what Alice's phone sends to Bob appears in the UI's conversation with Bob (sent carbon); a carbon forged by Carol does not", async () => {
    // A forged carbon: Carol claims Alice's phone received a message from Bob.
    await chat.carol.xmpp.send(
      xml("message", { type: "chat", to: `${jid.alice}/xshare-alice-pc` }, xml("received", { xmlns: NS_CARBONS }, xml("forwarded", { xmlns: "urn:xmpp:forward:0" }, xml("message", { type: "chat", from: `${jid.bob}/chat`, to: jid.alice }, xml("body", {}, "FORGED: send me your password"))))),
    );
    await chat.phone.xmpp.send(xml("message", { type: "chat", to: jid.bob }, xml("body", {}, "Bob, did you get the photos?")));
    await cast.eventually("Bob's client gets the phone's message", heard(chat.bob, (s) => s.includes("Bob, did you get the photos?")));
    await row(jid.bob).click();
    const fromPhone = page.locator(".message.mine", { hasText: "Bob, did you get the photos?" });
    await fromPhone.waitFor({ timeout: 30_000 });
    expect(await fromPhone.locator(".via").textContent()).toContain("another of your clients");
    // Carol writes after the forgery; once that is shown, the forgery would have been too.
    await chat.carol.xmpp.send(xml("message", { type: "chat", to: `${jid.alice}/xshare-alice-pc` }, xml("body", {}, "after the forgery")));
    await expect.poll(() => row(jid.carol).locator(".unread").textContent(), { timeout: 30_000 }).toBe("1");
    expect(await page.getByText("FORGED", { exact: false }).count()).toBe(0);
    await row(jid.carol).click();
    await page.locator(".message-body", { hasText: "after the forgery" }).waitFor();
    expect(await page.getByText("FORGED", { exact: false }).count()).toBe(0);
    expect(cast.daemon("alice")!.output()).toContain(`refused a carbon copy from ${jid.carol}/chat`);
  });

  it("bad input from the page gets a sentence and sends nothing", async () => {
    const mark = chat.carol.heard.length;
    const tries = [
      ["im/send", { to: "not a jid", body: "x" }],
      ["im/send", { to: `${jid.carol}/chat`, body: "x" }],
      ["im/send", { to: jid.alice, body: "x" }],
      ["im/send", { to: jid.carol, body: "   " }],
      ["im/send", { to: jid.carol, body: "x".repeat(10_001) }],
      ["im/send", { to: jid.carol }],
      ["im/presence", { show: "invisible" }],
    ] as const;
    const answers = await page.evaluate(async (list) => {
      const app = (window as unknown as { xshare: { api(p: string, o: { body: unknown }): Promise<unknown> } }).xshare;
      const out: string[] = [];
      for (const [path, body] of list) out.push(await app.api(path, { body }).then(() => "accepted", (e: Error) => e.message));
      return out;
    }, tries as unknown as Array<[string, unknown]>);
    expect(answers).toEqual([
      'Not a contact\'s address: "not a jid".',
      `Not a contact's address: "${jid.carol}/chat".`,
      `Not a contact's address: "${jid.alice}".`,
      "The message is empty.",
      "The message is longer than 10000 characters.",
      '"body" must be a non-empty string.',
      '"show" must be one of available, away, chat, dnd, xa.',
    ]);
    expect(await page.locator(".presence-select").inputValue()).toBe("available");
    // Nothing reached Carol: the next message she gets is this one.
    await page.evaluate((to) => (window as unknown as { xshare: { api(p: string, o: { body: unknown }): Promise<unknown> } }).xshare.api("im/send", { body: { to, body: "only this one" } }), jid.carol);
    await cast.eventually("Carol gets the good message", heard(chat.carol, (s) => s.includes("only this one")));
    expect(chat.carol.heard.slice(mark).filter((s) => s.startsWith("<message"))).toHaveLength(1);
  });

  it("a message the server bounces is said in the notices", async () => {
    await page.evaluate(() => (window as unknown as { xshare: { api(p: string, o: { body: unknown }): Promise<unknown> } }).xshare.api("im/send", { body: { to: "nobody@example.org", body: "anyone there?" } }));
    await page.locator(".notice-error", { hasText: "A message to nobody@example.org was not delivered" }).waitFor({ timeout: 30_000 });
  });

  it("keeps the conversation across a restart of xshare run", async () => {
    await cast.offline("alice");
    await cast.online("alice");
    await openUi();
    await row(jid.carol).click();
    await page.locator(".message.mine .message-body", { hasText: "Hello Carol, photos are in our folder" }).waitFor({ timeout: 30_000 });
    await page.locator(".message.theirs .message-body", { hasText: "after the forgery" }).waitFor();
    expect(await page.getByText("FORGED", { exact: false }).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
