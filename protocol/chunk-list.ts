/**
 * Compact binary form of a chunk list, for storage (component and client databases), never
 * for the wire: 40 bytes per chunk, the raw SHA-256 then the size as 64-bit big-endian.
 */
import type { ChunkRef } from "./file.ts";
import type { ChunkHash } from "./ids.ts";

export function packChunks(chunks: readonly ChunkRef[]): Buffer {
  const buf = Buffer.allocUnsafe(chunks.length * 40);
  chunks.forEach((c, i) => {
    buf.write(c.hash, i * 40, 32, "hex");
    buf.writeUInt32BE(Math.floor(c.size / 2 ** 32), i * 40 + 32);
    buf.writeUInt32BE(c.size >>> 0, i * 40 + 36);
  });
  return buf;
}

export function unpackChunks(buf: Uint8Array): ChunkRef[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: ChunkRef[] = [];
  for (let off = 0; off + 40 <= b.length; off += 40) {
    const size = b.readUInt32BE(off + 32) * 2 ** 32 + b.readUInt32BE(off + 36);
    out.push({ hash: b.toString("hex", off, off + 32) as ChunkHash, size });
  }
  return out;
}
