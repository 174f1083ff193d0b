/**
 * What the web interface's browsing handlers share (files.ts, downloads.ts): the refusal they
 * answer with (an HTTP status and one sentence), the space a request is for, and the reading of
 * request parameters, every path through protocol/paths.ts `checkPath`.
 */
import { timingSafeEqual } from "node:crypto";
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid, SpaceId } from "../../protocol/ids.ts";
import { checkPath } from "../../protocol/paths.ts";
import { isOutOfSpace } from "../out-of-space.ts";
import type { SpaceRecord } from "../store/metadata.ts";
import { FormError } from "./form.ts";

/** A refusal: HTTP status and the sentence shown. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    text: string,
  ) {
    super(text);
  }
}

/** A space the requester is a member of (read from the store for this request). */
export interface Space {
  readonly id: SpaceId;
  readonly record: SpaceRecord;
  readonly members: readonly BareJid[];
}

/** The `path` query parameter, checked ("" for the root when `root` is allowed). */
export function pathParam(url: URL, root: boolean): string {
  const raw = url.searchParams.get("path") ?? "";
  if (raw === "" && root) return "";
  return checked(raw);
}

export function checked(raw: string): string {
  try {
    return checkPath(raw);
  } catch (err) {
    if (err instanceof ShareError) throw new Refusal(400, `That name or path is not allowed: ${err.message}.`);
    throw err;
  }
}

export function seenParam(raw: string | null): number {
  if (raw === null || !/^\d{1,15}$/.test(raw)) throw new Refusal(400, "The page sent no valid version (seen); reload it and try again.");
  return Number(raw);
}

/** The session's CSRF token, compared in constant time. */
export function sameToken(given: string, csrf: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The refusal an error from a check, a form or a refused commit is answered with. */
export function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (err instanceof FormError) return new Refusal(err.status, `${err.message}.`);
  if (isOutOfSpace(err)) return new Refusal(507, "The sharing manager is out of disk space; try again later.");
  if (!(err instanceof ShareError)) return new Refusal(500, "The sharing manager could not do this. Try again.");
  const text = err.message.endsWith(".") ? err.message : `${err.message}.`;
  switch (err.code) {
    case "invalid-path":
      return new Refusal(400, `That name or path is not allowed: ${text}`);
    case "bad-request":
    case "invalid-vector":
      return new Refusal(400, text);
    case "not-found":
      return new Refusal(404, text);
    case "read-only":
    case "forbidden":
    case "not-owner":
      return new Refusal(403, text);
    case "version-conflict":
      return new Refusal(409, text);
    case "too-large":
      return new Refusal(413, text);
    case "quota-exceeded":
      return new Refusal(507, text);
    case "unavailable":
      return new Refusal(503, text);
    default:
      return new Refusal(500, "The sharing manager could not do this. Try again.");
  }
}
