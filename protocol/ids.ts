/**
 * Branded identifiers. A plain string becomes one of these only through a
 * parser that checked it, so a `SpaceId` in a signature means "already valid".
 */
import { badRequest } from "./errors.ts";

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A device (replica) id: one entry in a version vector. */
export type ReplicaId = Brand<string, "ReplicaId">;
/** A shared space id, chosen by the component. */
export type SpaceId = Brand<string, "SpaceId">;
/** A group object id, chosen by the component. */
export type GroupId = Brand<string, "GroupId">;
/** A chunk's SHA-256, lowercase hex (64 characters). */
export type ChunkHash = Brand<string, "ChunkHash">;
/** A bare JID (`local@domain`), already lower-cased where the spec allows. */
export type BareJid = Brand<string, "BareJid">;

/** Replica, space and group ids share one token syntax: short, URL- and filename-safe. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}
export function isChunkHash(s: string): s is ChunkHash {
  return HEX64.test(s);
}

function token<T extends string>(kind: string) {
  return (s: string): T => {
    if (!isToken(s)) throw badRequest(`Invalid ${kind} id: ${JSON.stringify(s)}`);
    return s as T;
  };
}
/** Checks a space id (bad-request when malformed). */
export const spaceId = token<SpaceId>("space");
/** Checks a group id (bad-request when malformed). */
export const groupId = token<GroupId>("group");
