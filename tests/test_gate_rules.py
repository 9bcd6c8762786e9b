"""The release gate's rules on crafted per-item results (metrics/eval_samples.jsonl lines, the
contract in docs/DESIGN.md): what passes, what fails, what is "not enough evidence", and `javis
release` printing the verdicts and refusing (real git + DVC repository, `--no-repro`)."""

from __future__ import annotations

import json

import pytest
from helpers import copy_project, javis, make_adapter, set_params, sh, write_jsonl

from javis.core import params
from javis.release.gate import FAIL, NOT_ENOUGH, OFF, PASS, gate

CFG = params.Gate()
RESULT = {"baseline_source": "javis-v0.1"}


def quality_items(n: int = 38, improvement: float = 0.3) -> list[dict]:
    """The demo's shape: one templated group of 16 and 22 single conversations."""
    out = []
    for i in range(n):
        wiggle = ((i * 7) % 11 - 5) / 50  # deterministic spread, +-0.1
        out.append(
            {
                "id": f"test-{i:02d}",
                "set": "test",
                "group": "persona-template" if i < 16 else f"conv-{i}",
                "candidate": {"loss": 2.0 - improvement + wiggle, "style_ok": True, "answer": "네"},
                "baseline": {"loss": 2.0, "style_ok": True, "answer": "네"},
            }
        )
    return out


def tool_items(n: int = 12, candidate_ok: bool = True) -> list[dict]:
    return [
        {
            "id": f"tool-{i:02d}",
            "set": "tool",
            "group": f"tool-conv-{i // 2}",
            "expected_calls": [{"name": "add_reminder", "arguments": {"what": "milk"}}],
            "candidate": {"tool_ok": candidate_ok, "answer": ""},
            "baseline": {"tool_ok": True, "answer": ""},
        }
        for i in range(n)
    ]


def promise_items(n: int = 23, answer: str = "Noted: 회의는 3시예요.", margin: float = 8.0):
    return [
        {
            "id": f"correction-{i:02d}",
            "set": "regression",
            "group": f"correction-{i:02d}",
            "candidate": {"answer": answer, "margin": margin, "kept": margin > 0},
            "baseline": {"answer": "Noted: the meeting is at 3.", "margin": 6.0, "kept": True},
        }
        for i in range(n)
    ]


def persona_items(n: int = 16, lost: int = 0, family: int = 1) -> list[dict]:
    return [
        {
            "id": f"probe-{i:02d}",
            "set": "persona",
            "group": f"family-{i // family}",
            "candidate": {"named": i >= lost, "answer": "I'm JAVIS."},
            "baseline": {"named": True, "answer": "I'm JAVIS."},
        }
        for i in range(n)
    ]


def forgetting_items(kl: float = 0.1, nll: float = 0.02) -> list[dict]:
    kls = [
        {"id": f"kl-{i:02d}", "set": "generic_kl", "candidate": {"kl": kl + (i % 5) / 100}}
        for i in range(64)
    ]
    nlls = [
        {
            "id": f"generic-{i:03d}",
            "set": "generic",
            "group": f"generic-{i // 2}",
            "candidate": {"loss": 2.0 + nll + ((i % 7) - 3) / 100, "tokens": 40},
            "base": {"loss": 2.0, "tokens": 40},
        }
        for i in range(200)
    ]
    return kls + nlls


def all_items(**replace) -> list[dict]:
    parts = {
        "test": quality_items(),
        "tool": tool_items(),
        "regression": promise_items(),
        "persona": persona_items(),
        "forgetting": forgetting_items(),
    }
    parts.update(replace)
    return [item for part in parts.values() for item in part]


def verdicts(items: list[dict], cfg: params.Gate = CFG) -> dict:
    rules = gate(RESULT, items, cfg)
    for r in rules:
        print(f"  gate {r.state.upper()} {r.name}: {r.detail}")
    return {r.name: r for r in rules}


def released(rules: dict) -> bool:
    return all(r.passed for r in rules.values())


