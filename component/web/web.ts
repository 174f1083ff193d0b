/**
 * The web interface, put together (component/app.ts calls `buildWeb` once): its router
 * (router.ts), its static files (static.ts), its sessions (sessions.ts, the WebAuth the pages
 * use), the sign-in pages (sign-in.ts) with their confirmations (confirmations.ts) and
 * one-time links (links.ts, also handed out over XMPP by modules/web-login.ts). The browsing
 * pages (files.ts) register on the same router with the same WebAuth.
 *
 * Sign-in limits (fixed, README "Web interface"): 5 attempts per JID and 20 per remote
 * address in any 10 minutes; one-time link pages count against the address too.
 */
import { randomBytes } from "node:crypto";
import type { BareJid } from "../../protocol/ids.ts";
import type { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import { Confirmations } from "./confirmations.ts";
import { LoginLinks } from "./links.ts";
import { RateLimit } from "./rate-limit.ts";
import { WebRouter } from "./router.ts";
import { WebSessions } from "./sessions.ts";
import { registerSignIn } from "./sign-in.ts";
import { registerStatic } from "./static.ts";

export const ATTEMPTS_PER_JID = 5;
export const ATTEMPTS_PER_ADDRESS = 20;
export const ATTEMPT_WINDOW_MS = 10 * 60_000;

/** What the web interface needs of the XMPP side. */
export interface WebLinks {
  /** Full JIDs of a member's sharing clients online now (modules/sharing-presence.ts). */
  clients(member: BareJid): string[];
  /** Sends an IQ and resolves with its result (rejects on an error reply or after `timeoutMs`). */
  request(iq: Element, timeoutMs: number): Promise<Element>;
}

export interface Web {
  readonly router: WebRouter;
  /** The WebAuth of every page: who signed in (sessions.ts). */
  readonly sessions: WebSessions;
  /** One-time sign-in links (`<web-login/>`, modules/web-login.ts). */
  readonly links: LoginLinks;
}

const token = () => randomBytes(32).toString("base64url");

export function buildWeb(deps: Deps, xmpp: WebLinks): Web {
  const { config, log, now } = deps;
  const secure = config.publicUrl.startsWith("https:");
  const router = new WebRouter(log.child({ part: "web" }), config.publicUrl);
  const sessions = new WebSessions({ now, random: token, idleMs: config.web.idleMs, maxMs: config.web.maxMs, secure });
  const links = new LoginLinks({ now, random: token, ttlMs: config.web.linkMs });
  const confirmations = new Confirmations({
    now,
    random: token,
    randomBytes,
    confirmMs: config.web.confirmMs,
    domain: config.domain,
    loginUrl: `${config.publicUrl}web/login`,
    request: (iq, ms) => xmpp.request(iq, ms),
  });
  registerStatic(router);
  registerSignIn(router, {
    sessions,
    confirmations,
    links,
    perJid: new RateLimit({ limit: ATTEMPTS_PER_JID, windowMs: ATTEMPT_WINDOW_MS, now }),
    perAddress: new RateLimit({ limit: ATTEMPTS_PER_ADDRESS, windowMs: ATTEMPT_WINDOW_MS, now }),
    isMember: async (jid) => (await deps.store.spacesOf(jid)).length > 0,
    clients: (jid) => xmpp.clients(jid),
    publicUrl: config.publicUrl,
    secure,
    now,
  });
  return { router, sessions, links };
}
