"""`javis serve`: the API with FastAPI's test client, and the page end to end in headless Chromium
(Debian's /usr/bin/chromium driven by Playwright) against uvicorn on a loopback port, on the tiny model."""

from __future__ import annotations

import json
import os
import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import helpers
import pytest
from helpers import read_jsonl

from javis.app import chat, serve
from javis.app.openai_api import Capture, Single
from javis.data import feedback

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def bot(tiny_base, tmp_path_factory) -> chat.Bot:
    return chat.load_bot(
        tiny_base,
        "You are JAVIS.",
        current=tmp_path_factory.mktemp("none") / "current",
        max_new_tokens=12,
    )


@pytest.fixture
def client(bot, tmp_path):
    from starlette.testclient import TestClient

    app = serve.create_app(lambda: bot, tmp_path / "feedback")
    with TestClient(app) as c:
        yield c


def lines(folder: Path) -> list[dict]:
    return [x for p in sorted(folder.glob("*.jsonl")) for x in read_jsonl(p)]


# --- the API ---------------------------------------------------------------------------------------

HI = [{"role": "user", "content": "Hello! How are you?"}]


def test_chat_answers_with_the_version(client, bot):
    r = client.post("/v1/chat/completions", json={"messages": HI})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].strip() == bot.reply(HI), r.json()
    assert r.json()["model"] == "base", r.json()
    assert r.headers["x-model-version"] == "base", r.headers
    assert client.get("/api/version").json() == {"model_version": "base"}
    empty = client.post("/v1/chat/completions", json={"messages": []})
    assert empty.status_code == 400, empty.text
    assert empty.json()["error"]["param"] == "messages", empty.json()


def test_feedback_is_validated_appended_and_listed(client, tmp_path):
    ok = client.post(
        "/api/feedback",
        json={
            "messages": HI,
            "response": "Fine.",
            "model_version": "base",
            "rating": "bad",
            "correction": "I'm well, thanks!",
        },
    )
    assert ok.status_code == 200
    assert ok.json()["rating"] == "bad"
    assert ok.json()["file"].startswith("feedback-")
    client.post(
        "/api/feedback",
        json={
            "messages": HI,
            "response": "<script>alert(1)</script>",
            "model_version": "base",
            "score": 5,
        },
    )
    bad = client.post(
        "/api/feedback",
        json={"messages": HI, "response": "x", "model_version": "base", "rating": "meh"},
    )
    assert bad.status_code == 422
    assert "rating" in bad.json()["detail"]
    written = lines(tmp_path / "feedback")
    assert [(x["rating"], x.get("correction"), x.get("score")) for x in written] == [
        ("bad", "I'm well, thanks!", None),
        ("good", None, 5),
    ]
    history = client.get("/api/history").json()
    assert [x["id"] for x in history] == [written[1]["id"], written[0]["id"]]  # newest first
    page = client.get("/history").text
    assert "I&#x27;m well, thanks!" in page
    assert "&lt;script&gt;" in page
    assert "<script>alert" not in page
    assert "2 rated answers" in page
    assert "👍 5/5" in page


def test_page_shows_the_version_and_is_self_contained(client):
    page = client.get("/").text
    assert '<span id="version" title="the version answering">base</span>' in page
    assert "correct it" in page
    assert "/api/feedback" in page
    assert "http://" not in page, "no CDN, nothing fetched from elsewhere"
    assert "https://" not in page, "no CDN, nothing fetched from elsewhere"
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in page, f"the page builds answers with DOM nodes only, yet uses {sink}"


def test_cross_site_posts_are_refused(client):
    r = client.post(
        "/api/feedback",
        headers={"Origin": "https://evil.example"},
        json={"messages": HI, "response": "x", "model_version": "base", "rating": "good"},
    )
    assert r.status_code == 403
    same = client.post(
        "/v1/chat/completions", headers={"Origin": "http://testserver"}, json={"messages": HI}
    )
    assert same.status_code == 200, same.text


# --- the page in a real browser ----------------------------------------------------------------------


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium: required in CI (fail with what to install), skipped locally when absent."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install Debian's chromium (`apt-get install -y chromium`) for the browser test"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(
            "the playwright Python package is missing: pip install playwright (its browsers are not needed)"
        )
    return CHROMIUM


