"""Feedback capture: the line writer (validation, several writers at once), `javis chat` driven with
typed input on the tiny model, and feedback lines turning into SFT/preference/KTO records in collect."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import re
from pathlib import Path

import pytest
from helpers import read_jsonl

from javis.app import chat, cli
from javis.data import feedback
from javis.data.feedback import FeedbackError, append_feedback, make_line

Q = [{"role": "user", "content": "Capital of Korea?"}]


def line(**kw) -> dict:
    return {
        "model_version": "javis-v0.1",
        "messages": Q,
        "response": "Busan.",
        "rating": "bad",
        **kw,
    }


def all_lines(folder: Path) -> list[dict]:
    return [x for p in sorted(Path(folder).glob("*.jsonl")) for x in read_jsonl(p)]


@pytest.fixture(scope="module")
def bot(tiny_base, tmp_path_factory) -> chat.Bot:
    """The tiny random model as the deployed 'base' (nothing deployed), short answers."""
    return chat.load_bot(
        tiny_base,
        "You are JAVIS.",
        current=tmp_path_factory.mktemp("none") / "current",
        max_new_tokens=12,
    )


def test_loading_the_bot_prints_no_library_progress_bars(tiny_base, tmp_path, capfd):
    """`javis chat`/`serve` start with the prompt, not with transformers' "Loading weights" bar."""
    chat.load_bot(tiny_base, "You are JAVIS.", current=tmp_path / "current", max_new_tokens=4)
    err = capfd.readouterr().err
    assert "Loading weights" not in err, f"a library progress bar was printed: {err[-500:]}"


# --- the writer --------------------------------------------------------------------------------


def test_append_completes_and_files_by_day(tmp_path):
    written = append_feedback(tmp_path, line(correction="Seoul."))
    assert re.fullmatch(r"[0-9a-f]{32}", written["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", written["created_at"])
    path = tmp_path / f"feedback-{written['created_at'][:10]}.jsonl"
    assert read_jsonl(path) == [written]
    assert written["rating"] == "bad", "a correction makes the rating bad"
    assert written["correction"] == "Seoul.", "the correction is kept"
    assert written["model_version"] == "javis-v0.1", "the answering version is kept"


def test_rating_rules():
    assert make_line(line(rating=None, score=5))["rating"] == "good"
    assert make_line(line(rating=None, score=3))["rating"] == "bad"
    assert (
        make_line(line(rating="good", correction="Seoul."))["rating"] == "bad"
    )  # a corrected answer was not good
    given = make_line(line(id="fb-1", created_at="2026-01-02T03:04:05Z"))
    assert (given["id"], given["created_at"]) == ("fb-1", "2026-01-02T03:04:05Z")


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[1]"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "no user turn"),
        ({"response": "  "}, "response"),
        ({"model_version": ""}, "model_version"),
        ({"rating": "great"}, "rating"),
        ({"rating": None}, "rating"),
        ({"score": 6}, "score"),
        ({"score": True}, "score"),
        ({"correction": ""}, "correction"),
        ({"extra": 1}, "unknown field"),
    ],
)
def test_invalid_lines_name_the_field(bad, field, tmp_path):
    with pytest.raises(FeedbackError, match=re.escape(field)):
        append_feedback(tmp_path, line(**bad))
    assert not list(tmp_path.iterdir())


def _writer(args: tuple[str, int, int]) -> None:
    folder, worker, n = args
    for i in range(n):
        # Lines from 100 bytes to ~14 KB: far beyond PIPE_BUF, so nothing relies on small-write atomicity.
        append_feedback(
            folder,
            line(
                id=f"w{worker}-{i}",
                response=f"w{worker}-{i} " + "가나다" * (i % 8 * 600 + 1),
                created_at="2026-10-20T10:00:00.000Z",
            ),
            fsync=False,
        )


