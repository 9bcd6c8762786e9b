"""`javis serve`: the deployed version as a local web page, with 👍 / 👎 / "correct it" per answer.

    GET    /                    the chat page (one HTML file, inline CSS and JS: no build step, no CDN)
    POST   /api/chat            {"messages": [...]} -> {"response", "model_version"}
    POST   /api/chat/stream     the same, streamed as plain text (version in the X-Model-Version
                                header); a client that goes away (the page's Stop) stops the generation
    POST   /api/feedback        {"messages", "response", "model_version", "rating"?, "score"?,
                                 "correction"?, "replaces"?} -> the feedback line written
                                (javis/data/feedback.py), 422 with the reason if invalid; with
                                `replaces`, a change of that earlier rating
    DELETE /api/feedback/{id}   undo rating `id`: appends a retraction line, returns it
    GET    /history             the ratings that count now, newest first (HTML); GET /api/history: JSON
    GET    /api/version         {"model_version"}

The page (PAGE below): answers stream in and are rendered as a small, safe subset of markdown (code
fences, inline code, bold, lists, headings, http(s) links with rel=noopener) built with DOM nodes
and textContent only: no model or user text ever goes through innerHTML. A Stop button aborts the
answer being written: the partial answer stays on the page marked "stopped", cannot be rated and is
left out of the conversation sent next (an assistant turn cut mid-sentence would otherwise be
trained on with the next rated answer). "New conversation" clears it all. A rating can be changed
(👍 after 👎, a correction after 👍) or undone; the files are append-only, so each change is a new
line that supersedes the last (javis/data/feedback.py).

The model is the one `models/current` points to (or the base, "base"); when `javis deploy` or
`javis rollback` switches the link, the next request loads the new version. Bound to 127.0.0.1 by
default: the page has no login. POSTs and DELETEs whose Origin is another site are refused (a page
on the web cannot rate answers in your name), and so are requests whose Host is not the address
served (DNS rebinding).

Over the ~400-line guide on purpose: about half of it is the page itself (one HTML file with its inline CSS and JS, no build step, no CDN).
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from javis.app.chat import Bot, deployed
from javis.core import params
from javis.data import feedback

log = logging.getLogger("javis.serve")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Message(BaseModel):
    """One chat message as the page sends it."""

    role: str
    content: str


class ChatIn(BaseModel):
    """POST /api/chat: the conversation so far, ending with the user's turn."""

    messages: list[Message] = Field(min_length=1)


class FeedbackIn(BaseModel):
    """POST /api/feedback: one rated answer (javis/data/feedback.py validates the rest)."""

    messages: list[Message] = Field(min_length=1)
    response: str
    model_version: str
    rating: str | None = None
    score: int | None = None
    correction: str | None = None
    replaces: str | None = None  # the id of the rating this one changes


class Deployed:
    """The bot for whatever `current` points to now; reloaded when the link is switched."""

    def __init__(self, load: Callable[[], Bot], current: Path) -> None:
        self._load = load
        self._current = current
        self._key: object = object()
        self._bot: Bot | None = None
        self._lock = threading.Lock()

    def key(self) -> tuple[str, str | None]:
        version, folder = deployed(self._current)
        return version, str(folder) if folder else None

    def get(self) -> Bot:
        key = self.key()
        with self._lock:
            if self._bot is None or key != self._key:
                log.info("serve: loading %s", key[0])
                self._bot = self._load()
                self._key = key
            return self._bot


