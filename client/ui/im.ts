/**
 * The local UI's `im` module: the account and its presence (the header's selector).
 * (Roster, presence of contacts, the sharing indicator and chat follow.)
 *
 * Presence: the selector calls the daemon's setShow, which keeps broadcasting priority -1
 * (DESIGN.md decision 6), and writes the same file `xshare presence` writes, so that the next
 * SIGHUP (any `xshare accept`/`share`) keeps the choice.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SHOWS, isShow } from "../../protocol/stanzas/sync-signals.ts";
import { allow, HttpError, readJsonObject, sendJson } from "./http.ts";
import type { UiContext, UiModule } from "./module.ts";

/** What the selector offers: available and the XMPP shows. */
export const SHOW_CHOICES = ["available", ...SHOWS] as const;

export function imModule(ctx: UiContext): UiModule {
  const showFile = join(ctx.home.stateDir, "presence"); // the file commands.ts `presence` writes
  ctx.daemon.events.on("show", (show) => ctx.publish("im-presence", { show: show ?? "available" }));
  return {
    name: "im",
    snapshot: () => ({ me: ctx.config.jid, device: ctx.config.device, show: ctx.daemon.show ?? "available", shows: SHOW_CHOICES }),
    async handle(req, res, url) {
      if (url.pathname === "/api/im/presence") {
        if (!allow(req, res, "POST")) return true;
        const body = await readJsonObject(req);
        const show = body.show;
        if (typeof show !== "string" || !(SHOW_CHOICES as readonly string[]).includes(show)) throw new HttpError(400, `"show" must be one of ${SHOW_CHOICES.join(", ")}.`);
        if (!ctx.daemon.device) throw new HttpError(503, "Still logging in; try again in a moment.");
        await mkdir(ctx.home.stateDir, { recursive: true, mode: 0o700 });
        await writeFile(showFile, `${show}\n`, { mode: 0o600 });
        await ctx.daemon.setShow(isShow(show) ? show : undefined);
        sendJson(res, 200, { show });
        return true;
      }
      return false;
    },
  };
}
