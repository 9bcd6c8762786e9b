"""The chat page and the /history page of `javis serve`: one HTML file each, inline CSS and JS, no
build step, no CDN.

The page talks to the OpenAI API of the server (javis/app/openai_api.py): answers stream from
`POST /v1/chat/completions` (server-sent events) and are rendered as a small, safe subset of
markdown (code fences, inline code, bold, lists, headings, http(s) links with rel=noopener) built
with DOM nodes and textContent only: no model or user text ever goes through innerHTML. 👍 / 👎 /
"correct it" rate an answer by its completion id (`POST /v1/feedback`); a change names the rating it
replaces, an undo is `DELETE /api/feedback/{id}`. A Stop button aborts the answer being written: the
partial answer stays on the page marked "stopped", cannot be rated and is left out of the
conversation sent next. With an API key set on the server, the page asks for it once (kept in the
tab's sessionStorage) and sends it as a bearer token.

Over the ~400-line guide on purpose: it is the page itself, two HTML files as Python strings.
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>JAVIS</title>
<style>
:root { --bg:#f6f7f9; --fg:#1d2330; --muted:#6b7385; --me:#dbe8ff; --bot:#fff; --line:#e2e5ea; --accent:#3358d4; --code:#f1f3f6; }
* { box-sizing: border-box; }
[hidden] { display:none !important; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:12px; padding:10px 16px; background:#fff; border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0; }
#version { font-size:12px; padding:2px 8px; border-radius:10px; background:#eef1f7; color:var(--muted); }
header .right { margin-left:auto; display:flex; gap:12px; align-items:center; }
header a { color:var(--accent); text-decoration:none; font-size:14px; }
#newbtn { border:1px solid var(--line); background:#fff; border-radius:8px; padding:3px 10px; font:inherit; font-size:14px; cursor:pointer; }
main { max-width:820px; margin:0 auto; padding:16px 16px 140px; }
.msg { margin:10px 0; padding:10px 14px; border-radius:12px; word-wrap:break-word; overflow-wrap:anywhere; }
.user { background:var(--me); margin-left:15%; white-space:pre-wrap; }
.assistant { background:var(--bot); border:1px solid var(--line); margin-right:15%; }
.text > :first-child { margin-top:0; } .text > :last-child { margin-bottom:0; }
.text p { margin:0 0 .6em; white-space:pre-wrap; }
.text ul, .text ol { margin:0 0 .6em; padding-left:1.5em; }
.text li { white-space:pre-wrap; }
.text h3, .text h4, .text h5 { margin:.2em 0 .4em; font-size:1em; }
.text code { font:13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background:var(--code); padding:1px 4px; border-radius:4px; }
.text pre { background:var(--code); padding:8px 10px; border-radius:8px; overflow-x:auto; margin:0 0 .6em; }
.text pre code { padding:0; background:none; white-space:pre; }
.text a { color:var(--accent); }
.stopped { opacity:.7; }
.assistant.stopped { border-style:dashed; }
.note { margin-top:6px; font-size:13px; color:var(--muted); }
.assistant.fixed .text { text-decoration:line-through; color:var(--muted); }
.correction { margin-top:6px; padding-top:6px; border-top:1px dashed var(--line); white-space:pre-wrap; }
.rate { display:flex; gap:6px; align-items:center; margin-top:8px; flex-wrap:wrap; }
.rate button { border:1px solid var(--line); background:#fff; border-radius:8px; padding:2px 10px; cursor:pointer; font-size:14px; }
.rate button[aria-pressed="true"] { border-color:var(--accent); background:#eef1ff; }
.rate button:hover:not(:disabled) { border-color:var(--accent); }
.rate button:disabled { opacity:.45; cursor:default; }
.rate .status { font-size:13px; color:var(--muted); }
.fix { display:none; margin-top:8px; }
.fix.open { display:block; }
.fix textarea { width:100%; min-height:70px; font:inherit; padding:6px; border-radius:8px; border:1px solid var(--line); }
form#send { position:fixed; left:0; right:0; bottom:0; background:#fff; border-top:1px solid var(--line); padding:12px 16px; }
form#send div { max-width:820px; margin:0 auto; display:flex; gap:8px; }
#input { flex:1; min-height:48px; max-height:200px; font:inherit; padding:8px 10px; border-radius:10px; border:1px solid var(--line); resize:vertical; }
button.primary { background:var(--accent); color:#fff; border:0; border-radius:10px; padding:0 18px; font:inherit; cursor:pointer; }
button.primary:disabled { opacity:.5; }
#stopbtn { background:#fff; color:#b3261e; border:1px solid #b3261e; border-radius:10px; padding:0 18px; font:inherit; cursor:pointer; }
.err { color:#b3261e; font-size:13px; }
</style></head>
<body>
<header><h1>JAVIS</h1><span id="version" title="the version answering">{{version}}</span>
<span class="right"><button id="newbtn" type="button" title="clear the page and start again">New conversation</button><a href="/history">history</a></span></header>
<main id="log" aria-live="polite"></main>
<form id="send"><div>
<textarea id="input" placeholder="Message JAVIS (Enter sends, Shift+Enter: new line, Esc stops an answer)" aria-label="message"></textarea>
<button class="primary" id="sendbtn" type="submit">Send</button>
<button id="stopbtn" type="button" title="stop this answer (Esc)" hidden>Stop</button>
</div></form>
<script>
"use strict";
// Every piece of model or user text reaches the page through textContent or createTextNode:
// nothing here assigns HTML strings.
const log = document.getElementById("log");
const input = document.getElementById("input");
const sendbtn = document.getElementById("sendbtn");
const stopbtn = document.getElementById("stopbtn");
const versionEl = document.getElementById("version");
const messages = [];  // the conversation so far, as the model saw it
let conversation = 0;  // bumped by "New conversation": late replies of an old one change nothing
let controller = null;  // aborts the answer being streamed

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- markdown, the safe subset: DOM nodes only -------------------------------------------------
function safeUrl(text) {
  try {
    const url = new URL(text);  // absolute URLs only: a relative one throws
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch (e) { return null; }
}

function link(parent, label, href) {
  const a = el("a", "", label);
  a.href = href;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  parent.append(a);
}

const INLINE = /(`+)([^`\\n]+)\\1(?!`)|\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*|\\[([^\\]\\n]+)\\]\\(([^()\\s]+)\\)|(https?:\\/\\/[^\\s<>()\\[\\]]*[^\\s<>()\\[\\].,;:!?'"])/g;

function inline(parent, text) {
  const re = new RegExp(INLINE.source, "g");
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    if (m[2] !== undefined) parent.append(el("code", "", m[2]));
    else if (m[3] !== undefined) { const b = el("strong"); inline(b, m[3]); parent.append(b); }
    else if (m[4] !== undefined) {
      const href = safeUrl(m[5]);
      if (href) link(parent, m[4], href); else parent.append(document.createTextNode(m[0]));
    } else { const href = safeUrl(m[6]); if (href) link(parent, m[6], href); else parent.append(document.createTextNode(m[6])); }
    last = re.lastIndex;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

const FENCE = /^\\s{0,3}(`{3,}|~{3,})\\s*([\\w+#.-]*)[^`]*$/;
const ITEM = /^\\s{0,6}([-*+]|\\d{1,9}[.)])\\s+(.*)$/;
const HEADING = /^\\s{0,3}(#{1,6})\\s+(.*?)\\s*#*\\s*$/;

function render(target, text) {
  target.replaceChildren();
  const lines = text.replace(/\\r\\n?/g, "\\n").split("\\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      const mark = fence[1], code = [];
      i++;
      while (i < lines.length) {
        const close = lines[i].trim();
        if (close.length >= mark.length && close === mark[0].repeat(close.length)) { i++; break; }
        code.push(lines[i]);
        i++;
      }
      const pre = el("pre"), c = el("code", fence[2] ? "language-" + fence[2] : "", code.join("\\n"));
      pre.append(c);
      target.append(pre);
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const heading = line.match(HEADING);
    if (heading) {
      const h = el("h" + Math.min(heading[1].length + 2, 5));
      inline(h, heading[2]);
      target.append(h);
      i++;
      continue;
    }
    const item = line.match(ITEM);
    if (item) {
      const ordered = /\\d/.test(item[1]);
      const list = el(ordered ? "ol" : "ul");
      if (ordered && parseInt(item[1], 10) !== 1) list.start = parseInt(item[1], 10);
      while (i < lines.length) {
        const m = lines[i].match(ITEM);
        if (!m || /\\d/.test(m[1]) !== ordered) break;
        const li = el("li");
        inline(li, m[2]);
        list.append(li);
        i++;
      }
      target.append(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !ITEM.test(lines[i]) && !HEADING.test(lines[i])) {
      para.push(lines[i]);
      i++;
    }
    const p = el("p");
    inline(p, para.join("\\n"));
    target.append(p);
  }
}

// --- talking to the server: the OpenAI API (/v1), with the API key if the server wants one -----------
function headers() {
  const h = {"Content-Type": "application/json"};
  const key = sessionStorage.getItem("javis-key");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function call(url, init) {
  let r = await fetch(url, {...init, headers: headers()});
  if (r.status === 401) {  // the server has serve.api_key: ask once, keep it for this tab
    const key = window.prompt("This javis serve needs its API key:");
    if (key) { sessionStorage.setItem("javis-key", key); r = await fetch(url, {...init, headers: headers()}); }
  }
  if (!r.ok) {
    let detail = r.statusText;
    try { const j = await r.json(); detail = (j.error && j.error.message) || j.detail || detail; } catch (e) {}
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return r;
}

async function request(method, url, body) {
  const init = {method: method};
  if (body !== undefined) init.body = JSON.stringify(body);
  return (await call(url, init)).json();
}

// --- one answer's rating: give it, change it, undo it ----------------------------------------------
function ratingBar(box, index, completionId, answer) {
  const mine = conversation;
  const bar = el("div", "rate");
  const good = el("button", "good", "👍"); good.title = "good answer"; good.setAttribute("aria-label", "good");
  const bad = el("button", "bad", "👎"); bad.title = "bad answer"; bad.setAttribute("aria-label", "bad");
  const fixBtn = el("button", "fixbtn", "correct it");
  const undo = el("button", "undo", "undo"); undo.title = "take the rating back"; undo.hidden = true;
  const status = el("span", "status");
  bar.append(good, bad, fixBtn, undo, status);
  const fix = el("div", "fix");
  const area = el("textarea"); area.placeholder = "The answer it should have given"; area.setAttribute("aria-label", "correction");
  const save = el("button", "primary savefix", "Save correction");
  fix.append(area, save);
  const buttons = [good, bad, fixBtn, undo, save];
  let current = null;  // {id, rating, correction} of the line that counts now, or null

  function show(state, label) {
    current = state;
    const corrected = !!(state && state.correction);
    good.setAttribute("aria-pressed", String(!!state && state.rating === "good"));
    bad.setAttribute("aria-pressed", String(!!state && state.rating === "bad" && !corrected));
    undo.hidden = !state;
    box.dataset.rated = state ? (corrected ? "corrected" : state.rating) : "";
    const old = box.querySelector(":scope > .correction");
    if (old) old.remove();
    box.classList.toggle("fixed", corrected);
    if (corrected) box.insertBefore(el("div", "correction", state.correction), bar);
    if (mine === conversation) {  // the conversation goes on from the correction, if any
      messages[index] = {role: "assistant", content: corrected ? state.correction : answer};
    }
    status.textContent = label;
  }

  async function busy(work, what) {
    buttons.forEach(b => b.disabled = true);
    status.textContent = what;
    try { await work(); return true; }
    catch (e) { status.textContent = ""; status.append(el("span", "err", "not saved: " + e.message)); return false; }
    finally { buttons.forEach(b => b.disabled = false); }
  }

  function send(extra, label) {
    if (current && current.rating === extra.rating && (current.correction || null) === (extra.correction || null)) {
      return Promise.resolve(true);  // the same rating again: nothing changes
    }
    return busy(async () => {
      const body = {completion_id: completionId, ...extra};
      if (current) body.replaces = current.id;
      const line = await request("POST", "/v1/feedback", body);
      show({id: line.id, rating: line.rating, correction: line.correction || null},
           (current ? "changed to " : "saved ") + label);
    }, "saving…");
  }
  good.onclick = () => send({rating: "good"}, "👍");
  bad.onclick = () => send({rating: "bad"}, "👎");
  fixBtn.onclick = () => { fix.classList.toggle("open"); area.focus(); };
  undo.onclick = () => {
    if (!current) return;
    const id = current.id;
    busy(async () => {
      await request("DELETE", "/api/feedback/" + encodeURIComponent(id));
      show(null, "rating undone");
    }, "undoing…");
  };
  save.onclick = async () => {
    const text = area.value.trim();
    if (!text) { area.focus(); return; }
    if (await send({rating: "bad", correction: text}, "👎 with your correction")) fix.classList.remove("open");
  };
  box.append(bar, fix);
}

// --- asking ------------------------------------------------------------------------------------
async function ask(text) {
  const mine = conversation;
  messages.push({role: "user", content: text});
  const question = el("div", "msg user", text);
  log.append(question);
  const box = el("div", "msg assistant");
  const body = el("div", "text", "…");
  box.append(body);
  log.append(box);
  box.scrollIntoView({block: "end"});
  const prompt = messages.map(m => ({...m}));
  const ctl = controller = new AbortController();
  let answer = "";
  try {
    const r = await call("/v1/chat/completions", {method: "POST", signal: ctl.signal,
                         body: JSON.stringify({model: "javis", messages: prompt, stream: true})});
    const version = r.headers.get("X-Model-Version") || versionEl.textContent;
    versionEl.textContent = version;
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", completionId = null, finished = false;
    body.textContent = "";
    while (!finished) {  // server-sent events: "data: {chunk}\\n\\n" ... "data: [DONE]\\n\\n"
      const {done, value} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") { finished = true; break; }
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          completionId = chunk.id;
          const choice = chunk.choices && chunk.choices[0];
          if (choice && choice.delta && choice.delta.content) answer += choice.delta.content;
        }
      }
      render(body, answer);
      box.scrollIntoView({block: "end"});
    }
    answer = answer.trim();
    if (answer) render(body, answer); else body.textContent = "(empty answer)";
    if (!answer) { if (mine === conversation) messages.pop(); return; }
    if (mine !== conversation) return;
    messages.push({role: "assistant", content: answer});
    ratingBar(box, messages.length - 1, completionId, answer);
    box.dataset.done = "1";
  } catch (e) {
    if (e.name === "AbortError") {
      // Stopped: shown as it stood, never rated, and left out of what the model sees next.
      if (mine === conversation) messages.pop();
      question.classList.add("stopped");
      box.classList.add("stopped");
      box.dataset.stopped = "1";
      if (answer.trim()) render(body, answer.trim()); else body.textContent = "(stopped before any text)";
      box.append(el("div", "note", "stopped: a partial answer, not rated and left out of the conversation"));
    } else {
      body.textContent = "";
      body.append(el("span", "err", "error: " + e.message));
      if (mine === conversation) messages.pop();
    }
  } finally {
    if (controller === ctl) controller = null;
  }
}

function stop() { if (controller) controller.abort(); }

document.getElementById("send").onsubmit = async (ev) => {
  ev.preventDefault();
  const text = input.value.trim();
  if (!text || sendbtn.disabled) return;
  input.value = "";
  sendbtn.disabled = true; sendbtn.hidden = true; stopbtn.hidden = false;
  try { await ask(text); } finally { sendbtn.disabled = false; sendbtn.hidden = false; stopbtn.hidden = true; input.focus(); }
};
stopbtn.onclick = stop;
document.getElementById("newbtn").onclick = () => {
  stop();
  conversation++;
  messages.length = 0;
  log.replaceChildren();
  input.focus();
};
input.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    document.getElementById("send").requestSubmit();
  }
});
document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") stop(); });
input.focus();
</script>
</body></html>
"""

