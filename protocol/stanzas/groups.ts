/**
 * Groups (XEP-draft.md § "Groups"): the patent's persistent group objects, kept by the
 * component. Any member may add a member; only the owner removes one; anyone may leave.
 *
 *   set  <create-group name='Family'><member jid='bob@example.org'/></create-group>
 *   get  <groups/>                    → <groups><group …/>…</groups>
 *   get  <group id='g-1'/>            → <group id='g-1' name owner created changed><member/>…</group>
 *   set  <add-member group='g-1' jid='carol@example.org'/>     → <group …/>
 *   set  <remove-member group='g-1' jid='carol@example.org'/>  → <group …/>
 *   set  <leave-group group='g-1'/>   → empty result
 */
import { badRequest } from "../errors.ts";
import { groupId, type BareJid, type GroupId } from "../ids.ts";
import { parseBareJid } from "../jid.ts";
import { NS } from "../ns.ts";
import {
  Element,
  childrenNamed,
  elements,
  expectElement,
  formatDateTime,
  requiredAttr,
  requiredDateTime,
} from "../xml.ts";

/** Names are for people: 1–200 characters, no control characters, NFC. */
export function parseName(raw: string): string {
  const s = raw.normalize("NFC");
  if (s.trim() === "" || [...s].length > 200 || /[\u0000-\u001f\u007f]/u.test(s)) {
    throw badRequest(`Invalid name: ${JSON.stringify(raw)}`);
  }
  return s;
}

/** `<member jid/>` children, normalised, duplicates refused. */
export function parseMembers(el: Element): BareJid[] {
  const seen = new Set<string>();
  return childrenNamed(el, "member").map((m) => {
    const j = parseBareJid(requiredAttr(m, "jid"));
    if (seen.has(j)) throw badRequest(`Member ${j} listed twice`);
    seen.add(j);
    return j;
  });
}

export function addMembers(el: Element, members: readonly string[]): Element {
  for (const jid of members) el.c("member", { jid });
  return el;
}

export interface Group {
  readonly id: GroupId;
  readonly name: string;
  readonly owner: BareJid;
  /** Every member, the owner included. */
  readonly members: readonly BareJid[];
  readonly createdMs: number;
  readonly changedMs: number;
}

export function buildGroup(g: Group): Element {
  const el = new Element("group", {
    xmlns: NS.share,
    id: g.id,
    name: g.name,
    owner: g.owner,
    created: formatDateTime(g.createdMs),
    changed: formatDateTime(g.changedMs),
  });
  return addMembers(el, g.members);
}

export function parseGroup(el: Element): Group {
  expectElement(el, "group");
  const owner = parseBareJid(requiredAttr(el, "owner"));
  const members = parseMembers(el);
  if (!members.includes(owner)) throw badRequest("A group's members include its owner");
  return {
    id: groupId(requiredAttr(el, "id")),
    name: parseName(requiredAttr(el, "name")),
    owner,
    members,
    createdMs: requiredDateTime(el, "created"),
    changedMs: requiredDateTime(el, "changed"),
  };
}

/** `<group id/>` with nothing else: the describe request. */
export function buildGroupRef(id: GroupId): Element {
  return new Element("group", { xmlns: NS.share, id });
}

export function parseGroupRef(el: Element): GroupId {
  expectElement(el, "group");
  if (elements(el).length > 0) throw badRequest("A group request carries only its id");
  return groupId(requiredAttr(el, "id"));
}

export interface CreateGroup {
  readonly name: string;
  /** Initial members besides the creator, who becomes the owner. */
  readonly members: readonly BareJid[];
}

export function buildCreateGroup(c: CreateGroup): Element {
  return addMembers(new Element("create-group", { xmlns: NS.share, name: c.name }), c.members);
}

export function parseCreateGroup(el: Element): CreateGroup {
  expectElement(el, "create-group");
  return { name: parseName(requiredAttr(el, "name")), members: parseMembers(el) };
}

export function buildGroupList(groups: readonly Group[]): Element {
  const el = new Element("groups", { xmlns: NS.share });
  for (const g of groups) el.cnode(buildGroup(g));
  return el;
}

export function parseGroupList(el: Element): Group[] {
  expectElement(el, "groups");
  return childrenNamed(el, "group").map(parseGroup);
}

export function buildGroupListRequest(): Element {
  return new Element("groups", { xmlns: NS.share });
}

export function parseGroupListRequest(el: Element): void {
  expectElement(el, "groups");
  if (elements(el).length > 0) throw badRequest("<groups/> request is empty");
}

/** `add-member` and `remove-member` share one shape. */
export interface MemberChange {
  readonly group: GroupId;
  readonly jid: BareJid;
}

export function buildMemberChange(name: "add-member" | "remove-member", m: MemberChange): Element {
  return new Element(name, { xmlns: NS.share, group: m.group, jid: m.jid });
}

export function parseMemberChange(el: Element, name: "add-member" | "remove-member"): MemberChange {
  expectElement(el, name);
  return { group: groupId(requiredAttr(el, "group")), jid: parseBareJid(requiredAttr(el, "jid")) };
}

export function buildLeaveGroup(group: GroupId): Element {
  return new Element("leave-group", { xmlns: NS.share, group });
}

export function parseLeaveGroup(el: Element): GroupId {
  expectElement(el, "leave-group");
  return groupId(requiredAttr(el, "group"));
}
