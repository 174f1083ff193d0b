// The `confirm` module's page part (client/ui/confirm.ts): one notice per sign-in request of
// the sharing manager's web interface that waits for the user, with its transaction id (to
// compare with the web page's), the site's host, Accept and Deny. Live through the `confirm`
// event. Text only (app.el), never HTML.

export function mount(app) {
  const box = app.el("div", { class: "confirm-list" });

  function render(pending) {
    // In the strip only while something waits (an empty strip takes no room).
    if (pending.length === 0) box.remove();
    else if (!box.isConnected) app.region("notices").prepend(box);
    box.replaceChildren(
      ...pending.map((p) => {
        const buttons = [];
        const answer = async (accept) => {
          for (const b of buttons) b.disabled = true;
          try {
            await app.api("confirm/answer", { body: { id: p.id, accept } });
          } catch (err) {
            app.notify(`Sign-in request ${p.id}: ${err.message}`, { kind: "error", key: `confirm-${p.id}` });
            for (const b of buttons) b.disabled = false;
          }
        };
        buttons.push(
          app.el("button", { class: "btn btn-primary confirm-accept", type: "button", onclick: () => answer(true) }, "Accept"),
          app.el("button", { class: "btn confirm-deny", type: "button", onclick: () => answer(false) }, "Deny"),
        );
        return app.el(
          "div",
          { class: "notice confirm-request", role: "alert", dataset: { id: p.id } },
          app.el("span", { class: "confirm-icon", "aria-hidden": "true" }),
          app.el(
            "div",
            { class: "notice-text" },
            app.el("strong", { text: "Sign in to the web interface?" }),
            " ",
            app.el("span", { text: `${p.host} asks whether it is you signing in. Accept only if the page shows the code ` }),
            app.el("code", { class: "confirm-tx", text: p.id }),
            ".",
          ),
          buttons,
        );
      }),
    );
  }

  render(app.state.confirm?.pending ?? []);
  app.on("confirm", (data) => render(data?.pending ?? []));
  app.on("resync", (state) => render(state?.confirm?.pending ?? []));
}
