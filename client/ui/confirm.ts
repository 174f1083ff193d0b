/**
 * The local UI's `confirm` module: sign-in requests of the sharing manager's web interface
 * (XEP-0070, client/web-confirm.ts) that the daemon holds, with Accept and Deny.
 *
 *   GET  /api/confirm/pending   {pending: PendingConfirm[]}
 *   POST /api/confirm/answer    {id, accept: true|false} → {id, accepted}; 404 when no such
 *                               request is held (answered elsewhere, or expired)
 *
 * Live: every change of the held list is published as the `confirm` event ({pending}). The
 * same API serves `xshare web-confirm` (client/web-commands.ts).
 */
import type { PendingConfirm } from "../web-confirm.ts";
import { allow, HttpError, readJsonObject, sendJson, stringField } from "./http.ts";
import type { UiContext, UiModule } from "./module.ts";

export function confirmModule(ctx: UiContext): UiModule {
  const confirms = ctx.daemon.webConfirm;
  const publish = (pending: PendingConfirm[]) => ctx.publish("confirm", { pending });
  confirms.onChange = publish;
  return {
    name: "confirm",
    snapshot: () => ({ pending: confirms.list() }),
    async handle(req, res, url) {
      if (url.pathname === "/api/confirm/pending") {
        if (!allow(req, res, "GET")) return true;
        sendJson(res, 200, { pending: confirms.list() });
        return true;
      }
      if (url.pathname === "/api/confirm/answer") {
        if (!allow(req, res, "POST")) return true;
        const body = await readJsonObject(req);
        const id = stringField(body, "id", 64);
        if (typeof body.accept !== "boolean") throw new HttpError(400, `"accept" must be true or false.`);
        if (!confirms.answer(id, body.accept)) throw new HttpError(404, `No sign-in request ${id} is waiting (already answered, or expired).`);
        sendJson(res, 200, { id, accepted: body.accept });
        return true;
      }
      return false;
    },
    close() {
      if (confirms.onChange === publish) confirms.onChange = undefined;
    },
  };
}
