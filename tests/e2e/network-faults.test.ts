/**
 * Faults (issue 7, row 10): the network between Bob's `xshare run` and his server fails, through
 * a loopback TCP proxy of our own (tests/harness/tcp-proxy.ts) that Bob's device logged in
 * through; Adam's XMPP link and the sharing manager's stay direct. The sharing manager's HTTP
 * (where every sync request and chunk goes) sits behind a second proxy, for everyone: it has one
 * public URL. Adam and Bob both keep changing their shared folder during each fault, and after:
 *
 *   a. Bob's XMPP link is cut for a few seconds (connections closed, new ones refused), healed;
 *   b. every chunk each way is 300 ms late, on Bob's XMPP link and on HTTP, during transfers;
 *      then on time again;
 *   c. Bob's XMPP link is reset (RST) in the middle of something the server is sending him;
 *   d. Bob's XMPP link becomes a black hole: nothing gets through either way and neither side is
 *      told (no FIN, no RST), long enough for a reconnect attempt to be swallowed too; healed.
 *      Only the client's own liveness check (an XEP-0199 ping after a keepalive period of
 *      silence, client/xmpp-connection.ts) can notice; TCP alone would take ~15 minutes.
 *
 * Each time, Bob's daemon survives (same process), says it lost the session and came back by
 * itself (where there was a loss), and both folders converge on exactly what was last written,
 * with Bob's device vector, Adam's and the sharing manager's equal. "Bounded time" is the
 * `eventually` bound (CONVERGE_MS), deliberately generous for a shared two-core machine: what
 * it catches is a sync that never resumes, not a slow one.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cast, castPassword, startCast, syncLines } from "../harness/cast.ts";
import { ok } from "../harness/cli.ts";
import { type TcpProxy, startProxy } from "../harness/tcp-proxy.ts";

const CONVERGE_MS = 60_000;
const RECONNECTED = /disconnected[^\n]*reconnecting\n[^]*online as /;

let cast: Cast;
let proxy: TcpProxy;
let httpProxy: TcpProxy;
let space = "";
const folders: Record<"adam" | "bob", string> = { adam: "", bob: "" };
/** What each file of the space was last written as, by whoever wrote it. */
const expected: Record<string, string> = {};

async function write(who: "adam" | "bob", file: string, text: string): Promise<void> {
  await writeFile(path.join(folders[who], file), text);
  expected[file] = text;
}

/** Files of a folder (not the client's state) and their contents, sorted by path. */
async function tree(dir: string): Promise<string> {
  const out: Array<[string, string]> = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(dir, path.join(e.parentPath, e.name));
    if (e.isFile() && !rel.startsWith(".xshare")) out.push([rel, await readFile(path.join(dir, rel), "utf8")]);
  }
  return JSON.stringify(out.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Both folders hold exactly `expected`, and both devices' vectors are the sharing manager's. */
async function converge(what: string): Promise<void> {
  const want = JSON.stringify(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1)));
  await cast.eventually(
    `${what}: both folders hold what was last written, and every vector agrees`,
    async () =>
      (await tree(folders.adam)) === want &&
      (await tree(folders.bob)) === want &&
      cast.deviceDigest("adam", space) === cast.componentDigest(space) &&
      cast.deviceDigest("bob", space) === cast.componentDigest(space),
    CONVERGE_MS,
  );
}

/** Bob's daemon is the very process started in beforeAll, and still alive. */
function bobStillRuns(pid: number): void {
  expect(cast.daemon("bob")?.pid).toBe(pid);
  expect(() => process.kill(pid, 0), "Bob's xshare run exited").not.toThrow();
}

let bobPid = 0;

beforeAll(async () => {
  // The sharing manager's HTTP port is chosen here so that its public URL can name the proxy
  // (a port taken by someone else in between fails the start: rare, and loud).
  const httpPort = await freePort();
  httpProxy = await startProxy("127.0.0.1", httpPort);
  cast = await startCast(["adam", "bob"], { componentEnv: { XSHARE_HTTP_LISTEN: `127.0.0.1:${httpPort}`, XSHARE_PUBLIC_URL: `http://127.0.0.1:${httpProxy.port}/` } });
  proxy = await startProxy("127.0.0.1", cast.prosody.c2sPort);
  // Bob's device logs in again through the proxy (same device name: same replica); `xshare run`
  // takes its server from what login stored.
  await ok(cast.home("bob"), ["login", cast.jid("bob"), "--password-stdin", "--service", `xmpp://127.0.0.1:${proxy.port}`, "--device", "bob-pc"], { input: `${castPassword("bob")}\n` });
  folders.adam = cast.sharing("adam", "Trip");
  await mkdir(folders.adam, { recursive: true });
  await write("adam", "plan.txt", "day 1: museum\n");
  space = (await cast.run("adam", ["share", folders.adam, "--with", cast.jid("bob")])).trim();
  folders.bob = await cast.accept("bob", space);
  await cast.online("adam");
  bobPid = (await cast.online("bob")).pid;
  await write("bob", "bob-list.txt", "socks\n");
  await converge("before any fault");
}, 90_000);

afterAll(async () => {
  // The daemons first, while their links still work, so that they stop as they normally do.
  try {
    await cast?.close();
  } finally {
    await proxy?.close();
    await httpProxy?.close();
  }
});

