/**
 * Small HTTP helpers of the local UI (client/ui/server.ts and every module's `handle`).
 *
 * Invariants: a request body is read only as JSON (`Content-Type: application/json`, which a
 * cross-site form cannot send) and only up to a limit; anything wrong is an HttpError with a
 * status and a sentence for the user, which the server answers as `{"error": "<sentence>"}`.
 * Answers are never cached (`Cache-Control: no-store`): they hold the user's conversations.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** A refusal with its HTTP status and a sentence the page shows as it is. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Default limit of a JSON request body: the UI's requests are small (a chat message, a choice). */
export const JSON_LIMIT = 64 * 1024;

/**
 * The request's JSON body (an object, array or value), read up to `limitBytes`: 415 unless
 * `Content-Type: application/json`, 413 beyond the limit, 400 for text that is not JSON.
 */
export async function readJson(req: IncomingMessage, limitBytes = JSON_LIMIT): Promise<unknown> {
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "The request body must be JSON (Content-Type: application/json).");
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new HttpError(413, `The request body is larger than ${limitBytes} bytes.`);
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of req as AsyncIterable<Buffer>) {
    size += piece.length;
    if (size > limitBytes) {
      req.resume();
      throw new HttpError(413, `The request body is larger than ${limitBytes} bytes.`);
    }
    parts.push(piece);
  }
  const text = Buffer.concat(parts).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "The request body is empty; JSON was expected.");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "The request body is not valid JSON.");
  }
}

/** A JSON object body (readJson, then 400 unless it is a plain object). */
export async function readJsonObject(req: IncomingMessage, limitBytes = JSON_LIMIT): Promise<Record<string, unknown>> {
  const v = await readJson(req, limitBytes);
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new HttpError(400, "The request body must be a JSON object.");
  return v as Record<string, unknown>;
}

/** Answers `body` as JSON with `status` (nothing more is written after it). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  res.end(text);
}

/** Answers `{"error": message}` with `status`. */
export function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** The request's method, upper case. */
export function methodOf(req: IncomingMessage): string {
  return (req.method ?? "GET").toUpperCase();
}

/** 405 unless the request's method is one of `allowed`; true when it is. */
export function allow(req: IncomingMessage, res: ServerResponse, ...allowed: string[]): boolean {
  if (allowed.includes(methodOf(req))) return true;
  res.setHeader("Allow", allowed.join(", "));
  sendError(res, 405, `Use ${allowed.join(" or ")} here.`);
  return false;
}

/** A required string field of a JSON body: 400 with the field's name when missing or empty. */
export function stringField(body: Record<string, unknown>, name: string, maxLength = 4096): string {
  const v = body[name];
  if (typeof v !== "string" || v === "") throw new HttpError(400, `"${name}" must be a non-empty string.`);
  if (v.length > maxLength) throw new HttpError(400, `"${name}" is longer than ${maxLength} characters.`);
  return v;
}
