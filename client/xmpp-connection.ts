// The sharing client's XMPP connection: @xmpp/client (0.14) with its failure modes closed off.
//
// Why a wrapper: xmpp.js reports trouble as EventEmitter "error" events, and an "error" event
// without a listener throws, which kills the daemon. It happens in ordinary life: the server cuts
// a connection after an over-sized stanza (Prosody: policy-violation at 256 KiB, then the pending
// write fails with ECONNRESET), restarts, or the network drops. Three places can emit it:
//   1. the Client itself (stream errors, parser errors, forwarded socket errors);
//   2. the socket, once xmpp.js has detached its own listeners after "close";
//   3. the raw socket inside @xmpp/tls's wrapper, which that wrapper also detaches.
// Every socket xmpp.js attaches therefore gets a permanent listener here, and nothing is ever
// re-emitted as "error": errors go to `onError` and into the "disconnect" report.
//
// Session events: "online" once per session (the first and every reconnected one), "disconnect"
// once per lost session (failed reconnect attempts are not sessions), "offline" after close().
// Reconnection (opt-in) stops for good after a stream error that a retry would only repeat or
// make worse, notably `conflict`: another session took our resource.
//
// Liveness: a network that silently stops delivering (no FIN, no RST: a NAT that forgot us, a
// Wi-Fi gone, a black hole) leaves TCP believing the connection is fine for as long as its
// retransmissions last (~15 min), and nothing in an idle XMPP session would notice. So once
// online, after `pingIdleMs` without a single byte from the server, the connection pings it
// (XEP-0199, `urn:xmpp:ping`, to the account's domain). Any byte received within
// `pingTimeoutMs` of the ping proves the link alive: the reply, an error reply (the server did
// answer), or anything else. Nothing at all → the socket is destroyed, and the lost session goes
// the ordinary way: "disconnect", then reconnection with backoff. A reconnect attempt that a
// black hole swallows is cut as soon as xmpp.js gives up waiting for the server's stream header
// (`timeoutMs`), or else by the stall guard (`reconnectStallMs`).

import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { client, xml, type Client, type SocketLike, type XMPPError } from "@xmpp/client";
import type { JID } from "@xmpp/jid";
import type { Element } from "ltx";
import { sameAddress } from "../protocol/jid.ts";
import { type Element as XmlElement, dropIfTooDeep } from "../protocol/xml.ts";

export interface ClientConnectionOptions {
  /** "xmpp://host:port" (STARTTLS) or "xmpps://host:port" (direct TLS). */
  service: string;
  domain: string;
  username: string;
  password: string;
  /** The sharing client's own resource, so that the user's other clients are undisturbed. */
  resource: string;
  /** Reconnect by itself after a lost session (default false). */
  reconnect?: boolean;
  /** ms between a disconnect and the first attempt (default 1000); doubled after every
   *  attempt that does not bring the session back, up to `reconnectMaxDelayMs`. */
  reconnectDelayMs?: number;
  /** Longest wait between two attempts (default 30 s). */
  reconnectMaxDelayMs?: number;
  /** A reconnect attempt that has not reached "online" after this many ms is cut and retried
   *  (default 30 s): xmpp.js only retries after a "disconnect", so a half-open attempt would
   *  otherwise wait forever. */
  reconnectStallMs?: number;
  /** ms xmpp.js waits for the server at each step of opening and closing (default 2000). */
  timeoutMs?: number;
  /** Once online: ms without any byte from the server before it is pinged (XEP-0199; default
   *  60 s; 0 turns the liveness check off). Can be changed later: setLiveness(). */
  pingIdleMs?: number;
  /** ms a ping waits for any byte from the server before the connection is taken for dead and
   *  its socket destroyed (default 20 s). */
  pingTimeoutMs?: number;
  /** Receives every error xmpp.js or a socket reports. Must not throw. */
  onError?: (err: Error) => void;
}

