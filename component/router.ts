/**
 * IQ router (XEP-draft.md § 6, rule 5): every IQ get/set addressed to the component gets
 * exactly one answer, a result or a stanza error from the registry.
 *
 * Modules register handlers keyed by (type, namespace, element). A handler receives the
 * payload and the requester's bare JID *as stamped by the server*; it returns the result
 * payload (or nothing for an empty result) or throws a ShareError. Anything else thrown is
 * logged and answered with internal-server-error; nothing a peer sends can crash the process.
 */
import type { Logger } from "pino";
import { ShareError } from "../protocol/errors.ts";
import type { BareJid } from "../protocol/ids.ts";
import { bareOf } from "../protocol/jid.ts";
import { NS } from "../protocol/ns.ts";
import { Element, elements } from "../protocol/xml.ts";
import { OUT_OF_SPACE_TEXT, isOutOfSpace } from "./out-of-space.ts";

/** How an IQ reached the component: over XMPP (the server relays it) or HTTP (§ 5.11). */
export type Via = "xmpp" | "http";

/**
 * Prosody refuses component stanzas over 512 KiB (component_stanza_size_limit) and would cut
 * the component's connection. A reply larger than this is replaced by a `too-large` error that
 * tells the client to repeat the request over HTTP, where no such limit applies.
 */
export const XMPP_REPLY_LIMIT = 400 * 1024;

export interface IqRequest {
  readonly type: "get" | "set";
  readonly via: Via;
  /** Full JID of the requester, as stamped by the server. */
  readonly from: string;
  /** Bare JID of the requester: the only identity authorization uses. */
  readonly member: BareJid;
  readonly to: string;
  readonly payload: Element;
}

export type IqHandler = (req: IqRequest) => Promise<Element | undefined> | Element | undefined;

export class Router {
  readonly #handlers = new Map<string, IqHandler>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  get(name: string, handler: IqHandler, ns: string = NS.share): this {
    return this.#on("get", ns, name, handler);
  }

  set(name: string, handler: IqHandler, ns: string = NS.share): this {
    return this.#on("set", ns, name, handler);
  }

  #on(type: string, ns: string, name: string, handler: IqHandler): this {
    const key = `${type} ${ns} ${name}`;
    if (this.#handlers.has(key)) throw new Error(`Two handlers for ${key}`);
    this.#handlers.set(key, handler);
    return this;
  }

  /**
   * The reply to an IQ get/set, or undefined for stanzas that must not be answered
   * (results and errors, which belong to IQs we sent).
   */
  async handle(stanza: Element, via: Via = "xmpp"): Promise<Element | undefined> {
    if (stanza.name !== "iq") return undefined;
    const type = String(stanza.attrs.type ?? "");
    if (type !== "get" && type !== "set") return undefined;
    const reply = new Element("iq", { to: stanza.attrs.from, from: stanza.attrs.to, id: stanza.attrs.id });
    try {
      const result = await this.#dispatch(type, stanza, via);
      reply.attrs.type = "result";
      if (result) reply.cnode(result);
    } catch (err) {
      reply.attrs.type = "error";
      reply.cnode(this.#toShareError(err, stanza).toElement());
    }
    if (via === "xmpp" && Buffer.byteLength(reply.toString()) > XMPP_REPLY_LIMIT) {
      reply.attrs.type = "error";
      reply.children = [];
      const text = "The answer is too large for XMPP; send this request over HTTP (XEP-draft.md § 5.11)";
      reply.cnode(new ShareError("too-large", { text }).toElement());
    }
    return reply;
  }

  async #dispatch(type: "get" | "set", stanza: Element, via: Via): Promise<Element | undefined> {
    const kids = elements(stanza);
    const payload = kids[0];
    if (kids.length !== 1 || !payload) throw new ShareError("bad-request", { text: "An IQ carries exactly one payload" });
    const ns = payload.getNS() ?? "";
    const handler = this.#handlers.get(`${type} ${ns} ${payload.name}`);
    if (!handler) {
      if (ns === NS.share) throw new ShareError("not-implemented", { text: `<${payload.name}/> is not defined for IQ ${type}` });
      throw new ShareError("unavailable", { text: "Service unavailable" });
    }
    const from = String(stanza.attrs.from ?? "");
    let member: BareJid;
    try {
      member = bareOf(from);
    } catch {
      // Servers stamp `from`; an address without a localpart is another server or component.
      throw new ShareError("forbidden", { text: "Only user accounts may use this service" });
    }
    return (await handler({ type, via, from, member, to: String(stanza.attrs.to ?? ""), payload })) ?? undefined;
  }

  #toShareError(err: unknown, stanza: Element): ShareError {
    if (err instanceof ShareError) {
      this.#log.debug({ from: stanza.attrs.from, code: err.code, text: err.message }, "request refused");
      return err;
    }
    if (isOutOfSpace(err)) {
      this.#log.error({ err: (err as Error).message, from: stanza.attrs.from }, "out of disk space");
      return new ShareError("unavailable", { text: OUT_OF_SPACE_TEXT });
    }
    this.#log.error({ err, from: stanza.attrs.from, id: stanza.attrs.id }, "handler failed");
    return new ShareError("internal");
  }
}
