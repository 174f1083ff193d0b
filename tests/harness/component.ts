// The real sharing manager for e2e tests: `node bin/xshare-component.js` as a child process,
// configured through its environment variables, attached to a harness Prosody. Its data
// directory outlives restarts of the process (that is what the restart tests check) and is
// removed by `destroy()`. No child outlives the test process.

import { spawn, type ChildProcess } from "node:child_process";
import { shebangFlags } from "./node-flags.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "@xmpp/client";
import { ShareError } from "../../protocol/errors.ts";
import { Element } from "../../protocol/xml.ts";
import { xmppShareRequest } from "../../client/remote.ts";
import type { ProsodyHandle } from "./prosody.ts";
import { REPO_ROOT } from "./prosody.ts";

const BIN = path.join(REPO_ROOT, "bin/xshare-component.js");
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export interface ComponentProcess {
  readonly dataDir: string;
  /** Process id of the running component (undefined when stopped). */
  pid(): number | undefined;
  /** Everything the process wrote (pino JSON lines and stderr). */
  output(): string;
  /** Starts the process (again) and waits until it is connected to Prosody. */
  start(): Promise<void>;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number | null>;
  /** Stops the process and removes its data directory. */
  destroy(): Promise<void>;
}

export async function startComponentProcess(
  prosody: ProsodyHandle,
  env: Record<string, string> = {},
  /** Extra node flags before the script (benchmarks: `--cpu-prof`). */
  nodeArgs: readonly string[] = [],
): Promise<ComponentProcess> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "xshare-component-"));
  let child: ChildProcess | undefined;
  let out = "";

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const from = out.length;
      const proc = spawn(process.execPath, [...shebangFlags("bin/xshare-component.js"), ...nodeArgs, BIN], {
        env: {
          ...process.env,
          XSHARE_COMPONENT_DOMAIN: prosody.componentDomain,
          XSHARE_COMPONENT_SECRET: prosody.componentSecret,
          XSHARE_XMPP_SERVICE: prosody.componentService,
          XSHARE_DATA_DIR: dataDir,
          XSHARE_HTTP_LISTEN: "127.0.0.1:0",
          XSHARE_LOG_LEVEL: "debug",
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = proc;
      live.add(proc);
      const timer = setTimeout(() => {
        // Not left behind, connecting on its own after the test gave up on it.
        proc.kill("SIGKILL");
        reject(new Error(`component did not connect in time:\n${out.slice(-3000)}`));
      }, 30_000);
      const onData = (b: Buffer) => {
        out += b.toString();
        // Its one-line readiness message (stdout, whatever the log level).
        if (out.indexOf("xshare-component ready: ", from) >= 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      proc.once("exit", (code) => {
        live.delete(proc);
        clearTimeout(timer);
        reject(new Error(`component exited with ${code}:\n${out.slice(-3000)}`));
      });
    });

  const stop = async (): Promise<number | null> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.kill("SIGTERM");
    const kill = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(kill);
    return code;
  };

  await start();
  return {
    dataDir,
    pid: () => (child && child.exitCode === null ? child.pid : undefined),
    output: () => out,
    start,
    stop,
    destroy: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Sends a protocol IQ from an xmpp.js client and returns the parsed answer: the payload value
 * for a result, or throws the ShareError of an error answer.
 */
export async function share<T = unknown>(xmpp: Client, to: string, type: "get" | "set", payload: Element): Promise<T> {
  const iq = new Element("iq", { type, to });
  iq.cnode(payload);
  return xmppShareRequest<T>((el) => xmpp.iqCaller.request(el, 20_000), iq);
}

/** Like `share`, but expects an error and returns it. */
export async function shareError(xmpp: Client, to: string, type: "get" | "set", payload: Element): Promise<ShareError> {
  try {
    await share(xmpp, to, type, payload);
  } catch (err) {
    if (err instanceof ShareError) return err;
    throw err;
  }
  throw new Error(`expected an error for ${payload.toString()}`);
}
