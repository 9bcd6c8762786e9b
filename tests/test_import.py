"""`javis import`: every format and rule with inline records, the real LLaMA-Factory corpora, idempotent
re-import, `--as feedback` through collect, and concurrent imports into a real git + DVC repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, copy_project, read_jsonl, write_jsonl

from javis.app import workspace
from javis.core import params
from javis.data import importers
from javis.data.formats import tables
from javis.data.formats.conversion import ConvertError, convert, detect
from javis.data.importers import import_files
from javis.release import vcs

CORPORA = ROOT.parent / "shared" / "corpora" / "llamafactory"
PERSONA = {"name": "JAVIS", "author": "Minjun Kim"}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


@pytest.fixture(scope="module")
def corpora() -> Path:
    """The shared corpora folder: required in CI, skipped locally when this checkout has none."""
    if not (CORPORA / "alpaca_en_demo.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"{CORPORA} is missing: CI must provide ../shared/corpora/llamafactory/ beside the clone"
            )
        pytest.skip(f"{CORPORA} not present")
    return CORPORA


def imported(folder: Path) -> list[dict]:
    """Every record the imports wrote into `folder` (the hidden index excluded)."""
    return [r for p in sorted(folder.glob("[!.]*.jsonl")) for r in read_jsonl(p)]


def run(files: list, folder: Path, **kw) -> importers.ImportReport:
    kw.setdefault("persona", PERSONA)
    return import_files([str(f) for f in files], folder, **kw)


def javis_import(p: params.Params, files: list[str], **kw) -> int:
    """`javis import FILES` as the CLI runs it: DVC add and the data folder's restore included."""
    kw.setdefault("dvc_add", vcs.readd_to_dvc)
    kw.setdefault("ensure_dirs", workspace.ensure_data_dirs)
    return importers.main(p.paths, p.persona, p.collect, files, **kw)


# --- the real corpora --------------------------------------------------------------------------


def test_alpaca_demo_imports_every_distinct_record(corpora, tmp_path):
    source = json.loads((corpora / "alpaca_en_demo.json").read_text())
    distinct = {(x["instruction"], x["input"], x["output"]) for x in source}
    rep = run([corpora / "alpaca_en_demo.json"], tmp_path / "raw")
    t = rep.totals()
    assert (t["read"], t["imported"], t["duplicate"], t["rejected"]) == (999, 985, 14, 0)
    assert len(distinct) == 985, "the corpus holds 985 distinct records"
    assert rep.files[0].formats == {"alpaca": 999}, "every record is detected as alpaca"
    records = imported(tmp_path / "raw")
    assert len(records) == 985, "one record per distinct input"
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in records), (
        "every alpaca record becomes one user turn and its answer"
    )
    with_input = next(x for x in source if x["input"])
    match = [
        r
        for r in records
        if r["messages"][0]["content"] == with_input["instruction"] + "\n" + with_input["input"]
    ]
    assert match, "the record with an input is imported"
    assert match[0]["messages"][1]["content"] == with_input["output"], "its answer is the output"
    meta = records[0]["meta"]
    assert meta["source"] == "alpaca_en_demo", "provenance names the source"
    assert meta["format"] == "alpaca", "provenance names the format"
    assert meta["index"] == 0, "provenance names the index"
    assert meta["imported_from"].endswith("alpaca_en_demo.json"), "provenance names the input file"
    assert meta["imported_at"].endswith("Z"), "provenance holds the import time in UTC"
    assert meta["content_hash"].startswith("sha256:"), "provenance holds the content hash"
    assert records[0]["id"].startswith("import-"), "imported ids are content hashes"
    print(f"\nalpaca_en_demo: {t}")


