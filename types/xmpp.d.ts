// Ambient typings for the parts of xmpp.js we use (@xmpp/client 0.14, @xmpp/component 0.13.1,
// @xmpp/xml and @xmpp/jid 0.14). xmpp.js ships no types. Keep this minimal: add a member when code
// starts using it, and check its behaviour in node_modules/@xmpp/*, not in the xmpp.js README
// (which documents the newest release). Elements are ltx Elements in every package (one ltx copy),
// so `instanceof Element` holds across @xmpp/xml and @xmpp/component.

declare module "@xmpp/xml" {
  import { Element } from "ltx";

  /** The ltx Element class (a value: usable with instanceof). */
  export { Element };
  export type XmlChild = Element | string | number | null | undefined | boolean | XmlChild[];
  export type XmlAttrs = Record<string, string | number | null | undefined>;

  /** `xml(name, attrs, ...children)`; null/undefined attributes and children are dropped. */
  export function xml(name: string, attrs?: XmlAttrs | null, ...children: XmlChild[]): Element;

  /** Streaming parser used by the connections; emits "element", "start", "end", "error". */
  export class Parser {
    constructor();
    write(data: string): void;
    end(data?: string): void;
    on(event: "element" | "start", listener: (el: Element) => void): this;
    on(event: "end", listener: (el: Element) => void): this;
    on(event: "error", listener: (err: Error) => void): this;
  }

  type XmlFn = typeof xml & {
    Element: typeof Element;
    xml: typeof xml;
    Parser: typeof Parser;
  };
  const _default: XmlFn;
  export default _default;
}

declare module "@xmpp/jid" {
  export class JID {
    constructor(local: string | null | undefined, domain: string, resource?: string | null);
    /** "" when absent, never undefined. */
    local: string;
    domain: string;
    /** "" when absent, never undefined. */
    resource: string;
    toString(unescape?: boolean): string;
    bare(): JID;
    equals(other: JID): boolean;
    getLocal(unescape?: boolean): string;
    getDomain(): string;
    getResource(): string;
  }
  /** Parses "local@domain/resource", or builds from parts. Throws TypeError on an empty domain. */
  export function jid(address: string | JID): JID;
  export function jid(local: string | null | undefined, domain: string, resource?: string | null): JID;
  export function parse(address: string): JID;
  export function equal(a: JID, b: JID): boolean;

  type JidFn = typeof jid & { jid: typeof jid; JID: typeof JID; parse: typeof parse; equal: typeof equal };
  const _default: JidFn;
  export default _default;
}

/**
 * @xmpp/client, and the entity types both packages share (@xmpp/connection + middleware + iq
 * caller/callee + reconnect); @xmpp/component imports them from here.
 */
declare module "@xmpp/client" {
  import type { EventEmitter } from "node:events";
  export { xml } from "@xmpp/xml";
  export { jid } from "@xmpp/jid";
  import type { Element } from "ltx";
  import type { JID } from "@xmpp/jid";

  export type Status =
    | "offline"
    | "connecting"
    | "connect"
    | "opening"
    | "open"
    | "online"
    | "closing"
    | "close"
    | "disconnecting"
    | "disconnect";

  /** Error shape emitted by xmpp.js for stream and stanza errors (@xmpp/error). */
  export interface XMPPError extends Error {
    name: "XMPPError" | "StreamError" | "StanzaError" | "SASLError" | string;
    condition: string;
    text?: string;
    /** Application-specific condition element, if any. */
    application?: Element;
    /** The `<error/>` element, when parsed from one. */
    element?: Element;
    /** Stanza error type ("cancel", "modify", ...), StanzaError only. */
    type?: string;
  }

  export interface IncomingContext {
    stanza: Element;
    /** The iq's single child (iqCallee handlers only). */
    element: Element;
    entity: Entity;
    name: string;
    id: string;
    type: string;
    from: JID | null;
    to: JID | null;
    local: string;
    domain: string;
    resource: string;
  }

  export type Next = () => Promise<unknown>;
  /** Returning an Element answers with it as payload, `true`/`{}` an empty result, an `<error/>`
   *  Element a stanza error; a falsy return answers service-unavailable; throwing answers
   *  internal-server-error (and emits "error" on the entity). */
  export type IqHandler = (ctx: IncomingContext, next: Next) => unknown;
  export type Middleware = (ctx: IncomingContext, next: Next) => unknown;