describe("the network between Bob's client and the server fails, then heals", () => {
  it("a. cut for a few seconds while both change files: Bob's client reconnects and both converge", async () => {
    const bob = cast.daemon("bob")!;
    const mark = bob.output().length;
    proxy.cut();
    await cast.eventually("Bob's client notices the cut", () => /disconnected/.test(bob.output().slice(mark)), 20_000);
    await write("adam", "plan.txt", "day 1: museum\nday 2: beach (cut)\n");
    await write("adam", "adam-cut.txt", "written by Adam while Bob's link was cut\n");
    await write("bob", "bob-list.txt", "socks\nsunscreen (cut)\n");
    await write("bob", "bob-cut.txt", "written by Bob while his link was cut\n");
    await new Promise((r) => setTimeout(r, 3_000));
    bobStillRuns(bobPid);
    proxy.heal();
    await converge("after the cut healed");
    expect(bob.output().slice(mark)).toMatch(RECONNECTED);
    bobStillRuns(bobPid);
  }, 90_000);

  it("b. 300 ms each way during transfers: both converge; then on time again, they still do", async () => {
    const bob = cast.daemon("bob")!;
    const mark = bob.output().length;
    proxy.delay(300);
    httpProxy.delay(300);
    try {
      for (let i = 0; i < 3; i++) {
        await write("adam", `adam-slow-${i}.txt`, `Adam, slow link, file ${i}\n`.repeat(200 + i));
        await write("bob", `bob-slow-${i}.txt`, `Bob, slow link, file ${i}\n`.repeat(300 + i));
        await new Promise((r) => setTimeout(r, 400));
      }
      await write("adam", "plan.txt", "day 1: museum\nday 2: beach\nday 3: hills (slow)\n");
      await converge("with 300 ms each way");
      // Bob's client did send and fetch through the slow link (sessions may batch the files; a
      // session's line comes just after what it wrote, so it is waited for too).
      const total = (k: "sent" | "received") => syncLines(bob.output().slice(mark), space).reduce((n, l) => n + l[k], 0);
      await cast.eventually("Bob's client reports what it sent and fetched", () => total("sent") >= 3 && total("received") >= 4, CONVERGE_MS);
      // A slow link is not a lost one: the session lived through it.
      expect(bob.output().slice(mark)).not.toMatch(/disconnected/);
    } finally {
      proxy.delay(0);
      httpProxy.delay(0);
    }
    await write("bob", "bob-list.txt", "socks\nsunscreen\nhat (fast again)\n");
    await write("adam", "adam-fast.txt", "Adam, link on time again\n");
    await converge("after the delay was removed");
    bobStillRuns(bobPid);
  }, 90_000);

  it("c. reset in the middle of what the server sends Bob: his client reconnects by itself and both converge", async () => {
    const bob = cast.daemon("bob")!;
    const mark = bob.output().length;
    // Adam's change makes the server send Bob something at once (the SNM, or the manager's
    // presence): that is the chunk torn in half before the RST.
    proxy.resetMidStream();
    await write("adam", "adam-reset.txt", "written by Adam as Bob's link was reset\n");
    await cast.eventually("Bob's client notices the reset", () => /disconnected/.test(bob.output().slice(mark)), 20_000);
    await write("bob", "bob-reset.txt", "written by Bob just after the reset\n");
    await converge("after the reset");
    expect(bob.output().slice(mark)).toMatch(RECONNECTED);
    bobStillRuns(bobPid);
  }, 90_000);

  it("d. black hole (no FIN, no RST) while both change files: Bob's client notices by itself, reconnects after the heal, and both converge", async () => {
    const bob = cast.daemon("bob")!;
    const mark = bob.output().length;
    proxy.blackhole();
    // Adam's change makes the server send Bob an SNM (or the manager's presence): swallowed.
    await write("adam", "plan.txt", "day 1: museum\nday 2: beach\nday 3: hills\nday 4: lake (black hole)\n");
    await write("adam", "adam-blackhole.txt", "written by Adam while Bob's link was a black hole\n");
    // Nothing reaches Bob's client, not even an end: only its ping, unanswered, can tell it.
    // (cast: --keepalive 2, so a ping after 2 s of silence, given up 5 s later.)
    await cast.eventually("Bob's client notices the black hole by itself", () => /disconnected/.test(bob.output().slice(mark)), 30_000);
    await write("bob", "bob-list.txt", "socks\nsunscreen\nhat (fast again)\ntowel (black hole)\n");
    await write("bob", "bob-blackhole.txt", "written by Bob while his link was a black hole\n");
    // Still dark for a while: the first reconnect attempt (1 s after the loss) is swallowed too,
    // and stays so after the heal; the client must give up on it by itself as well.
    await new Promise((r) => setTimeout(r, 3_000));
    bobStillRuns(bobPid);
    expect(bob.output().slice(mark)).not.toMatch(/online as /);
    proxy.heal();
    await converge("after the black hole healed");
    expect(bob.output().slice(mark)).toMatch(RECONNECTED);
    // Files travel over HTTP, which was never dark: what shows that Bob's XMPP session is a live
    // one again, not the dead one, is hearing of a change he has no reason of his own to look for.
    await write("adam", "adam-after.txt", "written by Adam after the black hole healed\n");
    await converge("Adam's change after the heal, which only an SNM or presence can tell Bob of");
    bobStillRuns(bobPid);
  }, 90_000);
});

/** A loopback port free right now (for a listener that cannot be given port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
