/**
 * The web interface's browsing pages (README "Web interface", XEP-draft.md § 5.18), on the
 * web router (router.ts) with the sign-in's WebAuth (auth.ts):
 *
 *   GET  /web, /web/                       the spaces the signed-in member belongs to
 *   GET  /web/s/<space>/?path=<folder>     one folder: names, sizes, times, versions
 *   GET  /web/s/<space>/file?path=<file>   the file, as an attachment, streamed from the blob store
 *   GET  /web/s/<space>/zip?path=<folder>  the folder (or, without path, the whole space) as a zip
 *   POST /web/s/<space>/upload?path=<folder>&name=<name>&seen=<head>
 *                                          the body is the file (the page's script sends one
 *                                          request per file); X-CSRF-Token header; JSON answer
 *   POST /web/s/<space>/rename             form: csrf, path, name, seen → 303 to the folder
 *   POST /web/s/<space>/delete             form: csrf, path, seen → 303 to the folder
 *   POST /web/s/<space>/mkdir              form: csrf, path (the parent), name → 303 to the new folder
 *
 * Invariants: every request is for a signed-in member, and membership is read from the metadata
 * store on every request (never from the session): a member who left or was removed gets 403 at
 * their next request. A non-member and a space that does not exist get the same 403. Every path
 * from the browser passes protocol/paths.ts `checkPath` before any use; bad input gets a 4xx
 * page (or, for uploads, JSON) with one sentence and changes nothing. Posts need the session's
 * CSRF token and this site's Origin. Changes go through replica.ts (the web interface as a
 * replica), downloads through downloads.ts (`application/octet-stream` attachments named with
 * RFC 6266 `filename*`). Every answer carries html.ts's headers (strict CSP, nosniff, no
 * referrer).
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ShareError } from "../../protocol/errors.ts";
import { isToken, type BareJid, type SpaceId } from "../../protocol/ids.ts";
import type { Deps } from "../deps.ts";
import { memberSpace } from "../modules/access.ts";
import { isOutOfSpace } from "../out-of-space.ts";
import type { WebAuth, WebUser } from "./auth.ts";
import { FormError, readForm, sameOrigin } from "./form.ts";
import { redirect, sendJson, sendPage, type PageOptions } from "./html.ts";
import { SPACE_PREFIX, canWrite, folderBody, problemBody, spaceUrl, spacesBody, uploadResultsBody } from "./pages.ts";
import { download, zip } from "./downloads.ts";
import { Refusal, checked, pathParam, refusalOf, sameToken, seenParam, type Space } from "./params.ts";
import { isMultipart, uploadForm } from "./upload-form.ts";
import { readTree, under, type WebReplica } from "./replica.ts";
import type { WebRouter } from "./router.ts";

export interface FilesDeps {
  readonly deps: Deps;
  readonly auth: WebAuth;
  readonly replica: WebReplica;
}

/** Where a visitor who is not signed in is sent (sign-in.ts). */
export const SIGN_IN = "/web/login";

export function registerFiles(router: WebRouter, d: FilesDeps): void {
  router.route("GET", "/web", (req, res, url) => spacesPage(d, req, res, url));
  // GET and POST (not "*"): the router prefers a route of the request's own method, so "*" here
  // would lose to GET /web, which also matches everything under /web.
  for (const method of ["GET", "POST"]) router.route(method, SPACE_PREFIX, (req, res, url) => spaceRequest(d, req, res, url));
}

function pageOpts(user: WebUser, scripts: string[] = []): PageOptions {
  return { user, styles: ["files.css"], scripts };
}

async function spacesPage(d: FilesDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (url.pathname !== "/web" && url.pathname !== "/web/") return sendPage(res, 404, "Not found", "<p>There is nothing at this address.</p>");
  const user = d.auth.user(req);
  if (!user) return redirect(res, SIGN_IN);
  const spaces = await d.deps.store.spacesOf(user.jid);
  const withMembers = await Promise.all(spaces.map(async (record) => ({ record, members: await d.deps.store.membersOf(record.id) })));
  sendPage(res, 200, "Your spaces", spacesBody(withMembers), pageOpts(user, ["files.js"]));
}

