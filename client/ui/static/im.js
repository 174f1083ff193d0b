// The `im` module's page part (client/ui/im.ts): the account and its presence selector in the
// header. Every name and text from the server becomes a text node (app.el).

const LABELS = { available: "Available", chat: "Free to chat", away: "Away", xa: "Extended away", dnd: "Do not disturb" };

export function mount(app) {
  const state = app.state.im;
  const account = app.region("account");
  const select = app.el("select", { class: "input presence-select", "aria-label": "Your presence", title: "Your presence, as your contacts see this device" }, state.shows.map((s) => app.el("option", { value: s, text: LABELS[s] ?? s })));
  select.value = state.show;
  const dot = app.el("span", { class: "presence-dot", dataset: { show: state.show } });
  select.addEventListener("change", async () => {
    const want = select.value;
    select.disabled = true;
    try {
      await app.api("im/presence", { body: { show: want } });
    } catch (err) {
      app.notify(`Presence not changed: ${err.message}`, { kind: "error", key: "im-presence" });
      select.value = dot.dataset.show;
    } finally {
      select.disabled = false;
    }
  });
  app.on("im-presence", (p) => {
    select.value = p.show;
    dot.dataset.show = p.show;
  });
  account.append(app.el("div", { class: "account" }, dot, app.el("div", { class: "account-names" }, app.el("span", { class: "account-jid", text: state.me }), app.el("span", { class: "account-device muted", text: `device ${state.device}` }))), select);
}