export interface DisconnectInfo {
  /** The socket closed without a transport error. */
  clean: boolean;
  /** Stream error condition the server sent before closing, e.g. "policy-violation". */
  streamError?: string;
  /** The last error seen in this session (stream or socket), if any. */
  error?: Error;
  /** Whether the connection will try to come back by itself. */
  willReconnect: boolean;
}

const NS_PING = "urn:xmpp:ping";
const DEFAULT_PING_IDLE_MS = 60_000;
const DEFAULT_PING_TIMEOUT_MS = 20_000;

/** Stream errors after which reconnecting is wrong, not just useless. `conflict`: another
 *  session took our resource; coming back would kick it, and it would kick us, forever. */
const FINAL_STREAM_ERRORS = new Set(["conflict", "not-authorized", "host-unknown"]);

interface ConnectionEvents {
  online: [address: JID];
  disconnect: [info: DisconnectInfo];
  offline: [];
}

export class NotConnectedError extends Error {
  constructor(status: string) {
    super(`XMPP connection is not online (status: ${status})`);
    this.name = "NotConnectedError";
  }
}

export class ClientConnection extends EventEmitter<ConnectionEvents> {
  /** The underlying entity, for iqCallee/middleware registration. Send through this class. */
  readonly xmpp: Client;
  private readonly opts: ClientConnectionOptions;
  private readonly guarded = new WeakSet<object>();
  private sessionOnline = false;
  private sessionError: Error | undefined;
  private streamError: string | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private pingIdleMs: number;
  private pingTimeoutMs: number;
  /** performance.now() of the last byte received on the current socket. */
  private lastHeard = 0;
  /** The liveness timer: waits for the idle period, then for the ping's answer. */
  private livenessTimer: NodeJS.Timeout | undefined;
  /** The ping in flight, if any: its id and when it was sent (performance.now()). */
  private ping: { id: string; sentAt: number } | undefined;
  /** Ids of our IQ requests in flight → the address each was sent to. */
  private readonly asked = new Map<string, string>();
  /** Fails each request in flight (a lost session). */
  private readonly inFlight = new Set<(err: Error) => void>();

  constructor(opts: ClientConnectionOptions) {
    super();
    this.opts = opts;
    this.pingIdleMs = opts.pingIdleMs ?? DEFAULT_PING_IDLE_MS;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    this.xmpp = client({
      service: opts.service,
      domain: opts.domain,
      username: opts.username,
      password: opts.password,
      resource: opts.resource,
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    });
    this.guardSockets();
    // Before xmpp.js's own handlers (its IQ callee echoes the request into error replies, and
    // serialising 10,000 levels of nesting overflows the stack: no answer at all).
    this.xmpp.prependListener("element", (el: Element) => {
      dropIfTooDeep(el as unknown as XmlElement);
      this.unlessFromAsked(el);
      this.ifPingAnswer(el);
    });
    this.xmpp.on("error", (err) => this.onError(err));
    this.xmpp.on("online", (address) => this.onOnline(address));
    this.xmpp.on("disconnect", (info) => this.onDisconnect(info.clean));
    this.cutTimedOutAttempts();

    // xmpp.js starts its reconnect module in client(); it is ours to turn on or off.
    this.xmpp.reconnect.stop();
    if (opts.reconnect) {
      this.xmpp.reconnect.delay = opts.reconnectDelayMs ?? 1000;
      this.xmpp.reconnect.on("reconnecting", () => {
        this.armStallGuard();
        // Backoff: should this attempt fail, the next one waits twice as long.
        this.xmpp.reconnect.delay = Math.min(this.xmpp.reconnect.delay * 2, opts.reconnectMaxDelayMs ?? 30_000);
      });
    }
  }

  get status(): string {
    return this.xmpp.status;
  }

  get online(): boolean {
    return this.xmpp.status === "online";
  }

