/**
 * Strict reading helpers shared by every parser in `protocol/stanzas/`.
 *
 * Every failure is a `ShareError("bad-request")` naming the element and attribute,
 * so a malformed payload from the network can only ever produce a stanza error,
 * never a TypeError and never a half-read value.
 */
// The CommonJS build of ltx, because @xmpp/xml uses it: one Element class for the whole
// process, so that `instanceof` checks inside xmpp.js accept what our builders return.
import Element from "ltx/lib/Element.js";
import ltxParse from "ltx/lib/parse.js";
import LtxParser from "ltx/lib/Parser.js";
import { badRequest } from "./errors.ts";
import { NS } from "./ns.ts";

export { Element };

/**
 * The tokenizer function of the last parser, kept referenced. ltx creates that function anew
 * for every document, and V8 shares the optimised code of such functions only while one of them
 * is alive: with the full collections that streaming gigabytes brings about, a large body (a
 * slot request of 2,000 chunks, an index page) otherwise had its parser compiled again every few
 * requests (tens of ms of CPU each; 33 compiles per GiB uploaded, 3 with this).
 */
const kept: { write?: unknown } = {};
class KeepingParser extends LtxParser {
  constructor() {
    super();
    kept.write = (this as unknown as { parser: { write: unknown } }).parser.write;
  }
}

/** Parses one XML document (a stanza or payload) into an Element. */
export function parseXml(text: string): Element {
  return ltxParse(text, KeepingParser) as Element;
}

/**
 * Deepest nesting a stanza may have: no protocol element comes near it (an IQ with a commit is
 * six levels deep). ltx parses any depth, but serialising and every recursive walk overflow the
 * stack at a few thousand levels, so a deeper stanza is emptied before anything looks at it.
 */
export const MAX_STANZA_DEPTH = 32;

/**
 * Empties `el` (drops its children, keeps its attributes) when it nests deeper than `max`
 * levels; says whether it did. Iterative: safe on any depth. What is left of an IQ get/set is
 * answered `bad-request`, without echoing the payload.
 */
export function dropIfTooDeep(el: Element, max = MAX_STANZA_DEPTH): boolean {
  const stack: Array<[Element, number]> = [[el, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) {
      el.children = [];
      return true;
    }
    for (const c of node.children) if (typeof c !== "string") stack.push([c, depth + 1]);
  }
  return false;
}

/**
 * `el` serialized as `el.toString()` would, as UTF-8 pieces of about `pieceBytes` each, for a
 * request body. `toString` concatenates every tag, attribute and value into one string: a
 * commit of 5,000 files is a rope of a few hundred thousand strings, all alive until the whole
 * document is flattened (~12 MB of heap per 1.7 MB of XML). Here each is encoded straight into
 * the current piece and dropped.
 */
export function xmlPieces(el: Element, pieceBytes = 64 * 1024): Buffer[] {
  const out: Buffer[] = [];
  let buf = Buffer.allocUnsafe(pieceBytes);
  let at = 0;
  el.write((s: string) => {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (at + s.length * 3 > buf.length) {
      if (at > 0) out.push(buf.subarray(0, at));
      buf = Buffer.allocUnsafe(Math.max(pieceBytes, s.length * 3));
      at = 0;
    }
    at += buf.write(s, at, "utf8");
  });
  if (at > 0) out.push(buf.subarray(0, at));
  return out;
}

/** Children that are elements (text nodes dropped). */
export function elements(el: Element): Element[] {
  return el.children.filter((c): c is Element => typeof c !== "string");
}

/** Element children in `ns` with local name `name` (namespace inherited from ancestors counts). */
export function childrenNamed(el: Element, name: string, ns: string = NS.share): Element[] {
  return elements(el).filter((c) => c.name === name && c.getNS() === ns);
}

/** The single child `name` in `ns`, or undefined; two of them is an error. */
export function optionalChild(el: Element, name: string, ns: string = NS.share): Element | undefined {
  const found = childrenNamed(el, name, ns);
  if (found.length > 1) throw badRequest(`<${el.name}/> has more than one <${name}/>`);
  return found[0];
}

export function requiredChild(el: Element, name: string, ns: string = NS.share): Element {
  const c = optionalChild(el, name, ns);
  if (!c) throw badRequest(`<${el.name}/> lacks <${name}/>`);
  return c;
}

/** Checks that `el` is `<name xmlns=ns>`; the namespace may be inherited. */
export function expectElement(el: unknown, name: string, ns: string = NS.share): Element {
  if (!(el instanceof Element)) throw badRequest(`Expected <${name}/>`);
  if (el.name !== name || el.getNS() !== ns) {
    throw badRequest(`Expected <${name} xmlns='${ns}'/>, got <${el.name} xmlns='${el.getNS() ?? ""}'/>`);
  }
  return el;
}

export function optionalAttr(el: Element, name: string): string | undefined {
  const v = el.attrs[name];
  if (v === undefined || v === null) return undefined;
  return String(v);
}

export function requiredAttr(el: Element, name: string): string {
  const v = optionalAttr(el, name);
  if (v === undefined || v === "") throw badRequest(`<${el.name}/> lacks attribute '${name}'`);
  return v;
}

/** An attribute holding an absolute http(s) URL of at most `maxLength` characters. */
export function requiredHttpUrl(el: Element, name: string, maxLength = 2048): string {
  const v = requiredAttr(el, name);
  let u: URL | undefined;
  try {
    u = v.length <= maxLength ? new URL(v) : undefined;
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) throw badRequest(`<${el.name} ${name}/> must be an http(s) URL`);
  return v;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** A non-negative safe integer written in plain decimal (no sign, no exponent, no leading zeros). */
export function parseUint(s: string, what: string): number {
  if (!DECIMAL.test(s)) throw badRequest(`${what} is not a non-negative integer: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw badRequest(`${what} is out of range: ${s}`);
  return n;
}

export function requiredUint(el: Element, name: string): number {
  return parseUint(requiredAttr(el, name), `<${el.name} ${name}/>`);
}

export function optionalUint(el: Element, name: string): number | undefined {
  const v = optionalAttr(el, name);
  return v === undefined ? undefined : parseUint(v, `<${el.name} ${name}/>`);
}

/** XML Schema boolean: `true`/`1`/`false`/`0`. */
export function optionalBool(el: Element, name: string, dflt: boolean): boolean {
  const v = optionalAttr(el, name);
  if (v === undefined) return dflt;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw badRequest(`<${el.name} ${name}/> is not a boolean: ${JSON.stringify(v)}`);
}

/** One of a fixed set of words. */
export function requiredEnum<T extends string>(el: Element, name: string, allowed: readonly T[]): T {
  const v = requiredAttr(el, name);
  if (!(allowed as readonly string[]).includes(v)) {
    throw badRequest(`<${el.name} ${name}/> must be one of ${allowed.join(", ")}; got ${JSON.stringify(v)}`);
  }
  return v as T;
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** XEP-0082 DateTime in UTC, returned as milliseconds since the epoch. */
export function requiredDateTime(el: Element, name: string): number {
  const v = requiredAttr(el, name);
  const ms = DATETIME.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw badRequest(`<${el.name} ${name}/> is not an XEP-0082 UTC date-time: ${JSON.stringify(v)}`);
  return ms;
}

/** XEP-0082 DateTime, second precision unless milliseconds are present. */
export function formatDateTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.replace(".000Z", "Z") : iso;
}
