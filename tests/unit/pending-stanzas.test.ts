/**
 * `<pending/>` on a `<file/>` (XEP-draft.md § 5.16): a version committed before its content.
 * Build → serialise → parse keeps the marker (in a commit without `by`, in an index page with
 * it); malformed markers are refused with bad-request, never a TypeError.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid } from "../../protocol/ids.ts";
import * as I from "../../protocol/stanzas/index-exchange.ts";
import { type Element, parseXml } from "../../protocol/xml.ts";
import * as F from "./fixtures/stanzas.ts";

const wire = (el: Element): Element => parseXml(el.toString()) as Element;
const draft = readFileSync(new URL("../../XEP-draft.md", import.meta.url), "utf8");
/** The ```xml blocks that follow "**Example n." in XEP-draft.md. */
const example = (n: number): string[] => {
  const at = draft.indexOf(`**Example ${n}.`);
  const next = draft.indexOf("**Example", at + 10);
  return [...draft.slice(at, next < 0 ? undefined : next).matchAll(/```xml\n([\s\S]*?)```/g)].map((m) => m[1]!);
};
const bob = "bob@example.org" as BareJid;

describe("pending versions on the wire", () => {
  it("a commit carries <pending/> without by, and it comes back", () => {
    const el = I.buildCommit({ space: F.space, changes: [{ version: { ...F.file, pending: {} }, base: F.vector }] });
    expect(el.toString()).toContain("<pending/>");
    const back = I.parseCommit(wire(el));
    expect(back.changes[0]!.version.pending).toEqual({});
    expect(back.changes[0]!.version.chunks).toEqual(F.file.chunks);
  });

  it("an index page carries <pending by/>; a version without it is not pending", () => {
    const page = { space: F.space, head: 44, complete: true, entries: [{ ...F.file, pending: { by: bob }, seq: 43 }, { ...F.file, path: "other.txt", seq: 44 }] };
    const back = I.parseIndexPage(wire(I.buildIndexPage(page)));
    expect(back.entries[0]!.pending).toEqual({ by: bob });
    expect(back.entries[1]).not.toHaveProperty("pending");
  });

  it("by is normalised as a bare JID", () => {
    const xml = I.buildIndexPage({ space: F.space, head: 43, complete: true, entries: [{ ...F.file, pending: { by: "Bob@Example.ORG" as BareJid }, seq: 43 }] }).toString();
    expect(I.parseIndexPage(parseXml(xml) as Element).entries[0]!.pending).toEqual({ by: bob });
  });

  it("XEP-draft.md § 5.16's examples: a pending commit, an index read with by, the completion without the marker", () => {
    const payload = (xml: string) => (parseXml(xml) as Element).getChildElements()[0]!;
    const [commit] = example(30);
    const [page] = example(31);
    const [completion] = example(32);
    expect(I.parseCommit(payload(commit!)).changes[0]!.version.pending).toEqual({});
    expect(I.parseIndexPage(payload(page!)).entries[0]!.pending).toEqual({ by: "alice@example.org" });
    const done = I.parseCommit(payload(completion!)).changes[0]!.version;
    expect(done).not.toHaveProperty("pending");
    const { pending: _p, ...announced } = I.parseCommit(payload(commit!)).changes[0]!.version;
    expect(done).toEqual(announced);
  });

  const file = (attrs: string, inner: string) =>
    `<commit xmlns='urn:xmpp:share:0' space='s1'><file path='a' ${attrs} mtime='1' mode='420' replica='r1'><vector><c r='r1' n='1'/></vector>${inner}</file></commit>`;
  const malformed: Array<[string, string]> = [
    ["a pending deletion", file("kind='file' deleted='true' size='0'", "<pending/>")],
    ["a pending directory", file("kind='dir' size='0'", "<pending/>")],
    ["two markers", file(`kind='file' hash='${F.sha("")}' size='0'`, "<pending/><pending/>")],
    ["by that is not a bare JID", file(`kind='file' hash='${F.sha("")}' size='0'`, "<pending by='bob@example.org/laptop'/>")],
    ["by without a localpart", file(`kind='file' hash='${F.sha("")}' size='0'`, "<pending by='example.org'/>")],
  ];
  it.each(malformed)("refuses %s with bad-request", (_name, xml) => {
    let err: unknown;
    try {
      I.parseCommit(parseXml(xml) as Element);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShareError);
    expect((err as ShareError).code).toBe("bad-request");
  });
});
