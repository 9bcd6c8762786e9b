"""`javis serve`: the deployed version as a local web page, with 👍 / 👎 / "correct it" per answer.

    GET  /                 the chat page (one HTML file, inline CSS and JS: no build step, no CDN)
    POST /api/chat         {"messages": [...]} -> {"response", "model_version"}
    POST /api/chat/stream  the same, streamed as plain text (version in the X-Model-Version header)
    POST /api/feedback     {"messages", "response", "model_version", "rating"?, "score"?, "correction"?}
                           -> the feedback line written (javis/feedback.py), 422 with the reason if invalid
    GET  /history          past feedback, newest first (HTML); GET /api/history: the same as JSON
    GET  /api/version      {"model_version"}

The model is the one `models/current` points to (or the base, "base"); when `javis deploy` or
`javis rollback` switches the link, the next request loads the new version. Bound to 127.0.0.1 by
default: the page has no login. POSTs whose Origin is another site are refused (a page on the web
cannot rate answers in your name), and so are requests whose Host is not the address served
(DNS rebinding).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from javis.app.chat import Bot, deployed
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
    """POST /api/feedback: one rated answer (javis/feedback.py validates the rest)."""

    messages: list[Message] = Field(min_length=1)
    response: str
    model_version: str
    rating: str | None = None
    score: int | None = None
    correction: str | None = None


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


def create_app(
    get_bot: Callable[[], Bot], feedback_folder: str | Path, *, history_limit: int = 200
) -> FastAPI:
    """The FastAPI app. `get_bot` returns the bot to answer with (tests pass the tiny model's)."""
    folder = Path(feedback_folder)
    app = FastAPI(title="javis", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def same_origin_only(request: Request, call_next: Callable) -> Any:
        host = request.headers.get("host", "")
        served = (request.scope.get("server") or ("", 0))[0]  # the address the socket is bound to
        if served in LOOPBACK and urlsplit(f"//{host}").hostname not in LOOPBACK:
            return JSONResponse({"detail": f"Host {host!r} is not this server"}, status_code=403)
        origin = request.headers.get("origin")
        if request.method != "GET" and origin and urlsplit(origin).netloc != host:
            return JSONResponse(
                {"detail": f"cross-origin request from {origin} refused"}, status_code=403
            )
        return await call_next(request)

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

        def pieces() -> Iterator[str]:
            yield from bot.stream(msgs)

        return StreamingResponse(
            pieces(),
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

    @app.get("/api/history")
    def history_json(limit: int = history_limit) -> list[dict]:
        return feedback.read_feedback(folder, limit)

    @app.get("/history", response_class=HTMLResponse)
    def history_page() -> str:
        return render_history(feedback.read_feedback(folder, history_limit), get_bot().version)

    return app


def render_history(lines: list[dict], version: str) -> str:
    """The /history page: one row per rated answer, newest first (all text escaped)."""
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
        rows.append(
            f"<tr><td>{e(str(obj.get('created_at', '')))}</td><td>{e(str(obj.get('model_version', '')))}</td>"
            f"<td class=r>{mark}</td><td>{e(str(question))}</td><td>{e(str(obj.get('response', '')))}</td>"
            f"<td>{e(str(obj.get('correction') or ''))}</td></tr>"
        )
    body = "\n".join(rows) or "<tr><td colspan=6>No feedback yet.</td></tr>"
    page = HISTORY.replace("{{version}}", e(version)).replace("{{n}}", str(len(lines)))
    return page.replace("{{rows}}", body)  # last: user text is never searched for placeholders


def main(p: Any, *, host: str | None = None, port: int | None = None) -> int:
    """`javis serve`: load the deployed version lazily and serve the page until Ctrl-C."""
    import functools

    import uvicorn

    from javis.app.chat import CURRENT, load_bot

    cfg = p.serve
    host = host or cfg.host
    port = port or cfg.port
    if host not in LOOPBACK:
        log.warning(
            "serve: listening on %s: anyone who can reach it can chat and rate as you (no login)",
            host,
        )
    load = functools.partial(
        load_bot,
        p.paths.base,
        p.persona.system_prompt,
        current=CURRENT,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        max_prompt_tokens=cfg.max_prompt_tokens,
    )
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
:root { --bg:#f6f7f9; --fg:#1d2330; --muted:#6b7385; --me:#dbe8ff; --bot:#fff; --line:#e2e5ea; --accent:#3358d4; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:12px; padding:10px 16px; background:#fff; border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0; }
#version { font-size:12px; padding:2px 8px; border-radius:10px; background:#eef1f7; color:var(--muted); }
header a { margin-left:auto; color:var(--accent); text-decoration:none; font-size:14px; }
main { max-width:820px; margin:0 auto; padding:16px 16px 140px; }
.msg { margin:10px 0; padding:10px 14px; border-radius:12px; white-space:pre-wrap; word-wrap:break-word; }
.user { background:var(--me); margin-left:15%; }
.assistant { background:var(--bot); border:1px solid var(--line); margin-right:15%; }
.assistant.fixed .text { text-decoration:line-through; color:var(--muted); }
.correction { margin-top:6px; padding-top:6px; border-top:1px dashed var(--line); }
.rate { display:flex; gap:6px; align-items:center; margin-top:8px; white-space:normal; }
.rate button { border:1px solid var(--line); background:#fff; border-radius:8px; padding:2px 10px; cursor:pointer; font-size:14px; }
.rate button:hover:not(:disabled) { border-color:var(--accent); }
.rate button:disabled { opacity:.45; cursor:default; }
.rate .status { font-size:13px; color:var(--muted); }
.fix { display:none; margin-top:8px; white-space:normal; }
.fix.open { display:block; }
.fix textarea { width:100%; min-height:70px; font:inherit; padding:6px; border-radius:8px; border:1px solid var(--line); }
form#send { position:fixed; left:0; right:0; bottom:0; background:#fff; border-top:1px solid var(--line); padding:12px 16px; }
form#send div { max-width:820px; margin:0 auto; display:flex; gap:8px; }
#input { flex:1; min-height:48px; max-height:200px; font:inherit; padding:8px 10px; border-radius:10px; border:1px solid var(--line); resize:vertical; }
button.primary { background:var(--accent); color:#fff; border:0; border-radius:10px; padding:0 18px; font:inherit; cursor:pointer; }
button.primary:disabled { opacity:.5; }
.err { color:#b3261e; font-size:13px; }
</style></head>
<body>
<header><h1>JAVIS</h1><span id="version" title="the version answering">{{version}}</span><a href="/history">history</a></header>
<main id="log" aria-live="polite"></main>
<form id="send"><div>
<textarea id="input" placeholder="Message JAVIS (Enter sends, Shift+Enter: new line)" aria-label="message"></textarea>
<button class="primary" id="sendbtn" type="submit">Send</button>
</div></form>
<script>
"use strict";
const log = document.getElementById("log");
const input = document.getElementById("input");
const sendbtn = document.getElementById("sendbtn");
const versionEl = document.getElementById("version");
const messages = [];  // the conversation so far, as the model saw it

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function postJSON(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch (e) {}
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return r.json();
}

function ratingBar(box, index, prompt, answer, version) {
  const bar = el("div", "rate");
  const good = el("button", "good", "👍"); good.title = "good answer"; good.setAttribute("aria-label", "good");
  const bad = el("button", "bad", "👎"); bad.title = "bad answer"; bad.setAttribute("aria-label", "bad");
  const fixBtn = el("button", "fixbtn", "correct it");
  const status = el("span", "status");
  bar.append(good, bad, fixBtn, status);
  const fix = el("div", "fix");
  const area = el("textarea"); area.placeholder = "The answer it should have given"; area.setAttribute("aria-label", "correction");
  const save = el("button", "primary savefix", "Save correction");
  fix.append(area, save);
  const buttons = [good, bad, fixBtn, save];
  async function send(extra, label) {
    buttons.forEach(b => b.disabled = true);
    status.textContent = "saving…";
    try {
      await postJSON("/api/feedback", {messages: prompt, response: answer, model_version: version, ...extra});
      status.textContent = "saved " + label;
      box.dataset.rated = extra.rating;
      return true;
    } catch (e) {
      status.textContent = ""; status.append(el("span", "err", "not saved: " + e.message));
      buttons.forEach(b => b.disabled = false);
      return false;
    }
  }
  good.onclick = () => send({rating: "good"}, "👍");
  bad.onclick = () => send({rating: "bad"}, "👎");
  fixBtn.onclick = () => { fix.classList.toggle("open"); area.focus(); };
  save.onclick = async () => {
    const text = area.value.trim();
    if (!text) { area.focus(); return; }
    if (await send({rating: "bad", correction: text}, "👎 with your correction")) {
      fix.classList.remove("open");
      box.classList.add("fixed");
      box.append(el("div", "correction", text));
      messages[index] = {role: "assistant", content: text};  // the conversation goes on from the correction
    }
  };
  box.append(bar, fix);
}

async function ask(text) {
  messages.push({role: "user", content: text});
  log.append(el("div", "msg user", text));
  const box = el("div", "msg assistant");
  const body = el("div", "text", "…");
  box.append(body);
  log.append(box);
  box.scrollIntoView({block: "end"});
  const prompt = messages.map(m => ({...m}));
  try {
    const r = await fetch("/api/chat/stream", {method: "POST", headers: {"Content-Type": "application/json"},
                                               body: JSON.stringify({messages: prompt})});
    if (!r.ok) throw new Error((await r.text()) || r.statusText);
    const version = r.headers.get("X-Model-Version") || versionEl.textContent;
    versionEl.textContent = version;
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let answer = "";
    body.textContent = "";
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      answer += decoder.decode(value, {stream: true});
      body.textContent = answer;
      box.scrollIntoView({block: "end"});
    }
    answer = (answer + decoder.decode()).trim();
    body.textContent = answer || "(empty answer)";
    if (!answer) return;
    messages.push({role: "assistant", content: answer});
    ratingBar(box, messages.length - 1, prompt, answer, version);
    box.dataset.done = "1";
  } catch (e) {
    body.textContent = "";
    body.append(el("span", "err", "error: " + e.message));
  }
}

document.getElementById("send").onsubmit = async (ev) => {
  ev.preventDefault();
  const text = input.value.trim();
  if (!text || sendbtn.disabled) return;
  input.value = "";
  sendbtn.disabled = true;
  try { await ask(text); } finally { sendbtn.disabled = false; input.focus(); }
};
input.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    document.getElementById("send").requestSubmit();
  }
});
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
th { background:#eef1f7; } td.r { white-space:nowrap; }
</style></head><body>
<header><h1>Feedback history</h1><span class="v">serving {{version}}</span><span>{{n}} rated answers, newest first</span><a href="/">chat</a></header>
<table id="history"><thead><tr><th>when (UTC)</th><th>version</th><th>rating</th><th>question</th><th>answer</th><th>correction</th></tr></thead>
<tbody>
{{rows}}
</tbody></table>
</body></html>
"""