HISTORY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>JAVIS feedback history</title>
<style>
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif; background:#f6f7f9; color:#1d2330; }
header { display:flex; gap:12px; align-items:center; padding:10px 16px; background:#fff; border-bottom:1px solid #e2e5ea; }
header h1 { font-size:18px; margin:0; } header a { margin-left:auto; color:#3358d4; text-decoration:none; }
.v { font-size:12px; padding:2px 8px; border-radius:10px; background:#eef1f7; color:#6b7385; }
table { border-collapse:collapse; margin:16px; background:#fff; width:calc(100% - 32px); }
th, td { border:1px solid #e2e5ea; padding:6px 8px; vertical-align:top; text-align:left; white-space:pre-wrap; }
th { background:#eef1f7; } td.r, td.t { white-space:nowrap; } .changed { color:#6b7385; font-size:12px; }
</style></head><body>
<header><h1>Feedback history</h1><span class="v">serving {{version}}</span><span>{{n}} rated answers, newest first</span><a href="/">chat</a></header>
<table id="history"><thead><tr><th>when</th><th>version</th><th>rating</th><th>question</th><th>answer</th><th>correction</th></tr></thead>
<tbody>
{{rows}}
</tbody></table>
<script>
"use strict";
// Times in the browser's own zone, "2026-12-01 14:03", and how long ago for the last day; the
// time as written (UTC) stays in the title.
(function () {
  const two = (n) => String(n).padStart(2, "0");
  const now = Date.now();
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (isNaN(d.getTime())) continue;
    let text = d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" + two(d.getMinutes());
    const s = (now - d.getTime()) / 1000;
    if (s > -60 && s < 86400) {
      text += " · " + (s < 60 ? "just now" : s < 3600 ? Math.floor(s / 60) + " min ago" : Math.floor(s / 3600) + " h ago");
    }
    t.textContent = text;
  }
})();
</script>
</body></html>
"""
