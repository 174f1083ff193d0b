// A byte-counting loopback TCP proxy, for "bytes on the wire" of xmpp-share in bench/compare.bench.ts:
// it sits between each xshare client and Prosody (one listener per client, the client logged in
// with --service xmpp://127.0.0.1:<port>) and between the clients and the sharing manager's HTTP
// server (one listener; the component's XSHARE_PUBLIC_URL points at it, so that the session and
// slot URLs it hands out lead through it). It forwards bytes untouched and counts, per listener
// and per owner of the client socket, what goes up (client → server) and down (server → client):
// TCP payload, i.e. without TCP/IP headers.
//
// It runs in a child process of its own (this file, forked with tsx's loader), not in the
// benchmark's process: the benchmark polls folders with synchronous reads, which would otherwise
// hold back the forwarding, and the proxy's CPU time then shows up in no measured process.
//
// Owners: for every accepted connection, the child looks up the client's socket in
// /proc/net/tcp (local 127.0.0.1:<client port>, remote 127.0.0.1:<listener port>) and finds the
// candidate process (setOwners) holding that socket inode among its fds, at once and again at
// every setOwners and counts() while the connection is open (a daemon opens its connections
// before its pid can be named); "other" if none does (e.g. short-lived CLI commands).
//
// Invariants: listens on 127.0.0.1 only; the child exits when the parent goes away (IPC channel
// closed) or close() is called, and is SIGKILLed by an exit handler if the parent exits first.
//
// Usage:
//   const proxy = await startCountingProxy();
//   const port = await proxy.listen("xmpp-alice", prosody.c2sPort);
//   await proxy.setOwners({ alice: alicePid, bob: bobPid });
//   const c = await proxy.counts();   // { listeners: { "xmpp-alice": { alice: { up, down } } }, lastActivityMs }
//   await proxy.close();

import { type ChildProcess, fork } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const LOOPBACK = "127.0.0.1";
const SELF = fileURLToPath(import.meta.url);

export interface Counter {
  /** Client → server bytes. */
  up: number;
  /** Server → client bytes. */
  down: number;
  connections: number;
}

export interface ProxyCounts {
  /** listener label → owner label ("other" when no candidate held the socket) → counts. */
  listeners: Record<string, Record<string, Counter>>;
  /** ms since the last byte forwarded (any listener, either way); Infinity if none yet. */
  idleMs: number;
  /** Sum over every listener and owner. */
  total: { up: number; down: number };
}

export interface CountingProxy {
  /** pid of the proxy's process. */
  readonly pid: number;
  /** Opens a listener on 127.0.0.1:<free port> forwarding to 127.0.0.1:<targetPort>; resolves its port. */
  listen(label: string, targetPort: number, port?: number): Promise<number>;
  /** The processes that own client sockets, by label (replaces the previous set). */
  setOwners(owners: Record<string, number>): Promise<void>;
  counts(): Promise<ProxyCounts>;
  /** Closes every listener and connection and ends the child process. Safe to call twice. */
  close(): Promise<void>;
}

type RequestBody = { op: "listen"; label: string; targetPort: number; port?: number } | { op: "owners"; owners: Record<string, number> } | { op: "counts" } | { op: "close" };
type Request = { id: number } & RequestBody;
type ReplyBody = { ok: true; value?: unknown } | { ok: false; error: string };
type Reply = { id: number } & ReplyBody;

// ---------------------------------------------------------------- parent side

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

export async function startCountingProxy(): Promise<CountingProxy> {
  const child = fork(SELF, ["--child"], {
    cwd: path.resolve(path.dirname(SELF), "../.."),
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let closed = false;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      for (const w of waiting.values()) w.reject(new Error(`counting proxy exited (${code ?? signal})`));
      waiting.clear();
      resolve();
    }),
  );
  child.on("message", (m: Reply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.value);
    else w.reject(new Error(m.error));
  });
  const call = <T>(req: RequestBody): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (closed || child.exitCode !== null) return reject(new Error("counting proxy is closed"));
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...req, id });
    });
  // Ready once it answers.
  await call({ op: "counts" });
  return {
    pid: child.pid!,
    listen: (label, targetPort, port) => call<number>({ op: "listen", label, targetPort, ...(port ? { port } : {}) }),
    setOwners: (owners) => call<void>({ op: "owners", owners }),
    counts: async () => {
      const c = await call<ProxyCounts & { idleMs: number | null }>({ op: "counts" });
      return { ...c, idleMs: c.idleMs ?? Number.POSITIVE_INFINITY };
    },
    close: async () => {
      if (closed) return;
      await call({ op: "close" }).catch(() => undefined);
      closed = true;
      const t = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Sums of a ProxyCounts by owner over the listeners whose label matches `re` (all by default). */
export function byOwner(c: ProxyCounts, re = /./): Record<string, { up: number; down: number }> {
  const out: Record<string, { up: number; down: number }> = {};
  for (const [label, owners] of Object.entries(c.listeners)) {
    if (!re.test(label)) continue;
    for (const [owner, n] of Object.entries(owners)) {
      const o = (out[owner] ??= { up: 0, down: 0 });
      o.up += n.up;
      o.down += n.down;
    }
  }
  return out;
}

/** a − b, listener by listener and owner by owner. */
export function diffCounts(a: ProxyCounts, b: ProxyCounts): ProxyCounts {
  const listeners: ProxyCounts["listeners"] = {};
  for (const [label, owners] of Object.entries(a.listeners)) {
    for (const [owner, n] of Object.entries(owners)) {
      const o = b.listeners[label]?.[owner] ?? { up: 0, down: 0, connections: 0 };
      (listeners[label] ??= {})[owner] = { up: n.up - o.up, down: n.down - o.down, connections: n.connections - o.connections };
    }
  }
  return { listeners, idleMs: a.idleMs, total: { up: a.total.up - b.total.up, down: a.total.down - b.total.down } };
}

// ---------------------------------------------------------------- child side

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, "0");
}

