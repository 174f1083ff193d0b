// A loopback TCP proxy that puts network faults between one client and its server (issue 7,
// row 10): cut (every connection closed, new ones refused until heal), latency on every chunk
// each way, a reset in the middle of what the server is sending, and a black hole (nothing
// delivered either way, and neither side told: no FIN, no RST). Bytes are forwarded
// untouched, so TLS (STARTTLS inside the XMPP stream) runs end to end through it; a "chunk" is
// whatever one read returned, which for a TLS stream usually means one record or a few.
//
// The black hole, as a network that swallows packets: every connection alive when it starts
// stays open, and every byte on it, either way, is read and thrown away (not buffered, so
// nothing arrives late either), as are its FIN and RST: one side closing or failing no longer
// reaches the other. A connection opened during the black hole is accepted but never reaches the
// target (its SYN was lost, as it were, though the client sees the connect succeed); what it
// sends is thrown away too. heal() ends the black hole for new connections only: the ones that
// lived through it stay broken (their streams lost bytes, so they are no use to anyone) until
// their owners give up on them, or cut() or close().
//
// Invariants: it listens on 127.0.0.1 only; each direction keeps its bytes in order whatever the
// latency does (one FIFO per direction, never one timer per chunk); close() leaves no socket open.

import net from "node:net";

export interface TcpProxy {
  /** The loopback port clients connect to instead of the target's. */
  readonly port: number;
  /** Destroys every live connection (both sides) and refuses new ones until heal(). */
  cut(): void;
  /** Accepts connections again, and forwards on new ones again (after a black hole). */
  heal(): void;
  /** From now on, every byte on every live connection is silently dropped, each way, as are
   *  ends and resets; new connections are accepted and never forwarded (see the header).
   *  heal() ends it for new connections; the connections it caught stay broken. */
  blackhole(): void;
  /** Latency added to every chunk, each way, from now on (0 removes it). */
  delay(ms: number): void;
  /** The next chunk from the server to the client is cut in half: half is forwarded, then both
   *  sockets are reset (RST), as a connection lost in the middle of a stanza. */
  resetMidStream(): void;
  /** Closes every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  server: net.Socket;
  /** Caught by a black hole: nothing is forwarded on it any more, and never will be. */
  broken?: boolean;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  /** Connections accepted during a black hole: never forwarded anywhere. */
  const swallowed = new Set<net.Socket>();
  let refusing = false;
  let blackholed = false;
  let latencyMs = 0;
  let resetArmed = false;

  const kill = (p: Pair, rst: boolean) => {
    pairs.delete(p);
    for (const s of [p.client, p.server]) {
      if (s.destroyed) continue;
      // resetAndDestroy() needs a connected handle; a socket still connecting is just destroyed.
      if (rst && !s.connecting) s.resetAndDestroy();
      else s.destroy();
    }
  };

  // One direction of a pair. Chunks wait in a FIFO until their time: a shorter latency set later
  // must not let a chunk overtake the ones queued before it.
  const forward = (p: Pair, from: net.Socket, to: net.Socket, toClient: boolean) => {
    const queue: Array<{ at: number; chunk: Buffer | null }> = []; // null: the sender ended
    let timer: NodeJS.Timeout | undefined;
    const deliver = (chunk: Buffer | null) => {
      if (to.destroyed || p.broken) return; // queued before the black hole: lost as well
      if (chunk === null) return void to.end();
      if (toClient && resetArmed) {
        resetArmed = false;
        // The reset waits for the first half to be handed to the kernel, so the client does read
        // a torn stanza (or TLS record) before the RST, rather than nothing at all.
        return void to.write(chunk.subarray(0, chunk.length >> 1), () => kill(p, true));
      }
      to.write(chunk);
    };
    const drain = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.at <= Date.now()) deliver(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.at - Date.now());
    };
    const push = (chunk: Buffer | null) => {
      // Cut, or black hole: what was in flight is lost, as on a real network.
      if (!pairs.has(p) || p.broken) return;
      queue.push({ at: Date.now() + latencyMs, chunk });
      if (!timer) drain();
    };
    from.on("data", push);
    from.on("end", () => push(null));
    // A peer that errors (ECONNRESET, ECONNREFUSED from the target) takes its partner with it,
    // unless a black hole is between them: then the partner never learns.
    from.on("error", () => {
      if (p.broken) from.destroy();
      else kill(p, false);
    });
    // A clean close is passed on as an end after what is still queued, never as a destroy that
    // would drop bytes not yet flushed; the pair is forgotten once both sides are gone.
    from.on("close", () => {
      push(null);
      if (p.client.destroyed && p.server.destroyed) pairs.delete(p);
    });
  };

  const server = net.createServer((client) => {
    if (refusing) {
      // Accept-and-reset rather than closing the listener: the port stays ours for heal().
      client.on("error", () => undefined);
      return client.resetAndDestroy();
    }
    if (blackholed) {
      // Read (so the client's writes go out) and thrown away; no connection to the target.
      swallowed.add(client);
      client.on("data", () => undefined);
      client.on("error", () => undefined);
      client.on("close", () => swallowed.delete(client));
      return;
    }
    const upstream = net.connect({ host: targetHost, port: targetPort });
    const p: Pair = { client, server: upstream };
    pairs.add(p);
    forward(p, client, upstream, false);
    forward(p, upstream, client, true);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });

  const cutAll = () => {
    for (const p of [...pairs]) kill(p, false);
    for (const s of [...swallowed]) s.destroy();
    swallowed.clear();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => {
      refusing = true;
      cutAll();
    },
    heal: () => {
      refusing = false;
      blackholed = false;
    },
    blackhole: () => {
      blackholed = true;
      for (const p of pairs) p.broken = true;
    },
    delay: (ms) => {
      latencyMs = ms;
    },
    resetMidStream: () => {
      resetArmed = true;
    },
    close: () => {
      refusing = true;
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
