/**
 * What the share module records after a sync (client/ui/share/history.ts, store.ts): versions
 * with their author, remote changes (which gleam) but never this device's own, a bounded
 * history per file, and all of it kept across a restart.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FileVersion } from "../../protocol/file.ts";
import type { ReplicaId } from "../../protocol/ids.ts";
import { fromEntries } from "../../protocol/vv.ts";
import { gleams } from "../../client/ui/share/gleam.ts";
import { recordVersions, type Recorder } from "../../client/ui/share/history.ts";
import { HISTORY_PER_FILE, ShareStore } from "../../client/ui/share/store.ts";

const MINE = "adam-pc";
const BOBS = "bob-pc";
let n = 0;
const v = (path: string, replica: string, over: Partial<FileVersion> = {}): FileVersion => ({
  path, kind: "file", vector: fromEntries([[replica, ++n]]), hash: `h${n}`, size: n, mtimeMs: 1_700_000_000_000 + n, mode: 0o644, deleted: false, replica: replica as ReplicaId, chunks: [], ...over,
});

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function recorder(store: ShareStore): Recorder {
  return { store, replica: MINE, me: "adam@example.org", now: () => 42 };
}

describe("history and remote changes", () => {
  it("what is there when the space is first followed is 'found' and gleams nowhere", () => {
    const store = ShareStore.open(":memory:");
    const known = new Map<string, string>();
    const r = recordVersions(recorder(store), "s", [v("a.txt", BOBS), v("d/b.txt", MINE)], known);
    expect(r).toEqual({ received: [], sent: [] });
    expect(store.history("s", "a.txt").map((h) => h.how)).toEqual(["found"]);
    expect(gleams("", store.changes("s"), store.seen("s"))).toBe(false);
  });

  it("another member's version is received and gleams; this device's own is sent and does not", () => {
    const store = ShareStore.open(":memory:");
    const known = new Map<string, string>();
    recordVersions(recorder(store), "s", [], known);
    store.setMember(BOBS, "bob@example.org");
    const r = recordVersions(recorder(store), "s", [v("photos/beach.jpg", BOBS), v("mine.txt", MINE)], known);
    expect(r).toEqual({ received: ["photos/beach.jpg"], sent: ["mine.txt"] });
    expect(store.history("s", "photos/beach.jpg")[0]).toMatchObject({ how: "received", author: "bob@example.org", replica: BOBS, atMs: 42 });
    expect(store.history("s", "mine.txt")[0]).toMatchObject({ how: "sent", author: "adam@example.org" });
    const seen = store.seen("s");
    expect(gleams("", store.changes("s"), seen)).toBe(true);
    expect(gleams("photos", store.changes("s"), seen)).toBe(true);
    expect(store.changes("s").map((c) => c.path)).toEqual(["photos/beach.jpg"]);
  });

  it("the same version twice is recorded once; a new one of the same path is a new row, newest first", () => {
    const store = ShareStore.open(":memory:");
    const known = new Map<string, string>();
    recordVersions(recorder(store), "s", [], known);
    const first = v("a.txt", BOBS);
    recordVersions(recorder(store), "s", [first], known);
    recordVersions(recorder(store), "s", [first], known);
    const second = v("a.txt", MINE);
    recordVersions(recorder(store), "s", [second], known);
    expect(store.history("s", "a.txt").map((h) => [h.how, h.hash])).toEqual([["sent", second.hash], ["received", first.hash]]);
    // Unknown replica: no author recorded (the page says so), and a deletion is a version too.
    recordVersions(recorder(store), "s", [v("a.txt", "web-1", { deleted: true, hash: "" })], known);
    expect(store.history("s", "a.txt")[0]).toMatchObject({ deleted: true, how: "received" });
    expect(store.history("s", "a.txt")[0]!.author).toBeUndefined();
  });

  it(`keeps at most ${HISTORY_PER_FILE} versions per file`, () => {
    const store = ShareStore.open(":memory:");
    const known = new Map<string, string>();
    recordVersions(recorder(store), "s", [], known);
    const hashes: string[] = [];
    for (let i = 0; i < HISTORY_PER_FILE + 5; i++) {
      const x = v("a.txt", BOBS);
      hashes.push(x.hash);
      recordVersions(recorder(store), "s", [x], known);
    }
    const h = store.history("s", "a.txt");
    expect(h).toHaveLength(HISTORY_PER_FILE);
    expect(h[0]!.hash).toBe(hashes.at(-1));
    expect(h.at(-1)!.hash).toBe(hashes[5]);
  });

  it("survives a restart: history, changes, what was seen, replicas, and what was recorded last", async () => {
    const dir = await mkdtemp(join(tmpdir(), "share-store-"));
    dirs.push(dir);
    const file = join(dir, "share-ui.sqlite");
    let store = ShareStore.open(file);
    recordVersions(recorder(store), "s", [], new Map());
    store.setMember(BOBS, "bob@example.org");
    const x = v("photos/beach.jpg", BOBS);
    recordVersions(recorder(store), "s", [x, v("work/plan.txt", BOBS)], new Map());
    store.setSeen("s", new Map([["photos", store.seq()]]));
    store.close();
    store = ShareStore.open(file);
    expect(store.member(BOBS)).toBe("bob@example.org");
    expect(gleams("photos", store.changes("s"), store.seen("s"))).toBe(false);
    expect(gleams("work", store.changes("s"), store.seen("s"))).toBe(true);
    // The same version after the restart is not new.
    const known = store.latestKeys("s");
    expect(recordVersions(recorder(store), "s", [x], known).received).toEqual([]);
    store.forget("s");
    expect(store.changes("s")).toEqual([]);
    store.close();
  });
});
