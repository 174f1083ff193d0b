/**
 * Downloads from the web interface (files.ts routes them): one file, streamed chunk after chunk
 * from the blob store, or a folder (or the whole space) as a streamed zip (zip.ts). Both are
 * `application/octet-stream` attachments with `nosniff` and html.ts's headers, named with an
 * RFC 6266 `filename*`. A chunk missing or failing midway cuts the response (a short body, never
 * a wrong one); a browser that goes away stops the reading.
 */
import type { ServerResponse } from "node:http";
import type { ChunkHash } from "../../protocol/ids.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import type { Deps } from "../deps.ts";
import { drained } from "../http-body.ts";
import { securityHeaders } from "./html.ts";
import { Refusal, pathParam, type Space } from "./params.ts";
import { readTree, under } from "./replica.ts";
import { writeZip, type ZipEntry } from "./zip.ts";

const OCTETS = "application/octet-stream";

/** A pending version (§ 5.16): committed, its content still on the committer's device. */
function notUploaded(e: IndexEntry): Refusal {
  return new Refusal(409, `${e.path} is not on the sharing manager yet: ${e.pending?.by ?? "its owner"}'s device has still to upload it. Try again later.`);
}

/** `attachment; filename="<ASCII stand-in>"; filename*=UTF-8''<the name>` (RFC 6266, RFC 8187). */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function startDownload(res: ServerResponse, name: string, length?: number): void {
  securityHeaders(res);
  res.writeHead(200, {
    "Content-Type": OCTETS,
    "Content-Disposition": attachment(name),
    "X-Content-Type-Options": "nosniff",
    ...(length !== undefined ? { "Content-Length": String(length) } : {}),
  });
}

/** Writes with backpressure; rejects when the browser went away. */
function writer(res: ServerResponse): (b: Buffer) => Promise<void> {
  return async (b) => {
    if (res.destroyed) throw new Error("client went away");
    if (!res.write(b)) await drained(res);
  };
}

/** The bytes of a file version, chunk after chunk, from the blob store. */
async function* contentOf(deps: Deps, chunks: readonly { hash: string; size: number }[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) {
    const stream = await deps.blobs.get(c.hash as ChunkHash);
    if (!stream) throw new Error(`chunk ${c.hash} is not in the blob store`);
    for await (const piece of stream) yield piece as Buffer;
  }
}

export async function download(deps: Deps, res: ServerResponse, s: Space, url: URL): Promise<void> {
  const path = pathParam(url, false);
  const e = await deps.store.getEntry(s.id, path);
  if (!e || e.deleted || e.kind !== "file") throw new Refusal(404, `There is no file ${path} in this space.`);
  if (e.pending) throw notUploaded(e);
  startDownload(res, path.slice(path.lastIndexOf("/") + 1), e.size);
  if (res.req.method === "HEAD") return void res.end();
  const write = writer(res);
  for await (const piece of contentOf(deps, e.chunks)) await write(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
  res.end();
}

export async function zip(deps: Deps, res: ServerResponse, s: Space, url: URL): Promise<void> {
  const folder = pathParam(url, true);
  const tree = await readTree(deps, s.id);
  const live = [...tree.values()].filter((e) => !e.deleted && under(e.path, folder)).sort((a, b) => (a.path < b.path ? -1 : 1));
  if (folder && live.length === 0) throw new Refusal(404, `There is no folder ${folder} in this space.`);
  if (folder && live.length === 1 && live[0]!.path === folder && live[0]!.kind === "file") throw new Refusal(400, `${folder} is a file; download it as it is.`);
  // An archive that silently lacked a file would look complete: refused instead.
  const waiting = live.find((e) => e.pending);
  if (waiting) throw notUploaded(waiting);
  // A folder's archive holds the folder itself; the whole space's holds its top level.
  const cut = folder.includes("/") ? folder.lastIndexOf("/") + 1 : 0;
  const base = folder ? folder.slice(cut) : s.record.name.replace(/[\\/:*?"<>|\u0000-\u001f]/g, "_") || "space";
  const entries: ZipEntry[] = live.map((e) => ({
    name: e.path.slice(cut),
    dir: e.kind === "dir",
    size: e.kind === "dir" ? 0 : e.size,
    mtimeMs: e.mtimeMs,
    mode: e.mode,
    ...(e.kind === "file" ? { data: () => contentOf(deps, e.chunks) } : {}),
  }));
  startDownload(res, `${base}.zip`);
  if (res.req.method === "HEAD") return void res.end();
  await writeZip(entries, writer(res));
  res.end();
}