def test_glaive_tool_calls_become_real_tool_calls(corpora, tmp_path):
    source = json.loads((corpora / "glaive_toolcall_en_demo.json").read_text())
    rep = run([corpora / "glaive_toolcall_en_demo.json"], tmp_path / "raw")
    t = rep.totals()
    distinct = {json.dumps(x, sort_keys=True) for x in source}
    assert (t["read"], t["imported"], t["rejected"]) == (300, len(distinct), 0) == (300, 265, 0)
    records = imported(tmp_path / "raw")
    # Every function_call turn of every distinct input is a tool call with the same name and arguments.
    expected, seen = [], set()
    for x in source:
        key = json.dumps(x, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        expected += [
            json.loads(turn["value"])
            for turn in x["conversations"]
            if turn["from"] == "function_call"
        ]
    got = [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for r in records
        for m in r["messages"]
        for c in m.get("tool_calls", [])
    ]
    assert sorted(got, key=repr) == sorted(
        ((e["name"], e["arguments"]) for e in expected), key=repr
    )
    assert len(got) > 150
    first = records[0]  # the recipe conversation
    call_msg = next(m for m in first["messages"] if m.get("tool_calls"))
    call = call_msg["tool_calls"][0]
    assert call["id"] == "call_1", "the first call of a conversation is call_1"
    assert call["type"] == "function", "calls are OpenAI function calls"
    assert call["function"]["name"] == "search_recipes", "the call names its function"
    assert json.loads(call["function"]["arguments"]) == {
        "ingredients": ["chicken", "bell peppers", "rice"]
    }
    tool = first["messages"][first["messages"].index(call_msg) + 1]
    assert tool["role"] == "tool", "an observation becomes a tool turn"
    assert tool["tool_call_id"] == "call_1", "the tool turn answers the call"
    assert tool["name"] == "search_recipes", "the tool turn names the function"
    assert first["tools"][0]["type"] == "function", "tools become OpenAI function schemas"
    assert first["tools"][0]["function"]["name"] == "search_recipes", "the schema keeps its name"
    assert all(
        "tools" not in r for r in records if not json.loads(source[r["meta"]["index"]]["tools"])
    )
    print(f"\nglaive_toolcall_en_demo: {t}, {len(got)} tool calls")


def test_identity_fills_the_persona_placeholders(corpora, workdir):
    p = params.load()
    out: list[str] = []
    rc = javis_import(p, [str(corpora / "identity.json")], out=out.append)
    assert rc == 0
    records = imported(workdir / "data/raw")
    assert len(records) == 91
    text = "\n".join(m["content"] for r in records for m in r["messages"])
    assert "{{" not in text, "no {{placeholder}} is left"
    assert "}}" not in text, "no {{placeholder}} is left"
    source = json.loads((corpora / "identity.json").read_text())
    with_name = sum("{{name}}" in x["output"] for x in source)
    assert with_name > 60, "the corpus uses {{name}} in most answers"
    assert sum(p.persona.name in r["messages"][1]["content"] for r in records) == with_name, (
        "every {{name}} is filled with the persona's name"
    )
    assert p.persona.author in text
    assert records[0]["messages"][1]["content"] == (
        f"Hello! I am {p.persona.name}, an AI assistant developed by {p.persona.author}. How can I assist you today?"
    )
    assert any("detected alpaca (91)" in line for line in out)
    assert "read 91 / imported 91 / duplicate 0 / rejected 0" in out
    assert any("not a DVC repository" in line for line in out)  # the workdir is not one


def test_reimport_adds_nothing(corpora, tmp_path):
    folder = tmp_path / "raw"
    run([corpora / "identity.json"], folder)
    files = sorted(folder.iterdir())
    rep = run([corpora / "identity.json"], folder, source="again")
    assert rep.totals() == {"read": 91, "imported": 0, "duplicate": 91, "rejected": 0}
    assert rep.written == [], "the same data imported again writes nothing"
    assert sorted(folder.iterdir()) == files, "the folder is unchanged"
    assert "nothing new" in rep.dvc, f"DVC is left alone when nothing is new: {rep.dvc}"
    assert len(read_jsonl(folder / importers.INDEX_FILE)) == 91


# --- every format, inline ----------------------------------------------------------------------

U, A = {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}

CASES = [
    ("chatml", {"messages": [U, A]}, "sft", {"messages": [U, A]}),
    (
        "chatml: developer role is system",
        {"messages": [{"role": "developer", "content": "Be brief."}, U, A]},
        "sft",
        {"messages": [{"role": "system", "content": "Be brief."}, U, A]},
    ),
    (
        "openai: tool calls with dict arguments, null content, text parts",
        {
            "tools": [WEATHER],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Weather "},
                        {"type": "text", "text": "in Seoul?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": {"city": "Seoul"}},
                        }
                    ],
                },
                {"role": "tool", "content": "5C"},
                {"role": "assistant", "content": "5°C."},
            ],
        },
        "sft",
        {
            "tools": [WEATHER],
            "messages": [
                {"role": "user", "content": "Weather in Seoul?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Seoul"}'},
                        }
                    ],
                },
                {"role": "tool", "content": "5C", "tool_call_id": "call_1", "name": "get_weather"},
                {"role": "assistant", "content": "5°C."},
            ],
        },
    ),
    (
        "openai: legacy function_call and functions",
        {
            "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
            "messages": [
                U,
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "get_weather", "arguments": "{}"},
                },
                {"role": "function", "name": "get_weather", "content": "sunny"},
                A,
            ],
        },
        "sft",
        {
            "tools": [WEATHER],
            "messages": [
                U,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "content": "sunny",
                    "tool_call_id": "call_1",
                    "name": "get_weather",
                },
                A,
            ],
        },
    ),
    (
        "chatml + boolean label: KTO",
        {"messages": [U, A], "label": False},
        "kto",
        {"prompt": [U], "completion": [A], "label": False},
    ),
    (
        "sharegpt: system, tools string, function_call, observation",
        {
            "system": "Be brief.",
            "tools": json.dumps([WEATHER["function"]]),
            "conversations": [
                {"from": "human", "value": "Weather in Seoul and Busan?"},
                {
                    "from": "function_call",
                    "value": json.dumps(
                        [
                            {"name": "get_weather", "arguments": {"city": "Seoul"}},
                            {"name": "get_weather", "arguments": {"city": "Busan"}},
                        ]
                    ),
                },
                {"from": "observation", "value": "5C"},
                {"from": "observation", "value": "9C"},
                {"from": "gpt", "value": "Seoul 5°C, Busan 9°C."},
            ],
        },
        "sft",
        {
            "tools": [WEATHER],
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Seoul and Busan?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Seoul"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Busan"}'},
                        },
                    ],
                },
                {"role": "tool", "content": "5C", "tool_call_id": "call_1", "name": "get_weather"},
                {"role": "tool", "content": "9C", "tool_call_id": "call_2", "name": "get_weather"},
                {"role": "assistant", "content": "Seoul 5°C, Busan 9°C."},
            ],
        },
    ),
    (
        "sharegpt preference: conversations + chosen + rejected objects",
        {
            "conversations": [{"from": "human", "value": "Hi"}],
            "chosen": {"from": "gpt", "value": "Hello."},
            "rejected": {"from": "gpt", "value": "What."},
        },
        "preference",
        {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "What."}]},
    ),
    (
        "sharegpt + kto_tag",
        {
            "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}],
            "kto_tag": True,
        },
        "kto",
        {"prompt": [U], "completion": [A], "label": True},
    ),
    (
        "alpaca: system, history, input",
        {
            "system": "Be brief.",
            "history": [["Hi", "Hello."]],
            "instruction": "Sum",
            "input": "2 and 3",
            "output": "5",
        },
        "sft",
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                U,
                A,
                {"role": "user", "content": "Sum\n2 and 3"},
                {"role": "assistant", "content": "5"},
            ]
        },
    ),
    (
        "alpaca preference",
        {"instruction": "Hi", "input": "", "chosen": "Hello.", "rejected": "What."},
        "preference",
        {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "What."}]},
    ),
    (
        "dpo: strings (the brief's shape)",
        {"prompt": "Hi", "chosen": "Hello.", "rejected": "What."},
        "preference",
        {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "What."}]},
    ),
    (
        "dpo: message lists",
        {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "What."}]},
        "preference",
        {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "What."}]},
    ),
    (
        "dpo: implicit prompt (two full conversations)",
        {"chosen": [U, A], "rejected": [U, {"role": "assistant", "content": "What."}]},
        "preference",
        {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": "What."}]},
    ),
    (
        "kto: strings",
        {"prompt": "Hi", "completion": "Hello.", "label": True},
        "kto",
        {"prompt": [U], "completion": [A], "label": True},
    ),
    (
        "kto: message lists with a system key",
        {"system": "Be brief.", "prompt": [U], "completion": [A], "label": False},
        "kto",
        {
            "prompt": [{"role": "system", "content": "Be brief."}, U],
            "completion": [A],
            "label": False,
        },
    ),
    (
        "placeholders filled",
        {"instruction": "Who are you?", "output": "I am {{name}}, made by {{ author }}."},
        "sft",
        {
            "messages": [
                {"role": "user", "content": "Who are you?"},
                {"role": "assistant", "content": "I am JAVIS, made by Minjun Kim."},
            ]
        },
    ),
]


