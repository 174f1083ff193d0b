/**
 * Spaces (XEP-draft.md § 5.10). Kinds and who may do what:
 * - `mine`: the owner writes and invites; listed contacts read. The owner leaving deletes it.
 * - `pair`: exactly two members, both write; no invitations (share a group space instead).
 *   When one leaves, the other keeps the space alone.
 * - `group`: the members of a group object; inviting to the space adds to the group, and
 *   leaving the space leaves the group (membership lives in one place, the group).
 * New members learn of a space the next time they list spaces, and at once if their sharing
 * client is online (`<invited/>`).
 */
import { ShareError } from "../../protocol/errors.ts";
import { spaceId, type BareJid } from "../../protocol/ids.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";
import type { SpaceRecord } from "../store/metadata.ts";
import { invitedMessage, memberGroup, memberSpace, toSpace } from "./access.ts";
import { removeFromGroup } from "./groups.ts";

function announce(deps: Deps, space: S.Space, to: readonly BareJid[]): void {
  for (const member of to) deps.toSharingClients(member, (jid) => invitedMessage(jid, space));
}

async function describe(deps: Deps, record: SpaceRecord): Promise<S.Space> {
  return toSpace(record, await deps.store.membersOf(record.id));
}

export function registerSpaces(router: Router, deps: Deps): void {
  router.set("create-space", async ({ member, payload }) => {
    const req = S.parseCreateSpace(payload);
    const now = deps.now();
    const id = spaceId(deps.newId("s-"));
    const base = { id, kind: req.kind, name: req.name, owner: member, createdMs: now, changedMs: now };
    if (req.kind === "group") {
      await memberGroup(deps, req.group, member);
      await deps.store.createSpace({ ...base, group: req.group, members: [] });
    } else {
      const others = req.members.filter((m) => m !== member);
      if (req.kind === "pair" && others.length !== 1) {
        throw new ShareError("bad-request", { text: "A pair space is shared with one other person" });
      }
      await deps.store.createSpace({ ...base, members: [member, ...others] });
    }
    const record = await deps.store.getSpace(id);
    if (!record) throw new ShareError("internal");
    const space = await describe(deps, record);
    announce(deps, space, space.members.filter((m) => m !== member));
    return S.buildSpace(space);
  });

  router.get("spaces", async ({ member, payload }) => {
    S.parseSpaceListRequest(payload);
    const records = await deps.store.spacesOf(member);
    return S.buildSpaceList(await Promise.all(records.map((r) => describe(deps, r))));
  });

  router.get("space", async ({ member, payload }) => {
    const s = await memberSpace(deps, S.parseSpaceRef(payload), member);
    return S.buildSpace(toSpace(s.record, s.members));
  });

  router.set("invite", async ({ member, payload }) => {
    const req = S.parseInvite(payload);
    const s = await memberSpace(deps, req.space, member);
    const { record } = s;
    if (record.kind === "pair") {
      throw new ShareError("bad-request", { text: "A pair space has exactly two members; share a group space instead" });
    }
    if (record.kind === "mine" && record.owner !== member) throw new ShareError("not-owner");
    if (s.members.includes(req.jid)) return S.buildSpace(toSpace(record, s.members));
    if (record.kind === "group" && record.group) {
      const group = await memberGroup(deps, record.group, member);
      await deps.store.putGroup({ ...group, members: [...group.members, req.jid], changedMs: deps.now() });
    } else {
      const members = [...s.members, req.jid];
      await deps.store.updateSpace({ id: record.id, name: record.name, owner: record.owner, members, changedMs: deps.now() });
    }
    const updated = await deps.store.getSpace(record.id);
    if (!updated) throw new ShareError("internal");
    const space = await describe(deps, updated);
    announce(deps, space, [req.jid]);
    return S.buildSpace(space);
  });

  router.set("leave-space", async ({ member, payload }) => {
    const s = await memberSpace(deps, S.parseLeaveSpace(payload), member);
    const { record } = s;
    if (record.kind === "group" && record.group) {
      await removeFromGroup(deps, await memberGroup(deps, record.group, member), member);
      return undefined;
    }
    deps.tokens.revoke(member, record.id);
    const rest = s.members.filter((m) => m !== member);
    if ((record.kind === "mine" && record.owner === member) || rest.length === 0) {
      await deps.store.deleteSpace(record.id);
      // The other members' transfer tokens go with the space, not minutes later.
      deps.tokens.revokeSpace(record.id);
      return undefined;
    }
    await deps.store.forgetMember(record.id, member);
    // A pair space whose owner left belongs to the remaining member.
    const owner = record.owner === member ? (rest[0] as BareJid) : record.owner;
    await deps.store.updateSpace({ id: record.id, name: record.name, owner, members: rest, changedMs: deps.now() });
    return undefined;
  });
}