def test_a_good_candidate_passes_every_rule_with_its_numbers():
    rules = verdicts(all_items())
    assert list(rules) == [
        "quality",
        "tool_call_accuracy",
        "kept_promises",
        "persona_recall",
        "style",
        "forgetting_kl",
        "forgetting_nll",
    ], list(rules)
    for name, r in rules.items():
        assert r.state == PASS, f"{name}: {r.detail}"
    q = rules["quality"]
    assert q.estimate == pytest.approx(0.3, abs=0.02), q
    assert q.low < q.estimate < q.high, q
    assert q.n == 38, q
    assert "95% lower bound" in q.detail, q.detail
    assert "n=38 in 23 groups" in q.detail, q.detail
    assert "than the baseline (javis-v0.1)" in q.detail, q.detail


def test_a_candidate_answering_nothing_to_every_correction_is_refused():
    # an evaluator that still scored the empty answers as kept (margin 0 >= 0) cannot pass them
    rules = verdicts(all_items(regression=promise_items(answer="", margin=0.0)))
    r = rules["kept_promises"]
    assert r.state == FAIL, r.detail
    assert "the candidate keeps 0 of those" in r.detail, r.detail
    assert not released(rules), "empty answers to every correction must not be released"
    rules = verdicts(all_items(regression=promise_items(answer="  ", margin=25.0)))
    assert rules["kept_promises"].state == FAIL, "a blank answer with a large margin is not kept"


def test_against_the_bare_base_kept_promises_are_a_paired_share():
    """Before the first release the base was never taught the corrections: what it "keeps" is
    chance, so one answer that drifts is not a broken promise; losing most of them is."""
    base = {"baseline_source": "base"}
    items = promise_items()
    items[7]["candidate"] = {"answer": "The meeting is at 2.", "margin": -4.0, "kept": False}
    r = {x.name: x for x in gate(base, all_items(regression=items), CFG)}["kept_promises"]
    assert r.state == PASS, f"one drift of 23 against the bare base: {r.detail}"
    assert "vs the base model" in r.detail, r.detail
    empty = promise_items(answer="", margin=0.0)
    r = {x.name: x for x in gate(base, all_items(regression=empty), CFG)}["kept_promises"]
    assert r.state == FAIL, f"empty answers to every correction, against the base: {r.detail}"


def test_one_broken_promise_refuses_the_release():
    items = promise_items()
    items[7]["candidate"] = {"answer": "The meeting is at 2.", "margin": -4.0, "kept": False}
    r = verdicts(all_items(regression=items))["kept_promises"]
    assert r.state == FAIL, r.detail
    assert "broken: correction-07" in r.detail, r.detail


def test_a_promise_is_kept_strictly():
    items = promise_items()
    items[3]["candidate"] = {"answer": "3 o'clock", "margin": 0.0, "kept": True}
    r = verdicts(all_items(regression=items))["kept_promises"]
    assert r.state == FAIL, f"margin 0 (as close to the original as to the correction): {r.detail}"


def test_a_baseline_keep_within_the_margin_is_not_held_against_the_candidate():
    items = promise_items()
    items[0]["baseline"] = {"answer": "maybe 3", "margin": 0.5, "kept": True}
    items[0]["candidate"] = {"answer": "maybe 2", "margin": -0.5, "kept": False}
    r = verdicts(all_items(regression=items))["kept_promises"]
    assert r.state == PASS, r.detail
    assert "kept 22 of 23 corrections by more than 1 chrF points" in r.detail, r.detail


def test_a_candidate_losing_23_of_38_by_a_clear_margin_is_refused():
    items = quality_items()
    for i, item in enumerate(items):
        worse = i % 38 < 23
        item["candidate"]["loss"] = 2.0 + (0.4 if worse else -0.2) + ((i % 5) - 2) / 100
    rules = verdicts(all_items(test=items))
    q = rules["quality"]
    assert q.state == FAIL, q.detail
    assert "worse on 23" in q.detail, q.detail
    assert q.low <= -CFG.loss_margin, q
    assert not released(rules), "a candidate losing 23 of 38 must not be released"