@contextmanager
def serving(bot, folder: Path) -> Iterator[str]:
    """`bot` served on 127.0.0.1 (helpers.serving), feedback to `folder`; capture off (the
    exchanges are remembered for rating by completion id; tests/test_serve_capture.py captures)."""
    app = serve.create_app(lambda: bot, folder, capture=Capture(folder.parent / "raw", False))
    with helpers.serving(app) as url:
        yield url


@pytest.fixture
def server(bot, tmp_path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "feedback"
    with serving(bot, folder) as url:
        yield url, folder


@contextmanager
def browser_page(chromium: Path, **context: Any) -> Iterator[Any]:
    """A page of headless Chromium (Debian's, driven by Playwright); `context`: e.g. timezone_id."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**context).new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


WAIT = object()  # in a Scripted answer: block until the server sets the stop event


class Scripted:
    """A bot that answers from a script (each answer a list of pieces, streamed one by one), and
    records what it was asked and whether a stop reached it."""

    version = "base"

    def __init__(self, *answers: list) -> None:
        self.answers = list(answers)
        self.asked: list[list[dict]] = []
        self.stopped = threading.Event()

    def stream(
        self, messages: list[dict], stop: threading.Event | None = None, **kw: Any
    ) -> Iterator[str]:
        self.asked.append(messages)
        for piece in self.answers.pop(0):
            if piece is WAIT:
                assert stop is not None, "serve passes a stop event to the bot"
                if stop.wait(30):
                    self.stopped.set()
                return
            yield piece

    def reply(self, messages: list[dict]) -> str:
        return "".join(self.stream(messages)).strip()


def test_browser_chat_and_correct_an_answer(chromium, server, bot, tmp_path):
    from playwright.sync_api import expect

    url, folder = server
    question = "Hello! How are you?"
    correction = "I'm well, thank you! How can I help?"
    with browser_page(chromium) as page:
        page.goto(url)
        expect(page.locator("#version")).to_have_text("base")
        page.fill("#input", question)
        page.keyboard.press("Enter")
        answer = page.locator('.msg.assistant[data-done="1"]')
        expect(answer).to_have_count(1)
        answer.get_by_role("button", name="correct it").click()
        answer.get_by_label("correction").fill(correction)
        answer.get_by_role("button", name="Save correction").click()
        expect(answer.locator(".status")).to_have_text("saved 👎 with your correction")
        expect(answer.locator(".correction")).to_have_text(correction)

        # A second answer, 👍: the conversation went on from the correction.
        page.fill("#input", "What is the weather in Seoul today?")
        page.get_by_role("button", name="Send").click()
        second = page.locator('.msg.assistant[data-done="1"]').nth(1)
        expect(second).to_be_visible()
        second.get_by_role("button", name="good").click()
        expect(second.locator(".status")).to_have_text("saved 👍")

        page.goto(url + "/history")
        expect(page.locator("#history tbody tr")).to_have_count(2)
        expect(page.locator("#history tbody tr").nth(1)).to_contain_text(correction)
    got = lines(folder)
    assert len(got) == 2
    fixed, good = got
    assert fixed["rating"] == "bad"
    assert fixed["correction"] == correction
    assert fixed["model_version"] == "base"
    assert fixed["messages"] == [{"role": "user", "content": question}]
    assert fixed["response"] == bot.reply([{"role": "user", "content": question}]), (
        "the line holds the answer as the model gave it"
    )
    assert good["rating"] == "good"
    assert good["messages"][:2] == [
        {"role": "user", "content": question},
        {"role": "assistant", "content": correction},
    ]
    assert feedback.read_feedback(folder)[0]["id"] == good["id"]


def test_requests_for_another_host_name_are_refused(server):
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 must not reach the API."""
    import http.client
    from urllib.parse import urlsplit

    url, _ = server
    conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=10)
    for host, status in (("evil.example", 403), (urlsplit(url).netloc, 200), ("localhost:1", 200)):
        conn.request("GET", "/api/history", headers={"Host": host})
        response = conn.getresponse()
        assert (host, response.status) == (host, status), response.read()
        response.read()


def test_javis_serve_command(bot, workdir, monkeypatch, capsys):
    import uvicorn

    from javis.app import cli, engine

    ran = {}
    monkeypatch.setattr(engine, "Engine", lambda *a, **kw: Single(bot))
    monkeypatch.setattr(
        uvicorn, "run", lambda app, host, port, **kw: ran.update(app=app, host=host, port=port)
    )
    assert cli.main(["serve", "--port", "9999"]) == 0
    assert ran["host"] == "127.0.0.1"
    assert ran["port"] == 9999
    assert "base on http://127.0.0.1:9999/" in capsys.readouterr().out
    assert [
        r.path for r in ran["app"].routes if r.path.startswith(("/api", "/history", "/v1"))
    ] == [
        "/v1/models",
        "/v1/chat/completions",
        "/v1/feedback",
        "/api/version",
        "/api/feedback",
        "/api/feedback/{ident}",
        "/api/history",
        "/history",
    ]


