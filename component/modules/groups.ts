/**
 * Groups (XEP-draft.md § 5.10): the patent's persistent group objects. Any member adds a
 * member; only the owner removes one; anyone leaves. When the owner leaves, the longest-
 * standing remaining member becomes the owner; when the last member leaves, the group and
 * its spaces are deleted (no one could reach them any more).
 */
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid, GroupId } from "../../protocol/ids.ts";
import { groupId } from "../../protocol/ids.ts";
import * as G from "../../protocol/stanzas/groups.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";
import { invitedMessage, memberGroup, toSpace } from "./access.ts";

/** Tells a new member's online sharing clients about every space of the group. */
async function announceGroupSpaces(deps: Deps, group: G.Group, newMember: BareJid): Promise<void> {
  for (const s of await deps.store.spacesOf(newMember)) {
    if (s.group !== group.id) continue;
    const space = toSpace(s, group.members);
    deps.toSharingClients(newMember, (to) => invitedMessage(to, space));
  }
}

/** Removes a member from a group; deletes the group and its spaces when it becomes empty. */
export async function removeFromGroup(deps: Deps, group: G.Group, member: BareJid): Promise<G.Group | undefined> {
  const members = group.members.filter((m) => m !== member);
  const spaces = (await deps.store.spacesOf(member)).filter((s) => s.group === group.id);
  for (const s of spaces) {
    await deps.store.forgetMember(s.id, member);
    deps.tokens.revoke(member, s.id);
  }
  const first = members[0];
  if (!first) {
    for (const s of spaces) {
      await deps.store.deleteSpace(s.id);
      deps.tokens.revokeSpace(s.id);
    }
    await deps.store.deleteGroup(group.id);
    return undefined;
  }
  const next: G.Group = { ...group, members, owner: group.owner === member ? first : group.owner, changedMs: deps.now() };
  await deps.store.putGroup(next);
  return next;
}

export function registerGroups(router: Router, deps: Deps): void {
  router.set("create-group", async ({ member, payload }) => {
    const req = G.parseCreateGroup(payload);
    const now = deps.now();
    const members = [member, ...req.members.filter((m) => m !== member)];
    const group: G.Group = { id: groupId(deps.newId("g-")), name: req.name, owner: member, members, createdMs: now, changedMs: now };
    await deps.store.putGroup(group);
    return G.buildGroup(group);
  });

  router.get("groups", async ({ member, payload }) => {
    G.parseGroupListRequest(payload);
    return G.buildGroupList(await deps.store.groupsOf(member));
  });

  router.get("group", async ({ member, payload }) => G.buildGroup(await memberGroup(deps, G.parseGroupRef(payload), member)));

  router.set("add-member", async ({ member, payload }) => {
    const req = G.parseMemberChange(payload, "add-member");
    const group = await memberGroup(deps, req.group, member);
    if (group.members.includes(req.jid)) return G.buildGroup(group);
    const next: G.Group = { ...group, members: [...group.members, req.jid], changedMs: deps.now() };
    await deps.store.putGroup(next);
    await announceGroupSpaces(deps, next, req.jid);
    return G.buildGroup(next);
  });

  router.set("remove-member", async ({ member, payload }) => {
    const req = G.parseMemberChange(payload, "remove-member");
    const group = await memberGroup(deps, req.group, member);
    if (group.owner !== member) throw new ShareError("not-owner");
    if (req.jid === member) throw new ShareError("bad-request", { text: "The owner leaves with <leave-group/>" });
    if (!group.members.includes(req.jid)) throw new ShareError("bad-request", { text: `${req.jid} is not a member` });
    const next = await removeFromGroup(deps, group, req.jid);
    return next ? G.buildGroup(next) : undefined;
  });

  router.set("leave-group", async ({ member, payload }) => {
    const id: GroupId = G.parseLeaveGroup(payload);
    await removeFromGroup(deps, await memberGroup(deps, id, member), member);
    return undefined;
  });
}
