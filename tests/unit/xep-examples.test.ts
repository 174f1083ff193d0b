/**
 * XEP-draft.md must describe what the code does: every ```xml example in it is parsed
 * by the project's own parsers, and the schema block is at least well-formed.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NS } from "../../protocol/ns.ts";
import { parseDiscoInfo, supportsSharing } from "../../protocol/stanzas/disco.ts";
import { parseConfirm } from "../../protocol/stanzas/http-auth.ts";
import { parseVersionConflictChildren } from "../../protocol/stanzas/index-exchange.ts";
import { parseStanza } from "../../protocol/stanzas/registry.ts";
import { type Element, parseXml } from "../../protocol/xml.ts";

const draft = readFileSync(new URL("../../XEP-draft.md", import.meta.url), "utf8");

function blocks(lang: string): string[] {
  const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
  return [...draft.matchAll(re)].map((m) => m[1] ?? "");
}

const examples = blocks("xml");

describe("XEP-draft.md examples", () => {
  it("has examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(25);
  });

  it.each(examples.map((x, i) => [i + 1, x] as const))("example block %i parses", (_n, xml) => {
    const stanza = parseXml(xml) as Element;
    expect(["iq", "message", "presence"]).toContain(stanza.name);
    const disco = stanza.getChild("query", NS.discoInfo);
    if (disco) {
      expect(supportsSharing(parseDiscoInfo(disco))).toBe(true);
      return;
    }
    // XEP-0070's <confirm/> (§ 5.17) is that XEP's element, read by its own parser.
    const confirm = stanza.getChild("confirm", NS.httpAuth);
    if (confirm && stanza.attrs.type !== "error") {
      expect(parseConfirm(confirm).id).toBeTruthy();
      return;
    }
    const parsed = parseStanza(stanza);
    if (parsed.context === "error") {
      // An error example must name a registered condition, and a conflict carries the current version.
      expect(parsed.error.code).not.toBe("internal");
      if (parsed.error.code === "version-conflict") {
        expect(parseVersionConflictChildren(parsed.error.children).path).toBe(parsed.error.attrs.path);
      }
    } else if (parsed.name === "") {
      expect(stanza.attrs.type).toBe("result");
    }
  });

  it("has a well-formed schema", () => {
    const [xsd] = blocks("xsd");
    expect(xsd).toBeDefined();
    const schema = parseXml(xsd!.replace(/^<\?xml[^>]*\?>\s*/, "")) as Element;
    expect(schema.attrs.targetNamespace).toBe(NS.share);
  });

  it("documents every error code of the registry", async () => {
    const { ERRORS } = await import("../../protocol/errors.ts");
    for (const code of Object.keys(ERRORS)) expect(draft).toContain(`| ${code} |`);
  });
});
