/**
 * The sharing client's liveness check (client/xmpp-connection.ts): once online, after
 * `pingIdleMs` without a byte from the server it sends an XEP-0199 ping to the account's domain;
 * no byte at all within `pingTimeoutMs` destroys the socket (a lost session, reconnected like
 * any other); an answer, an error answer or any other traffic keeps the session. The real class,
 * against a fake server on loopback that speaks just enough XMPP to log in (SASL ANONYMOUS, since
 * xmpp.js refuses PLAIN without TLS; bind). That it heals a real black hole between a real
 * daemon and a real Prosody is shown in tests/e2e/network-faults.test.ts (d).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { Element } from "ltx";
import { ClientConnection, NotConnectedError, type DisconnectInfo } from "../../client/xmpp-connection.ts";

/**
 * How a connection behaves once logged in. "ignore": reads pings and never answers them.
 * "dark": reads nothing more at all, not even a FIN (as a dead network: an end() from the client
 * never completes). "mute": never says a word, not even the stream header.
 */
type OnPing = "result" | "error" | "ignore" | "dark" | "mute";

interface FakeServer {
  port: number;
  /** Pings received so far, as XML text, per connection (index = connection number). */
  pings: string[][];
  /** Connections accepted so far. */
  connections: number;
  /** Connections that went through STARTTLS. */
  tls: number;
  /** Sends `text` to the newest connection. */
  push(text: string): void;
  close(): Promise<void>;
}

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='fake' from='example.org' version='1.0'>`;
const ID = /\bid=(?:"([^"]*)"|'([^']*)')/;

/** `onPing(n)`: how connection n (from 0) behaves once logged in. With `cert`, it offers (and
 *  requires) STARTTLS. */
async function fakeServer(onPing: (n: number) => OnPing, cert?: { key: string; cert: string }): Promise<FakeServer> {
  const sockets: net.Socket[] = [];
  const streams: Array<net.Socket | tls.TLSSocket> = [];
  const state: FakeServer = {
    port: 0,
    pings: [],
    connections: 0,
    tls: 0,
    push: (text) => void streams.at(-1)?.write(text),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  // allowHalfOpen: a FIN from the client is not answered by one of ours unless we say so.
  const server = net.createServer({ allowHalfOpen: true }, (raw) => {
    const n = state.connections++;
    state.pings[n] = [];
    sockets.push(raw);
    raw.on("error", () => undefined);
    if (onPing(n) === "mute") return void raw.on("data", () => undefined);
    let authed = false;
    const serve = (socket: net.Socket | tls.TLSSocket, secure: boolean) => {
      streams.push(socket);
      let buf = "";
      const onData = (chunk: Buffer) => {
        buf += chunk.toString("utf8");
        // One top-level thing at a time; everything the client sends here is small.
        for (;;) {
          const header = /^\s*(?:<\?xml[^>]*\?>)?\s*<stream:stream[^>]*>/.exec(buf);
          if (header) {
            buf = buf.slice(header[0].length);
            const features = cert && !secure
              ? `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>`
              : authed
                ? `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>`
                : `<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>ANONYMOUS</mechanism></mechanisms>`;
            socket.write(`${HEADER}<stream:features>${features}</stream:features>`);
            continue;
          }
          if (/^\s*<\/stream:stream>/.test(buf)) {
            socket.end("</stream:stream>");
            break;
          }
          const el = /^\s*(<(\w+)\b[^>]*?\/>|<(\w+)\b[^>]*>[^]*?<\/\3>)/.exec(buf);
          if (!el) break;
          buf = buf.slice(el[0].length);
          const text = el[1]!;
          const id = ID.exec(text)?.slice(1).find((v) => v !== undefined) ?? "";
          if (text.startsWith("<starttls") && cert) {
            socket.off("data", onData);
            socket.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`, () => {
              state.tls++;
              const secured = new tls.TLSSocket(raw, { isServer: true, key: cert.key, cert: cert.cert });
              secured.on("error", () => undefined);
              serve(secured, true);
            });
            return;
          } else if (text.startsWith("<auth")) {
            authed = true;
            socket.write(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
          } else if (text.startsWith("<iq") && text.includes("urn:ietf:params:xml:ns:xmpp-bind")) {
            socket.write(`<iq type='result' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u@example.org/r</jid></bind></iq>`);
            if (onPing(n) === "dark") {
              // Gone: nothing more is read, so the kernel holds whatever comes, FIN included.
              socket.off("data", onData);
              socket.pause();
              raw.pause();
              return;
            }
          } else if (text.startsWith("<iq") && text.includes("urn:xmpp:ping")) {
            state.pings[n]!.push(text);
            const how = onPing(n);
            if (how === "result") socket.write(`<iq type='result' from='example.org' to='u@example.org/r' id='${id}'/>`);
            if (how === "error") {
              socket.write(`<iq type='error' from='example.org' to='u@example.org/r' id='${id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
            }
          }
        }
      };
      socket.on("data", onData);
    };
    serve(raw, false);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** A throwaway self-signed certificate for example.org (openssl), or undefined without openssl. */
function selfSigned(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), "xshare-ping-tls-"));
  try {
    const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=example.org", "-days", "1", "-keyout", key, "-out", cert], { stdio: "ignore" });
    return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `check` until it holds (fails after `ms`): no test depends on how fast timers run. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function online(srv: FakeServer, extra: Partial<ConstructorParameters<typeof ClientConnection>[0]> = {}): Promise<ClientConnection> {
  const conn = new ClientConnection({
    service: `xmpp://127.0.0.1:${srv.port}`, domain: "example.org", username: "u", password: "p", resource: "r",
    pingIdleMs: 200, pingTimeoutMs: 300, timeoutMs: 2000, ...extra,
  });
  cleanup.push(() => conn.close());
  await conn.start();
  return conn;
}

describe("liveness check (XEP-0199 ping once online)", () => {
  it("a server that answers is pinged after each idle period and the session stays", async () => {
    const srv = await fakeServer(() => "result");
    cleanup.push(() => srv.close());
    const conn = await online(srv);
    let lost = false;
    conn.on("disconnect", () => (lost = true));
    await until("three pings", () => srv.pings[0]!.length >= 3);
    // To the account's server, not to anyone's full JID.
    for (const ping of srv.pings[0]!) expect(ping).toMatch(/^<iq\b(?=[^>]*\btype=["']get["'])(?=[^>]*\bto=["']example\.org["'])[^>]*><ping xmlns=["']urn:xmpp:ping["']\/><\/iq>$/);
    expect(lost).toBe(false);
    expect(conn.online).toBe(true);
  });

  it("an error answer (service-unavailable) counts as alive: the server did answer", async () => {
    const srv = await fakeServer(() => "error");
    cleanup.push(() => srv.close());
    const conn = await online(srv);
    let lost = false;
    conn.on("disconnect", () => (lost = true));
    await until("three pings", () => srv.pings[0]!.length >= 3);
    expect(lost).toBe(false);
  });

  it("no byte within the timeout: the socket is destroyed and the session reported lost", async () => {
    const srv = await fakeServer(() => "ignore");
    cleanup.push(() => srv.close());
    const conn = await online(srv);
    const t0 = Date.now();
    const info: DisconnectInfo = await conn.nextDisconnect(3_000);
    // idle 200 ms, then 300 ms for an answer
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(srv.pings[0]!.length).toBe(1);
    expect(info.willReconnect).toBe(false);
    expect(info.error?.message).toMatch(/ping/);
    expect(conn.online).toBe(false);
  });

  it("a request waiting for its answer fails as soon as the session is lost, not at its timeout", async () => {
    const srv = await fakeServer(() => "ignore");
    cleanup.push(() => srv.close());
    const conn = await online(srv);
    const iq = new Element("iq", { type: "get", to: "example.org" }).c("query", { xmlns: "jabber:iq:version" }).up();
    const err = await conn.request(iq, 25_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotConnectedError);
    expect(conn.online).toBe(false);
  });

  it("a request that gets no answer fails with a message that says so (xmpp.js's own has none)", async () => {
    const srv = await fakeServer(() => "ignore");
    cleanup.push(() => srv.close());
    const conn = await online(srv, { pingIdleMs: 0 });
    const iq = new Element("iq", { type: "get", to: "share.example.org" }).c("query", { xmlns: "jabber:iq:version" }).up();
    const err = (await conn.request(iq, 300).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect([err.name, err.message]).toEqual(["TimeoutError", "no answer from share.example.org within 0.3 s"]);
  });

  it("any traffic from the server resets the idle period: no ping is needed", async () => {
    const srv = await fakeServer(() => "ignore");
    cleanup.push(() => srv.close());
    // Idle 1 s, whitespace every 80 ms: a margin that a loaded machine's timers keep.
    const conn = await online(srv, { pingIdleMs: 1_000 });
    let lost = false;
    conn.on("disconnect", () => (lost = true));
    const chatter = setInterval(() => srv.push(" "), 80); // whitespace keepalives
    try {
      await sleep(3_000);
    } finally {
      clearInterval(chatter);
    }
    expect(srv.pings[0]).toEqual([]);
    expect(lost).toBe(false);
  });

  it("over TLS (STARTTLS) the dead link's socket is destroyed too, not ended: an end() waits for a FIN that never comes", async (ctx) => {
    const cert = selfSigned();
    if (!cert) return ctx.skip();
    const srv = await fakeServer(() => "dark", cert);
    cleanup.push(() => srv.close());
    // The fake server's certificate is its own; xmpp.js's STARTTLS takes no CA option.
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    let conn: ClientConnection;
    try {
      conn = await online(srv);
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    }
    expect(srv.tls).toBe(1);
    expect(conn.xmpp.isSecure()).toBe(true);
    const info = await conn.nextDisconnect(3_000);
    expect(info.error?.message).toMatch(/ping/);
    expect(conn.online).toBe(false);
  });

  it("with reconnection on, a dead session is replaced by a new one", async () => {
    // The first connection goes dark once logged in; the second answers.
    const srv = await fakeServer((n) => (n === 0 ? "ignore" : "result"));
    cleanup.push(() => srv.close());
    const conn = await online(srv, { reconnect: true, reconnectDelayMs: 50 });
    const lost = await conn.nextDisconnect(3_000);
    expect(lost.willReconnect).toBe(true);
    await conn.waitOnline(3_000);
    expect(srv.connections).toBe(2);
    await until("a ping on the new connection, answered", () => (srv.pings[1]?.length ?? 0) >= 2);
    expect(conn.online).toBe(true);
  });

  it("a reconnect attempt the network swallows is cut when xmpp.js stops waiting, not at the stall bound", async () => {
    // 0 logs in then goes dark; 1 accepts and never says a word (as a black hole); 2 is fine.
    const srv = await fakeServer((n) => (n === 0 ? "ignore" : n === 1 ? "mute" : "result"));
    cleanup.push(() => srv.close());
    const conn = await online(srv, { reconnect: true, reconnectDelayMs: 50, timeoutMs: 300, reconnectStallMs: 60_000 });
    await conn.nextDisconnect(3_000);
    await conn.waitOnline(5_000);
    expect(srv.connections).toBe(3);
  });

  it("0 turns it off, and setLiveness() changes it on a live session", async () => {
    const srv = await fakeServer(() => "result");
    cleanup.push(() => srv.close());
    const conn = await online(srv, { pingIdleMs: 0 });
    await sleep(500);
    expect(srv.pings[0]).toEqual([]);
    conn.setLiveness({ pingIdleMs: 100 });
    await until("pings once turned on", () => srv.pings[0]!.length >= 2);
  });
});
