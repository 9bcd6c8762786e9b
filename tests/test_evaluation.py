"""javis.evaluation: the metric functions, on inline data."""

from __future__ import annotations

import math

import pytest

from javis.model.eval_summary import summarize
from javis.model.evaluation import (
    canonical_json,
    chrf,
    clustered_mean_se,
    delta,
    detect_language,
    expected_calls,
    hangul_ratio,
    kept,
    language_ok,
    names_persona,
    parse_tool_calls,
    promise_margin,
    split_reference,
    strip_tool_calls,
    tool_call_outcome,
    wilson_interval,
    win_rate,
)

WEATHER_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Seoul", "unit": "c"}'},
        }
    ],
}


# --- eval examples -------------------------------------------------------------------------------


def test_split_reference_cuts_before_the_last_assistant_turn():
    messages = [
        {"role": "system", "content": "You are JAVIS."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "weather?"},
        WEATHER_CALL,
    ]
    prompt, reference = split_reference(messages)
    assert prompt == messages[:4]
    assert reference is WEATHER_CALL


def test_split_reference_needs_a_user_turn_before_the_answer():
    with pytest.raises(ValueError, match="no assistant turn"):
        split_reference([{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}])


# --- tool calls ------------------------------------------------------------------------------------


def test_parse_tool_calls_reads_blocks_and_flags_broken_ones():
    text = (
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n</tool_call>\n'
        "<tool_call>\n{not json}\n</tool_call>\n"
        '<tool_call>\n{"name": "search", "arguments": "{\\"q\\": \\"dvc\\"}"}\n</tool_call>\n'
        '<tool_call>\n{"name": "cut_off", "argu'  # max_new_tokens ended the block
    )
    calls = parse_tool_calls(text)
    assert calls == [
        {"name": "get_weather", "arguments": {"city": "Seoul"}},
        None,
        {"name": "search", "arguments": {"q": "dvc"}},
        None,
    ]
    assert strip_tool_calls(text) == "Let me check."


def test_expected_calls_parse_openai_argument_strings():
    assert expected_calls(WEATHER_CALL) == [
        {"name": "get_weather", "arguments": {"city": "Seoul", "unit": "c"}}
    ]
    assert expected_calls({"role": "assistant", "content": "no call"}) == []


def test_arguments_are_compared_as_json():
    assert canonical_json({"a": 1, "b": [1, 2]}) == canonical_json({"b": [1, 2.0], "a": 1.0})
    assert canonical_json({"flag": True}) != canonical_json({"flag": 1})
    assert canonical_json([1, 2]) != canonical_json([2, 1])


@pytest.mark.parametrize(
    ("generated", "outcome"),
    [
        (
            '<tool_call>{"name": "get_weather", "arguments": {"unit": "c", "city": "Seoul"}}</tool_call>',
            "correct",
        ),
        (
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Busan", "unit": "c"}}</tool_call>',
            "wrong_arguments",
        ),
        (
            '<tool_call>{"name": "get_news", "arguments": {"city": "Seoul", "unit": "c"}}</tool_call>',
            "wrong_call",
        ),
        ("<tool_call>{broken</tool_call>", "wrong_call"),
        ("It is sunny in Seoul.", "missed"),
        (
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Seoul", "unit": "c"}}</tool_call>'
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Seoul", "unit": "c"}}</tool_call>',
            "wrong_call",  # one call too many
        ),
    ],
)
def test_tool_call_outcome_with_an_expected_call(generated, outcome):
    assert tool_call_outcome(expected_calls(WEATHER_CALL), parse_tool_calls(generated)) == outcome


def test_tool_call_outcome_without_an_expected_call():
    assert tool_call_outcome([], parse_tool_calls("Hello!")) == "none"
    assert (
        tool_call_outcome(
            [], parse_tool_calls('<tool_call>{"name": "x", "arguments": {}}</tool_call>')
        )
        == "unwanted"
    )
    assert tool_call_outcome([], parse_tool_calls("<tool_call>garbage")) == "unwanted"


def _line(set_: str, **side) -> dict:
    return {"id": "x", "set": set_, "group": "g", "candidate": side}


