/**
 * Sizes and rates as people write them in schedule.json: "123", "1.5MB", "64KiB", "2MB/s".
 *
 * - A plain number is bytes (or bytes per second); JSON numbers are taken as such too.
 * - k, M, G, T are powers of 1000; Ki, Mi, Gi, Ti powers of 1024. The trailing B is optional
 *   ("64k", "64kB"). Case does not matter, so "mb" is megabytes: there are no bit units, and
 *   "10Mb/s" is ten megabytes per second, not ten megabits.
 * - A rate may end in "/s"; a size may not (a rate where a size belongs is a slip worth naming).
 * - Results are whole bytes (rounded). Anything else is refused: the caller turns the `Problem`
 *   text into its own one-line error naming the field.
 */

const UNIT: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

// number, optional unit prefix (k, ki, … with the B optional, or a bare B), optional "/s".
const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgt]i?)b|([kmgt])|b)?\s*(\/\s*s)?$/i;

/** Why a value was refused, phrased to follow the quoted value: `"fast" is not a size (…)`. */
export class UnitError extends Error {
  override name = "UnitError";
}

function quantity(value: unknown, what: "size" | "rate"): { bytes: number; perSecond: boolean } {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new UnitError(`${value} is not a ${what}`);
    return { bytes: Math.round(value), perSecond: false };
  }
  const example = what === "size" ? `e.g. "1.5MB", "64KiB" or a number of bytes` : `e.g. "500kB/s", "2MiB/s" or a number of bytes per second`;
  if (typeof value !== "string") throw new UnitError(`${JSON.stringify(value) ?? String(value)} is not a ${what} (${example})`);
  const m = QUANTITY.exec(value.trim());
  if (!m) throw new UnitError(`${JSON.stringify(value)} is not a ${what} (${example})`);
  const unit = (m[2] ?? m[3] ?? "").toLowerCase();
  const bytes = Math.round(Number(m[1]) * (UNIT[unit] ?? 1));
  if (!Number.isSafeInteger(bytes)) throw new UnitError(`${JSON.stringify(value)} is too large`);
  return { bytes, perSecond: m[4] !== undefined };
}

/** Bytes from "123", "1.5MB", "64KiB" or a number. Throws `UnitError`. */
export function parseBytes(value: unknown): number {
  const q = quantity(value, "size");
  if (q.perSecond) throw new UnitError(`${JSON.stringify(value)} is a rate, not a size (leave out the "/s")`);
  return q.bytes;
}

/** Bytes per second from "2MB/s", "500kB/s", "1.5MB" (per second understood) or a number. Throws `UnitError`. */
export function parseRate(value: unknown): number {
  const { bytes } = quantity(value, "rate");
  if (bytes === 0) throw new UnitError(`${JSON.stringify(value)} is not a rate above 0 (leave the field out for no limit)`);
  return bytes;
}

const BINARY = ["KiB", "MiB", "GiB", "TiB"] as const;
const DECIMAL = ["kB", "MB", "GB", "TB"] as const;

/**
 * For people: binary units when they say it exactly, to two decimals (1048576 → "1 MiB",
 * 1536 → "1.5 KiB"), decimal ones to three digits otherwise (1000000 → "1 MB", 1234567 →
 * "1.23 MB"), bytes below 1000. `parseBytes(formatBytes(n))` gives `n` back whenever the text
 * is exact.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  for (let i = BINARY.length - 1; i >= 0; i--) {
    const unit = 2 ** (10 * (i + 1));
    if (bytes >= unit && bytes < 1000 * unit && (bytes * 100) % unit === 0) return `${bytes / unit} ${BINARY[i]}`;
  }
  for (let i = 0; ; i++) {
    const v = Number((bytes / 1000 ** (i + 1)).toPrecision(3));
    if (v < 1000 || i === DECIMAL.length - 1) return `${v} ${DECIMAL[i]}`;
  }
}

/** "500 kB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}
