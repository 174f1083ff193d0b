/**
 * Web sessions (implements auth.ts's WebAuth): who signed in to the web interface, by cookie.
 *
 * A session is created only by a completed sign-in (sign-in.ts: a confirmation by the user's
 * sharing client, or a one-time link). Its cookie holds 32 random bytes (base64url) and
 * nothing else: `HttpOnly; SameSite=Strict; Path=/web`, `Secure` when the public URL is
 * https. A session ends after `idleMs` without a request, after `maxMs` in any case, or at
 * sign-out; a cookie that names no live session (forged, expired, from before a restart) is no
 * session. Each session has its own CSRF token (WebUser.csrf) that every form and non-GET
 * request must carry (`checkCsrf`, constant-time). Sessions are in memory: a restart of the
 * component signs everyone out. A session says who signed in, nothing more: pages check
 * membership on every request. Clock and randomness are injected (tests use a fake clock).
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BareJid } from "../../protocol/ids.ts";
import type { WebAuth, WebUser } from "./auth.ts";

export const COOKIE = "xshare_web";

export interface SessionOptions {
  readonly now: () => number;
  /** A fresh unguessable token (e.g. 32 random bytes, base64url). */
  readonly random: () => string;
  /** A session unused this long ends. */
  readonly idleMs: number;
  /** A session ends this long after sign-in, used or not. */
  readonly maxMs: number;
  /** Whether cookies get `Secure` (the public URL is https). */
  readonly secure: boolean;
}

interface Session {
  readonly user: WebUser;
  readonly createdMs: number;
  lastMs: number;
}

const TOKEN = /^[A-Za-z0-9_-]{20,200}$/;

/** The value of cookie `name` in a request's Cookie header(s). */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Equal strings, in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class WebSessions implements WebAuth {
  readonly #sessions = new Map<string, Session>();
  readonly #opts: SessionOptions;

  constructor(opts: SessionOptions) {
    this.#opts = opts;
  }

  /** Starts a session for `jid` and sets its cookie on `res`. */
  create(res: ServerResponse, jid: BareJid): WebUser {
    this.sweep();
    const token = this.#opts.random();
    const now = this.#opts.now();
    const user: WebUser = { jid, csrf: this.#opts.random() };
    this.#sessions.set(token, { user, createdMs: now, lastMs: now });
    this.#setCookie(res, token, Math.floor(this.#opts.maxMs / 1000));
    return user;
  }

  /** The signed-in user of this request, or undefined; a live session's idle timer restarts. */
  user(req: IncomingMessage): WebUser | undefined {
    const token = cookieValue(req, COOKIE);
    if (!token || !TOKEN.test(token)) return undefined;
    const s = this.#sessions.get(token);
    if (!s) return undefined;
    const now = this.#opts.now();
    if (this.#expired(s, now)) {
      this.#sessions.delete(token);
      return undefined;
    }
    s.lastMs = now;
    return s.user;
  }

  /** Whether `token` (a form field or the X-CSRF-Token header) is this user's CSRF token. */
  checkCsrf(user: WebUser, token: string | undefined): boolean {
    return token !== undefined && sameSecret(token, user.csrf);
  }

  /** Ends the request's session (if any) and clears its cookie. */
  destroy(req: IncomingMessage, res: ServerResponse): void {
    const token = cookieValue(req, COOKIE);
    if (token) this.#sessions.delete(token);
    this.#setCookie(res, "", 0);
  }

  /** Ends every session of `jid` (e.g. when a test or an admin wants them all gone). */
  endAll(jid: BareJid): void {
    for (const [t, s] of this.#sessions) if (s.user.jid === jid) this.#sessions.delete(t);
  }

  sweep(): void {
    const now = this.#opts.now();
    for (const [t, s] of this.#sessions) if (this.#expired(s, now)) this.#sessions.delete(t);
  }

  get size(): number {
    return this.#sessions.size;
  }

  #expired(s: Session, now: number): boolean {
    return now - s.lastMs >= this.#opts.idleMs || now - s.createdMs >= this.#opts.maxMs;
  }

  #setCookie(res: ServerResponse, value: string, maxAgeSeconds: number): void {
    const attrs = [`${COOKIE}=${value}`, "Path=/web", "HttpOnly", "SameSite=Strict", `Max-Age=${maxAgeSeconds}`];
    if (this.#opts.secure) attrs.push("Secure");
    const prev = res.getHeader("Set-Cookie");
    const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
    res.setHeader("Set-Cookie", [...list, attrs.join("; ")]);
  }
}
