import { describe, expect, it } from "vitest";
import { release } from "../../client/release.ts";

describe("release", () => {
  it("detaches a buffer that owns its memory", () => {
    const b = Buffer.allocUnsafeSlow(1 << 20);
    const view = b.subarray(10, 20);
    release(b);
    expect(b.buffer.byteLength).toBe(0);
    expect(view.length).toBe(0);
  });

  it("leaves pooled buffers and views alone", () => {
    const pooled = Buffer.from("shared with others");
    const other = Buffer.from("in the same pool");
    release(pooled);
    expect(pooled.toString()).toBe("shared with others");
    expect(other.toString()).toBe("in the same pool");
    const owner = Buffer.allocUnsafeSlow(64).fill(7);
    release(owner.subarray(8));
    expect(owner[0]).toBe(7);
  });
});
