"""collect -> clean -> dedupe -> split, each with inline rows, run in a temp project folder."""

from __future__ import annotations

import json

import pytest
from helpers import read_jsonl, write_jsonl

from javis.core import params, stage
from javis.data import cleaning
from stages import clean, collect, dedupe, split

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]


def chat(user: str, answer: str, **extra) -> dict:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        **extra,
    }


# The params sections each stage's main() takes, as its `python -m stages.<name>` passes them.
SECTIONS = {
    collect: ("paths", "collect", "persona"),
    clean: ("paths", "clean"),
    dedupe: ("paths", "dedupe"),
    split: ("paths", "split", "collect", "clean", "dedupe", "persona"),
}


def run(*modules) -> None:
    """Run stages in this order, in the cwd's project (its params.yaml), as `dvc repro` would."""
    for module in modules:
        stage.run(module.main, *SECTIONS[module])


def run_all() -> None:
    run(collect, clean, dedupe, split)


def metrics(name: str) -> dict:
    return json.loads(open(f"metrics/{name}.json").read())


def assert_accounted(m: dict) -> None:
    assert m["in"] == m["kept"] + m["rejected"]
    for src, c in m["by_source"].items():
        assert c["in"] == c["kept"] + c["rejected"], src


# --- collect ---------------------------------------------------------------------------------------


def test_collect_rules_for_feedback_and_logs(workdir):
    prompt = [{"role": "user", "content": "What's 2+2?"}]
    write_jsonl(
        workdir / "data/feedback/fb.jsonl",
        [
            {
                "id": "g",
                "messages": [{"role": "user", "content": "Hi"}],
                "response": "Hello!",
                "rating": "good",
            },
            {"id": "b", "messages": prompt, "response": "5", "rating": "bad"},
            {
                "id": "c",
                "messages": [{"role": "user", "content": "Capital of Korea?"}],
                "response": "Busan",
                "rating": "bad",
                "correction": "Seoul.",
            },
            {
                "id": "s",
                "messages": [{"role": "user", "content": "Rate me"}],
                "response": "Meh",
                "score": 2,
            },
            {
                "id": "x",
                "messages": [{"role": "user", "content": "?"}],
                "response": "!",
                "rating": "great",
            },
        ],
    )
    write_jsonl(
        workdir / "data/raw/log.jsonl",
        [
            {"id": "l1", "messages": [*prompt, {"role": "assistant", "content": "5"}]},
            {
                "id": "l2",
                "messages": [
                    {"role": "user", "content": "Hey"},
                    {"role": "assistant", "content": "Hi there."},
                    *prompt,
                    {"role": "assistant", "content": "5"},
                ],
            },
            "{not json",
            "[1, 2]",
        ],
    )
    run(collect)
    sft = read_jsonl(workdir / "data/collected/sft.jsonl")
    pref = read_jsonl(workdir / "data/collected/preference.jsonl")
    kto = read_jsonl(workdir / "data/collected/kto.jsonl")
    answers = [r["messages"][-1]["content"] for r in sft]
    assert "Hello!" in answers, "a good-rated answer becomes an SFT record"
    assert "Seoul." in answers, "a correction becomes an SFT record"
    # bad answers never trained on, logs included
    assert "Busan" not in answers, "an answer rated bad is never trained on"
    assert "5" not in answers, f"an answer rated bad is cut from the logs too: {answers}"
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pref] == [
        ("Seoul.", "Busan")
    ]
    assert pref[0]["meta"]["regression"] is True
    labels = sorted((k["completion"][0]["content"], k["label"]) for k in kto)
    assert labels == [
        ("5", False),
        ("Busan", False),
        ("Hello!", True),
        ("Meh", False),
        ("Seoul.", True),
    ]
    trimmed = [r for r in sft if r["meta"].get("orig_id") == "l2"]
    assert trimmed, "log line l2 (with a bad-rated answer at its end) is kept, trimmed"
    assert trimmed[0]["messages"][-1]["content"] == "Hi there.", (
        "the trimmed conversation ends at its last good answer"
    )
    assert all(r["meta"]["file"] and r["meta"]["line"] for r in sft + pref + kto)
    rejected = read_jsonl(workdir / "data/rejected/collect.jsonl")
    reasons = sorted(r["reason"].split(" ")[0] for r in rejected)
    assert reasons == ["bad_json", "bad_rating", "not_object", "rated_bad"]
    assert all(r["file"] and r["line"] for r in rejected)
    m = metrics("collect")
    assert_accounted(m)
    assert m["in"] == 9, f"every input line is counted: {m['in']}"
    assert m["rejected"] == 4, f"rejects: {m['rejected_by_reason']}"


