"""The `persona` source: identity conversations made from params `persona` (javis/data/persona.py),
added by collect to whatever it reads, so importing your own data no longer drops who the assistant
is (issue 15, item 3). Pure checks of the templates, collect on the bundled examples, and a real git
+ DVC project holding only a user's import."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import unicodedata
from pathlib import Path

import pytest
from helpers import ROOT, copy_project, read_jsonl, set_params, sh, write_jsonl

from javis.core import params, stage
from javis.data import persona
from javis.data.records import record_id
from stages import collect

SHIPPED = params.load(ROOT / "params.yaml")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# sha256 of the 120 content-hash ids (one a line, in order) of the conversations the samples shipped
# as examples/raw/persona.jsonl: the shipped persona must give exactly those (the demo's training
# data stays the same; a template edit changes the demo and the README's numbers).
SAMPLE_IDS_SHA256 = "0ed84331a218f46e3aabcbb2231889c64e82cf4cadb404152e58430d2c85495d"


def fieldless(system: bool) -> list[int]:
    """Numbers of the templates without a field; with `system`, also without the system prompt."""
    return [
        n
        for n, t in enumerate(persona.TEMPLATES, 1)
        if not any("{" in s for s in t if s != persona.SYSTEM)
        and not (system and t[0] == persona.SYSTEM)
    ]


def uses_name(number: int) -> bool:
    """Whether template `number` writes the assistant's name."""
    return any("{name" in s for s in persona.TEMPLATES[number - 1])


def ids(convs: list[dict]) -> list[str]:
    return [record_id("sft", {"messages": c["messages"]}) for c in convs]


def assistant_text(conv: dict) -> str:
    return "\n".join(m["content"] for m in conv["messages"] if m["role"] == "assistant")


def question(text: str) -> str:
    """A question without case, punctuation or spacing."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def trigrams(text: str) -> set[str]:
    q = question(text)
    return {q[i : i + 3] for i in range(max(1, len(q) - 2))}


# --- the templates ---------------------------------------------------------------------------------


def test_the_shipped_persona_gives_the_conversations_the_samples_shipped():
    convs = persona.conversations(SHIPPED.persona)
    assert len(convs) == 120, f"120 identity conversations, got {len(convs)}"
    digest = hashlib.sha256("\n".join(ids(convs)).encode()).hexdigest()
    assert digest == SAMPLE_IDS_SHA256, (
        "the shipped persona gives the ids of the former examples/raw/persona.jsonl, in order"
    )


def test_the_shipped_persona_speaks_english_and_korean():
    langs = [persona.language(c["messages"]) for c in persona.conversations(SHIPPED.persona)]
    assert langs.count("en") == 55, f"55 English conversations, got {langs.count('en')}"
    assert langs.count("ko") == 65, f"65 Korean conversations, got {langs.count('ko')}"


def test_no_persona_conversation_repeats_a_held_out_probe():
    """The shipped identity probes (evaluate.probes) measure whether the adapter knows who it is on
    questions it never trained on: no user turn equals one, holds one, or is as close as a near
    duplicate (character 3-gram Jaccard >= split.near_threshold). A probe may hold a short turn:
    that is the probe's wording, not a repeat."""
    probes = [r["question"] for r in read_jsonl(ROOT / SHIPPED.evaluate.probes)]
    assert probes, "the repo ships a public example set of identity probes"
    turns = [
        m["content"]
        for c in persona.conversations(SHIPPED.persona)
        for m in c["messages"]
        if m["role"] == "user"
    ]
    contained = [(p, t) for p in probes for t in turns if question(p) in question(t)]
    assert contained == [], f"user turns equal to or holding a probe: {contained}"
    limit = SHIPPED.split.near_threshold
    close = [
        (p, t, round(len(trigrams(p) & trigrams(t)) / len(trigrams(p) | trigrams(t)), 2))
        for p in probes
        for t in turns
        if len(trigrams(p) & trigrams(t)) / len(trigrams(p) | trigrams(t)) >= limit
    ]
    assert close == [], f"user turns nearly repeating a probe (Jaccard >= {limit}): {close}"


