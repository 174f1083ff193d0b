/**
 * Which parser reads which payload (XEP-draft.md § "Protocol"): one table keyed by the
 * stanza context (IQ get/set/result, presence, message) and the payload's element name.
 * The component's router and the XEP example test both read it, so an element the draft
 * shows and no parser knows fails a test.
 */
import { ShareError, badRequest } from "../errors.ts";
import { NS } from "../ns.ts";
import { Element, elements } from "../xml.ts";
import * as CT from "./contacts.ts";
import * as G from "./groups.ts";
import * as I from "./index-exchange.ts";
import * as P from "./sync-signals.ts";
import * as SL from "./slots.ts";
import * as SE from "./session.ts";
import * as S from "./spaces.ts";
import * as WL from "./web-login.ts";

export type Context = "get" | "set" | "result" | "presence" | "message";

const PARSERS = {
  get: {
    index: I.parseIndexQuery,
    slots: SL.parseSlotRequest,
    groups: G.parseGroupListRequest,
    group: G.parseGroupRef,
    spaces: S.parseSpaceListRequest,
    space: S.parseSpaceRef,
    session: SE.parseSessionRequest,
    contacts: CT.parseContactsRequest,
  },
  set: {
    commit: I.parseCommit,
    ack: I.parseAck,
    snm: P.parseSnm,
    "create-group": G.parseCreateGroup,
    "add-member": (el: Element) => G.parseMemberChange(el, "add-member"),
    "remove-member": (el: Element) => G.parseMemberChange(el, "remove-member"),
    "leave-group": G.parseLeaveGroup,
    "create-space": S.parseCreateSpace,
    invite: S.parseInvite,
    "leave-space": S.parseLeaveSpace,
    "web-login": WL.parseWebLoginRequest,
  },
  result: {
    index: I.parseIndexPage,
    committed: I.parseCommitted,
    slots: SL.parseSlots,
    groups: G.parseGroupList,
    group: G.parseGroup,
    spaces: S.parseSpaceList,
    space: S.parseSpace,
    session: SE.parseSession,
    contacts: CT.parseContacts,
    "web-login": WL.parseWebLogin,
  },
  presence: { digests: P.parseDigests },
  message: { invited: S.parseInvited },
} as const satisfies Record<Context, Record<string, (el: Element) => unknown>>;

export type Parsed = { readonly context: Context; readonly name: string; readonly value: unknown };

/** The payload parser for a context, or undefined when the protocol defines none. */
export function parserFor(context: Context, name: string): ((el: Element) => unknown) | undefined {
  const table: Record<string, (el: Element) => unknown> = PARSERS[context];
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** Names of the payloads defined for a context (used by routers and tests). */
export function payloadNames(context: Context): string[] {
  return Object.keys(PARSERS[context]);
}

function contextOf(stanza: Element): Context | "error" {
  const type = String(stanza.attrs.type ?? "");
  switch (stanza.name) {
    case "iq":
      if (type === "get" || type === "set" || type === "result" || type === "error") return type;
      break;
    case "presence":
      return "presence";
    case "message":
      return "message";
  }
  throw badRequest(`Not a stanza this protocol uses: <${stanza.name} type='${type}'/>`);
}

/**
 * Reads the protocol payload of a whole stanza. An IQ error yields its `ShareError`;
 * an empty IQ result yields `name: ""`. Anything else without a payload is refused.
 */
export function parseStanza(stanza: Element): Parsed | { readonly context: "error"; readonly error: ShareError } {
  const context = contextOf(stanza);
  if (context === "error") {
    const err = elements(stanza).find((c) => c.name === "error");
    if (!err) throw badRequest("IQ of type error without <error/>");
    return { context, error: ShareError.fromElement(err) };
  }
  const payload = elements(stanza).filter((c) => c.getNS() === NS.share);
  if (payload.length === 0 && context === "result") return { context, name: "", value: undefined };
  if (payload.length !== 1 || !payload[0]) throw badRequest(`Expected one ${NS.share} payload, found ${payload.length}`);
  const el = payload[0];
  const parse = parserFor(context, el.name);
  if (!parse) throw badRequest(`<${el.name}/> is not defined for ${context}`);
  return { context, name: el.name, value: parse(el) };
}