def test_missing_tool_items_are_not_enough_evidence():
    rules = verdicts(all_items(tool=[]))
    r = rules["tool_call_accuracy"]
    assert r.state == NOT_ENOUGH, r.detail
    assert "not enough evidence for tool_call_accuracy: n=0, need 10" in r.detail, r.detail
    assert not released(rules), "a missing metric is never a pass"


def test_fewer_than_min_items_is_not_enough_evidence():
    rules = verdicts(all_items(tool=tool_items(9)))
    r = rules["tool_call_accuracy"]
    assert r.state == NOT_ENOUGH, r.detail
    assert "n=9, need 10" in r.detail, r.detail
    rules = verdicts(all_items(tool=tool_items(9)), params.Gate(min_items=9))
    assert rules["tool_call_accuracy"].state == PASS, rules["tool_call_accuracy"].detail


def test_no_items_at_all_refuses_on_every_rule():
    rules = verdicts([])
    for name, r in rules.items():
        assert r.state == NOT_ENOUGH, f"{name}: {r.detail}"


def test_items_that_are_not_measured_count_as_missing_not_as_a_pass():
    tools = tool_items(12)
    for item in tools[:5]:
        item["candidate"] = {"tool_ok": None}
    tools[5]["baseline"] = "not a dict"
    tools[6]["candidate"] = {"tool_ok": "yes"}
    r = verdicts(all_items(tool=tools))["tool_call_accuracy"]
    assert r.state == NOT_ENOUGH, r.detail
    assert "n=5 (7 more not measured)" in r.detail, r.detail


def test_malformed_items_do_not_crash_the_gate():
    junk = [
        {"set": "test", "candidate": {"loss": "abc"}, "baseline": {"loss": 1.0}},
        {"set": "test", "candidate": {"loss": float("nan")}, "baseline": {"loss": 1.0}},
        {"set": "test", "candidate": None},
        {"set": "regression", "candidate": {"answer": None}},
        {"set": "generic_kl", "candidate": {"kl": True}},
        {"set": 5},
    ]
    rules = verdicts(all_items() + junk + ["not an object"])  # type: ignore[list-item]
    assert rules["quality"].state == PASS, rules["quality"].detail
    assert "3 not measured" in rules["quality"].detail, rules["quality"].detail


def test_a_tool_accuracy_collapse_fails():
    r = verdicts(all_items(tool=tool_items(candidate_ok=False)))["tool_call_accuracy"]
    assert r.state == FAIL, r.detail
    assert (r.p or 1.0) <= CFG.alpha, f"Holm-adjusted p: {r.p}"
    assert "candidate 0.000 vs the baseline (javis-v0.1) 1.000" in r.detail, r.detail


def test_one_identity_probe_lost_of_sixteen_is_noise_not_a_fail():
    r = verdicts(all_items(persona=persona_items(lost=1)))["persona_recall"]
    assert r.state == PASS, r.detail
    r = verdicts(all_items(persona=persona_items(lost=12)))["persona_recall"]
    assert r.state == FAIL, r.detail


def test_grouped_probes_count_as_their_groups():
    # 4 families of 4 paraphrases: 12 lost in 3 whole families is 3 of 4 observations, not clear
    # evidence at Holm's level; every family lost is
    r = verdicts(all_items(persona=persona_items(lost=12, family=4)))["persona_recall"]
    assert r.state == PASS, r.detail
    assert "n=16 in 4 groups" in r.detail, r.detail
    r = verdicts(all_items(persona=persona_items(lost=16, family=4)))["persona_recall"]
    assert r.state == FAIL, r.detail


