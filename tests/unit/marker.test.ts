/**
 * The folder marker (client/marker.ts): only a folder that carries its own space id is "ok".
 */
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorFs } from "../../client/fs/errorfs.ts";
import { MemoryFs } from "../../client/fs/memory.ts";
import { RealFs } from "../../client/fs/real.ts";
import { checkMarker, MARKER_PATH, writeMarker } from "../../client/marker.ts";
import { spaceId } from "../../protocol/ids.ts";

const S1 = spaceId("space-1");
const S2 = spaceId("space-2");

describe("folder marker", () => {
  it("is missing-marker before it is written, ok after, other-space for another id", async () => {
    const fs = new MemoryFs();
    expect(await checkMarker(fs, S1)).toBe("missing-marker");
    await writeMarker(fs, S1);
    expect(await checkMarker(fs, S1)).toBe("ok");
    expect(await checkMarker(fs, S2)).toBe("other-space");
    expect(Buffer.from(fs.readFile(MARKER_PATH)).toString()).toBe("space-1\n");
    expect(fs.dirSyncs).toBe(1);
    expect(await fs.readdir(".xshare")).toEqual(["space"]);
  });

  it("is missing-root when the folder (or the disk under it) is gone", async () => {
    const fs = new MemoryFs();
    await writeMarker(fs, S1);
    fs.unmount();
    expect(await checkMarker(fs, S1)).toBe("missing-root");
    fs.mount();
    expect(await checkMarker(fs, S1)).toBe("ok");
  });

  it("is missing-marker when the state folder was wiped or the marker is not a file", async () => {
    const fs = new MemoryFs();
    await writeMarker(fs, S1);
    await fs.remove(MARKER_PATH);
    expect(await checkMarker(fs, S1)).toBe("missing-marker");
    await fs.mkdir(MARKER_PATH);
    expect(await checkMarker(fs, S1)).toBe("missing-marker");
  });

  it("rewriting replaces the id; a failed write leaves the old marker intact", async () => {
    const mem = new MemoryFs();
    await writeMarker(mem, S1);
    await expect(writeMarker(new ErrorFs(mem, { methods: ["writeTemp"], code: "ENOSPC" }), S2)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await checkMarker(mem, S1)).toBe("ok");
    expect(await mem.readdir(".xshare")).toEqual(["space"]);
    await writeMarker(mem, S2);
    expect(await checkMarker(mem, S2)).toBe("ok");
  });

  it("throws on read errors other than absence", async () => {
    const mem = new MemoryFs();
    await writeMarker(mem, S1);
    await expect(checkMarker(new ErrorFs(mem, { methods: ["readRange"], code: "EIO" }), S1)).rejects.toMatchObject({ code: "EIO" });
  });

  it("works on the real disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xshare-marker-"));
    try {
      const fs = new RealFs(dir);
      await writeMarker(fs, S1);
      expect(await readFile(join(dir, ".xshare", "space"), "utf8")).toBe("space-1\n");
      expect(await readdir(join(dir, ".xshare"))).toEqual(["space"]);
      expect(await checkMarker(fs, S1)).toBe("ok");
      expect(await checkMarker(new RealFs(join(dir, "unmounted")), S1)).toBe("missing-root");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
