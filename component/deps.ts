/**
 * What every component module is given (the composition root in `app.ts` builds it).
 * Clock and id generation are injected so that module tests are deterministic.
 */
import type { Logger } from "pino";
import type { BareJid } from "../protocol/ids.ts";
import type { Element } from "../protocol/xml.ts";
import type { ComponentConfig } from "./config.ts";
import type { BlobStore } from "./store/blobs.ts";
import type { MetadataStore } from "./store/metadata.ts";
import type { SessionRegistry, TokenRegistry } from "./tokens.ts";

export interface Deps {
  readonly store: MetadataStore;
  readonly blobs: BlobStore;
  readonly tokens: TokenRegistry;
  readonly sessions: SessionRegistry;
  readonly config: ComponentConfig;
  readonly log: Logger;
  readonly now: () => number;
  /** A fresh id with the given prefix, e.g. `s-` + 10 random base62 characters. */
  readonly newId: (prefix: string) => string;
  /** Sends a stanza to every online sharing client of a member (see `modules/presence.ts`). */
  readonly toSharingClients: (member: BareJid, build: (fullJid: string) => Element) => void;
}
