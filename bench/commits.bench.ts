/**
 * Commit throughput of the sharing manager (issue 3 goal: ≥ 2,000 path commits/s for 10,000
 * small files in one space) through the whole stack: a real Prosody (harness), the real
 * component process, and an xmpp.js client.
 *
 * Two paths are measured. Over HTTP (XEP-draft.md § 5.11, what a client uses for bulk):
 * 10,000 paths in commits of 500. Over XMPP: a few commits of 100 paths, which Prosody's
 * default mod_limits (10 kB/s per client) throttles, printed to show why the HTTP path exists.
 * Also prints the component's peak RSS (VmHWM) after the run.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { share, startComponentProcess } from "../tests/harness/component.ts";
import { startProsody } from "../tests/harness/prosody.ts";
import { connectClient, stopEntity } from "../tests/harness/xmpp.ts";
import type { FileVersion } from "../protocol/file.ts";
import type { BareJid, ChunkHash, ReplicaId } from "../protocol/ids.ts";
import * as I from "../protocol/stanzas/index-exchange.ts";
import { parseStanza } from "../protocol/stanzas/registry.ts";
import * as SE from "../protocol/stanzas/session.ts";
import * as SL from "../protocol/stanzas/slots.ts";
import * as S from "../protocol/stanzas/spaces.ts";
import { EMPTY, bump } from "../protocol/vv.ts";
import { Element, parseXml } from "../protocol/xml.ts";

export interface CommitsResult {
  httpPathsPerSecond: number;
  xmppPathsPerSecond: number;
  componentPeakRssMB: number;
}

function peakRssMB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function runCommitsBench(files = Number(process.env.BENCH_FILES ?? 10_000)): Promise<CommitsResult> {
  const prosody = await startProsody({ accounts: [["alice", "pw-alice"], ["bob", "pw-bob"]] });
  const comp = await startComponentProcess(prosody, { XSHARE_LOG_LEVEL: "info" });
  const alice = await connectClient(prosody, "alice", "pw-alice", "xshare-bench");
  const C = prosody.componentDomain;
  try {
    const bob = `bob@${prosody.domain}` as BareJid;
    const space = await share<S.Space>(alice, C, "set", S.buildCreateSpace({ kind: "pair", name: "Bench", members: [bob] }));
    const bytes = Buffer.from("small file\n");
    const chunk = { hash: createHash("sha256").update(bytes).digest("hex") as ChunkHash, size: bytes.length };
    const slots = await share<SL.Slots>(alice, C, "get", SL.buildSlotRequest({ space: space.id, direction: "upload", chunks: [chunk] }));
    await fetch(`${slots.url}${chunk.hash}`, { method: "PUT", body: new Uint8Array(bytes), headers: { authorization: `Bearer ${slots.token}` } });
    const replica = "bench" as ReplicaId;
    const version = (path: string, n: number): FileVersion => ({
      path, kind: "file", vector: bump(EMPTY, replica, n), hash: chunk.hash, size: chunk.size,
      mtimeMs: 1_764_061_200_000, mode: 0o644, deleted: false, replica, chunks: [chunk],
    });

    const session = await share<SE.Session>(alice, C, "get", SE.buildSessionRequest());
    const batch = 500;
    let t = performance.now();
    for (let i = 0; i < files; i += batch) {
      const changes = [];
      for (let j = i; j < Math.min(files, i + batch); j++) changes.push({ version: version(`d${j % 100}/f${j}.txt`, j + 1), base: EMPTY });
      const body = new Element("iq", { type: "set" }).cnode(I.buildCommit({ space: space.id, changes })).root().toString();
      const res = await fetch(session.url, { method: "POST", body, headers: { authorization: `Bearer ${session.token}` } });
      const reply = parseStanza(parseXml(await res.text()));
      if (reply.context !== "result") throw new Error(`commit refused: ${JSON.stringify(reply)}`);
    }
    const httpSeconds = (performance.now() - t) / 1000;
    const httpPathsPerSecond = files / httpSeconds;

    const xmppFiles = 300;
    t = performance.now();
    for (let i = 0; i < xmppFiles; i += 100) {
      const changes = [];
      for (let j = i; j < i + 100; j++) changes.push({ version: version(`x/f${j}.txt`, files + j + 1), base: EMPTY });
      await share(alice, C, "set", I.buildCommit({ space: space.id, changes }));
    }
    const xmppSeconds = (performance.now() - t) / 1000;
    const xmppPathsPerSecond = xmppFiles / xmppSeconds;
    const componentPeakRssMB = peakRssMB(comp.pid());

    console.log(`commits bench: node ${process.version}, real Prosody + component process, one space`);
    console.log(`${`over HTTP (POST /iq), ${files} paths in commits of ${batch}`.padEnd(52)} ${httpPathsPerSecond.toFixed(0).padStart(7)} paths/s  ${httpSeconds.toFixed(2)} s  ${httpPathsPerSecond >= 2000 ? "goal met (>= 2000)" : "GOAL MISSED (>= 2000)"}`);
    console.log(`${`over XMPP, ${xmppFiles} paths in commits of 100`.padEnd(52)} ${xmppPathsPerSecond.toFixed(0).padStart(7)} paths/s  ${xmppSeconds.toFixed(2)} s  (Prosody mod_limits: 10 kB/s per client)`);
    console.log(`${"component peak RSS (VmHWM)".padEnd(52)} ${componentPeakRssMB.toFixed(0).padStart(7)} MB`);
    return { httpPathsPerSecond, xmppPathsPerSecond, componentPeakRssMB };
  } finally {
    await stopEntity(alice);
    await comp.destroy();
    await prosody.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runCommitsBench();
