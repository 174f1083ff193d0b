/**
 * `POST /iq` (XEP-draft.md § 5.11): protocol IQs over HTTP, for what would be slow through a
 * throttled client connection (large commits, many slot requests, long index reads).
 *
 * The body is one `<iq type='get|set'>`; the member is the one the session token was issued
 * to, never anything in the body (`from`/`to` are overwritten). The answer is the IQ reply the
 * router gives on the XMPP path, with status 200; HTTP errors only for transport problems:
 * 401 token, 400 not an IQ, 405 method, 413 body over the limit.
 */
import type http from "node:http";
import type { Logger } from "pino";
import type { BareJid } from "../protocol/ids.ts";
import { type Element, dropIfTooDeep, parseXml } from "../protocol/xml.ts";
import type { Router } from "./router.ts";

export interface IqBridgeDeps {
  readonly router: Router;
  readonly lookup: (token: string) => BareJid | undefined;
  /** The component's domain: what `to` would be over XMPP. */
  readonly domain: string;
  readonly maxBytes: number;
  readonly log: Logger;
}

function answer(res: http.ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  res.end(body);
}

async function readBody(req: http.IncomingMessage, max: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of req) {
    size += (piece as Buffer).length;
    if (size > max) return undefined;
    parts.push(piece as Buffer);
  }
  return Buffer.concat(parts).toString("utf8");
}

let counter = 0;

export function createIqBridge(deps: IqBridgeDeps) {
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    try {
      if (req.method !== "POST") return answer(res, 405, "Use POST\n");
      const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
      const member = m ? deps.lookup(m[1]!) : undefined;
      if (!member) return answer(res, 401, "Missing, unknown or expired session token\n");
      if (Number(req.headers["content-length"] ?? 0) > deps.maxBytes) {
        res.setHeader("Connection", "close");
        return answer(res, 413, `Body over ${deps.maxBytes} bytes\n`);
      }
      const text = await readBody(req, deps.maxBytes);
      if (text === undefined) {
        res.setHeader("Connection", "close");
        return answer(res, 413, `Body over ${deps.maxBytes} bytes\n`);
      }
      let iq: Element;
      try {
        iq = parseXml(text);
        dropIfTooDeep(iq);
      } catch {
        return answer(res, 400, "Body is not well-formed XML\n");
      }
      const type = iq.attrs.type;
      if (iq.name !== "iq" || (type !== "get" && type !== "set")) return answer(res, 400, "Body must be an <iq type='get|set'/>\n");
      iq.attrs.from = `${member}/http-${++counter}`;
      iq.attrs.to = deps.domain;
      iq.attrs.id ??= `http-${counter}`;
      const reply = await deps.router.handle(iq, "http");
      if (!reply) return answer(res, 400, "Nothing to answer\n");
      answer(res, 200, reply.toString(), "application/xml; charset=utf-8");
    } catch (err) {
      deps.log.warn({ err }, "IQ over HTTP failed");
      if (!res.headersSent) answer(res, 500, "Internal error\n");
      else res.destroy();
    }
  };
}
