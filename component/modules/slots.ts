/**
 * Slots (XEP-draft.md § 5.9): tokens for moving chunk bytes over HTTP.
 *
 * Upload: only writers of the space; sizes are checked up front against the chunk limit, the
 * member's upload quota and the space's quota, so a transfer that cannot be accepted never
 * starts. Download: any member, for the space's chunks that the component holds. Chunks held
 * only for other spaces count as missing both ways: an uploader proves possession by sending
 * the bytes (a repeated upload is cheap: 200, stored once).
 */
import { ShareError } from "../../protocol/errors.ts";
import * as SL from "../../protocol/stanzas/slots.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";
import { assertWriter, memberSpace } from "./access.ts";

export function registerSlots(router: Router, deps: Deps): void {
  router.get("slots", async ({ member, payload }) => {
    const req = SL.parseSlotRequest(payload);
    const s = await memberSpace(deps, req.space, member);
    // Held for this purpose = the space's own chunks (and, to skip an upload, the member's own
    // uploads): whether some other space holds a hash is not told, nor served (§ 8).
    const held = await deps.store.usableChunks(req.space, req.chunks.map((c) => c.hash), req.direction === "upload" ? member : undefined);
    const missing = req.chunks.filter((c) => !held.has(c.hash));
    let grant = req.chunks.filter((c) => held.has(c.hash));
    if (req.direction === "upload") {
      assertWriter(s, member);
      const { limits } = deps.config;
      const big = missing.find((c) => c.size > limits.maxChunkBytes);
      if (big) throw new ShareError("too-large", { text: `Chunk ${big.hash} is larger than ${limits.maxChunkBytes} bytes` });
      const bytes = missing.reduce((n, c) => n + c.size, 0);
      if ((await deps.store.uploadedBytes(member)) + bytes > limits.userQuotaBytes) {
        throw new ShareError("quota-exceeded", { text: `Your uploads would exceed your quota of ${limits.userQuotaBytes} bytes` });
      }
      if (s.record.usedBytes + bytes > limits.spaceQuotaBytes) {
        throw new ShareError("quota-exceeded", { text: `The space would exceed its quota of ${limits.spaceQuotaBytes} bytes` });
      }
      grant = missing;
    }
    const { token, expiresMs } = deps.tokens.issue(member, req.space, req.direction, grant);
    return SL.buildSlots({
      space: req.space,
      direction: req.direction,
      url: deps.config.chunkUrl,
      token,
      expiresMs,
      missing: missing.map((c) => c.hash),
    });
  });
}
