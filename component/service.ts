/**
 * The sharing manager's protocol surface: every IQ handler, wired to one router. Used by the
 * running component (`app.ts`) and by the in-process integration tests, so both exercise the
 * same wiring.
 */
import { ShareError } from "../protocol/errors.ts";
import { NS } from "../protocol/ns.ts";
import { COMPONENT_DISCO, buildDiscoInfo } from "../protocol/stanzas/disco.ts";
import { Element, optionalAttr } from "../protocol/xml.ts";
import type { Deps } from "./deps.ts";
import { ContactBook, registerContacts } from "./modules/contacts.ts";
import { registerGroups } from "./modules/groups.ts";
import { registerIndex } from "./modules/index-exchange.ts";
import { registerSession } from "./modules/session.ts";
import { registerSlots } from "./modules/slots.ts";
import { SpaceDigests } from "./modules/digests.ts";
import { SharingPresence } from "./modules/sharing-presence.ts";
import { announceChange, deliverSnms, registerSnm, type SnmLinks } from "./modules/snm.ts";
import type { Snm } from "../protocol/stanzas/sync-signals.ts";
import { registerSpaces } from "./modules/spaces.ts";
import { Router } from "./router.ts";

/** XEP-0030 on the component's own address (XEP-draft.md § 5.1). */
function registerDisco(router: Router, domain: string): void {
  router.get(
    "query",
    ({ payload, to }) => {
      if (to !== domain || optionalAttr(payload, "node")) throw new ShareError("not-found", { text: "No such node" });
      return buildDiscoInfo(COMPONENT_DISCO);
    },
    NS.discoInfo,
  );
  router.get("query", () => new Element("query", { xmlns: NS.discoItems }), NS.discoItems);
}

/** How the component reaches XMPP: fire-and-forget stanzas, and IQs it waits for. */
export interface Outbound {
  send(el: Element): void;
  request(iq: Element): Promise<Element>;
}

/**
 * The router and the presence handling, wired together: who is online (sharing-presence.ts)
 * decides where SNMs are kept (snm.ts), and a client coming online gets what was kept for it.
 */
export function buildService(
  deps: Deps,
  out: Outbound,
): { router: Router; presence: SharingPresence; contacts: ContactBook; announce: (snm: Snm) => Promise<void> } {
  const presence = new SharingPresence(deps, new SpaceDigests(deps), (el) => out.send(el));
  const contacts = new ContactBook(deps);
  presence.onMember = (member, event) => {
    contacts.presence[event](member).catch((err: unknown) => deps.log.warn({ err, member, event }, "presence history not recorded"));
  };
  const links: SnmLinks = { online: (member, except) => presence.online(member, except), request: (iq) => out.request(iq) };
  presence.onArrival = (member, jid) => {
    deliverSnms(deps, links, member, jid).catch((err: unknown) => deps.log.warn({ err }, "SNM delivery failed"));
  };
  // The component's own changes (the web interface) are told as a client tells its commits.
  const announce = (snm: Snm) => announceChange(deps, { ...links, clients: (m) => presence.clients(m) }, snm);
  return { router: buildRouter(deps, links, contacts), presence, contacts, announce };
}

/**
 * Every IQ handler; `links` tells the SNM and contacts handlers who is online
 * (modules/sharing-presence.ts), `contacts` is the presence history and throughput they report.
 */
export function buildRouter(deps: Deps, links: SnmLinks, contacts: ContactBook = new ContactBook(deps)): Router {
  const router = new Router(deps.log.child({ part: "router" }));
  registerDisco(router, deps.config.domain);
  registerGroups(router, deps);
  registerSpaces(router, deps);
  registerIndex(router, deps);
  registerSlots(router, deps);
  registerSession(router, deps);
  registerSnm(router, deps, links);
  registerContacts(router, deps, contacts, (member) => links.online(member));
  return router;
}
