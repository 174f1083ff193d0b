import { describe, expect, it } from "vitest";
import { terminalProgress } from "../../client/progress.ts";

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream, written };
}

describe("terminal progress", () => {
  it("draws on a terminal and ends with a newline", () => {
    const { stream, written } = fakeStream(true);
    const p = terminalProgress(true, stream)!;
    p.update({ phase: "upload", bytes: 3 * 1024 * 1024 });
    p.update({ phase: "download", bytes: 1024 * 1024 });
    p.done();
    expect(written[0]).toBe("\r↑ 3.0 MB  ↓ 0.0 MB ");
    expect(written.at(-2)).toBe("\r↑ 3.0 MB  ↓ 1.0 MB ");
    expect(written.at(-1)).toBe("\n");
  });

  it("stays quiet when the output is not a terminal or JSON was asked for", () => {
    expect(terminalProgress(true, fakeStream(false).stream)).toBeUndefined();
    expect(terminalProgress(false, fakeStream(true).stream)).toBeUndefined();
  });
});
