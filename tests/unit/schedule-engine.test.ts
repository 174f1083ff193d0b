/**
 * The schedule applied to a sync round (client/engine/schedule.ts), pure, on a given `now`:
 * which actions are transfers and how many bytes each moves, the groups the engine runs one
 * after the other (priority, then small before large, large files apart), what waits and
 * until when; and the hashing pacer on a fake clock (no sleeping).
 */
import { describe, expect, it } from "vitest";
import type { Disk } from "../../client/engine/context.ts";
import type { Action } from "../../client/engine/plan.ts";
import { LARGE_BYTES, hashPacer, nextRun, scheduleRound, transfersOf } from "../../client/engine/schedule.ts";
import { parsePolicy, type PolicyDocument } from "../../client/schedule/policy.ts";
import type { Synced } from "../../client/state.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { ChunkHash, ReplicaId } from "../../protocol/ids.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { EMPTY } from "../../protocol/vv.ts";

const NINE = new Date("2026-11-25T09:00:00Z");
const policy = (doc: PolicyDocument) => parsePolicy({ timezone: "UTC", ...doc });

let n = 0;
/** A file version whose chunks are `sizes` (fresh hashes unless given). */
function version(path: string, sizes: readonly number[], hashes?: readonly string[]): FileVersion {
  const chunks = sizes.map((size, i) => ({ hash: (hashes?.[i] ?? `h${++n}`.padEnd(64, "0")) as ChunkHash, size }));
  return { path, kind: "file", vector: EMPTY, hash: `c${++n}`, size: sizes.reduce((a, b) => a + b, 0), mtimeMs: 0, mode: 0o644, deleted: false, replica: "r" as ReplicaId, chunks };
}
const pull = (path: string, sizes: readonly number[], hashes?: readonly string[]): Action => ({ type: "apply", path, remote: { ...version(path, sizes, hashes), seq: 1 } as IndexEntry });
const send = (path: string, sizes: readonly number[], hashes?: readonly string[]): Action => ({ type: "push", path, version: version(path, sizes, hashes), base: EMPTY });
const none = new Map<string, never>();

describe("which actions are transfers, and their bytes", () => {
  it("file pushes and applies are; deletions, folders and conflicts are not", () => {
    const del: Action = { type: "apply", path: "gone.txt", remote: { ...version("gone.txt", []), deleted: true, seq: 2 } as IndexEntry };
    const dir: Action = { type: "apply", path: "photos", remote: { ...version("photos", []), kind: "dir", seq: 3 } as IndexEntry };
    const rm: Action = { type: "push", path: "old.txt", version: { ...version("old.txt", []), deleted: true }, base: EMPTY };
    const a = send("a.txt", [10]);
    const b = pull("b.txt", [20, 30]);
    const t = transfersOf("s", [del, dir, rm, a, b], none, none);
    expect([...t.keys()]).toEqual([a, b]);
    expect(t.get(a)).toEqual({ space: "s", path: "a.txt", direction: "up", size: 10, urgency: 0 });
    expect(t.get(b)).toMatchObject({ direction: "down", size: 50 });
  });

  it("only chunks the other side lacks count: an edit of a large file moves a chunk, a rename nothing", () => {
    const big = version("video.mov", [100, 100, 100], ["x1", "x2", "x3"]);
    const synced = new Map<string, Synced>([["video.mov", { version: big }]]);
    const edit = send("video.mov", [100, 100, 7], ["x1", "x2", "x9"]);
    const rename = send("film.mov", [100, 100, 100], ["x1", "x2", "x3"]);
    const t = transfersOf("s", [edit, rename], synced, none);
    expect(t.get(edit)?.size).toBe(7);
    expect(t.has(rename)).toBe(false);
    // Downloads: what the disk holds already (scanned chunks) is not fetched.
    const disk = new Map<string, Disk>([["video.mov", { path: "video.mov", diskPath: "video.mov", kind: "file", size: 300, mtimeMs: 0, ino: 1, mode: 0o644, hash: big.hash, chunks: big.chunks, changed: false }]]);
    const incoming = pull("copy.mov", [100, 100, 50, 50], ["x1", "x3", "y1", "y1"]);
    expect(transfersOf("s", [incoming], none, disk).get(incoming)?.size).toBe(50);
  });
});

