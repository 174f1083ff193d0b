/**
 * `<web-login/>` (XEP-draft.md § 5.17): a one-time sign-in link to the web interface for the
 * requester's bare JID (component/web/links.ts), as `xshare web-login` prints it.
 */
import * as WL from "../../protocol/stanzas/web-login.ts";
import type { Router } from "../router.ts";
import type { LoginLinks } from "../web/links.ts";

export function registerWebLogin(router: Router, links: LoginLinks, publicUrl: string): void {
  router.set("web-login", ({ member, payload }) => {
    WL.parseWebLoginRequest(payload);
    const { token, expiresMs } = links.issue(member);
    return WL.buildWebLogin({ url: `${publicUrl}web/login/link/${token}`, expiresMs });
  });
}
