/**
 * Child processes of the harnesses (Prosody, Syncthing): whether one has exited, waiting for it,
 * and killing what they started when this process goes.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

/** Whether `child` has exited (by itself or by a signal). */
export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Whether process `pid` is gone, or a zombie (it runs nothing more), from /proc. */
export function deadOrZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Resolves true once `child` has exited, false after `ms` if it has not. */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Runs `kill` when this process exits, or on SIGINT, SIGTERM or SIGHUP (then dies by that signal,
 * unless someone else handles it): harnesses that start servers use it so that nothing they
 * started outlives the test run or benchmark. Installed once per `kill`.
 */
const installed = new Set<() => void>();

export function killOnExit(kill: () => void): void {
  if (installed.has(kill)) return;
  installed.add(kill);
  process.on("exit", kill);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      kill();
      process.removeListener(signal, onSignal);
      // Keep the default behaviour (die by that signal) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
