/**
 * HTML for the web interface: escaping, one page layout, and the headers every page carries.
 *
 * Names shown in a page (file names, JIDs, space names) are attacker-controlled, so pages are
 * built with the `html` tagged template: every interpolated value is escaped unless it is
 * itself the result of `html` (a `Safe`), or an array of those. There is no other way to put
 * text into a page here, and no inline script or style: the Content-Security-Policy allows only
 * the component's own /web/static/ files, no framing, and forms posting to this origin only.
 */
import type { ServerResponse } from "node:http";

/** HTML known to be safe: built by `html` (its interpolations escaped) or by `page`. */
export class Safe {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text as HTML text or attribute value (quoted with either quote). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Value = Safe | string | number | boolean | undefined | null | readonly Value[];

function render(v: Value): string {
  if (v === undefined || v === null || v === false) return "";
  if (v instanceof Safe) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

/** html`<p>${name}</p>`: the literal parts as they are, every value escaped (see the header). */
export function html(strings: TemplateStringsArray, ...values: Value[]): Safe {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Safe(out);
}

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** The headers of every web answer: strict CSP, no sniffing, no framing, no referrer, no caching. */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader("Content-Security-Policy", CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  // With no-referrer, browsers send `Origin: null` on same-origin posts: form.ts `sameOrigin`
  // then reads Fetch Metadata (Sec-Fetch-Site), which every current browser sends.
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  if (!res.hasHeader("Cache-Control")) res.setHeader("Cache-Control", "no-store");
}

export interface PageOptions {
  /** Scripts of /web/static/ to load (ES modules), e.g. ["sign-in.js"]. */
  readonly scripts?: readonly string[];
  /** Style sheets of /web/static/ besides web.css, e.g. ["files.css"]. */
  readonly styles?: readonly string[];
  /** Shown at the top right: who is signed in, with a sign-out button (needs the CSRF token). */
  readonly user?: { readonly jid: string; readonly csrf: string };
}

/** A whole page in the web interface's layout; `body` is already safe HTML. */
export function page(title: string, body: Safe, opts: PageOptions = {}): Safe {
  const scripts = (opts.scripts ?? []).map((s) => html`<script type="module" src="/web/static/${s}"></script>`);
  const styles = (opts.styles ?? []).map((s) => html`<link rel="stylesheet" href="/web/static/${s}">`);
  const user = opts.user
    ? html`<form class="who" method="post" action="/web/logout"><span>${opts.user.jid}</span><input type="hidden" name="csrf" value="${opts.user.csrf}"><button type="submit">Sign out</button></form>`
    : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · xshare</title>
<link rel="stylesheet" href="/web/static/web.css">
${styles}${scripts}
</head>
<body>
<header class="top"><a class="brand" href="/web/">xshare</a>${user}</header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** Sends a page (or a bare `Safe` body wrapped in the layout with `title`). */
export function sendPage(res: ServerResponse, status: number, title: string, body: Safe | string, opts: PageOptions = {}): void {
  // A plain string here is a fixed message of ours, written as HTML (never user data).
  const text = page(title, body instanceof Safe ? body : new Safe(body), opts).text;
  securityHeaders(res);
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Sends JSON (the sign-in page's polling), with the same headers. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  securityHeaders(res);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** 303 See Other to a path of this site (after a form post). */
export function redirect(res: ServerResponse, location: string): void {
  if (!location.startsWith("/web")) throw new Error(`redirect outside the web interface: ${location}`);
  securityHeaders(res);
  res.writeHead(303, { Location: location, "Content-Length": 0 });
  res.end();
}
