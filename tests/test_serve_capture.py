"""Capture and ratings over HTTP: `javis serve` appends every completed exchange to
data/raw/served-<date>.jsonl (several clients at once, every line whole), rates them by completion
id into data/feedback, marks Open WebUI's background `### Task:` prompts, and the collect and clean
stages then turn the captured lines into records (the task prompts rejected, never trained)."""

from __future__ import annotations

import json
import runpy
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import read_jsonl, serving

from javis.app import chat, serve
from javis.app.openai_api import Capture, is_task

# Open WebUI's title prompt as it ships (backend/open_webui/config.py,
# DEFAULT_TITLE_GENERATION_PROMPT_TEMPLATE), with the chat history filled in as it sends it.
OPEN_WEBUI_TITLE = """### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
- Use emojis that enhance understanding of the topic, but avoid quotation marks or special formatting.
- Write the title in the chat's primary language; default to English if multilingual.
- Prioritize accuracy over excessive creativity; keep it clear and simple.
### Output:
JSON format: { "title": "your concise title here" }
### Examples:
- { "title": "📉 Stock Market Trends" },
- { "title": "🍪 Perfect Chocolate Chip Recipe" },
- { "title": "Evolution of Music Streaming" },
- { "title": "Remote Work Productivity Tips" },
- { "title": "Artificial Intelligence in Healthcare" },
- { "title": "🎮 Video Game Development Insights" }
### Chat History:
<chat_history>
USER: 서울 날씨 어때?
ASSISTANT: 맑아요. (Sunny.)
</chat_history>"""


@pytest.fixture(scope="module")
def bot(tiny_base, tmp_path_factory) -> chat.Bot:
    return chat.load_bot(
        tiny_base,
        "You are JAVIS.",
        current=tmp_path_factory.mktemp("none") / "current",
        max_new_tokens=8,
    )


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_eight_clients_times_25_completions_give_200_whole_lines(bot, workdir):
    import openai

    raw = workdir / "data/raw"
    app = serve.create_app(lambda: bot, workdir / "data/feedback", capture=Capture(raw, True))
    ids: list[str] = []
    errors: list[BaseException] = []

    def client_run(n: int, base_url: str) -> None:
        client = openai.OpenAI(base_url=base_url, api_key="none", max_retries=0)
        try:
            for i in range(25):
                ask = [{"role": "user", "content": f"client {n} question {i}: 안녕? hello?"}]
                done = client.chat.completions.create(
                    model="javis", messages=ask, max_tokens=4, stream=i % 2 == 1
                )
                if i % 2 == 1:
                    done = list(done)[0]
                ids.append(done.id)
        except BaseException as e:  # reported below
            errors.append(e)

    with serving(app) as url:
        threads = [threading.Thread(target=client_run, args=(n, f"{url}/v1")) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [], errors
    (day,) = sorted(raw.glob("served-*.jsonl"))
    text = day.read_bytes()
    lines = text.splitlines()
    assert len(lines) == 200, f"one line per completion: {len(lines)}"
    parsed = [json.loads(x) for x in lines]  # every line whole: each parses
    assert sorted(x["id"] for x in parsed) == sorted(ids), "each line holds its completion id"
    assert {x["source_kind"] for x in parsed} == {"chat"}, "conversations, not tasks"
    assert {x["messages"][-1]["role"] for x in parsed} == {"assistant"}, "the answer is in it"
    assert text.endswith(b"\n"), "the file ends with a whole line"


def test_rating_by_completion_id_then_collect_and_clean_make_records(bot, workdir):
    import openai

    raw, fb = workdir / "data/raw", workdir / "data/feedback"
    app = serve.create_app(lambda: bot, fb, capture=Capture(raw, True))
    with serving(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
        asks = ["오늘 뭐 할까? (what shall I do today?)", "Tell me a joke."]
        done = [
            client.chat.completions.create(
                model="javis", messages=[{"role": "user", "content": q}], max_tokens=6
            )
            for q in asks
        ]
        task = client.chat.completions.create(
            model="javis", messages=[{"role": "user", "content": OPEN_WEBUI_TITLE}], max_tokens=6
        )
        status, good = post(f"{url}/v1/feedback", {"completion_id": done[0].id, "rating": "good"})
        assert status == 200, good
        status, fixed = post(
            f"{url}/v1/feedback",
            {"completion_id": done[1].id, "rating": "bad", "correction": "Why did the chicken…"},
        )
        assert status == 200, fixed
        status, missing = post(
            f"{url}/v1/feedback", {"completion_id": "chatcmpl-nope", "rating": "good"}
        )
    assert status == 404, missing
    assert "chatcmpl-nope" in missing["error"]["message"], missing
    captured = {x["id"]: x for p in raw.glob("served-*.jsonl") for x in read_jsonl(p)}
    assert captured[task.id]["source_kind"] == "task", "Open WebUI's title prompt is a task"
    assert captured[done[0].id]["source_kind"] == "chat", captured[done[0].id]
    (line_good, line_fixed) = [x for p in sorted(fb.glob("*.jsonl")) for x in read_jsonl(p)]
    assert line_good["meta"] == {"completion_id": done[0].id}, line_good
    assert line_good["response"] == done[0].choices[0].message.content.strip(), line_good
    assert line_good["model_version"] == "base", line_good
    assert line_fixed["correction"] == "Why did the chicken…", line_fixed

    runpy.run_module("stages.collect", run_name="__main__")
    runpy.run_module("stages.clean", run_name="__main__")
    sft = read_jsonl(workdir / "data/collected/sft.jsonl")
    served = [r for r in sft if r["source"].startswith("raw/served-")]
    assert {r["meta"]["orig_id"] for r in served} == {done[0].id}, (
        "the chat exchange trains; the task prompt does not; the answer rated bad is cut out"
    )
    rejects = read_jsonl(workdir / "data/rejected/collect.jsonl")
    reasons = {
        r["raw"].split('"id": "')[1].split('"')[0]: r["reason"]
        for r in rejects
        if "raw" in r and r["source"].startswith("raw/")
    }
    assert reasons[task.id].startswith("task"), reasons
    assert reasons[done[1].id].startswith("rated_bad"), reasons
    fixed_sft = [r for r in sft if r["meta"].get("correction")]
    assert [r["messages"][-1]["content"] for r in fixed_sft] == ["Why did the chicken…"], fixed_sft
    cleaned = [r for p in (workdir / "data/cleaned").glob("*.jsonl") for r in read_jsonl(p)]
    assert any(r["source"].startswith("raw/served-") for r in cleaned), (
        "clean keeps the captured conversation"
    )


def test_is_task_reads_open_webui_prompts():
    assert is_task([{"role": "user", "content": OPEN_WEBUI_TITLE}]), "the title prompt"
    assert not is_task([{"role": "user", "content": "What is ### Task: about?"}]), "mid-text"
    assert is_task(
        [
            {"role": "system", "content": "x"},
            {"role": "user", "content": "### Task:\nGenerate 1-3 broad tags"},
        ]
    ), "the tags prompt"


def test_capture_off_still_rates_by_id(bot, tmp_path):
    capture = Capture(tmp_path / "raw", False)
    app = serve.create_app(lambda: bot, tmp_path / "feedback", capture=capture)
    with serving(app) as url:
        status, done = post(
            f"{url}/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
        )
        assert status == 200, done
        status, line = post(f"{url}/v1/feedback", {"completion_id": done["id"], "rating": "bad"})
    assert status == 200, line
    assert not Path(tmp_path / "raw").exists(), "capture off writes nothing to data/raw"
