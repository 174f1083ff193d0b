/**
 * Hostile XML (issue 7, row 3) against the real stack: Mallory, an ordinary account on the
 * server, sends the sharing manager and Alice's running sharing client a stanza over the size
 * limit, 10,000 levels of nesting, 100,000 attributes, a DOCTYPE with entity declarations and an
 * unterminated element, over XMPP and (to the sharing manager) over HTTP `POST /iq`. Each is
 * refused, with a stream error (from Prosody, whose limits are the deployment's), a stanza
 * error, or an HTTP 4xx; neither process grows by more than a bounded amount of memory, and
 * both go on serving Alice and Bob: a file still travels between them afterwards.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Session, buildSessionRequest } from "../../protocol/stanzas/session.ts";
import { type DaemonProcess, ok, startDaemon } from "../harness/cli.ts";
import { type ComponentProcess, share, startComponentProcess } from "../harness/component.ts";
import { type ProsodyHandle, startProsody } from "../harness/prosody.ts";
import { connectClient, stopEntity, type WithErrors } from "../harness/xmpp.ts";

const PW = "pass-word";
let prosody: ProsodyHandle;
let comp: ComponentProcess;
let root: string;
let alice: DaemonProcess;
let bob: DaemonProcess;
const homes: Record<string, string> = {};
const jid = (u: string) => `${u}@${prosody.domain}`;

/** Resident memory of a process, in MB (VmRSS). */
async function rssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

const nested = (depth: number) => "<a>".repeat(depth) + "</a>".repeat(depth);
const manyAttributes = (n: number) => `<a ${Array.from({ length: n }, (_, i) => `a${i}="1"`).join(" ")}/>`;
const DOCTYPE = '<!DOCTYPE iq [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>';

/** What sendRaw needs of an xmpp.js client: its raw write, and its events. */
interface RawEntity {
  write(text: string): Promise<void>;
  on(event: string, fn: (arg: never) => void): unknown;
  off(event: string, fn: (arg: never) => void): unknown;
}
interface AnyStanza {
  attrs: Record<string, string>;
  getChild(name: string): { children: Array<string | { name: string }> } | undefined;
}

/**
 * Mallory writes `inner` inside an IQ get to `to`, as raw text, and says what came of it: the
 * IQ's answer ("iq error bad-request"), a stream error from the server ("stream error
 * policy-violation"), or "no answer" within `ms`.
 */
