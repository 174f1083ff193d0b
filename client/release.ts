/**
 * Gives a large buffer's memory back now rather than at the next full garbage collection.
 *
 * A buffer that lived through a few collections (an upload batch buffer, a download slab) sits
 * in V8's old generation, which is collected rarely while the heap is small: its bytes count in
 * the process's RSS long after the last use (bench:client, 10,000-file push: 32 MiB of batch
 * buffers held through the commit and the next round). Transferring its ArrayBuffer detaches
 * it, every view of it becoming empty, and moves the memory to a new, unreferenced
 * ArrayBuffer in the young generation, which the next scavenge frees.
 * (`ArrayBuffer.prototype.transfer` does the same from Node 21 on.)
 */

/**
 * Frees `buf`'s memory once nothing uses it any more. Only a buffer that owns its whole
 * ArrayBuffer (`Buffer.allocUnsafeSlow`) is released: a pooled one shares its ArrayBuffer with
 * others and is left to the collector.
 */
export function release(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength || ab.byteLength === 0) return;
  structuredClone(ab, { transfer: [ab] });
}
