// The sign-in page's wait (component/web/sign-in.ts): polls /web/login/wait once a second
// until the user's sharing client confirmed or refused, then continues or says why. Text only
// (textContent), never HTML.
const status = document.getElementById("signin-status");

function show(kind, text) {
  status.className = `status ${kind}`;
  status.textContent = text;
}

async function poll() {
  let answer;
  try {
    const res = await fetch("/web/login/wait", { credentials: "same-origin", cache: "no-store" });
    answer = await res.json();
  } catch {
    setTimeout(poll, 2000);
    return;
  }
  if (answer.state === "pending") {
    setTimeout(poll, 1000);
    return;
  }
  if (answer.state === "confirmed") {
    show("ok", answer.text);
    location.assign(answer.next);
    return;
  }
  show("bad", answer.text);
  const again = document.createElement("a");
  again.href = "/web/login";
  again.className = "button";
  again.textContent = "Try again";
  status.after(again);
  document.getElementById("start-again")?.remove();
}

if (status) poll();
