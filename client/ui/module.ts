/**
 * How the local UI (`xshare ui`, served by the running daemon on loopback: client/ui/server.ts) is
 * put together: one server, one page, and modules that each own a part of it.
 *
 * - The server authenticates every request (the per-start secret's cookie), checks the Host
 *   header (no DNS rebinding) and, for anything but GET/HEAD, the Origin and the `X-Xshare: 1`
 *   header (no cross-site requests: there is no CORS), before a module sees it. It serves the
 *   page, the static files of client/ui/static/, `GET /api/state` (every module's snapshot, by
 *   name) and `GET /api/events` (server-sent events: what modules `publish`).
 * - A module answers the requests under `/api/<name>/` and owns `static/<name>.js` (an ES module
 *   exporting `mount(app: UiApp)`, see static/app.js) and, if it has one, `static/<name>.css`.
 * - Modules: `im` (contacts, presence, the sharing indicator, chat), `share` (the sharing portion:
 *   spaces, gleam, tree, details, history, transfers, conflicts), `confirm` (sign-in requests of
 *   the sharing manager's web interface, XEP-0070). The list is client/ui/modules.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ClientConfig } from "../config.ts";
import type { Daemon } from "../daemon.ts";
import type { Home } from "../home.ts";

export interface UiContext {
  /** The running daemon: its device (connection, remote, state) once started. */
  readonly daemon: Daemon;
  readonly home: Home;
  readonly config: ClientConfig;
  /** Sends a server-sent event to every open page: `event: <type>` and `data: <JSON of data>`. */
  publish(type: string, data: unknown): void;
  /** One line into the daemon's log (`xshare run`'s output; nothing with --quiet). */
  log(line: string): void;
}

export interface UiModule {
  /** Its part of the URL space (`/api/<name>/`), of the state and of the static files. */
  readonly name: string;
  /**
   * Answers a request whose path starts with `/api/<name>/` (already authenticated and checked,
   * see the header). Resolves false when no route matched (the server answers 404). Bad input:
   * a 4xx with `{"error": "<a sentence for the user>"}` and nothing changed.
   */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** What the page gets at load, under `state[name]` of `GET /api/state`. */
  snapshot?(): unknown;
  /** Called when the daemon stops. */
  close?(): void | Promise<void>;
}

export type UiModuleFactory = (ctx: UiContext) => UiModule;
