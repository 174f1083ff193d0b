/**
 * The component's XEP-0114 connection to the XMPP server, with reconnection.
 *
 * Built on @xmpp/component-core rather than @xmpp/component because the latter installs an
 * IQ callee that answers every IQ itself (echoing the request into errors, turning our
 * errors into internal-server-error); the router (`router.ts`) answers every IQ instead.
 *
 * After a disconnect or a server restart it reconnects with exponential backoff (1 s doubling
 * to 30 s, with jitter). A refused handshake (wrong secret, unknown domain) is said clearly at
 * every attempt and retried from 5 s doubling to 5 min (`refused` event): the admin's fix on
 * either side is picked up without a restart. A `conflict` is fatal once online (a newer
 * connection replaced us: `fatal` event); during the handshake it means the server still holds
 * an older connection, and the link retries.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { Component } from "@xmpp/component-core";
import type { Logger } from "pino";
import { sameAddress } from "../protocol/jid.ts";
import { type Element, dropIfTooDeep } from "../protocol/xml.ts";

export interface LinkOptions {
  readonly service: string;
  readonly domain: string;
  readonly secret: string;
  readonly log: Logger;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** After a refused handshake: 5 s, doubling, at most 5 min between attempts. */
const REFUSED_MIN_MS = 5_000;
const REFUSED_MAX_MS = 300_000;
const refusedDelay = (refusals: number) => Math.min(REFUSED_MAX_MS, REFUSED_MIN_MS * 2 ** (refusals - 1));

/** How long `request` waits for the answer to an IQ the component sent. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Events: `stanza` (Element; answers to our own `request`s are not emitted), `online`,
 * `offline`, `refused` (Error: the handshake was refused; retried), `fatal` (Error).
 */
export class ComponentLink extends EventEmitter {
  readonly #opts: LinkOptions;
  readonly #entity: InstanceType<typeof Component>;
  #stopped = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #online = false;
  #fatal: Error | undefined;
  /** Handshakes refused in a row (wrong secret, unknown domain). */
  #refusals = 0;
  #lastError: Error | undefined;
  /** IQs we sent, by id, waiting for their result or error. */
  readonly #pending = new Map<string, { to: string; resolve: (el: Element) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

