/**
 * One registry of every error the protocol can answer with (XEP-draft.md § "Error conditions").
 *
 * Handlers throw a `ShareError`; the transport turns it into a stanza error with
 * `toElement()`, and the other side gets the same value back with `ShareError.fromElement()`.
 * Each entry fixes the RFC 6120 error type and defined condition; most also carry an
 * application-specific condition in `urn:xmpp:share:errors:0` so that a client can tell
 * "you are not a member" from "the path is invalid" without parsing text.
 */
import Element from "ltx/lib/Element.js";
import { NS } from "./ns.ts";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

export type StanzaCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "internal-server-error"
  | "item-not-found"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "resource-constraint"
  | "service-unavailable"
  | "unexpected-request";

const CONDITIONS: ReadonlySet<string> = new Set<StanzaCondition>([
  "bad-request",
  "conflict",
  "feature-not-implemented",
  "forbidden",
  "internal-server-error",
  "item-not-found",
  "not-acceptable",
  "not-allowed",
  "not-authorized",
  "policy-violation",
  "resource-constraint",
  "service-unavailable",
  "unexpected-request",
]);
const TYPES: ReadonlySet<string> = new Set<StanzaErrorType>(["auth", "cancel", "continue", "modify", "wait"]);

interface Entry {
  readonly type: StanzaErrorType;
  readonly condition: StanzaCondition;
  /** Application-specific condition element name in NS.errors, if any. */
  readonly app?: string;
  readonly text: string;
}

/**
 * The registry. Keys are the codes used in code and tests; `app` names the element
 * on the wire. A code with no `app` is identified by its condition alone.
 */
export const ERRORS = {
  "bad-request": { type: "modify", condition: "bad-request", text: "Malformed request" },
  "invalid-path": { type: "modify", condition: "bad-request", app: "invalid-path", text: "Invalid path" },
  "invalid-vector": { type: "modify", condition: "bad-request", app: "invalid-vector", text: "Invalid version vector" },
  "not-found": { type: "cancel", condition: "item-not-found", text: "No such space or group" },
  "forbidden": { type: "auth", condition: "forbidden", text: "Not allowed for this member" },
  "not-authorized": { type: "auth", condition: "not-authorized", text: "The user did not confirm this request" },
  "not-owner": { type: "auth", condition: "forbidden", app: "not-owner", text: "Only the owner may do this" },
  "read-only": { type: "auth", condition: "forbidden", app: "read-only", text: "This space is read-only for you" },
  "version-conflict": {
    type: "cancel",
    condition: "conflict",
    app: "version-conflict",
    text: "The current version does not descend from the version this change was based on",
  },
  "hash-mismatch": { type: "modify", condition: "not-acceptable", app: "hash-mismatch", text: "Content does not match its hash" },
  "too-large": { type: "modify", condition: "policy-violation", app: "too-large", text: "Larger than the size limit" },
  "quota-exceeded": { type: "wait", condition: "resource-constraint", app: "quota-exceeded", text: "Quota exceeded" },
  "missing-chunks": { type: "modify", condition: "not-acceptable", app: "missing-chunks", text: "Chunks not uploaded yet" },
  "not-implemented": { type: "cancel", condition: "feature-not-implemented", text: "Not implemented" },
  "unavailable": { type: "wait", condition: "service-unavailable", text: "Service unavailable" },
  "internal": { type: "cancel", condition: "internal-server-error", text: "Internal error" },
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof ERRORS;

export interface ShareErrorOptions {
  /** Human-readable text; defaults to the registry's. */
  text?: string;
  /** Attributes of the application-specific condition element (e.g. `reason`, `path`). */
  attrs?: Record<string, string>;
  /** Children of the application-specific condition element (e.g. the current version). */
  children?: Element[];
}

export class ShareError extends Error {
  readonly code: ErrorCode;
  readonly type: StanzaErrorType;
  readonly condition: StanzaCondition;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly Element[];

  constructor(code: ErrorCode, opts: ShareErrorOptions = {}) {
    const entry: Entry = ERRORS[code];
    super(opts.text ?? entry.text);
    this.name = "ShareError";
    this.code = code;
    this.type = entry.type;
    this.condition = entry.condition;
    this.attrs = opts.attrs ?? {};
    this.children = opts.children ?? [];
  }

  /** The `<error/>` child of a stanza of type `error` (RFC 6120 §8.3). */
  toElement(): Element {
    const entry: Entry = ERRORS[this.code];
    const el = new Element("error", { type: this.type });
    el.c(this.condition, { xmlns: NS.stanzas });
    el.c("text", { xmlns: NS.stanzas }).t(xmlSafe(this.message));
    if (entry.app) {
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(this.attrs)) if (k !== "xmlns") attrs[k] = xmlSafe(v);
      const app = el.c(entry.app, { ...attrs, xmlns: NS.errors });
      for (const child of this.children) app.cnode(child);
    }
    return el;
  }

  /**
   * Reads an `<error/>` element. An element that names no known condition still
   * yields a ShareError (code chosen by condition) so callers never see a TypeError.
   */
  static fromElement(error: Element): ShareError {
    if (error.name !== "error") throw new ShareError("bad-request", { text: "Not an <error/> element" });
    const cond = error.children.find(
      (c): c is Element => typeof c !== "string" && c.attrs.xmlns === NS.stanzas && c.name !== "text",
    );
    const condition = cond && CONDITIONS.has(cond.name) ? (cond.name as StanzaCondition) : "undefined-condition";
    const app = error.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === NS.errors);
    const text = error.getChildText("text", NS.stanzas) ?? undefined;
    let code: ErrorCode | undefined;
    if (app) code = codeForApp(app.name);
    code ??= codeForCondition(condition);
    const attrs: Record<string, string> = {};
    if (app) for (const [k, v] of Object.entries(app.attrs)) if (k !== "xmlns") attrs[k] = String(v);
    const children = app ? app.children.filter((c): c is Element => typeof c !== "string") : [];
    const err = new ShareError(code, { text: text ?? undefined, attrs, children });
    const type = String(error.attrs.type ?? "");
    if (TYPES.has(type) && type !== err.type) {
      // Keep what the peer actually said; the registry only supplies defaults.
      (err as { type: StanzaErrorType }).type = type as StanzaErrorType;
    }
    if (condition !== "undefined-condition" && condition !== err.condition) {
      (err as { condition: StanzaCondition }).condition = condition;
    }
    return err;
  }
}

function codeForApp(name: string): ErrorCode | undefined {
  for (const [code, entry] of Object.entries(ERRORS) as [ErrorCode, Entry][]) if (entry.app === name) return code;
  return undefined;
}

function codeForCondition(condition: string): ErrorCode {
  const all = Object.entries(ERRORS) as [ErrorCode, Entry][];
  const plain = all.find(([, e]) => !e.app && e.condition === condition);
  const any = all.find(([, e]) => e.condition === condition);
  return (plain ?? any)?.[0] ?? "internal";
}

/**
 * Text that XML 1.0 can carry: characters it forbids (most C0 controls, lone surrogates,
 * U+FFFE/U+FFFF) are written out as `\u{..}`, because ltx does not escape them and a peer's
 * parser would reject the whole stanza.
 */
export function xmlSafe(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** Shorthand used by every parser: reject with `bad-request` and a precise reason. */
export function badRequest(text: string): ShareError {
  return new ShareError("bad-request", { text });
}
