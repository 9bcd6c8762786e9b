"""The eval sets shipped in evalsets/: the public identity probes, the forgetting set's KL prompts
and generic reference answers (issue 16: >= 64 prompts and >= 200 answers, half Korean)."""

from __future__ import annotations

import runpy

from helpers import ROOT, read_jsonl

from javis.core import params
from javis.model.evaluation import detect_language

SHIPPED = params.load(ROOT / "params.yaml")

# The probes params.yaml held before they moved to a file (the sample data was written against
# them): the shipped default probes must be new ones.
OLD_PROBES = {
    "Tell me a little about who I'm chatting with.",
    "What are you called?",
    "Who built you, and why?",
    "Please identify yourself.",
    "Are you an OpenAI assistant or something else?",
    "What do people usually call you?",
    "Quick question, whose assistant are you?",
    "What's your story? Who are you exactly?",
    "당신은 누구인가요?",
    "이름 좀 알려줄래?",
    "너를 만든 사람은 누구야?",
    "넌 어떤 어시스턴트야?",
    "너 자신에 대해 간단히 말해줘.",
    "혹시 오픈AI에서 만든 거야?",
    "너의 이름은?",
    "지금 나랑 얘기하는 건 누구지?",
}


def _korean_share(texts: list[str]) -> float:
    return sum(detect_language(t) == "ko" for t in texts) / len(texts)


def test_the_generic_answers_are_the_documented_rule_s_output():
    module = runpy.run_path(str(ROOT / "evalsets/make_generic.py"))
    shipped = (ROOT / SHIPPED.evaluate.generic).read_text(encoding="utf-8")
    assert shipped == module["render"](), "run `python evalsets/make_generic.py`"


def test_the_forgetting_set_is_big_enough_and_half_korean():
    generic = read_jsonl(ROOT / SHIPPED.evaluate.generic)
    kl = read_jsonl(ROOT / SHIPPED.evaluate.kl_prompts)
    assert len(generic) >= 200, f"{len(generic)} generic reference answers"
    assert len(kl) >= 64, f"{len(kl)} KL prompts"
    share = _korean_share([g["prompt"] for g in generic])
    assert 0.45 <= share <= 0.55, f"Korean share of the generic answers: {share}"
    assert _korean_share([k["prompt"] for k in kl]) == 0.5, "half the KL prompts are Korean"
    assert len({g["id"] for g in generic}) == len(generic), "unique ids"
    assert len({g["group"] for g in generic}) >= 20, "enough template families for a clustered SE"


def test_the_shipped_probes_are_new_and_half_korean():
    probes = [r["question"] for r in read_jsonl(ROOT / SHIPPED.evaluate.probes)]
    assert len(probes) >= 16, probes
    assert not OLD_PROBES & set(probes), "not the probes the sample data was written against"
    assert _korean_share(probes) == 0.5, "half the probes are Korean"
