/**
 * Which sharing clients are online (XEP-draft.md § 5.12): a sharing client sends directed
 * presence to the component; the server later sends `unavailable` for it when it goes away
 * (RFC 6121 § 4.6.3). Used to notify members who are online; everything else is store-and-
 * forward and does not depend on it.
 */
import type { BareJid } from "../../protocol/ids.ts";
import { bareOf } from "../../protocol/jid.ts";
import type { Element } from "../../protocol/xml.ts";

export class OnlineClients {
  readonly #byMember = new Map<BareJid, Set<string>>();

  /** Records a presence stanza addressed to the component. Malformed addresses are ignored. */
  onPresence(stanza: Element): void {
    const from = String(stanza.attrs.from ?? "");
    if (!from.includes("/")) return;
    let member: BareJid;
    try {
      member = bareOf(from);
    } catch {
      return;
    }
    const type = stanza.attrs.type;
    const set = this.#byMember.get(member) ?? new Set<string>();
    if (type === undefined || type === "available") set.add(from);
    else if (type === "unavailable") set.delete(from);
    else return;
    if (set.size) this.#byMember.set(member, set);
    else this.#byMember.delete(member);
  }

  clients(member: BareJid): readonly string[] {
    return [...(this.#byMember.get(member) ?? [])];
  }

  /** The server forgets nothing, but after our own disconnect we cannot trust the list. */
  clear(): void {
    this.#byMember.clear();
  }
}
