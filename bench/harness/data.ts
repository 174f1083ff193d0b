// Workload data and checks shared by both sides of bench/compare.bench.ts: the same files, made
// the same way (as bench/client.bench.ts makes them), the same
// edits, and the same verification, whichever system syncs them. Plus /proc helpers for peak
// memory (VmHWM) of any process.

import { createHash, randomBytes } from "node:crypto";
import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

export const MiB = 1024 * 1024;

/** Names neither system reports: Syncthing's marker and temporaries, xshare's state folder and temporaries. */
export function isInternal(name: string): boolean {
  return (
    name === ".stfolder" ||
    name === ".stignore" ||
    name === ".stversions" ||
    /^\.syncthing\..*\.tmp$/.test(name) ||
    /^~syncthing~.*\.tmp$/.test(name) ||
    name === ".xshare" ||
    name.startsWith(".xshare-tmp")
  );
}

/** `n` files of 1–4 KiB random bytes in 100 folders under `dir`; returns their total size. */
export function makeSmallFiles(dir: string, n: number): number {
  const pool = randomBytes(8 * MiB);
  let bytes = 0;
  for (let d = 0; d < Math.min(100, n); d++) mkdirSync(join(dir, `d${String(d).padStart(2, "0")}`), { recursive: true });
  for (let i = 0; i < n; i++) {
    const size = 1024 + (((i * 2654435761) >>> 0) % (3 * 1024 + 1));
    const at = (i * 4099) % (pool.length - 4096);
    // A fresh random prefix: every file's content is unique.
    const body = Buffer.concat([randomBytes(32), pool.subarray(at, at + size - 32)]);
    writeFileSync(join(dir, `d${String(i % 100).padStart(2, "0")}`, `f${i}.bin`), body);
    bytes += size;
  }
  return bytes;
}

/** Writes `mib` MiB of random bytes to `file`; returns their sha256. */
export function makeRandomFile(file: string, mib: number): string {
  const h = createHash("sha256");
  const fd = openSync(file, "w");
  try {
    for (let left = mib * MiB; left > 0; ) {
      const piece = randomBytes(Math.min(16 * MiB, left));
      h.update(piece);
      writeSync(fd, piece);
      left -= piece.length;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** Calls `fn` with each piece of the file (16 MiB reads into one reused buffer) and its position. */
function eachPiece(file: string, fn: (piece: Buffer, pos: number) => void): void {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(16 * MiB);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      fn(buf.subarray(0, n), pos);
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a file. */
export function fileHash(file: string): string {
  const h = createHash("sha256");
  eachPiece(file, (piece) => h.update(piece));
  return h.digest("hex");
}

/**
 * sha256 the file will have after `edit` (computed from the file as it is, before the edit is
 * made, so that no hashing competes with the systems once the edit is on disk).
 */
export function hashAfterEdit(file: string, edit: { kind: "overwrite" | "insert"; at: number }): string {
  const h = createHash("sha256");
  eachPiece(file, (piece, pos) => {
    if (edit.at < pos || edit.at >= pos + piece.length) return void h.update(piece);
    const i = edit.at - pos;
    if (edit.kind === "overwrite") {
      piece[i] = piece[i]! ^ 0xff;
      h.update(piece);
    } else {
      h.update(piece.subarray(0, i));
      h.update(INSERTED);
      h.update(piece.subarray(i));
    }
  });
  return h.digest("hex");
}

const INSERTED = Buffer.from([0x42]);

/** Flips the byte at `at` in place. */
export function overwriteByte(file: string, at: number): void {
  const fd = openSync(file, "r+");
  try {
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, at);
    one[0] = one[0]! ^ 0xff;
    writeSync(fd, one, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** Inserts one byte (0x42) at `at`: the tail is rewritten in place one byte further (through `scratch`). */
export function insertByte(file: string, at: number, scratch: string): void {
  copyFileSync(file, scratch);
  const src = openSync(scratch, "r");
  const dst = openSync(file, "r+");
  try {
    writeSync(dst, INSERTED, 0, 1, at);
    const buf = Buffer.allocUnsafe(16 * MiB);
    for (let pos = at; ; ) {
      const n = readSync(src, buf, 0, buf.length, pos);
      if (n === 0) break;
      writeSync(dst, buf, 0, n, pos + 1);
      pos += n;
    }
  } finally {
    closeSync(src);
    closeSync(dst);
    rmSync(scratch, { force: true });
  }
}

/** Complete files one level of folders deep under `dir` (the layout of makeSmallFiles), temporaries excluded. */
export function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (!d.isDirectory() || isInternal(d.name)) continue;
    try {
      for (const f of readdirSync(join(dir, d.name))) if (!isInternal(f)) n++;
    } catch {
      // folder being created
    }
  }
  return n;
}

/** Every file under `a` equal, byte for byte, to the same path under `b`, and nothing else in `b`; returns the files compared. */
export function sameTree(a: string, b: string): number {
  let n = 0;
  const walk = (rel: string) => {
    const xs = readdirSync(join(a, rel), { withFileTypes: true }).filter((e) => !isInternal(e.name));
    const ys = readdirSync(join(b, rel)).filter((e) => !isInternal(e));
    if (xs.length !== ys.length) throw new Error(`verification failed: ${join(a, rel)} has ${xs.length} entries, ${join(b, rel)} has ${ys.length}`);
    for (const e of xs) {
      const p = join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else {
        if (!readFileSync(join(a, p)).equals(readFileSync(join(b, p)))) throw new Error(`verification failed: ${p} differs`);
        n++;
      }
    }
  };
  walk("");
  return n;
}

/** The file's content equals `want` (false while it is missing). */
export function hasContent(file: string, want: Buffer): boolean {
  try {
    return readFileSync(file).equals(want);
  } catch {
    return false;
  }
}

/** size, mtime and inode of a file, as one comparable string ("" when missing). */
export function statKey(file: string): string {
  try {
    const s = statSync(file);
    return `${s.size}/${s.mtimeMs}/${s.ino}`;
  } catch {
    return "";
  }
}

/** The size of an open-able file, or -1. */
export function sizeOf(file: string): number {
  try {
    const fd = openSync(file, "r");
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------- memory

/** A /proc/<pid>/status field in KiB (NaN when the process or the field is gone). */
export function procKiB(pid: number | undefined, field: "VmHWM" | "VmRSS" | "RssAnon"): number {
  if (!pid) return Number.NaN;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`); false if refused. */
export function resetPeak(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export const kibToMB = (kib: number): number => (kib * 1024) / 1e6;