def test_collect_reads_the_briefs_feedback_files(workdir):
    conv = [{"role": "user", "content": "코드 리뷰해줘"}]
    write_jsonl(
        workdir / "data/feedback/good_responses.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "안녕"},
                    {"role": "assistant", "content": "안녕하세요!"},
                ]
            }
        ],
    )
    write_jsonl(
        workdir / "data/feedback/bad_responses.jsonl",
        [{"messages": [*conv, {"role": "assistant", "content": "싫어요."}]}],
    )
    write_jsonl(
        workdir / "data/feedback/corrected_responses.jsonl",
        [{"messages": [*conv, {"role": "assistant", "content": "네, 코드를 보여 주세요."}]}],
    )
    run(collect)
    pref = read_jsonl(workdir / "data/collected/preference.jsonl")
    assert len(pref) == 1
    assert pref[0]["chosen"][0]["content"] == "네, 코드를 보여 주세요."
    assert pref[0]["rejected"][0]["content"] == "싫어요."
    m = metrics("collect")
    assert_accounted(m)
    assert m["kept"] == 3


def test_collect_reads_examples_only_when_no_user_data(workdir):
    write_jsonl(workdir / "examples/raw/a.jsonl", [chat("Hi", "Hello.")])
    run(collect)
    assert metrics("collect")["from_examples"] is True
    write_jsonl(workdir / "data/raw/mine.jsonl", [chat("Yo", "Hey.")])
    run(collect)
    m = metrics("collect")
    assert m["from_examples"] is False, "examples are not read when data/raw has files"
    assert list(m["by_source"]) == ["raw/mine.jsonl"], "only the user's file is read"


def test_collect_rejects_undecodable_and_huge_lines(workdir):
    path = workdir / "data/raw/bad.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"messages": [{"role": "user", "content": "bom"}, '
        b'{"role": "assistant", "content": "ok"}]}\r\n'
        b'{"messages": "\xff\xfe"}\n' + b'{"messages": "' + b"a" * 2_000_000 + b'"}\n'
    )
    run(collect)
    reasons = [
        r["reason"].split(" ")[0] for r in read_jsonl(workdir / "data/rejected/collect.jsonl")
    ]
    assert reasons == ["not_utf8", "too_large"]
    assert len(read_jsonl(workdir / "data/collected/sft.jsonl")) == 1  # BOM and CRLF tolerated


# --- clean -----------------------------------------------------------------------------------------


BROKEN = [
    (
        {"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}]},
        "invalid_role",
    ),
    (chat("Hello there", ""), "empty_content"),
    (
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{city: Seoul"},
                        }
                    ],
                },
                {"role": "tool", "content": "{}"},
                {"role": "assistant", "content": "Sunny."},
            ],
            "tools": TOOLS,
        },
        "bad_tool_call",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {"name": "launch_rocket", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "content": "{}"},
                {"role": "assistant", "content": "Done."},
            ],
            "tools": TOOLS,
        },
        "bad_tool_call",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "tool", "content": "{}"},
                {"role": "assistant", "content": "Hello."},
            ]
        },
        "orphan_tool_result",
    ),
    ({"messages": [{"role": "user", "content": "Hi"}]}, "no_answer"),
    (
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "ok"}]},
        "bad_content",
    ),
]


