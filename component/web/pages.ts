/**
 * The browsing pages' HTML (rendered on the server): the spaces a member belongs to, and one
 * folder of a space. Everything shown that comes from people (file and folder names, space
 * names, JIDs, replica ids) goes through html.ts's `html` template, which escapes every value:
 * a file named `<img src=x onerror=alert(1)>.txt` is shown as exactly that text. Links carry
 * names only inside query strings built with URLSearchParams (then escaped again as attributes).
 *
 * Pages carry what their forms need: the session's CSRF token, and `seen`, the space's head when
 * the page was made (replica.ts: a change over a version the page did not show is a conflict).
 */
import type { BareJid, SpaceId } from "../../protocol/ids.ts";
import type { IndexEntry } from "../../protocol/stanzas/index-exchange.ts";
import { toString as vectorText } from "../../protocol/vv.ts";
import type { WebUser } from "./auth.ts";
import { html, type Safe } from "./html.ts";
import type { SpaceRecord } from "../store/metadata.ts";

export const SPACE_PREFIX = "/web/s/";

/** The address of a space's page (or one of its actions) with query `q`. */
export function spaceUrl(space: SpaceId, action = "", q: Record<string, string> = {}): string {
  const query = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== "")).toString();
  return `${SPACE_PREFIX}${encodeURIComponent(space)}/${action}${query ? `?${query}` : ""}`;
}

const KIND: Record<string, string> = { mine: "My sharing", pair: "Pair", group: "Group" };