# --- stopping an answer ------------------------------------------------------------------------------


def test_the_stop_event_ends_a_real_generation_early(bot):
    steps: list[int] = []
    hook = bot.model.register_forward_hook(lambda *args: steps.append(1))
    try:
        bot.reply(HI)
        full, steps[:] = len(steps), []
        stop = threading.Event()
        stop.set()  # checked after every generated token: the first one ends the generation
        "".join(bot.stream(HI, stop=stop))
    finally:
        hook.remove()
    assert full > 1, f"the full answer takes several steps ({full})"
    assert len(steps) == 1, f"a stopped generation ends after its first token ({len(steps)} steps)"


def test_browser_stop_aborts_the_answer_and_leaves_it_out(chromium, tmp_path):
    from playwright.sync_api import expect

    bot = Scripted(["Partial **answer** so far", WAIT], ["Second answer."])
    folder = tmp_path / "feedback"
    with serving(bot, folder) as url, browser_page(chromium) as page:
        page.goto(url)
        page.fill("#input", "Tell me a long story")
        page.keyboard.press("Enter")
        box = page.locator(".msg.assistant").first
        expect(box.locator(".text")).to_have_text("Partial answer so far")
        expect(page.get_by_role("button", name="Send")).to_be_hidden()
        page.get_by_role("button", name="Stop").click()
        expect(box).to_have_attribute("data-stopped", "1")
        expect(box.locator(".note")).to_contain_text("stopped")
        expect(box.locator(".text")).to_have_text("Partial answer so far")
        expect(box.locator("button")).to_have_count(0)  # no 👍 / 👎: not a complete answer
        expect(page.get_by_role("button", name="Stop")).to_be_hidden()
        assert bot.stopped.wait(10), "the aborted fetch stopped the generation on the server"

        page.fill("#input", "Then just say hi")
        page.keyboard.press("Enter")
        second = page.locator('.msg.assistant[data-done="1"]')
        expect(second).to_have_count(1)
        second.get_by_role("button", name="good").click()
        expect(second.locator(".status")).to_have_text("saved 👍")
    assert bot.asked[1] == [{"role": "user", "content": "Then just say hi"}], (
        f"the stopped question and its partial answer are left out of the conversation: {bot.asked[1]}"
    )
    (line,) = lines(folder)
    assert line["messages"] == [{"role": "user", "content": "Then just say hi"}], (
        f"the rated answer's conversation holds no stopped turn: {line['messages']}"
    )


# --- a new conversation ------------------------------------------------------------------------------


def test_browser_new_conversation_starts_from_nothing(chromium, server, bot):
    from playwright.sync_api import expect

    url, folder = server
    with browser_page(chromium) as page:
        page.goto(url)
        page.fill("#input", "My name is Minji.")
        page.keyboard.press("Enter")
        expect(page.locator('.msg.assistant[data-done="1"]')).to_have_count(1)
        page.get_by_role("button", name="New conversation").click()
        expect(page.locator("#log .msg")).to_have_count(0)
        page.fill("#input", "안녕하세요, 오늘 날씨 어때요?")
        page.keyboard.press("Enter")
        answer = page.locator('.msg.assistant[data-done="1"]')
        expect(answer).to_have_count(1)
        answer.get_by_role("button", name="good").click()
        expect(answer.locator(".status")).to_have_text("saved 👍")
    (line,) = lines(folder)
    assert line["messages"] == [{"role": "user", "content": "안녕하세요, 오늘 날씨 어때요?"}], (
        f"the feedback holds only the new conversation: {line['messages']}"
    )


# --- changing and undoing a rating -------------------------------------------------------------------


def fb_line(ident: str, created_at: str, **kw: Any) -> dict:
    return {
        "id": ident,
        "created_at": created_at,
        "model_version": "base",
        "messages": HI,
        "response": "Fine.",
        "rating": "good",
        **kw,
    }


def where(got: dict) -> dict[str, str]:
    """superseded()'s answer as {superseded line's file:line: the id that counts instead}."""
    return {f"{f}:{n}": w.id for (f, n), w in got.items()}


