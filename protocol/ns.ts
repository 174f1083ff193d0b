/** Namespaces defined or used by XEP-draft.md (§ "Namespaces" / "XMPP Registrar Considerations"). */
export const NS = {
  /** Main protocol namespace; also the disco#info feature. */
  share: "urn:xmpp:share:0",
  /** Application-specific error conditions (XEP-draft.md § "Error conditions"). */
  errors: "urn:xmpp:share:errors:0",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  discoInfo: "http://jabber.org/protocol/disco#info",
  discoItems: "http://jabber.org/protocol/disco#items",
  caps: "http://jabber.org/protocol/caps",
  rsm: "http://jabber.org/protocol/rsm",
  hashes: "urn:xmpp:hashes:2",
  /** XEP-0070, verifying HTTP requests via XMPP: the web interface's sign-in (XEP-draft.md § 5.17). */
  httpAuth: "http://jabber.org/protocol/http-auth",
} as const;

/** XEP-0300 algorithm name used for every digest and chunk hash. */
export const HASH_ALGO = "sha-256";