  /** Connects and logs in; rejects (without leaving a reconnect loop behind) if that fails. */
  async start(): Promise<JID> {
    try {
      const address = await this.xmpp.start();
      if (this.opts.reconnect && !this.closed) this.xmpp.reconnect.start();
      return address;
    } catch (err) {
      await this.close();
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`cannot log in as ${this.opts.username}@${this.opts.domain}: ${reason}`);
    }
  }

  async send(stanza: Element): Promise<void> {
    if (!this.online) throw new NotConnectedError(this.status);
    await this.xmpp.send(stanza);
  }

  /** Sends an iq and resolves with the result iq (rejects with a StanzaError or TimeoutError). */
  async request(iq: Element, timeoutMs = 30_000): Promise<Element> {
    if (!this.online) throw new NotConnectedError(this.status);
    iq.attrs.id ??= `x-${randomUUID()}`;
    const id = String(iq.attrs.id);
    this.asked.set(id, String(iq.attrs.to ?? ""));
    // A lost session fails the request at once: its answer can no longer come, and waiting for
    // the timeout (30 s) would hold up whoever asked for nothing.
    let drop!: (err: Error) => void;
    const lost = new Promise<never>((_, reject) => (drop = reject));
    this.inFlight.add(drop);
    const answer = this.xmpp.iqCaller.request(iq, timeoutMs);
    answer.catch(() => undefined); // settled later by xmpp.js (a timeout) when the race is lost
    try {
      return await Promise.race([answer, lost]);
    } catch (err) {
      // xmpp.js's TimeoutError has no message: "xshare: " and nothing else would reach the user.
      if ((err as Error)?.name === "TimeoutError" && !(err as Error).message) {
        throw Object.assign(new Error(`no answer from ${String(iq.attrs.to ?? this.opts.domain)} within ${timeoutMs >= 10_000 ? Math.round(timeoutMs / 1000) : (timeoutMs / 1000).toFixed(1)} s`), { name: "TimeoutError" });
      }
      throw err;
    } finally {
      this.inFlight.delete(drop);
      this.asked.delete(id);
    }
  }

  /**
   * An answer to one of our requests counts only from the address asked (the server stamps
   * `from`; no `to` means our own account). Any other sender's reply loses its id here, so
   * xmpp.js's IQ caller does not take it for the answer.
   */
  private unlessFromAsked(el: Element): void {
    if (el.name !== "iq" || (el.attrs.type !== "result" && el.attrs.type !== "error")) return;
    const to = this.asked.get(String(el.attrs.id ?? ""));
    if (to === undefined) return;
    const from = String(el.attrs.from ?? "");
    const own = this.xmpp.jid ? [this.xmpp.jid.bare().toString(), this.xmpp.jid.toString(), ""] : [""];
    const fine = to === "" ? own.some((o) => sameAddress(from, o)) : sameAddress(from, to) || (from === "" && own.some((o) => sameAddress(to, o)));
    if (!fine) delete el.attrs.id;
  }

  /** Resolves now if online, else at the next "online". */
  waitOnline(timeoutMs = 30_000): Promise<JID> {
    if (this.online && this.xmpp.jid) return Promise.resolve(this.xmpp.jid);
    return this.next("online", timeoutMs).then(([address]) => address);
  }

  /** Resolves at the next lost session. */
  nextDisconnect(timeoutMs = 30_000): Promise<DisconnectInfo> {
    return this.next("disconnect", timeoutMs).then(([info]) => info);
  }

  /**
   * Changes the liveness check (see the header): ping after `pingIdleMs` without a byte from the
   * server (0: never), give up on the connection `pingTimeoutMs` after the ping. Takes effect at
   * once, for this session and the next ones.
   */
  setLiveness(opts: { pingIdleMs?: number; pingTimeoutMs?: number }): void {
    if (opts.pingIdleMs !== undefined) this.pingIdleMs = opts.pingIdleMs;
    if (opts.pingTimeoutMs !== undefined) this.pingTimeoutMs = opts.pingTimeoutMs;
    if (!this.ping) this.armLiveness();
  }

  /** Stops reconnecting and closes the stream; never throws. */
  async close(): Promise<void> {
    this.closed = true;
    this.sessionOnline = false; // a close we asked for is not a lost session
    this.clearStallGuard();
    this.stopLiveness();
    this.xmpp.reconnect.stop();
    if (this.xmpp.status !== "offline") {
      try {
        await this.xmpp.stop();
      } catch (err) {
        this.onError(err as Error);
      }
    }
    this.emit("offline");
  }

  private next<K extends keyof ConnectionEvents>(event: K, timeoutMs: number): Promise<ConnectionEvents[K]> {
    return new Promise((resolve, reject) => {
      const listener = (...args: ConnectionEvents[K]): void => {
        clearTimeout(timer);
        resolve(args);
      };
      const timer = setTimeout(() => {
        this.off(event, listener as never);
        reject(new Error(`no "${event}" within ${timeoutMs} ms (status: ${this.status})`));
      }, timeoutMs);
      this.once(event, listener as never);
    });
  }

  private onError(err: Error): void {
    if ((err as XMPPError).name === "StreamError") this.streamError = (err as XMPPError).condition;
    this.sessionError = err;
    try {
      this.opts.onError?.(err);
    } catch {
      // a reporting callback must not take the connection down
    }
  }

  private onOnline(address: JID): void {
    this.clearStallGuard();
    this.lastHeard = performance.now(); // the server just bound our resource
    this.stopLiveness();
    this.armLiveness();
    if (this.opts.reconnect) this.xmpp.reconnect.delay = this.opts.reconnectDelayMs ?? 1000;
    this.sessionOnline = true;
    this.sessionError = undefined;
    this.streamError = undefined;
    this.emit("online", address);
  }

  private onDisconnect(clean: boolean): void {
    this.stopLiveness();
    if (!this.sessionOnline) return; // a failed attempt, not a lost session
    this.sessionOnline = false;
    for (const drop of this.inFlight) drop(new NotConnectedError("disconnected while waiting for an answer"));
    this.inFlight.clear();
    const final = this.streamError !== undefined && FINAL_STREAM_ERRORS.has(this.streamError);
    if (final) {
      // xmpp.js's own "disconnect" listener runs after this one and schedules an attempt; stop
      // reconnecting once it has (stop() also clears the scheduled attempt).
      setImmediate(() => this.xmpp.reconnect.stop());
    }
    const info: DisconnectInfo = { clean, willReconnect: Boolean(this.opts.reconnect) && !this.closed && !final };
    if (this.streamError) info.streamError = this.streamError;
    if (this.sessionError) info.error = this.sessionError;
    this.emit("disconnect", info);
  }

  /** Every socket xmpp.js attaches, and the raw socket inside a TLS wrapper, keeps an "error"
   *  listener for its whole life. */
  private guardSockets(): void {
    const guard = (socket: SocketLike | null | undefined): void => {
      if (!socket || this.guarded.has(socket)) return;
      this.guarded.add(socket);
      socket.on("error", (err: Error) => this.onError(err));
      if (socket.socket) guard(socket.socket);
      const attachInner = socket._attachSocket;
      if (typeof attachInner === "function") {
        socket._attachSocket = (inner: SocketLike) => {
          guard(inner);
          attachInner.call(socket, inner);
        };
      }
    };
    const attach = this.xmpp._attachSocket;
    this.xmpp._attachSocket = (socket: SocketLike) => {
      guard(socket);
      // Liveness counts bytes, not stanzas: a big stanza arriving slowly is a live link. (For TLS
      // this is the wrapper's decrypted data; STARTTLS attaches the wrapper here too.)
      socket.on("data", () => {
        if (this.xmpp.socket === socket) this.lastHeard = performance.now();
      });
      attach.call(this.xmpp, socket);
    };
  }

  /** Destroys the current socket: "close", then "disconnect", then (if reconnecting) the next
   *  attempt. @xmpp/tls's wrapper (xmpps://, and STARTTLS) has no destroy(), and its end() sends
   *  a FIN and waits for the peer's, which a dead network never delivers: no "close" would come
   *  for as long as TCP retries. The TLS socket inside it is destroyed instead (and with it the
   *  TCP socket under it); the wrapper passes its "close" on. */
  private cutSocket(): void {
    const socket = this.xmpp.socket;
    if (socket?.destroy) socket.destroy();
    else if (socket?.socket?.destroy) socket.socket.destroy();
    else socket?.end();
  }

  /**
   * xmpp.js waits `timeoutMs` for the server's stream header and then rejects the reconnect
   * attempt, but leaves its socket open: nothing would close it before the stall guard. An attempt
   * that timed out is cut at once, so that the next one (with backoff) starts.
   */
  private cutTimedOutAttempts(): void {
    const r = this.xmpp.reconnect;
    const attempt = r.reconnect.bind(r);
    r.reconnect = async () => {
      try {
        await attempt();
      } catch (err) {
        const status = this.xmpp.status;
        if ((err as Error)?.name === "TimeoutError" && !this.closed && status !== "online" && status !== "disconnect" && status !== "offline") this.cutSocket();
        throw err;
      }
    };
  }

  // ---------------------------------------------------------------- liveness (XEP-0199)

  /** Schedules the next look at the link: when `pingIdleMs` will have passed since the last byte. */
  private armLiveness(): void {
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    this.livenessTimer = undefined;
    if (this.closed || !this.online || !(this.pingIdleMs > 0)) return;
    const wait = Math.max(0, this.lastHeard + this.pingIdleMs - performance.now());
    this.livenessTimer = setTimeout(() => this.checkLiveness(), wait);
    this.livenessTimer.unref();
  }

  private checkLiveness(): void {
    this.livenessTimer = undefined;
    if (this.closed || !this.online) return;
    const now = performance.now();
    const ping = this.ping;
    if (ping) {
      if (this.lastHeard > ping.sentAt) {
        // Something came after the ping (an answer under another id, any stanza): alive.
        this.endPing();
        return this.armLiveness();
      }
      const left = ping.sentAt + this.pingTimeoutMs - now;
      if (left > 0) {
        this.livenessTimer = setTimeout(() => this.checkLiveness(), left);
        this.livenessTimer.unref();
        return;
      }
      this.endPing();
      this.onError(new Error(`no answer from ${this.opts.domain} within ${this.pingTimeoutMs} ms of a ping (XEP-0199): the connection is dead`));
      return this.cutSocket();
    }
    if (now - this.lastHeard < this.pingIdleMs) return this.armLiveness();
    this.sendPing(now);
  }

  private sendPing(now: number): void {
    const id = `ping-${randomUUID()}`;
    const to = this.opts.domain;
    this.ping = { id, sentAt: now };
    // Registered like any request of ours, so that only the server's answer keeps its id.
    this.asked.set(id, to);
    this.xmpp.send(xml("iq", { type: "get", to, id }, xml("ping", { xmlns: NS_PING }))).catch((err: unknown) => this.onError(err as Error));
    this.livenessTimer = setTimeout(() => this.checkLiveness(), this.pingTimeoutMs);
    this.livenessTimer.unref();
  }

  /** The answer to our ping (a result, or an error: the server answered either way). */
  private ifPingAnswer(el: Element): void {
    if (!this.ping || el.name !== "iq" || (el.attrs.type !== "result" && el.attrs.type !== "error")) return;
    if (String(el.attrs.id ?? "") !== this.ping.id) return;
    this.endPing();
    this.armLiveness();
  }

  private endPing(): void {
    if (this.ping) this.asked.delete(this.ping.id);
    this.ping = undefined;
  }

  private stopLiveness(): void {
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    this.livenessTimer = undefined;
    this.endPing();
  }

  private armStallGuard(): void {
    this.clearStallGuard();
    this.stallTimer = setTimeout(() => {
      if (this.closed || this.online) return;
      // Closing the socket yields "disconnect", which schedules the next attempt.
      this.cutSocket();
    }, this.opts.reconnectStallMs ?? 30_000);
    this.stallTimer.unref();
  }

  private clearStallGuard(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }
}

/** Creates a hardened connection and logs in. */
export async function openClientConnection(opts: ClientConnectionOptions): Promise<ClientConnection> {
  const connection = new ClientConnection(opts);
  await connection.start();
  return connection;
}