def test_superseded_keeps_the_last_line_of_each_thread():
    t = "2026-10-20T10:00:0{}.000Z"
    chain = [
        (fb_line("a", t.format(1)), "f", 1),
        (fb_line("b", t.format(2), replaces="a", rating="bad"), "f", 2),
        (fb_line("c", t.format(3), replaces="b"), "f", 3),
        (fb_line("alone", t.format(4)), "f", 4),
    ]
    assert where(feedback.superseded(chain)) == {"f:1": "c", "f:2": "c"}, (
        "a chain of changes: only its last line counts"
    )
    fork = [
        (fb_line("a", t.format(1)), "f", 1),
        (fb_line("tab2", t.format(5), replaces="a"), "f", 2),
        (fb_line("tab1", t.format(3), replaces="a", rating="bad"), "f", 3),
    ]
    assert where(feedback.superseded(fork)) == {"f:1": "tab2", "f:3": "tab2"}, (
        "two tabs changed the same rating: the newer change counts"
    )
    late_clock = [
        (fb_line("a", t.format(5)), "f", 1),
        (fb_line("b", t.format(1), replaces="a", rating="bad"), "f", 2),
    ]
    assert where(feedback.superseded(late_clock)) == {"f:1": "b"}, (
        "a line that replaces another wins whatever the clocks say"
    )
    cycle = [
        (fb_line("a", t.format(1), replaces="b"), "f", 1),
        (fb_line("b", t.format(2), replaces="a"), "f", 2),
    ]
    assert where(feedback.superseded(cycle)) == {"f:1": "b"}, "a hand-made cycle ends, newest wins"
    orphan = [
        (fb_line("x", t.format(1), replaces="gone"), "f", 1),
        (fb_line("y", t.format(2), replaces="gone"), "f", 2),
    ]
    assert where(feedback.superseded(orphan)) == {"f:1": "y"}, (
        "changes of a line that is not there (another file, forgotten) still supersede each other"
    )
    copied = [(fb_line("a", t.format(1)), "f", 1), (fb_line("a", t.format(1)), "g", 1)]
    assert where(feedback.superseded(copied)) == {}, (
        "the same id twice, with no change, is no change"
    )


