/**
 * Dual-package hazard: ltx ships an ESM and a CommonJS build, and xmpp.js uses the CommonJS
 * one. If our builders made Elements of the other class, xmpp.js's iq callee would silently
 * drop every payload we return (it checks `instanceof xml.Element`).
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { buildSpaceRef } from "../../protocol/stanzas/spaces.ts";
import { Element, parseXml } from "../../protocol/xml.ts";

const require = createRequire(import.meta.url);

describe("one Element class", () => {
  it("is the class @xmpp/client and @xmpp/component use", () => {
    const clientXml = require(require.resolve("@xmpp/xml", { paths: [require.resolve("@xmpp/client")] }));
    const componentXml = require(require.resolve("@xmpp/xml", { paths: [require.resolve("@xmpp/component")] }));
    expect(buildSpaceRef("s1" as never)).toBeInstanceOf(clientXml.Element);
    expect(buildSpaceRef("s1" as never)).toBeInstanceOf(componentXml.Element);
    expect(parseXml("<a/>")).toBeInstanceOf(Element);
  });
});
