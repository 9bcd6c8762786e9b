"""`javis serve`'s OpenAI API, tested with the official `openai` SDK against uvicorn on 127.0.0.1:
one tiny base in memory with two tiny LoRA versions beside it (javis/app/engine.py)."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import make_adapter, serving

from javis.app import serve
from javis.app.engine import Engine
from javis.app.openai_api import Capture, Single

HI = [{"role": "user", "content": "Hello! How are you?"}]


@pytest.fixture(scope="module")
def versions(tiny_base, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("served")
    adapters = root / "models/adapters"
    for i, v in enumerate(("javis-v0.1", "javis-v0.2"), 1):
        make_adapter(tiny_base, adapters / v, seed=i)
    current = root / "models/current"
    os.symlink(Path("adapters") / "javis-v0.1", current)
    engine = Engine(
        tiny_base, "You are JAVIS.", current=current, adapters=adapters, max_new_tokens=12
    )
    return {"engine": engine, "root": root, "current": current}


@pytest.fixture
def api(versions, tmp_path):
    """(base_url, the openai client, the capture folder)."""
    import openai

    capture = Capture(tmp_path / "raw", True)
    app = serve.create_app(versions["engine"], tmp_path / "feedback", capture=capture)
    with serving(app) as url:
        yield url, openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0), tmp_path


def test_models_lists_every_version_and_the_deployed_one(api):
    _, client, _ = api
    models = client.models.list().data
    assert [m.id for m in models] == ["javis", "javis-v0.1", "javis-v0.2"], models
    deployed = models[0].model_dump()
    assert deployed["root"] == "javis-v0.1", f"`javis` names the deployed version: {deployed}"
    parents = {m.model_dump()["parent"] for m in models}
    assert len(parents) == 1, f"one base for all: {parents}"
    assert all(m.created > 0 for m in models), "each model has a created time"


def test_a_completion_names_its_version_and_counts_usage(api):
    _, client, _ = api
    raw = client.chat.completions.with_raw_response.create(
        model="javis-v0.2", messages=HI, max_tokens=5, temperature=0
    )
    done = raw.parse()
    assert done.model == "javis-v0.2", "`model` picks the version and the answer names it"
    assert raw.headers["x-model-version"] == "javis-v0.2", "and so does a header"
    assert done.usage.completion_tokens <= 5, done.usage
    assert done.usage.prompt_tokens > 0, done.usage
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert done.choices[0].finish_reason in ("stop", "length"), done.choices[0]
    assert done.id.startswith("chatcmpl-"), done.id
    default = client.chat.completions.create(model="javis", messages=HI, max_tokens=5)
    assert default.model == "javis-v0.1", "`javis` is answered by the deployed version"


def test_finish_reason_length_at_max_tokens(api):
    _, client, _ = api
    # a random tiny model rarely stops within 2 tokens; if it did, finish_reason must say stop
    done = client.chat.completions.create(model="javis-v0.1", messages=HI, max_tokens=2)
    choice = done.choices[0]
    expected = "length" if done.usage.completion_tokens == 2 else "stop"
    assert choice.finish_reason == expected, (choice, done.usage)


def test_versions_answer_differently(api):
    _, client, _ = api
    one, two = (
        client.chat.completions.create(model=v, messages=HI, max_tokens=8, temperature=0)
        for v in ("javis-v0.1", "javis-v0.2")
    )
    assert one.choices[0].message.content != two.choices[0].message.content, (
        "each version answers with its own adapter"
    )


def test_streamed_equals_non_streamed_at_temperature_0(api):
    _, client, _ = api
    whole = client.chat.completions.create(
        model="javis-v0.2", messages=HI, max_tokens=10, temperature=0
    )
    chunks = list(
        client.chat.completions.create(
            model="javis-v0.2",
            messages=HI,
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content, "the stream reassembles to the same answer"
    assert {c.model for c in chunks} == {"javis-v0.2"}, "every chunk names the version"
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == [whole.choices[0].finish_reason], finish
    assert chunks[-1].choices == [], "include_usage: a last chunk with no choices"
    assert chunks[-1].usage.model_dump() == whole.usage.model_dump(), chunks[-1].usage


def test_the_stream_ends_with_done(api):
    url, _, _ = api
    body = json.dumps({"model": "javis", "messages": HI, "max_tokens": 3, "stream": True})
    req = urllib.request.Request(
        f"{url}/v1/chat/completions", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        kind = r.headers["content-type"]
        events = [e for e in r.read().decode().split("\n\n") if e]
    assert kind.startswith("text/event-stream"), kind
    assert events[-1] == "data: [DONE]", events[-1]
    assert all(e.startswith("data: ") for e in events), events


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": None}, "messages"),
        ({"temperature": 7}, "temperature"),
    ],
)
def test_bad_requests_are_openai_400s_naming_the_field(api, extra, field):
    import openai

    _, client, _ = api
    kwargs = {"model": "javis", "messages": HI, **extra}
    with pytest.raises(openai.BadRequestError) as err:
        if kwargs["messages"] is None:  # the SDK's create() insists on messages: post it raw
            del kwargs["messages"]
            client.post("/chat/completions", body=kwargs, cast_to=object)
        else:
            client.chat.completions.create(**kwargs)
    body = err.value.body
    assert body["param"] == field, body
    assert field.split("[")[0] in body["message"], body
    assert body["type"] == "invalid_request_error", body


def test_an_unknown_model_is_a_404(api):
    import openai

    _, client, _ = api
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="javis-v9.9", messages=HI)
    assert "javis-v0.2" in err.value.body["message"], "the error lists what is available"


def test_unknown_fields_are_ignored_and_logged(api, caplog):
    _, client, _ = api
    with caplog.at_level(logging.INFO, logger="javis.serve"):
        done = client.chat.completions.create(
            model="javis", messages=HI, max_tokens=3, extra_body={"mirostat": 2}
        )
    assert done.choices[0].message.role == "assistant", done
    assert "mirostat" in caplog.text, "the ignored field is logged"


def test_no_cors_headers(api):
    url, _, _ = api
    req = urllib.request.Request(f"{url}/v1/models", headers={"Origin": "https://evil.example"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers.get("access-control-allow-origin") is None, "CORS is off"


# --- tool calls ---------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n</tool_call>'


class Crafted:
    """A bot whose "model" writes a tool call in our template the first time and an answer
    after the tool's result (the SDK's tool round trip over the real protocol code)."""

    version = "javis-v0.1"
    base = "tiny"
    created = 1

    def __init__(self) -> None:
        self.asked: list[dict] = []

    def stream(self, messages, stop=None, *, tools=None, sampling=None, usage=None):
        self.asked.append({"messages": messages, "tools": tools})
        if messages[-1]["role"] == "tool":
            text = f"It is {json.loads(messages[-1]['content'])['sky']} in Seoul."
        else:
            text = "Let me check." + "\n" + CALL
        for i in range(0, len(text), 5):  # the call's markup arrives cut in pieces
            yield text[i : i + 5]


def test_tool_call_round_trip_with_the_sdk(tmp_path):
    import openai

    bot = Crafted()
    app = serve.create_app(Single(bot), tmp_path / "feedback")
    with serving(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
        ask = [{"role": "user", "content": "서울 날씨 어때? (weather in Seoul?)"}]
        first = client.chat.completions.create(model="javis", messages=ask, tools=[WEATHER])
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        (call,) = choice.message.tool_calls
        assert call.function.name == "get_weather", call
        assert json.loads(call.function.arguments) == {"city": "Seoul"}, call
        assert choice.message.content == "Let me check.", "the text before the call stays content"
        streamed = list(
            client.chat.completions.create(
                model="javis", messages=ask, tools=[WEATHER], stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        assert "<tool_call>" not in text, f"no markup leaks into the streamed content: {text!r}"
        deltas = [t for c in streamed if c.choices for t in (c.choices[0].delta.tool_calls or [])]
        assert [d.function.name for d in deltas] == ["get_weather"], deltas
        back = [
            *ask,
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"sky": "sunny"})},
        ]
        second = client.chat.completions.create(model="javis", messages=back, tools=[WEATHER])
    assert second.choices[0].message.content == "It is sunny in Seoul.", second
    assert second.choices[0].finish_reason == "stop", second
    sent = bot.asked[-1]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather", sent[1]
    assert bot.asked[-1]["tools"] == [WEATHER], "the tools reach the model's prompt"


# --- auth ---------------------------------------------------------------------------------------


def test_auth_on_needs_the_bearer_token(versions, tmp_path):
    import openai

    app = serve.create_app(versions["engine"], tmp_path / "feedback", api_key="s3cret")
    with serving(app) as url:
        wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=30)
            status = 200
        except urllib.error.HTTPError as e:
            status = e.code
        assert status == 401, "no token: 401"
        right = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert right.models.list().data[0].id == "javis", "the right token works"
        with urllib.request.urlopen(f"{url}/", timeout=30) as r:
            assert r.status == 200, "the page shell itself loads (it asks for the key)"


def test_no_key_refuses_to_bind_beyond_loopback():
    with pytest.raises(serve.ServeError, match="api_key"):
        serve.check_bind("0.0.0.0", "")
    assert serve.check_bind("0.0.0.0", "k") is None, "with a key any address may be served"
    assert serve.check_bind("127.0.0.1", "") is None, "loopback needs no key"


def trained_to_call(tiny_base, tokenizer_prompt: str, conversations: list[tuple[list, str]]):
    """The tiny base trained (all weights, a few hundred steps on CPU) to answer each
    conversation's prompt with its text exactly: a real model that calls the tool."""
    import torch

    from javis.model import loading, template

    tok = loading.load_tokenizer(tiny_base, tokenizer_prompt)
    model = loading.load_base(tiny_base)
    rows = []
    for messages, answer in conversations:
        prompt = tok.apply_chat_template(
            template.prepare_messages(messages),
            tools=[WEATHER],
            add_generation_prompt=True,
            tokenize=False,
        )
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        a_ids = tok(answer + template.IM_END, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + a_ids])
        labels = torch.tensor([[-100] * len(p_ids) + a_ids])
        rows.append((ids, labels))
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(300):  # until every answer is learnt by heart (~1/100 nats per token)
        losses = []
        for ids, labels in rows:
            loss = model(input_ids=ids, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if max(losses) < 0.01:
            break
    model.eval()
    return model, tok


def test_tool_call_round_trip_with_a_trained_tiny_model(tiny_base, tmp_path):
    import openai

    from javis.app.engine import Bot

    ask = [{"role": "user", "content": "서울 날씨 어때? (weather in Seoul?)"}]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'},
    }
    after = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "sunny"}'},
    ]
    model, tok = trained_to_call(
        tiny_base, "You are JAVIS.", [(ask, CALL), (after, "It is sunny in Seoul.")]
    )
    bot = Bot(model, tok, "javis-v0.1", max_new_tokens=48)
    app = serve.create_app(Single(bot), tmp_path / "feedback")
    with serving(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
        first = client.chat.completions.create(
            model="javis", messages=ask, tools=[WEATHER], temperature=0
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        (got,) = choice.message.tool_calls
        assert got.function.name == "get_weather", got
        assert json.loads(got.function.arguments) == {"city": "Seoul"}, got
        back = [
            *ask,
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": got.id, "content": '{"sky": "sunny"}'},
        ]
        second = client.chat.completions.create(
            model="javis", messages=back, tools=[WEATHER], temperature=0
        )
    assert second.choices[0].message.content == "It is sunny in Seoul.", second
    assert second.choices[0].finish_reason == "stop", second


def test_stop_strings_cut_the_answer_streamed_or_not(api):
    _, client, _ = api
    ask = {"model": "javis-v0.2", "messages": HI, "max_tokens": 12, "temperature": 0}
    whole = client.chat.completions.create(**ask).choices[0].message.content
    stop = whole[len(whole) // 2 : len(whole) // 2 + 2]
    cut = client.chat.completions.create(stop=[stop], **ask).choices[0]
    assert cut.message.content == whole[: whole.index(stop)], (whole, stop, cut)
    assert cut.finish_reason == "stop", cut
    chunks = client.chat.completions.create(stop=stop, stream=True, **ask)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole[: whole.index(stop)], (whole, stop, text)


def test_stop_strings_hold_back_a_possible_start():
    from javis.app.engine import StopStrings

    cut = StopStrings(["<end>"])
    got = [cut.feed(p) for p in ("ab<e", "n", "x<en", "d>zz")]
    assert got == ["ab", "", "<enx", ""], f"a tail that may start a stop string waits: {got}"
    assert cut.hit, "the stop string was seen across pieces"


def test_javis_serve_refuses_a_public_bind_without_a_key(workdir, capsys, monkeypatch):
    from javis.app import cli

    monkeypatch.delenv("JAVIS_API_KEY", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2, "refused before loading anything"
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without an API key" in err, err
    assert "serve.api_key" in err, "and says what to set"
