/**
 * The client's per-space vector (client/state.ts): the merge of every vector the device has
 * taken in, whose digest the daemon announces (XEP-draft.md § 5.12).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientState } from "../../client/state.ts";
import type { FileVersion } from "../../protocol/file.ts";
import type { BareJid, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { EMPTY, fromEntries } from "../../protocol/vv.ts";

const space = "s-1" as SpaceId;
const alice = "alice@example.org" as BareJid;
const dir = (path: string, vector: Array<[string, number]>): FileVersion => ({
  path, kind: "dir", vector: fromEntries(vector), hash: "", size: 0, mtimeMs: 1, mode: 0o755, deleted: false, replica: "r1" as ReplicaId, chunks: [],
});

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "xshare-state-"));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe("a space's vector", () => {
  it("merges recorded versions and what was read, and survives reopening", () => {
    const file = path.join(tmp, "state.sqlite");
    const s = ClientState.open(file);
    s.putSpace({ id: space, kind: "pair", name: "Trip", owner: alice, members: [alice] });
    expect(s.vector(space)).toEqual(EMPTY);
    s.commit(space, [{ version: dir("a", [["r1", 5]]) }]);
    // An entry read but not written here (an ignored path) still counts once `pulled` moves.
    s.commit(space, [], 7, fromEntries([["r2", 9], ["r1", 2]]));
    expect(s.vector(space)).toEqual(fromEntries([["r1", 5], ["r2", 9]]));
    s.close();
    const again = ClientState.open(file);
    expect(again.vector(space)).toEqual(fromEntries([["r1", 5], ["r2", 9]]));
    again.close();
  });

  it("is computed from the recorded versions in a state made before vectors were kept", () => {
    const file = path.join(tmp, "old.sqlite");
    const s = ClientState.open(file);
    s.putSpace({ id: space, kind: "pair", name: "Trip", owner: alice, members: [alice] });
    s.commit(space, [{ version: dir("a", [["r1", 5]]) }, { version: dir("b", [["r3", 1]]) }]);
    s.close();
    // The old schema had no `vector` column.
    const raw = new Database(file);
    raw.exec("ALTER TABLE spaces DROP COLUMN vector");
    raw.close();
    const again = ClientState.open(file);
    expect(again.vector(space)).toEqual(fromEntries([["r1", 5], ["r3", 1]]));
    again.close();
  });
});
