// Starts one of the programs, whose sources are TypeScript. The sources are the only truth (no
// build step to remember): the first start after a change bundles the program with esbuild
// (~50 ms) into `.build/` beside `package.json`, and later starts import that bundle directly.
// Why not run the sources through tsx every time: its loader hooks run in a second V8 instance
// (~30 MB more resident memory in every process) and transform each module on each start.
// The bundle keeps dependencies external (resolved from node_modules as before) and lives one
// level under the package root, so `new URL("../package.json", import.meta.url)` still works.
// A bundle is reused only while every source file it was built from has the size and mtime
// recorded beside it. When the package directory is not writable, or esbuild fails, the
// sources run through tsx as before.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = join(ROOT, ".build");

const MARK = "// xshare-bundle-inputs ";

/** True when every input recorded in the bundle's first line still has its size and mtime. */
function fresh(out) {
  try {
    const text = readFileSync(out, "utf8");
    if (!text.startsWith(MARK)) return false;
    const inputs = JSON.parse(text.slice(MARK.length, text.indexOf("\n")));
    for (const [file, [size, mtimeMs]] of Object.entries(inputs)) {
      const st = statSync(join(ROOT, file));
      if (st.size !== size || st.mtimeMs !== mtimeMs) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function bundle(entry, out) {
  const esbuild = await import("esbuild");
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      metafile: true,
      write: false,
      logLevel: "silent",
      sourcemap: "inline",
      sourcesContent: false,
    });
    // Stat the inputs after building: an edit made meanwhile makes the next start rebuild.
    const inputs = {};
    for (const file of Object.keys(result.metafile.inputs)) {
      const st = statSync(join(ROOT, file));
      inputs[file] = [st.size, st.mtimeMs];
    }
    mkdirSync(OUT_DIR, { recursive: true });
    // One file, renamed into place: concurrent starts each write their own and the last wins.
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(`${MARK}${JSON.stringify(inputs)}\n`), result.outputFiles[0].contents]));
    renameSync(tmp, out);
  } finally {
    await esbuild.stop?.();
  }
}

/** Imports the program whose TypeScript entry is `entry` (relative to the package root). */
export async function launch(entry) {
  if (process.env.XSHARE_NO_BUNDLE !== "1") {
    const out = join(OUT_DIR, `${entry.replace(/\.ts$/, "").replace(/[^A-Za-z0-9]+/g, "-")}.mjs`);
    let ok = fresh(out);
    if (!ok) {
      try {
        await bundle(entry, out);
        ok = true;
      } catch {
        ok = false;
      }
    }
    if (ok) {
      // Stack traces name the TypeScript sources (the bundle carries an inline source map).
      process.setSourceMapsEnabled(true);
      return import(pathToFileURL(out).href);
    }
  }
  const { register } = await import("tsx/esm/api");
  register();
  return import(pathToFileURL(join(ROOT, entry)).href);
}
