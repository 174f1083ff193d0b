/**
 * `<vector/>`: a version vector on the wire (XEP-draft.md § "Version vectors").
 *
 *   <vector xmlns='urn:xmpp:share:0'><c r='laptop-7f3a' n='1732531200000'/></vector>
 *
 * One `<c/>` per replica with a non-zero counter; order on the wire is free, the value is
 * the same set. The same shape is used under another name for a commit's base (`<base/>`).
 */
import { ShareError } from "../errors.ts";
import { NS } from "../ns.ts";
import { type VersionVector, fromEntries } from "../vv.ts";
import { Element, childrenNamed, elements, parseUint, requiredAttr } from "../xml.ts";

/** Builds `<vector/>` (or another element name with the same content, e.g. `base`). */
export function buildVector(v: VersionVector, name = "vector", xmlns?: string): Element {
  const el = new Element(name, xmlns ? { xmlns } : {});
  for (const [r, n] of v.entries) el.c("c", { r, n: String(n) });
  return el;
}

export function parseVector(el: Element): VersionVector {
  const cs = childrenNamed(el, "c", el.getNS() ?? NS.share);
  if (cs.length !== elements(el).length) {
    throw new ShareError("invalid-vector", { text: `<${el.name}/> may only contain <c/> elements` });
  }
  const pairs = cs.map((c) => {
    const r = requiredAttr(c, "r");
    return [r, parseUint(requiredAttr(c, "n"), "counter")] as const;
  });
  return fromEntries(pairs);
}
