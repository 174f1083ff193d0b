/**
 * SCRAM-SHA-1 `Hi()` (RFC 5802 § 2.2) is PBKDF2-HMAC-SHA-1 with a 20-byte output. The
 * sasl-scram-sha-1 package that @xmpp/client 0.14 uses computes it as one awaited WebCrypto
 * importKey + sign per iteration: with Prosody's 10,000 iterations that is ~1.1 s of every
 * login (measured by bench:client), where node's native PBKDF2 takes ~2 ms. The package calls
 * `Hi` through its exports object, so replacing that one function is enough; the result is the
 * same bytes (tests/unit/scram.test.ts compares both).
 */
import { pbkdf2 } from "node:crypto";
import { createRequire } from "node:module";

type Hi = (text: string, salt: Uint8Array, iterations: number) => Promise<Uint8Array>;

const require = createRequire(import.meta.url);
const scramPath = require.resolve("sasl-scram-sha-1", { paths: [require.resolve("@xmpp/client")] });
const bitops = require(require.resolve("./lib/bitops.js", { paths: [scramPath.replace(/[/\\][^/\\]*$/, "")] })) as { Hi: Hi };

/** The package's own implementation, kept for the equivalence test. */
export const slowHi: Hi = bitops.Hi;

export const fastHi: Hi = (text, salt, iterations) =>
  new Promise((resolve, reject) =>
    pbkdf2(Buffer.from(text, "utf8"), salt, iterations, 20, "sha1", (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))),
  );

bitops.Hi = fastHi;
