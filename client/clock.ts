/**
 * The client's clock for scheduling (schedule.json's windows, the daemon's wake-ups): the
 * system's, moved by `XSHARE_CLOCK_OFFSET_MS` milliseconds when that is set. For tests (an e2e
 * test puts the clock a few seconds before a window opens, instead of waiting for it) and for
 * trying a schedule ("what would happen at 01:00?"): `XSHARE_CLOCK_OFFSET_MS=$((3600*1000))
 * xshare schedule`. It moves what the engine reads as now (version-vector counters included,
 * which only ever go forward), not the file times on disk.
 */
import { UsageError } from "./config.ts";

export const CLOCK_OFFSET_ENV = "XSHARE_CLOCK_OFFSET_MS";

/** `() => Date.now() + offset`; a bad value is a UsageError naming the variable. */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): () => number {
  const raw = env[CLOCK_OFFSET_ENV];
  if (raw === undefined || raw.trim() === "") return () => Date.now();
  const offset = Number(raw.trim());
  if (!Number.isSafeInteger(offset)) throw new UsageError(`${CLOCK_OFFSET_ENV} must be a whole number of milliseconds (e.g. -3600000), got ${JSON.stringify(raw)}`);
  return () => Date.now() + offset;
}
