/**
 * The device's configuration (`config.json`, mode 0600 because it holds the password):
 * the account, how to reach its server and sharing manager, and this device's replica id.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { ReplicaId } from "../protocol/ids.ts";
import { isToken } from "../protocol/ids.ts";

export interface ClientConfig {
  readonly jid: string;
  readonly password: string;
  /** xmpp://host:port, or undefined to use the JID's domain on the standard port. */
  readonly service?: string;
  /** Human name of this device; also the XMPP resource `xshare-<device>`. */
  readonly device: string;
  /** This device's entry in every version vector. */
  readonly replica: ReplicaId;
  /** The sharing manager's JID. */
  readonly component: string;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** A fresh replica id: 10 random base32 characters (URL- and filename-safe). */
export function newReplicaId(): ReplicaId {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = randomBytes(10);
  let s = "";
  for (const b of bytes) s += alphabet[b & 31];
  return s as ReplicaId;
}

export function deviceOk(name: string): boolean {
  return isToken(name) && name.length <= 32;
}

export async function readConfig(file: string): Promise<ClientConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let data: Partial<ClientConfig>;
  try {
    data = JSON.parse(text) as Partial<ClientConfig>;
  } catch {
    throw new UsageError(`${file} is not valid JSON; run \`xshare login\` again`);
  }
  for (const k of ["jid", "password", "device", "replica", "component"] as const) {
    if (typeof data[k] !== "string" || data[k] === "") throw new UsageError(`${file} lacks "${k}"; run \`xshare login\` again`);
  }
  return data as ClientConfig;
}

/** Writes atomically with mode 0600 (the file holds the account password). */
export async function writeConfig(file: string, config: ClientConfig): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}