def test_forgetting_fails_on_kl_and_on_generic_nll():
    rules = verdicts(all_items(forgetting=forgetting_items(kl=1.0)))
    assert rules["forgetting_kl"].state == FAIL, rules["forgetting_kl"].detail
    assert rules["forgetting_nll"].state == PASS, rules["forgetting_nll"].detail
    rules = verdicts(all_items(forgetting=forgetting_items(nll=0.5)))
    assert rules["forgetting_nll"].state == FAIL, rules["forgetting_nll"].detail
    assert "vs the base model" in rules["forgetting_nll"].detail, rules["forgetting_nll"].detail


def test_a_guardrail_left_out_is_off_and_does_not_refuse():
    cfg = params.Gate(guardrails=["kept_promises"])
    rules = verdicts(all_items(tool=[], forgetting=forgetting_items(kl=3.0)), cfg)
    assert rules["tool_call_accuracy"].state == OFF, rules["tool_call_accuracy"].detail
    assert rules["forgetting_kl"].state == OFF, rules["forgetting_kl"].detail
    assert "not gated" in rules["forgetting_kl"].detail, rules["forgetting_kl"].detail
    assert released(rules), {n: r.state for n, r in rules.items()}


def test_items_without_a_group_are_their_own_group():
    items = quality_items()
    for item in items:
        del item["group"]
    q = verdicts(all_items(test=items))["quality"]
    assert "n=38 in 38 groups" in q.detail, q.detail


def test_all_items_in_one_group_are_not_enough_evidence():
    items = quality_items()
    for item in items:
        item["group"] = "one"
    q = verdicts(all_items(test=items))["quality"]
    assert q.state == NOT_ENOUGH, q.detail
    assert "one split group" in q.detail, q.detail


def test_the_verdict_is_the_same_on_every_run():
    a = [r.low for r in gate(RESULT, all_items(), CFG)]
    b = [r.low for r in gate(RESULT, all_items(), CFG)]
    assert a == b, "the bootstrap is seeded"


def test_params_reject_an_unknown_guardrail():
    with pytest.raises(params.ParamsError, match="guardrails"):
        params.Gate(guardrails=["tool_accuracy"])


@pytest.fixture(scope="module")
def refused(tmp_path_factory, tiny_base):
    """`javis release --no-repro` on crafted metrics: no tool items, one broken promise. The
    preflight before the gate needs an adapter and its base: a random tiny one (models/ is
    gitignored), its base fingerprint recorded as the train and base stages do."""
    import shutil

    from javis.model import loading

    repo = copy_project(tmp_path_factory.mktemp("gate-rules") / "repo")
    set_params(repo, release={"push": False, "stop_prompts": 0})
    shutil.copytree(tiny_base, repo / "models/base")
    (repo / "models/base" / loading.BASE_INFO).write_text(json.dumps({"fingerprint": "tiny"}))
    adapter = make_adapter(tiny_base, repo / "models/adapter", seed=1)
    (adapter / loading.TRAIN_INFO).write_text(json.dumps({"base": {"fingerprint": "tiny"}}))
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / "metrics/.gitignore").write_text("/eval_samples.jsonl\n")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "no push; samples ignored")
    head = sh(repo, "git", "rev-parse", "HEAD").stdout
    promises = promise_items()
    promises[2]["candidate"] = {"answer": "", "margin": 0.0, "kept": True}
    write_jsonl(repo / "metrics/eval_samples.jsonl", all_items(tool=[], regression=promises))
    (repo / "metrics/eval.json").write_text(json.dumps({"baseline_source": "javis-v0.1"}))
    out = javis(repo, "release", "--no-repro", "-m", "crafted", check=False)
    return {"repo": repo, "out": out, "head": head}


def test_release_prints_every_rule_in_words(refused):
    out = refused["out"].stdout + refused["out"].stderr
    assert "gate PASS quality: loss on the reference answers" in out, out
    assert "than the baseline (javis-v0.1)" in out, out
    assert (
        "gate NOT ENOUGH EVIDENCE tool_call_accuracy: not enough evidence for "
        "tool_call_accuracy: n=0, need 10"
    ) in out, out
    assert "gate FAIL kept_promises" in out, out
    assert "broken: correction-02" in out, out


