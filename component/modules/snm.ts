/**
 * SNMs through the component (XEP-draft.md § 5.13, the patent's FIG. 10): store and forward for
 * members whose sharing clients are offline.
 *
 * A member's client sends `<snm/>` to the component after a change when some member of the
 * space has no sharing client online. The component keeps one pending SNM per (member, space)
 * for every member with no client online (vectors of successive SNMs are merged, so the kept
 * one says everything the others said), in the metadata store, so it survives restarts. The
 * sender's own user is included only when the component knows another replica of theirs in
 * this space (from its acknowledgements): their other devices need it, the sender does not.
 *
 * When a sharing client of a member comes online (its first presence, sharing-presence.ts),
 * each pending SNM of that member goes to it as an IQ set from the component; the result
 * removes it, unless a newer one replaced it meanwhile. A member who left the space in between
 * is not told and the SNM is dropped. SNMs are idempotent, so a duplicate delivery (a lost
 * result, a second device) does nothing harmful.
 *
 * Non-members get `item-not-found`, the same answer as for a space that does not exist.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { BareJid } from "../../protocol/ids.ts";
import { buildSnm, parseSnm, type Snm } from "../../protocol/stanzas/sync-signals.ts";
import { Element } from "../../protocol/xml.ts";
import type { Deps } from "../deps.ts";
import type { Router } from "../router.ts";

/** What the SNM module needs to know about who is online, and how to ask a client. */
export interface SnmLinks {
  /** Whether a member has a sharing client online other than `except`. */
  online(member: BareJid, except?: string): boolean;
  /** Sends an IQ and resolves with the answer (rejects on error or timeout). */
  request(iq: Element): Promise<Element>;
}

export function registerSnm(router: Router, deps: Deps, links: SnmLinks): void {
  router.set("snm", async (req) => {
    const snm = parseSnm(req.payload);
    const space = await deps.store.getSpace(snm.space);
    const members = space ? await deps.store.membersOf(snm.space) : [];
    if (!space || !members.includes(req.member)) throw new ShareError("not-found");
    let ownOthers = false;
    if (!links.online(req.member, req.from)) {
      ownOthers = (await deps.store.acks(snm.space)).some((a) => a.member === req.member && a.replica !== snm.replica);
    }
    const nowMs = deps.now();
    for (const m of members) {
      if (links.online(m, req.from)) continue;
      if (m === req.member && !ownOthers) continue;
      await deps.store.putSnm({ member: m, space: snm.space, snm, nowMs });
    }
    return undefined;
  });
}

/** Delivers a member's pending SNMs to one of their sharing clients that just came online. */
export async function deliverSnms(deps: Deps, links: SnmLinks, member: BareJid, jid: string): Promise<void> {
  for (const p of await deps.store.snmsFor(member)) {
    const members = await deps.store.membersOf(p.snm.space).catch(() => [] as BareJid[]);
    if (!members.includes(member)) {
      await deps.store.dropSnm(member, p.snm.space, p.storedMs);
      continue;
    }
    const iq = new Element("iq", { type: "set", to: jid, from: deps.config.domain });
    iq.cnode(buildSnm(p.snm));
    try {
      await links.request(iq);
      await deps.store.dropSnm(member, p.snm.space, p.storedMs);
    } catch (err) {
      // Kept for the next time a client of this member comes online.
      deps.log.debug({ err: (err as Error).message, to: jid, space: p.snm.space }, "SNM not delivered");
    }
  }
}

/**
 * Tells every member of a space that the component itself changed it (a change made in the web
 * interface, component/web/replica.ts): what a sharing client does after its own commit (§ 5.13),
 * done by the component. Each sharing client online now gets the SNM as an IQ set from the
 * component (as `deliverSnms` sends them); every member with no client online, and a member
 * whose clients did not answer, gets it kept for their next arrival. Never throws: a failure
 * to tell is logged, the change itself is already committed.
 */
export async function announceChange(deps: Deps, links: SnmLinks & { clients(member: BareJid): string[] }, snm: Snm): Promise<void> {
  const nowMs = deps.now();
  const tell = async (m: BareJid) => {
    const answers = links.clients(m).map(async (jid) => {
      const iq = new Element("iq", { type: "set", to: jid, from: deps.config.domain });
      iq.cnode(buildSnm(snm));
      try {
        await links.request(iq);
        return true;
      } catch (err) {
        deps.log.debug({ err: (err as Error).message, to: jid, space: snm.space }, "SNM not delivered");
        return false;
      }
    });
    if ((await Promise.all(answers)).some(Boolean)) return;
    await deps.store.putSnm({ member: m, space: snm.space, snm, nowMs }).catch((err: unknown) => deps.log.warn({ err, member: m }, "SNM not kept"));
  };
  await Promise.all((await deps.store.membersOf(snm.space).catch(() => [] as BareJid[])).map(tell));
}