class SameOrigin:
    """Refuses requests whose Host is not the loopback address served (DNS rebinding) and
    non-GET requests from another origin (a page on the web rating answers in your name).
    Plain ASGI, so a streamed answer sees the client go away (BaseHTTPMiddleware would hide it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            host = headers.get("host", "")
            served = (scope.get("server") or ("", 0))[0]  # the address the socket is bound to
            origin = headers.get("origin")
            refused = None
            if served in LOOPBACK and urlsplit(f"//{host}").hostname not in LOOPBACK:
                refused = f"Host {host!r} is not this server"
            elif scope["method"] != "GET" and origin and urlsplit(origin).netloc != host:
                refused = f"cross-origin request from {origin} refused"
            if refused:
                await JSONResponse({"detail": refused}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def relay(stream: Callable[[threading.Event], Iterator[str]]) -> AsyncIterator[str]:
    """The pieces of `stream(stop)`, which runs in a thread of its own; when the response is
    cancelled (the client went away: the page's Stop aborts its fetch), `stop` is set and the
    generation ends at its next token instead of running to max_new_tokens."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server shut down): nobody is listening
            stop.set()

    def produce() -> None:
        pieces = stream(stop)
        try:
            for piece in pieces:
                if stop.is_set():
                    break
                put(piece)
        except BaseException as e:  # re-raised in the response below
            put(e)
        finally:
            getattr(pieces, "close", lambda: None)()  # Bot.stream waits for its model thread
            put(done)

    threading.Thread(target=produce, name="javis-generate", daemon=True).start()
    try:
        while (item := await queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield str(item)
    finally:
        stop.set()


def create_app(
    get_bot: Callable[[], Bot], feedback_folder: str | Path, *, history_limit: int = 200
) -> FastAPI:
    """The FastAPI app. `get_bot` returns the bot to answer with (tests pass the tiny model's)."""
    folder = Path(feedback_folder)
    app = FastAPI(title="javis", docs_url=None, redoc_url=None)
    app.add_middleware(SameOrigin)

    def conversation(body: ChatIn) -> list[dict]:
        msgs = [m.model_dump() for m in body.messages]
        bad = [m["role"] for m in msgs if m["role"] not in ("system", "user", "assistant", "tool")]
        if bad:
            raise HTTPException(
                422, f"unknown role(s) {bad}; expected system, user, assistant or tool"
            )
        if msgs[-1]["role"] != "user":
            raise HTTPException(422, "the last message must be the user's")
        return msgs

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.replace("{{version}}", html.escape(get_bot().version))

    @app.get("/api/version")
    def version() -> dict:
        return {"model_version": get_bot().version}

    @app.post("/api/chat")
    def chat(body: ChatIn) -> dict:
        bot = get_bot()
        return {"response": bot.reply(conversation(body)), "model_version": bot.version}

    @app.post("/api/chat/stream")
    def chat_stream(body: ChatIn) -> StreamingResponse:
        bot = get_bot()
        msgs = conversation(body)

        return StreamingResponse(
            relay(lambda stop: bot.stream(msgs, stop=stop)),
            media_type="text/plain; charset=utf-8",
            headers={"X-Model-Version": bot.version, "Cache-Control": "no-store"},
        )

    @app.post("/api/feedback")
    def add_feedback(body: FeedbackIn) -> dict:
        line = body.model_dump(exclude_none=True)
        line["messages"] = [m.model_dump() for m in body.messages]
        try:
            written = feedback.append_feedback(folder, line)
        except feedback.FeedbackError as e:
            raise HTTPException(422, str(e)) from None
        return {**written, "file": feedback.feedback_path(folder, written["created_at"]).name}

    @app.delete("/api/feedback/{ident}")
    def undo_feedback(ident: str) -> dict:
        try:
            written = feedback.retract(folder, ident)
        except feedback.FeedbackError as e:
            raise HTTPException(422, str(e)) from None
        return {**written, "file": feedback.feedback_path(folder, written["created_at"]).name}

    @app.get("/api/history")
    def history_json(limit: int = history_limit) -> list[dict]:
        return feedback.read_feedback(folder, limit)

    @app.get("/history", response_class=HTMLResponse)
    def history_page() -> str:
        return render_history(feedback.read_feedback(folder, history_limit), get_bot().version)

    return app


def utc_minute(created_at: str) -> str:
    """`2026-12-01T05:03:09.120Z` -> `2026-12-01 05:03 UTC` (what /history shows without script;
    its script shows the browser's local time instead). Unreadable times are shown as they are."""
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    when = when.astimezone(UTC) if when.tzinfo else when
    return when.strftime("%Y-%m-%d %H:%M UTC")


def render_history(lines: list[dict], version: str) -> str:
    """The /history page: one row per rating that counts now, newest first (all text escaped)."""
    e = html.escape
    rows = []
    for obj in lines:
        question = next(
            (
                m.get("content", "")
                for m in reversed(obj.get("messages") or [])
                if isinstance(m, dict) and m.get("role") == "user"
            ),
            "",
        )
        mark = "👍" if obj.get("rating") == "good" else "👎"
        if obj.get("score"):
            mark += f" {obj['score']}/5"
        if obj.get("replaces"):
            mark += ' <span class=changed title="changed from an earlier rating">(changed)</span>'
        created = str(obj.get("created_at", ""))
        when = f'<time datetime="{e(created)}" title="{e(created)}">{e(utc_minute(created))}</time>'
        rows.append(
            f"<tr><td class=t>{when}</td><td>{e(str(obj.get('model_version', '')))}</td>"
            f"<td class=r>{mark}</td><td>{e(str(question))}</td><td>{e(str(obj.get('response', '')))}</td>"
            f"<td>{e(str(obj.get('correction') or ''))}</td></tr>"
        )
    body = "\n".join(rows) or "<tr><td colspan=6>No feedback yet.</td></tr>"
    page = HISTORY.replace("{{version}}", e(version)).replace("{{n}}", str(len(lines)))
    return page.replace("{{rows}}", body)  # last: user text is never searched for placeholders


def main(p: params.Params, *, host: str | None = None, port: int | None = None) -> int:
    """`javis serve`: load the deployed version lazily and serve the page until Ctrl-C."""
    import uvicorn

    from javis.app.chat import CURRENT, bot_loader

    cfg = p.serve
    host = host or cfg.host
    port = port or cfg.port
    if host not in LOOPBACK:
        log.warning(
            "serve: listening on %s: anyone who can reach it can chat and rate as you (no login)",
            host,
        )
    load = bot_loader(p)
    bots = Deployed(load, CURRENT)
    bot = bots.get()  # load before listening: a broken model fails here, not on the first message
    print(
        f"javis serve: {bot.version} on http://{host}:{port}/ (feedback -> {p.paths.feedback}/; Ctrl-C stops)"
    )
    app = create_app(bots.get, p.paths.feedback, history_limit=cfg.history_limit)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


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

// --- talking to the server -----------------------------------------------------------------------
async function request(method, url, body) {
  const init = {method: method, headers: {"Content-Type": "application/json"}};
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(url, init);
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch (e) {}
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return r.json();
}

// --- one answer's rating: give it, change it, undo it ----------------------------------------------
function ratingBar(box, index, prompt, answer, version) {
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
      const body = {messages: prompt, response: answer, model_version: version, ...extra};
      if (current) body.replaces = current.id;
      const line = await request("POST", "/api/feedback", body);
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
    const r = await fetch("/api/chat/stream", {method: "POST", headers: {"Content-Type": "application/json"},
                                               body: JSON.stringify({messages: prompt}), signal: ctl.signal});
    if (!r.ok) throw new Error((await r.text()) || r.statusText);
    const version = r.headers.get("X-Model-Version") || versionEl.textContent;
    versionEl.textContent = version;
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    body.textContent = "";
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      answer += decoder.decode(value, {stream: true});
      render(body, answer);
      box.scrollIntoView({block: "end"});
    }
    answer = (answer + decoder.decode()).trim();
    if (answer) render(body, answer); else body.textContent = "(empty answer)";
    if (!answer) { if (mine === conversation) messages.pop(); return; }
    if (mine !== conversation) return;
    messages.push({role: "assistant", content: answer});
    ratingBar(box, messages.length - 1, prompt, answer, version);
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
