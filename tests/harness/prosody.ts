// A real Prosody for e2e tests and the demo: Debian's package, run with the deployment's own
// docker/prosody/prosody.cfg.lua, on free loopback ports, with data, pid and log in a fresh
// temporary directory. Nothing here touches /etc/prosody or the well-known ports.
//
// Invariant: no Prosody outlives the process that started it. stop() is the normal path; an exit
// or signal handler kills whatever is left, and a small watchdog shell kills Prosody if this
// process dies without running any handler (SIGKILL, crash of a vitest worker).

import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureProsody } from "./prosody-check.ts";
import { exited, killOnExit, waitExit } from "./processes.ts";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PROSODY_CONFIG = path.join(REPO_ROOT, "docker/prosody/prosody.cfg.lua");

export interface ProsodyOptions {
  /** Accounts to create before returning, as [user, password]. */
  accounts?: Array<[string, string]>;
  /** Users' domain (default example.org, as in deployment). */
  domain?: string;
  /** Sharing manager domain (default share.<domain>). */
  componentDomain?: string;
  /** mod_limits c2s rate, e.g. "10mb/s"; default: the deployment's 10kb/s. */
  c2sRate?: string;
  /** Prosody log level (default "info"). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** ms to wait for the ports (default 20 s). */
  startTimeout?: number;
}

export interface ProsodyHandle {
  domain: string;
  componentDomain: string;
  componentSecret: string;
  c2sPort: number;
  componentPort: number;
  /** xmpp.js service URI for clients. */
  service: string;
  /** xmpp.js service URI for the component. */
  componentService: string;
  dataDir: string;
  logFile: string;
  /** Creates (or re-passwords) an account with prosodyctl. */
  register(user: string, password: string): Promise<void>;
  /** Stops Prosody and starts it again on the same ports and data: every session is cut. */
  restart(): Promise<void>;
  /** Stops Prosody and removes its temporary directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines of Prosody's log and output, for error messages. */
  logTail(lines?: number): Promise<string>;
}

const LOOPBACK = "127.0.0.1";
const START_ATTEMPTS = 4;
const STOP_GRACE_MS = 5_000;

// ---------------------------------------------------------------- process bookkeeping

const live = new Set<ChildProcess>();

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installExitHandlers(): void {
  killOnExit(killAllNow);
}

