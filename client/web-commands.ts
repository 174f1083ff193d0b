/**
 * `xshare web-login` and `xshare web-confirm`: the sharing client's commands for the sharing
 * manager's web interface (README "Web interface"; XEP-draft.md § 5.16).
 *
 * - web-login asks the sharing manager (`<web-login/>`) for a one-time sign-in link for this
 *   account and returns it (the CLI prints it; `--open` hands it to the desktop's opener).
 * - web-confirm lists, accepts or denies the sign-in confirmations the running daemon holds
 *   (client/web-confirm.ts), through the local UI server's API (client/ui/confirm.ts).
 */
import { spawn } from "node:child_process";
import { ShareError } from "../protocol/errors.ts";
import { buildWebLoginRequest, type WebLoginLink } from "../protocol/stanzas/web-login.ts";
import { formatDateTime } from "../protocol/xml.ts";
import { loadConfig } from "./commands.ts";
import { UsageError } from "./config.ts";
import { openDevice } from "./device.ts";
import type { Home } from "./home.ts";

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