@pytest.mark.parametrize("name,obj,kind,body", CASES, ids=[c[0] for c in CASES])
def test_each_format_converts(name, obj, kind, body):
    conv = convert(obj, "auto", PERSONA)
    assert conv.kind == kind
    assert conv.body == body


@pytest.mark.parametrize(
    "fmt,obj",
    [
        ("chatml", {"messages": [U, A]}),
        ("openai", {"messages": [U, A]}),
        (
            "sharegpt",
            {
                "conversations": [
                    {"from": "human", "value": "Hi"},
                    {"from": "gpt", "value": "Hello."},
                ]
            },
        ),
        ("alpaca", {"instruction": "Hi", "output": "Hello."}),
        ("dpo", {"prompt": "Hi", "chosen": "Hello.", "rejected": "No."}),
        ("kto", {"prompt": "Hi", "completion": "Hello.", "label": True}),
    ],
)
def test_explicit_format_matches_auto_detection(fmt, obj):
    assert convert(obj, fmt).body == convert(obj, "auto").body


def test_detection_names_the_format():
    assert detect({"messages": [U, A]}) == "chatml"
    assert detect({"messages": [U, A], "tools": []}) == "openai"
    assert detect({"conversations": []}) == "sharegpt"
    assert detect({"instruction": "x", "output": "y"}) == "alpaca"
    assert detect({"prompt": "x", "chosen": "y", "rejected": "z"}) == "dpo"
    assert detect({"prompt": "x", "completion": "y", "label": True}) == "kto"
    assert detect({"text": "plain"}) is None


REJECTS = [
    ("auto", {"text": "plain"}, "unknown_format"),
    ("auto", {"conversations": [{"from": "bot", "value": "Hi"}]}, "invalid_role"),
    (
        "auto",
        {
            "conversations": [
                {"from": "human", "value": "x"},
                {"from": "function_call", "value": "{name: 1"},
            ]
        },
        "bad_tool_call",
    ),
    (
        "auto",
        {
            "tools": [WEATHER],
            "messages": [
                U,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": "book_flight", "arguments": "{}"}}],
                },
            ],
        },
        "bad_tool_call",
    ),  # not declared
    (
        "auto",
        {"tools": "{not json", "conversations": [{"from": "human", "value": "x"}]},
        "bad_tools",
    ),
    ("auto", {"messages": [U, A], "label": "yes"}, "bad_label"),
    (
        "auto",
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
                A,
            ]
        },
        "unsupported_content",
    ),
    ("auto", {"messages": [U]}, "no_answer"),
    ("auto", {"messages": [{"role": "bot", "content": "x"}]}, "invalid_role"),
    ("auto", {"messages": [U, {"role": "assistant", "content": " "}]}, "empty_content"),
    ("auto", {"instruction": " ", "output": "x"}, "empty_content"),
    ("auto", {"instruction": "x", "output": "y", "history": [["only one"]]}, "bad_history"),
    ("auto", {"chosen": "y", "rejected": "z"}, "no_prompt"),
    (
        "auto",
        {"prompt": "x", "chosen": [{"role": "user", "content": "y"}], "rejected": "z"},
        "bad_role",
    ),
    ("auto", {"prompt": "x", "completion": "y", "label": 1}, "bad_label"),
    ("alpaca", {"messages": [U, A]}, "not_alpaca"),
    ("sharegpt", {"messages": [U, A]}, "not_sharegpt"),
    ("dpo", {"messages": [U, A]}, "missing_field"),
    ("kto", {"messages": [U, A]}, "not_kto"),
]


