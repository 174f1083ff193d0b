/**
 * Running `xshare-component`: read the configuration, start, and stop cleanly on SIGTERM or
 * SIGINT (in-flight uploads get a few seconds, then are aborted and leave nothing visible;
 * the database is closed). Configuration problems print one line and exit 2. A refused
 * handshake (wrong secret, unknown domain) is logged at every attempt and retried, 5 s doubling
 * to 5 min (component/link.ts), until the admin fixes either side; being replaced by another
 * connection for the same domain exits 3; anything unexpected is logged and exits 1.
 */
import { pino } from "pino";
import { type ComponentApp, startComponent } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";

export async function runComponent(opts: { config?: string }): Promise<void> {
  let config;
  try {
    config = loadConfig({ file: opts.config });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`xshare-component: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { component: config.domain } });
  // Until connected (perhaps a while, if the server refuses us): a signal just ends the process.
  const early = () => process.exit(0);
  process.once("SIGTERM", early);
  process.once("SIGINT", early);
  let app: ComponentApp;
  try {
    app = await startComponent(config, log);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE" || e.code === "EACCES") {
      process.stderr.write(`xshare-component: cannot listen on ${config.httpHost}:${config.httpPort} (${e.code}); set http / XSHARE_HTTP_LISTEN\n`);
      process.exit(2);
    }
    process.stderr.write(`xshare-component: ${e.message}\n`);
    process.exit(3);
  }
  // One line for people and scripts (the JSON log goes on beside it).
  const url = app.deps.config.publicUrl;
  process.stdout.write(`xshare-component ready: ${config.domain} on ${config.service}, HTTP ${url} (health: ${url}health)\n`);
  app.link.on("fatal", (err: Error) => {
    log.fatal({ err: err.message }, "giving up");
    void app.stop().finally(() => process.exit(3));
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "unclean stop");
        process.exit(1);
      },
    );
  };
  process.off("SIGTERM", early);
  process.off("SIGINT", early);
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