def test_eight_writers_500_lines_each(tmp_path):
    # fork: the workers only append lines (no torch), and start in ms (spawn/forkserver: 4-5x slower here).
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        pool.map(_writer, [(str(tmp_path), w, 500) for w in range(8)])
    (path,) = tmp_path.iterdir()
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b""
    lines = [json.loads(x) for x in raw[:-1]]  # every line parses: none torn, none interleaved
    assert len(lines) == 4000
    assert {x["id"] for x in lines} == {f"w{w}-{i}" for w in range(8) for i in range(500)}
    assert all(x["response"].startswith(x["id"] + " ") for x in lines)
    for w in range(8):  # each writer's lines keep its order
        mine = [int(x["id"].split("-")[1]) for x in lines if x["id"].startswith(f"w{w}-")]
        assert mine == sorted(mine)
    print(
        f"\n8 writers x 500 appends: {len(lines)} whole lines, {path.stat().st_size / 1e6:.1f} MB"
    )


def test_a_torn_last_line_does_not_swallow_the_next(tmp_path):
    path = feedback.feedback_path(tmp_path, "2026-10-20")
    path.write_bytes(b'{"id": "torn", "messages": [{"ro')  # a writer died mid-line
    append_feedback(tmp_path, line(created_at="2026-10-20T10:00:00Z"))
    first, second = path.read_bytes().split(b"\n")[:2]
    assert first.startswith(b'{"id": "torn"'), "the torn line stays as it was, alone on its line"
    assert json.loads(second)["response"] == "Busan.", "the new line starts on a line of its own"


def test_read_feedback_newest_first(tmp_path):
    for t in ("2026-10-20T10:00:00Z", "2026-10-22T10:00:00Z", "2026-10-21T10:00:00Z"):
        append_feedback(tmp_path, line(created_at=t))
    (tmp_path / "good_responses.jsonl").write_text(
        json.dumps({"messages": Q}) + "\n"
    )  # the brief's file: no rating
    got = feedback.read_feedback(tmp_path)
    assert [x["created_at"][:10] for x in got] == ["2026-10-22", "2026-10-21", "2026-10-20"]
    assert got[0]["file"] == "feedback-2026-10-22.jsonl", "each line names its day file"
    assert len(feedback.read_feedback(tmp_path, 2)) == 2, "the limit caps the lines returned"


# --- javis chat ----------------------------------------------------------------------------------


def drive(bot: chat.Bot, folder: Path, typed: list[str]) -> tuple[chat.Session, str]:
    inputs = iter(typed)
    out: list[str] = []

    def read(prompt: str) -> str:
        out.append(prompt)
        try:
            return next(inputs)
        except StopIteration:
            raise EOFError from None

    return chat.run_chat(bot, folder, read=read, write=out.append), "".join(out)


def test_chat_streams_answers_and_each_rating_appends_one_line(bot, tmp_path):
    session, out = drive(
        bot,
        tmp_path,
        [
            "/good",  # nothing to rate yet
            "Hello! How are you?",
            "/good",
            "/bad",  # the second rating of one answer is refused
            "What is the weather in Seoul today?",
            "/fix It is sunny, 21°C.",
            "Thanks",
            "/score 9",
            "/score 2",
            "/new",
            "Hi",
            "/god",  # an unknown command is said to be one, not sent to the model
            "//whatever is sent as text",
            "/score 5",
        ],
    )
    assert "nothing to rate yet" in out, "/good before any answer is refused"
    assert "already rated" in out, "a second rating of one answer is refused"
    assert "usage: /score 1-5" in out, "a bad /score is refused with its usage"
    assert "unknown command /god" in out, f"an unknown slash command is named: {out}"
    assert out.count("base> ") == 5, f"every line typed gets a prompt back: {out}"
    assert "5 ratings saved" not in out, "the refused ratings are not counted"
    assert "4 ratings saved" in out, f"the four valid ratings are saved: {out}"
    lines = all_lines(tmp_path)
    assert [(x["rating"], x.get("score"), x.get("correction")) for x in lines] == [
        ("good", None, None),
        ("bad", None, "It is sunny, 21°C."),
        ("bad", 2, None),
        ("good", 5, None),
    ]
    assert all(x["model_version"] == "base" and x["response"] for x in lines)
    assert lines[0]["messages"] == [{"role": "user", "content": "Hello! How are you?"}]
    # After /fix the conversation goes on from the correction: the next rated prompt holds it.
    assert lines[2]["messages"][-2:] == [
        {"role": "assistant", "content": "It is sunny, 21°C."},
        {"role": "user", "content": "Thanks"},
    ]
    assert lines[3]["messages"][0]["content"] == "Hi", (
        f"the conversation after /new starts at Hi: {lines[3]}"
    )
    assert lines[3]["messages"][-1]["content"] == "/whatever is sent as text", (
        f"a line typed with // is sent with one /: {lines[3]}"
    )
    assert all("/god" not in m["content"] for x in lines for m in x["messages"]), (
        "the unknown command never reaches the model"
    )
    assert session.written == lines