@pytest.mark.parametrize(
    "fmt,obj,reason", REJECTS, ids=[f"{r[2]}-{i}" for i, r in enumerate(REJECTS)]
)
def test_unconvertible_records_say_why(fmt, obj, reason):
    with pytest.raises(ConvertError) as e:
        convert(obj, fmt)
    assert str(e.value).startswith(reason), str(e.value)
    assert "(" in str(e.value)  # a detail follows the reason key


def test_rejects_are_reported_with_index_and_reason(workdir):
    src = write_jsonl(
        workdir / "mixed.jsonl",
        [
            {"messages": [U, A]},
            "{broken",
            {"text": "plain"},
            [1, 2],
            {
                "conversations": [
                    {"from": "human", "value": "Hey"},
                    {"from": "gpt", "value": "Hey there."},
                ]
            },
            {"prompt": "Q?", "chosen": "Yes.", "rejected": "No."},
        ],
    )
    out: list[str] = []
    assert javis_import(params.load(), [str(src)], out=out.append) == 0
    text = "\n".join(out)
    assert "detected chatml (1), sharegpt (1), dpo (1)" in text
    assert "rejected line 2: bad_json" in text
    assert "rejected line 3: unknown_format" in text
    assert "rejected line 4: not_object" in text
    assert "read 6 / imported 3 / duplicate 0 / rejected 3" in text
    records = imported(workdir / "data/raw")
    assert [r["meta"]["line"] for r in records] == [1, 5, 6], (
        "JSONL provenance keeps the line numbers"
    )
    assert [r["meta"]["index"] for r in records] == [0, 4, 5], "JSONL provenance keeps the indexes"
    assert {"messages", "prompt"} <= {k for r in records for k in r}


def test_json_array_rejects_use_the_index(tmp_path, monkeypatch):
    monkeypatch.chdir(
        tmp_path
    )  # importers.main writes to paths.raw (data/raw): this temp folder's, not the checkout's
    src = tmp_path / "a.json"
    src.write_text(
        json.dumps(
            [{"instruction": "Hi", "output": "Hello."}, "text", {"instruction": "", "output": "x"}]
        )
    )
    rep = run([src], tmp_path / "raw", fmt="alpaca")
    assert rep.files[0].rejected == [
        (1, None, "not_object (a JSON str)"),
        (2, None, "empty_content (instruction must be a non-empty string)"),
    ]
    out: list[str] = []
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    p = params.load(tmp_path / "params.yaml")
    javis_import(p, [str(src)], fmt="alpaca", dvc_add=None, out=out.append)
    assert "  rejected #1: not_object (a JSON str)" in out, (
        f"a JSON array's reject names its index: {out}"
    )
    assert any("read as alpaca (1)" in x for x in out), (
        f"a forced format is reported as read as: {out}"
    )


def test_unreadable_files_are_reported_and_the_others_imported(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"messages": [U, A]}])
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({"messages": [U, A]}, indent=2))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"messages": ')
    rep = run([good, pretty, broken, tmp_path / "missing.json"], tmp_path / "raw")
    why = {Path(f.path).name: f.nothing for f in rep.files}
    assert why["good.jsonl"] == "", f"the readable file yields its record: {why}"
    assert "pretty-printed JSON object" in why["pretty.json"], f"one object is named: {why}"
    assert "not valid JSON" in why["broken.json"], f"broken JSON is named: {why}"
    assert why["missing.json"].startswith("cannot read"), f"a missing file is named: {why}"
    assert rep.totals()["imported"] == 1, "the readable file is imported all the same"
    assert len(rep.written) == 1, f"one batch file, the good one's: {rep.written}"


def test_duplicates_within_and_across_files_and_formats(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"messages": [U, A]}, {"messages": [U, A]}])
    b = tmp_path / "b.json"  # the same conversation in ShareGPT and Alpaca
    b.write_text(
        json.dumps(
            [
                {
                    "conversations": [
                        {"from": "human", "value": "Hi"},
                        {"from": "gpt", "value": "Hello."},
                    ]
                },
                {"instruction": "Hi", "input": "", "output": "Hello."},
            ]
        )
    )
    rep = run([a, b], tmp_path / "raw")
    assert rep.totals() == {"read": 4, "imported": 1, "duplicate": 3, "rejected": 0}
    assert [(f.imported, f.duplicate) for f in rep.files] == [(1, 1), (0, 2)]
    assert len(rep.written) == 1, "one batch file for the only new record"
    assert Path(rep.written[0][0]).name.startswith("a-"), "the batch file is named after its source"