@pytest.mark.parametrize("record,reason", BROKEN, ids=[r for _, r in BROKEN])
def test_clean_rejects_malformed_records(record, reason):
    from javis.data.redact import Redactor

    cfg = params.Clean()
    record = {"id": "sft-x", **record, "source": "t", "meta": {}}
    keep, why, _ = cleaning.clean_record(record, Redactor(), cfg)
    assert not keep, why
    assert why.split(" ")[0] == reason, why


def test_clean_keeps_a_valid_tool_call_conversation():
    from javis.data.redact import Redactor

    record = {
        "id": "sft-t",
        "source": "t",
        "meta": {},
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "서울 날씨 어때?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 3}'},
            {"role": "assistant", "content": "서울은 지금 3도예요. 따뜻하게 입으세요."},
        ],
    }
    keep, why, _ = cleaning.clean_record(record, Redactor(), params.load().clean)
    assert keep, why
    assert set(record["meta"]["quality"]) == {
        "length",
        "relevance",
        "style",
        "accuracy",
        "format",
        "safety",
    }


def test_clean_stage_redacts_and_accounts(workdir):
    write_jsonl(
        workdir / "data/raw/a.jsonl",
        [
            chat(
                "My key is AKIAZ7QJ4K2M9XW3PLTR, mail me at minjun@example.com",
                "Got it. I will not store your key.",
            ),
            chat("Hi", "As an AI language model, I cannot have feelings."),
            chat(
                "Tell me a joke",
                "Why did the developer go broke? Because he used up all his cache.",
            ),
        ],
    )
    run(collect, clean)
    kept = (workdir / "data/cleaned/sft.jsonl").read_text()
    rejected = (workdir / "data/rejected/clean.jsonl").read_text()
    for text in (kept, rejected):
        assert "AKIAZ7QJ4K2M9XW3PLTR" not in text, (
            "the AWS key is redacted in kept and rejected records"
        )
        assert "minjun@example.com" not in text, (
            "the e-mail address is redacted in kept and rejected records"
        )
    assert "<SECRET:aws_key>" in kept, "the key's placeholder is in the kept record"
    assert "<PII:email>" in kept, "the e-mail's placeholder is in the kept record"
    m = metrics("clean")
    assert_accounted(m)
    assert m["redactions"] == {"PII:email": 1, "SECRET:aws_key": 1}
    assert m["rejected_by_reason"] == {"quality_style": 1}
    [rej] = read_jsonl(workdir / "data/rejected/clean.jsonl")
    assert rej["file"].endswith("a.jsonl"), "the reject names its input file"
    assert rej["line"] == 2, "the reject names its input line"
    assert "style" in rej["reason"], f"the reject names the failing criterion: {rej['reason']}"


# --- dedupe ----------------------------------------------------------------------------------------


def test_dedupe_exact_and_near(workdir):
    long_answer = (
        "To make kimchi fried rice, heat oil in a pan, fry chopped kimchi for two minutes, add cold "
        "rice and a spoon of gochujang, stir well, and top it with a fried egg and sesame oil."
    )
    write_jsonl(
        workdir / "data/raw/a.jsonl",
        [
            chat("How do I make kimchi fried rice?", long_answer),
            chat("How do I make kimchi fried rice?", long_answer),  # exact
            chat(
                "How do I make kimchi fried rice?",
                long_answer.replace("two minutes", "three minutes"),
            ),  # near
            chat(
                "How do I boil an egg?",
                "Put the egg in boiling water for nine minutes, then cool it in cold water.",
            ),
        ],
    )
    run(collect, clean, dedupe)
    kept = read_jsonl(workdir / "data/deduped/sft.jsonl")
    rejected = read_jsonl(workdir / "data/rejected/dedupe.jsonl")
    assert len(kept) == 2
    reasons = sorted(r["reason"].split(" ")[0] for r in rejected)
    assert reasons == ["exact_duplicate", "near_duplicate"]
    assert all(r["duplicate_of"] == kept[0]["id"] for r in rejected)
    assert_accounted(metrics("dedupe"))


