/**
 * What a shared folder holds, as its users see it: every file by its path relative to the
 * folder, sorted, with its bytes; the client's own state (`.xshare`) and temporary files
 * (`.xshare-tmp-*`) left out wherever they are. Tests, the demo and the soak run compare folders
 * with it. A folder that does not exist holds nothing.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

export async function folderFiles(dir: string): Promise<Map<string, Buffer>> {
  const rels: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    const rel = path.relative(dir, path.join(e.parentPath, e.name));
    if (e.isFile() && !rel.split(path.sep).some((p) => p.startsWith(".xshare"))) rels.push(rel);
  }
  const out = new Map<string, Buffer>();
  for (const rel of rels.sort()) out.set(rel, await readFile(path.join(dir, rel)));
  return out;
}

/** `folderFiles` with each file's bytes as UTF-8 text. */
export async function folderText(dir: string): Promise<Map<string, string>> {
  return new Map([...(await folderFiles(dir))].map(([p, b]) => [p, b.toString("utf8")]));
}
