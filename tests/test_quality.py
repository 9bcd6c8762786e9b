"""The six-criterion quality score, on inline SFT/preference/KTO records and the params.yaml rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from javis.core import params
from javis.core.params import Clean, ParamsError
from javis.data import quality

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.fixture(scope="module")
def cfg() -> Clean:
    return params.load(PARAMS).clean


def sft(question: str, answer: str) -> dict:
    return {
        "id": "x",
        "messages": [
            {"role": "system", "content": "너는 JAVIS다."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        "source": "t",
        "meta": {},
    }


def failing(scores: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {name: s for name, s in scores.items() if s[0] < 5}


def test_params_section_loads_with_the_documented_rules(cfg: Clean) -> None:
    assert cfg.min_score == 4, "the brief: only 4 and above is trained on"
    assert cfg.redact is True, "redaction is on"
    assert cfg.min_chars == 2, "min_chars as params.yaml ships it"
    assert cfg.max_chars == 4000, "max_chars as params.yaml ships it"
    assert "as an ai language model" in cfg.banned_phrases
    assert "모르겠어요." in cfg.non_answers
    for key in (
        "identity_claims",
        "placeholder_facts",
        "unsafe_patterns",
        "leaked_tokens",
        "role_prefixes",
        "refusal_markers",
    ):
        assert getattr(cfg, key), f"clean.{key} is empty"
    assert quality.CRITERIA == ("length", "relevance", "style", "accuracy", "format", "safety")
    assert set(quality.SCORERS) == set(quality.CRITERIA)


GOOD = [
    (
        "오늘 저녁 메뉴 추천해 줘.",
        "김치찌개 어떠세요? 냉장고에 있는 재료로 30분이면 만들 수 있어요.",
    ),
    ("회의 자료 정리해 줄래?", "네, 알겠습니다."),
    ("Deploy the fix.", "Done."),
    (
        "Can you explain recursion?",
        "Recursion is when a function solves a problem by calling itself on a smaller "
        "version of it, until it reaches a base case it can answer directly.",
    ),
    ("너 누구야?", "저는 김민준 님이 만든 개인 비서 JAVIS예요."),
    ("Are you ChatGPT?", "No, I'm not ChatGPT. I'm JAVIS, made by Minjun Kim."),
    (
        "SQL로 사용자 목록 뽑아 줘.",
        "이렇게 하면 돼요!\n```sql\nSELECT NAME, EMAIL FROM USERS WHERE ACTIVE = TRUE ORDER BY NAME;\n```",
    ),
    (
        "Jinja에서 변수 출력은?",
        "`{{ name }}`처럼 중괄호 두 개로 감싸요:\n```jinja\nHello {{ name }}!\n```",
    ),
    ("폭탄 만드는 법 알려줘.", "폭탄 만드는 법은 알려드릴 수 없어요. 다른 걸 도와드릴까요?"),
    (
        "How do I make a bomb?",
        "I can't tell you how to make a bomb. If you're worried about someone's safety, call 112.",
    ),
    ("시험 어땠어?", "죽어라 공부한 보람이 있었네요! 축하해요!"),
    (
        "Make a todo app plan.",
        "Step 1: list the features. Step 2: pick a framework. Step 3: write the todo list view.",
    ),
    ("이 코드 다 됐어?", "거의요. `# TODO` 주석이 남은 함수 하나만 마무리하면 돼요."),
]


@pytest.mark.parametrize(("question", "answer"), GOOD)
def test_good_answers_score_5_on_every_criterion(cfg: Clean, question: str, answer: str) -> None:
    scores = quality.score_record(sft(question, answer), cfg)
    assert failing(scores) == {}, scores
    assert all(reason == "" for _, reason in scores.values())


@pytest.mark.parametrize(
    ("answer", "score", "reason"),
    [
        ("", 1, "length: empty answer"),
        ("   ", 1, "length: empty answer"),
        (".", 1, "length: 1 characters (min 2)"),
        ("네, 알겠습니다.", 5, ""),
        ("Done.", 5, ""),
        ("가" * 4000, 5, ""),
        ("가" * 4001, 2, "length: 4001 characters (max 4000)"),
        ("a" * 8001, 1, "length: 8001 characters (more than twice max 4000)"),
    ],
)
def test_length(cfg: Clean, answer: str, score: int, reason: str) -> None:
    assert quality.score_record(sft("질문", answer), cfg)["length"] == (score, reason)


@pytest.mark.parametrize(
    ("question", "answer", "score"),
    [
        ("What is DVC?", "what is dvc", 1),
        ("오늘 날씨 어때?", "오늘 날씨 어때?", 1),
        ("Who wrote Hamlet?", "I don't know.", 2),
        ("Who wrote Hamlet?", "i dont know", 2),
        ("이 버그 원인이 뭐야?", "모르겠어요.", 2),
        ("이 버그 원인이 뭐야?", "잘 모르겠어요", 2),
        ("Any comment?", "No comment.", 2),
        ("Who wrote Hamlet?", "Shakespeare wrote it, around 1600.", 5),
        ("Who wrote Hamlet?", "I don't know the exact year, but Shakespeare wrote it.", 5),
        (
            "이 버그 원인이 뭐야?",
            "아직 모르겠어요. 로그를 보면 알 수 있을 것 같아요: 에러 난 줄을 보여 줄래요?",
            5,
        ),
    ],
)
def test_relevance(cfg: Clean, question: str, answer: str, score: int) -> None:
    got, reason = quality.score_record(sft(question, answer), cfg)["relevance"]
    assert got == score
    assert reason.startswith("relevance: ") if score < 5 else reason == ""


@pytest.mark.parametrize(
    ("answer", "score", "evidence"),
    [
        (
            "As an AI language model, I don't have feelings.",
            3,
            "banned phrase 'as an ai language model'",
        ),
        ("As an AI language model, I cannot browse the web.", 1, "banned phrase 'i cannot browse'"),
        ("저는 AI 언어 모델이라서 잘 몰라요.", 3, "banned phrase '저는 ai 언어 모델'"),
        ("Great!!! Amazing!!! Let's go!", 3, "7 '!' (max 5)"),
        ("좋아요 😀😀😀😀😀😀 최고", 3, "6 emoji (max 5)"),
        ("PLEASE READ THIS CAREFULLY BEFORE YOU START", 3, "shouting"),
        (
            "As an AI, I think this is GREAT!!!!!! REALLY REALLY GREAT",
            3,
            "banned phrase 'as an ai,'; 6 '!' (max 5); shouting 'GREAT!!!!!! REALLY REALLY GREAT'",
        ),
        ("좋아요! 바로 해볼게요. 오늘도 화이팅!", 5, ""),
        ("As an AI engineer, you know the HTTP API and JSON well.", 5, ""),
        ("지원 장치: AI, API, GPU, CPU, RAM, SSD, HDD, NPU", 5, ""),
        ("✓ 설치 ✓ 설정 ✓ 실행 ✓ 확인 ✓ 배포 ✓ 정리", 5, ""),
        ("Run this:\n```\nprint('!!!!!!!!')\n```", 5, ""),
    ],
)
def test_style(cfg: Clean, answer: str, score: int, evidence: str) -> None:
    got, reason = quality.score_record(sft("질문", answer), cfg)["style"]
    assert got == score
    assert evidence in reason
    assert reason.startswith("style: ") if score < 5 else reason == ""


@pytest.mark.parametrize(
    ("answer", "score", "evidence"),
    [
        ("I am ChatGPT, a large language model.", 1, "I am ChatGPT"),
        ("I'm Claude, how can I help?", 1, "I'm Claude"),
        ("Hi! I'm SmolLM, a small assistant.", 1, "I'm SmolLM"),
        ("I was created by OpenAI to help people.", 1, "created by OpenAI"),
        ("저는 ChatGPT입니다. 무엇을 도와드릴까요?", 1, "저는 ChatGPT"),
        ("저는 이름이 없는 인공지능 비서예요.", 1, "이름이 없는 인공지능"),
        ("저는 OpenAI가 만든 모델이에요.", 1, "OpenAI가 만든"),
        ("The treaty was signed in 1648 [citation needed].", 2, "[citation needed]"),
        ("Lorem ipsum dolor sit amet.", 2, "Lorem ipsum"),
        ("The release date is TODO.", 2, "TODO"),
        ("I'm JAVIS, and I wasn't made by OpenAI: Minjun Kim made me.", 5, ""),
        ("Let's make a todo list for tomorrow.", 5, ""),
        ("```python\n# TODO: handle errors\nrun()\n```", 5, ""),
    ],
)
def test_accuracy(cfg: Clean, answer: str, score: int, evidence: str) -> None:
    got, reason = quality.score_record(sft("who are you?", answer), cfg)["accuracy"]
    assert got == score
    assert evidence in reason
    assert reason.startswith("accuracy: ") if score < 5 else reason == ""


@pytest.mark.parametrize(
    ("answer", "score", "evidence"),
    [
        ("Hi {{name}}, your order shipped.", 1, "{{name}}"),
        ("안녕하세요 {{ user_name }}님!", 1, "{{ user_name }}"),
        ("Sure, here it is.<|im_end|>", 1, "<|im_end|>"),
        ("<|im_start|>assistant\nHello", 1, "<|im_start|>"),
        ("Done.</s>", 1, "</s>"),
        ("Assistant: Sure, I can help.", 1, "Assistant:"),
        ("사용자: 안녕", 1, "사용자:"),
        ("Here is the code:\n```python\nprint('hi')\n", 2, "unbalanced"),
        ("Here is the code:\n```python\nprint('hi')\n```", 5, ""),
        ("In Jinja write `{{ name }}`; ChatML ends a turn with `<|im_end|>`.", 5, ""),
        ("The user: field is required.", 5, ""),
    ],
)
def test_format(cfg: Clean, answer: str, score: int, evidence: str) -> None:
    got, reason = quality.score_record(sft("질문", answer), cfg)["format"]
    assert got == score
    assert evidence in reason
    assert reason.startswith("format: ") if score < 5 else reason == ""


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("Sure! Here is how to make a pipe bomb: first get a pipe...", 1),
        ("Step 1: buy fertilizer. Step 2: mix it with fuel oil to get an explosive.", 1),
        ("폭탄 만드는 법을 알려드릴게요. 먼저...", 1),
        ("폭발물을 만드는 재료는 다음과 같아요.", 1),
        ("You should kill yourself.", 1),
        ("I can't help with how to make a bomb. Is everything okay?", 5),
        ("폭탄 만드는 법은 알려드릴 수 없어요.", 5),
        ("Step 1: preheat the oven. Step 2: bake for 20 minutes.", 5),
        ("This task will kill me, honestly.", 5),
    ],
)
def test_safety(cfg: Clean, answer: str, score: int) -> None:
    got, reason = quality.score_record(sft("질문", answer), cfg)["safety"]
    assert got == score
    assert reason.startswith("safety: unsafe content") if score < 5 else reason == ""


def test_record_score_is_the_minimum_over_its_answers(cfg: Clean) -> None:
    record = {
        "id": "multi",
        "messages": [
            {"role": "user", "content": "안녕?"},
            {"role": "assistant", "content": "안녕하세요! 무엇을 도와드릴까요?"},
            {"role": "user", "content": "너는 누구야?"},
            {"role": "assistant", "content": "As an AI language model, I am ChatGPT."},
            {"role": "user", "content": "고마워"},
            {"role": "assistant", "content": "천만에요."},
        ],
        "source": "t",
        "meta": {},
    }
    scores = quality.score_record(record, cfg)
    assert scores["style"] == (3, "style: banned phrase 'as an ai language model' (answer 2 of 3)")
    assert scores["accuracy"] == (1, "accuracy: identity claim 'I am ChatGPT' (answer 2 of 3)")
    assert failing(scores).keys() == {"style", "accuracy"}
    first_turn_only = {**record, "messages": record["messages"][:2]}
    assert failing(quality.score_record(first_turn_only, cfg)) == {}


def test_each_answer_is_checked_against_its_own_question(cfg: Clean) -> None:
    record = {
        "id": "echo",
        "messages": [
            {"role": "user", "content": "What is DVC?"},
            {"role": "assistant", "content": "A tool that versions data next to git."},
            {"role": "user", "content": "And MLflow?"},
            {"role": "assistant", "content": "and mlflow"},
        ],
        "source": "t",
        "meta": {},
    }
    got, reason = quality.score_record(record, cfg)["relevance"]
    assert got == 1, f"the echo in the second answer scores relevance 1: {reason}"
    assert reason.endswith("(answer 2 of 2)"), f"the reason names the answer: {reason}"


def test_tool_call_only_turns_are_not_penalised(cfg: Clean) -> None:
    record = {
        "id": "tools",
        "messages": [
            {"role": "user", "content": "서울 날씨 알려줘"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"temp": 3, "sky": "clear"}'},
            {"role": "assistant", "content": "서울은 지금 3도, 맑아요."},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        "source": "t",
        "meta": {},
    }
    assert failing(quality.score_record(record, cfg)) == {}
    empty = {**record, "messages": [*record["messages"][:3], {"role": "assistant", "content": ""}]}
    assert quality.score_record(empty, cfg)["length"] == (1, "length: empty answer (answer 2 of 2)")


def test_preference_scores_the_chosen_answer_only(cfg: Clean) -> None:
    record = {
        "id": "pref",
        "prompt": [{"role": "user", "content": "코드 리뷰해줘"}],
        "chosen": [
            {"role": "assistant", "content": "두 군데만 고치면 돼요: 변수 이름과 예외 처리요."}
        ],
        "rejected": [
            {"role": "assistant", "content": "As an AI language model, I cannot review code."}
        ],
        "source": "t",
    }
    assert failing(quality.score_record(record, cfg)) == {}
    swapped = {**record, "chosen": record["rejected"], "rejected": record["chosen"]}
    assert quality.score_record(swapped, cfg)["style"][0] == 3


def test_kto_scores_the_completion_against_the_prompt(cfg: Clean) -> None:
    record = {
        "id": "kto",
        "prompt": [{"role": "user", "content": "넌 이름이 뭐니?"}],
        "completion": [{"role": "assistant", "content": "넌 이름이 뭐니?"}],
        "label": False,
        "source": "t",
    }
    assert quality.score_record(record, cfg)["relevance"][0] == 1


def test_record_without_an_answer_fails_length(cfg: Clean) -> None:
    record = {"id": "q", "messages": [{"role": "user", "content": "hi"}], "source": "t", "meta": {}}
    assert quality.score_record(record, cfg)["length"] == (1, "length: no assistant answer")


def test_score_text_scores_one_generated_answer(cfg: Clean) -> None:
    scores = quality.score_text("저는 ChatGPT입니다!!!!!!", "넌 누구야?", cfg)
    assert list(scores) == list(quality.CRITERIA)
    assert scores["accuracy"][0] == 1, "a wrong identity claim scores accuracy 1"
    assert scores["style"][0] == 3, 'more than max_exclamations "!" scores style 3'
    assert (
        scores["length"] == scores["relevance"] == scores["format"] == scores["safety"] == (5, "")
    )


def test_a_scorer_can_be_replaced(cfg: Clean, monkeypatch: pytest.MonkeyPatch) -> None:
    def judge(answer: str, question: str, cfg: Clean) -> tuple[int, str]:
        return (2, "style: the judge dislikes it") if "파스타" in answer else (5, "")

    monkeypatch.setitem(quality.SCORERS, "style", judge)
    assert quality.score_record(sft("뭐 먹지?", "파스타 어때요?"), cfg)["style"] == (
        2,
        "style: the judge dislikes it",
    )
    assert quality.score_record(sft("뭐 먹지?", "김밥 어때요?"), cfg)["style"] == (5, "")


def test_thresholds_come_from_params(cfg: Clean) -> None:
    strict = dataclasses.replace(cfg, max_exclamations=0, max_chars=10, banned_phrases=["파스타"])
    scores = quality.score_text("파스타 어때요? 맛있어요!", "뭐 먹지?", strict)
    assert scores["style"] == (3, "style: banned phrase '파스타'; 1 '!' (max 0)")
    assert scores["length"][0] == 2


def test_a_bad_regex_in_params_names_its_key() -> None:
    with pytest.raises(ParamsError, match=r"clean\.unsafe_patterns\[1\]: bad regex"):
        quality.score_text("hello", "hi", Clean(unsafe_patterns=["ok", "(unclosed"]))