async function sendRaw(mallory: WithErrors<Client>, to: string, inner: string, ms = 10_000): Promise<string> {
  const raw = mallory as unknown as RawEntity;
  const id = `hostile-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    // A write cut short by the server closing the stream (after its stream error) is not the
    // outcome: the stream error is, and it may be read after the write failed.
    let writeFailed = "";
    const done = (what: string) => {
      clearTimeout(timer);
      raw.off("stanza", onStanza);
      raw.off("error", onError);
      resolve(what);
    };
    const onStanza = (s: AnyStanza) => {
      if (s.attrs.id !== id) return;
      const condition = s.getChild("error")?.children.find((c) => typeof c !== "string");
      done(`iq ${s.attrs.type}${condition && typeof condition !== "string" ? ` ${condition.name}` : ""}`);
    };
    // Only a stream error from the server is an outcome; a socket error as it closes is not.
    const onError = (err: Error & { condition?: string }) => {
      if (err.condition) done(`stream error ${err.condition}`);
      else writeFailed ||= err.message;
    };
    const timer = setTimeout(() => done(writeFailed ? `write failed ${writeFailed}` : "no answer"), ms);
    raw.on("stanza", onStanza);
    raw.on("error", onError);
    raw.write(`<iq type="get" id="${id}" to="${to}">${inner}</iq>`).catch((err: Error) => (writeFailed = err.message));
  });
}

beforeAll(async () => {
  // The deployment's c2s rate limit (10 kB/s) would make a 1 MB stanza take minutes to arrive;
  // raised here so that what is tested is the size limit, not the throttle.
  prosody = await startProsody({ accounts: [["alice", PW], ["bob", PW], ["mallory", PW]], c2sRate: "10mb/s" });
  comp = await startComponentProcess(prosody, { XSHARE_LOG_LEVEL: "info" });
  root = await mkdtemp(path.join(tmpdir(), "xshare-hostile-"));
  for (const [u, device] of [["alice", "laptop"], ["bob", "phone"]] as const) {
    homes[u] = path.join(root, u);
    await ok(homes[u]!, ["login", jid(u), "--password-stdin", "--service", prosody.service, "--device", device], { input: `${PW}\n` });
  }
  await mkdir(path.join(root, "alice-trip"));
  const space = (await ok(homes.alice!, ["share", path.join(root, "alice-trip"), "--with", jid("bob")])).trim();
  await ok(homes.bob!, ["accept", space, path.join(root, "bob-trip")]);
  alice = await startDaemon(homes.alice!, ["--delay", "100", "--keepalive", "2"]);
  bob = await startDaemon(homes.bob!, ["--delay", "100", "--keepalive", "2"]);
}, 120_000);

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await comp?.destroy();
  await prosody?.stop();
  await rm(root, { recursive: true, force: true });
});

async function travels(name: string): Promise<void> {
  await writeFile(path.join(root, "alice-trip", name), `${name}\n`);
  const until = Date.now() + 30_000;
  while ((await readFile(path.join(root, "bob-trip", name), "utf8").catch(() => "")) !== `${name}\n`) {
    if (Date.now() > until) throw new Error(`${name} did not reach Bob:\n${alice.output()}\n${bob.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("hostile XML from an ordinary account", () => {
  it("over XMPP: each stanza is refused with a stream or stanza error; the sharing manager and Alice's client go on", async () => {
    await travels("before.txt");
    const targets = { component: prosody.componentDomain, client: `${jid("alice")}/xshare-laptop` };
    const before = { component: await rssMB(comp.pid()!), client: await rssMB(alice.pid) };
    const cases: Array<[string, string, RegExp]> = [
      ["a payload nobody serves (control)", "<a xmlns='urn:example:nothing'/>", /^iq error service-unavailable$/],
      ["a stanza over the size limit", `<spaces xmlns="urn:xmpp:share:0">${"x".repeat(300 * 1024)}</spaces>`, /^stream error policy-violation$/],
      ["10,000 levels of nesting", nested(10_000), /^iq error bad-request$/],
      ["10,000 levels inside a protocol request", `<spaces xmlns="urn:xmpp:share:0">${nested(10_000)}</spaces>`, /^iq error bad-request$/],
      ["100,000 attributes", manyAttributes(100_000), /^stream error policy-violation$/],
      ["a DOCTYPE with entity declarations", `${DOCTYPE}<a>&b;</a>`, /^stream error (not-well-formed|restricted-xml)$/],
      ["an element closed by the wrong end tag", "<spaces xmlns='urn:xmpp:share:0'><x>", /^stream error not-well-formed$/],
    ];
    const seen: Record<string, string> = {};
    for (const [target, to] of Object.entries(targets)) {
      for (const [what, inner] of cases) {
        const mallory = await connectClient(prosody, "mallory", PW, `m-${target}`);
        try {
          seen[`${target}: ${what}`] = await sendRaw(mallory, to, inner);
        } finally {
          await stopEntity(mallory);
        }
      }
    }
    // Prosody (with the deployment's limits) cuts Mallory's stream for what is too large or not
    // XMPP's XML; what it lets through, the sharing manager and the client answer themselves.
    const want = Object.fromEntries(Object.keys(targets).flatMap((t) => cases.map(([what, , re]) => [`${t}: ${what}`, expect.stringMatching(re)])));
    expect(seen).toEqual(want);
    await travels("after.txt");
    expect(comp.pid()).toBeDefined();
    expect(await rssMB(comp.pid()!) - before.component).toBeLessThan(64);
    expect(await rssMB(alice.pid) - before.client).toBeLessThan(64);
  }, 120_000);

  it("over HTTP POST /iq: refused with 400 or 413, nothing else happens", async () => {
    const mallory = await connectClient(prosody, "mallory", PW, "m-http");
    const session = await share<Session>(mallory, prosody.componentDomain, "get", buildSessionRequest());
    await stopEntity(mallory);
    const before = await rssMB(comp.pid()!);
    const post = (body: string) => fetch(session.url, { method: "POST", body, headers: { authorization: `Bearer ${session.token}`, "content-type": "application/xml" } }).then(async (r) => `${r.status} ${(await r.text()).trim()}`);
    const outcomes = {
      nested: await post(`<iq type="get" xmlns="jabber:client"><spaces xmlns="urn:xmpp:share:0">${nested(10_000)}</spaces></iq>`),
      attributes: await post(`<iq type="get" xmlns="jabber:client">${manyAttributes(100_000)}</iq>`),
      doctype: await post(`${DOCTYPE}<iq type="get" xmlns="jabber:client"><spaces xmlns="urn:xmpp:share:0">&b;</spaces></iq>`),
      unterminated: await post(`<iq type="get" xmlns="jabber:client"><spaces xmlns="urn:xmpp:share:0">`),
      // Refused from Content-Length alone, before any body is sent (sending 64 MiB to a server
      // that has already answered and closed races with that close).
      huge: await new Promise<string>((resolve, reject) => {
        const req = http.request(session.url, { method: "POST", headers: { authorization: `Bearer ${session.token}`, "content-length": 64 << 20 } });
        req.on("response", (res) => {
          let body = "";
          res.on("data", (b: Buffer) => (body += b.toString()));
          res.on("end", () => {
            resolve(`${res.statusCode} ${body.trim()}`);
            req.destroy();
          });
        });
        req.on("error", reject);
        req.flushHeaders();
      }),
    };
    expect(outcomes).toEqual({
      nested: expect.stringMatching(/^200 <iq [^>]*type="error"><error type="modify"><bad-request /),
      attributes: expect.stringMatching(/^200 <iq [^>]*type="error"><error type="(cancel|wait)"><service-unavailable /),
      doctype: "400 Body is not well-formed XML",
      unterminated: "400 Body is not well-formed XML",
      huge: expect.stringMatching(/^413 Body over \d+ bytes$/),
    });
    expect(await rssMB(comp.pid()!) - before).toBeLessThan(64);
    await travels("after-http.txt");
  }, 120_000);
});
