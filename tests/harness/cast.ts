// The patent's cast on a real stack, for the figure scenarios (tests/e2e/fig*.test.ts) and the demo
// (scripts/demo.ts): a harness Prosody with one account per person, the real sharing manager
// process, and one `xshare` home (one device) per person under a single directory:
//
//   <root>/<name>/            the device's --home (config.json, state.sqlite)
//   <root>/<name>/Sharing/    its sharing root, laid out as the patent's FIG. 3 by `xshare accept`
//
// Everything runs as real processes; the only XMPP spoken here is `chat()`, a plain client that
// stands for a person's ordinary chat client (to show what contacts and other resources learn).
// For looking, not acting: the sharing manager's and each device's SQLite databases are read
// (read-only), and Prosody's debug log tells what it routed (`routed()`). `close()` stops what
// it started; the harnesses it builds on kill their children if the process dies first.

import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Client, xml } from "@xmpp/client";
import Database from "better-sqlite3";
import { type VersionVector, decode, digest, mergeAll } from "../../protocol/vv.ts";
import { type CliResult, type DaemonProcess, ok, startDaemon, xshare } from "./cli.ts";
import { type ComponentProcess, startComponentProcess } from "./component.ts";
import { type ProsodyHandle, startProsody } from "./prosody.ts";
import { connectClient, stopEntity } from "./xmpp.ts";

export interface CastOptions {
  /** Where the homes go (created if missing); default a fresh temporary directory, removed by close(). */
  root?: string;
  /** Environment for the sharing manager process (e.g. its log level). */
  componentEnv?: Record<string, string>;
  /** Arguments for every `xshare run` (default: a 100 ms delay and a 2 s keepalive). */
  daemonArgs?: string[];
  /** Prosody's log level (default info); "debug" logs every stanza's top tag (see `routed`). */
  prosodyLogLevel?: "debug" | "info";
}

/**
 * A person's ordinary XMPP chat client (plain xmpp.js, resource of its own): available,
 * accepts every subscription request, and records every stanza it receives, so that a test can
 * show what a contact or the user's other clients do (not) learn.
 */
export interface ChatClient {
  readonly xmpp: Client;
  /** Its full JID. */
  readonly jid: string;
  /** Every stanza received so far, as XML text, in order. */
  readonly heard: string[];
}

export interface Cast {
  readonly prosody: ProsodyHandle;
  readonly component: ComponentProcess;
  readonly root: string;
  /** name → bare JID (adam → adam@example.org). */
  jid(name: string): string;
  /** The person's device home (their `--home`). */
  home(name: string): string;
  /** A path under the person's sharing root (FIG. 3 layout): sharing("bob", "Groups", "Family"). */
  sharing(name: string, ...parts: string[]): string;
  /** `xshare <args>` for the person; throws with the output unless it exits 0. */
  run(name: string, args: string[]): Promise<string>;
  /** `xshare accept <space>` (FIG. 3 layout) for the person; resolves the folder it chose. */
  accept(name: string, space: string): Promise<string>;
  /**
   * `owner` shares a new folder Pairs/<other's JID>/<label> with `other` (`xshare share --with`),
   * who accepts it: the space id and both folders.
   */
  pair(owner: string, other: string, label: string): Promise<{ space: string; owner: string; other: string }>;
  /** `xshare <args>` for the person, whatever the exit code. */
  try(name: string, args: string[]): Promise<CliResult>;
  /** Starts (or restarts) the person's `xshare run`: they come online (`env`: more variables, e.g. XSHARE_CLOCK_OFFSET_MS). */
  online(name: string, args?: string[], env?: Record<string, string>): Promise<DaemonProcess>;
  /** Stops the person's `xshare run` (SIGTERM): they go offline. Resolves to its exit code. */
  offline(name: string): Promise<number | null>;
  /** The person's running daemon, if any. */
  daemon(name: string): DaemonProcess | undefined;
  /** Polls `check` until it holds; fails after `ms` with every daemon's output. */
  eventually(what: string, check: () => Promise<boolean> | boolean, ms?: number): Promise<void>;
  /** Logs the person in with a plain chat client (`resource`, default "chat"); stopped by close(). */
  chat(name: string, resource?: string): Promise<ChatClient>;
  /** Mutual presence subscription between two people, through their chat clients (a roster contact). */
  befriend(a: ChatClient, b: ChatClient): Promise<void>;
  /** The SNMs the sharing manager keeps for offline members, from its database: `member space` strings. */
  pendingSnms(): string[];
  /** Reads the sharing manager's metadata database (read-only) with `fn`. */
  componentDb<T>(fn: (db: Database.Database) => T): T;
  /** The person's device vector for a space (its state database): what its SNMs carry. */
  deviceVector(name: string, space: string): VersionVector;
  /** The digest of the person's device vector for a space, as its presence announces it. */
  deviceDigest(name: string, space: string): string;
  /** The digest of the sharing manager's vector for a space (merge of its current versions). */
  componentDigest(space: string): string;
  /** Every stanza Prosody routed to or from a session so far (needs `prosodyLogLevel: "debug"`). */
  routed(): Promise<Routed[]>;
  /** Stops every daemon, the sharing manager and Prosody; removes a temporary root. */
  close(): Promise<void>;
}