/** 1234567 → "1.2 MB" (powers of 1000, as file managers show them). */
export function humanSize(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function when(ms: number): Safe {
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

/** Who may change a space here: the owner of a `mine` space, any member of the others. */
export function canWrite(space: SpaceRecord, member: BareJid): boolean {
  return space.kind !== "mine" || space.owner === member;
}

export function spacesBody(spaces: ReadonlyArray<{ record: SpaceRecord; members: readonly BareJid[] }>): Safe {
  const rows = spaces.map(
    ({ record: s, members }) => html`<li class="space">
<a class="space-name" href="${spaceUrl(s.id)}">${s.name}</a>
<span class="kind kind-${s.kind}">${KIND[s.kind] ?? s.kind}</span>
<span class="muted">${members.length} member${members.length === 1 ? "" : "s"} · ${humanSize(s.usedBytes)} · changed ${when(s.changedMs)}</span>
</li>`,
  );
  return html`<section class="card">
<h1>Your shared spaces</h1>
${spaces.length === 0 ? html`<p class="muted">You belong to no shared space yet. Share a folder with <code>xshare share</code>, or accept an invitation.</p>` : html`<ul class="spaces">${rows}</ul>`}
</section>`;
}

export interface FolderView {
  readonly user: WebUser;
  readonly space: SpaceRecord;
  readonly members: readonly BareJid[];
  /** "" for the space's root. */
  readonly folder: string;
  /** Direct children: live entries, and folders known only from paths under them. */
  readonly children: ReadonlyArray<{ readonly name: string; readonly path: string; readonly entry?: IndexEntry; readonly dir: boolean }>;
  readonly seen: number;
  /** Who a replica id belongs to, where known (acknowledgements), and the web replica's id. */
  readonly owners: ReadonlyMap<string, BareJid>;
  readonly webReplica: string;
}

/** "by bob@example.org" for a member's device, "on the web" for the web interface, else the id. */
function madeBy(v: FolderView, replica: string): Safe {
  if (replica === v.webReplica) return html`<span class="muted" title="${replica}">on the web</span>`;
  const who = v.owners.get(replica);
  return who ? html`<span class="muted" title="${replica}">by ${who}</span>` : html`<span class="muted">by ${replica}</span>`;
}

function crumbs(space: SpaceRecord, folder: string): Safe {
  const parts = folder ? folder.split("/") : [];
  const links = parts.map((p, i) => html` <span class="sep">/</span> <a href="${spaceUrl(space.id, "", { path: parts.slice(0, i + 1).join("/") })}">${p}</a>`);
  return html`<nav class="crumbs"><a href="/web/">Spaces</a> <span class="sep">/</span> <a href="${spaceUrl(space.id)}">${space.name}</a>${links}</nav>`;
}

function actions(v: FolderView, path: string, name: string, dir: boolean): Safe {
  const hidden = html`<input type="hidden" name="csrf" value="${v.user.csrf}"><input type="hidden" name="path" value="${path}"><input type="hidden" name="seen" value="${v.seen}">`;
  const download = dir
    ? html`<a class="act" href="${spaceUrl(v.space.id, "zip", { path })}" download>Zip</a>`
    : html`<a class="act" href="${spaceUrl(v.space.id, "file", { path })}" download>Download</a>`;
  if (!canWrite(v.space, v.user.jid)) return download;
  return html`${download}
<details class="act"><summary>Rename</summary><form method="post" action="${spaceUrl(v.space.id, "rename")}">${hidden}<input type="text" name="name" value="${name}" aria-label="New name" required><button type="submit">Rename</button></form></details>
<details class="act"><summary>Delete</summary><form method="post" action="${spaceUrl(v.space.id, "delete")}">${hidden}<p>Delete ${dir ? "this folder and everything in it" : "this file"} for every member?</p><button type="submit" class="danger">Delete</button></form></details>`;
}

export function folderBody(v: FolderView): Safe {
  const { space } = v;
  const rows = v.children.map((c) => {
    const e = c.entry;
    const href = c.dir ? spaceUrl(space.id, "", { path: c.path }) : spaceUrl(space.id, "file", { path: c.path });
    return html`<tr class="${c.dir ? "dir" : "file"}" data-path="${c.path}">
<td class="name"><span class="icon" aria-hidden="true"></span><a href="${href}"${c.dir ? "" : html` download`}>${c.name}</a>${e?.pending ? html` <span class="waiting" title="Committed; its content is still on ${e.pending.by ?? "its owner"}'s device">not uploaded yet</span>` : ""}</td>
<td class="size">${c.dir || !e ? "" : humanSize(e.size)}</td>
<td class="mtime">${e ? when(e.mtimeMs) : ""}</td>
<td class="version">${e ? html`<span title="${vectorText(e.vector)}">#${e.seq}</span> ${madeBy(v, e.replica)}` : ""}</td>
<td class="actions">${actions(v, c.path, c.name, c.dir)}</td>
</tr>`;
  });
  const writable = canWrite(space, v.user.jid);
  const upload = writable
    ? html`<form id="upload" class="upload" method="post" enctype="multipart/form-data" action="${spaceUrl(space.id, "upload", { path: v.folder })}" data-action="${spaceUrl(space.id, "upload", { path: v.folder })}" data-seen="${v.seen}" data-csrf="${v.user.csrf}">
<input type="hidden" name="csrf" value="${v.user.csrf}"><input type="hidden" name="seen" value="${v.seen}">
<label for="files">Add files to this folder</label>
<input id="files" type="file" name="files" multiple required>
<button type="submit">Upload</button>
<p class="status" id="upload-status" hidden></p>
</form>
<details class="new-folder"><summary>New folder</summary><form method="post" action="${spaceUrl(space.id, "mkdir")}"><input type="hidden" name="csrf" value="${v.user.csrf}"><input type="hidden" name="path" value="${v.folder}"><input type="text" name="name" aria-label="Folder name" placeholder="Folder name" required><button type="submit">Create</button></form></details>`
    : html`<p class="muted">Only ${space.owner} changes this space; you can browse and download.</p>`;
  const zipName = v.folder ? "Download folder as zip" : "Download everything as zip";
  return html`<section class="card">
${crumbs(space, v.folder)}
<div class="space-head">
<h1>${v.folder ? v.folder.slice(v.folder.lastIndexOf("/") + 1) : space.name}</h1>
<a class="button" href="${spaceUrl(space.id, "zip", { path: v.folder })}" download>${zipName}</a>
</div>
<p class="muted"><span class="kind kind-${space.kind}">${KIND[space.kind] ?? space.kind}</span> · members: ${v.members.map((m, i) => html`${i ? ", " : ""}<span class="member">${m}</span>`)}</p>
${
  v.children.length === 0
    ? html`<p class="muted empty">This folder is empty.</p>`
    : html`<table class="tree"><thead><tr><th>Name</th><th>Size</th><th>Modified</th><th>Version</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
}
${upload}
</section>`;
}

/** The sentence of a refused request, and where to go on. */
export function problemBody(sentence: string, back?: string): Safe {
  return html`<section class="card narrow"><h1>That did not work</h1><p class="problem">${sentence}</p>${back ? html`<p><a href="${back}">Back</a></p>` : ""}</section>`;
}

/** What happened to each file of an upload form posted without the page's script. */
export function uploadResultsBody(results: ReadonlyArray<{ name: string; result?: { path: string; conflictCopy?: string; unchanged?: boolean }; error?: string }>, back: string): Safe {
  const line = (r: (typeof results)[number]) => {
    if (r.error) return html`<li class="bad">${r.name ? html`${r.name}: ` : ""}${r.error}</li>`;
    const u = r.result!;
    if (u.unchanged) return html`<li>${r.name} is already there with this content.</li>`;
    if (u.conflictCopy && u.path === u.conflictCopy) return html`<li class="warn">${r.name} was changed by someone else meanwhile; your upload is kept as ${u.conflictCopy}.</li>`;
    if (u.conflictCopy) return html`<li class="warn">${r.name} was changed by someone else meanwhile; their version is kept as ${u.conflictCopy}.</li>`;
    return html`<li>${r.name} uploaded.</li>`;
  };
  return html`<section class="card narrow"><h1>Upload</h1><ul class="results">${results.map(line)}</ul><p><a href="${back}">Back to the folder</a></p></section>`;
}
