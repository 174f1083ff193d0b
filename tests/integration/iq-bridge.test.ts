/** IQs over HTTP (XEP-draft.md § 5.11) against the real router on a loopback socket. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIqBridge } from "../../component/iq-bridge.ts";
import type { BareJid } from "../../protocol/ids.ts";
import { parseStanza } from "../../protocol/stanzas/registry.ts";
import * as SE from "../../protocol/stanzas/session.ts";
import * as S from "../../protocol/stanzas/spaces.ts";
import { parseXml } from "../../protocol/xml.ts";
import { DOMAIN, makeComponent } from "./fixtures/component.ts";

const alice = "alice@example.org" as BareJid;
const bob = "bob@example.org" as BareJid;
let c: ReturnType<typeof makeComponent>;
let server: http.Server;
let url: string;

beforeAll(async () => {
  c = makeComponent();
  const bridge = createIqBridge({ router: c.router, lookup: (t) => c.deps.sessions.lookup(t), domain: DOMAIN, maxBytes: 4096, log: c.deps.log });
  server = http.createServer((req, res) => void bridge(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/iq`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function session(who: string): Promise<string> {
  return (await c.ok<SE.Session>(who, "get", SE.buildSessionRequest())).token;
}

const post = (token: string | undefined, body: string) =>
  fetch(url, { method: "POST", body, headers: token ? { authorization: `Bearer ${token}`, "content-type": "application/xml" } : {} });

describe("IQs over HTTP", () => {
  it("answers exactly what the XMPP path answers, as the token's member", async () => {
    const token = await session(`${alice}/laptop`);
    // `from` in the body is ignored: Bob cannot be impersonated.
    const res = await post(token, `<iq type='set' from='${bob}/x' id='c1'>${S.buildCreateSpace({ kind: "pair", name: "Trip", members: [bob] })}</iq>`);
    expect(res.status).toBe(200);
    const reply = parseXml(await res.text());
    expect(reply.attrs.id).toBe("c1");
    const parsed = parseStanza(reply);
    expect(parsed.context).toBe("result");
    const space = (parsed as { value: S.Space }).value;
    expect(space.owner).toBe(alice);
    // An error is an IQ error with status 200, as over XMPP.
    const err = await post(token, `<iq type='get' id='c2'><space xmlns='urn:xmpp:share:0' id='s-none'/></iq>`);
    expect(err.status).toBe(200);
    const e = parseStanza(parseXml(await err.text()));
    expect(e.context === "error" && e.error.code).toBe("not-found");
  });

  it("transport problems are HTTP errors", async () => {
    const token = await session(`${alice}/laptop`);
    expect((await post(undefined, "<iq type='get'/>")).status).toBe(401);
    expect((await post("not-a-token-at-all", "<iq type='get'/>")).status).toBe(401);
    expect((await post(token, "<iq type='get'")).status).toBe(400);
    expect((await post(token, "<message/>")).status).toBe(400);
    expect((await post(token, "<iq type='result'/>")).status).toBe(400);
    expect((await post(token, `<iq type='get'><spaces xmlns='urn:xmpp:share:0'/>${" ".repeat(5000)}</iq>`)).status).toBe(413);
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
  });

  it("a session expires", async () => {
    const token = await session(`${alice}/laptop`);
    c.advance(c.deps.config.sessionTtlMs + 1);
    expect((await post(token, "<iq type='get'><spaces xmlns='urn:xmpp:share:0'/></iq>")).status).toBe(401);
  });
});