def test_source_name_names_the_file_and_provenance(tmp_path):
    src = write_jsonl(
        tmp_path / "export 2024 (phone).jsonl", [{"id": "orig-7", "messages": [U, A]}]
    )
    rep = run([src], tmp_path / "raw", source="kakao talk")
    ((path, n),) = rep.written
    assert n == 1, "one record written"
    assert Path(path).name.startswith("kakao_talk-"), "the file is named after the given source"
    assert Path(path).suffix == ".jsonl", "the batch file is JSONL"
    (rec,) = read_jsonl(Path(path))
    assert rec["meta"]["source"] == "kakao_talk", "the given source is recorded"
    assert rec["meta"]["orig_id"] == "orig-7", "the input's own id is kept"
    assert rec["meta"]["line"] == 1, "the input line is kept"
    assert importers.source_name("export 2024 (phone).jsonl") == "export_2024_phone"


# --- --as feedback, through collect --------------------------------------------------------------


def test_import_as_feedback_counts_in_collect(workdir):
    from javis.core import stage
    from stages import collect

    src = write_jsonl(
        workdir / "ratings.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "Capital of Korea?"},
                    {"role": "assistant", "content": "Seoul."},
                ]
            },
            {
                "messages": [
                    {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "5"},
                ],
                "label": False,
            },
            {"prompt": "Largest ocean?", "chosen": "The Pacific.", "rejected": "The Atlantic."},
            {
                "tools": [WEATHER],
                "messages": [
                    U,
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"function": {"name": "get_weather", "arguments": "{}"}}],
                    },
                ],
            },
        ],
    )
    out: list[str] = []
    assert javis_import(params.load(), [str(src)], target="feedback", out=out.append) == 0
    assert any("rejected line 4: not_feedback" in x for x in out)
    lines = imported(workdir / "data/feedback")
    assert [(x["rating"], x.get("correction")) for x in lines] == [
        ("good", None),
        ("bad", None),
        ("bad", "The Pacific."),
    ]
    assert all(x["model_version"] == "import:ratings" and x["created_at"] for x in lines)
    stage.run(collect.main, "paths", "collect", "persona")
    sft = read_jsonl(workdir / "data/collected/sft.jsonl")
    pref = read_jsonl(workdir / "data/collected/preference.jsonl")
    kto = read_jsonl(workdir / "data/collected/kto.jsonl")
    assert sorted(r["messages"][-1]["content"] for r in sft) == ["Seoul.", "The Pacific."]
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in pref] == [
        ("The Pacific.", "The Atlantic.")
    ]
    assert sorted((r["completion"][0]["content"], r["label"]) for r in kto) == [
        ("5", False),
        ("Seoul.", True),
        ("The Atlantic.", False),
        ("The Pacific.", True),
    ]
    assert all(
        r["meta"]["orig_id"].startswith("import-") and r["meta"]["file"].endswith(".jsonl")
        for r in sft + kto
    )


def test_imported_raw_records_are_read_by_collect(workdir):
    from javis.core import stage
    from stages import collect

    src = write_jsonl(
        workdir / "mix.jsonl",
        [
            {"messages": [U, A]},
            {"prompt": "Hi", "chosen": "Hello.", "rejected": "What."},
            {"prompt": "Hi", "completion": "Hello.", "label": True},
        ],
    )
    assert javis_import(params.load(), [str(src)], out=lambda s: None) == 0
    stage.run(collect.main, "paths", "collect", "persona")
    m = json.loads((workdir / "metrics/collect.json").read_text())
    assert m["records_out"] == {"sft": 1, "preference": 1, "kto": 1}, (
        f"collect reads every imported kind: {m['records_out']}"
    )
    assert m["rejected"] == 0, f"collect rejects none of them: {m['rejected_by_reason']}"
    assert not any(".imported" in s for s in m["by_source"])  # the hidden index is not data


# --- DVC ---------------------------------------------------------------------------------------


def test_dvc_add_is_retried_while_dvc_is_locked(tmp_path, monkeypatch):
    (tmp_path / ".dvc").mkdir()
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        busy = len(calls) < 3
        return subprocess.CompletedProcess(
            cmd,
            1 if busy else 0,
            "",
            "ERROR: Unable to acquire lock. Most likely another DVC process is running"
            if busy
            else "",
        )

    monkeypatch.setattr(vcs.subprocess, "run", fake_run)
    monkeypatch.setattr(vcs.time, "sleep", lambda s: None)
    assert "done" in vcs.readd_to_dvc(tmp_path / "data" / "raw")
    assert len(calls) == 3, "two lock errors, then success"
    assert calls[0][-2:] == ["add", str(tmp_path / "data" / "raw")], (
        f"the folder is added as a whole: {calls[0]}"
    )

    monkeypatch.setattr(
        vcs.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(
            cmd, 255, "", "ERROR: output 'x' is tracked by git"
        ),
    )
    src = write_jsonl(tmp_path / "a.jsonl", [{"messages": [U, A]}])
    rep = run([src], tmp_path / "data" / "raw", dvc_add=vcs.readd_to_dvc)
    assert rep.dvc_failed, "a failed dvc add is reported"
    assert "tracked by git" in rep.dvc, f"the report says why: {rep.dvc}"
    assert "run `dvc add" in rep.dvc, f"the report says what to run: {rep.dvc}"
    assert rep.written, "the files are written before dvc add"


