/**
 * Version vectors (XEP-draft.md § "Version vectors"): one counter per replica (device).
 *
 * Values are immutable. Counters are clock-based, `max(previous + 1, now)` in milliseconds,
 * so a replica whose state was wiped restarts above everything it ever wrote and can never
 * look like an older version (DESIGN.md decision 3). A counter of 0 is the same as no entry:
 * such entries are dropped, so equal histories always have equal encodings and digests.
 */
import { createHash } from "node:crypto";
import { ShareError } from "./errors.ts";
import { isToken, type ReplicaId } from "./ids.ts";

export type Ordering = "equal" | "greater" | "lesser" | "concurrent";

export interface VersionVector {
  /** Entries sorted by replica id (code-unit order, which equals UTF-8 byte order for ids). */
  readonly entries: ReadonlyArray<readonly [ReplicaId, number]>;
}

export const EMPTY: VersionVector = Object.freeze({ entries: Object.freeze([]) });

function freeze(entries: Array<[ReplicaId, number]>): VersionVector {
  return Object.freeze({ entries: Object.freeze(entries.map((e) => Object.freeze(e))) });
}

/** Checks a replica id and throws `invalid-vector` when it is not a token. */
export function replicaId(s: string): ReplicaId {
  if (!isToken(s)) throw new ShareError("invalid-vector", { text: `Invalid replica id: ${JSON.stringify(s)}` });
  return s as ReplicaId;
}

function checkCounter(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ShareError("invalid-vector", { text: `Invalid counter: ${n}` });
  }
}

/** Builds a vector from pairs in any order; duplicates and bad values are rejected. */
export function fromEntries(pairs: Iterable<readonly [string, number]>): VersionVector {
  const map = new Map<ReplicaId, number>();
  const seen = new Set<ReplicaId>(); // includes zero entries, which `map` drops
  for (const [r, n] of pairs) {
    const id = replicaId(r);
    checkCounter(n);
    if (seen.has(id)) throw new ShareError("invalid-vector", { text: `Duplicate replica id: ${r}` });
    seen.add(id);
    if (n > 0) map.set(id, n);
  }
  return freeze([...map].sort(byReplica));
}

function byReplica(a: readonly [ReplicaId, number], b: readonly [ReplicaId, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

export function get(v: VersionVector, replica: ReplicaId): number {
  for (const [r, n] of v.entries) if (r === replica) return n;
  return 0;
}

/** Walks both sorted entry lists once. */
export function compare(a: VersionVector, b: VersionVector): Ordering {
  let aBigger = false;
  let bBigger = false;
  let i = 0;
  let j = 0;
  const A = a.entries;
  const B = b.entries;
  while (i < A.length || j < B.length) {
    const ea = A[i];
    const eb = B[j];
    if (ea && (!eb || ea[0] < eb[0])) {
      aBigger = true;
      i++;
    } else if (eb && (!ea || eb[0] < ea[0])) {
      bBigger = true;
      j++;
    } else if (ea && eb) {
      if (ea[1] > eb[1]) aBigger = true;
      else if (ea[1] < eb[1]) bBigger = true;
      i++;
      j++;
    }
    if (aBigger && bBigger) return "concurrent";
  }
  return aBigger ? "greater" : bBigger ? "lesser" : "equal";
}

/** True when `a` has seen everything `b` has (greater or equal). */
export function dominates(a: VersionVector, b: VersionVector): boolean {
  const o = compare(a, b);
  return o === "greater" || o === "equal";
}

/** Least upper bound: the entry-wise maximum. */
export function merge(a: VersionVector, b: VersionVector): VersionVector {
  const out = new Map<ReplicaId, number>(a.entries);
  for (const [r, n] of b.entries) out.set(r, Math.max(n, out.get(r) ?? 0));
  return freeze([...out].sort(byReplica));
}

/** `merge` of many vectors at once: one map of maxima, one vector built at the end. */
export function mergeAll(vectors: Iterable<VersionVector>): VersionVector {
  const out = new Map<ReplicaId, number>();
  for (const v of vectors) for (const [r, n] of v.entries) if (n > (out.get(r) ?? 0)) out.set(r, n);
  return out.size === 0 ? EMPTY : freeze([...out].sort(byReplica));
}

/** A new vector whose entry for `replica` is `max(previous + 1, nowMs)`. */
export function bump(v: VersionVector, replica: ReplicaId, nowMs: number): VersionVector {
  replicaId(replica);
  checkCounter(Math.max(0, Math.floor(nowMs)));
  const next = Math.max(get(v, replica) + 1, Math.floor(nowMs));
  checkCounter(next);
  const entries = v.entries.filter(([r]) => r !== replica) as Array<[ReplicaId, number]>;
  entries.push([replica, next]);
  return freeze(entries.sort(byReplica));
}

/**
 * Canonical bytes: for each entry in sorted order, one length byte, the replica id
 * (ASCII, ≤ 64 bytes), then the counter as 8 bytes big-endian. Unambiguous because
 * the length prefixes every id and counters have fixed width.
 */
export function encode(v: VersionVector): Uint8Array {
  let size = 0;
  for (const [r] of v.entries) size += 1 + r.length + 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const [r, n] of v.entries) {
    out[off++] = r.length;
    for (let k = 0; k < r.length; k++) out[off++] = r.charCodeAt(k);
    view.setBigUint64(off, BigInt(n));
    off += 8;
  }
  return out;
}

/**
 * Inverse of `encode` (stores keep vectors in this form). Accepts exactly the bytes `encode`
 * can produce: ids that are tokens, strictly ascending, counters 1..2^53-1; anything else
 * (truncation, zero or unsafe counters, unsorted or duplicate ids) is `invalid-vector`.
 */
export function decode(bytes: Uint8Array): VersionVector {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: Array<[ReplicaId, number]> = [];
  let off = 0;
  let prev = "";
  while (off < bytes.length) {
    const len = bytes[off++]!;
    if (len === 0 || off + len + 8 > bytes.length) {
      throw new ShareError("invalid-vector", { text: `Truncated vector at byte ${off - 1}` });
    }
    const id = replicaId(String.fromCharCode(...bytes.subarray(off, off + len)));
    off += len;
    const hi = view.getUint32(off);
    const n = hi * 2 ** 32 + view.getUint32(off + 4);
    off += 8;
    if (hi >= 2 ** 21 || n === 0) throw new ShareError("invalid-vector", { text: `Invalid counter for ${id}` });
    if (entries.length > 0 && !(prev < id)) {
      throw new ShareError("invalid-vector", { text: `Replica ids not strictly ascending at ${id}` });
    }
    prev = id;
    entries.push([id, n]);
  }
  return freeze(entries);
}

/** SHA-256 of the canonical encoding, base64 (the XEP-0300 form). */
export function digest(v: VersionVector): string {
  return createHash("sha256").update(encode(v)).digest("base64");
}

/** Digest of the empty vector: what a replica that has nothing announces. */
export const EMPTY_DIGEST = digest(EMPTY);

/** Short human form for logs and errors: `{r1:5,r2:7}`. */
export function toString(v: VersionVector): string {
  return `{${v.entries.map(([r, n]) => `${r}:${n}`).join(",")}}`;
}