  export interface IqCaller {
    /** Sends the iq (an id is added if missing); resolves with the result iq, rejects with a
     *  StanzaError for an error reply, or a TimeoutError after `timeout` ms (default 30 s). */
    request(stanza: Element, timeout?: number): Promise<Element>;
    /** Sends `<iq type="get" to=…>{element}</iq>`; resolves with the reply's child of the same name/ns. */
    get(element: Element, to?: string, timeout?: number): Promise<Element | undefined>;
    set(element: Element, to?: string, timeout?: number): Promise<Element | undefined>;
  }

  export interface IqCallee {
    get(ns: string, name: string, handler: IqHandler): void;
    set(ns: string, name: string, handler: IqHandler): void;
  }

  export interface MiddlewareApi {
    use(fn: Middleware): Middleware;
    filter(fn: Middleware): Middleware;
  }

  export interface Reconnect extends EventEmitter {
    /** ms between a disconnect and the reconnect attempt (default 1000). */
    delay: number;
    start(): void;
    stop(): void;
    reconnect(): Promise<void>;
    on(event: "reconnecting" | "reconnected", listener: () => void): this;
  }

  /** Minimal socket view; net.Socket or @xmpp/tls's wrapper (which holds the real one in `socket`). */
  export interface SocketLike extends EventEmitter {
    secure?: boolean;
    socket?: SocketLike | null;
    write(data: string, cb?: (err?: Error | null) => void): void;
    end(): void;
    destroy?(err?: Error): void;
    _attachSocket?(socket: SocketLike): void;
  }

  export interface Entity extends EventEmitter {
    status: Status;
    jid: JID | null;
    socket: SocketLike | null;
    options: { service?: string; domain?: string; lang?: string; [k: string]: unknown };
    timeout: number;
    reconnect: Reconnect;
    middleware: MiddlewareApi;
    iqCaller: IqCaller;
    iqCallee: IqCallee;

    start(): Promise<JID>;
    /** Closes the stream and the socket, then goes "offline". Call `reconnect.stop()` first:
     *  xmpp.js schedules a reconnect on every "disconnect", including this one. */
    stop(): Promise<Element | undefined>;
    disconnect(): Promise<Element | undefined>;
    send(element: Element): Promise<void>;
    sendMany?(elements: Element[]): Promise<void>;
    isSecure(): boolean;
    /** Internal; wrapped by client/xmpp-connection.ts to guard every socket. */
    _attachSocket(socket: SocketLike): void;

    on(event: "error", listener: (err: Error | XMPPError) => void): this;
    on(event: "online", listener: (address: JID) => void): this;
    on(event: "offline", listener: (el?: Element) => void): this;
    on(event: "stanza" | "nonza" | "element" | "send", listener: (el: Element) => void): this;
    on(event: "status", listener: (status: Status, ...args: unknown[]) => void): this;
    on(event: "disconnect", listener: (info: { clean: boolean; reason?: unknown }) => void): this;
    on(event: Status, listener: (...args: unknown[]) => void): this;
    once(event: "error", listener: (err: Error | XMPPError) => void): this;
    once(event: "online", listener: (address: JID) => void): this;
    once(event: "stanza" | "element", listener: (el: Element) => void): this;
    once(event: string, listener: (...args: any[]) => void): this;
  }

  export interface ClientOptions {
    /** "xmpp://host:port" (STARTTLS or plain), "xmpps://host:port" (direct TLS), "ws(s)://…". */
    service?: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
    lang?: string;
    timeout?: number;
  }

  export interface Client extends Entity {}

  export function client(options?: ClientOptions): Client;
}

declare module "@xmpp/component" {
  import type { Entity } from "@xmpp/client";
  export { xml } from "@xmpp/xml";
  export { jid } from "@xmpp/jid";
  export type { Entity, IqHandler, IncomingContext, XMPPError } from "@xmpp/client";

  export interface ComponentOptions {
    /** "xmpp://host:port" of the server's XEP-0114 listener. */
    service: string;
    /** The component's domain, e.g. share.example.org. */
    domain: string;
    password: string;
  }

  /** send() stamps `from` with the component domain when a stanza has none. */
  export interface Component extends Entity {}

  export function component(options: ComponentOptions): Component;
}