describe("the round's groups and what waits", () => {
  const media = policy({ rules: [{ match: "*.docx", priority: "high" }, { match: "*.mov", priority: "low", window: "* 2-5 * * *" }] });

  it("non-transfers with the first transfers, then by priority, small before large, large files apart", () => {
    const del: Action = { type: "apply", path: "gone.txt", remote: { ...version("gone.txt", []), deleted: true, seq: 2 } as IndexEntry };
    const big = pull("big.txt", [LARGE_BYTES + 1]);
    const small = pull("small.txt", [5]);
    const mid = send("mid.txt", [500]);
    const doc = pull("report.docx", [9_000_000]);
    const r = scheduleRound("s", [big, del, small, mid, doc], none, none, policy({ rules: [{ match: "*.docx", priority: "high" }] }), NINE);
    expect(r.groups).toEqual([[del, doc], [small, mid], [big]]);
    expect(r.queue.map((q) => q.path)).toEqual(["report.docx", "small.txt", "mid.txt", "big.txt"]);
    expect(r.queue.every((q) => q.timing === "now" && q.runAtMs === NINE.getTime())).toBe(true);
    expect(r.deferredDownloads).toEqual([]);
  });

  it("a video outside its window waits, with the reason and the minute it opens; the document goes now", () => {
    const mov = pull("holiday.mov", [3_000_000]);
    const doc = send("notes.docx", [2_000]);
    const upMov = send("clip.mov", [1_000]);
    const r = scheduleRound("s", [mov, doc, upMov], none, none, media, NINE);
    expect(r.groups).toEqual([[doc]]);
    const opens = Date.parse("2026-11-26T02:00:00Z");
    expect(r.queue).toEqual([
      { path: "notes.docx", direction: "up", size: 2000, priority: "high", timing: "now", reason: "high priority (*.docx)", runAtMs: NINE.getTime() },
      { path: "clip.mov", direction: "up", size: 1000, priority: "low", timing: "later", reason: "waits for its window * 2-5 * * * until Thu 02:00", runAtMs: opens },
      { path: "holiday.mov", direction: "down", size: 3_000_000, priority: "low", timing: "later", reason: "waits for its window * 2-5 * * * until Thu 02:00", runAtMs: opens },
    ]);
    // Only downloads go to the state's waiting table; an upload stays a local change.
    expect(r.deferredDownloads).toEqual([{ action: mov, reason: "waits for its window * 2-5 * * * until Thu 02:00", untilMs: opens }]);
    expect(nextRun(r.queue)).toBe(opens);
  });

  it("the window opens at the right minute: still waiting at 01:59:59, running at 02:00:00, shut again at 06:00", () => {
    const mov = pull("holiday.mov", [3_000_000]);
    const at = (iso: string) => scheduleRound("s", [mov], none, none, media, new Date(iso)).queue[0]!.timing;
    expect(at("2026-11-26T01:59:59.999Z")).toBe("later");
    expect(at("2026-11-26T02:00:00.000Z")).toBe("now");
    expect(at("2026-11-26T05:59:59.999Z")).toBe("now");
    expect(at("2026-11-26T06:00:00.000Z")).toBe("later");
  });

  it("metered: larger files are held, not by time (no wake-up)", () => {
    const metered = policy({ metered: true, meteredMaxBytes: "1MB" });
    const big = pull("big.iso", [2_000_000]);
    const small = pull("small.txt", [999_999]);
    const r = scheduleRound("s", [big, small], none, none, metered, NINE);
    expect(r.groups).toEqual([[small]]);
    expect(r.queue[1]).toMatchObject({ path: "big.iso", timing: "held", reason: "metered: larger than 1 MB" });
    expect(r.queue[1]?.runAtMs).toBeUndefined();
    expect(r.deferredDownloads).toEqual([{ action: big, reason: "metered: larger than 1 MB" }]);
    expect(nextRun(r.queue)).toBeUndefined();
  });

  it("a space's window holds every transfer of that space only", () => {
    const p = policy({ spaces: { weekdays: { window: "* * * * 1-5" } } });
    const sat = new Date("2026-11-28T12:00:00Z");
    const a = pull("a.txt", [10]);
    expect(scheduleRound("weekdays", [a], none, none, p, sat).queue[0]).toMatchObject({ timing: "later", runAtMs: Date.parse("2026-11-30T00:00:00Z") });
    expect(scheduleRound("other", [a], none, none, p, sat).queue[0]?.timing).toBe("now");
  });
});

describe("hashing pacer", () => {
  it("none at hashCpu 1", () => {
    expect(hashPacer(1)).toBeUndefined();
  });

  it("holds hashing to its share of one core over a simulated minute, on a fake clock", async () => {
    let clock = 0;
    let rested = 0;
    const sleep = async (ms: number) => {
      rested += ms;
      clock += ms;
    };
    const pace = hashPacer(0.25, () => clock, sleep)!;
    const chunk = { hash: "h" as ChunkHash, size: 1 };
    let busy = 0;
    // Hashing slices of 0.3 ms to 2.9 ms, until a minute has passed.
    for (let i = 0; clock < 60_000; i++) {
      const work = 0.3 + (i % 27) / 10;
      clock += work;
      busy += work;
      await pace(chunk, new Uint8Array(0));
    }
    expect(busy / clock).toBeGreaterThan(0.24);
    expect(busy / clock).toBeLessThan(0.26);
    expect(rested).toBeGreaterThan(0);
  });

  it("two files hashed side by side rest together: the share holds for both", async () => {
    let clock = 0;
    const timers: Array<{ at: number; fire: () => void }> = [];
    const sleep = (ms: number) => new Promise<void>((fire) => timers.push({ at: clock + ms, fire }));
    const pace = hashPacer(0.5, () => clock, sleep)!;
    const chunk = { hash: "h" as ChunkHash, size: 1 };
    let busy = 0;
    const file = async () => {
      for (let i = 0; i < 2000; i++) {
        clock += 1;
        busy += 1;
        await pace(chunk, new Uint8Array(0));
      }
    };
    const both = Promise.all([file(), file()]);
    // A fake timer loop: the earliest rest ends first.
    let done = false;
    void both.then(() => (done = true));
    while (!done) {
      await new Promise((r) => setImmediate(r));
      timers.sort((a, b) => a.at - b.at);
      const t = timers.shift();
      if (t) {
        clock = Math.max(clock, t.at);
        t.fire();
      }
    }
    expect(busy).toBe(4000);
    expect(busy / clock).toBeGreaterThan(0.47);
    expect(busy / clock).toBeLessThan(0.53);
  });
});