def test_ctrl_c_during_an_answer_drops_it_and_the_chat_goes_on(bot, tmp_path):
    inputs = iter(["Hello! How are you?", "/good", "Hi", "/good"])
    out: list[str] = []
    state = {"armed": False, "fired": False}

    def write(text: str) -> None:
        if state["armed"] and not state["fired"]:
            state["fired"] = True
            raise KeyboardInterrupt  # Ctrl-C while the first answer streams
        state["armed"] = text == "base> "
        out.append(text)

    def read(prompt: str) -> str:
        try:
            return next(inputs)
        except StopIteration:
            raise EOFError from None

    session = chat.run_chat(bot, tmp_path, read=read, write=write)
    text = "".join(out)
    assert "(interrupted" in text, f"Ctrl-C says the answer was interrupted: {text}"
    assert "nothing to rate yet" in text, f"an interrupted answer cannot be rated: {text}"
    (only,) = session.written
    assert only["messages"] == [{"role": "user", "content": "Hi"}]


def test_chat_answer_streams_in_pieces(bot):
    pieces = list(bot.stream([{"role": "user", "content": "Hello! How are you?"}]))
    assert len(pieces) > 1, f"the answer streams in several pieces: {pieces}"
    assert "".join(pieces).strip() == bot.reply(
        [{"role": "user", "content": "Hello! How are you?"}]
    ), "the streamed pieces join into the whole answer"


def test_javis_chat_command_reads_stdin(bot, workdir, monkeypatch, capsys):
    monkeypatch.setattr(chat, "load_bot", lambda *a, **kw: bot)
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello! How are you?\n/fix I'm well, thanks!\n"))
    assert cli.main(["chat"]) == 0
    out = capsys.readouterr().out
    assert "saved: 👎 with your correction" in out, f"/fix saves a correction: {out}"
    assert "1 rating saved to data/feedback/" in out, (
        f"the session's summary counts the rating: {out}"
    )
    (x,) = all_lines(workdir / "data/feedback")
    assert x["correction"] == "I'm well, thanks!", "the correction is the line's correction"
    assert x["rating"] == "bad", "a corrected answer is rated bad"


def test_deployed_follows_models_current(tmp_path):
    adapters = tmp_path / "models" / "adapters"
    (adapters / "javis-v0.2").mkdir(parents=True)
    (adapters / "javis-v0.2" / "adapter_config.json").write_text("{}")
    (adapters / "javis-v0.3").mkdir()  # metadata only: weights not materialised
    current = tmp_path / "models" / "current"
    assert chat.deployed(current) == ("base", None)
    os.symlink("adapters/javis-v0.2", current)
    assert chat.deployed(current) == ("javis-v0.2", (adapters / "javis-v0.2").resolve())
    current.unlink()
    os.symlink("adapters/javis-v0.3", current)
    assert chat.deployed(current) == ("base", None)


