/**
 * Folder downloads as zip archives, written by yazl (the archive format is its job): entries
 * are *stored* (no compression: shared files are mostly photos, video and archives already),
 * each one's bytes read only when the archive reaches it (`addReadStreamLazy`), so memory stays
 * at a piece of one file whatever the folder's size, and the output is handed to `write` with
 * its backpressure. yazl writes ZIP64 records where a size, an offset or the entry count needs
 * them (`zip64: "always"` forces them, for tests), UTF-8 names, Unix modes and mtimes.
 *
 * Invariant: a source that fails, or yields another byte count than its entry's size, fails
 * `writeZip`; the caller cuts the response, so a broken archive is never mistaken for a
 * complete one (it has no central directory).
 */
import { Readable, type PassThrough } from "node:stream";
import yazl from "yazl";

export interface ZipEntry {
  /** The path inside the archive, `/`-separated, no trailing `/` (added for folders). */
  readonly name: string;
  readonly dir: boolean;
  /** Exact byte count `data` yields (the index's size); a source yielding another count fails. */
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly data?: () => AsyncIterable<Uint8Array>;
}

export interface ZipOptions {
  /** "auto": ZIP64 only where needed; "always": for every entry and the end (tests). */
  readonly zip64?: "auto" | "always";
}

/** Writes the archive of `entries` through `write` (which resolves once it may be called again). */
export async function writeZip(entries: Iterable<ZipEntry>, write: (b: Buffer) => Promise<void>, opts: ZipOptions = {}): Promise<void> {
  const forceZip64Format = opts.zip64 === "always";
  const zip = new yazl.ZipFile();
  const output = zip.outputStream as PassThrough;
  // yazl reports its own errors (a wrong byte count) on the ZipFile, not on its output; a
  // source's errors reach neither. Either ends the output with the error, so the loop throws.
  const fail = (err: Error) => output.destroy(err);
  zip.on("error", fail);
  for (const e of entries) {
    const mtime = new Date(e.mtimeMs);
    if (e.dir) {
      zip.addEmptyDirectory(e.name, { mtime, mode: 0o040000 | (e.mode & 0o777 || 0o755) });
      continue;
    }
    const options = { mtime, mode: 0o100000 | (e.mode & 0o777 || 0o644), compress: false, size: e.size, forceZip64Format };
    zip.addReadStreamLazy(e.name, options, (cb) => {
      const source = Readable.from(e.data ? e.data() : [], { objectMode: false });
      source.once("error", fail);
      cb(null, source);
    });
  }
  zip.end({ forceZip64Format, comment: "" });
  for await (const piece of output) await write(piece as Buffer);
}