def test_a_changed_name_and_author_change_every_conversation():
    other = params.Persona(
        name="Friday",
        author="Tony Stark",
        system_prompt="You are Friday, the assistant of Tony Stark (토니 스타크).",
        aliases=[],
    )
    before, after = persona.conversations(SHIPPED.persona), persona.conversations(other)
    text = json.dumps(after, ensure_ascii=False)
    assert len(after) == len(before), "one conversation per template, whatever the persona"
    same = [n for n, (x, y) in enumerate(zip(before, after, strict=True), 1) if x == y]
    assert same == fieldless(system=True), "every conversation with a field changes, no other"
    for old in ("JAVIS", "Minjun", "김민준"):
        assert old not in text, f"{old!r} is left in a conversation of another persona"
    named = [c for c in after if "Friday" in assistant_text(c)]
    langs = {persona.language(c["messages"]) for c in named}
    assert langs == {"en", "ko"}, f"answers name Friday in English and Korean: {langs}"
    assert "제 이름은 Friday예요." in text, "a vowel-final name takes 예요 (프라이데이예요)"
    assert "토니 스타크 님" in text, "Korean turns spell the author as the system prompt does"
    assert "Tony Stark (토니 스타크)" in text, "English turns give both spellings where JAVIS's did"
    assert "learns Tony's tone" in text, "the author's first name where JAVIS's said Minjun's"


@pytest.mark.parametrize(
    ("word", "consonant"),
    [
        ("JAVIS", False),
        ("Friday", False),
        ("Tom", True),
        ("Jack", True),
        ("김민준", True),
        ("자비스", False),
        ("R2", False),
        ("HAL 9000", True),
    ],
)
def test_the_korean_particle_follows_the_name_s_last_sound(word, consonant):
    assert persona.final_consonant(word) is consonant, f"{word!r} ends in a consonant: {consonant}"


def test_the_system_prompt_opens_a_conversation_only_when_there_is_one():
    quiet = params.Persona(name="JAVIS", author="Minjun Kim", system_prompt="", aliases=[])
    roles = {m["role"] for c in persona.conversations(quiet) for m in c["messages"]}
    assert "system" not in roles, "an empty system prompt adds no system turn"


def test_an_empty_name_is_a_params_error_naming_the_switch():
    with pytest.raises(params.ParamsError, match="collect.persona_examples: false"):
        persona.conversations(params.Persona(name=" "))


# --- collect on the bundled examples ---------------------------------------------------------------


def test_collect_on_the_examples_counts_the_persona_once(workdir):
    """The samples no longer hold the persona: it comes from params, with the same records."""
    shutil.rmtree(workdir / "examples")
    shutil.copytree(ROOT / "examples", workdir / "examples")
    set_params(workdir, collect={"persona_examples": True})
    stage.run(collect.main, "paths", "collect", "persona")
    m = json.loads((workdir / "metrics/collect.json").read_text())
    sft = read_jsonl(workdir / "data/collected/sft.jsonl")
    mine = [r for r in sft if r["source"] == persona.SOURCE]
    assert m["from_examples"] is True, "an empty data/raw and data/feedback read the samples"
    assert m["by_source"]["persona"] == {"in": 120, "kept": 120, "rejected": 0}, m["by_source"]
    assert [s for s in m["by_source"] if "persona.jsonl" in s] == [], "no persona file is read"
    digest = hashlib.sha256("\n".join(r["id"] for r in mine).encode()).hexdigest()
    assert digest == SAMPLE_IDS_SHA256, "the same 120 records (ids) as the samples' file gave"
    assert {r["meta"]["file"] for r in mine} == {"params:persona"}, "provenance: the params"
    assert [r["meta"]["line"] for r in mine] == list(range(1, 121)), "the template number as line"
    assert mine[0]["meta"]["orig_id"] == "persona-001", "the id the sample file gave it"


def test_a_persona_answer_rated_bad_is_rejected_like_any_input(workdir):
    first = persona.conversations(SHIPPED.persona)[0]["messages"]
    write_jsonl(
        workdir / "data/feedback/fb.jsonl",
        [{"messages": first[:1], "response": first[1]["content"], "rating": "bad"}],
    )
    set_params(workdir, collect={"persona_examples": True})
    stage.run(collect.main, "paths", "collect", "persona")
    m = json.loads((workdir / "metrics/collect.json").read_text())
    rejected = [
        r for r in read_jsonl(workdir / "data/rejected/collect.jsonl") if r["source"] == "persona"
    ]
    assert m["by_source"]["persona"] == {"in": 120, "kept": 119, "rejected": 1}, m["by_source"]
    assert [(r["file"], r["line"]) for r in rejected] == [("params:persona", 1)], rejected
    assert rejected[0]["reason"].startswith("rated_bad"), rejected[0]["reason"]