const PASSWORD = (name: string) => `${name}-xshare-pw`;

/** A person's account password, for a test that logs their device in again itself (e.g. with
 *  another `--service`: through a proxy). */
export const castPassword = (name: string): string => PASSWORD(name);

/** Starts Prosody with an account per name, the sharing manager, and logs every person in. */
export async function startCast(names: readonly string[], opts: CastOptions = {}): Promise<Cast> {
  const prosody = await startProsody({ accounts: names.map((n) => [n, PASSWORD(n)] as [string, string]), ...(opts.prosodyLogLevel ? { logLevel: opts.prosodyLogLevel } : {}) });
  let component: ComponentProcess | undefined;
  const root = opts.root ?? (await mkdtemp(path.join(tmpdir(), "xshare-cast-")));
  const daemons = new Map<string, DaemonProcess>();
  const chats: ChatClient[] = [];
  const daemonArgs = opts.daemonArgs ?? ["--delay", "100", "--keepalive", "2"];
  const known = (name: string) => {
    if (!names.includes(name)) throw new Error(`${name} is not in the cast (${names.join(", ")})`);
    return name;
  };
  const home = (name: string) => path.join(root, known(name));
  const jid = (name: string) => `${known(name)}@${prosody.domain}`;
  const close = async () => {
    for (const d of daemons.values()) await d.stop("SIGTERM");
    daemons.clear();
    for (const c of chats.splice(0)) await stopEntity(c.xmpp);
    await component?.destroy();
    await prosody.stop();
    if (!opts.root) await rm(root, { recursive: true, force: true });
  };
  try {
    component = await startComponentProcess(prosody, opts.componentEnv ?? {});
    await mkdir(root, { recursive: true });
    for (const name of names) {
      await ok(home(name), ["login", jid(name), "--password-stdin", "--service", prosody.service, "--device", `${name}-pc`], { input: `${PASSWORD(name)}\n` });
    }
  } catch (err) {
    await close();
    throw err;
  }
  const comp = component;
  const readDb = <T>(file: string, fn: (db: Database.Database) => T): T => {
    const db = new Database(file, { readonly: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  // The same rule as client/state.ts ClientState.vector (a NULL column: merge of the recorded versions).
  const deviceVector = (name: string, space: string): VersionVector =>
    readDb(path.join(home(name), "state.sqlite"), (db) => {
      const r = db.prepare("SELECT vector FROM spaces WHERE id = ?").get(space) as { vector: Buffer | null } | undefined;
      if (!r) throw new Error(`${name}'s device does not hold space ${space}`);
      if (r.vector) return decode(r.vector);
      return mergeAll((db.prepare("SELECT vector FROM entries WHERE space = ?").all(space) as Array<{ vector: Buffer }>).map((e) => decode(e.vector)));
    });
  const componentDb = <T>(fn: (db: Database.Database) => T): T => readDb(path.join(comp.dataDir, "metadata.sqlite"), fn);
  const until = async (what: string, check: () => boolean, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    prosody,
    component: comp,
    root,
    jid,
    home,
    sharing: (name, ...parts) => path.join(home(name), "Sharing", ...parts),
    run: (name, args) => ok(home(name), args),
    // accept prints `<space> → <folder>`.
    accept: async (name, space) => (await ok(home(name), ["accept", space])).trim().split(" → ")[1]!,
    pair: async (owner, other, label) => {
      const folder = path.join(home(owner), "Sharing", "Pairs", jid(other), label);
      await mkdir(folder, { recursive: true });
      const space = (await ok(home(owner), ["share", folder, "--with", jid(other)])).trim();
      const otherFolder = (await ok(home(other), ["accept", space])).trim().split(" → ")[1]!;
      return { space, owner: folder, other: otherFolder };
    },
    try: (name, args) => xshare(home(name), args),
    online: async (name, args = daemonArgs, env = {}) => {
      await daemons.get(name)?.stop("SIGTERM");
      const d = await startDaemon(home(name), args, env);
      daemons.set(name, d);
      return d;
    },
    offline: async (name) => {
      const d = daemons.get(known(name));
      daemons.delete(name);
      return d ? d.stop("SIGTERM") : null;
    },
    daemon: (name) => daemons.get(name),
    chat: async (name, resource = "chat") => {
      const xmpp = await connectClient(prosody, known(name), PASSWORD(name), resource);
      const c: ChatClient = { xmpp, jid: `${jid(name)}/${resource}`, heard: [] };
      chats.push(c);
      xmpp.on("stanza", (st) => {
        c.heard.push(st.toString());
        if (st.is("presence") && st.attrs.type === "subscribe") void xmpp.send(xml("presence", { to: st.attrs.from, type: "subscribed" }));
      });
      await xmpp.send(xml("presence"));
      return c;
    },
    befriend: async (a, b) => {
      const bare = (c: ChatClient) => c.jid.slice(0, c.jid.indexOf("/"));
      const sees = (c: ChatClient, other: ChatClient) => () => c.heard.some((s) => s.startsWith("<presence") && s.includes(`from="${other.jid}"`) && !s.includes('type="'));
      await a.xmpp.send(xml("presence", { to: bare(b), type: "subscribe" }));
      await until(`${bare(a)} sees ${bare(b)}'s presence`, sees(a, b));
      await b.xmpp.send(xml("presence", { to: bare(a), type: "subscribe" }));
      await until(`${bare(b)} sees ${bare(a)}'s presence`, sees(b, a));
    },
    pendingSnms: () =>
      componentDb((db) => (db.prepare("SELECT member, space_id FROM pending_snms ORDER BY member, space_id").all() as Array<{ member: string; space_id: string }>).map((r) => `${r.member} ${r.space_id}`)),
    componentDb,
    deviceVector,
    deviceDigest: (name, space) => digest(deviceVector(name, space)),
    routed: async () => {
      if (opts.prosodyLogLevel !== "debug") throw new Error("routed() needs startCast(..., { prosodyLogLevel: \"debug\" })");
      return parseRouted(await readFile(prosody.logFile, "utf8"), prosody.componentDomain);
    },
    componentDigest: (space) =>
      componentDb((db) => digest(mergeAll((db.prepare("SELECT vector FROM entries WHERE space_id = ?").all(space) as Array<{ vector: Buffer }>).map((e) => decode(e.vector))))),
    eventually: async (what, check, ms = 30_000) => {
      const until = Date.now() + ms;
      for (;;) {
        if (await Promise.resolve().then(check).catch(() => false)) return;
        if (Date.now() > until) {
          const logs = [...daemons].map(([n, d]) => `--- ${n}'s xshare run\n${d.output()}`).join("\n");
          throw new Error(`${what}: not within ${ms} ms\n${logs}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close,
  };
}

/** A check for `eventually`: the file exists with exactly this content. */
export function hasContent(file: string, content: string | Buffer): () => Promise<boolean> {
  const want = typeof content === "string" ? Buffer.from(content) : content;
  return () => readFile(file).then((b) => b.equals(want), () => false);
}

/**
 * A stanza as Prosody's debug log shows it (its top tag, no payload): `in` when a session sent it
 * to the server, `out` when the server delivered it to the session. `session` is the full JID the
 * client session bound, or the component's domain.
 */
export interface Routed {
  readonly dir: "in" | "out";
  readonly session: string;
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
}

const unescapeXml = (s: string) => s.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** Reads Prosody's debug log (`Received[c2s]: <iq …>`, `Sending[c2s]: …`, `Resource bound: …`). */
export function parseRouted(log: string, componentDomain: string): Routed[] {
  const bound = new Map<string, string>();
  const out: Routed[] = [];
  for (const line of log.split("\n")) {
    const m = /^\S+ \d+ \S+ (\S+)\tdebug\t(.*)$/.exec(line);
    if (!m) continue;
    const [, id, text] = m as unknown as [string, string, string];
    const b = /^Resource bound: (\S+)$/.exec(text);
    if (b) {
      bound.set(id, b[1]!);
      continue;
    }
    const st = /^(Received|Sending)\[(c2s|component)\]: <([a-z]+)((?: [^=\s]+='[^']*')*)\s*\/?>$/.exec(text);
    if (!st) continue;
    const session = st[2] === "component" ? componentDomain : bound.get(id);
    if (!session) continue;
    const attrs: Record<string, string> = {};
    for (const a of st[4]!.matchAll(/ ([^=\s]+)='([^']*)'/g)) attrs[a[1]!] = unescapeXml(a[2]!);
    out.push({ dir: st[1] === "Received" ? "in" : "out", session, name: st[3]!, attrs });
  }
  return out;
}

/** One `xshare run` log line about a finished sync session of a space. */
export interface SyncLine {
  readonly status: string;
  readonly sent: number;
  readonly received: number;
  readonly line: string;
}

/**
 * The sync sessions a daemon reported for a space in `output` (e.g. `daemon.output().slice(mark)`),
 * in order: every session the daemon runs ends with one line `<space>: <status>, N sent, M received`.
 */
export function syncLines(output: string, space: string): SyncLine[] {
  const re = new RegExp(`^\\S+ ${space.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ([a-z-]+)[^\n]*?, (\\d+) sent, (\\d+) received.*$`, "gm");
  return [...output.matchAll(re)].map((m) => ({ status: m[1]!, sent: Number(m[2]), received: Number(m[3]), line: m[0] }));
}
