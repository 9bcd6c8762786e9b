"""`javis import` of chat apps' exports: the real LibreChat-project fixtures (counted by hand), inline
fixtures for what has no real file (named INLINE_*: Claude, Open WebUI feedback, the ChatGPT zip
and its message_feedback.json), every rule of a broken tree, conversations that grew, javis
serve's own captures, ratings through a real `dvc repro`, and a 200 MB export streamed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT, copy_project, read_jsonl, run_in_terminal, sh, write_jsonl

from javis.core import params
from javis.data import feedback, importers
from javis.data.formats import chatapps
from javis.data.importers import import_files


def corpus(name: str) -> Path:
    """`../shared/corpora/<name>` beside the checkout (in a git worktree: beside the main one)."""
    found = ROOT.parent / "shared" / "corpora" / name
    git = ROOT / ".git"
    if not found.is_dir() and git.is_file():  # a worktree: .git names <main>/.git/worktrees/<w>
        gitdir = Path(git.read_text().split("gitdir:", 1)[1].strip())
        found = gitdir.parents[2].parent / "shared" / "corpora" / name
    return found


@pytest.fixture(scope="module")
def librechat() -> Path:
    """The real export fixtures: required in CI, skipped locally when this checkout has none."""
    folder = corpus("librechat")
    if not (folder / "chatgpt-tree.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{folder} is missing: CI must provide ../shared/corpora/librechat/")
        pytest.skip(f"{folder} not present")
    return folder


def run(tmp: Path, files: list, **kw) -> importers.ImportReport:
    kw.setdefault("raw_folder", tmp / "data/raw")
    kw.setdefault("feedback_folder", tmp / "data/feedback")
    return import_files([str(f) for f in files], tmp / "data/raw", **kw)


def records(folder: Path) -> list[dict]:
    return [r for p in sorted(folder.glob("[!.]*.jsonl")) for r in read_jsonl(p)]


def sft(folder: Path) -> list[dict]:
    """The SFT records imported (not serve's captures, which hold an `answer`)."""
    return [r for r in records(folder) if "messages" in r and not {"response", "answer"} & set(r)]


# --- the real exports, counted by hand -----------------------------------------------------------

# file -> (conversations, messages read, on the imported branch, skipped by reason, turns per record)
# chatgpt-export: 16 + 5 messages (each mapping has one node without a message); conversation 1:
# a hidden system prompt, 3 questions, 4 browser calls (assistant code to `browser`) and 5 browser
# results (tool), 3 answers; conversation 2: a hidden system prompt, 2 questions, 2 answers.
# chatgpt-tree: 12 messages; the path to current_node: hidden system, hi there, Hello, hi again,
# Hey, tell me a joke, the joke; off it 5 (the "so cool bro" edit and its 3 followers, and the
# first joke, identical to the second: no pair). openwebui: 3 chats of 2. librechat: 6 in a line.
# chatbotui: 4 + 2, the default "You are ChatGPT" prompt left out.
REAL = {
    "chatgpt-export.json": ("chatgpt", 2, 21, 10, {"tool": 9, "hidden": 2}, [6, 4]),
    "chatgpt-tree.json": ("chatgpt", 1, 12, 6, {"other_branch": 5, "hidden": 1}, [6]),
    "openwebui-export.json": ("openwebui", 3, 6, 6, {}, [2, 2, 2]),
    "librechat-export.json": ("librechat", 1, 6, 6, {}, [6]),
    "chatbotui-export.json": ("chatbotui", 2, 6, 6, {}, [4, 2]),
}


@pytest.mark.parametrize("name", list(REAL))
def test_real_exports_give_the_hand_counted_conversations(librechat, tmp_path, name):
    app, convs, read, on_branch, skipped, turns = REAL[name]
    assert chatapps.sniff(librechat / name) == app, f"{name} is detected as {app}"
    rep = run(tmp_path, [librechat / name], regenerations=True)
    (f,) = rep.files
    assert f.nothing == "", f"{name} yields conversations: {f.nothing}"
    assert f.conversations["read"] == convs, f"{name}: conversations read {f.conversations}"
    assert f.conversations["imported"] == convs, f"{name}: every one imported {f.conversations}"
    assert f.rejected == [], f"{name}: none rejected: {f.rejected}"
    assert f.messages["read"] == read, f"{name}: messages read {f.messages}"
    assert f.messages["imported"] == on_branch, f"{name}: messages imported {f.messages}"
    assert dict(f.skipped) == skipped, f"{name}: skipped messages by reason {f.skipped}"
    got = sft(tmp_path / "data/raw")
    assert sorted(len(r["messages"]) for r in got) == sorted(turns), f"{name}: turns {got}"
    assert f.pairs_found == 0, f"{name}: no regeneration pair (identical siblings make none)"
    meta = got[0]["meta"]
    assert meta["app"] == app, f"provenance names the app: {meta}"
    assert meta["conversation_id"], f"and the conversation id: {meta}"
    assert len(meta["message_ids"]) == len(got[0]["messages"]), f"one id per turn: {meta}"
    assert meta["imported_from"].endswith(name), f"and the file: {meta}"


def test_real_chatgpt_tree_takes_the_active_branch(librechat, tmp_path):
    run(tmp_path, [librechat / "chatgpt-tree.json"], regenerations=True)
    (rec,) = sft(tmp_path / "data/raw")
    users = [m["content"] for m in rec["messages"] if m["role"] == "user"]
    assert users == ["hi there", "hi again", "tell me a joke"], f"the path to current_node: {users}"
    taken = [p["taken"][:8] for p in rec["meta"]["branch"]]
    assert taken == ["aaa236a3", "f63b8e17"], f"meta says which path was taken: {taken}"
    assert rec["meta"]["message_ids"][-1] == "f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8", "current_node"
    assert rec["meta"]["models"] == ["text-davinci-002-render-sha"], rec["meta"]


def test_real_chatgpt_browsing_leaves_no_tool_traffic(librechat, tmp_path):
    run(tmp_path, [librechat / "chatgpt-export.json"])
    text = json.dumps([r["messages"] for r in sft(tmp_path / "data/raw")], ensure_ascii=False)
    assert "【" not in text, "citation marks pointing at dropped browser results are removed"
    assert "mclick(" not in text, "browser calls are not turns"
    assert "fuel consumption" in text, "the answers are kept"


def test_real_open_webui_drops_reasoning_and_tool_blocks(librechat, tmp_path):
    run(tmp_path, [librechat / "openwebui-export.json"])
    answers = sorted(r["messages"][-1]["content"] for r in sft(tmp_path / "data/raw"))
    assert answers == ["255", "Hi there!", "The weather in Paris is 18C with rain."], answers


def test_real_exports_imported_twice_add_nothing(librechat, tmp_path):
    files = [librechat / n for n in REAL]
    first = run(tmp_path, files)
    assert first.totals()["imported"] == 9, f"2 + 1 + 3 + 1 + 2 conversations: {first.totals()}"
    again = run(tmp_path, files)
    assert again.totals()["imported"] == 0, f"the same exports add nothing: {again.totals()}"
    assert again.totals()["duplicate"] == 9, f"every conversation a duplicate: {again.totals()}"
    assert again.written == [], "no file written"


def test_real_export_through_the_cli_prints_the_counts(librechat, tmp_path):
    (tmp_path / "data/raw").mkdir(parents=True)
    (tmp_path / "data/feedback").mkdir()
    (tmp_path / "examples").mkdir()
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    r = subprocess.run(
        [sys.executable, "-m", "javis.app.cli", "import", "--no-dvc"]
        + [str(librechat / "chatgpt-export.json"), str(librechat / "librechat-export.json")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "chatgpt-export.json: ChatGPT export" in r.stdout, r.stdout
    assert "conversations: read 2, imported 2, duplicate 0, rejected 0" in r.stdout, r.stdout
    assert "messages: read 21, imported 10, duplicate 0, rejected 0, skipped 11" in r.stdout, (
        r.stdout
    )
    assert "read 3 / imported 3 / duplicate 0 / rejected 0" in r.stdout, r.stdout


def test_progress_bar_on_a_terminal(librechat, tmp_path):
    (tmp_path / "data/raw").mkdir(parents=True)
    (tmp_path / "data/feedback").mkdir()
    (tmp_path / "examples").mkdir()
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    cmd = [sys.executable, "-m", "javis.app.cli", "import", "--no-dvc"]
    env_cmd = ["env", f"PYTHONPATH={ROOT}", *cmd, str(librechat / "chatgpt-export.json")]
    code, out = run_in_terminal(env_cmd, tmp_path, columns=120)
    assert code == 0, out
    assert "import chatgpt-export.json" in out, f"a bar named after the file: {out}"


# --- inline fixtures: ChatGPT zip with regenerations and message_feedback.json -------------------


def gpt_node(nid, parent, children, role=None, text="", **meta):
    """One node of a ChatGPT `mapping` (role None: the root without a message)."""
    message = None
    if role is not None:
        message = {
            "id": nid,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": 1714585000.0,
            "content": {"content_type": "text", "parts": [text]},
            "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
            "recipient": "all",
        }
        message["metadata"].update(meta)
    return {"id": nid, "message": message, "parent": parent, "children": children}


def gpt_conversation(cid: str, mapping: list[dict], current: str, updated: float = 1714586000.0):
    return {
        "title": "서울 날씨 / Seoul weather",
        "create_time": 1714585000.0,
        "update_time": updated,
        "mapping": {n["id"]: n for n in mapping},
        "current_node": current,
        "conversation_id": cid,
        "id": cid,
    }


# A regeneration (a1 then a1b, continued from a1b), an edited question (q2 abandoned for q2b).
INLINE_CHATGPT_CONVERSATION = gpt_conversation(
    "conv-regen",
    [
        gpt_node("root", None, ["sys"]),
        gpt_node("sys", "root", ["q1"], "system", "", is_visually_hidden_from_conversation=True),
        gpt_node(
            "q1", "sys", ["a1", "a1b"], "user", "서울 날씨 어때? What's the weather in Seoul?"
        ),
        gpt_node("a1", "q1", [], "assistant", "I cannot browse."),
        gpt_node("a1b", "q1", ["q2", "q2b"], "assistant", "맑아요, 22°C. Sunny, 22°C."),
        gpt_node("q2", "a1b", ["a2"], "user", "And Busan?"),
        gpt_node("a2", "q2", [], "assistant", "Rainy."),
        gpt_node("q2b", "a1b", ["a3"], "user", "내일은? And tomorrow?"),
        gpt_node("a3", "q2b", [], "assistant", "내일도 맑아요. Sunny tomorrow too."),
    ],
    "a3",
)
INLINE_MESSAGE_FEEDBACK = [
    {
        "id": "fb-1",
        "conversation_id": "conv-regen",
        "message_id": "a3",
        "user_id": "user-x",
        "rating": "thumbsDown",
        "create_time": "2024-05-01T18:00:00.000000+00:00",
        "content": json.dumps({"tags": ["not-factual"], "text": "틀렸어요 / it rained"}),
    },
    {
        "id": "fb-2",
        "conversation_id": "conv-regen",
        "message_id": "a1b",
        "rating": "thumbsUp",
        "create_time": "2024-05-01T18:01:00.000000+00:00",
        "content": "{}",
    },
    {"id": "fb-3", "conversation_id": "conv-gone", "message_id": "x", "rating": "thumbsUp"},
]


def chatgpt_zip(path: Path, conversations: list, feedback_rows: list | None = None) -> Path:
    """An INLINE ChatGPT data export zip (as downloaded: conversations.json at its top)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conversations.json", json.dumps(conversations, ensure_ascii=False))
        z.writestr("chat.html", "<html></html>")
        if feedback_rows is not None:
            z.writestr("message_feedback.json", json.dumps(feedback_rows, ensure_ascii=False))
    return path


def test_chatgpt_zip_regenerations_become_pairs_when_asked(tmp_path):
    export = chatgpt_zip(tmp_path / "chatgpt.zip", [INLINE_CHATGPT_CONVERSATION])
    rep = run(tmp_path, [export], regenerations=True)
    (f,) = rep.files
    assert f.pairs_found == 1, f"one regeneration with a different text: {f.pairs_found}"
    raw = records(tmp_path / "data/raw")
    (conv,) = [r for r in raw if "messages" in r]
    (pair,) = [r for r in raw if "chosen" in r]
    users = [m["content"] for m in conv["messages"] if m["role"] == "user"]
    assert users[-1] == "내일은? And tomorrow?", f"the active branch, not the edit: {users}"
    assert "And Busan?" not in json.dumps(raw), "the abandoned branch is dropped"
    assert pair["chosen"][0]["content"] == "맑아요, 22°C. Sunny, 22°C.", "continued from: chosen"
    assert pair["rejected"][0]["content"] == "I cannot browse.", "the other answer: rejected"
    assert pair["prompt"][-1]["role"] == "user", f"the prompt ends with the question: {pair}"
    assert pair["meta"]["source_kind"] == "regeneration", pair["meta"]
    assert (pair["meta"]["chosen_id"], pair["meta"]["rejected_id"]) == ("a1b", "a1"), pair["meta"]


def test_chatgpt_regenerations_are_off_by_default(tmp_path):
    export = chatgpt_zip(tmp_path / "chatgpt.zip", [INLINE_CHATGPT_CONVERSATION])
    assert params.Import().regenerations_as_preferences is False, "off by default (weak signal)"
    rep = run(tmp_path, [export])
    assert rep.files[0].pairs_found == 1, "the pair is found and counted"
    assert rep.files[0].pairs_kept == 0, "but not imported"
    raw = records(tmp_path / "data/raw")
    assert [("chosen" in r) for r in raw] == [False], f"only the SFT record: {raw}"


def test_chatgpt_message_feedback_becomes_feedback_lines(tmp_path):
    export = chatgpt_zip(
        tmp_path / "chatgpt.zip", [INLINE_CHATGPT_CONVERSATION], INLINE_MESSAGE_FEEDBACK
    )
    rep = run(tmp_path, [export])
    (f,) = rep.files
    assert f.ratings["read"] == 3, f"3 ratings read: {f.ratings}"
    assert f.ratings["imported"] == 2, f"2 on answers the export holds: {f.ratings}"
    assert f.ratings["rejected"] == 1, f"1 on a conversation it does not hold: {f.ratings}"
    assert any("rating_without_answer" in r for _, _, r in f.rejected), f.rejected
    lines = {x["meta"]["message_id"]: x for x in records(tmp_path / "data/feedback")}
    assert sorted(lines) == ["a1b", "a3"], f"one line per rated answer: {sorted(lines)}"
    bad = lines["a3"]
    assert bad["rating"] == "bad", "thumbsDown -> bad"
    assert bad["response"] == "내일도 맑아요. Sunny tomorrow too.", "the rated answer"
    assert bad["messages"][-1]["content"] == "내일은? And tomorrow?", "the conversation before it"
    assert bad["meta"]["tags"] == ["not-factual"], bad["meta"]
    assert bad["meta"]["note"] == "틀렸어요 / it rained", "the note stays a note, no correction"
    assert "correction" not in bad, "a note is not a correction"
    assert bad["created_at"] == "2024-05-01T18:00:00.000000+00:00", "the rating's own time"
    assert lines["a1b"]["rating"] == "good", "thumbsUp -> good"
    assert feedback.make_line(dict(bad)) == bad, "each line passes the feedback line check"


def test_a_zip_without_conversations_json_says_so(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("chat.html", "<html></html>")
    out: list[str] = []
    p = params.load(ROOT / "params.yaml")
    paths = params.Paths(raw=str(tmp_path / "raw"), feedback=str(tmp_path / "fb"))
    code = importers.main(paths, p.persona, p.collect, [str(path)], out=out.append)
    assert code == 1, f"a zip without conversations yields nothing: {out}"
    assert "a zip without conversations.json (it holds: chat.html)" in out[0], out


# --- inline fixtures: Claude, Open WebUI feedback ------------------------------------------------

INLINE_CLAUDE_EXPORT = [
    {
        "uuid": "claude-1",
        "name": "Seoul trip",
        "created_at": "2024-06-01T10:00:00.000000Z",
        "updated_at": "2024-06-01T10:05:00.000000Z",
        "chat_messages": [
            {
                "uuid": "m1",
                "sender": "human",
                "text": "서울 여행 팁? Tips for Seoul?",
                "content": [{"type": "text", "text": "서울 여행 팁? Tips for Seoul?"}],
                "created_at": "2024-06-01T10:00:00Z",
            },
            {
                "uuid": "m2",
                "sender": "assistant",
                "text": "",
                "content": [
                    {"type": "thinking", "thinking": "..."},
                    {"type": "text", "text": "Take the subway. 지하철을 타세요."},
                ],
                "created_at": "2024-06-01T10:00:05Z",
            },
        ],
    },
    {
        "uuid": "claude-2",
        "name": "empty",
        "chat_messages": [{"uuid": "q", "sender": "human", "text": "hi"}],
    },
]


def test_claude_export(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(INLINE_CLAUDE_EXPORT, ensure_ascii=False))
    assert chatapps.sniff(path) == "claude", "chat_messages makes it Claude's"
    rep = run(tmp_path, [path])
    (f,) = rep.files
    assert f.conversations["imported"] == 1, f.conversations
    assert f.conversations["rejected"] == 1, f"a conversation with no answer: {f.rejected}"
    assert "conversation claude-2: no_answer" in f.rejected[0][2], f.rejected
    (rec,) = sft(tmp_path / "data/raw")
    assert [m["role"] for m in rec["messages"]] == ["user", "assistant"], "human is the user"
    assert rec["messages"][1]["content"] == "Take the subway. 지하철을 타세요.", "text blocks"
    assert rec["meta"]["created_at"] == "2024-06-01T10:00:00.000000Z", rec["meta"]


INLINE_SILLYTAVERN_CHAT = [
    {"user_name": "You", "character_name": "Seraphina", "create_date": "2024-5-1@12h00m00s"},
    {"name": "You", "is_user": True, "send_date": "May 1, 2024 12:00pm", "mes": "안녕! Hi!"},
    {
        "name": "Seraphina",
        "is_user": False,
        "send_date": "May 1, 2024 12:01pm",
        "mes": "반가워요. Nice to meet you.",
        "swipes": ["Go away.", "반가워요. Nice to meet you.", "Go away."],
        "swipe_id": 1,
        "extra": {"model": "llama3"},
    },
    {"name": "You", "is_user": True, "is_system": True, "mes": "(hidden note)"},
]


def test_sillytavern_chat_swipes_are_regenerations(tmp_path):
    path = write_jsonl(tmp_path / "Seraphina - 2024-5-1.jsonl", INLINE_SILLYTAVERN_CHAT)
    assert chatapps.sniff(path) == "sillytavern", "a header line with user_name/character_name"
    rep = run(tmp_path, [path], regenerations=True)
    (f,) = rep.files
    assert f.conversations["imported"] == 1, f"{f.conversations} {f.rejected}"
    assert f.pairs_found == 1, "the other swipe, once (identical swipes make one pair)"
    raw = records(tmp_path / "data/raw")
    (pair,) = [r for r in raw if "chosen" in r]
    assert pair["chosen"][0]["content"] == "반가워요. Nice to meet you.", "the shown swipe"
    assert pair["rejected"][0]["content"] == "Go away.", "a swipe not shown"
    (conv,) = sft(tmp_path / "data/raw")
    assert len(conv["messages"]) == 2, f"the hidden (is_system) note is no turn: {conv}"


def owui_chat(cid: str, answer: str, model: str = "llama3") -> dict:
    return {
        "id": cid,
        "title": "인사 / greeting",
        "created_at": 1700000000,
        "updated_at": 1700000100,
        "chat": {
            "history": {
                "currentId": f"{cid}-a",
                "messages": {
                    f"{cid}-q": {
                        "id": f"{cid}-q",
                        "parentId": None,
                        "childrenIds": [f"{cid}-a"],
                        "role": "user",
                        "content": "안녕? Hello?",
                    },
                    f"{cid}-a": {
                        "id": f"{cid}-a",
                        "parentId": f"{cid}-q",
                        "childrenIds": [],
                        "role": "assistant",
                        "content": answer,
                        "model": model,
                    },
                },
            }
        },
    }


def owui_rating(fid: str, chat: dict, rating, comment: str = "") -> dict:
    return {
        "id": fid,
        "user_id": "u1",
        "version": 0,
        "type": "rating",
        "data": {"rating": rating, "model_id": "llama3", "reason": "Accurate", "comment": comment},
        "meta": {"chat_id": chat["id"], "message_id": f"{chat['id']}-a"},
        "snapshot": {"chat": chat},
        "created_at": 1700000200,
        "updated_at": 1700000200,
    }


def test_open_webui_and_librechat_siblings_are_candidates(tmp_path):
    """INLINE: Open WebUI's currentId picks the answer continued from (a second model's answer to
    the same question is its sibling); LibreChat has no pointer: its newest message."""
    chat = owui_chat("c1", "첫 답. First answer.")
    msgs = chat["chat"]["history"]["messages"]
    msgs["c1-b"] = {
        "id": "c1-b",
        "parentId": "c1-q",
        "childrenIds": [],
        "role": "assistant",
        "content": "둘째 답. Second answer.",
        "model": "qwen",
    }
    msgs["c1-q"]["childrenIds"].append("c1-b")
    chat["chat"]["history"]["currentId"] = "c1-b"
    owui = tmp_path / "owui.json"
    owui.write_text(json.dumps([chat], ensure_ascii=False))
    lib = tmp_path / "librechat.json"
    root = "00000000-0000-0000-0000-000000000000"
    lib.write_text(
        json.dumps(
            {
                "conversationId": "lc-1",
                "title": "t",
                "messages": [
                    {
                        "messageId": "q",
                        "parentMessageId": root,
                        "isCreatedByUser": True,
                        "text": "안녕? Hi?",
                        "createdAt": "2024-05-01T10:00:00Z",
                    },
                    {
                        "messageId": "a",
                        "parentMessageId": "q",
                        "isCreatedByUser": False,
                        "text": "Old answer.",
                        "createdAt": "2024-05-01T10:00:01Z",
                        "model": "m",
                    },
                    {
                        "messageId": "b",
                        "parentMessageId": "q",
                        "isCreatedByUser": False,
                        "text": "New answer.",
                        "createdAt": "2024-05-01T10:00:09Z",
                        "model": "m",
                    },
                ],
            }
        )
    )
    run(tmp_path, [owui, lib], regenerations=True)
    pairs = {r["meta"]["app"]: r for r in records(tmp_path / "data/raw") if "chosen" in r}
    assert pairs["openwebui"]["chosen"][0]["content"] == "둘째 답. Second answer.", "currentId"
    assert pairs["openwebui"]["rejected"][0]["content"] == "첫 답. First answer.", "its sibling"
    assert pairs["openwebui"]["meta"]["rejected_model"] == "llama3", pairs["openwebui"]["meta"]
    assert pairs["librechat"]["chosen"][0]["content"] == "New answer.", "the newest message"
    assert pairs["librechat"]["rejected"][0]["content"] == "Old answer.", "the older sibling"


def test_open_webui_feedback_export(tmp_path):
    c1, c2, c3 = (owui_chat(f"c{i}", f"안녕하세요 {i}. Hi {i}.") for i in (1, 2, 3))
    INLINE_OPENWEBUI_FEEDBACK = [
        owui_rating("f1", c1, 1),
        owui_rating("f2", c2, -1, "correction: 안녕하세요! Hello! How can I help?"),
        owui_rating("f3", c3, -1, "too short"),
        owui_rating("f4", c3, 0),
    ]
    path = tmp_path / "feedback-export.json"
    path.write_text(json.dumps(INLINE_OPENWEBUI_FEEDBACK, ensure_ascii=False))
    assert chatapps.sniff(path) == "openwebui-feedback", "data.rating + meta makes it feedback"
    rep = run(tmp_path, [path])
    (f,) = rep.files
    assert f.ratings["imported"] == 3, f.ratings
    assert f.ratings["rejected"] == 1, f"rating 0 is no rating: {f.rejected}"
    lines = {x["meta"]["rating_id"]: x for x in records(tmp_path / "data/feedback")}
    assert lines["f1"]["rating"] == "good", "1 -> good"
    assert lines["f2"]["correction"] == "안녕하세요! Hello! How can I help?", "a marked correction"
    assert lines["f2"]["rating"] == "bad", "a correction is a bad rating"
    assert "correction" not in lines["f3"], "an unmarked comment is not a correction"
    assert lines["f3"]["meta"]["comment"] == "too short", "it is kept in meta"
    assert lines["f1"]["messages"] == [{"role": "user", "content": "안녕? Hello?"}], (
        "the conversation before the rated answer, from the snapshot"
    )
    assert records(tmp_path / "data/raw") == [], "a feedback export adds no conversation"


# --- the rules of a broken tree and bad input ---------------------------------------------------


def rules_export() -> list:
    ok = gpt_conversation(
        "ok",
        [
            gpt_node("r", None, ["q"]),
            gpt_node("q", "r", ["a"], "user", "Hi"),
            gpt_node("a", "q", [], "assistant", "Hello."),
        ],
        "a",
    )
    cycle = gpt_conversation(
        "cycle",
        [gpt_node("q", "a", ["a"], "user", "Hi"), gpt_node("a", "q", ["q"], "assistant", "Yo.")],
        "a",
    )
    missing_current = gpt_conversation(
        "no-current",
        [gpt_node("q", None, ["a"], "user", "Hi"), gpt_node("a", "q", [], "assistant", "Hey.")],
        "zzz",
    )
    missing_parent = gpt_conversation(
        "no-parent",
        [gpt_node("q", "lost", ["a"], "user", "Hi"), gpt_node("a", "q", [], "assistant", "Hi!")],
        "a",
    )
    no_answer = gpt_conversation("no-answer", [gpt_node("q", None, [], "user", "Anyone?")], "q")
    image = gpt_conversation(
        "image",
        [gpt_node("q", None, ["a"], "user", "Draw"), gpt_node("a", "q", [], "assistant", "x")],
        "a",
    )
    image["mapping"]["a"]["message"]["content"] = {"content_type": "system_error", "text": "oops"}
    return [ok, cycle, missing_current, missing_parent, no_answer, image, "not an object"]


def test_every_unconvertible_conversation_is_reported_and_nothing_of_it_imported(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(rules_export()))
    rep = run(tmp_path, [path])
    (f,) = rep.files
    assert f.conversations["imported"] == 1, f"only the good one: {f.rejected}"
    why = {index: reason for index, _, reason in f.rejected}
    assert sorted(why) == [1, 2, 3, 4, 5, 6], f"every other by its index: {why}"
    assert why[1].startswith("conversation cycle: broken_tree (a cycle"), why[1]
    assert "conversation no-current: broken_tree (the current message 'zzz'" in why[2], why[2]
    assert "names the parent lost, which is not in the conversation" in why[3], why[3]
    assert why[4].startswith("conversation no-answer: no_answer"), why[4]
    assert "unsupported_content" in why[5], why[5]
    assert "not_object" in why[6], why[6]
    assert f.messages["rejected"] == 9, f"2 + 2 + 2 + 1 + 2 messages of rejected ones: {f.messages}"
    assert f.messages["imported"] == 2, f"the good one's 2: {f.messages}"
    contents = [m["content"] for r in sft(tmp_path / "data/raw") for m in r["messages"]]
    assert contents == ["Hi", "Hello."], f"no part of a rejected conversation: {contents}"


def test_a_truncated_export_keeps_the_conversations_before_the_break(tmp_path):
    first = rules_export()[0]
    whole = json.dumps([first, first | {"conversation_id": "b", "title": "b"}])
    path = tmp_path / "conversations.json"
    path.write_text(whole[: len(whole) - 40])  # a download cut short inside the second one
    rep = run(tmp_path, [path])
    (f,) = rep.files
    assert f.conversations["imported"] == 1, f"the first conversation: {f.conversations}"
    assert any("invalid_json" in r for _, _, r in f.rejected), (
        f"the break is reported: {f.rejected}"
    )


def test_a_maliciously_deep_export_is_reported(tmp_path):
    """100,000 nested arrays inside a conversation: reported, never parsed into memory (ijson's own
    items() keeps a path prefix per level: quadratic in memory)."""
    path = tmp_path / "conversations.json"
    deep = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(b'[{"mapping": {}, "current_node": "a", "x": ' + deep + b"}]")
    rep = run(tmp_path, [path], fmt="chatgpt")
    (f,) = rep.files
    assert f.conversations["rejected"] == 1, f"the conversation is rejected: {f.conversations}"
    assert "nested deeper than 10000 levels" in f.rejected[0][2], f.rejected
    auto = run(tmp_path, [path])
    assert auto.files[0].nothing, "detected as nothing readable, said so"


# (no integer beyond 64 bits: ijson's C parser stops there, reported as invalid_json with the
# conversations before it imported, as a truncated export is)
WEIRD = [None, [], {}, 0, -1, 1.5, 1e300, "", "x", True, [None], {"a": None}, ["x", 1]]


def test_malformed_fields_never_crash_and_every_conversation_is_counted(librechat, tmp_path):
    """Seeded mutations of the real exports (a field of any other type, anywhere): each
    conversation is imported or rejected with a reason, and the counts add up."""
    import copy
    import random

    rng = random.Random(7)
    sources = {
        "chatgpt": json.loads((librechat / "chatgpt-tree.json").read_text()),
        "openwebui": json.loads((librechat / "openwebui-export.json").read_text()),
    }

    def paths(o, p=()):
        yield p
        items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else []
        for k, v in items:
            yield from paths(v, (*p, k))

    for app, docs in sources.items():
        mutated = []
        for _ in range(150):
            doc = copy.deepcopy(rng.choice(docs))
            for where in rng.sample(list(paths(doc))[1:], 2):
                with contextlib.suppress(IndexError, KeyError, TypeError):  # an earlier change
                    at = doc
                    for k in where[:-1]:
                        at = at[k]
                    at[where[-1]] = rng.choice(WEIRD)
            mutated.append(doc)
        path = tmp_path / f"{app}.json"
        path.write_text(json.dumps(mutated))
        rep = run(tmp_path / app, [path], fmt=app)
        (f,) = rep.files
        c = f.conversations
        assert c["read"] == 150, f"{app}: every conversation read: {c} {f.rejected[-2:]}"
        assert c["imported"] + c["duplicate"] + c["rejected"] == 150, f"{app}: all counted {c}"
        assert all(reason.split(": ", 1)[1] for _, _, reason in f.rejected), "each says why"


def test_format_by_name(librechat, tmp_path):
    rep = run(tmp_path, [librechat / "openwebui-export.json"], fmt="openwebui")
    assert rep.files[0].conversations["imported"] == 3, rep.files[0].conversations
    rep = run(tmp_path, [librechat / "chatgpt-tree.json"], fmt="claude")
    assert rep.files[0].conversations["rejected"] == 1, "a ChatGPT file read as Claude's: rejected"
    assert "bad_export" in rep.files[0].rejected[0][2], rep.files[0].rejected


# --- a conversation that grew ------------------------------------------------------------------


def grown(n: int, updated: float) -> dict:
    nodes = [gpt_node("r", None, ["q0"])]
    for i in range(n):
        parent = "r" if i == 0 else f"a{i - 1}"
        nodes.append(gpt_node(f"q{i}", parent, [f"a{i}"], "user", f"질문 {i}? Question {i}?"))
        nxt = [f"q{i + 1}"] if i + 1 < n else []
        nodes.append(gpt_node(f"a{i}", f"q{i}", nxt, "assistant", f"답 {i}. Answer {i}."))
    return gpt_conversation("conv-grows", nodes, f"a{n - 1}", updated)


def test_a_conversation_that_grew_replaces_its_earlier_record(tmp_path):
    v1, v2, v0 = tmp_path / "v1.json", tmp_path / "v2.json", tmp_path / "v0.json"
    v1.write_text(json.dumps([grown(1, 1000.0)], ensure_ascii=False))
    v2.write_text(json.dumps([grown(3, 2000.0)], ensure_ascii=False))
    v0.write_text(json.dumps([grown(2, 500.0) | {"title": "older"}], ensure_ascii=False))
    run(tmp_path, [v1])
    rep = run(tmp_path, [v2])
    assert rep.replaced == 1, f"the earlier record is taken out: {rep.replaced}"
    kept = sft(tmp_path / "data/raw")
    assert [len(r["messages"]) for r in kept] == [6], f"only the grown conversation: {kept}"
    again = run(tmp_path, [v1])
    assert again.files[0].conversations["duplicate"] == 1, "the old export again: a duplicate"
    older = run(tmp_path, [v0])
    assert older.files[0].conversations["older"] == 1, "an export older than the imported one"
    assert [len(r["messages"]) for r in sft(tmp_path / "data/raw")] == [6], "changes nothing"
    index = read_jsonl(tmp_path / "data/raw" / importers.INDEX_FILE)
    assert sum(1 for e in index if "removed" in e) == 1, f"the removal is in the index: {index}"


def test_a_changed_rating_supersedes_the_earlier_line(tmp_path):
    chat = owui_chat("c1", "Hi.")
    first, changed, back = tmp_path / "f1.json", tmp_path / "f2.json", tmp_path / "f3.json"
    first.write_text(json.dumps([owui_rating("f1", chat, 1)]))
    changed.write_text(json.dumps([owui_rating("f1", chat, -1) | {"updated_at": 1700000300}]))
    back.write_text(json.dumps([owui_rating("f1", chat, 1, "ok") | {"updated_at": 1700000400}]))
    for path in (first, changed, back):
        run(tmp_path, [path])
    lines = sorted(records(tmp_path / "data/feedback"), key=lambda x: x["created_at"])
    assert len(lines) == 3, f"feedback files are append-only: {lines}"
    assert lines[1]["replaces"] == lines[0]["id"], "the changed rating replaces the first"
    assert lines[2]["replaces"] == lines[1]["id"], "and the next change the latest one"
    (current,) = feedback.read_feedback(tmp_path / "data/feedback")
    assert current["rating"] == "good", f"the latest rating counts: {current}"
    assert current["meta"]["comment"] == "ok", f"the latest line: {current}"


# --- javis serve's own captures ----------------------------------------------------------------


def test_open_webui_chats_served_by_javis_are_duplicates_of_its_captures(tmp_path):
    """Open WebUI talking to `javis serve`: serve captured every answer into data/raw and its
    ratings into data/feedback; the Open WebUI export of those chats adds nothing."""
    raw, fb = tmp_path / "data/raw", tmp_path / "data/feedback"
    answer = "안녕하세요! 저는 JAVIS예요. Hi, I'm JAVIS."
    served = {
        "messages": [
            {"role": "system", "content": "You are JAVIS."},
            {"role": "user", "content": "안녕? Hello?"},
        ],
        "answer": answer,
        "version": "javis-v0.2",
        "completion_id": "chatcmpl-1",
        "time": "2026-11-30T10:00:00Z",
    }
    write_jsonl(raw / "served-2026-11-30.jsonl", [served])
    fb.mkdir(parents=True)
    feedback.append_feedback(
        fb,
        {
            "model_version": "javis-v0.2",
            "messages": [{"role": "user", "content": "안녕? Hello?"}],
            "response": answer,
            "rating": "good",
        },
    )
    chat = owui_chat("c1", answer, model="javis")
    chats, ratings = tmp_path / "chats.json", tmp_path / "ratings.json"
    chats.write_text(json.dumps([chat, owui_chat("c2", "Other.")], ensure_ascii=False))
    ratings.write_text(json.dumps([owui_rating("f1", chat, 1)], ensure_ascii=False))
    rep = run(tmp_path, [chats, ratings])
    conv, rate = rep.files
    assert conv.conversations["served"] == 1, f"the served chat is dropped: {conv.conversations}"
    assert conv.conversations["imported"] == 1, "the other chat is imported"
    assert rate.ratings["served"] == 1, f"its rating duplicates serve's: {rate.ratings}"
    assert [r["messages"][-1]["content"] for r in sft(raw)] == ["Other."], sft(raw)
    assert len(records(fb)) == 1, "only serve's own feedback line"


# --- ratings through a real dvc repro ----------------------------------------------------------


def test_ratings_become_training_records_in_dvc_repro(tmp_path):
    repo = copy_project(tmp_path / "repo")
    export = chatgpt_zip(
        tmp_path / "chatgpt.zip", [INLINE_CHATGPT_CONVERSATION], INLINE_MESSAGE_FEEDBACK
    )
    out = sh(repo, sys.executable, "-m", "javis.app.cli", "import", str(export), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ratings: read 3, imported 2, duplicate 0, rejected 1" in out.stdout, out.stdout
    status = sh(repo, sys.executable, "-m", "dvc", "status", "data/raw.dvc", "data/feedback.dvc")
    assert "changed" not in status.stdout, f"both folders re-added to DVC: {status.stdout}"
    sh(repo, sys.executable, "-m", "dvc", "repro", "collect")
    kto = read_jsonl(repo / "data/collected/kto.jsonl")
    rated = sorted((r["completion"][0]["content"], r["label"]) for r in kto)
    assert ("내일도 맑아요. Sunny tomorrow too.", False) in rated, (
        f"👎 -> a bad KTO record: {rated}"
    )
    assert ("맑아요, 22°C. Sunny, 22°C.", True) in rated, f"👍 -> a good KTO record: {rated}"
    collected = read_jsonl(repo / "data/collected/sft.jsonl")
    last = [r["messages"][-1]["content"] for r in collected]
    assert last.count("맑아요, 22°C. Sunny, 22°C.") == 2, (
        f"the 👍 answer and the conversation, cut before the 👎 answer by collect: {last[:3]}"
    )
    text = json.dumps([r["messages"] for r in collected], ensure_ascii=False)
    assert "내일도 맑아요" not in text, "the answer rated 👎 is not trained on as SFT"
    sh(repo, sys.executable, "-m", "dvc", "repro", "split")  # clean, dedupe, split: training data
    training = json.dumps(
        [
            r
            for n in ("train", "val", "test")
            for r in read_jsonl(repo / f"data/training/current/{n}.jsonl")
        ],
        ensure_ascii=False,
    )
    assert "맑아요, 22°C. Sunny, 22°C." in training, "the rated conversation reaches training data"
    assert "서울 날씨 어때?" in training, "with its question"


# --- a 200 MB export, streamed -----------------------------------------------------------------

STREAM = r"""
import json, resource, sys, time
from pathlib import Path
import ijson
from javis.data import importers
assert ijson.backend == "yajl2_c", f"ijson's C backend, got {ijson.backend}"
def peak_mb():
    # VmHWM: this process's own peak. ru_maxrss would also count the forked parent's RSS
    # (Linux keeps it across exec), i.e. pytest's, when that was larger.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
tmp = Path(sys.argv[1])
start = time.monotonic()
rep = importers.import_files([tmp / "big.json"], tmp / "data/raw", raw_folder=tmp / "data/raw",
                             feedback_folder=tmp / "data/feedback")
f = rep.files[0]
print(json.dumps({"backend": ijson.backend, "imported": f.conversations["imported"],
                  "messages": f.messages["imported"], "rejected": len(f.rejected),
                  "peak_mb": peak_mb(),
                  "seconds": time.monotonic() - start}))
"""


def write_big_export(path: Path, target_bytes: int) -> int:
    """A synthetic ChatGPT conversations.json of about `target_bytes`; the conversations written."""
    pad = "x" * 4000
    n = 0
    with open(path, "w") as f:
        f.write("[")
        while f.tell() < target_bytes:
            nodes = [gpt_node("r", None, ["q0"])]
            for i in range(5):
                parent = "r" if i == 0 else f"a{i - 1}"
                nodes.append(gpt_node(f"q{i}", parent, [f"a{i}"], "user", f"{n} q{i} {pad}"))
                kids = [f"q{i + 1}"] if i < 4 else []
                nodes.append(gpt_node(f"a{i}", f"q{i}", kids, "assistant", f"{n} a{i} {pad}"))
            f.write(("," if n else "") + json.dumps(gpt_conversation(f"c{n}", nodes, "a4")))
            n += 1
        f.write("]")
    return n


def test_a_200_mb_export_streams_in_bounded_memory(tmp_path):
    n = write_big_export(tmp_path / "big.json", 200_000_000)
    r = subprocess.run(
        [sys.executable, "-c", STREAM, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"\n200 MB export: {got}")
    assert got["backend"] == "yajl2_c", f"ijson's C backend: {got}"
    assert got["imported"] == n, f"every conversation imported: {got}"
    assert got["messages"] == 10 * n, f"10 messages each: {got}"
    assert got["peak_mb"] <= 300, f"peak RSS of the import process: {got}"
    assert got["seconds"] <= 60, f"the issue's bound: {got}"


def test_ijson_uses_its_c_backend():
    import ijson

    assert ijson.backend == "yajl2_c", f"the C backend streams exports fast: {ijson.backend}"


def test_inline_zip_is_read_from_memory_in_order():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x/conversations.json", "[]")
        z.writestr("conversations.json", "[]")
    assert chatapps.member(zipfile.ZipFile(buf).namelist(), "conversations.json") == (
        "conversations.json"
    ), "the top-level conversations.json is taken"