# --- split -----------------------------------------------------------------------------------------


def words(seed: str, n: int) -> str:
    """n pseudo-random words: distinct conversations that are not near duplicates of each other."""
    import hashlib

    h = hashlib.sha256(seed.encode()).hexdigest() * 2
    return " ".join(h[i * 6 : i * 6 + 6] for i in range(n))


def many(n: int, prefix: str = "q") -> list[dict]:
    return [
        chat(
            f"What does {words(prefix + str(i), 3)} mean?",
            f"It means {words(prefix + 'a' + str(i), 6)}.",
        )
        for i in range(n)
    ]


def test_split_groups_records_of_one_conversation(workdir):
    write_jsonl(workdir / "data/raw/a.jsonl", many(60))
    prompt = [{"role": "user", "content": "Where is Namsan Tower?"}]
    write_jsonl(
        workdir / "data/feedback/f.jsonl",
        [
            {
                "messages": prompt,
                "response": "In Busan.",
                "rating": "bad",
                "correction": "It is in Seoul, on Namsan.",
            }
        ],
    )
    run_all()
    out = workdir / "data/training/current"
    where = {}
    for f in out.glob("*.jsonl"):
        if f.name == "regression.jsonl":
            continue
        for r in read_jsonl(f):
            if r.get("messages", r.get("prompt"))[0]["content"] == "Where is Namsan Tower?":
                where[r["id"]] = f.name.rsplit("_", 1)[-1].replace(".jsonl", "")
    # SFT, preference, 2x KTO: one split
    assert len(where) == 4, f"one conversation yields SFT, preference and 2 KTO records: {where}"
    assert len(set(where.values())) == 1, f"records of one conversation share one split: {where}"
    assert len(read_jsonl(out / "regression.jsonl")) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["sft"], "the manifest counts SFT records"
    assert manifest["files"]["train.jsonl"]["records"] >= 40, (
        "the manifest counts the records of train.jsonl"
    )
    m = metrics("split")
    assert_accounted(m)
    assert m["leakage"] == {"exact": 0, "near": 0}


def test_split_near_duplicate_prompts_share_a_split(workdir):
    rows = many(40)
    rows += [
        chat("Please tell me: what is the capital city of France?", "Paris."),
        chat("Please tell me, what is the capital city of France??", "It is Paris."),
    ]
    write_jsonl(workdir / "data/raw/a.jsonl", rows)
    run_all()
    splits = {}
    for s in ("train", "val", "test"):
        for r in read_jsonl(workdir / f"data/training/current/{s}.jsonl"):
            if "France" in r["messages"][0]["content"]:
                splits[r["messages"][-1]["content"]] = s
    assert len(splits) == 2, f"both France questions reach the split: {splits}"
    assert len(set(splits.values())) == 1, f"near-duplicate prompts share one split: {splits}"


def test_appended_records_move_no_old_record(workdir):
    write_jsonl(workdir / "data/raw/a.jsonl", many(80))
    run_all()
    first = json.loads((workdir / "data/training/current/index.json").read_text())
    # A release pins the index; new data (including near duplicates of old prompts) must not move old records.
    index = {**first, "version": "javis-v0.1"}
    (workdir / "data/split_index.json").write_text(json.dumps(index))
    q3 = many(80)[3]["messages"][0]["content"]
    write_jsonl(
        workdir / "data/raw/b.jsonl",
        many(80, prefix="new") + [chat(q3.replace("mean?", "mean ??"), "It is 18.")],
    )
    run_all()
    second = json.loads((workdir / "data/training/current/index.json").read_text())
    for rid, s in first["records"].items():
        assert second["records"][rid] == s
    assert len(second["records"]) == len(first["records"]) + 81
    changelog = (workdir / "data/training/current/changelog.md").read_text()
    assert "since javis-v0.1" in changelog, "the changelog is relative to the pinned release"
    assert "81 added" in changelog, f"the changelog counts the added records: {changelog}"
    near = [
        r
        for r in read_jsonl(workdir / "data/training/current/train.jsonl")
        + read_jsonl(workdir / "data/training/current/val.jsonl")
        + read_jsonl(workdir / "data/training/current/test.jsonl")
        if r["messages"][-1]["content"] == "It is 18."
    ]
    assert len(near) == 1
    q3 = next(
        r
        for r in read_jsonl(workdir / "data/collected/sft.jsonl")
        if r["messages"][0]["content"] == q3
    )
    assert (
        near[0]["meta"]["split"] == first["records"][q3["id"]]
    )  # joined its near duplicate's split


