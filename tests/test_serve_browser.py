"""`javis serve`: the API with FastAPI's test client, and the page end to end in headless Chromium
(Debian's /usr/bin/chromium driven by Playwright) against uvicorn on a loopback port, on the tiny model."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import read_jsonl

from javis.app import chat, serve
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
    r = client.post("/api/chat", json={"messages": HI})
    assert r.status_code == 200
    assert r.json() == {"response": bot.reply(HI), "model_version": "base"}
    s = client.post("/api/chat/stream", json={"messages": HI})
    assert s.status_code == 200
    assert s.headers["x-model-version"] == "base"
    assert s.text.strip() == bot.reply(HI)
    assert client.get("/api/version").json() == {"model_version": "base"}
    assert client.post("/api/chat", json={"messages": []}).status_code == 422
    bad = client.post("/api/chat", json={"messages": [*HI, {"role": "assistant", "content": "x"}]})
    assert bad.status_code == 422
    assert "last message" in bad.json()["detail"]


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
    assert "http://" not in page  # no CDN, nothing fetched from elsewhere
    assert "https://" not in page


def test_cross_site_posts_are_refused(client):
    r = client.post(
        "/api/feedback",
        headers={"Origin": "https://evil.example"},
        json={"messages": HI, "response": "x", "model_version": "base", "rating": "good"},
    )
    assert r.status_code == 403
    assert (
        client.post(
            "/api/chat", headers={"Origin": "http://testserver"}, json={"messages": HI}
        ).status_code
        == 200
    )


def test_a_deploy_switch_reloads_the_model(tmp_path):
    adapters = tmp_path / "adapters"
    for v in ("javis-v0.1", "javis-v0.2"):
        (adapters / v).mkdir(parents=True)
        (adapters / v / "adapter_config.json").write_text("{}")
    current = tmp_path / "current"
    loads: list[str] = []

    def load() -> chat.Bot:
        version = chat.deployed(current)[0]
        loads.append(version)
        return chat.Bot(None, None, version)

    bots = serve.Deployed(load, current)
    assert bots.get().version == "base"
    assert bots.get().version == "base"
    os.symlink(adapters / "javis-v0.1", current)
    assert bots.get().version == "javis-v0.1"
    tmp = tmp_path / "next"
    os.symlink(adapters / "javis-v0.2", tmp)
    os.replace(tmp, current)  # how `javis deploy` switches
    assert bots.get().version == "javis-v0.2"
    assert bots.get().version == "javis-v0.2"
    assert loads == ["base", "javis-v0.1", "javis-v0.2"]


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


@pytest.fixture
def server(bot, tmp_path) -> Iterator[tuple[str, Path]]:
    """uvicorn on 127.0.0.1 on a free port, in a thread. The socket listens before the thread starts,
    so the browser's first connection waits in the backlog: no sleeping, no polling."""
    import uvicorn

    folder = tmp_path / "feedback"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(serve.create_app(lambda: bot, folder), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", folder
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_browser_chat_and_correct_an_answer(chromium, server, bot, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, folder = server
    question = "Hello! How are you?"
    correction = "I'm well, thank you! How can I help?"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(url)
            expect(page.locator("#version")).to_have_text("base")
            page.fill("#input", question)
            page.keyboard.press("Enter")
            answer = page.locator('.msg.assistant[data-done="1"]')
            expect(answer).to_have_count(1)
            shown = answer.locator(".text").inner_text().strip()
            assert shown == bot.reply([{"role": "user", "content": question}])
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
        finally:
            browser.close()
    got = lines(folder)
    assert len(got) == 2
    fixed, good = got
    assert fixed["rating"] == "bad"
    assert fixed["correction"] == correction
    assert fixed["model_version"] == "base"
    assert fixed["messages"] == [{"role": "user", "content": question}]
    assert fixed["response"] == shown
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

    from javis.app import cli

    ran = {}
    monkeypatch.setattr(chat, "load_bot", lambda *a, **kw: bot)
    monkeypatch.setattr(
        uvicorn, "run", lambda app, host, port, **kw: ran.update(app=app, host=host, port=port)
    )
    assert cli.main(["serve", "--port", "9999"]) == 0
    assert ran["host"] == "127.0.0.1"
    assert ran["port"] == 9999
    assert "base on http://127.0.0.1:9999/" in capsys.readouterr().out
    assert [r.path for r in ran["app"].routes if r.path.startswith(("/api", "/history"))] == [
        "/api/version",
        "/api/chat",
        "/api/chat/stream",
        "/api/feedback",
        "/api/history",
        "/history",
    ]