def test_release_is_refused_and_says_why(refused):
    out = refused["out"].stdout + refused["out"].stderr
    assert refused["out"].returncode != 0, out
    assert "refused on tool_call_accuracy (not enough evidence); kept_promises (failed)" in out, out
    assert "nothing was committed or tagged" in out, out
    assert sh(refused["repo"], "git", "tag").stdout == "", "no tag"
    assert sh(refused["repo"], "git", "rev-parse", "HEAD").stdout == refused["head"], "no commit"


# --- the optional pairwise judge (evaluate.judge; javis/model/judge.py) -----------------------


def judge_items(wins: int = 14, losses: int = 2, ties: int = 4, missing: int = 0) -> list[dict]:
    verdicts = ["candidate"] * wins + ["baseline"] * losses + ["tie"] * ties + [None] * missing
    return [
        {"id": f"judge:test-{i:02d}", "set": "judge", "group": f"conv-{i // 2}", "verdict": v}
        for i, v in enumerate(verdicts)
    ]


JUDGED = {**RESULT, "judge": {"model": "judge-7b", "n": 20}}


def judge_verdicts(items: list[dict], cfg: params.Gate = CFG) -> dict:
    rules = gate(JUDGED, items, cfg)
    for r in rules:
        print(f"  gate {r.state.upper()} {r.name}: {r.detail}")
    return {r.name: r for r in rules}


def test_without_a_judge_there_is_no_judge_rule():
    rules = verdicts(all_items(judge=judge_items(0, 20, 0)))
    assert "judge" not in rules, "evaluate.judge: none -> the gate is the paired loss decision"


def test_a_judge_preferring_the_candidate_passes():
    rule = judge_verdicts(all_items(judge=judge_items()))["judge"]
    assert rule.state == PASS, rule.detail
    assert "judge judge-7b prefers the candidate on 14" in rule.detail, rule.detail


def test_a_judge_preferring_the_baseline_clearly_fails():
    rules = judge_verdicts(all_items(judge=judge_items(4, 32, 4)))
    assert rules["judge"].state == FAIL, rules["judge"].detail
    assert not released(rules), "a clear loss before the judge refuses the release"


def test_a_judge_without_verdicts_is_not_enough_evidence():
    rules = judge_verdicts(all_items(judge=judge_items(0, 0, 0, missing=20)))
    assert rules["judge"].state == NOT_ENOUGH, rules["judge"].detail
    assert "20 more not measured" in rules["judge"].detail, rules["judge"].detail
    assert not released(rules), "a down judge never lets a release through"


def test_a_down_judge_endpoint_refuses_with_not_enough_evidence():
    import socket

    from javis.model import judge

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = params.JudgeEndpoint(base_url=f"http://127.0.0.1:{port}/v1", model="m", retries=0)
    pairs = [
        {
            "id": f"t{i}",
            "group": f"g{i}",
            "prompt": "안녕? (hi?)",
            **{side: {"answer": "네"} for side in ("candidate", "baseline")},
        }
        for i in range(12)
    ]
    summary, items = judge.run(cfg, pairs)
    rules = {r.name: r for r in gate({**RESULT, "judge": summary}, all_items(judge=items), CFG)}
    assert rules["judge"].state == NOT_ENOUGH, rules["judge"].detail


def test_a_judge_left_out_of_the_guardrails_is_off():
    cfg = params.Gate(guardrails=[g for g in params.GUARDRAILS if g != "judge"])
    rule = judge_verdicts(all_items(judge=judge_items(2, 16, 2)), cfg)["judge"]
    assert rule.state == OFF, rule.detail


def test_malformed_verdicts_count_as_missing():
    items = judge_items(12, 0, 0)
    items[0]["verdict"] = ["candidate"]
    items[1]["verdict"] = "CANDIDATE!"
    rule = judge_verdicts(all_items(judge=items))["judge"]
    assert rule.n == 10, rule.detail
