/**
 * The MetadataStore contract for pending versions (XEP-draft.md § 5.16, store/metadata.ts):
 * run by `metadata-store.test.ts` against every implementation, beside the main suite
 * (`metadata-store.contract.ts`). A pending version is stored and read back with its marker;
 * its own chunks are not required (only its manifest blobs are); it keeps the chunks of the
 * last complete version of its path referenced until a complete version or a deletion
 * replaces it; it counts in `usedBytes` like any version.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FileVersion } from "../../protocol/file.ts";
import type { BareJid, ChunkHash, ReplicaId, SpaceId } from "../../protocol/ids.ts";
import { fromEntries } from "../../protocol/vv.ts";
import type { CommitContext, MetadataStore } from "../../component/store/metadata.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
const s1 = "s1" as SpaceId;
const R = (s: string) => s as ReplicaId;
const H = (n: number) => n.toString(16).padStart(64, "0") as ChunkHash;

let clock = 1;
function file(chunks: number[], pending?: { by?: BareJid }): FileVersion {
  return {
    path: "movie.mov", kind: "file", vector: fromEntries([["r1", clock++]]), hash: "e".repeat(63) + String(chunks.length), size: 100 * chunks.length,
    mtimeMs: 1_700_000_000_000, mode: 0o644, deleted: false, replica: R("r1"), chunks: chunks.map((h) => ({ hash: H(h), size: 100 })), ...(pending ? { pending } : {}),
  };
}

export function runPendingContract(name: string, open: () => Promise<MetadataStore> | MetadataStore): void {
  describe(`MetadataStore contract, pending versions: ${name}`, () => {
    let store: MetadataStore;
    beforeEach(async () => {
      store = await open();
      await store.createSpace({ id: s1, kind: "pair", name: "S", owner: alice, members: [alice, bob], createdMs: 1, changedMs: 1 });
      for (const n of [1, 2, 3]) await store.addChunks([{ hash: H(n), size: 100 }], alice, 1000);
    });
    afterEach(async () => {
      await store.close();
    });
    const ackAll = async () => {
      const head = (await store.getSpace(s1))!.head;
      await store.ack(s1, alice, R("a1"), head);
      await store.ack(s1, bob, R("b1"), head);
    };
    const gc = () => store.reclaimable(0, 100);

    it("stores and reads back the marker; a pending version's chunks are not missing, a complete one's are", async () => {
      let seen: CommitContext | undefined;
      const v = file([1, 9], { by: alice });
      await store.commit(s1, [v], (ctx) => void (seen = ctx));
      expect(seen!.missingChunks).toEqual([]);
      expect(await store.getEntry(s1, "movie.mov")).toEqual({ ...v, seq: 1 });
      expect(await store.readIndex(s1, 0, 10)).toEqual([{ ...v, seq: 1 }]);
      expect((await store.getSpace(s1))!.usedBytes).toBe(200);
      await store.commit(s1, [file([1, 9])], (ctx) => void (seen = ctx));
      expect(seen!.missingChunks).toEqual([H(9)]);
      expect(seen!.current.get("movie.mov")?.pending).toEqual({ by: alice });
      expect(await store.getEntry(s1, "movie.mov")).not.toHaveProperty("pending");
    });

    it("refuses the marker on a deletion (bad-request), changing nothing", async () => {
      const del: FileVersion = { ...file([]), deleted: true, hash: "", size: 0, pending: {} };
      await expect(store.commit(s1, [del], () => {})).rejects.toMatchObject({ code: "bad-request" });
      expect((await store.getSpace(s1))!.head).toBe(0);
    });

    it("keeps the replaced version's chunks, through pending after pending, until complete and acknowledged", async () => {
      await store.commit(s1, [file([1, 2])], () => {});
      await store.commit(s1, [file([1, 9], { by: alice })], () => {});
      await store.commit(s1, [file([1, 8], { by: alice })], () => {});
      await ackAll();
      expect(await gc()).not.toContain(H(2));
      expect(await gc()).not.toContain(H(1));
      expect(await store.usableChunks(s1, [H(1), H(2)], bob)).toEqual(new Set([H(1), H(2)]));
      await store.addChunks([{ hash: H(8), size: 100 }], alice, 1000);
      await store.commit(s1, [file([1, 8])], () => {});
      // Complete, not yet acknowledged by Bob: the old version's chunk stays.
      expect(await gc()).toEqual([]);
      await ackAll();
      expect(await gc()).toEqual([H(2)]);
    });

    it("a deletion replacing a pending version lets its kept chunks go once acknowledged", async () => {
      await store.commit(s1, [file([1, 2])], () => {});
      await store.commit(s1, [file([1, 9], { by: alice })], () => {});
      await store.commit(s1, [{ ...file([]), deleted: true, hash: "", size: 0 }], () => {});
      await ackAll();
      expect(await gc()).toEqual([H(1), H(2)]);
      expect((await store.getSpace(s1))!.usedBytes).toBe(0);
    });
  });
}