def test_planted_secret_never_reaches_training_data(workdir):
    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    write_jsonl(
        workdir / "data/raw/a.jsonl",
        many(20)
        + [
            chat(
                f"Save my token {secret} please",
                "I won't keep tokens in notes; store it in a password manager.",
            )
        ],
    )
    run_all()
    for f in (workdir / "data/training/current").iterdir():
        assert secret not in f.read_text(), f
    assert secret not in (workdir / "data/rejected/clean.jsonl").read_text()


def test_clean_keeps_kto_negatives_even_when_they_score_low():
    from javis.data.redact import Redactor

    record = {
        "id": "kto-x",
        "source": "t",
        "meta": {},
        "label": False,
        "prompt": [{"role": "user", "content": "Who are you?"}],
        "completion": [{"role": "assistant", "content": "I am ChatGPT, made by OpenAI."}],
    }
    keep, why, _ = cleaning.clean_record(record, Redactor(), params.load().clean)
    assert keep, why
    assert record["meta"]["quality"]["accuracy"] == 1
    positive = {**record, "label": True, "meta": {}}
    keep, why, _ = cleaning.clean_record(positive, Redactor(), params.load().clean)
    assert not keep, "a low-scoring KTO positive is filtered"
    assert why.startswith("quality_accuracy"), f"the reject names the accuracy criterion: {why}"


# --- worker processes ----------------------------------------------------------------------------


def test_stages_write_the_same_bytes_with_one_and_two_jobs(workdir, monkeypatch, caplog):
    """collect, clean and dedupe hand chunks of lines to worker processes: the outputs and the
    metrics (but for the time taken) are the same bytes with 1 and 2 jobs. The benchmark corpus
    (malformed lines, feedback, duplicates, secrets) at 3,000 conversations: several chunks a stage."""
    import logging
    import sys

    from helpers import ROOT

    from javis.core import fileio

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gen
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    gen.generate(workdir, 3000, seed=3)
    monkeypatch.setattr(fileio, "PARALLEL_MIN_BYTES", 0)

    def outputs() -> dict[str, bytes]:
        files = {}
        for path in sorted((workdir / "data").rglob("*.jsonl")) + sorted(
            (workdir / "metrics").glob("*.json")
        ):
            if path.parts[-2] in ("raw", "feedback"):
                continue
            data = path.read_bytes()
            if path.suffix == ".json":
                m = json.loads(data)
                m.pop("seconds", None)
                data = json.dumps(m, sort_keys=True).encode()
            files[str(path.relative_to(workdir))] = data
        return files

    runs = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("JAVIS_JOBS", jobs)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            run_all()
        for name in ("collect", "clean", "dedupe"):
            assert any(
                r.getMessage().startswith(f"{name}:") and r.getMessage().endswith(f"({jobs} jobs)")
                for r in caplog.records
            ), f"{name} logs that it ran with {jobs} jobs"
        runs[jobs] = outputs()
    assert runs["1"] == runs["2"], "1 and 2 jobs write the same bytes"
    assert metrics("collect")["rejected"] > 0, "the corpus has lines collect rejects"
    assert metrics("dedupe")["rejected"] > 0, "the corpus has duplicates dedupe rejects"
    assert len(runs["1"]) >= 12  # collected, cleaned, deduped, rejected, training files, metrics
