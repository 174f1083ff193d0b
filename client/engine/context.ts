/**
 * What the sync engine's steps share: the context of one space's sync, and how scanned entries
 * and synced versions are turned into each other's terms.
 */
import type { ReplicaId } from "../../protocol/ids.ts";
import type { Fs } from "../fs/types.ts";
import type { Remote } from "../remote.ts";
import type { RateLimits } from "../schedule/bucket.ts";
import type { SchedulePolicy } from "../schedule/policy.ts";
import type { Known, KnownLookup } from "../scanner.ts";
import type { ClientState, LocalSpace, Synced } from "../state.ts";
import type { OnDisk } from "./plan.ts";
import type { Preemption } from "./schedule.ts";

export interface SyncContext {
  readonly state: ClientState;
  readonly remote: Remote;
  readonly fs: Fs;
  readonly space: LocalSpace;
  readonly replica: ReplicaId;
  /** Bare JID of the account (decides whether a `mine` space is ours). */
  readonly me: string;
  readonly now: () => number;
  readonly onProgress?: (event: { phase: "upload" | "download"; bytes: number }) => void;
  /**
   * Stops the sync between two files (the daemon's stop): what was written and recorded stays,
   * a file being written is finished first, nothing half-written is left; the next sync goes on.
   */
  readonly signal?: AbortSignal;
  /**
   * The caller holds this device's sync lock (`xshare sync`, `xshare run`), so no write of
   * this device is in progress in the folder when the sync starts: every temporary file found
   * then is a leftover (a crash, a kill -9) and is removed at once. Without it, only those
   * older than ten minutes are (another process might still be writing).
   */
  readonly holdsLock?: boolean;
  /**
   * Files hashed by earlier syncs of this space and not synced since (an upload the schedule
   * holds back, a refused commit): kept by a long-running caller (the daemon), so that the next
   * scan takes their hash from here instead of reading them again (scanner.ts `cache`). The
   * sync replaces its contents after each scan.
   */
  readonly hashCache?: Map<string, Known>;
  /**
   * The device's schedule (schedule.json, engine/schedule.ts): what may transfer now, in what
   * order, how fast. Absent: everything at once, as fast as it goes, exactly as before there
   * was a scheduler (the daemon and `xshare sync` pass none when there is no schedule.json).
   */
  readonly schedule?: EngineSchedule;
  /**
   * With a schedule: raised by the caller (the daemon) when it learns of work that may outrank
   * the transfer running now (engine/schedule.ts `Preemption`). A large transfer looks at it
   * at each batch boundary and pauses if the work raised has a higher priority than its own.
   */
  readonly preempt?: Preemption;
}

export interface EngineSchedule {
  readonly policy: SchedulePolicy;
  /** The policy's rate caps, shared by every sync of the device (built from `policy`). */
  readonly limits: RateLimits;
  /** Waits for the rate caps and the hashing pacer (default: a timer; tests: a fake clock's). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A monotonic clock in ms for the hashing pacer (default: performance.now). */
  readonly cpuNow?: () => number;
  /**
   * The policy in force now, if it can change while a sync runs (the daemon re-reads
   * schedule.json on SIGHUP, e.g. after `xshare config metered on`): a large transfer plans
   * itself again with it at each batch boundary. Undefined from it: no schedule any more (the
   * transfer goes on). Absent: `policy` throughout.
   */
  readonly latest?: () => SchedulePolicy | undefined;
}

export type Disk = OnDisk & { diskPath: string };

/**
 * The synced versions as the scanner's `previous`: each path's Known is built when the scanner
 * asks for it, and dropped right after, instead of a second map of the whole folder held
 * through the scan.
 */
export function known(synced: ReadonlyMap<string, Synced>): KnownLookup {
  return {
    get(path) {
      const s = synced.get(path);
      if (!s || s.version.deleted || !s.local) return undefined;
      const v = s.version;
      return { kind: v.kind, size: s.local.size, mtimeMs: s.local.mtimeMs, ino: s.local.ino, mode: v.mode, hash: v.hash, chunks: v.chunks };
    },
  };
}

export function localOf(st: { size: number; mtimeMs: number; ino: number }) {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

