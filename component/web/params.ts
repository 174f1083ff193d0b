/**
 * What the web interface's browsing handlers share (files.ts, downloads.ts): the refusal they
 * answer with (an HTTP status and one sentence), the space a request is for, and the reading of
 * request parameters, every path through protocol/paths.ts `checkPath`.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid, SpaceId } from "../../protocol/ids.ts";
import { checkPath } from "../../protocol/paths.ts";
import type { SpaceRecord } from "../store/metadata.ts";

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
