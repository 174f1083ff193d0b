/**
 * Slots (XEP-draft.md § "Slots"): bulk data moves over HTTP, never over XMPP. An IQ names
 * chunks; the component answers with a base URL, a short-lived bearer token bound to
 * (member, space, chunks, expiry) and the chunks it does not have.
 *
 *   get  <slots space='S' direction='upload'><chunk hash='…' size='65536'/>…</slots>
 *   res  <slots space='S' direction='upload' url='https://share.example.org/chunks/'
 *               token='…' expires='2026-11-25T12:05:00Z'><missing hash='…'/></slots>
 *
 * Upload: `PUT {url}{hash}` with `Authorization: Bearer {token}` for each missing chunk.
 * Download: `GET {url}{hash}` (with `Range` if wanted); `missing` lists chunks the component
 * does not hold, which the client must then obtain elsewhere or report.
 */
import { badRequest } from "../errors.ts";
import type { ChunkRef } from "../file.ts";
import { isChunkHash, spaceId, type ChunkHash, type SpaceId } from "../ids.ts";
import { NS } from "../ns.ts";
import {
  Element,
  childrenNamed,
  expectElement,
  formatDateTime,
  requiredAttr,
  requiredDateTime,
  requiredEnum,
} from "../xml.ts";
import { parseChunkRef } from "./file.ts";

export type Direction = "upload" | "download";
const DIRECTIONS: readonly Direction[] = ["upload", "download"];

/** At most this many chunks in one request: keeps every stanza far below server limits. */
export const MAX_SLOT_CHUNKS = 2000;

export interface SlotRequest {
  readonly space: SpaceId;
  readonly direction: Direction;
  readonly chunks: readonly ChunkRef[];
}

export interface Slots {
  readonly space: SpaceId;
  readonly direction: Direction;
  readonly url: string;
  readonly token: string;
  readonly expiresMs: number;
  readonly missing: readonly ChunkHash[];
}

export function buildSlotRequest(r: SlotRequest): Element {
  const el = new Element("slots", { xmlns: NS.share, space: r.space, direction: r.direction });
  for (const c of r.chunks) el.c("chunk", { hash: c.hash, size: String(c.size) });
  return el;
}

export function parseSlotRequest(el: Element): SlotRequest {
  expectElement(el, "slots");
  const space = spaceId(requiredAttr(el, "space"));
  const direction = requiredEnum(el, "direction", DIRECTIONS);
  const chunks = childrenNamed(el, "chunk").map(parseChunkRef);
  if (chunks.length === 0) throw badRequest("<slots/> names no <chunk/>");
  if (chunks.length > MAX_SLOT_CHUNKS) throw badRequest(`<slots/> names more than ${MAX_SLOT_CHUNKS} chunks`);
  return { space, direction, chunks };
}

export function buildSlots(s: Slots): Element {
  const el = new Element("slots", {
    xmlns: NS.share,
    space: s.space,
    direction: s.direction,
    url: s.url,
    token: s.token,
    expires: formatDateTime(s.expiresMs),
  });
  for (const h of s.missing) el.c("missing", { hash: h });
  return el;
}

function parseBaseUrl(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw badRequest(`<slots url/> is not a URL: ${JSON.stringify(s)}`);
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || !s.endsWith("/") || u.search || u.hash) {
    throw badRequest(`<slots url/> must be an http(s) URL ending in '/': ${JSON.stringify(s)}`);
  }
  return s;
}

const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

export function parseSlots(el: Element): Slots {
  expectElement(el, "slots");
  const token = requiredAttr(el, "token");
  if (!TOKEN.test(token)) throw badRequest("<slots token/> is malformed");
  const missing = childrenNamed(el, "missing").map((m) => {
    const h = requiredAttr(m, "hash");
    if (!isChunkHash(h)) throw badRequest("<missing hash/> is not a lowercase hex SHA-256");
    return h;
  });
  return {
    space: spaceId(requiredAttr(el, "space")),
    direction: requiredEnum(el, "direction", DIRECTIONS),
    url: parseBaseUrl(requiredAttr(el, "url")),
    token,
    expiresMs: requiredDateTime(el, "expires"),
    missing,
  };
}
