/**
 * Membership checks (XEP-draft.md § 6, rules 1–3). A non-member gets exactly the error a
 * missing space or group gets, so that ids cannot be probed.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid, GroupId, SpaceId } from "../../protocol/ids.ts";
import type { Group } from "../../protocol/stanzas/groups.ts";
import { buildInvited, type Space } from "../../protocol/stanzas/spaces.ts";
import { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import type { SpaceRecord } from "../store/metadata.ts";

export interface MemberSpace {
  readonly record: SpaceRecord;
  readonly members: readonly BareJid[];
}

export async function memberSpace(deps: Deps, id: SpaceId, member: BareJid): Promise<MemberSpace> {
  const record = await deps.store.getSpace(id);
  if (!record) throw new ShareError("not-found");
  const members = await deps.store.membersOf(id);
  if (!members.includes(member)) throw new ShareError("not-found");
  return { record, members };
}

export async function memberGroup(deps: Deps, id: GroupId, member: BareJid): Promise<Group> {
  const group = await deps.store.getGroup(id);
  if (!group || !group.members.includes(member)) throw new ShareError("not-found");
  return group;
}

/** Only the owner writes into a `mine` space. */
export function assertWriter(s: MemberSpace, member: BareJid): void {
  if (s.record.kind === "mine" && s.record.owner !== member) throw new ShareError("read-only");
}

/** The protocol view of a stored space. */
export function toSpace(record: SpaceRecord, members: readonly BareJid[]): Space {
  const base = {
    id: record.id,
    kind: record.kind,
    name: record.name,
    owner: record.owner,
    members,
    createdMs: record.createdMs,
    changedMs: record.changedMs,
    head: record.head,
  };
  return record.group ? { ...base, group: record.group } : base;
}

/** `<message><invited><space/></invited></message>` for one sharing client (XEP-draft.md Example 7). */
export function invitedMessage(to: string, space: Space): Element {
  const msg = new Element("message", { to });
  msg.cnode(buildInvited(space));
  return msg;
}
