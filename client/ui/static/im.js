// The `im` module's page part (client/ui/im.ts): the account and its presence selector in the
// header, the contacts (presence, the sharing indicator, unread counts) and the conversation.
// Every name and message from the server becomes a text node (app.el), never markup.
//
// Events heard: im-presence, im-roster, im-contact, im-message, im-failed (server),
// "gleam" {contacts: {<jid>: true}} (local, from the share module: the contact's folder icon
// gleams), "resync" (a fresh snapshot after a lost event stream). Emitted: "open-contact"
// {jid} when a contact's folder icon is clicked, "contact-selected" {jid} when a chat opens.

const LABELS = { available: "Available", chat: "Free to chat", away: "Away", xa: "Extended away", dnd: "Do not disturb", offline: "Offline" };
const ORDER = { chat: 0, available: 0, dnd: 1, away: 2, xa: 3, offline: 4 };

export function mount(app) {
  const el = app.el;
  let state = app.state.im;
  const contacts = new Map(state.contacts.map((c) => [c.jid, c]));
  const unread = new Map();
  const gleams = new Set();
  let open = null; // the jid of the open conversation
  let messages = []; // of the open conversation

  // ---------------------------------------------------------------- header

  const select = el("select", { class: "input presence-select", "aria-label": "Your presence", title: "Your presence, as your contacts see this device" }, state.shows.map((s) => el("option", { value: s, text: LABELS[s] ?? s })));
  select.value = state.show;
  const dot = el("span", { class: "presence-dot", dataset: { show: state.show } });
  select.addEventListener("change", async () => {
    const want = select.value;
    select.disabled = true;
    try {
      await app.api("im/presence", { body: { show: want } });
      dot.dataset.show = want;
    } catch (err) {
      app.notify(`Presence not changed: ${err.message}`, { kind: "error", key: "im-presence" });
      select.value = dot.dataset.show;
    } finally {
      select.disabled = false;
    }
  });
  app.region("account").append(el("div", { class: "account" }, dot, el("div", { class: "account-names" }, el("span", { class: "account-jid", text: state.me }), el("span", { class: "account-device muted", text: `device ${state.device}` }))), select);

  // ---------------------------------------------------------------- contacts

  const count = el("span", { class: "badge contacts-count" });
  const filter = el("input", { class: "input contacts-filter", type: "search", placeholder: "Search contacts", "aria-label": "Search contacts" });
  const list = el("ul", { class: "contact-list", role: "list" });
  const empty = el("div", { class: "placeholder contacts-empty" }, el("p", { class: "placeholder-title", text: "No contacts yet" }), el("p", { text: "People you add in your chat client appear here." }));
  const contactsRegion = app.region("contacts");
  contactsRegion.append(el("div", { class: "pane-title" }, el("span", { text: "Contacts" }), count), el("div", { class: "contacts-search" }, filter), list, empty);
  filter.addEventListener("input", () => drawContacts());

  const displayName = (c) => c.name || c.jid;
  const initials = (c) => {
    const n = displayName(c).replace(/@.*/, "").replace(/[^\p{L}\p{N}\s._-]+/gu, "").trim();
    const parts = n.split(/[\s._-]+/).filter(Boolean);
    return ((parts[0]?.[0] ?? "?") + (parts[1]?.[0] ?? "")).toUpperCase();
  };

  function avatar(c, big) {
    return el("span", { class: ["avatar", big && "avatar-big"], "aria-hidden": "true" }, el("span", { class: "avatar-initials", text: initials(c) }), el("span", { class: "presence-dot", dataset: { show: c.show } }));
  }

  function folderIcon(c) {
    if (!c.shares) return null;
    const b = el(
      "button",
      {
        type: "button",
        class: ["share-indicator", gleams.has(c.jid) && "gleam"],
        title: `${displayName(c)} uses a sharing client: open your shared folders with them`,
        "aria-label": `Shared folders with ${displayName(c)}`,
        dataset: { jid: c.jid },
        onclick: (e) => {
          e.stopPropagation();
          app.emit("open-contact", { jid: c.jid });
        },
      },
      el("span", { class: "folder-glyph", "aria-hidden": "true" }),
    );
    return b;
  }

  function contactRow(c) {
    const n = unread.get(c.jid) ?? 0;
    const sub = [LABELS[c.show] ?? c.show, c.status, c.shares && "shares folders"].filter(Boolean).join(" · ");
    return el(
      "li",
      {
        class: ["contact", c.jid === open && "selected", c.show === "offline" && "is-offline"],
        dataset: { jid: c.jid, show: c.show, shares: c.shares ? "yes" : "no" },
        tabindex: "0",
        role: "button",
        "aria-label": `${displayName(c)}, ${LABELS[c.show] ?? c.show}${c.shares ? ", supports sharing" : ""}`,
        onclick: () => openConversation(c.jid),
        onkeydown: (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            openConversation(c.jid);
          }
        },
      },
      avatar(c),
      el("span", { class: "contact-text" }, el("span", { class: "contact-name", text: displayName(c) }), el("span", { class: "contact-sub muted", text: c.inRoster ? sub : `Not in your contacts · ${sub}` })),
      folderIcon(c),
      n > 0 ? el("span", { class: "unread", text: String(n), title: `${n} unread` }) : null,
    );
  }

  function sorted() {
    const q = filter.value.trim().toLowerCase();
    return [...contacts.values()]
      .filter((c) => !q || c.jid.includes(q) || (c.name ?? "").toLowerCase().includes(q))
      .sort((a, b) => ORDER[a.show] - ORDER[b.show] || Number(b.inRoster) - Number(a.inRoster) || displayName(a).localeCompare(displayName(b)));
  }

  function drawContacts() {
    const rows = sorted();
    list.replaceChildren(...rows.map(contactRow));
    empty.hidden = contacts.size > 0;
    const online = [...contacts.values()].filter((c) => c.show !== "offline").length;
    count.textContent = `${online} online`;
    count.title = `${online} of ${contacts.size} contacts online`;
  }

  // ---------------------------------------------------------------- conversation

  const chatRegion = app.region("chat");
  const header = el("div", { class: "chat-header" });
  const log = el("ol", { class: "messages", "aria-live": "polite" });
  const input = el("textarea", { class: "input composer-input", rows: "1", placeholder: "Write a message…", "aria-label": "Message" });
  const send = el("button", { class: "btn btn-primary composer-send", type: "submit", text: "Send" });
  const form = el("form", { class: "composer" }, input, send);
  const hint = el("div", { class: "placeholder chat-empty" }, el("p", { class: "placeholder-title", text: "No conversation open" }), el("p", { text: "Pick a contact on the left to chat." }));
  const pane = el("div", { class: "chat" }, header, log, form);
  pane.hidden = true;
  chatRegion.append(hint, pane);

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = input.value;
    if (!open || body.trim() === "") return;
    send.disabled = true;
    try {
      await app.api("im/send", { body: { to: open, body } });
      input.value = "";
      input.style.height = "auto";
    } catch (err) {
      app.notify(`Not sent: ${err.message}`, { kind: "error", key: "im-send" });
    } finally {
      send.disabled = false;
      input.focus();
    }
  });

  const time = (at) => {
    const d = new Date(at);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  };

  function bubble(m) {
    return el(
      "li",
      { class: ["message", m.dir === "out" ? "mine" : "theirs"], dataset: { seq: String(m.seq) } },
      el("div", { class: "bubble" }, el("span", { class: "message-body", text: m.body })),
      el("div", { class: "message-meta muted" }, el("time", { datetime: new Date(m.at).toISOString(), text: time(m.at) }), m.via === "carbon" ? el("span", { class: "via", text: m.dir === "out" ? " · from another of your clients" : " · seen on another of your clients" }) : null),
    );
  }

  function drawHeader() {
    const c = contacts.get(open);
    if (!c) return header.replaceChildren();
    header.replaceChildren(
      ...[
        avatar(c, true),
        el("div", { class: "chat-title" }, el("span", { class: "chat-name", text: displayName(c) }), el("span", { class: "chat-sub muted", text: `${c.jid} · ${LABELS[c.show] ?? c.show}${c.status ? ` · ${c.status}` : ""}` })),
        c.shares ? el("span", { class: "badge badge-share", title: "Their client supports sharing folders", text: "Shares folders" }) : null,
      ].filter(Boolean),
    );
  }

  function drawMessages() {
    if (messages.length === 0) log.replaceChildren(el("li", { class: "messages-empty muted", text: "No messages yet. Say hello!" }));
    else log.replaceChildren(...messages.map(bubble));
    log.scrollTop = log.scrollHeight;
  }

  async function openConversation(jid) {
    open = jid;
    unread.delete(jid);
    hint.hidden = true;
    pane.hidden = false;
    drawContacts();
    drawHeader();
    messages = [];
    log.replaceChildren();
    app.emit("contact-selected", { jid });
    try {
      const r = await app.api(`im/conversation?jid=${encodeURIComponent(jid)}`);
      if (open !== jid) return;
      messages = r.messages;
      drawMessages();
    } catch (err) {
      app.notify(`The conversation could not be loaded: ${err.message}`, { kind: "error", key: "im-load" });
    }
    input.focus();
  }

  // ---------------------------------------------------------------- live updates

  function upsert(c) {
    const before = contacts.get(c.jid);
    contacts.set(c.jid, { ...c, last: c.last ?? before?.last });
    drawContacts();
    if (c.jid === open) drawHeader();
  }

  app.on("im-presence", (p) => {
    select.value = p.show;
    dot.dataset.show = p.show;
  });
  app.on("im-roster", ({ contacts: all }) => {
    contacts.clear();
    for (const c of all) contacts.set(c.jid, c);
    drawContacts();
    if (open) drawHeader();
  });
  app.on("im-contact", upsert);
  app.on("im-message", (m) => {
    if (!contacts.has(m.contact)) contacts.set(m.contact, { jid: m.contact, inRoster: false, show: "offline", shares: false });
    const c = contacts.get(m.contact);
    contacts.set(m.contact, { ...c, last: { body: m.body, at: m.at, dir: m.dir } });
    if (m.contact === open) {
      if (!messages.some((x) => x.seq === m.seq)) messages.push(m);
      drawMessages();
    } else if (m.dir === "in") unread.set(m.contact, (unread.get(m.contact) ?? 0) + 1);
    drawContacts();
  });
  app.on("im-failed", (f) => app.notify(f.text, { kind: "error", key: `im-failed-${f.contact}` }));
  app.on("gleam", (g) => {
    gleams.clear();
    for (const [jid, on] of Object.entries(g?.contacts ?? {})) if (on) gleams.add(jid);
    drawContacts();
  });
  app.on("resync", (s) => {
    state = s.im;
    contacts.clear();
    for (const c of state.contacts) contacts.set(c.jid, c);
    select.value = state.show;
    dot.dataset.show = state.show;
    drawContacts();
    if (open) void openConversation(open);
  });

  drawContacts();
}
