import { describe, expect, it } from "vitest";
import { fastHi, slowHi } from "../../client/scram.ts";

describe("SCRAM Hi", () => {
  it("native PBKDF2 gives the same bytes as the package's implementation", async () => {
    for (const [pw, salt, n] of [["pencil", "QSXCR+Q6sek8bf92", 4096], ["pässwörd", "c2FsdA==", 100]] as const) {
      const s = new Uint8Array(Buffer.from(salt, "base64"));
      expect(Buffer.from(await fastHi(pw, s, n)).toString("hex")).toBe(Buffer.from(await slowHi(pw, s, n)).toString("hex"));
    }
  });

  it("matches RFC 5802's example (SaltedPassword for 'pencil')", async () => {
    const salted = await fastHi("pencil", new Uint8Array(Buffer.from("QSXCR+Q6sek8bf92", "base64")), 4096);
    expect(Buffer.from(salted).toString("hex")).toBe("1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d");
  });
});