def test_tool_call_accuracy_is_over_tool_items_and_unwanted_calls_apart():
    lines = [
        _line("tool", tool_ok=True, outcome="correct"),
        _line("tool", tool_ok=False, outcome="wrong_arguments"),
        _line("tool", tool_ok=False, outcome="missed"),
        _line("test", loss=1.0, tokens=2, unwanted_call=True, style_ok=True, language_ok=True),
        _line("test", loss=1.0, tokens=2, unwanted_call=False, style_ok=False, language_ok=True),
        _line("test", loss=1.0, tokens=2, unwanted_call=False, style_ok=True, language_ok=False),
    ]
    m = summarize(lines, "candidate")
    assert m["tool_calls_expected"] == 3, m
    assert m["tool_call_accuracy"] == pytest.approx(1 / 3), m
    assert m["tool_call_name_accuracy"] == pytest.approx(2 / 3), m
    assert m["unwanted_tool_calls"] == 1, m
    assert m["unwanted_tool_call_rate"] == pytest.approx(1 / 3), m
    assert m["style_consistency"] == pytest.approx(2 / 3), m
    assert m["kept_promises"] is None, "no corrections: not judged"


def test_summary_loss_is_token_weighted_and_perplexity_its_exp():
    m = summarize(
        [_line("test", loss=3.0, tokens=1), _line("test", loss=1.0, tokens=3)], "candidate"
    )
    assert m["loss"] == pytest.approx(6.0 / 4), m
    assert m["perplexity"] == pytest.approx(math.exp(1.5)), m
    assert m["tool_call_accuracy"] is None, "no tool items: not measured (None), never a pass"


def test_a_promise_is_kept_only_strictly_above_the_margin_and_never_empty():
    correction, original = "I am JAVIS, the assistant of Minjun.", "I am SmolLM."
    assert kept("I am JAVIS.", promise_margin("I am JAVIS.", correction, original), 1.0) is True
    assert kept("", promise_margin("", correction, original), 1.0) is False, "empty: never kept"
    assert kept("   ", 50.0, 1.0) is False, "blank: never kept"
    unrelated = promise_margin("zzz", correction, original)
    assert unrelated == 0.0, "an unrelated answer is equally far from both"
    assert kept("zzz", unrelated, 0.0) is False, "a tie is not kept (strict)"
    assert kept("I am SmolLM.", promise_margin("I am SmolLM.", correction, original), 1.0) is False


def test_kept_promises_count_paraphrased_items_apart():
    lines = [
        _line("regression", kept=True, chrf_correction=60.0, loss=1.0, tokens=2),
        {
            **_line("regression", kept=False, chrf_correction=10.0, loss=1.0, tokens=2),
            "paraphrase": True,
        },
    ]
    m = summarize(lines, "candidate")
    assert m["kept_promises"] == 0.5, m
    assert m["kept_promises_paraphrased"] == 0.0, m


def test_clustered_standard_error():
    mean, se = clustered_mean_se([1.0, 3.0, 5.0, 7.0], ["a", "a", "b", "b"])
    assert mean == 4.0, mean
    # group residual sums -4 and +4: SE^2 = 2/1 * 32 / 16 = 4
    assert se == pytest.approx(2.0), se
    _, one = clustered_mean_se([1.0, 2.0], ["a", "a"])
    assert one is None, "one group: no clustered SE"
    _, independent = clustered_mean_se([1.0, 3.0, 5.0, 7.0], ["a", "b", "c", "d"])
    assert independent < se, "correlated items in one group widen the SE"


def test_language_ok_rejects_an_echo_of_the_question():
    assert language_ok("서울은 지금 맑아요.", "서울 날씨 어때?") is True
    assert language_ok("It is sunny.", "서울 날씨 어때?") is False, "wrong language"
    assert language_ok("서울 날씨 어때?", "서울 날씨 어때?") is False, "an echo does not score"
    assert language_ok("What is the weather in Seoul?", "What is the weather in Seoul?") is False
    assert language_ok("", "hello there") is False, "empty"
    restated = (
        "No, you don't need a visa to visit Japan with a Korean passport. The only requirement "
        "is a valid passport for the length of your stay."
    )
    q = "Do I need a visa to visit Japan with a Korean passport?"
    assert language_ok(restated, q) is True, "restating the question and answering is not an echo"
    assert language_ok("42", "12 + 30 = ?") is None, "a question without letters is not judged"