  constructor(opts: LinkOptions) {
    super();
    this.#opts = opts;
    const entity = new Component({ service: opts.service, domain: opts.domain });
    this.#entity = entity;
    entity.on("open", (el: Element) => {
      entity.authenticate(String(el.attrs.id ?? ""), opts.secret).catch((err: Error) => this.#onError(err));
    });
    entity.on("online", () => {
      this.#attempt = 0;
      this.#refusals = 0;
      this.#online = true;
      opts.log.info({ service: opts.service, domain: opts.domain }, "connected to the XMPP server");
      this.emit("online");
    });
    entity.on("disconnect", () => {
      if (this.#online) {
        this.#online = false;
        opts.log.warn("disconnected from the XMPP server");
        this.emit("offline");
      }
      if (!this.#stopped && !this.#fatal) this.#schedule();
    });
    entity.on("stanza", (el: Element) => {
      if (el.name === "iq" && (el.attrs.type === "result" || el.attrs.type === "error")) {
        const p = this.#pending.get(String(el.attrs.id ?? ""));
        // Only the address asked may answer (the server stamps `from`); anyone else's reply with
        // a guessed id is an ordinary stanza, routed (and refused) like any other.
        if (p && sameAddress(String(el.attrs.from ?? ""), p.to)) {
          this.#pending.delete(String(el.attrs.id));
          clearTimeout(p.timer);
          if (el.attrs.type === "result") p.resolve(el);
          else p.reject(Object.assign(new Error(`${String(el.attrs.from ?? "")} answered with an error: ${el.getChild("error")?.toString() ?? ""}`), { reply: el }));
          return;
        }
      }
      this.emit("stanza", el);
    });
    entity.on("error", (err: Error) => this.#onError(err));
    // Before anything reads it: see dropIfTooDeep. The router answers what is left bad-request.
    entity.prependListener("element", (el: Element) => dropIfTooDeep(el));
  }

  get online(): boolean {
    return this.#online;
  }

  #onError(err: Error & { condition?: string }): void {
    // xmpp.js reports a stream error twice: as an event, and as the handshake's rejection.
    if (err === this.#lastError) return;
    this.#lastError = err;
    // Prosody answers a bad secret with <not-authorized/>, an unknown component with
    // <host-unknown/> (ejabberd: not-authorized for both). Retrying at once cannot help, and
    // hammering the server would fill its log: said once per attempt, retried less and less
    // often, so that the admin's fix of either side is picked up without a restart.
    if (err.condition === "not-authorized" || err.condition === "host-unknown") {
      this.#refusals++;
      const delay = refusedDelay(this.#refusals);
      const why =
        err.condition === "not-authorized"
          ? `the XMPP server refused the component secret for ${this.#opts.domain} (check component_secret and XSHARE_COMPONENT_SECRET)`
          : `the XMPP server has no component ${this.#opts.domain} configured`;
      this.#opts.log.error({ domain: this.#opts.domain, condition: err.condition, attempt: this.#refusals, retryInSeconds: delay / 1000 }, `${why}; retrying in ${delay / 1000} s`);
      this.emit("refused", new Error(why));
      return;
    }
    if (err.condition === "conflict") {
      if (this.#online) {
        // Another sharing manager authenticated for our domain and the server let it in
        // (Prosody's component_conflict_resolve = "kick_old"). Reconnecting would kick it out
        // in turn, and the two would take turns for ever: the newer one stays.
        this.#fatal = new Error(`another connection for ${this.#opts.domain} replaced this one at the XMPP server; stopping`);
        this.#stopped = true;
        clearTimeout(this.#timer);
        this.emit("fatal", this.#fatal);
      } else {
        // The server still holds an older connection for our domain (typically our own previous
        // process, not yet timed out) and keeps it: retry with backoff until it is gone.
        this.#opts.log.warn(
          { domain: this.#opts.domain },
          'the XMPP server has another connection for this domain and refused this one; retrying (Prosody: component_conflict_resolve = "kick_old" lets a restarted sharing manager in at once)',
        );
      }
      return;
    }
    this.#opts.log.debug({ err: err.message, condition: err.condition }, "connection error");
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const min = this.#opts.minDelayMs ?? 1000;
    const max = this.#opts.maxDelayMs ?? 30_000;
    // After a refusal, its wait (and not a shorter one, should disconnect be reported twice).
    const delay = this.#refusals > 0 ? refusedDelay(this.#refusals) : Math.min(max, min * 2 ** this.#attempt) * (0.75 + Math.random() * 0.5);
    this.#attempt++;
    this.#timer = setTimeout(() => void this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    if (this.#stopped || this.#entity.status !== "disconnect") return;
    try {
      await this.#entity.connect(this.#opts.service);
      await this.#entity.open({ domain: this.#opts.domain });
    } catch (err) {
      // The socket's close event follows and schedules the next attempt.
      this.#opts.log.debug({ err: (err as Error).message, attempt: this.#attempt }, "reconnect failed");
    }
  }

  /**
   * Connects; resolves once online. Keeps retrying while the server is unreachable (it may
   * start after us) or refuses the handshake (see the header); rejects only on `fatal`.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onOnline = () => {
        this.off("fatal", onFatal);
        resolve();
      };
      const onFatal = (err: Error) => {
        this.off("online", onOnline);
        reject(err);
      };
      this.once("online", onOnline);
      this.once("fatal", onFatal);
      this.#entity.start().catch((err: Error) => {
        // A refused handshake was said (#onError); this is for a server not up yet.
        if (!this.#fatal && this.#refusals === 0) this.#opts.log.warn({ err: err.message, service: this.#opts.service }, "XMPP server not reachable yet; retrying");
      });
    });
  }

  /** Sends a stanza; silently dropped while offline (every sender tolerates loss). */
  async send(el: Element): Promise<void> {
    if (!this.#online) return;
    try {
      await this.#entity.send(el);
    } catch (err) {
      this.#opts.log.debug({ err: (err as Error).message }, "send failed");
    }
  }

  /**
   * Sends an IQ get/set and resolves with its result (rejects on an error answer, after
   * REQUEST_TIMEOUT_MS, or when offline). The id is ours.
   */
  /**
   * Sends an IQ and resolves with its result. Rejects on an error reply (the Error's `reply` is
   * the stanza), after `timeoutMs` (default 30 s), or when not connected.
   */
  request(iq: Element, timeoutMs: number = REQUEST_TIMEOUT_MS): Promise<Element> {
    if (!this.#online) return Promise.reject(new Error("the component is not connected"));
    // Unguessable, so that nobody can pre-empt the answer even from the right address' server.
    const id = `c-${randomUUID()}`;
    iq.attrs.id = id;
    const to = String(iq.attrs.to ?? "");
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no answer from ${String(iq.attrs.to ?? "")} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { to, resolve, reject, timer });
      void this.send(iq);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the component is stopping"));
    }
    this.#pending.clear();
    clearTimeout(this.#timer);
    try {
      await this.#entity.stop();
    } catch {
      // Already gone.
    }
  }
}