/** Inode of the client's socket 127.0.0.1:clientPort → 127.0.0.1:serverPort, from /proc/net/tcp. */
function clientInode(clientPort: number, serverPort: number): string | undefined {
  const local = `0100007F:${hexPort(clientPort)}`;
  const remote = `0100007F:${hexPort(serverPort)}`;
  let text: string;
  try {
    text = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) return f[9];
  }
  return undefined;
}

function ownerOf(inode: string | undefined, owners: Record<string, number>): string {
  if (!inode) return "other";
  const want = `socket:[${inode}]`;
  for (const [label, pid] of Object.entries(owners)) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return label;
        } catch {
          // fd closed meanwhile
        }
      }
    } catch {
      // process gone
    }
  }
  return "other";
}

interface Conn {
  label: string;
  inode: string | undefined;
  /** Resolved owner label; undefined while no candidate is known to hold the socket. */
  owner: string | undefined;
  up: number;
  down: number;
}

function runChild(): void {
  const servers = new Set<net.Server>();
  const sockets = new Set<net.Socket>();
  /** Closed connections, folded in by listener and owner. */
  const closed: Record<string, Record<string, Counter>> = {};
  const open = new Set<Conn>();
  let owners: Record<string, number> = {};
  let lastActivity = 0;
  const total = { up: 0, down: 0 };

  const resolve = (c: Conn): string | undefined => {
    if (c.owner === undefined) {
      const o = ownerOf(c.inode, owners);
      if (o !== "other") c.owner = o;
    }
    return c.owner;
  };
  const add = (into: Record<string, Record<string, Counter>>, c: Conn, connections: number) => {
    const n = ((into[c.label] ??= {})[c.owner ?? "other"] ??= { up: 0, down: 0, connections: 0 });
    n.up += c.up;
    n.down += c.down;
    n.connections += connections;
  };
  const snapshot = () => {
    const out: Record<string, Record<string, Counter>> = {};
    for (const [label, byOwner] of Object.entries(closed)) for (const [owner, n] of Object.entries(byOwner)) (out[label] ??= {})[owner] = { ...n };
    for (const c of open) {
      resolve(c);
      add(out, c, 1);
    }
    return out;
  };

  const listen = (label: string, targetPort: number, port = 0): Promise<number> =>
    new Promise((done, reject) => {
      const server = net.createServer({ noDelay: true }, (client) => {
        // The client's socket is looked up now, while it surely exists; its owner may be
        // named later (setOwners), as long as the connection is open.
        const c: Conn = { label, inode: clientInode(client.remotePort ?? 0, (server.address() as net.AddressInfo).port), owner: undefined, up: 0, down: 0 };
        resolve(c);
        open.add(c);
        const upstream = net.connect({ host: LOOPBACK, port: targetPort, noDelay: true });
        sockets.add(client);
        sockets.add(upstream);
        client.on("data", (b: Buffer) => {
          c.up += b.length;
          total.up += b.length;
          lastActivity = performance.now();
        });
        upstream.on("data", (b: Buffer) => {
          c.down += b.length;
          total.down += b.length;
          lastActivity = performance.now();
        });
        client.pipe(upstream);
        upstream.pipe(client);
        let ended = false;
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
          if (ended) return;
          ended = true;
          open.delete(c);
          add(closed, c, 1);
        };
        client.on("error", end);
        upstream.on("error", end);
        client.on("close", end);
        upstream.on("close", end);
      });
      server.on("error", reject);
      server.listen(port, LOOPBACK, () => {
        servers.add(server);
        done((server.address() as net.AddressInfo).port);
      });
    });

  const close = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([...servers].map((s) => new Promise((r) => s.close(r))));
  };

  process.on("message", async (m: Request) => {
    const reply = (r: ReplyBody) => process.send?.({ ...r, id: m.id });
    try {
      switch (m.op) {
        case "listen":
          reply({ ok: true, value: await listen(m.label, m.targetPort, m.port) });
          break;
        case "owners":
          owners = m.owners;
          for (const c of open) resolve(c);
          reply({ ok: true });
          break;
        case "counts":
          reply({ ok: true, value: { listeners: snapshot(), idleMs: lastActivity ? performance.now() - lastActivity : null, total } });
          break;
        case "close":
          await close();
          reply({ ok: true });
          process.disconnect?.();
          setTimeout(() => process.exit(0), 50);
          break;
      }
    } catch (err) {
      reply({ ok: false, error: (err as Error).message });
    }
  });
  // The parent went away: nothing will read the counts any more.
  process.on("disconnect", () => {
    void close().finally(() => process.exit(0));
  });
}

if (process.argv[1] === SELF && process.argv.includes("--child")) runChild();
