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
