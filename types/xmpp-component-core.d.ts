// Minimal typings for the parts of @xmpp/component-core 0.13 that component/link.ts uses.
declare module "@xmpp/component-core" {
  import { EventEmitter } from "node:events";
  import type Element from "ltx/lib/Element.js";

  export class Component extends EventEmitter {
    constructor(options: { service: string; domain: string });
    status: string;
    options: { service: string; domain: string };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    connect(service: string): Promise<unknown>;
    open(options: { domain: string; lang?: string }): Promise<unknown>;
    authenticate(id: string, password: string): Promise<void>;
    send(element: Element): Promise<void>;
  }
}
