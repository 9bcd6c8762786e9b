"""The optional pairwise judge (javis/model/judge.py, `evaluate.judge`), over the official `openai`
SDK against a real `javis serve` on 127.0.0.1: a tiny model (a weak judge, a real server), a
scripted judge behind the same server (verdict parsing and the order swap end to end), a closed
port and a garbage-answering stand-in (both: verdicts missing, a message saying what to do)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from helpers import make_adapter, serving

from javis.app import serve
from javis.app.engine import Engine
from javis.app.openai_api import Capture, Single
from javis.core import params
from javis.model import judge

GOOD = "서울은 오늘 맑아요. (Sunny in Seoul today.)"
POOR = "I don't know."
VERSIONS = ("javis-v0.1", "javis-v0.2")


def pairs(n: int, cand: str = GOOD, base: str = POOR) -> list[dict]:
    return [
        {
            "id": f"t{i}",
            "set": "test",
            "group": f"g{i % 4}",
            "prompt": [
                {"role": "system", "content": "You are JAVIS (javis-v0.2)."},
                {"role": "user", "content": f"오늘 서울 날씨 어때? #{i} (weather in Seoul?)"},
            ],
            "candidate": {"answer": cand, "loss": 1.0},
            "baseline": {"answer": base, "loss": 1.1},
        }
        for i in range(n)
    ]


def endpoint(url: str, **kw: object) -> params.JudgeEndpoint:
    return params.JudgeEndpoint(base_url=f"{url}/v1", model="javis", **kw)


class Scripted:
    """A judge "model" behind the real server: `rule(answer_a, answer_b)` gives its reply."""

    version = "javis-v0.1"
    base = "tiny"
    created = 1

    def __init__(self, rule) -> None:
        self.rule = rule
        self.asked: list[list[dict]] = []

    def stream(self, messages, stop=None, *, tools=None, sampling=None, usage=None):
        self.asked.append(messages)
        text = messages[-1]["content"]
        a = text.split("[Answer A]\n", 1)[1].split("\n[End of answer A]", 1)[0]
        b = text.split("[Answer B]\n", 1)[1].split("\n[End of answer B]", 1)[0]
        yield self.rule(a, b)


def prefers_good(a: str, b: str) -> str:
    return "A" if a == GOOD else ("B" if b == GOOD else "TIE")


# --- the protocol on a real server with a tiny model ----------------------------------------


@pytest.fixture(scope="module")
def tiny_server(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("judge_served")
    adapters = root / "models/adapters"
    for i, v in enumerate(VERSIONS, 1):
        make_adapter(tiny_base, adapters / v, seed=i)
    current = root / "models/current"
    os.symlink(Path("adapters") / VERSIONS[0], current)
    engine = Engine(tiny_base, "You are a judge.", current=current, adapters=adapters)
    capture = Capture(root / "raw", False)
    app = serve.create_app(engine, root / "feedback", capture=capture)
    with serving(app) as url:
        yield url, capture


def test_tiny_model_judge_is_asked_twice_per_pair_blinded(tiny_server):
    url, capture = tiny_server
    before = set(capture.recent)
    summary, items = judge.run(endpoint(url, max_tokens=4), pairs(3), hide=VERSIONS)
    print(judge.summary_line(summary), [a["reply"] for it in items for a in it["asks"]])
    asked = [capture.recent[k]["messages"] for k in capture.recent if k not in before]
    assert len(asked) == 6, f"each of 3 pairs asked twice (A/B swapped): {len(asked)} asks"
    for msgs in asked:
        seen = " ".join(m["content"] for m in msgs[:-1]).lower()  # the last one is the reply
        for word in ("candidate", "baseline", *VERSIONS):
            assert word not in seen, f"the judge prompt names {word!r}: {seen[:300]!r}"
    assert summary["pairs"] == 3, summary
    assert summary["n"] + summary["missing"] == 3, f"every pair judged or missing: {summary}"
    assert summary["model"] == "javis", summary
    assert summary["prompt_sha256"] == judge.PROMPT_SHA256, summary
    verdicts = {it["verdict"] for it in items}
    assert verdicts <= {"candidate", "baseline", "tie", None}, verdicts
    assert all(it["set"] == "judge" for it in items), items
    assert [it["group"] for it in items] == ["g0", "g1", "g2"], "items keep the split group"


def test_the_two_asks_swap_the_answers(tiny_server):
    url, capture = tiny_server
    before = set(capture.recent)
    judge.run(endpoint(url, max_tokens=2), pairs(1), hide=VERSIONS)
    first, second = (
        capture.recent[k]["messages"][1]["content"] for k in capture.recent if k not in before
    )
    a1 = first.split("[Answer A]\n", 1)[1].split("\n[End", 1)[0]
    a2 = second.split("[Answer A]\n", 1)[1].split("\n[End", 1)[0]
    assert {a1, a2} == {GOOD, POOR}, f"each answer is A once: {a1!r}, {a2!r}"


# --- verdicts through the real server, from a scripted judge ---------------------------------


def scripted_run(tmp_path, rule, n=12, **kw):
    bot = Scripted(rule)
    app = serve.create_app(Single(bot), tmp_path / "feedback")
    with serving(app) as url:
        summary, items = judge.run(endpoint(url), pairs(n, **kw), hide=VERSIONS)
    return bot, summary, items


def test_a_consistent_judge_gives_wins(tmp_path):
    bot, summary, items = scripted_run(tmp_path, prefers_good)
    assert len(bot.asked) == 24, f"12 pairs asked twice: {len(bot.asked)}"
    assert summary["wins"] == 12, summary
    assert summary["losses"] == 0, summary
    assert summary["problem"] is None, summary
    firsts = {it["asks"][0]["a"] for it in items}
    assert firsts == {"candidate", "baseline"}, (
        f"the first ask's order is a coin per item: {firsts}"
    )


def test_a_worse_candidate_loses(tmp_path):
    _, summary, _ = scripted_run(tmp_path, prefers_good, cand=POOR, base=GOOD)
    assert summary["losses"] == 12, summary
    assert summary["win_rate"] == 0.0, summary


def test_a_position_biased_judge_gives_ties(tmp_path):
    _, summary, items = scripted_run(tmp_path, lambda a, b: "A")
    assert summary["ties"] == 12, f"always 'A' disagrees with itself once swapped: {summary}"
    assert summary["wins"] == 0, summary
    assert {it["verdict"] for it in items} == {"tie"}, items


# --- bad input: a down endpoint, a garbage answer ---------------------------------------------


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_down_endpoint_leaves_every_verdict_missing(caplog):
    cfg = params.JudgeEndpoint(
        base_url=f"http://127.0.0.1:{closed_port()}/v1", model="judge", timeout=2.0, retries=0
    )
    with caplog.at_level("WARNING", logger="javis.judge"):
        summary, items = judge.run(cfg, pairs(12))
    assert summary["n"] == 0, summary
    assert summary["missing"] == 12, summary
    assert summary["win_rate"] is None, "no verdict is no win rate, never a pass"
    assert [it["verdict"] for it in items] == [None] * 12, items
    assert summary["errors"] == judge.GIVE_UP_AFTER, (
        f"gives up after {judge.GIVE_UP_AFTER} in a row"
    )
    assert "is the server running" in summary["problem"], summary["problem"]
    assert "not enough evidence" in caplog.text, caplog.text


def test_contract_garbage_judge_verdicts_are_missing(tmp_path):
    _, summary, items = scripted_run(tmp_path, lambda a, b: "Both answers have merit; hard to say.")
    assert summary["n"] == 0, summary
    assert summary["unparsed_replies"] == 24, summary
    assert [it["verdict"] for it in items] == [None] * 12, items
    assert "named no verdict" in summary["problem"], summary["problem"]
    assert "not enough evidence" in summary["problem"], summary["problem"]


def test_contract_half_garbage_judge_counts_only_parsed_pairs(tmp_path):
    replies = iter(["A", "nonsense", "B"] * 100)
    _, summary, items = scripted_run(tmp_path, lambda a, b: next(replies), n=6)
    assert summary["n"] + summary["missing"] == 6, summary
    assert summary["missing"] >= 3, f"a pair with one garbage ask has no verdict: {summary}"


# --- parsing, combining, length control, params -----------------------------------------------


@pytest.mark.parametrize(
    "reply,want",
    [
        ("A", "A"),
        (" b.", "B"),
        ("TIE", "TIE"),
        ("**A**", "A"),
        ("Answer B", "B"),
        ("A\nbecause it is kinder", "A"),
        ("My verdict: [[B]]", "B"),
        ("", None),
        ("A or B", None),
        ("[[A]] [[B]]", None),
        ("Apple", None),
        ("두 답변 모두 좋습니다.", None),
        (None, None),
    ],
)
def test_parse(reply, want):
    assert judge.parse(reply) == want, f"{reply!r} -> {want!r}"


@pytest.mark.parametrize(
    "one,two,candidate_first,want",
    [
        ("A", "B", True, "candidate"),
        ("B", "A", False, "candidate"),
        ("B", "A", True, "baseline"),
        ("A", "A", True, "tie"),
        ("TIE", "B", True, "tie"),
        ("A", None, True, None),
    ],
)
def test_combine(one, two, candidate_first, want):
    assert judge.combine(one, two, candidate_first) == want, (one, two, candidate_first)


def test_length_control_discounts_wins_that_are_only_longer():
    raw = [("candidate", 300, 100)] * 15 + [("baseline", 100, 120)] * 5 + [("tie", 100, 100)] * 5
    lc = judge.length_controlled(raw)
    plain = (15 + 2.5) / 25
    assert lc < plain, f"wins by the longer answer count less: lc {lc:.3f} vs raw {plain:.3f}"
    even = judge.length_controlled([("candidate", 100, 100)] * 6 + [("baseline", 100, 100)] * 2)
    assert abs(even - 0.75) < 0.02, f"equal lengths: the plain rate, got {even:.3f}"


def test_none_asks_nothing():
    assert judge.run("none", pairs(3)) == (None, []), "evaluate.judge: none -> no judge"


def test_params_judge_values():
    e = params.build(params.Evaluate, {"judge": {"base_url": "http://h/v1", "model": "m"}}, "e")
    assert e.judge.model == "m", e.judge
    for bad, says in [("yes", "expected none"), ({"model": "m"}, "base_url")]:
        with pytest.raises(params.ParamsError, match=says):
            params.build(params.Evaluate, {"judge": bad}, "evaluate")