async function spaceRequest(d: FilesDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const user = d.auth.user(req);
  const method = (req.method ?? "GET").toUpperCase();
  const json = url.pathname.endsWith("/upload");
  try {
    const m = /^([^/]+)\/([a-z]*)$/.exec(url.pathname.slice(SPACE_PREFIX.length));
    if (!m) throw new Refusal(404, "There is nothing at this address.");
    const id = decodeURIComponent(m[1]!);
    const action = m[2]!;
    const reads = ["", "file", "zip"];
    const writes = ["upload", "rename", "delete", "mkdir"];
    if (!reads.includes(action) && !writes.includes(action)) throw new Refusal(404, "There is nothing at this address.");
    const wanted = reads.includes(action) ? "GET" : "POST";
    if (method !== wanted && !(wanted === "GET" && method === "HEAD")) {
      res.setHeader("Allow", wanted);
      throw new Refusal(405, `Use ${wanted} here.`);
    }
    if (!user) {
      if (wanted === "GET") return redirect(res, SIGN_IN);
      throw new Refusal(401, "You are not signed in (or your session ended). Sign in again.");
    }
    const space = await member(d.deps, id, user.jid);
    // Uploads carry the CSRF token in a header (their body is the file), forms in a field.
    if (wanted === "POST") checkPost(d, req, user, action === "upload" && !isMultipart(req) ? String(req.headers["x-csrf-token"] ?? "") : undefined);
    switch (action) {
      case "":
        return await folderPage(d, res, user, space, url);
      case "file":
        return await download(d.deps, res, space, url);
      case "zip":
        return await zip(d.deps, res, space, url);
      case "upload":
        return await upload(d, req, res, user, space, url);
      default:
        return await change(d, req, res, user, space, action as "rename" | "delete");
    }
  } catch (err) {
    const r = refusalOf(err);
    if (r.status >= 500) d.deps.log.warn({ err, path: url.pathname }, "web request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // The body of a refused upload is not read: the connection closes after the answer.
    if (!req.complete) res.setHeader("Connection", "close");
    if (json) return sendJson(res, r.status, { error: r.message });
    sendPage(res, r.status, r.status === 403 ? "Not allowed" : "That did not work", problemBody(r.message, "/web/"), user ? pageOpts(user) : { styles: ["files.css"] });
  }
}

/** The space, if `jid` is a member now (read from the store on every request). */
async function member(deps: Deps, id: string, jid: BareJid): Promise<Space> {
  const forbidden = new Refusal(403, "You are not a member of this space, or it does not exist.");
  if (!isToken(id)) throw forbidden;
  try {
    const s = await memberSpace(deps, id as SpaceId, jid);
    return { id: id as SpaceId, record: s.record, members: s.members };
  } catch (err) {
    if (err instanceof ShareError && err.code === "not-found") throw forbidden;
    throw err;
  }
}

/** Same origin and the session's CSRF token (a form field, or the upload's header). */
function checkPost(d: FilesDeps, req: IncomingMessage, user: WebUser, header: string | undefined): void {
  if (!sameOrigin(req, d.deps.config.publicUrl)) throw new Refusal(403, "This request did not come from a page of this site.");
  if (header !== undefined && !sameToken(header, user.csrf)) throw new Refusal(403, "The page is out of date (its form token does not match). Reload it and try again.");
}


async function folderPage(d: FilesDeps, res: ServerResponse, user: WebUser, s: Space, url: URL): Promise<void> {
  const folder = pathParam(url, true);
  const tree = await readTree(d.deps, s.id);
  const live = [...tree.values()].filter((e) => !e.deleted && under(e.path, folder) && e.path !== folder);
  const here = tree.get(folder);
  if (folder && live.length === 0 && !(here && !here.deleted && here.kind === "dir")) throw new Refusal(404, `There is no folder ${folder} in this space.`);
  if (here && !here.deleted && here.kind === "file") throw new Refusal(400, `${folder} is a file, not a folder.`);
  const prefix = folder ? `${folder}/` : "";
  const children = new Map<string, { name: string; path: string; dir: boolean; entry?: (typeof live)[number] }>();
  for (const e of live) {
    const rest = e.path.slice(prefix.length);
    const slash = rest.indexOf("/");
    const name = slash < 0 ? rest : rest.slice(0, slash);
    const path = prefix + name;
    const known = children.get(name);
    if (slash < 0) children.set(name, { name, path, dir: e.kind === "dir", entry: e });
    else if (!known) children.set(name, { name, path, dir: true });
  }
  const sorted = [...children.values()].sort((a, b) => (a.dir !== b.dir ? (a.dir ? -1 : 1) : a.name.localeCompare(b.name)));
  const owners = new Map((await d.deps.store.acks(s.id)).map((a) => [a.replica as string, a.member]));
  const body = folderBody({ user, space: s.record, members: s.members, folder, children: sorted, seen: s.record.head, owners, webReplica: d.replica.id });
  sendPage(res, 200, folder || s.record.name, body, pageOpts(user, ["files.js"]));
}

async function upload(d: FilesDeps, req: IncomingMessage, res: ServerResponse, user: WebUser, s: Space, url: URL): Promise<void> {
  if (!canWrite(s.record, user.jid)) throw new Refusal(403, `Only ${s.record.owner} changes this space.`);
  const folder = pathParam(url, true);
  if (isMultipart(req)) return formUpload(d, req, res, user, s, folder);
  const name = url.searchParams.get("name") ?? "";
  if (name === "" || name.includes("/")) throw new Refusal(400, "Each file needs a name without '/'.");
  checked(folder ? `${folder}/${name}` : name);
  const seen = seenParam(url.searchParams.get("seen"));
  const { limits } = d.deps.config;
  const length = Number(req.headers["content-length"] ?? NaN);
  if (length > limits.maxFileBytes) throw new Refusal(413, `${name} is larger than ${limits.maxFileBytes} bytes, the largest file this sharing manager takes.`);
  // Refused before a byte is read when its size is declared; else at the commit (the same rule).
  if (s.record.usedBytes + length > limits.spaceQuotaBytes) throw new Refusal(507, `The space would exceed its quota of ${limits.spaceQuotaBytes} bytes.`);
  const content = await d.replica.store(user.jid, req);
  const result = await d.replica.upload(user.jid, s.id, folder, name, content, seen);
  sendJson(res, 200, { ...result, size: content.size });
}

async function change(d: FilesDeps, req: IncomingMessage, res: ServerResponse, user: WebUser, s: Space, action: "rename" | "delete" | "mkdir"): Promise<void> {
  const form = await readForm(req);
  if (!sameToken(form.get("csrf") ?? "", user.csrf)) throw new Refusal(403, "The page is out of date (its form token does not match). Reload it and try again.");
  if (!canWrite(s.record, user.jid)) throw new Refusal(403, `Only ${s.record.owner} changes this space.`);
  if (action === "mkdir") {
    const where = (form.get("path") ?? "") === "" ? "" : checked(form.get("path")!);
    const name = (form.get("name") ?? "").trim();
    if (name === "" || name.includes("/")) throw new Refusal(400, "The folder's name must not be empty or contain '/'.");
    checked(where ? `${where}/${name}` : name);
    const made = await d.replica.mkdir(user.jid, s.id, where, name);
    return redirect(res, spaceUrl(s.id, "", { path: made }));
  }
  const path = checked(form.get("path") ?? "");
  const seen = seenParam(form.get("seen"));
  const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  if (action === "rename") {
    const name = (form.get("name") ?? "").trim();
    if (name === "" || name.includes("/")) throw new Refusal(400, "The new name must not be empty or contain '/'.");
    checked(parent ? `${parent}/${name}` : name);
    await d.replica.rename(user.jid, s.id, path, name, seen);
  } else {
    await d.replica.remove(user.jid, s.id, path, seen);
  }
  redirect(res, spaceUrl(s.id, "", { path: parent }));
}

/** The upload form posted without its script (upload-form.ts): back to the folder, or what happened per file. */
async function formUpload(d: FilesDeps, req: IncomingMessage, res: ServerResponse, user: WebUser, s: Space, folder: string): Promise<void> {
  const results = await uploadForm(d.deps, d.replica, req, user, s, folder);
  const back = spaceUrl(s.id, "", { path: folder });
  if (results.length > 0 && results.every((r) => r.result && !r.result.conflictCopy)) return redirect(res, back);
  const failed = results.some((r) => r.error);
  const body = uploadResultsBody(results.length === 0 ? [{ name: "", error: "The form held no file." }] : results, back);
  sendPage(res, failed || results.length === 0 ? 400 : 200, "Upload", body, pageOpts(user));
}
