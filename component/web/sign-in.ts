/**
 * The web interface's sign-in pages (XEP-draft.md § 5.17; README "Web interface"):
 *
 *   GET  /web/login              the form: your JID
 *   POST /web/login              asks your sharing clients online to confirm (confirmations.ts)
 *                                and shows the transaction id; the page polls, without reloading
 *   GET  /web/login/wait         JSON {state, text} of this browser's attempt (sign-in.js polls it)
 *   GET  /web/login/continue     a confirmed attempt becomes a session; then /web/
 *   GET  /web/login/link/<t>     a one-time link of `xshare web-login`: "Sign in as …?"
 *   POST /web/login/link/<t>     uses the link up: a session; then /web/
 *   GET  /web/account            who is signed in, with sign-out
 *   POST /web/logout             ends the session (CSRF token required)
 *
 * Invariants: no page says whether a JID exists or uses the service: an unknown JID, a
 * non-member and a member without a sharing client online get the same message. Attempts are
 * limited per JID and per remote address (RateLimit; over the limit: 429 and nothing sent),
 * and so is using a one-time link up.
 * Posts from another origin are refused (form.ts sameOrigin); the attempt's cookie binds it
 * to the browser that made it. Every value shown is escaped (html.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BareJid } from "../../protocol/ids.ts";
import { parseBareJid } from "../../protocol/jid.ts";
import type { Confirmations } from "./confirmations.ts";
import { FormError, readForm, sameOrigin } from "./form.ts";
import { html, redirect, sendJson, sendPage, type Safe } from "./html.ts";
import { LINK_TOKEN, type LoginLinks } from "./links.ts";
import type { RateLimit } from "./rate-limit.ts";
import type { WebRouter } from "./router.ts";
import { cookieValue, type WebSessions } from "./sessions.ts";

export const ATTEMPT_COOKIE = "xshare_signin";
/** Where a new session goes (the browsing pages, files.ts). */
export const HOME = "/web/";

export interface SignInDeps {
  readonly sessions: WebSessions;
  readonly confirmations: Confirmations;
  readonly links: LoginLinks;
  readonly perJid: RateLimit;
  readonly perAddress: RateLimit;
  /** Whether `jid` belongs to at least one space. */
  readonly isMember: (jid: BareJid) => Promise<boolean>;
  /** Full JIDs of the member's sharing clients online now. */
  readonly clients: (jid: BareJid) => string[];
  readonly publicUrl: string;
  readonly secure: boolean;
  readonly now: () => number;
}

const NO_CLIENT = html`<p>We could not reach a sharing client for this address. Sign-in needs the xshare client running
on one of your devices (<code>xshare run</code>), so that it can confirm that it is you.</p>
<p>Or sign in with a one-time link: run <code>xshare web-login</code> on your device and open the link it prints.</p>`;

function loginForm(message?: Safe, jid = ""): Safe {
  return html`<section class="card narrow">
<h1>Sign in</h1>
<p class="muted">No new password: your running xshare client confirms that it is you.</p>
${message ?? ""}
<form method="post" action="/web/login">
<label for="jid">Your XMPP address</label>
<input id="jid" name="jid" type="text" inputmode="email" autocomplete="username" placeholder="alice@example.org" value="${jid}" required autofocus>
<button type="submit">Continue</button>
</form>
<p class="muted">Or run <code>xshare web-login</code> on your device for a one-time link.</p>
</section>`;
}

function status(kind: "ok" | "bad" | "", text: Safe | string): Safe {
  return html`<div class="status ${kind}" role="status">${text}</div>`;
}

function remote(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}

function tooMany(res: ServerResponse, retryMs: number): void {
  const minutes = Math.max(1, Math.ceil(retryMs / 60_000));
  res.setHeader("Retry-After", String(Math.ceil(retryMs / 1000)));
  sendPage(res, 429, "Sign in", loginForm(status("bad", `Too many sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`)));
}

function attemptCookie(d: SignInDeps, value: string, maxAge: number): string {
  return [`${ATTEMPT_COOKIE}=${value}`, "Path=/web/login", "HttpOnly", "SameSite=Strict", `Max-Age=${maxAge}`, ...(d.secure ? ["Secure"] : [])].join("; ");
}

