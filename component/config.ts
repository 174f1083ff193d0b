/**
 * Configuration of `xshare-component`: defaults, then a JSON file (`--config FILE`), then
 * environment variables (`XSHARE_*`), each later source overriding the earlier.
 *
 * A missing or malformed setting is a `ConfigError` whose message is one line naming the
 * setting and where it came from; the CLI prints it and exits 2.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface Limits {
  /** Largest chunk accepted over HTTP. */
  readonly maxChunkBytes: number;
  /** Largest file a commit may name. */
  readonly maxFileBytes: number;
  /** Sum of current file sizes per space. */
  readonly spaceQuotaBytes: number;
  /** Sum of stored chunk bytes first uploaded by one account. */
  readonly userQuotaBytes: number;
  /** Largest body of an IQ over HTTP (`POST /iq`). */
  readonly maxIqBytes: number;
}

/** The web interface's sign-in and sessions (component/web/, README "Web interface"). */
export interface WebSettings {
  /** A web session unused this long ends (XSHARE_WEB_IDLE_SECONDS, default 30 min). */
  readonly idleMs: number;
  /** A web session ends this long after sign-in, used or not (XSHARE_WEB_SESSION_SECONDS, default 12 h). */
  readonly maxMs: number;
  /** How long a sign-in waits for the user's sharing client to confirm (XSHARE_WEB_CONFIRM_SECONDS, default 2 min). */
  readonly confirmMs: number;
  /** How long a one-time sign-in link of `xshare web-login` stays valid (XSHARE_WEB_LINK_SECONDS, default 5 min). */
  readonly linkMs: number;
}

export interface ComponentConfig {
  readonly domain: string;
  readonly secret: string;
  readonly service: string;
  readonly dataDir: string;
  readonly httpHost: string;
  readonly httpPort: number;
  /** Base URL clients are told to use, ending in `/`. */
  readonly publicUrl: string;
  /** `publicUrl` + `chunks/`: the base of every slot URL. */
  readonly chunkUrl: string;
  readonly limits: Limits;
  readonly tokenTtlMs: number;
  /** Lifetime of a session token for IQs over HTTP. */
  readonly sessionTtlMs: number;
  readonly gcIntervalMs: number;
  /** An uploaded chunk no commit names is kept this long before it may be reclaimed. */
  readonly gcGraceMs: number;
  readonly logLevel: string;
  readonly web: WebSettings;
}

type Source = Record<string, unknown>;

/** Each setting: its JSON key, its environment variable, and how to read it. */
const SETTINGS = {
  domain: { env: "XSHARE_COMPONENT_DOMAIN", kind: "domain" },
  secret: { env: "XSHARE_COMPONENT_SECRET", kind: "secret" },
  service: { env: "XSHARE_XMPP_SERVICE", kind: "service", dflt: "xmpp://127.0.0.1:5347" },
  dataDir: { env: "XSHARE_DATA_DIR", kind: "string" },
  http: { env: "XSHARE_HTTP_LISTEN", kind: "listen", dflt: "127.0.0.1:5290" },
  publicUrl: { env: "XSHARE_PUBLIC_URL", kind: "url", dflt: "" },
  maxChunkBytes: { env: "XSHARE_MAX_CHUNK_BYTES", kind: "bytes", dflt: 4 * 2 ** 20 },
  maxFileBytes: { env: "XSHARE_MAX_FILE_BYTES", kind: "bytes", dflt: 64 * 2 ** 30 },
  spaceQuotaBytes: { env: "XSHARE_SPACE_QUOTA_BYTES", kind: "bytes", dflt: 100 * 2 ** 30 },
  userQuotaBytes: { env: "XSHARE_USER_QUOTA_BYTES", kind: "bytes", dflt: 100 * 2 ** 30 },
  maxIqBytes: { env: "XSHARE_MAX_IQ_BYTES", kind: "bytes", dflt: 32 * 2 ** 20 },
  tokenTtlSeconds: { env: "XSHARE_TOKEN_TTL_SECONDS", kind: "seconds", dflt: 300 },
  sessionTtlSeconds: { env: "XSHARE_SESSION_TTL_SECONDS", kind: "seconds", dflt: 3600 },
  gcIntervalSeconds: { env: "XSHARE_GC_INTERVAL_SECONDS", kind: "seconds", dflt: 3600 },
  gcGraceSeconds: { env: "XSHARE_GC_GRACE_SECONDS", kind: "seconds", dflt: 86400 },
  logLevel: { env: "XSHARE_LOG_LEVEL", kind: "level", dflt: "info" },
  webIdleSeconds: { env: "XSHARE_WEB_IDLE_SECONDS", kind: "seconds", dflt: 1800 },
  webSessionSeconds: { env: "XSHARE_WEB_SESSION_SECONDS", kind: "seconds", dflt: 43200 },
  webConfirmSeconds: { env: "XSHARE_WEB_CONFIRM_SECONDS", kind: "seconds", dflt: 120 },
  webLinkSeconds: { env: "XSHARE_WEB_LINK_SECONDS", kind: "seconds", dflt: 300 },
} as const;

