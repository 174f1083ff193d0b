/**
 * The share module's small HTTP vocabulary: JSON answers, JSON bodies of bounded size, and
 * `BadInput`, the error a route throws for anything the user must fix (a 4xx with the sentence;
 * the route has changed nothing when it throws it).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export class BadInput extends Error {
  override name = "BadInput";
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

const MAX_BODY = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The request's JSON object body; BadInput when it is not one or is too large. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BadInput("The request is too large.", 413);
    parts.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}");
  } catch {
    throw new BadInput("The request is not JSON.");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new BadInput("The request must be a JSON object.");
  return value as Record<string, unknown>;
}

/** A string field, required unless `optional`. */
export function str(body: Record<string, unknown>, key: string, what: string): string {
  const v = body[key];
  if (typeof v !== "string" || v === "") throw new BadInput(`Say ${what}.`);
  if (v.length > 4096) throw new BadInput(`${what[0]!.toUpperCase()}${what.slice(1)} is too long.`);
  return v;
}