export function registerSignIn(router: WebRouter, d: SignInDeps): void {
  router.route("GET", "/web/login", (req, res, url) => {
    if (url.pathname !== "/web/login") return sendPage(res, 404, "Not found", "<p>There is nothing at this address.</p>");
    const user = d.sessions.user(req);
    if (user) return redirect(res, "/web/account");
    const bye = url.searchParams.get("bye") !== null ? status("ok", "You are signed out.") : undefined;
    sendPage(res, 200, "Sign in", loginForm(bye));
  });

  router.route("POST", "/web/login", async (req, res, url) => {
    if (url.pathname !== "/web/login") return sendPage(res, 404, "Not found", "<p>There is nothing at this address.</p>");
    if (!sameOrigin(req, d.publicUrl)) return sendPage(res, 403, "Sign in", loginForm(status("bad", "This form was sent from another site.")));
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (err) {
      if (err instanceof FormError) return sendPage(res, err.status, "Sign in", loginForm(status("bad", err.message)));
      throw err;
    }
    const typed = (form.get("jid") ?? "").trim();
    const byAddress = d.perAddress.take(remote(req));
    if (byAddress > 0) return tooMany(res, byAddress);
    let jid: BareJid;
    try {
      jid = parseBareJid(typed.toLowerCase());
    } catch {
      return sendPage(res, 400, "Sign in", loginForm(status("bad", "That is not an XMPP address. It looks like alice@example.org."), typed));
    }
    const byJid = d.perJid.take(jid);
    if (byJid > 0) return tooMany(res, byJid);
    const clients = (await d.isMember(jid)) ? d.clients(jid) : [];
    if (clients.length === 0) return sendPage(res, 200, "Sign in", loginForm(status("bad", NO_CLIENT), jid));
    const { secret, attempt } = d.confirmations.start(jid, clients);
    const seconds = Math.max(1, Math.round((attempt.expiresMs - d.now()) / 1000));
    res.setHeader("Set-Cookie", attemptCookie(d, secret, seconds + 300));
    sendPage(
      res,
      200,
      "Confirm on your device",
      html`<section class="card narrow">
<h1>Confirm on your device</h1>
<p>Your xshare client has been asked to confirm this sign-in as <strong>${jid}</strong>.
Accept it there (<code>xshare web-confirm</code> or the notice in <code>xshare ui</code>) if it shows this code:</p>
<p class="tx" id="tx">${attempt.tx}</p>
<div class="status" id="signin-status" role="status"><span class="spinner"></span>Waiting for your confirmation…</div>
<noscript><p><a class="button" href="/web/login/continue">I have confirmed it</a></p></noscript>
<p class="muted" id="start-again"><a href="/web/login">Start again</a></p>
</section>`,
      { scripts: ["sign-in.js"] },
    );
  });

  router.route("GET", "/web/login/wait", (req, res) => {
    const secret = cookieValue(req, ATTEMPT_COOKIE);
    const a = secret ? d.confirmations.get(secret) : undefined;
    if (!a) return sendJson(res, 404, { state: "none", text: "This sign-in is over. Start again." });
    const text =
      a.state === "pending" ? "Waiting for your confirmation…" : a.state === "confirmed" ? "Confirmed. Signing you in…" : (a.reason ?? "The sign-in was refused.");
    sendJson(res, 200, { state: a.state, text, ...(a.state === "confirmed" ? { next: "/web/login/continue" } : {}) });
  });

  router.route("GET", "/web/login/continue", (req, res) => {
    const secret = cookieValue(req, ATTEMPT_COOKIE);
    const a = secret ? d.confirmations.get(secret) : undefined;
    const jid = secret ? d.confirmations.take(secret) : undefined;
    if (jid) {
      res.setHeader("Set-Cookie", attemptCookie(d, "", 0));
      d.sessions.create(res, jid);
      return redirect(res, HOME);
    }
    const text = !a ? "This sign-in is over. Start again." : a.state === "pending" ? "Not confirmed yet: accept the request on your device, then continue." : (a.reason ?? "The sign-in was refused.");
    sendPage(res, a?.state === "pending" ? 200 : 403, "Sign in", loginForm(status(a?.state === "pending" ? "" : "bad", text)));
  });

  router.route("GET", "/web/login/link/", (req, res, url) => {
    // Only looks (a link's 32 random bytes are not guessed); using it up counts against the address.
    const token = url.pathname.slice("/web/login/link/".length);
    const jid = LINK_TOKEN.test(token) ? d.links.peek(token) : undefined;
    if (!jid) return usedLink(res);
    sendPage(
      res,
      200,
      "Sign in",
      html`<section class="card narrow">
<h1>Sign in as ${jid}?</h1>
<p class="muted">This one-time link was made by <code>xshare web-login</code> on one of your devices. It works once.</p>
<form method="post" action="/web/login/link/${token}"><button type="submit">Sign in as ${jid}</button></form>
</section>`,
    );
  });

  router.route("POST", "/web/login/link/", async (req, res, url) => {
    if (!sameOrigin(req, d.publicUrl)) return sendPage(res, 403, "Sign in", loginForm(status("bad", "This form was sent from another site.")));
    const token = url.pathname.slice("/web/login/link/".length);
    const byAddress = d.perAddress.take(remote(req));
    if (byAddress > 0) return tooMany(res, byAddress);
    req.resume();
    const jid = LINK_TOKEN.test(token) ? d.links.consume(token) : undefined;
    if (!jid) return usedLink(res);
    d.sessions.create(res, jid);
    redirect(res, HOME);
  });

  router.route("GET", "/web/account", (req, res) => {
    const user = d.sessions.user(req);
    if (!user) return redirect(res, "/web/login");
    sendPage(
      res,
      200,
      "Your session",
      html`<section class="card narrow">
<h1>Signed in</h1>
<p>You are signed in as <strong id="who">${user.jid}</strong>.</p>
<p class="muted">The session ends after a while without use, and in any case some hours after you signed in.</p>
<p><a class="button" href="${HOME}">Your shared folders</a></p>
</section>`,
      { user },
    );
  });

  router.route("POST", "/web/logout", async (req, res) => {
    const user = d.sessions.user(req);
    if (!user) return redirect(res, "/web/login");
    let form: URLSearchParams | undefined;
    try {
      form = await readForm(req);
    } catch (err) {
      if (!(err instanceof FormError)) throw err;
    }
    const token = form?.get("csrf") ?? (req.headers["x-csrf-token"] as string | undefined);
    if (!sameOrigin(req, d.publicUrl) || !d.sessions.checkCsrf(user, token ?? undefined)) {
      return sendPage(res, 403, "Not signed out", "<p>This request did not come from a page of this site. Sign out from the page itself.</p>");
    }
    d.sessions.destroy(req, res);
    redirect(res, "/web/login?bye");
  });
}

function usedLink(res: ServerResponse): void {
  sendPage(
    res,
    410,
    "Sign-in link",
    html`<section class="card narrow">
<h1>This link does not work any more</h1>
<p>A sign-in link works once and for a few minutes only. Run <code>xshare web-login</code> on your device for a new one,
or <a href="/web/login">sign in with your address</a>.</p>
</section>`,
  );
}
