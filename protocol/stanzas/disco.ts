/**
 * XEP-0030 disco#info as used by this protocol (XEP-draft.md § "Namespaces and discovery"):
 * the component and every sharing-client resource advertise the feature `urn:xmpp:share:0`.
 */
import { createHash } from "node:crypto";
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

/** What a sharing client's resource answers: an ordinary client that also shares folders. */
export const CLIENT_DISCO: DiscoInfo = {
  identities: [{ category: "client", type: "pc", name: "xshare" }],
  // XEP-0070 § 9: it answers the web interface's sign-in confirmations (client/web-confirm.ts).
  features: [NS.caps, NS.discoInfo, NS.httpAuth, NS.share],
};

/** The XEP-0115 `node` of xshare's capabilities. */
export const CAPS_NODE = "https://github.com/xmpp-share/xmpp-share";

/**
 * XEP-0115 § 5.1 verification string (SHA-1, base64) of a disco#info without data forms:
 * identities sorted by category/type/lang/name, then features sorted, each followed by `<`.
 */
export function capsVer(info: DiscoInfo): string {
  const ids = info.identities.map((i) => `${i.category}/${i.type}//${i.name ?? ""}`).sort(octets);
  const features = [...info.features].sort(octets);
  return createHash("sha1").update([...ids, ...features].map((x) => `${x}<`).join(""), "utf8").digest("base64");
}

/** "i;octet" collation (RFC 4790), as XEP-0115 sorts. */
function octets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

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
