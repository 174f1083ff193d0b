/**
 * `xshare web-login` and `xshare web-confirm`: the sharing client's commands for the sharing
 * manager's web interface (README "Web interface"; XEP-draft.md § 5.17).
 *
 * - web-login asks the sharing manager (`<web-login/>`) for a one-time sign-in link for this
 *   account and returns it (the CLI prints it; `--open` hands it to the desktop's opener).
 * - web-confirm lists, accepts or denies the sign-in confirmations the running daemon holds
 *   (client/web-confirm.ts), through the local UI server's API (client/ui/confirm.ts).
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { ShareError } from "../protocol/errors.ts";
import { buildWebLoginRequest, type WebLoginLink } from "../protocol/stanzas/web-login.ts";
import { formatDateTime } from "../protocol/xml.ts";
import { loadConfig } from "./commands.ts";
import { UsageError } from "./config.ts";
import { openDevice } from "./device.ts";
import type { Home } from "./home.ts";
import { uiFile } from "./ui/launch.ts";
import type { PendingConfirm } from "./web-confirm.ts";

/** A one-time sign-in link to the web interface for this account. */
export async function webLogin(home: Home): Promise<WebLoginLink> {
  const device = await openDevice(home, await loadConfig(home));
  try {
    return await device.remote.request<WebLoginLink>("set", buildWebLoginRequest());
  } catch (err) {
    if (err instanceof ShareError) {
      if (err.code === "not-implemented") throw new UsageError("this sharing manager has no web interface (it does not know <web-login/>)");
      throw new UsageError(`the sharing manager refused: ${err.message}`);
    }
    throw err;
  } finally {
    await device.close();
  }
}

export function describeLink(link: WebLoginLink): string[] {
  return [link.url, `(works once, until ${formatDateTime(link.expiresMs)})`];
}

/** Opens a URL with the desktop's opener (xdg-open, open, start); resolves once launched. */
export function openUrl(url: string): Promise<void> {
  const [cmd, args] =
    process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args as string[], { stdio: "ignore", detached: true });
    child.once("error", (err) => reject(new UsageError(`cannot open a browser (${cmd}: ${err.message}); open the link yourself`)));
    child.once("spawn", () => {
      child.unref();
      resolve();
    });
  });
}

/** The running daemon's UI API (ui.json's URL and secret): a JSON request, as the page makes it. */
async function daemonApi(home: Home, method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
  let info: { url?: unknown };
  try {
    info = JSON.parse(await readFile(uiFile(home), "utf8")) as { url?: unknown };
  } catch {
    throw new UsageError("no xshare run with its UI is running on this device; start `xshare run` (without --no-ui), which holds the sign-in requests");
  }
  if (typeof info.url !== "string") throw new UsageError(`${uiFile(home)} is damaged; restart xshare run`);
  const base = new URL(info.url);
  const origin = base.origin;
  // The secret URL sets the session cookie (client/ui/server.ts); then the API as the page uses it.
  const signIn = await fetch(info.url, { redirect: "manual" }).catch(() => undefined);
  const cookie = signIn?.headers.get("set-cookie")?.split(";")[0];
  if (!signIn || !cookie) throw new UsageError("xshare run does not answer on its UI port (stopped?); start it again");
  const res = await fetch(new URL(`/api/${path}`, origin), {
    method,
    headers: { cookie, "x-xshare": "1", origin, accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = (await res.json().catch(() => null)) as { error?: unknown } | null;
  if (!res.ok) throw new UsageError(typeof data?.error === "string" ? data.error : `xshare run answered ${res.status}`);
  return data;
}

/** `xshare web-confirm`: the held sign-in requests, or the answer to one. */
export async function webConfirm(home: Home, opts: { accept?: string; deny?: string }): Promise<string[]> {
  if (opts.accept !== undefined && opts.deny !== undefined) throw new UsageError("use --accept or --deny, not both");
  const id = opts.accept ?? opts.deny;
  if (id !== undefined) {
    await daemonApi(home, "POST", "confirm/answer", { id, accept: opts.accept !== undefined });
    return [opts.accept !== undefined ? `accepted ${id}: the web page signs in` : `denied ${id}: the web page is refused`];
  }
  const { pending } = (await daemonApi(home, "GET", "confirm/pending")) as { pending: PendingConfirm[] };
  if (pending.length === 0) return ["no sign-in requests waiting"];
  return pending.map((p) => `${p.id}  ${p.method} ${p.url}  (asked ${formatDateTime(p.receivedMs)}, expires ${formatDateTime(p.expiresMs)}; xshare web-confirm --accept ${p.id} or --deny ${p.id})`);
}
