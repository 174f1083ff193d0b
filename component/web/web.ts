/**
 * The web interface, put together (component/app.ts calls `buildWeb` once): its router
 * (router.ts), its static files (static.ts), its sessions (sessions.ts, the WebAuth the pages
 * use) and the sign-in pages (sign-in.ts). The browsing pages (files.ts) register on the same
 * router with the same WebAuth.
 */
import { randomBytes } from "node:crypto";
import type { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import { WebRouter } from "./router.ts";
import { WebSessions } from "./sessions.ts";
import { registerStatic } from "./static.ts";

/** What the web interface needs of the XMPP side. */
export interface WebLinks {
  /** Full JIDs of a member's sharing clients online now (modules/sharing-presence.ts). */
  clients(member: string): string[];
  /** Sends an IQ and resolves with its result (rejects on an error reply or after `timeoutMs`). */
  request(iq: Element, timeoutMs: number): Promise<Element>;
}

export interface Web {
  readonly router: WebRouter;
  /** The WebAuth of every page: who signed in (sessions.ts). */
  readonly sessions: WebSessions;
}

export function buildWeb(deps: Deps, _links: WebLinks): Web {
  const { config, log, now } = deps;
  const router = new WebRouter(log.child({ part: "web" }), config.publicUrl);
  const sessions = new WebSessions({
    now,
    random: () => randomBytes(32).toString("base64url"),
    idleMs: config.web.idleMs,
    maxMs: config.web.maxMs,
    secure: config.publicUrl.startsWith("https:"),
  });
  registerStatic(router);
  return { router, sessions };
}
