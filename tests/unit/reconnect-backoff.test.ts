/**
 * The sharing client's reconnect policy (client/xmpp-connection.ts): after a lost session the
 * first attempt waits reconnectDelayMs, each failed attempt doubles the wait up to
 * reconnectMaxDelayMs, and a session that comes back resets it. (That it reconnects at all is
 * shown against a real Prosody in tests/e2e/disconnect.test.ts and tests/e2e/live.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { ClientConnection } from "../../client/xmpp-connection.ts";

describe("reconnect backoff", () => {
  it("doubles the wait after each attempt, up to the maximum, and starts over once online", async () => {
    const conn = new ClientConnection({ service: "xmpp://127.0.0.1:1", domain: "example.org", username: "u", password: "p", resource: "r", reconnect: true, reconnectDelayMs: 100, reconnectMaxDelayMs: 700, reconnectStallMs: 60_000 });
    const r = conn.xmpp.reconnect;
    expect(r.delay).toBe(100);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      r.emit("reconnecting");
      waits.push(r.delay);
    }
    expect(waits).toEqual([200, 400, 700, 700, 700]);
    conn.xmpp.emit("online", conn.xmpp.jid as never);
    expect(r.delay).toBe(100);
    await conn.close();
  });
});
