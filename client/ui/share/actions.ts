/**
 * What the user does to spaces from the UI: create one (share a folder: mine, pair, group),
 * invite a member, accept an invitation, leave, and resolve a conflict. Each calls the very
 * function its CLI command calls (client/commands.ts), with the running daemon's device instead
 * of a login of its own, and then has the daemon look at its spaces again (what SIGHUP does for
 * the CLI). Input is checked before anything is asked of anyone: a BadInput changes nothing.
 */
import { join } from "node:path";
import { ShareError } from "../../../protocol/errors.ts";
import type { BareJid, SpaceId } from "../../../protocol/ids.ts";
import { parseBareJid } from "../../../protocol/jid.ts";
import { accept, invite, leave, resolveConflict, share } from "../../commands.ts";
import { UsageError } from "../../config.ts";
import type { Daemon } from "../../daemon.ts";
import type { Device } from "../../device.ts";
import type { Home } from "../../home.ts";
import { layoutFolder } from "../../layout.ts";
import { BadInput } from "./http.ts";
import { relPath } from "./tree.ts";

export interface ActionContext {
  readonly home: Home;
  readonly daemon: Daemon;
  readonly device: Device;
  readonly me: BareJid;
}

/** Runs a command function; its UsageError (and a refusal of the manager) is the user's sentence. */
async function asUser<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) throw new BadInput(err.message.replace(/^./, (c) => c.toUpperCase()), 409);
    if (err instanceof ShareError) throw new BadInput(`The sharing manager refused: ${err.message}`, 409);
    throw err;
  }
}

function jidList(raw: unknown): BareJid[] {
  const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : raw === undefined ? [] : null;
  if (!items) throw new BadInput("Members must be a list of addresses.");
  return items.map((j) => (typeof j === "string" ? j.trim() : "")).filter(Boolean).map((j) => {
    try {
      return parseBareJid(j);
    } catch {
      throw new BadInput(`${JSON.stringify(j).slice(0, 80)} is not an address like bob@example.org.`);
    }
  });
}

export function spaceId(raw: unknown): SpaceId {
  if (typeof raw !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new BadInput("Say which space.");
  return raw as SpaceId;
}

/** Shares a new folder under the sharing root, laid out as `xshare accept` would (FIG. 3). */
export async function create(a: ActionContext, body: Record<string, unknown>): Promise<{ space: string; folder: string }> {
  const kind = body.kind;
  if (kind !== "mine" && kind !== "pair" && kind !== "group") throw new BadInput("Choose what to share: my sharing, a folder with one contact, or a group folder.");
  const name = relPath(typeof body.name === "string" ? body.name.trim() : body.name, false);
  if (name.includes("/")) throw new BadInput("A folder name cannot contain /.");
  const others = jidList(body.with).filter((j) => j !== a.me);
  if (kind === "pair" && others.length !== 1) throw new BadInput("A folder with one contact needs exactly one other member.");
  if (kind === "group" && others.length === 0) throw new BadInput("A group folder needs at least one other member.");
  const draft = { id: name as SpaceId, kind, name, owner: a.me, members: [a.me, ...others] } as const;
  let folder = layoutFolder(a.home, a.me, draft);
  // "My sharing" is the user's first own folder; more of them sit beside it.
  if (kind === "mine" && a.device.state.spaces().some((s) => s.folder === folder)) folder = join(a.home.sharingRoot, `My sharing - ${name}`);
  const opts = kind === "mine" ? { mine: true, name, ...(others.length ? { with: others.join(",") } : {}) } : kind === "pair" ? { with: others[0]!, name } : { with: others.join(","), group: name, name };
  const [space] = await asUser(() => share(a.home, folder, opts, a.device));
  await a.daemon.refresh();
  return { space: space!, folder };
}

export async function inviteMember(a: ActionContext, body: Record<string, unknown>): Promise<string> {
  const id = spaceId(body.space);
  const [who] = jidList(typeof body.jid === "string" ? body.jid : "");
  if (!who) throw new BadInput("Say whom to invite (an address like bob@example.org).");
  await asUser(() => invite(a.home, id, who, a.device));
  return `${who} is now a member of “${a.device.state.space(id)?.name ?? id}”.`;
}

export async function acceptSpace(a: ActionContext, body: Record<string, unknown>): Promise<string> {
  const id = spaceId(body.space);
  if (a.device.state.space(id)?.folder) throw new BadInput("That space is already on this device.", 409);
  await asUser(() => accept(a.home, id, undefined, a.device));
  await a.daemon.refresh();
  const s = a.device.state.space(id);
  return `Accepted “${s?.name ?? id}”: its files go to ${s?.folder ?? "its folder"}.`;
}

export async function leaveSpace(a: ActionContext, body: Record<string, unknown>): Promise<string> {
  const id = spaceId(body.space);
  if (!a.device.state.space(id)) throw new BadInput("That space is not on this device.", 404);
  const s = a.device.state.space(id)!;
  await asUser(() => leave(a.home, id, a.device));
  await a.daemon.refresh();
  return `You left “${s.name}”${s.folder ? `; ${s.folder} and its files stay on this device` : ""}.`;
}

/** Keeps one side of a conflict (`copy`: the conflict copy's path in the space), as `xshare resolve`. */
export async function resolve(a: ActionContext, body: Record<string, unknown>): Promise<string> {
  const id = spaceId(body.space);
  const copy = relPath(body.copy, false);
  const keep = body.keep;
  if (keep !== "local" && keep !== "remote" && keep !== "both") throw new BadInput("Choose which copy to keep: local, remote or both.");
  const folder = a.device.state.space(id)?.folder;
  if (!folder) throw new BadInput("That space is not on this device.", 404);
  if (!a.device.state.conflicts(id).some((c) => c.copy === copy)) throw new BadInput(`There is no conflict kept as ${copy}; it may be resolved already.`, 404);
  const c = a.device.state.conflicts(id).find((x) => x.copy === copy)!;
  await asUser(() => resolveConflict(a.home, join(folder, copy), keep, a.device.state));
  // The daemon sees the files change and sends the result, as after any edit.
  return keep === "both" ? `Kept both ${c.path} and ${c.copy}.` : `Kept ${keep === "local" ? "your" : "the other"} version of ${c.path}; the other members get it now.`;
}
