import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../component/config.ts";

const env = {
  XSHARE_COMPONENT_DOMAIN: "share.example.org",
  XSHARE_COMPONENT_SECRET: "s3cret-s3cret",
  XSHARE_DATA_DIR: "/var/lib/xshare",
};

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("component configuration", () => {
  it("has defaults for everything but domain, secret and data directory", () => {
    const c = loadConfig({ env });
    expect(c).toMatchObject({
      domain: "share.example.org",
      service: "xmpp://127.0.0.1:5347",
      httpHost: "127.0.0.1",
      httpPort: 5290,
      publicUrl: "http://127.0.0.1:5290/",
      chunkUrl: "http://127.0.0.1:5290/chunks/",
      dataDir: "/var/lib/xshare",
      tokenTtlMs: 300_000,
      logLevel: "info",
    });
  });

  it.each([
    [{ ...env, XSHARE_COMPONENT_SECRET: "" }, "setting secret (file key \"secret\" or environment XSHARE_COMPONENT_SECRET): missing"],
    [{ ...env, XSHARE_COMPONENT_DOMAIN: "not a domain" }, "setting domain (environment XSHARE_COMPONENT_DOMAIN): not a domain name"],
    [{ ...env, XSHARE_XMPP_SERVICE: "127.0.0.1:5347" }, "setting service (environment XSHARE_XMPP_SERVICE): expected xmpp://host:port"],
    [{ ...env, XSHARE_HTTP_LISTEN: "localhost" }, "setting http (environment XSHARE_HTTP_LISTEN): expected host:port"],
    [{ ...env, XSHARE_PUBLIC_URL: "ftp://x/" }, "setting publicUrl (environment XSHARE_PUBLIC_URL): expected an http(s) URL"],
    [{ ...env, XSHARE_MAX_CHUNK_BYTES: "-5" }, "setting maxChunkBytes (environment XSHARE_MAX_CHUNK_BYTES): expected a positive whole number"],
    [{ ...env, XSHARE_LOG_LEVEL: "loud" }, "setting logLevel (environment XSHARE_LOG_LEVEL): expected one of"],
    [{ ...env, XSHARE_COMPONENT_SECRET: "short" }, "setting secret (environment XSHARE_COMPONENT_SECRET): must be at least 8 characters"],
  ])("names the setting at fault (%#)", (e, message) => {
    const m = error(() => loadConfig({ env: e }));
    expect(m).toContain(message);
    expect(m).not.toContain("\n");
  });

  it("reads a JSON file; the environment overrides it; unknown keys are refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "xshare-config-"));
    const file = join(dir, "component.json");
    writeFileSync(file, JSON.stringify({ domain: "share.a.org", secret: "from-the-file", dataDir: "data", publicUrl: "https://share.a.org/x" }));
    const c = loadConfig({ file, env: { XSHARE_COMPONENT_SECRET: "from-the-environment" }, cwd: "/srv" });
    expect(c).toMatchObject({ domain: "share.a.org", secret: "from-the-environment", dataDir: "/srv/data", chunkUrl: "https://share.a.org/x/chunks/" });
    writeFileSync(file, JSON.stringify({ domian: "typo.org" }));
    expect(error(() => loadConfig({ file, env }))).toContain("unknown setting domian");
    writeFileSync(file, "{ not json");
    expect(error(() => loadConfig({ file, env }))).toContain("is not valid JSON");
    expect(error(() => loadConfig({ file: join(dir, "absent.json"), env }))).toContain("cannot read configuration file");
  });
});