type Key = keyof typeof SETTINGS;

/** Every environment variable the component reads (docker/.env.example lists them all). */
export const SETTING_ENV_NAMES: readonly string[] = Object.values(SETTINGS).map((s) => s.env);
const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

function fail(key: Key, from: string, why: string): never {
  throw new ConfigError(`setting ${key} (${from}): ${why}`);
}

function read(key: Key, raw: unknown, from: string): unknown {
  const kind = SETTINGS[key].kind;
  const str = typeof raw === "string" ? raw.trim() : raw;
  switch (kind) {
    case "bytes":
    case "seconds": {
      const n = typeof str === "number" ? str : typeof str === "string" && /^\d+$/.test(str) ? Number(str) : Number.NaN;
      if (!Number.isSafeInteger(n) || n <= 0) fail(key, from, `expected a positive whole number, got ${JSON.stringify(raw)}`);
      return n;
    }
    default:
      if (typeof str !== "string" || str === "") fail(key, from, `expected a non-empty string, got ${JSON.stringify(raw)}`);
  }
  const s = str as string;
  switch (kind) {
    case "domain":
      if (!DOMAIN.test(s)) fail(key, from, `not a domain name: ${JSON.stringify(s)}`);
      return s;
    case "secret":
      if (s.length < 8) fail(key, from, "must be at least 8 characters");
      return s;
    case "service": {
      const m = /^xmpp:\/\/([^/:]+):(\d{1,5})$/.exec(s);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(key, from, `expected xmpp://host:port, got ${JSON.stringify(s)}`);
      return s;
    }
    case "listen": {
      const m = /^(.+):(\d{1,5})$/.exec(s);
      if (!m || Number(m[2]) > 65535) fail(key, from, `expected host:port, got ${JSON.stringify(s)}`);
      return s;
    }
    case "url": {
      let u: URL | undefined;
      try {
        u = new URL(s);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || u.search || u.hash) {
        fail(key, from, `expected an http(s) URL, got ${JSON.stringify(s)}`);
      }
      return s.endsWith("/") ? s : `${s}/`;
    }
    case "level":
      if (!LEVELS.includes(s)) fail(key, from, `expected one of ${LEVELS.join(", ")}`);
      return s;
    default:
      return s;
  }
}

/** Reads the JSON configuration file; unknown keys are an error (they are usually typos). */
export function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`configuration file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`configuration file ${path} must hold a JSON object`);
  }
  for (const k of Object.keys(data)) {
    if (!(k in SETTINGS)) throw new ConfigError(`configuration file ${path}: unknown setting ${k}`);
  }
  return data as Source;
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): ComponentConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ? readConfigFile(opts.file) : {};
  const values: Partial<Record<Key, unknown>> = {};
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const spec = SETTINGS[key];
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") values[key] = read(key, fromEnv, `environment ${spec.env}`);
    else if (file[key] !== undefined) values[key] = read(key, file[key], `file ${opts.file}`);
    else if ("dflt" in spec) values[key] = spec.dflt;
    else fail(key, `file key "${key}" or environment ${spec.env}`, "missing");
  }
  const [, host = "", port = "0"] = /^(.+):(\d+)$/.exec(values.http as string) ?? [];
  const httpHost = host.replace(/^\[|\]$/g, "");
  const httpPort = Number(port);
  const publicUrl = (values.publicUrl as string) || `http://${host}:${port}/`;
  return {
    domain: values.domain as string,
    secret: values.secret as string,
    service: values.service as string,
    dataDir: resolve(opts.cwd ?? process.cwd(), values.dataDir as string),
    httpHost,
    httpPort,
    publicUrl,
    chunkUrl: `${publicUrl}chunks/`,
    limits: {
      maxChunkBytes: values.maxChunkBytes as number,
      maxFileBytes: values.maxFileBytes as number,
      spaceQuotaBytes: values.spaceQuotaBytes as number,
      userQuotaBytes: values.userQuotaBytes as number,
      maxIqBytes: values.maxIqBytes as number,
    },
    tokenTtlMs: (values.tokenTtlSeconds as number) * 1000,
    sessionTtlMs: (values.sessionTtlSeconds as number) * 1000,
    gcIntervalMs: (values.gcIntervalSeconds as number) * 1000,
    gcGraceMs: (values.gcGraceSeconds as number) * 1000,
    logLevel: values.logLevel as string,
    web: {
      idleMs: (values.webIdleSeconds as number) * 1000,
      maxMs: (values.webSessionSeconds as number) * 1000,
      confirmMs: (values.webConfirmSeconds as number) * 1000,
      linkMs: (values.webLinkSeconds as number) * 1000,
    },
  };
}
