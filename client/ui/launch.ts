/**
 * The local UI's life around `xshare run`, and `xshare ui`.
 *
 * - `startUi`: `xshare run` starts the UI server (server.ts) with the modules of modules.ts
 *   before it logs in (a taken `--ui-port` stops the start with its sentence), and writes
 *   `<stateDir>/ui.json` (mode 0600: the URL with the secret, port, pid), which only the user
 *   can read. `close` ends the pages' event streams and removes the file.
 * - `uiCommand` (`xshare ui`): prints that URL (`--open`: gives it to xdg-open), or says why
 *   there is none: no daemon running, or one started with `--no-ui`.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { ClientConfig } from "../config.ts";
import { UsageError } from "../config.ts";
import type { Daemon } from "../daemon.ts";
import type { Home } from "../home.ts";
import { alive } from "../lock.ts";
import { UI_MODULES } from "./modules.ts";
import { UiServer, type UiInfo } from "./server.ts";

export const uiFile = (home: Home) => join(home.stateDir, "ui.json");
/** `xshare run`'s pid file (commands.ts writes it). */
const daemonPid = (home: Home) => join(home.stateDir, "daemon.pid");

export interface UiHandle {
  readonly info: UiInfo;
  close(): Promise<void>;
}

/** Starts the UI server for `xshare run` and writes ui.json; rejects with a UsageError. */
export async function startUi(daemon: Daemon, home: Home, config: ClientConfig, opts: { port?: number; log?: (line: string) => void }): Promise<UiHandle> {
  const server = new UiServer({ daemon, home, config }, { modules: UI_MODULES, ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.log ? { log: opts.log } : {}) });
  let info: UiInfo;
  try {
    info = await server.listen();
  } catch (err) {
    await server.close();
    throw new UsageError((err as Error).message);
  }
  const file = uiFile(home);
  await mkdir(home.stateDir, { recursive: true, mode: 0o700 });
  await writeFile(`${file}.tmp`, `${JSON.stringify(info)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return {
    info,
    close: async () => {
      await server.close();
      await rm(file, { force: true });
    },
  };
}

/** What `xshare ui` prints, having checked that the daemon it names still runs. */
export async function uiCommand(home: Home, opts: { open?: boolean }): Promise<string[]> {
  const info = await readUiFile(home);
  if (!info) {
    const pid = Number((await readFile(daemonPid(home), "utf8").catch(() => "")).trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new UsageError(`xshare run (pid ${pid}) runs without its UI (--no-ui); restart it without --no-ui`);
    throw new UsageError("no xshare run is running on this device; start it with `xshare run` (it serves the UI)");
  }
  if (!opts.open) return [info.url];
  const opener = findOnPath("xdg-open");
  if (!opener) return [info.url, "(no xdg-open on this system: open the link above in your browser)"];
  const child = spawn(opener, [info.url], { detached: true, stdio: "ignore" });
  child.on("error", () => undefined);
  child.unref();
  return [`opening ${info.url}`];
}

async function readUiFile(home: Home): Promise<UiInfo | undefined> {
  let data: Partial<UiInfo>;
  try {
    data = JSON.parse(await readFile(uiFile(home), "utf8")) as Partial<UiInfo>;
  } catch {
    return undefined;
  }
  if (typeof data.url !== "string" || typeof data.pid !== "number" || typeof data.port !== "number") return undefined;
  // Left by a daemon that was killed: not a UI any more.
  if (!alive(data.pid)) return undefined;
  return data as UiInfo;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
