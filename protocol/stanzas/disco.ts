/**
 * XEP-0030 disco#info as used by this protocol (XEP-draft.md § "Namespaces and discovery"):
 * the component and every sharing-client resource advertise the feature `urn:xmpp:share:0`.
 */
import { badRequest } from "../errors.ts";
import { NS } from "../ns.ts";
import { Element, childrenNamed, expectElement, optionalAttr, requiredAttr } from "../xml.ts";

export interface Identity {
  readonly category: string;
  readonly type: string;
  readonly name?: string;
}

export interface DiscoInfo {
  readonly identities: readonly Identity[];
  readonly features: readonly string[];
}

/** What the sharing manager answers (XEP-draft.md Example 1). */
export const COMPONENT_DISCO: DiscoInfo = {
  identities: [{ category: "store", type: "file", name: "Shared folders" }],
  features: [NS.discoInfo, NS.discoItems, NS.share],
};

export function buildDiscoInfo(info: DiscoInfo, node?: string): Element {
  const el = new Element("query", node ? { xmlns: NS.discoInfo, node } : { xmlns: NS.discoInfo });
  for (const i of info.identities) el.c("identity", { category: i.category, type: i.type, ...(i.name ? { name: i.name } : {}) });
  for (const f of info.features) el.c("feature", { var: f });
  return el;
}

export function parseDiscoInfo(el: Element): DiscoInfo {
  expectElement(el, "query", NS.discoInfo);
  const identities = childrenNamed(el, "identity", NS.discoInfo).map((i): Identity => {
    const name = optionalAttr(i, "name");
    const base = { category: requiredAttr(i, "category"), type: requiredAttr(i, "type") };
    return name === undefined ? base : { ...base, name };
  });
  const features = childrenNamed(el, "feature", NS.discoInfo).map((f) => requiredAttr(f, "var"));
  if (identities.length === 0) throw badRequest("disco#info result without <identity/>");
  return { identities, features };
}

export function supportsSharing(info: DiscoInfo): boolean {
  return info.features.includes(NS.share);
}
