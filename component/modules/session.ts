/**
 * Sessions for IQs over HTTP (XEP-draft.md § 5.11): a token bound to the requesting member,
 * valid for `sessionTtlMs`. The HTTP side is `iq-bridge.ts`.
 */
import * as SE from "../../protocol/stanzas/session.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";

export function registerSession(router: Router, deps: Deps): void {
  router.get("session", ({ member, payload }) => {
    SE.parseSessionRequest(payload);
    const { token, expiresMs } = deps.sessions.issue(member);
    return SE.buildSession({ url: `${deps.config.publicUrl}iq`, token, expiresMs });
  });
}
