/**
 * Request checks shared by the web interface's forms: reading an
 * `application/x-www-form-urlencoded` body (bounded), and refusing cross-site posts.
 *
 * `sameOrigin`: a non-GET request is taken only when its Origin (or, without one, its
 * Referer) is the public URL's origin, or its Origin is `null` (what no-referrer pages send) with
 * `Sec-Fetch-Site: same-origin`, or when it carries neither (non-browser clients; a
 * browser always sends Origin on a cross-site POST). SameSite=Strict cookies and the CSRF token
 * (sessions.ts) are the other two layers.
 */
import type { IncomingMessage } from "node:http";

export class FormError extends Error {
  constructor(
    readonly status: number,
    text: string,
  ) {
    super(text);
  }
}

/** Largest form body read (a sign-in form is a few hundred bytes). */
export const FORM_LIMIT = 16 * 1024;

/** The fields of a urlencoded body; 413 over `limit`, 415 for another content type. */
export async function readForm(req: IncomingMessage, limit = FORM_LIMIT): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") throw new FormError(415, "Send the form as application/x-www-form-urlencoded");
  if (Number(req.headers["content-length"] ?? 0) > limit) throw new FormError(413, "The form is too large");
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of req) {
    size += (piece as Buffer).length;
    if (size > limit) throw new FormError(413, "The form is too large");
    parts.push(piece as Buffer);
  }
  return new URLSearchParams(Buffer.concat(parts).toString("utf8"));
}

/** Whether a request comes from a page of `publicUrl`'s origin (see the header). */
export function sameOrigin(req: IncomingMessage, publicUrl: string): boolean {
  const expected = new URL(publicUrl).origin;
  const origin = req.headers.origin;
  // Pages are served with Referrer-Policy: no-referrer, so a browser's own same-origin form
  // posts and fetches say `Origin: null`; Fetch Metadata then tells where they came from.
  if (origin === "null") return req.headers["sec-fetch-site"] === "same-origin";
  if (origin !== undefined) return origin === expected;
  const referer = req.headers.referer;
  if (referer === undefined) return true;
  try {
    return new URL(referer).origin === expected;
  } catch {
    return false;
  }
}