def test_change_and_undo_through_the_api(client, tmp_path):
    folder = tmp_path / "feedback"
    rated = {"messages": HI, "response": "Fine.", "model_version": "base"}
    first = client.post("/api/feedback", json={**rated, "rating": "good"}).json()
    changed = client.post(
        "/api/feedback", json={**rated, "rating": "bad", "replaces": first["id"]}
    ).json()
    assert changed["replaces"] == first["id"], "a change names the line it replaces"
    again = client.post("/api/feedback", json={**rated, "rating": "bad", "replaces": first["id"]})
    assert again.status_code == 422, "a line already changed cannot be changed again"
    assert "no current feedback line" in again.json()["detail"], again.json()
    other = client.post(
        "/api/feedback",
        json={**rated, "response": "Other.", "rating": "good", "replaces": changed["id"]},
    )
    assert other.status_code == 422, "a change must rate the same answer"
    assert "another answer" in other.json()["detail"], other.json()
    assert [x["rating"] for x in client.get("/api/history").json()] == ["bad"], (
        "history shows the latest state only"
    )
    undone = client.delete(f"/api/feedback/{changed['id']}")
    assert undone.status_code == 200, undone.text
    assert undone.json()["retracted"] is True, undone.json()
    assert client.get("/api/history").json() == [], "an undone rating leaves nothing in history"
    assert client.delete(f"/api/feedback/{changed['id']}").status_code == 422, "undo twice"
    assert client.delete("/api/feedback/nope").status_code == 422, "undo of an unknown id"
    evil = client.delete(f"/api/feedback/{first['id']}", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403, "another site cannot undo your ratings"
    assert len(lines(folder)) == 3, "every change is a new line: good, its change, the undo"


def test_browser_change_and_undo_ratings_then_collect_trains_on_the_latest(chromium, workdir):
    from playwright.sync_api import expect

    from javis.release.record import user_satisfaction

    bot = Scripted(["Seoul."], ["Busan."], ["Incheon."])
    folder = workdir / "data/feedback"
    with serving(bot, folder) as url, browser_page(chromium) as page:
        page.goto(url)

        def ask(text: str) -> Any:
            page.fill("#input", text)
            page.keyboard.press("Enter")
            box = page.locator(".msg.assistant").last
            expect(box).to_have_attribute("data-done", "1")
            return box

        one = ask("Capital of Korea?")
        one.get_by_role("button", name="good").click()
        expect(one.locator(".status")).to_have_text("saved 👍")
        one.get_by_role("button", name="bad").click()
        expect(one.locator(".status")).to_have_text("changed to 👎")
        expect(one.get_by_role("button", name="bad")).to_have_attribute("aria-pressed", "true")

        two = ask("Second city of Korea?")
        two.get_by_role("button", name="bad").click()
        expect(two.locator(".status")).to_have_text("saved 👎")
        two.get_by_role("button", name="undo").click()
        expect(two.locator(".status")).to_have_text("rating undone")
        expect(two.get_by_role("button", name="undo")).to_be_hidden()

        three = ask("Biggest port of Korea?")
        three.get_by_role("button", name="correct it").click()
        three.get_by_label("correction").fill("Busan.")
        three.get_by_role("button", name="Save correction").click()
        expect(three.locator(".correction")).to_have_text("Busan.")
        three.get_by_role("button", name="good").click()
        expect(three.locator(".status")).to_have_text("changed to 👍")
        expect(three.locator(".correction")).to_have_count(0)  # the answer stands again

        page.goto(url + "/history")
        rows = page.locator("#history tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("Incheon.")
        expect(rows.nth(0)).to_contain_text("(changed)")
        expect(rows.nth(1)).to_contain_text("👎")

    written = lines(folder)
    assert [x.get("rating") or "undo" for x in written] == [
        "good",
        "bad",
        "bad",
        "undo",
        "bad",
        "good",
    ], f"each change is a line of its own: {written}"
    assert bot.asked[2][-2] == {"role": "assistant", "content": "Busan."}, (
        f"the conversation went on without the undone rating changing it: {bot.asked[2]}"
    )
    assert [x["id"] for x in feedback.read_feedback(folder)] == [
        written[5]["id"],
        written[1]["id"],
    ], "read_feedback gives the latest state, newest first"
    sat = user_satisfaction("base", folder)
    assert (sat["n"], sat["mean"]) == (2, 3.0), f"satisfaction counts the latest state: {sat}"

    runpy.run_module("stages.collect", run_name="__main__")  # `python -m stages.collect`, here

    def collected(kind: str) -> list[dict]:  # the feedback's records (collect may add others)
        got = read_jsonl(workdir / f"data/collected/{kind}.jsonl")
        return [r for r in got if r["source"].startswith("feedback/")]

    sft, kto, pref = collected("sft"), collected("kto"), collected("preference")
    assert [r["messages"][-1]["content"] for r in sft] == ["Incheon."], (
        "only the answer rated 👍 now trains as SFT (not its earlier correction, not Seoul.)"
    )
    assert sorted((r["completion"][0]["content"], r["label"]) for r in kto) == [
        ("Incheon.", True),
        ("Seoul.", False),
    ], "KTO from the latest ratings only"
    assert pref == [], "the correction was changed to 👍: no preference pair"
    rejects = read_jsonl(workdir / "data/rejected/collect.jsonl")
    assert sorted((r["line"], r["reason"].split(" ")[0]) for r in rejects) == [
        (1, "superseded"),
        (3, "superseded"),
        (4, "retraction"),
        (5, "superseded"),
    ], f"the lines that no longer count are rejected with their line and why: {rejects}"
    day = feedback.feedback_path("data/feedback", written[1]["created_at"])
    assert rejects[0]["reason"] == f"superseded (by {written[1]['id']} in {day}:2)", (
        "a superseded line names the line that counts instead, with its file and line"
    )
    assert {r["file"] for r in rejects} == {str(day)}, "each reject names its file"
    m = json.loads((workdir / "metrics/collect.json").read_text())
    assert m["by_source"][f"feedback/{day.name}"] == {"in": 6, "kept": 2, "rejected": 4}, (
        f"every feedback line is accounted for: {m['by_source']}"
    )
    assert m["rejected_by_reason"] == {"retraction": 1, "superseded": 3}, m["rejected_by_reason"]


# --- safe markdown -----------------------------------------------------------------------------------

XSS_ANSWER = (
    'Look: <img src=x onerror="window.pwned=1;alert(1)"> and <script>window.pwned=2</script>\n'
    "\n"
    "```python\n"
    "print('<b>hi</b>')\n"
    "```\n"
    "\n"
    "**bold** and `x<y` and [ok](https://example.com/a) and [bad](javascript:window.pwned=3)\n"
    "see https://example.org/b.\n"
    "\n"
    "- one\n"
    "- two <i>x</i>\n"
    "1. first\n"
)


def test_browser_renders_markdown_and_runs_nothing(chromium, tmp_path):
    from playwright.sync_api import expect

    pieces = [XSS_ANSWER[i : i + 7] for i in range(0, len(XSS_ANSWER), 7)]  # tags cut mid-way
    bot = Scripted(pieces)
    question = "<img src=x onerror=alert(2)> what is <b>this</b>?"
    with serving(bot, tmp_path / "feedback") as url, browser_page(chromium) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.fill("#input", question)
        page.keyboard.press("Enter")
        box = page.locator('.msg.assistant[data-done="1"]')
        expect(box).to_have_count(1)
        text = box.locator(".text")
        assert page.evaluate("window.pwned") is None, "no handler or script of the answer ran"
        assert dialogs == [], f"no alert opened: {dialogs}"
        assert page.locator("#log img, #log script, #log i, #log b").count() == 0, (
            "model and user HTML never becomes elements"
        )
        assert '<img src=x onerror="window.pwned=1;alert(1)">' in text.inner_text(), (
            "the answer's HTML is shown as text"
        )
        assert page.locator(".msg.user").inner_text() == question, "the user's HTML is text too"
        expect(text.locator("pre > code.language-python")).to_have_text("print('<b>hi</b>')")
        expect(text.locator("p strong")).to_have_text("bold")
        expect(text.locator("p > code")).to_have_text("x<y")
        links = text.locator("a")
        expect(links).to_have_count(2)
        assert [links.nth(i).get_attribute("href") for i in range(2)] == [
            "https://example.com/a",
            "https://example.org/b",
        ], "only http(s) links become links"
        assert links.nth(0).get_attribute("rel") == "noopener noreferrer", "links open apart"
        assert "[bad](javascript:window.pwned=3)" in text.inner_text(), (
            "a javascript: link stays plain text"
        )
        expect(text.locator("ul > li")).to_have_text(["one", "two <i>x</i>"])
        expect(text.locator("ol > li")).to_have_text(["first"])


# --- times on /history ---------------------------------------------------------------------------------


def test_history_times_in_the_browsers_zone(chromium, tmp_path):
    from playwright.sync_api import expect

    folder = tmp_path / "feedback"
    old = feedback.append_feedback(folder, fb_line("", "2026-01-15T05:03:00.000Z"))
    new = feedback.append_feedback(folder, fb_line("", ""))  # now
    html_text = serve.render_history(feedback.read_feedback(folder), "base")
    assert "2026-01-15 05:03 UTC" in html_text, "without script the page shows UTC minutes"
    with (
        serving(Scripted(), folder) as url,
        browser_page(chromium, timezone_id="Asia/Seoul") as page,
    ):
        page.goto(url + "/history")
        times = page.locator("#history time")
        expect(times.nth(1)).to_have_text("2026-01-15 14:03")  # Seoul is UTC+9
        expect(times.nth(1)).to_have_attribute("title", old["created_at"])
        expect(times.nth(0)).to_contain_text("just now")
        expect(times.nth(0)).to_have_attribute("title", new["created_at"])


# --- with an API key ---------------------------------------------------------------------------------


def test_browser_page_asks_for_the_api_key_once(chromium, tmp_path):
    from playwright.sync_api import expect

    bot = Scripted(["First."], ["Second."])
    folder = tmp_path / "feedback"
    app = serve.create_app(lambda: bot, folder, api_key="s3cret")
    asked: list[str] = []
    with helpers.serving(app) as url, browser_page(chromium) as page:
        page.on("dialog", lambda d: (asked.append(d.message), d.accept("s3cret")))
        page.goto(url)
        for n, text in enumerate(("Hi", "Again"), 1):
            page.fill("#input", text)
            page.keyboard.press("Enter")
            expect(page.locator('.msg.assistant[data-done="1"]')).to_have_count(n)
        box = page.locator('.msg.assistant[data-done="1"]').nth(1)
        box.get_by_role("button", name="good").click()
        expect(box.locator(".status")).to_have_text("saved 👍")
    assert len(asked) == 1, f"the key is asked for once and kept for the tab: {asked}"
    (line,) = lines(folder)
    assert line["response"] == "Second.", line
