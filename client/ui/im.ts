/**
 * The local UI's `im` module: the account and its presence (the header's selector), the
 * contacts with their presence and sharing indicator, and chat (client/im/service.ts does the
 * XMPP; static/im.js draws it).
 *
 * Routes (JSON): POST /api/im/presence {show}; GET /api/im/conversation?jid=<bare>;
 * POST /api/im/send {to, body}. Events: im-presence {show}, im-roster {contacts},
 * im-contact <contact>, im-message <message>, im-failed {contact, text}, im-carbons {enabled}.
 *
 * Presence: the selector calls the daemon's setShow, which keeps broadcasting priority -1
 * (DESIGN.md decision 6), and writes the same file `xshare presence` writes, so that the next
 * SIGHUP (any `xshare accept`/`share`) keeps the choice.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SHOWS, isShow } from "../../protocol/stanzas/sync-signals.ts";
import { History } from "../im/history.ts";
import { ImError, ImService } from "../im/service.ts";
import { allow, HttpError, readJsonObject, sendJson, stringField } from "./http.ts";
import type { UiContext, UiModule } from "./module.ts";

/** What the selector offers: available and the XMPP shows. */
export const SHOW_CHOICES = ["available", ...SHOWS] as const;

export function imModule(ctx: UiContext): UiModule {
  const showFile = join(ctx.home.stateDir, "presence"); // the file commands.ts `presence` writes
  const history = new History(join(ctx.home.stateDir, "im.sqlite"));
  const im = new ImService({ me: ctx.config.jid, history, log: (line) => ctx.log(line) });
  ctx.daemon.events.on("connection", (conn) => im.attach(conn));
  ctx.daemon.events.on("show", (show) => ctx.publish("im-presence", { show: show ?? "available" }));
  im.on("roster", (contacts) => ctx.publish("im-roster", { contacts }));
  im.on("contact", (c) => ctx.publish("im-contact", c));
  im.on("message", (m) => ctx.publish("im-message", m));
  im.on("failed", (f) => ctx.publish("im-failed", f));
  im.on("carbons", (enabled) => ctx.publish("im-carbons", { enabled }));

  const routes: Record<string, (req: Parameters<UiModule["handle"]>[0], res: Parameters<UiModule["handle"]>[1], url: URL) => Promise<void>> = {
    "/api/im/presence": async (req, res) => {
      if (!allow(req, res, "POST")) return;
      const body = await readJsonObject(req);
      const show = body.show;
      if (typeof show !== "string" || !(SHOW_CHOICES as readonly string[]).includes(show)) throw new HttpError(400, `"show" must be one of ${SHOW_CHOICES.join(", ")}.`);
      if (!ctx.daemon.device) throw new HttpError(503, "Still logging in; try again in a moment.");
      await mkdir(ctx.home.stateDir, { recursive: true, mode: 0o700 });
      await writeFile(showFile, `${show}\n`, { mode: 0o600 });
      await ctx.daemon.setShow(isShow(show) ? show : undefined);
      sendJson(res, 200, { show });
    },
    "/api/im/conversation": async (req, res, url) => {
      if (!allow(req, res, "GET", "HEAD")) return;
      const jid = url.searchParams.get("jid") ?? "";
      sendJson(res, 200, { jid, messages: im.conversation(jid) });
    },
    "/api/im/send": async (req, res) => {
      if (!allow(req, res, "POST")) return;
      const body = await readJsonObject(req);
      const message = await im.send(stringField(body, "to", 3071), stringField(body, "body", 20_000));
      sendJson(res, 200, { message });
    },
  };

  return {
    name: "im",
    snapshot: () => ({ me: ctx.config.jid, device: ctx.config.device, show: ctx.daemon.show ?? "available", shows: SHOW_CHOICES, carbons: im.carbons, contacts: im.contacts() }),
    async handle(req, res, url) {
      const route = routes[url.pathname];
      if (!route) return false;
      try {
        await route(req, res, url);
      } catch (err) {
        if (err instanceof ImError) throw new HttpError(err.status, err.message);
        throw err;
      }
      return true;
    },
    close: () => history.close(),
  };
}
