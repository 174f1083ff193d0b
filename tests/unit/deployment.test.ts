/**
 * The deployment files (docker/), checked by parsing since Docker cannot run here: the compose
 * file, the component's Dockerfile and .env.example agree with each other and with what the
 * component and Prosody's configuration actually read.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SETTING_ENV_NAMES, loadConfig } from "../../component/config.ts";
import { PROSODY_CONFIG, REPO_ROOT } from "../harness/prosody.ts";

const read = (p: string) => readFileSync(path.join(REPO_ROOT, "docker", p), "utf8");
interface Service {
  environment?: Record<string, string>;
  env_file?: string | string[];
  ports?: string[];
  volumes?: string[];
  build?: unknown;
  image?: string;
}
const compose = parse(read("compose.yaml"), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const dockerfile = read("Dockerfile");
const envExample = read(".env.example");
const prosodyCfg = read("prosody/prosody.cfg.lua");
/** Variables Prosody's configuration reads (env("X", …) and port("X", …)). */
const prosodyReads = new Set([...prosodyCfg.matchAll(/\b(?:env|port)\("([A-Z0-9_]+)"/g)].map((m) => m[1]!));
/** Variables .env.example sets, commented out or not. */
const exampleVars = new Map([...envExample.matchAll(/^#? ?(XSHARE_[A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));

describe("docker/compose.yaml", () => {
  it("runs Prosody and the sharing manager, with persistent volumes that are declared", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["component", "prosody"]);
    for (const s of Object.values(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(":")[0]!;
        if (!source.startsWith(".")) expect(Object.keys(compose.volumes)).toContain(source);
      }
    }
    expect(compose.services.component!.volumes).toContain("component-data:/var/lib/xshare");
  });

  it("runs the Prosody project's 0.12 image with the tests' own configuration file mounted", () => {
    const prosody = compose.services.prosody!;
    expect(prosody.image).toBe("prosody/prosody:0.12");
    expect(prosody.build).toBeUndefined();
    expect(prosody.volumes).toContain("./prosody/prosody.cfg.lua:/etc/prosody/prosody.cfg.lua:ro");
    // The file tests/harness/prosody.ts runs Debian's Prosody with:
    expect(path.join(REPO_ROOT, "docker", "prosody/prosody.cfg.lua")).toBe(PROSODY_CONFIG);
    // A restarted sharing manager is not locked out by the connection the server still holds.
    expect(prosodyCfg).toMatch(/^Component \(component_domain\)\n(?:\t.*\n)*\tcomponent_conflict_resolve = "kick_old";$/m);
  });

  it("publishes the component's HTTP port on loopback only, and never XEP-0114's 5347", () => {
    expect(compose.services.component!.ports).toEqual(["127.0.0.1:5290:5290"]);
    for (const s of Object.values(compose.services)) for (const p of s.ports ?? []) expect(p).not.toMatch(/5347/);
  });

  it("gives each service only variables it reads", () => {
    for (const name of Object.keys(compose.services.component!.environment ?? {})) expect(SETTING_ENV_NAMES).toContain(name);
    for (const name of Object.keys(compose.services.prosody!.environment ?? {})) expect(prosodyReads).toContain(name);
  });

  it("finds every variable it needs in .env.example", () => {
    const needed = [...read("compose.yaml").matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!);
    expect(needed.length).toBeGreaterThan(0);
    for (const v of needed) expect([...exampleVars.keys()]).toContain(v);
    expect(compose.services.component!.env_file).toBe(".env");
  });
});

describe("docker/.env.example", () => {
  it("lists every setting of the component, with values the component accepts", () => {
    for (const name of SETTING_ENV_NAMES) expect([...exampleVars.keys()], name).toContain(name);
    const env = Object.fromEntries([...exampleVars].map(([k, v]) => [k, v || "0123456789abcdef0123456789abcdef"]));
    expect(() => loadConfig({ env: { ...env, XSHARE_DATA_DIR: "/var/lib/xshare" } })).not.toThrow();
  });
});

describe("docker/Dockerfile", () => {
  it("runs as an unprivileged user, checks its health, exposes the HTTP port, and sets only known variables", () => {
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toBe("root");
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    expect(dockerfile).toMatch(/^EXPOSE 5290$/m);
    const envBlock = /^ENV ([^]*?)\n(?!\s)/m.exec(dockerfile)![1]!;
    const names = [...envBlock.matchAll(/([A-Z0-9_]+)=/g)].map((m) => m[1]!).filter((n) => n.startsWith("XSHARE_"));
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(SETTING_ENV_NAMES).toContain(n);
  });
});
