/**
 * Spaces (XEP-draft.md § "Spaces"): a shared folder kept by the component.
 *
 * Kinds: `mine` (the owner's "my sharing": only the owner writes, members read), `pair`
 * (two people, both write) and `group` (the members of a group object, all write).
 *
 *   set  <create-space kind='pair' name='Trip'><member jid='bob@example.org'/></create-space>
 *   set  <create-space kind='group' name='Family photos' group='g-1'/>
 *   get  <spaces/>              → <spaces><space …/>…</spaces>
 *   get  <space id='s-1'/>      → <space id kind name owner created changed head><member/>…</space>
 *   set  <invite space='s-1' jid='carol@example.org'/>   → <space …/>
 *   set  <leave-space space='s-1'/>                       → empty result
 *   msg  <invited><space …/></invited>  (from the component to a new member's bare JID)
 */
import { badRequest } from "../errors.ts";
import { groupId, spaceId, type BareJid, type GroupId, type SpaceId } from "../ids.ts";
import { parseBareJid } from "../jid.ts";
import { NS } from "../ns.ts";
import {
  Element,
  childrenNamed,
  elements,
  expectElement,
  formatDateTime,
  optionalAttr,
  requiredAttr,
  requiredChild,
  requiredDateTime,
  requiredEnum,
  requiredUint,
} from "../xml.ts";
import { addMembers, parseMembers, parseName } from "./groups.ts";

export const SPACE_KINDS = ["mine", "pair", "group"] as const;
export type SpaceKind = (typeof SPACE_KINDS)[number];

export interface Space {
  readonly id: SpaceId;
  readonly kind: SpaceKind;
  readonly name: string;
  readonly owner: BareJid;
  /** For `group` spaces: the group object whose members are the space's members. */
  readonly group?: GroupId;
  /** Every member, the owner included. */
  readonly members: readonly BareJid[];
  readonly createdMs: number;
  readonly changedMs: number;
  /** Latest index sequence number. */
  readonly head: number;
}

export function buildSpace(s: Space): Element {
  const el = new Element("space", {
    xmlns: NS.share,
    id: s.id,
    kind: s.kind,
    name: s.name,
    owner: s.owner,
    created: formatDateTime(s.createdMs),
    changed: formatDateTime(s.changedMs),
    head: String(s.head),
  });
  if (s.group) el.attrs.group = s.group;
  return addMembers(el, s.members);
}

export function parseSpace(el: Element): Space {
  expectElement(el, "space");
  const kind = requiredEnum(el, "kind", SPACE_KINDS);
  const owner = parseBareJid(requiredAttr(el, "owner"));
  const members = parseMembers(el);
  if (!members.includes(owner)) throw badRequest("A space's members include its owner");
  const g = optionalAttr(el, "group");
  if ((kind === "group") !== (g !== undefined)) throw badRequest("Exactly the group spaces name a group");
  // A pair space has two members, or one after the other left.
  if (kind === "pair" && members.length > 2) throw badRequest("A pair space has at most two members");
  const base = {
    id: spaceId(requiredAttr(el, "id")),
    kind,
    name: parseName(requiredAttr(el, "name")),
    owner,
    members,
    createdMs: requiredDateTime(el, "created"),
    changedMs: requiredDateTime(el, "changed"),
    head: requiredUint(el, "head"),
  };
  return g === undefined ? base : { ...base, group: groupId(g) };
}

export function buildSpaceRef(id: SpaceId): Element {
  return new Element("space", { xmlns: NS.share, id });
}

export function parseSpaceRef(el: Element): SpaceId {
  expectElement(el, "space");
  if (elements(el).length > 0) throw badRequest("A space request carries only its id");
  return spaceId(requiredAttr(el, "id"));
}

export type CreateSpace =
  | { readonly kind: "mine"; readonly name: string; readonly members: readonly BareJid[] }
  | { readonly kind: "pair"; readonly name: string; readonly members: readonly [BareJid] }
  | { readonly kind: "group"; readonly name: string; readonly group: GroupId };

export function buildCreateSpace(c: CreateSpace): Element {
  const el = new Element("create-space", { xmlns: NS.share, kind: c.kind, name: c.name });
  if (c.kind === "group") el.attrs.group = c.group;
  else addMembers(el, c.members);
  return el;
}

export function parseCreateSpace(el: Element): CreateSpace {
  expectElement(el, "create-space");
  const kind = requiredEnum(el, "kind", SPACE_KINDS);
  const name = parseName(requiredAttr(el, "name"));
  const members = parseMembers(el);
  const g = optionalAttr(el, "group");
  switch (kind) {
    case "group":
      if (g === undefined || members.length > 0) throw badRequest("A group space names a group and no members");
      return { kind, name, group: groupId(g) };
    case "pair": {
      const [other] = members;
      if (g !== undefined || !other || members.length !== 1) throw badRequest("A pair space names exactly one other member");
      return { kind, name, members: [other] };
    }
    case "mine":
      if (g !== undefined) throw badRequest("A mine space names no group");
      return { kind, name, members };
  }
}

export function buildSpaceList(spaces: readonly Space[]): Element {
  const el = new Element("spaces", { xmlns: NS.share });
  for (const s of spaces) el.cnode(buildSpace(s));
  return el;
}

export function parseSpaceList(el: Element): Space[] {
  expectElement(el, "spaces");
  return childrenNamed(el, "space").map(parseSpace);
}

export function buildSpaceListRequest(): Element {
  return new Element("spaces", { xmlns: NS.share });
}

export function parseSpaceListRequest(el: Element): void {
  expectElement(el, "spaces");
  if (elements(el).length > 0) throw badRequest("<spaces/> request is empty");
}

export interface Invite {
  readonly space: SpaceId;
  readonly jid: BareJid;
}

export function buildInvite(i: Invite): Element {
  return new Element("invite", { xmlns: NS.share, space: i.space, jid: i.jid });
}

export function parseInvite(el: Element): Invite {
  expectElement(el, "invite");
  return { space: spaceId(requiredAttr(el, "space")), jid: parseBareJid(requiredAttr(el, "jid")) };
}

export function buildLeaveSpace(space: SpaceId): Element {
  return new Element("leave-space", { xmlns: NS.share, space });
}

export function parseLeaveSpace(el: Element): SpaceId {
  expectElement(el, "leave-space");
  return spaceId(requiredAttr(el, "space"));
}

/** Notification to a member who was added while online. */
export function buildInvited(s: Space): Element {
  return new Element("invited", { xmlns: NS.share }).cnode(buildSpace(s)).up();
}

export function parseInvited(el: Element): Space {
  expectElement(el, "invited");
  return parseSpace(requiredChild(el, "space"));
}
