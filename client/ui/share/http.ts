/**
 * The share module's small HTTP vocabulary: the local UI's JSON answers and bounded JSON object
 * bodies (client/ui/http.ts), and `BadInput`, the error a route throws for anything the user
 * must fix (a 4xx with the sentence; the route has changed nothing when it throws it).
 */
import { HttpError } from "../http.ts";

export { readJsonObject as readJson, sendJson } from "../http.ts";

/** The local UI's HttpError, with the share module's argument order. */
export class BadInput extends HttpError {
  override name = "BadInput";
  constructor(message: string, status = 400) {
    super(status, message);
  }
}

/** A string field, required unless `optional`. */
export function str(body: Record<string, unknown>, key: string, what: string): string {
  const v = body[key];
  if (typeof v !== "string" || v === "") throw new BadInput(`Say ${what}.`);
  if (v.length > 4096) throw new BadInput(`${what[0]!.toUpperCase()}${what.slice(1)} is too long.`);
  return v;
}