# --- feedback counts toward the pipeline ----------------------------------------------------------


def test_feedback_lines_become_training_records_in_collect(bot, workdir):
    from javis.core import stage
    from stages import collect

    folder = workdir / "data/feedback"
    append_feedback(
        folder,
        {
            "model_version": "javis-v0.1",
            "messages": [{"role": "user", "content": "Hi JAVIS"}],
            "response": "Hello! How can I help?",
            "rating": "good",
        },
    )
    append_feedback(
        folder,
        {
            "model_version": "javis-v0.1",
            "messages": [{"role": "user", "content": "2+2?"}],
            "response": "5",
            "score": 1,
        },
    )
    drive(bot, folder, ["Capital of Korea?", "/fix Seoul is the capital of Korea."])
    stage.run(collect.main, "paths", "collect", "persona")
    sft = read_jsonl(workdir / "data/collected/sft.jsonl")
    pref = read_jsonl(workdir / "data/collected/preference.jsonl")
    kto = read_jsonl(workdir / "data/collected/kto.jsonl")
    assert sorted(r["messages"][-1]["content"] for r in sft) == [
        "Hello! How can I help?",
        "Seoul is the capital of Korea.",
    ]
    (p,) = pref
    assert p["chosen"][0]["content"] == "Seoul is the capital of Korea.", (
        "the chat's correction is the chosen answer"
    )
    assert p["meta"]["regression"] is True, "a correction is a regression case"
    assert sorted((r["completion"][0]["content"][:6], r["label"]) for r in kto)[:3] == [
        ("5", False),
        ("Hello!", True),
        ("Seoul ", True),
    ]
    assert len(kto) == 4  # good, bad, the chat's bad answer, its correction
    ids = {x["id"] for x in all_lines(folder)}
    for r in sft + pref + kto:
        meta = r["meta"]
        assert meta["file"].startswith("data/feedback/feedback-"), (
            f"provenance names the feedback file: {meta}"
        )
        assert meta["line"] >= 1, f"provenance names the line: {meta}"
        assert meta["orig_id"] in ids, f"provenance keeps the feedback line's id: {meta}"
        assert meta["model_version"] in ("javis-v0.1", "base"), (
            f"provenance keeps the answering version: {meta}"
        )
        assert meta["created_at"], f"provenance keeps the time of the rating: {meta}"
    m = json.loads((workdir / "metrics/collect.json").read_text())
    assert m["rejected"] == 0, f"no feedback line is rejected: {m['rejected_by_reason']}"
    assert m["from_examples"] is False, "the user's feedback is read, not the examples"


def test_chat_loads_the_deployed_adapter(tiny_base, tmp_path):
    """models/current -> adapters/javis-v0.1 (a LoRA adapter saved with our template): chat answers with
    it and rates as javis-v0.1."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from javis.model import loading as models

    folder = tmp_path / "models" / "adapters" / "javis-v0.1"
    tok = models.load_tokenizer(tiny_base, "You are JAVIS v0.1.")
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_base),
        LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]),
    )
    peft_model.save_pretrained(folder)
    tok.save_pretrained(folder)
    os.symlink("adapters/javis-v0.1", tmp_path / "models" / "current")
    deployed = chat.load_bot(
        tiny_base,
        "unused: the adapter's template wins",
        current=tmp_path / "models" / "current",
        max_new_tokens=6,
    )
    assert deployed.version == "javis-v0.1", "the deployed version is the symlinked release"
    assert type(deployed.model).__name__.startswith("PeftModel"), (
        "the adapter is loaded on the base"
    )
    assert "You are JAVIS v0.1." in deployed.tokenizer.apply_chat_template(Q, tokenize=False)
    session, _ = drive(deployed, tmp_path / "fb", ["Hello! How are you?", "/good"])
    assert [x["model_version"] for x in session.written] == ["javis-v0.1"]
