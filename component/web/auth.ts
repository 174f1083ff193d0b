/**
 * The seam between the web interface's sign-in (component/web/sessions.ts, sign-in.ts) and its
 * pages (component/web/files.ts): a request is answered for a signed-in member only, and only
 * for the spaces that member belongs to at the moment of the request (the pages check
 * membership in the metadata store on every request; a session only says who signed in).
 */
import type { IncomingMessage } from "node:http";
import type { BareJid } from "../../protocol/ids.ts";

export interface WebUser {
  /** Who signed in. */
  readonly jid: BareJid;
  /** The session's token against cross-site requests: every form and non-GET request carries it. */
  readonly csrf: string;
}

export interface WebAuth {
  /** The signed-in user of this request (its session cookie), or undefined (expired, none, forged). */
  user(req: IncomingMessage): WebUser | undefined;
}
