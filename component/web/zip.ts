/**
 * A streamed ZIP writer for folder downloads (APPNOTE 6.3.10): entries are *stored* (no
 * compression: shared files are mostly photos, video and archives already), written one after
 * the other as their bytes arrive, each followed by a data descriptor with its CRC-32, then the
 * central directory. Memory stays at one piece of one file whatever the folder's size.
 *
 * Stand-in for a zip library (yazl was asked for, see the README's "Web interface" section):
 * the same output a library makes for stored entries, kept small. ZIP64 records are written
 * where a size or offset reaches 4 GiB or there are more than 65,535 entries (`zip64: "always"`
 * forces them, for tests). Names are UTF-8 (flag bit 11); folders end in "/"; Unix permission
 * bits go in the external attributes; times are the entries' mtimes as UTC DOS times.
 *
 * Invariant: a source that fails midway throws out of `writeZip`; the caller cuts the response,
 * so a broken archive is never mistaken for a complete one (it has no end record).
 */
import { crc32 } from "node:zlib";

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

const MAX32 = 0xffffffff;
const MAX16 = 0xffff;

interface Written {
  readonly name: Buffer;
  readonly dir: boolean;
  readonly zip64: boolean;
  readonly crc: number;
  readonly size: number;
  readonly offset: number;
  readonly time: number;
  readonly date: number;
  readonly mode: number;
}

/** DOS time and date (2-second resolution, 1980..2107), from UTC. */
function dosTime(ms: number): { time: number; date: number } {
  const d = new Date(Math.min(Math.max(ms, Date.UTC(1980, 0, 1)), Date.UTC(2107, 11, 31, 23, 59, 58)));
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  return { time, date };
}

const u64 = (b: Buffer, n: number, at: number) => b.writeBigUInt64LE(BigInt(n), at);

/** Writes the archive of `entries` through `write` (which resolves once it may be called again). */
export async function writeZip(entries: Iterable<ZipEntry> | AsyncIterable<ZipEntry>, write: (b: Buffer) => Promise<void>, opts: ZipOptions = {}): Promise<void> {
  const always = opts.zip64 === "always";
  const done: Written[] = [];
  let offset = 0;
  const out = async (b: Buffer) => {
    offset += b.length;
    await write(b);
  };
  for await (const e of entries) {
    const name = Buffer.from(e.dir ? `${e.name}/` : e.name, "utf8");
    if (name.length > MAX16) throw new Error(`zip entry name over ${MAX16} bytes: ${e.name}`);
    const zip64 = always || e.size >= MAX32;
    const { time, date } = dosTime(e.mtimeMs);
    const start = offset;
    const extra = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
    if (zip64) extra.writeUInt16LE(0x0001, 0), extra.writeUInt16LE(16, 2); // sizes follow in the descriptor
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0x0808, 6); // sizes in a data descriptor, UTF-8 names
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(time, 10);
    h.writeUInt16LE(date, 12);
    h.writeUInt32LE(0, 14);
    h.writeUInt32LE(zip64 ? MAX32 : 0, 18);
    h.writeUInt32LE(zip64 ? MAX32 : 0, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(extra.length, 28);
    await out(Buffer.concat([h, name, extra]));
    let crc = 0;
    let size = 0;
    if (!e.dir && e.data) {
      for await (const piece of e.data()) {
        crc = crc32(piece, crc);
        size += piece.length;
        if (size > e.size) throw new Error(`${e.name}: more bytes than its size ${e.size}`);
        await out(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      }
    }
    if (size !== (e.dir ? 0 : e.size)) throw new Error(`${e.name}: ${size} bytes, not ${e.size}`);
    const dd = Buffer.alloc(zip64 ? 24 : 16);
    dd.writeUInt32LE(0x08074b50, 0);
    dd.writeUInt32LE(crc >>> 0, 4);
    if (zip64) u64(dd, size, 8), u64(dd, size, 16);
    else dd.writeUInt32LE(size, 8), dd.writeUInt32LE(size, 12);
    await out(dd);
    done.push({ name, dir: e.dir, zip64, crc: crc >>> 0, size, offset: start, time, date, mode: e.mode });
  }
  const cdStart = offset;
  for (const w of done) await out(centralHeader(w, always));
  const cdSize = offset - cdStart;
  const zip64End = always || done.length > MAX16 || cdStart >= MAX32 || cdSize >= MAX32;
  if (zip64End) {
    const at = offset;
    const r = Buffer.alloc(56 + 20);
    r.writeUInt32LE(0x06064b50, 0);
    u64(r, 44, 4);
    r.writeUInt16LE(0x031e, 12);
    r.writeUInt16LE(45, 14);
    r.writeUInt32LE(0, 16);
    r.writeUInt32LE(0, 20);
    u64(r, done.length, 24);
    u64(r, done.length, 32);
    u64(r, cdSize, 40);
    u64(r, cdStart, 48);
    r.writeUInt32LE(0x07064b50, 56);
    r.writeUInt32LE(0, 60);
    u64(r, at, 64);
    r.writeUInt32LE(1, 72);
    await out(r);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64End ? MAX16 : done.length, 8);
  end.writeUInt16LE(zip64End ? MAX16 : done.length, 10);
  end.writeUInt32LE(zip64End ? MAX32 : cdSize, 12);
  end.writeUInt32LE(zip64End ? MAX32 : cdStart, 16);
  await out(end);
}

function centralHeader(w: Written, always: boolean): Buffer {
  const bigSize = w.zip64;
  const bigOffset = always || w.offset >= MAX32;
  const fields: number[] = [];
  if (bigSize) fields.push(w.size, w.size);
  if (bigOffset) fields.push(w.offset);
  const extra = Buffer.alloc(fields.length ? 4 + 8 * fields.length : 0);
  if (fields.length) {
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(8 * fields.length, 2);
    fields.forEach((n, i) => u64(extra, n, 4 + 8 * i));
  }
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(0x031e, 4); // made by Unix, spec 3.0: external attributes carry the mode
  h.writeUInt16LE(bigSize || bigOffset ? 45 : 20, 6);
  h.writeUInt16LE(0x0808, 8);
  h.writeUInt16LE(0, 10);
  h.writeUInt16LE(w.time, 12);
  h.writeUInt16LE(w.date, 14);
  h.writeUInt32LE(w.crc, 16);
  h.writeUInt32LE(bigSize ? MAX32 : w.size, 20);
  h.writeUInt32LE(bigSize ? MAX32 : w.size, 24);
  h.writeUInt16LE(w.name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt16LE(0, 32);
  h.writeUInt16LE(0, 34);
  h.writeUInt16LE(0, 36);
  const unix = w.dir ? 0o040000 | (w.mode & 0o777 || 0o755) : 0o100000 | (w.mode & 0o777 || 0o644);
  h.writeUInt32LE(((unix << 16) | (w.dir ? 0x10 : 0)) >>> 0, 38);
  h.writeUInt32LE(bigOffset ? MAX32 : w.offset, 42);
  return Buffer.concat([h, w.name, extra]);
}
