/**
 * What a sync learns of a space's members from the sharing manager (`<contacts/>`, XEP-draft.md
 * § 5.15), once per sync and only with a schedule (ctx.schedule): the urgency of the space's
 * transfers (schedule/urgency.ts) and this account's rates and session (schedule/throughput.ts),
 * from which each transfer's fit is added. An older sharing manager does not know the IQ
 * (feature-not-implemented) or cannot answer it (service-unavailable): then, as for any refusal,
 * nothing is known and the urgency is 0; the sync goes on as without it.
 */
import { ShareError } from "../../protocol/errors.ts";
import type { Contact } from "../../protocol/stanzas/contacts.ts";
import { budgetOf } from "../schedule/throughput.ts";
import { NO_URGENCY, urgencyOf, type SpaceUrgency } from "../schedule/urgency.ts";
import type { SyncContext } from "./context.ts";

export interface SpaceContacts {
  /** The members as the sharing manager describes them; absent when it did not answer. */
  readonly members?: readonly Contact[];
  readonly urgency: SpaceUrgency;
}

export async function spaceContacts(ctx: Pick<SyncContext, "remote" | "space" | "me" | "now">): Promise<SpaceContacts> {
  let answer;
  try {
    answer = await ctx.remote.contacts(ctx.space.id);
  } catch (err) {
    if (err instanceof ShareError) return { urgency: NO_URGENCY };
    throw err;
  }
  if (answer.space !== ctx.space.id) return { urgency: NO_URGENCY };
  const budget = budgetOf(answer, ctx.me);
  const urgency = urgencyOf(answer, ctx.me, ctx.now());
  return { members: answer.members, urgency: budget ? { ...urgency, budget } : urgency };
}
