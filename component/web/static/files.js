// The browsing pages' script (component/web/files.ts): local times, and uploads. Text only ever
// goes into the page through textContent: names are never parsed as HTML.

for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) {
    t.title = t.textContent;
    t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
}

const KEY = "xshare-upload-notes";
const form = document.getElementById("upload");
const status = document.getElementById("upload-status");

function say(lines, tone) {
  if (!status) return;
  status.hidden = false;
  status.className = `status ${tone}`;
  status.replaceChildren(...lines.map((l) => Object.assign(document.createElement("span"), { textContent: l })));
}

// What the last uploads said, kept over the reload that shows the new tree.
const kept = sessionStorage.getItem(KEY);
if (kept) {
  sessionStorage.removeItem(KEY);
  const { lines, tone } = JSON.parse(kept);
  say(lines, tone);
}

async function send(file) {
  const url = new URL(form.dataset.action, location.href);
  url.searchParams.set("name", file.name);
  url.searchParams.set("seen", form.dataset.seen);
  const res = await fetch(url, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": form.dataset.csrf } });
  const answer = await res.json().catch(() => ({ error: `The sharing manager answered ${res.status}.` }));
  if (!res.ok) return { tone: "bad", line: `${file.name}: ${answer.error}` };
  if (answer.unchanged) return { line: `${file.name} is already there with this content.` };
  if (answer.conflictCopy && answer.path === answer.conflictCopy) return { tone: "warn", line: `${file.name} was changed by someone else meanwhile; your upload is kept as ${answer.conflictCopy}.` };
  if (answer.conflictCopy) return { tone: "warn", line: `${file.name} was changed by someone else meanwhile; their version is kept as ${answer.conflictCopy}.` };
  return { line: `${file.name} uploaded.` };
}

if (form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = [...form.querySelector("input[type=file]").files];
    if (files.length === 0) return;
    const button = form.querySelector("button");
    button.disabled = true;
    const lines = [];
    const tones = new Set();
    for (const [i, f] of files.entries()) {
      say([`Uploading ${i + 1} of ${files.length}: ${f.name}…`], "");
      const r = await send(f).catch((err) => ({ tone: "bad", line: `${f.name}: ${err.message}` }));
      lines.push(r.line);
      tones.add(r.tone ?? "ok");
    }
    const tone = tones.has("bad") ? "bad" : tones.has("warn") ? "warn" : "ok";
    sessionStorage.setItem(KEY, JSON.stringify({ lines, tone }));
    location.reload();
  });
}
