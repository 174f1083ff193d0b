/**
 * The running daemon's schedule (client/daemon.ts): schedule.json as last read, and the timers
 * that wake a space whose transfers wait for a window.
 *
 * - `read` is called at start (strict: a bad file is the start's error), before every sync and
 *   on SIGHUP; it parses only when the file's text changed, so the rate buckets (which remember
 *   what was sent) live as long as the policy does. A bad edit while running is logged once and
 *   the policy in force stays. No file (or `{}`): no schedule, the engine's unscheduled path.
 * - `wakeFor` after each sync: one timer per space, for the first transfer waiting for a time
 *   (`nextRun`), on the daemon's clock. Held transfers (metered) get none: a policy change
 *   (`read` true) is what releases them, and `waitingIn` says which spaces to plan again then.
 */
import { readFile } from "node:fs/promises";
import type { SpaceId } from "../protocol/ids.ts";
import type { EngineSchedule } from "./engine/context.ts";
import { nextRun, scheduleOf, type QueuedTransfer } from "./engine/schedule.ts";
import type { Home } from "./home.ts";
import { parsePolicyText } from "./schedule/policy.ts";
import { policyFile } from "./schedule/store.ts";

/** setTimeout's longest delay; a later wake-up fires then, and the sync after it sets the next. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DaemonSchedule {
  readonly #home: Home;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  #current: EngineSchedule | undefined;
  /** The text `#current` was read from; "bad …" after a file that did not parse. */
  #text: string | undefined;
  readonly #wakes = new Map<SpaceId, { at: number; timer: NodeJS.Timeout }>();
  /** Spaces whose last sync left transfers waiting (a new policy may let them go). */
  readonly waitingIn = new Set<SpaceId>();

  constructor(home: Home, now: () => number, log: (line: string) => void) {
    this.#home = home;
    this.#now = now;
    this.#log = log;
  }

  /** The schedule in force; undefined: none. */
  get current(): EngineSchedule | undefined {
    return this.#current;
  }

  /** Reads schedule.json again; true when the policy changed (see the header). */
  async read(strict: boolean): Promise<boolean> {
    const file = policyFile(this.#home);
    let text: string;
    try {
      text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return "";
        throw err;
      });
      if (text === this.#text) return false;
      const parsed = text.trim() === "" ? undefined : parsePolicyText(text, file);
      // `{}` is no schedule at all, as for the CLI (store.ts loadStoredPolicy).
      const policy = parsed && JSON.stringify(JSON.parse(text)) !== "{}" ? parsed : undefined;
      this.#current = scheduleOf(policy, this.#now);
    } catch (err) {
      if (strict) throw err;
      // Once per bad version of the file, not at every sync.
      if (this.#text !== `bad ${String(err)}`) this.#log(`${(err as Error).message}; the schedule in force stays`);
      this.#text = `bad ${String(err)}`;
      return false;
    }
    const first = this.#text === undefined;
    this.#text = text;
    if (!first) this.#log(this.#current ? `schedule: ${file} read again` : "schedule: none (no schedule.json); everything transfers at once");
    return !first;
  }

  /**
   * After a sync of `id` that left `waiting`: the timer for the first of them that waits for a
   * time, replacing the space's previous one; `fire(uploads)` when it goes (`uploads`: some of
   * them are uploads).
   */
  wakeFor(id: SpaceId, waiting: readonly QueuedTransfer[], fire: (uploads: boolean) => void): void {
    if (waiting.length) this.waitingIn.add(id);
    else this.waitingIn.delete(id);
    const at = nextRun(waiting);
    const old = this.#wakes.get(id);
    if (old && old.at === at) return;
    if (old) clearTimeout(old.timer);
    this.#wakes.delete(id);
    if (at === undefined) return;
    this.#log(`${id}: ${waiting.length} transfer(s) waiting; next at ${new Date(at).toISOString()}`);
    const uploads = waiting.some((w) => w.direction === "up");
    const timer = setTimeout(() => {
      this.#wakes.delete(id);
      this.#log(`${id}: a transfer window opens`);
      fire(uploads);
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - this.#now())));
    this.#wakes.set(id, { at, timer });
  }

  /** Clears every timer. */
  stop(): void {
    for (const w of this.#wakes.values()) clearTimeout(w.timer);
    this.#wakes.clear();
  }
}