/** Kills `pid` if this process disappears without cleaning up (the exit handler cannot run on SIGKILL). */
function spawnWatchdog(pid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL ${pid} 2>/dev/null`;
  const dog = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  dog.unref();
  return dog;
}

// ---------------------------------------------------------------- helpers

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class PortInUse extends Error {}

// ---------------------------------------------------------------- the handle

export async function startProsody(opts: ProsodyOptions = {}): Promise<ProsodyHandle> {
  const bins = ensureProsody();
  installExitHandlers();

  const domain = opts.domain ?? "example.org";
  const componentDomain = opts.componentDomain ?? `share.${domain}`;
  const componentSecret = randomBytes(16).toString("hex");
  const startTimeout = opts.startTimeout ?? 20_000;

  const root = await mkdtemp(path.join(tmpdir(), "xshare-prosody-"));
  const dataDir = path.join(root, "data");
  const certsDir = path.join(root, "certs"); // empty on purpose: tests run without TLS
  const logFile = path.join(root, "prosody.log");
  await mkdir(dataDir, { recursive: true });
  await mkdir(certsDir, { recursive: true });

  let c2sPort = 0;
  let componentPort = 0;
  let child: ChildProcess | null = null;
  let watchdog: ChildProcess | null = null;
  let output = "";
  let stopped = false;

  const env = (): NodeJS.ProcessEnv => {
    // Inherit PATH and friends, never a stray XSHARE_* from the caller's shell.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("XSHARE_")));
    return {
      ...base,
      XSHARE_DOMAIN: domain,
      XSHARE_COMPONENT_DOMAIN: componentDomain,
      XSHARE_COMPONENT_SECRET: componentSecret,
      XSHARE_PROSODY_C2S_PORT: String(c2sPort),
      XSHARE_PROSODY_COMPONENT_PORT: String(componentPort),
      XSHARE_PROSODY_INTERFACES: LOOPBACK,
      XSHARE_PROSODY_COMPONENT_INTERFACES: LOOPBACK,
      XSHARE_PROSODY_DISABLE_S2S: "1",
      XSHARE_INSECURE_C2S: "1",
      XSHARE_PROSODY_DATA_DIR: dataDir,
      XSHARE_PROSODY_CERTS_DIR: certsDir,
      XSHARE_PROSODY_PIDFILE: path.join(root, "prosody.pid"),
      XSHARE_PROSODY_LOG: logFile,
      XSHARE_PROSODY_LOG_LEVEL: opts.logLevel ?? "info",
      ...(opts.c2sRate ? { XSHARE_PROSODY_C2S_RATE: opts.c2sRate } : {}),
      ...(process.getuid?.() === 0 ? { XSHARE_PROSODY_RUN_AS_ROOT: "1" } : {}),
    };
  };

  async function logTail(lines = 40): Promise<string> {
    const log = await readFile(logFile, "utf8").catch(() => "");
    const tail = log.trimEnd().split("\n").slice(-lines).join("\n");
    const out = output.trim() ? `\n--- prosody stdout/stderr ---\n${output.trim().slice(-4000)}` : "";
    return `--- ${logFile} (last ${lines} lines) ---\n${tail}${out}`;
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = null;
    if (proc && !exited(proc)) {
      proc.kill("SIGTERM");
      if (!(await waitExit(proc, STOP_GRACE_MS))) {
        proc.kill("SIGKILL");
        await waitExit(proc, STOP_GRACE_MS);
      }
    }
    if (proc) live.delete(proc);
    if (watchdog?.pid && watchdog.exitCode === null) {
      try {
        process.kill(watchdog.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    watchdog = null;
  }

  /** One attempt on the current ports; throws PortInUse when Prosody could not bind them. */
  async function launch(): Promise<void> {
    const logStart = (await readFile(logFile, "utf8").catch(() => "")).length;
    const proc = spawn(bins.prosody, ["-F", "--config", PROSODY_CONFIG], {
      env: env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    live.add(proc);
    proc.on("exit", () => live.delete(proc));
    if (proc.pid) watchdog = spawnWatchdog(proc.pid);
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString("utf8")).slice(-16_000);
    };
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    proc.on("error", (err) => collect(Buffer.from(`spawn error: ${err.message}\n`)));

    const deadline = Date.now() + startTimeout;
    for (;;) {
      const log = (await readFile(logFile, "utf8").catch(() => "")).slice(logStart);
      if (/Failed to open server port/.test(log)) {
        await kill();
        throw new PortInUse(await logTail());
      }
      if (exited(proc)) {
        const how = proc.exitCode !== null ? `exit code ${proc.exitCode}` : `signal ${proc.signalCode}`;
        child = null;
        throw new Error(`Prosody exited during startup (${how})\n${await logTail()}`);
      }
      const activated =
        log.includes(`Activated service 'c2s' on [${LOOPBACK}]:${c2sPort}`) &&
        log.includes(`Activated service 'component' on [${LOOPBACK}]:${componentPort}`);
      if (activated && (await acceptsTcp(c2sPort)) && (await acceptsTcp(componentPort))) return;
      if (Date.now() > deadline) {
        await kill();
        throw new Error(`Prosody did not open ports ${c2sPort}/${componentPort} within ${startTimeout} ms\n${await logTail()}`);
      }
      await sleep(50);
    }
  }

  async function register(user: string, password: string): Promise<void> {
    try {
      await promisify(execFile)(bins.prosodyctl, ["--config", PROSODY_CONFIG, "register", user, domain, password], {
        env: env(),
        timeout: 20_000,
      });
    } catch (err) {
      const e = err as { message: string; stdout?: string; stderr?: string };
      throw new Error(`prosodyctl register ${user}@${domain} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  }

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await kill();
    await rm(root, { recursive: true, force: true });
  }

  try {
    for (let attempt = 1; ; attempt++) {
      c2sPort = await freePort();
      componentPort = await freePort();
      while (componentPort === c2sPort) componentPort = await freePort();
      try {
        await launch();
        break;
      } catch (err) {
        // Another process took a port between freePort() and Prosody's bind: try new ones.
        if (err instanceof PortInUse && attempt < START_ATTEMPTS) continue;
        throw err;
      }
    }
    for (const [user, password] of opts.accounts ?? []) await register(user, password);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    domain,
    componentDomain,
    componentSecret,
    get c2sPort() {
      return c2sPort;
    },
    get componentPort() {
      return componentPort;
    },
    get service() {
      return `xmpp://${LOOPBACK}:${c2sPort}`;
    },
    get componentService() {
      return `xmpp://${LOOPBACK}:${componentPort}`;
    },
    dataDir,
    logFile,
    register,
    logTail,
    stop,
    async restart() {
      if (stopped) throw new Error("Prosody handle already stopped");
      await kill();
      // Same ports, so that clients reconnect by themselves. A port grabbed meanwhile is retried
      // briefly (the kernel may still hold it), then reported.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch();
          return;
        } catch (err) {
          if (err instanceof PortInUse && attempt < START_ATTEMPTS) {
            await sleep(250);
            continue;
          }
          throw err;
        }
      }
    },
  };
}