# --- a project holding only the user's own import (real git + DVC) ---------------------------------

MY_CHATS = [
    {
        "messages": [
            {"role": "user", "content": "Remind me what I bought at the market yesterday?"},
            {"role": "assistant", "content": "Apples, tofu and a bag of rice, from your notes."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "내일 아침 회의가 몇 시였지?"},
            {"role": "assistant", "content": "내일 오전 9시 30분에 팀 회의가 있어요."},
        ]
    },
]


def repro(repo: Path) -> dict:
    """`dvc repro split`; what collect wrote and the split's records, by source."""
    out = sh(repo, sys.executable, "-m", "dvc", "repro", "split")
    split = [
        r
        for name in ("train", "val", "test")
        for r in read_jsonl(repo / f"data/training/current/{name}.jsonl")
    ]
    return {
        "log": out.stdout + out.stderr,
        "collect": json.loads((repo / "metrics/collect.json").read_text()),
        "train": read_jsonl(repo / "data/training/current/train.jsonl"),
        "split": split,
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict:
    """The shipped project with one import in data/raw, repro'd three times: as shipped, with
    another persona.name, with collect.persona_examples: false."""
    root = tmp_path_factory.mktemp("persona")
    repo = copy_project(root / "repo")
    src = write_jsonl(root / "my_chats.jsonl", MY_CHATS)
    sh(repo, sys.executable, "-m", "javis.app.cli", "import", str(src))
    runs = {"shipped": repro(repo)}
    set_params(repo, persona={"name": "Friday", "aliases": []})
    status = json.loads(sh(repo, sys.executable, "-m", "dvc", "status", "--json").stdout or "{}")
    runs["renamed"] = {**repro(repo), "status": {k.split(":")[-1]: v for k, v in status.items()}}
    set_params(repo, collect={"persona_examples": False})
    runs["off"] = repro(repo)
    return runs


def persona_records(run: dict, key: str = "train") -> list[dict]:
    return [r for r in run[key] if r["source"] == persona.SOURCE]


def naming(records: list[dict], name: str) -> set[str]:
    """The languages ("en", "ko") of the records whose answers name `name`."""
    return {persona.language(r["messages"]) for r in records if name in assistant_text(r)}


def test_an_import_only_project_reads_no_examples(imported):
    m = imported["shipped"]["collect"]
    assert m["from_examples"] is False, "data/raw holds the import: the samples are not read"
    assert not [s for s in m["by_source"] if s.startswith("examples")], m["by_source"]


def test_an_import_only_project_still_trains_on_the_persona(imported):
    run = imported["shipped"]
    assert run["collect"]["by_source"]["persona"]["kept"] == 120, run["collect"]["by_source"]
    assert naming(persona_records(run), "JAVIS") == {"en", "ko"}, (
        "the training split holds conversations naming JAVIS in English and in Korean"
    )
    assert "collect: persona: 120 identity conversations (55 English, 65 Korean)" in run["log"], (
        run["log"][-2000:]
    )


def test_a_changed_persona_name_reruns_collect_and_changes_the_conversations(imported):
    shipped, renamed = imported["shipped"], imported["renamed"]
    assert "collect" in renamed["status"], f"dvc status after the rename: {renamed['status']}"
    assert naming(persona_records(renamed), "Friday") == {"en", "ko"}, (
        "the training split names the new name in English and Korean"
    )
    assert naming(persona_records(renamed, "split"), "JAVIS") == set(), "the old name is gone"
    old = {r["id"] for r in persona_records(shipped, "split")}
    named = [r for r in persona_records(renamed, "split") if uses_name(r["meta"]["line"])]
    assert named, "the split holds conversations whose templates name the assistant"
    assert [r["id"] for r in named if r["id"] in old] == [], "those are new conversations, new ids"


def test_persona_examples_false_drops_them(imported):
    run = imported["off"]
    assert "persona" not in run["collect"]["by_source"], run["collect"]["by_source"]
    assert persona_records(run, "split") == [], "no persona conversation is trained on"
    assert "collect: persona: off (collect.persona_examples: false)" in run["log"], run["log"][
        -2000:
    ]
    assert len(run["split"]) == len(MY_CHATS), "only the user's own conversations are left"
