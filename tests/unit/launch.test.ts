/**
 * bin/launch.js: programs run from a bundle of their TypeScript sources, rebuilt whenever a
 * source changes, with tsx as the fallback. Exercised in a throwaway package that has a copy of
 * launch.js and this repository's node_modules.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/prosody.ts";

const pkg = mkdtempSync(join(tmpdir(), "xshare-launch-"));
afterAll(() => rmSync(pkg, { recursive: true, force: true }));
mkdirSync(join(pkg, "bin"));
mkdirSync(join(pkg, "src"));
cpSync(join(REPO_ROOT, "bin/launch.js"), join(pkg, "bin/launch.js"));
symlinkSync(join(REPO_ROOT, "node_modules"), join(pkg, "node_modules"));
writeFileSync(join(pkg, "package.json"), JSON.stringify({ type: "module", version: "9.9.9" }));
writeFileSync(join(pkg, "bin/run.js"), 'import { launch } from "./launch.js";\nconst m = await launch("src/main.ts");\nconsole.log(m.answer());\n');
writeFileSync(join(pkg, "src/dep.ts"), "export const n: number = 1;\n");
const main = (extra: string) =>
  writeFileSync(join(pkg, "src/main.ts"), `import { readFileSync } from "node:fs";\nimport { n } from "./dep.ts";\nconst v = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;\nexport function answer(): string { return \`\${v} \${n}${extra}\`; }\n`);
const run = (env: Record<string, string> = {}) => execFileSync(process.execPath, [join(pkg, "bin/run.js")], { env: { ...process.env, ...env }, encoding: "utf8" }).trim();

describe("bin/launch.js", () => {
  it("builds a bundle on first start, reuses it, and rebuilds when any source changes", () => {
    main("");
    expect(run()).toBe("9.9.9 1"); // package.json found from the bundle as from the source
    const built = readdirSync(join(pkg, ".build"));
    expect(built).toEqual(["src-main.mjs"]);
    expect(run()).toBe("9.9.9 1");
    main(" edited"); // the entry
    expect(run()).toBe("9.9.9 1 edited");
    writeFileSync(join(pkg, "src/dep.ts"), "export const n: number = 2;\n"); // an import
    expect(run()).toBe("9.9.9 2 edited");
    expect(readdirSync(join(pkg, ".build"))).toEqual(["src-main.mjs"]); // no temp files left
  });

  it("runs the sources through tsx when asked to (or when bundling fails)", () => {
    rmSync(join(pkg, ".build"), { recursive: true, force: true });
    expect(run({ XSHARE_NO_BUNDLE: "1" })).toBe("9.9.9 2 edited");
    expect(existsSync(join(pkg, ".build"))).toBe(false);
    // A source esbuild cannot parse: the bundle fails, tsx reports the error itself.
    writeFileSync(join(pkg, "src/dep.ts"), "export const n: number = ;\n");
    expect(() => run()).toThrow();
    expect(existsSync(join(pkg, ".build/src-main.mjs"))).toBe(false);
  });
});