# --- language --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("서울 날씨 어때?", "ko"),
        ("What's the weather in Seoul?", "en"),
        ("파이썬에서 list comprehension 어떻게 써?", "ko"),  # Korean with English terms
        ("Say hello to 김민준 for me, please", "en"),  # English with a Korean name
        ("이 PR review 해줘", "ko"),
        ("12 + 30 = 42 :)", None),
        ("", None),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


def test_hangul_ratio_counts_words():
    assert hangul_ratio("안녕 hello") == 0.5
    assert hangul_ratio("...") is None


# --- chrF ----------------------------------------------------------------------------------------


def test_chrf_sanity():
    assert chrf("the cat sat", "the cat sat") == pytest.approx(100.0)
    assert chrf("the cat sat", "thecatsat") == pytest.approx(100.0)  # whitespace is ignored
    assert chrf("xyz", "abc") == 0.0
    assert chrf("", "abc") == 0.0
    # By hand: P = R = (2/3 + 1/2 + 0) / 3 over the orders 1..3 both strings have.
    assert chrf("abc", "abd") == pytest.approx(100 * 7 / 18)


def test_chrf_ranks_a_closer_korean_answer_higher():
    correction = "저는 자비스입니다. 김민준 님의 개인 비서예요."
    close = "저는 자비스예요. 김민준 님의 비서입니다."
    far = "I am SmolLM, a language model."
    assert chrf(close, correction) > chrf(far, correction)
    assert chrf(close, correction) < 100.0


# --- win rate ------------------------------------------------------------------------------------


def test_wilson_interval_known_values():
    # Reference values: statsmodels proportion_confint(method="wilson").
    assert wilson_interval(8, 10) == pytest.approx((0.4901625, 0.9433178), abs=1e-6)
    assert wilson_interval(50, 100) == pytest.approx((0.4038315, 0.5961685), abs=1e-6)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775328), abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_win_rate_splits_ties():
    wr = win_rate([1.0, 1.0, 3.0, 2.0], [2.0, 1.0 + 1e-9, 1.0, 2.5])
    assert (wr.wins, wr.losses, wr.ties, wr.n) == (2, 1, 1, 4)
    d = wr.as_dict()
    assert d["rate"] == pytest.approx(2.5 / 4)
    assert (d["ci95_low"], d["ci95_high"]) == pytest.approx(wilson_interval(2.5, 4))
    same = win_rate([1.0, 2.0], [1.0, 2.0])
    assert same.rate == 0.5, same
    assert same.ties == 2, same
    assert win_rate([], []).as_dict()["rate"] is None


def test_win_rate_needs_paired_losses():
    with pytest.raises(ValueError):
        win_rate([1.0], [1.0, 2.0])


# --- delta -----------------------------------------------------------------------------------------


def test_delta_subtracts_numbers_and_keeps_none():
    d = delta({"loss": 1.0, "n": 5, "acc": None}, {"loss": 1.5, "n": 3, "acc": 0.5})
    assert d == {"loss": -0.5, "n": 2, "acc": None}


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ("I'm JAVIS, Minjun's assistant.", True),
        ("my name is javis.", True),
        ("저는 JAVIS예요.", True),  # a Korean particle right after the name
        ("저는 자비스입니다.", True),  # the alias
        ("ＪＡＶＩＳ here", True),  # full-width letters (NFKC)
        ("I am SmolLM, an AI assistant.", False),
        ("JAVISION is a camera brand.", False),  # the name inside a longer word
        ("", False),
        ("I am not JAVIS, I am SmolLM.", False),  # denied
        ("I'm not JAVIS.", False),
        ("No, I'm JAVIS, Minjun Kim's personal assistant.", True),  # "No," is its own clause
        ("I'm not ChatGPT, I'm JAVIS.", True),
        ("저는 JAVIS가 아니에요. 저는 SmolLM입니다.", False),  # Korean negation after the name
        ("저는 자비스가 아니라 AI 모델입니다.", False),
        ("자비스는 아닙니다.", False),
        ("저는 챗GPT가 아니라 자비스예요.", True),
    ],
)
def test_names_persona(answer, named):
    assert names_persona(answer, ["JAVIS", "자비스"]) is named