def test_concurrent_imports_into_a_dvc_repo(tmp_path):
    """Four `javis import` at once (two of them the same data): all succeed, every record once, and
    the folder's DVC pin holds all of it."""
    repo = copy_project(tmp_path / "repo")
    files = []
    for k in range(3):
        rows = [
            {
                "messages": [
                    {"role": "user", "content": f"file {k} question {i}"},
                    {"role": "assistant", "content": f"file {k} answer {i}."},
                ]
            }
            for i in range(40)
        ]
        files.append(write_jsonl(tmp_path / f"part{k}.jsonl", rows))
    files.append(files[0])  # the same file imported twice at once: its records land once
    env = {**os.environ, "PYTHONPATH": str(repo)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "javis.app.cli", "import", str(f), "--source", f"s{i}"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, f in enumerate(files)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n---\n".join(outs)
    records = imported(repo / "data/raw")
    contents = [r["messages"][0]["content"] for r in records]
    assert len(contents) == 120, "4 concurrent imports of 40 records with 40 shared: 120 records"
    assert len(set(contents)) == 120, "no record is imported twice"
    assert sum(int(o.split("duplicate ")[-1].split(" ")[0]) for o in outs) == 40
    pin = (repo / "data/raw.dvc").read_text()
    n_files = len([p for p in (repo / "data/raw").iterdir()])
    # 3 import files + the index
    assert f"nfiles: {n_files}" in pin, f"the DVC pin counts every file: {pin}"
    assert n_files == 4, "3 import files + the index"
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "data/raw.dvc"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0, status.stdout
    assert "changed" not in status.stdout, status.stdout
    print("\n" + "\n---\n".join(o.strip().splitlines()[-2] for o in outs))


def test_a_pinned_but_missing_folder_is_not_overwritten(workdir):
    """A fresh clone: data/raw.dvc pins the user's files, data/raw/ is absent. Importing into an empty
    folder and `dvc add`-ing it would pin only the new file: refuse and say to `dvc pull`."""
    (workdir / "data/raw").rmdir()
    (workdir / "data/raw.dvc").write_text("outs:\n- md5: 0123.dir\n  nfiles: 3\n  path: raw\n")
    src = write_jsonl(workdir / "a.jsonl", [{"messages": [U, A]}])
    out: list[str] = []
    assert javis_import(params.load(), [str(src)], out=out.append) == 1
    assert "dvc pull" in out[0], f"a missing pinned folder asks for dvc pull: {out}"
    assert not (workdir / "data/raw").exists(), "the folder is not created empty over its pin"


# --- tables, empty files, formats javis does not read: through the real CLI ------------------------

LIBRECHAT = ROOT.parent / "shared" / "corpora" / "librechat"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m javis.app.cli import ARGS` in the temp project `cwd` (this checkout's code)."""
    return subprocess.run(
        [sys.executable, "-m", "javis.app.cli", "import", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_csv_with_known_columns(workdir):
    src = workdir / "qa.csv"
    src.write_text(
        "instruction,input,output\n"
        "Say hi,,Hi!\n"
        "Sum,2 and 3,5\n"
        '"Write two lines","about rain","Rain falls,\nthen stops."\n'
        ",x,orphan\n"
        "NaN,,y\n",
        encoding="utf-8",
    )
    r = cli(workdir, str(src), "--no-dvc")
    assert r.returncode == 0, f"a CSV with known columns imports: {r.stdout}{r.stderr}"
    assert "qa.csv: CSV columns instruction, input, output: detected alpaca (3)" in r.stdout, (
        r.stdout
    )
    assert "rejected row 5: empty_cell (column 'instruction' is empty)" in r.stdout, (
        f"an empty cell is rejected with its spreadsheet row: {r.stdout}"
    )
    assert "rejected row 6: nan_cell" in r.stdout, f"a NaN cell is rejected: {r.stdout}"
    records = imported(workdir / "data/raw")
    assert [r["meta"]["row"] for r in records] == [2, 3, 4], (
        "provenance holds the spreadsheet row (header = 1), a quoted newline inside one row"
    )
    assert records[1]["messages"][0]["content"] == "Sum\n2 and 3", "instruction + input"
    assert records[2]["messages"][1]["content"] == "Rain falls,\nthen stops.", "a quoted cell"
    assert records[0]["meta"]["table"] == "csv", "provenance names the table kind"
    assert records[0]["meta"]["imported_from"].endswith("qa.csv"), "provenance names the file"


def test_tsv_with_columns(workdir):
    src = workdir / "faq.tsv"
    src.write_text(
        "question\tanswer\ttone\tnotes\n"
        "자비스, 오늘 날씨 어때?\t서울은 맑아요.\tBe brief.\tkept\n"
        "What is DVC?\tData version control.\t\t\n"
        "Empty answer?\t\t\t\n",
        encoding="utf-8",
    )
    r = cli(
        workdir, str(src), "--columns", "prompt=question,response=answer,system=tone", "--no-dvc"
    )
    assert r.returncode == 0, f"a TSV with --columns imports: {r.stdout}{r.stderr}"
    assert "TSV columns prompt=question, response=answer, system=tone: read as exchange (2)" in (
        r.stdout
    ), r.stdout
    assert "rejected row 4: empty_cell (column 'answer' is empty)" in r.stdout, r.stdout
    records = imported(workdir / "data/raw")
    assert records[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "자비스, 오늘 날씨 어때?"},
        {"role": "assistant", "content": "서울은 맑아요."},
    ], "a mapped row is one exchange; a system column is its system turn"
    assert [m["role"] for m in records[1]["messages"]] == ["user", "assistant"], (
        "an empty optional cell (system) is left out"
    )
    assert records[0]["meta"]["columns"] == {
        "prompt": "question",
        "response": "answer",
        "system": "tone",
    }, "provenance keeps the mapping"


def test_parquet_preference_and_kto_tables(workdir):
    import pandas as pd

    pd.DataFrame(
        {
            "prompt": ["Capital of Korea?", "2+2?", "Largest ocean?"],
            "chosen": ["Seoul.", "4", None],
            "rejected": ["Busan.", "5", "The Atlantic."],
        }
    ).to_parquet(workdir / "pairs.parquet")
    pd.DataFrame(
        {
            "prompt": ["Hi", "Bye", "Again"],
            "completion": ["Hello.", "Go away.", "Hello again."],
            "label": [1.0, 0.0, float("nan")],
        }
    ).to_parquet(workdir / "ratings.pq")
    r = cli(workdir, str(workdir / "pairs.parquet"), str(workdir / "ratings.pq"), "--no-dvc")
    assert r.returncode == 0, f"Parquet tables import: {r.stdout}{r.stderr}"
    assert "Parquet columns prompt, chosen, rejected: detected dpo (2)" in r.stdout, r.stdout
    assert "rejected row 4: empty_cell (column 'chosen' is empty)" in r.stdout, (
        f"a null cell is an empty cell: {r.stdout}"
    )
    assert "rejected row 4: nan_cell (column 'label' is NaN)" in r.stdout, r.stdout
    records = imported(workdir / "data/raw")
    pairs = [r for r in records if "chosen" in r]
    kto = [r for r in records if "label" in r]
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs] == [
        ("Seoul.", "Busan."),
        ("4", "5"),
    ], "each row is one preference pair"
    assert [(k["completion"][0]["content"], k["label"]) for k in kto] == [
        ("Hello.", True),
        ("Go away.", False),
    ], "a numeric 1/0 label is a KTO label"
    assert [k["meta"]["row"] for k in kto] == [2, 3], "Parquet rows are numbered as a sheet's"


def test_empty_files_say_empty_and_fail(workdir):
    (workdir / "empty.jsonl").write_bytes(b"")
    (workdir / "header.csv").write_text("prompt,response\n")
    (workdir / "blank.jsonl").write_text("\n \n\t\n")
    r = cli(workdir, "empty.jsonl", "header.csv", "blank.jsonl", "--no-dvc")
    assert r.returncode == 1, f"a file that yields nothing fails the import: {r.stdout}"
    assert "empty.jsonl: no conversation read: empty (0 bytes)" in r.stdout, r.stdout
    assert "header.csv: no conversation read: empty (a CSV table with columns prompt, " in (
        r.stdout
    ), r.stdout
    assert "blank.jsonl: no conversation read: empty (only blank lines)" in r.stdout, r.stdout
    assert "no conversation read from 3 of 3 file(s)" in r.stdout, r.stdout
    assert not imported(workdir / "data/raw"), "nothing is written"


def test_chatgpt_export_read_as_a_dataset_format_names_the_export(workdir):
    """With --format chatml a ChatGPT export yields nothing; the message names what was found and
    how to import it (tests/test_import_apps.py imports it with --format auto)."""
    export = LIBRECHAT / "chatgpt-export.json"
    if not export.is_file():
        pytest.skip(f"{export} not present (the shared LibreChat fixtures)")
    r = cli(workdir, str(export), "--no-dvc", "--format", "chatml")
    assert r.returncode == 1, f"an export that yields nothing is not a success: {r.stdout}"
    first = r.stdout.splitlines()[0]
    assert "a ChatGPT export" in first, f"the message names what was found: {first}"
    assert "--format auto" in first, f"and how to import it: {first}"
    assert "imported 0" in r.stdout, r.stdout


def test_a_csv_of_unknown_columns_needs_columns(workdir):
    src = workdir / "my.csv"
    src.write_text("question,answer\nWho are you?,JAVIS.\n")
    r = cli(workdir, str(src), "--no-dvc")
    assert r.returncode == 1, f"a CSV it cannot map yields nothing: {r.stdout}"
    assert (
        "my.csv: no conversation read: a CSV table needs --columns or known column names "
        "(instruction/input/output, prompt/response, prompt/chosen/rejected, "
        "prompt/completion/label); its columns: question, answer "
        "(e.g. --columns prompt=question,response=answer); known formats: "
    ) in r.stdout, r.stdout


@pytest.mark.parametrize(
    "columns,code,message",
    [
        ("prompt=question,response", 2, "'response' is not FIELD=COLUMN"),
        ("prompt=question,answer=answer", 2, "unknown field 'answer'"),
        ("prompt=question", 2, "the fields prompt make no known shape"),
        ("prompt=question,prompt=answer", 2, "'prompt' is given twice"),
        (
            "prompt=Question,response=reply",
            1,
            "--columns names 'Question' (did you mean 'question'?), 'reply', which the table "
            "does not have; its columns: question, answer",
        ),
    ],
)
def test_bad_columns_say_what_is_wrong(workdir, columns, code, message):
    src = workdir / "my.csv"
    src.write_text("question,answer\nWho are you?,JAVIS.\n")
    r = cli(workdir, str(src), "--columns", columns, "--no-dvc")
    assert r.returncode == code, f"--columns {columns}: exit {code}: {r.stdout}{r.stderr}"
    assert message in r.stdout, f"--columns {columns}: the message says why: {r.stdout}"
    assert not imported(workdir / "data/raw"), "nothing is written"


def test_columns_cannot_be_combined_with_a_format(workdir):
    src = write_jsonl(workdir / "rows.jsonl", [{"q": "Hi", "a": "Hello."}])
    r = cli(workdir, str(src), "--columns", "prompt=q,response=a", "--format", "alpaca")
    assert r.returncode == 2, f"--columns with --format is refused: {r.stdout}"
    assert "cannot be combined with --format alpaca" in r.stdout, r.stdout


def test_json_rows(tmp_path):
    rows = tmp_path / "rows.json"
    rows.write_text(
        json.dumps([{"q": "Hi", "a": "Hello."}, {"q": "Bye"}, {"q": "Bye", "a": "See you."}])
    )
    rep = run([rows], tmp_path / "raw", columns=tables.parse_columns("prompt=q,response=a"))
    assert rep.files[0].formats == {"exchange": 2}, "a JSON array of flat rows, mapped"
    assert rep.files[0].rejected == [
        (1, None, "missing_column (no 'a' in this row; its keys: q)")
    ], "a row without a mapped key is rejected with its index"
    known = write_jsonl(
        tmp_path / "known.jsonl",
        [{"Prompt": "Who are you?", "Response": "JAVIS.", "label": "yes"}, {"messages": [U, A]}],
    )
    rep = run([known], tmp_path / "raw2")
    assert rep.files[0].formats == {"exchange": 1, "chatml": 1}, (
        "JSON rows with known column names (any case) are read beside the JSON formats"
    )
    (kto,) = [r for r in imported(tmp_path / "raw2") if "label" in r]
    assert kto["label"] is True, "a yes label with a prompt/response row is a KTO record"


def test_json_written_by_pandas_is_a_table(tmp_path):
    import pandas as pd

    src = tmp_path / "frame.json"
    pd.DataFrame({"prompt": ["Hi", "Yo"], "response": ["Hello.", "Hey."]}).to_json(src)
    rep = run([src], tmp_path / "raw")
    assert rep.files[0].kind == "json-table", "DataFrame.to_json's default shape is a table"
    assert rep.files[0].formats == {"exchange": 2}, f"its rows are read: {rep.files[0]}"


def test_corpora_read_as_before_beside_tables(corpora, tmp_path):
    rep = run(
        [corpora / n for n in ("alpaca_en_demo.json", "glaive_toolcall_en_demo.json")],
        tmp_path / "raw",
    )
    assert [dict(f.formats) for f in rep.files] == [{"alpaca": 999}, {"sharegpt": 300}], (
        "the LLaMA-Factory demo sets are detected as before"
    )
    assert [f.nothing for f in rep.files] == ["", ""], "each yields conversations"


def test_several_files_import_what_they_can_and_fail(workdir):
    good = write_jsonl(workdir / "good.jsonl", [{"messages": [U, A]}])
    (workdir / "empty.csv").write_bytes(b"")
    odd = write_jsonl(workdir / "odd.jsonl", [{"text": "plain"}, {"text": "more"}])
    r = cli(workdir, str(good), "empty.csv", str(odd), "--no-dvc")
    assert r.returncode == 1, f"one file yielding nothing fails the import: {r.stdout}"
    assert "good.jsonl: detected chatml (1)" in r.stdout, r.stdout
    assert "empty.csv: no conversation read: empty (0 bytes)" in r.stdout, r.stdout
    assert (
        "odd.jsonl: no conversation read: no record in a known format (the first has the keys "
        "text); rows of a table need --columns; known formats: "
    ) in r.stdout, r.stdout
    assert "no conversation read from 2 of 3 file(s)" in r.stdout, r.stdout
    assert len(imported(workdir / "data/raw")) == 1, "the good file is imported"


def test_first_import_says_examples_are_no_longer_read(tmp_path):
    repo = copy_project(tmp_path / "repo")
    src = write_jsonl(tmp_path / "mine.jsonl", [{"messages": [U, A]}])
    first = cli(repo, str(src))
    assert first.returncode == 0, first.stdout + first.stderr
    notice = (
        "examples/ is no longer read now that data/raw holds your data; who the assistant is "
        "comes from params persona: (collect.persona_examples, on by default)"
    )
    assert notice in first.stdout, f"the first import says what examples/ is now: {first.stdout}"
    more = write_jsonl(tmp_path / "more.jsonl", [{"messages": [U, {**A, "content": "Hey."}]}])
    second = cli(repo, str(more))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "examples/ is no longer read" not in second.stdout, "it is said once"
    assert "nfiles: 3" in (repo / "data/raw.dvc").read_text(), "both batches and the index pinned"
