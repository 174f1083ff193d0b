// The sharing portion of the local UI (the patent's FIG. 4 and 5), server side in
// client/ui/share/. Two views in the "sharing" region:
//
//   home   the spaces in FIG. 3's sections ("My sharing", a folder per contact, Groups), each
//          with its sync state, conflicts and progress, a star (the gleam) on what changed
//          elsewhere since it was last opened; pending invitations; "Share a folder".
//   space  one space: members (online or not), state, invite and leave; its conflicts with the
//          choice of copy to keep; the folder open (breadcrumbs, entries with stars on changed
//          sub-folders) and, for a file, its details and version history.
//
// Live: the `share` event brings the snapshot again, `share-progress` the bytes of running
// transfers, `share-change` the files another member changed (the open folder is read again).
// It emits "gleam" {contacts: {<bare jid>: true}} (the contacts whose folder gleams, all of
// them each time) for the contacts list, and opens a contact's folder on "open-contact" {jid}.
//
// Invariant: every name comes from the network or the disk and is attacker-controlled; it only
// ever becomes text (app.el), never HTML.

const KIB = 1024;
/** How often the page asks for the list of spaces again (new invitations). */
const PAGE_POLL_MS = 5000;

export function mount(app) {
  const el = app.el;
  const root = app.region("sharing");
  root.classList.add("share");
  let snap = app.state.share ?? { ready: false };
  /** What is shown: {view: "home"} | {view: "space", space, path, entries, file, details, conflicts} | {view: "new"} */
  let ui = { view: "home" };
  const progress = new Map();

  const fail = (err) => app.notify(err.message, { kind: "error", key: "share" });
  const done = (text) => app.notify(text, { kind: "info", key: "share" });

  // ------------------------------------------------------------------ formatting

  function size(n) {
    if (n < KIB) return `${n} B`;
    const units = ["KB", "MB", "GB", "TB"];
    let v = n / KIB;
    let i = 0;
    while (v >= 1000 && i < units.length - 1) {
      v /= KIB;
      i++;
    }
    return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
  }

  function when(ms) {
    const d = new Date(ms);
    const ago = Date.now() - ms;
    if (ago >= 0 && ago < 60_000) return "just now";
    if (ago >= 0 && ago < 3_600_000) return `${Math.round(ago / 60_000)} min ago`;
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  const who = (jid) => (jid ? (jid === snap.me ? "you" : jid) : "unknown member");

  // ------------------------------------------------------------------ pieces

  function folderIcon(gleam, label) {
    return el("span", { class: ["sh-folder", gleam && "sh-gleam"], "aria-label": gleam ? `${label}: changed since you last opened it` : label, role: "img" },
      gleam ? el("span", { class: "sh-star", "aria-hidden": "true", text: "★" }) : null);
  }

  function statusBadge(s) {
    const label = { "in-sync": "in sync", syncing: "syncing", waiting: "waiting", paused: "paused", offline: "offline", retrying: "retrying" }[s.status] ?? s.status;
    return el("span", { class: ["sh-status", `sh-status-${s.status}`], title: s.text, text: label });
  }

  function progressLine(s) {
    const p = progress.get(s.id) ?? s.progress;
    if (!p || (!p.up && !p.down)) return null;
    return el("span", { class: "sh-progress", "data-space": s.id, text: `↓ ${size(p.down)}  ↑ ${size(p.up)}` });
  }

  /** "bob online", "bob and 2 others offline"… the other members for one line. */
  function othersLine(s) {
    const others = s.members.filter((m) => !m.me);
    if (!others.length) return "only you so far";
    const on = others.filter((m) => m.online).length;
    if (others.length === 1) return `${others[0].jid.split("@")[0]} ${on ? "online" : "offline"}`;
    return `${others.length} others, ${on} online`;
  }

  function spaceRow(entry) {
    const s = snap.spaces[entry.id];
    if (!s) return null;
    return el("li", {},
      el("button", { class: "sh-space", type: "button", dataset: { space: s.id }, onclick: () => openSpace(s.id, "") },
        folderIcon(s.gleam, entry.label),
        el("span", { class: "sh-space-main" },
          el("span", { class: "sh-space-name", text: entry.label }),
          el("span", { class: "sh-space-sub muted", text: s.status === "in-sync" ? `in sync · ${othersLine(s)}` : s.text })),
        el("span", { class: "sh-space-side" },
          statusBadge(s),
          s.conflicts ? el("span", { class: "sh-conflict-count", title: "conflicts to resolve", text: `${s.conflicts} conflict${s.conflicts > 1 ? "s" : ""}` }) : null,
          progressLine(s))));
  }

  function section(sec) {
    const title = sec.kind === "contact" ? sec.contact : sec.title;
    return el("section", { class: ["sh-section", `sh-section-${sec.kind}`], dataset: { section: sec.key } },
      el("h3", { class: "sh-section-title" }, folderIcon(sec.gleam, title), el("span", { text: sec.kind === "contact" ? sec.title : sec.title }),
        sec.kind === "contact" ? el("span", { class: "muted sh-jid", text: sec.contact }) : null),
      sec.spaces.length
        ? el("ul", { class: "sh-spaces" }, sec.spaces.map(spaceRow))
        : el("p", { class: "muted sh-empty", text: sec.kind === "mine" ? "Nothing shared yet. Share a folder: everyone you add gets it, even while offline." : "Nothing here yet." }));
  }

  function invitations() {
    if (!snap.invitations?.length) return null;
    return el("section", { class: "sh-invitations" },
      el("h3", { class: "sh-section-title", text: "Invitations" }),
      el("ul", { class: "sh-spaces" }, snap.invitations.map((inv) =>
        el("li", { class: "sh-invite", dataset: { space: inv.id } },
          el("span", { class: "sh-space-main" },
            el("span", { class: "sh-space-name", text: inv.name }),
            el("span", { class: "sh-space-sub muted", text: `${inv.kind === "mine" ? `${inv.owner}'s sharing` : inv.kind === "pair" ? `with ${inv.owner}` : `group with ${inv.members.filter((m) => m !== snap.me).join(", ")}`}` })),
          el("button", { class: "btn btn-primary", type: "button", onclick: (e) => act(e.currentTarget, "accept", { space: inv.id }, "Accepted") }, "Accept")))));
  }

  async function act(button, route, body, ok) {
    if (button) button.disabled = true;
    try {
      const r = await app.api(`share/${route}`, { method: "POST", body });
      done(r?.message ?? ok);
      return r;
    } catch (err) {
      fail(err);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ views

  function home() {
    const top = el("div", { class: "pane-title" }, el("span", { text: "Shared folders" }),
      el("button", { class: "btn sh-new", type: "button", onclick: () => show({ view: "new" }) }, "Share a folder"));
    if (!snap.ready) return [top, el("p", { class: "placeholder", text: "The sharing client is starting…" })];
    return [top, el("div", { class: "sh-scroll" },
      snap.online ? null : el("p", { class: "sh-offline", text: "Offline: changes are kept and exchanged when the connection is back." }),
      invitations(), snap.sections.map(section))];
  }

  function newForm() {
    const name = el("input", { class: "input", name: "name", placeholder: "Folder name, e.g. Holiday photos", required: true, maxlength: "200" });
    const members = el("input", { class: "input", name: "with", placeholder: "bob@example.org, charlene@example.org" });
    const kind = el("select", { class: "input", name: "kind" },
      el("option", { value: "pair" }, "With one contact (both can change it)"),
      el("option", { value: "group" }, "Group folder (every member can change it)"),
      el("option", { value: "mine" }, "My sharing (others receive, only I change it)"));
    const form = el("form", { class: "sh-form", onsubmit: async (e) => {
      e.preventDefault();
      const r = await act(form.querySelector("button[type=submit]"), "create", { kind: kind.value, name: name.value, with: members.value.split(",").map((s) => s.trim()).filter(Boolean) }, "Shared");
      if (r) {
        done(`Shared as ${r.folder}`);
        openSpace(r.space, "");
      }
    } },
    el("label", {}, el("span", { text: "What" }), kind),
    el("label", {}, el("span", { text: "Name" }), name),
    el("label", {}, el("span", { text: "Members" }), members),
    el("div", { class: "sh-form-actions" },
      el("button", { class: "btn", type: "button", onclick: () => show({ view: "home" }) }, "Cancel"),
      el("button", { class: "btn btn-primary", type: "submit" }, "Share")));
    return [el("div", { class: "pane-title" }, el("span", { text: "Share a folder" })), el("div", { class: "sh-scroll" }, form)];
  }

  function crumbs(s, path) {
    const parts = path ? path.split("/") : [];
    const out = [el("button", { class: "sh-crumb", type: "button", onclick: () => openSpace(s.id, "") }, s.name)];
    parts.forEach((p, i) => out.push(el("span", { class: "sh-sep", text: "/" }), el("button", { class: "sh-crumb", type: "button", onclick: () => openSpace(s.id, parts.slice(0, i + 1).join("/")) }, p)));
    return el("nav", { class: "sh-crumbs", "aria-label": "Folder" }, out);
  }

  function members(s) {
    return el("ul", { class: "sh-members" }, s.members.map((m) =>
      el("li", { class: ["sh-member", m.online ? "on" : "off"], title: m.online ? `${m.jid}: sharing client online` : `${m.jid}: offline, gets changes later` },
        el("span", { class: "sh-dot", "aria-hidden": "true" }), el("span", { text: m.me ? `${m.jid} (you)` : m.jid }))));
  }

  function conflictsBox(s) {
    const list = (ui.conflicts ?? []).filter((c) => c.space === s.id);
    if (!list.length) return null;
    return el("section", { class: "sh-conflicts" },
      el("h4", { text: `Conflicts (${list.length})` }),
      el("ul", {}, list.map((c) => {
        const mine = c.localAt === "path" ? c.path : c.copy;
        const theirs = c.localAt === "path" ? c.copy : c.path;
        return el("li", { class: "sh-conflict", dataset: { copy: c.copy } },
          el("p", {}, el("strong", { text: c.path }), el("span", { class: "muted", text: " was changed here and elsewhere at the same time." })),
          el("p", { class: "muted" }, el("span", { text: `Yours: ${mine}` }), el("br"), el("span", { text: `${c.localAt === "path" ? who(c.author) : "Theirs"}: ${theirs}` })),
          el("div", { class: "sh-conflict-actions" },
            el("button", { class: "btn", type: "button", dataset: { keep: "local" }, onclick: (e) => resolve(e.currentTarget, s.id, c.copy, "local") }, "Keep mine"),
            el("button", { class: "btn", type: "button", dataset: { keep: "remote" }, onclick: (e) => resolve(e.currentTarget, s.id, c.copy, "remote") }, "Keep theirs"),
            el("button", { class: "btn", type: "button", dataset: { keep: "both" }, onclick: (e) => resolve(e.currentTarget, s.id, c.copy, "both") }, "Keep both")));
      })));
  }

  async function resolve(button, space, copy, keep) {
    if (await act(button, "resolve", { space, copy, keep }, "Resolved")) openSpace(space, ui.path ?? "");
  }

  function entryRow(s, e) {
    if (e.kind === "dir") {
      return el("li", {}, el("button", { class: "sh-entry sh-entry-dir", type: "button", dataset: { path: e.path }, onclick: () => openSpace(s.id, e.path) },
        folderIcon(e.gleam, e.name), el("span", { class: "sh-entry-name", text: e.name })));
    }
    const meta = e.kind === "file" ? `${size(e.size)} · ${when(e.mtimeMs)}${e.author ? ` · ${who(e.author)}` : ""}` : "not a regular file";
    return el("li", {}, el("button", { class: ["sh-entry", "sh-entry-file", e.conflict && "sh-entry-conflict", ui.file === e.path && "selected"], type: "button", dataset: { path: e.path }, onclick: () => openFile(s.id, e.path) },
      el("span", { class: "sh-file", "aria-hidden": "true" }), el("span", { class: "sh-entry-name", text: e.name }), el("span", { class: "sh-entry-meta muted", text: meta })));
  }

  function detailsBox() {
    const d = ui.details;
    if (!d) return null;
    return el("section", { class: "sh-details", "aria-label": "File details" },
      el("h4", { text: d.path.split("/").pop() }),
      el("dl", {},
        el("dt", { text: "Size" }), el("dd", { text: size(d.size) }),
        el("dt", { text: "Modified" }), el("dd", { text: when(d.mtimeMs) }),
        el("dt", { text: "Changed by" }), el("dd", { text: d.replica ? `${who(d.author)} (device ${d.replica})` : "you, not sent yet" }),
        el("dt", { text: "State" }), el("dd", { text: d.synced ? "in sync" : "changed here, to be sent" })),
      d.history.length ? el("table", { class: "sh-history" },
        el("thead", {}, el("tr", {}, el("th", { text: "Version" }), el("th", { text: "By" }), el("th", { text: "Size" }))),
        el("tbody", {}, d.history.map((h) => el("tr", {},
          el("td", { text: `${when(h.mtimeMs)}${h.how === "received" ? " · received" : h.how === "sent" ? " · sent" : ""}` }),
          el("td", { text: h.deleted ? `${who(h.author)} deleted it` : who(h.author) }),
          el("td", { text: h.deleted ? "–" : size(h.size) }))))) : el("p", { class: "muted", text: "No versions recorded yet." }));
  }

  function spaceView() {
    const s = snap.spaces?.[ui.space];
    if (!s) return home();
    const inviteInput = el("input", { class: "input", name: "invite", placeholder: "bob@example.org" });
    const actions = el("div", { class: "sh-actions" },
      s.readOnly || s.kind === "pair" ? null : el("form", { class: "sh-invite-form", onsubmit: async (e) => {
        e.preventDefault();
        if (await act(e.currentTarget.querySelector("button"), "invite", { space: s.id, jid: inviteInput.value.trim() }, "Invited")) inviteInput.value = "";
      } }, inviteInput, el("button", { class: "btn", type: "submit" }, "Invite")),
      ui.confirmLeave
        ? el("span", { class: "sh-leave-confirm" }, el("span", { text: "Leave? Your files stay here." }),
          el("button", { class: "btn btn-danger", type: "button", onclick: async (e) => {
            if (await act(e.currentTarget, "leave", { space: s.id }, "Left")) show({ view: "home" });
          } }, "Leave"),
          el("button", { class: "btn", type: "button", onclick: () => show({ ...ui, confirmLeave: false }) }, "Stay"))
        : el("button", { class: "btn sh-leave", type: "button", onclick: () => show({ ...ui, confirmLeave: true }) }, "Leave…"));
    return [
      el("div", { class: "pane-title" }, el("button", { class: "btn sh-back", type: "button", onclick: () => show({ view: "home" }) }, "← All folders"), statusBadge(s)),
      el("div", { class: "sh-scroll" },
        el("header", { class: "sh-space-head" },
          el("h3", { class: "sh-space-title" }, folderIcon(s.gleam, s.name), el("span", { text: s.name })),
          el("p", { class: "muted sh-state-text", text: s.text }),
          progressLine(s),
          s.paused?.length ? el("ul", { class: "sh-paused muted" }, s.paused.map((p) => el("li", { text: `${p.direction === "up" ? "sending" : "receiving"} ${p.path}: ${size(p.done)} of ${size(p.size)}, ${p.reason}` }))) : null,
          members(s), actions),
        conflictsBox(s),
        crumbs(s, ui.path),
        ui.entries ? (ui.entries.length ? el("ul", { class: "sh-entries" }, ui.entries.map((e) => entryRow(s, e))) : el("p", { class: "muted sh-empty", text: "This folder is empty. Files you put in it reach every member." })) : el("p", { class: "muted", text: "Loading…" }),
        detailsBox()),
    ];
  }

  function render() {
    // What the user is typing survives a live update.
    const typed = new Map([...root.querySelectorAll("input[name], select[name]")].map((i) => [i.name, i.value]));
    const focused = document.activeElement?.closest?.(".share") === root ? document.activeElement.getAttribute("name") : null;
    const body = ui.view === "space" ? spaceView() : ui.view === "new" ? newForm() : home();
    root.replaceChildren(...[body].flat());
    emitGleam();
    for (const i of root.querySelectorAll("input[name], select[name]")) if (typed.has(i.name)) i.value = typed.get(i.name);
    if (focused) root.querySelector(`[name="${CSS.escape(focused)}"]`)?.focus();
  }

  /** Tells the contacts list (im) which contacts' folders gleam, when that changes. */
  let gleamSaid = "";
  function emitGleam() {
    const contacts = snap.gleamContacts ?? {};
    const text = JSON.stringify(contacts);
    if (text === gleamSaid) return;
    gleamSaid = text;
    app.emit("gleam", { contacts });
  }

  function show(next) {
    ui = next;
    render();
  }

  // ------------------------------------------------------------------ loading

  async function loadConflicts() {
    try {
      return (await app.api("share/conflicts")).conflicts;
    } catch {
      return [];
    }
  }

  /** Opens a folder of a space (clears its gleam: POST open). */
  async function openSpace(space, path, keep = {}) {
    try {
      const [r, conflicts] = await Promise.all([app.api("share/open", { method: "POST", body: { space, path } }), loadConflicts()]);
      const same = ui.view === "space" && ui.space === space && ui.path === path;
      // The star clears at once; the snapshot that follows says the same.
      if (snap.spaces?.[space]) snap.spaces[space].gleam = r.spaceGleam;
      show({ view: "space", space, path, entries: r.entries, conflicts, ...(same ? { confirmLeave: ui.confirmLeave } : {}), ...keep });
    } catch (err) {
      fail(err);
    }
  }

  async function openFile(space, path) {
    try {
      const details = await app.api(`share/file?space=${encodeURIComponent(space)}&path=${encodeURIComponent(path)}`);
      show({ ...ui, file: path, details });
    } catch (err) {
      fail(err);
    }
  }

  app.on("share", (s) => {
    if (!s) return;
    snap = s;
    for (const id of progress.keys()) if (!s.spaces?.[id]?.progress) progress.delete(id);
    if (ui.view === "new") return emitGleam();
    render();
  });
  app.on("resync", (all) => {
    if (all?.share) snap = all.share;
    if (ui.view === "space") openSpace(ui.space, ui.path, { file: ui.file, details: ui.details });
    else render();
  });
  app.on("share-progress", (p) => {
    if (!p) return;
    if (!p.syncing) return progress.delete(p.space);
    progress.set(p.space, p);
    const nodes = [...root.querySelectorAll(".sh-progress")].filter((n) => n.dataset.space === p.space);
    if (!nodes.length && (ui.view === "home" || (ui.view === "space" && ui.space === p.space))) return render();
    for (const node of nodes) node.textContent = `↓ ${size(p.down)}  ↑ ${size(p.up)}`;
  });
  app.on("share-change", (c) => {
    // The folder on screen is read again (and counts as seen: it is open).
    if (c && ui.view === "space" && ui.space === c.space) openSpace(ui.space, ui.path, ui.file ? { file: ui.file } : {}).then(() => ui.file && openFile(c.space, ui.file));
  });
  app.on("share-conflict", (c) => {
    if (!c) return;
    app.notify(`${c.conflicts} conflicting change${c.conflicts > 1 ? "s were" : " was"} kept as a copy; choose which to keep.`, { kind: "info", key: `conflict-${c.space}` });
    if (ui.view === "space" && ui.space === c.space) openSpace(ui.space, ui.path);
  });
  app.on("open-contact", (c) => {
    const sec = snap.sections?.find((x) => x.kind === "contact" && x.contact === c?.jid);
    if (sec?.spaces.length === 1) return openSpace(sec.spaces[0].id, "");
    show({ view: "home" });
    root.querySelector(`[data-section="${CSS.escape(`contact:${c?.jid ?? ""}`)}"]`)?.scrollIntoView({ block: "nearest" });
  });

  // Invitations come from the sharing manager's list of spaces: asked while this page is open.
  const poll = () => {
    if (document.visibilityState === "visible") app.api("share/refresh", { method: "POST", body: {} }).catch(() => undefined);
  };
  setInterval(poll, PAGE_POLL_MS);
  document.addEventListener("visibilitychange", poll);

  render();
}
