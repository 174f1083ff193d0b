// xmpp.js entities wired to a harness Prosody. Each returned entity is started and has an "error"
// listener (an EventEmitter "error" without a listener throws and would kill the test worker);
// errors are kept on `errors` so that a test can assert on them. stopEntity() is the matching
// teardown: it turns off xmpp.js's automatic reconnect first, or a stopped client would come back.

import { client, type Client, type Entity } from "@xmpp/client";
import { component, type Component } from "@xmpp/component";
import type { ProsodyHandle } from "./prosody.ts";

export type WithErrors<T> = T & { errors: Error[] };

function collectErrors<T extends Entity>(entity: T): WithErrors<T> {
  const errors: Error[] = [];
  entity.on("error", (err) => {
    errors.push(err);
  });
  return Object.assign(entity, { errors });
}

/** A started, online @xmpp/client for user@handle.domain/resource. */
export async function connectClient(
  handle: ProsodyHandle,
  user: string,
  password: string,
  resource = "test",
): Promise<WithErrors<Client>> {
  const xmpp = collectErrors(
    client({ service: handle.service, domain: handle.domain, username: user, password, resource }),
  );
  try {
    await xmpp.start();
  } catch (err) {
    await stopEntity(xmpp);
    throw new Error(`${user}@${handle.domain}/${resource} could not log in: ${(err as Error).message}`);
  }
  return xmpp;
}

/** A started @xmpp/component authenticated as handle.componentDomain. */
export async function connectComponent(handle: ProsodyHandle): Promise<WithErrors<Component>> {
  const xmpp = collectErrors(
    component({ service: handle.componentService, domain: handle.componentDomain, password: handle.componentSecret }),
  );
  try {
    await xmpp.start();
  } catch (err) {
    await stopEntity(xmpp);
    throw new Error(`component ${handle.componentDomain} could not connect: ${(err as Error).message}`);
  }
  return xmpp;
}

/** Stops reconnection, then the entity; never throws (teardown must go on). */
export async function stopEntity(entity: Entity | undefined | null): Promise<void> {
  if (!entity) return;
  entity.reconnect.stop();
  if (entity.status === "offline") return;
  try {
    await entity.stop();
  } catch {
    // the connection may already be gone; "offline" is all we need
  }
}
