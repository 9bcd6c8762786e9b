"""A generator of malformed input: the files a user's export, a crashed writer or a bad copy leave.

`cases()` returns one `Case` per class of malformed input. A case is one file (its exact bytes)
for `data/raw/` or `data/feedback/`, and what should become of each of its lines:

    "collect:bad_json"       rejected by collect with that reason key
    "collect:"               rejected by collect (the reason depends on the bytes: binary noise)
    "clean:invalid_role"     collected, then rejected by clean with that reason key
    "dedupe:exact_duplicate" rejected by dedupe
    "kept"                   every record it yields survives clean and dedupe

Lines are numbered as the stages number them (1-based, `\\n`-separated; blank lines are not
records). A case with `skipped=True` is a file collect does not read (not .jsonl): it must be named
in metrics/collect.json `skipped_files`, never dropped silently.

Every case's data is deterministic (no randomness without a fixed seed), so a failing test shows
the same bytes again. `python tests/malformed.py OUT` writes the files for a look by hand.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@dataclass(frozen=True)
class Case:
    """One class of malformed input: a file and the fate of each of its lines."""

    name: str
    folder: str  # raw | feedback
    data: bytes
    expect: dict[int, str]  # line number -> fate (see the module docstring)
    filename: str = ""
    skipped: bool = False  # not a .jsonl file: collect names it in skipped_files
    note: str = ""

    @property
    def file(self) -> str:
        return self.filename or f"{self.name}.jsonl"


@dataclass
class _Lines:
    """Builds a file line by line, recording the expected fate of each."""

    parts: list[bytes] = field(default_factory=list)
    expect: dict[int, str] = field(default_factory=dict)
    eol: bytes = b"\n"

    def add(self, line: bytes | str | dict, fate: str | None) -> _Lines:
        if isinstance(line, dict):
            line = json.dumps(line, ensure_ascii=False)
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.parts.append(line)
        if fate is not None:
            self.expect[len(self.parts)] = fate
        return self

    def data(self, final_eol: bool = True) -> bytes:
        return self.eol.join(self.parts) + (self.eol if final_eol else b"")


def chat(user: str, answer: str, **extra: object) -> dict:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        **extra,
    }


def good(i: int, topic: str = "") -> dict:
    """A valid, distinct conversation that passes every quality rule."""
    return chat(
        f"{topic}질문 {i}: 내일 오전 {i % 12 + 1}시 회의 준비물이 뭐였지?",
        f"노트북과 {i}번 회의 자료, 그리고 지난주 회의록을 챙기시면 됩니다.",
    )


def _nested(depth: int, leaf: object = "x") -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


def cases() -> list[Case]:
    out: list[Case] = []

    def case(
        name: str,
        lines: _Lines,
        folder: str = "raw",
        note: str = "",
        final_eol: bool = True,
        filename: str = "",
    ) -> None:
        out.append(
            Case(
                name,
                folder,
                lines.data(final_eol),
                dict(lines.expect),
                filename=filename,
                note=note,
            )
        )

    # 1. Not JSON at all, or almost JSON.
    case(
        "not_json",
        _Lines()
        .add("this is not json, just a sentence someone pasted", "collect:bad_json")
        .add('{messages: [{role: "user", content: "hi"}]}', "collect:bad_json")
        .add(
            '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],}',
            "collect:bad_json",
        )
        .add("{'messages': [{'role': 'user', 'content': 'python repr'}]}", "collect:bad_json")
        .add(good(1), "kept"),
    )

    # 2. A truncated last line (a writer killed mid-line, no final newline).
    full = json.dumps(good(2, "잘린 "), ensure_ascii=False)
    case(
        "truncated_line",
        _Lines().add(good(3, "잘린 "), "kept").add(full[: len(full) // 2], "collect:bad_json"),
        final_eol=False,
    )

    # 3. Invalid UTF-8: a Latin-1 export, a stray continuation byte, an overlong encoding, a cut multi-byte char.
    case(
        "invalid_utf8",
        _Lines()
        .add(
            '{"messages": [{"role": "user", "content": "caf\xe9"}]}'.encode("latin-1"),
            "collect:not_utf8",
        )
        .add(b'{"messages": [{"role": "user", "content": "\x80\x80"}]}', "collect:not_utf8")
        .add(b'{"messages": [{"role": "user", "content": "\xc0\xaf"}]}', "collect:not_utf8")
        .add(
            '{"messages": [{"role": "user", "content": "한'.encode()[:-1] + b'"}]}',
            "collect:not_utf8",
        )
        .add(good(4, "utf8 "), "kept"),
    )

    # 4. Byte order marks: at the start of the file (tolerated), in the middle (a concatenated file).
    lines = _Lines().add(b"\xef\xbb\xbf" + json.dumps(good(5, "bom ")).encode(), "kept")
    lines.add(b"\xef\xbb\xbf" + json.dumps(good(6, "bom ")).encode(), "collect:bad_json")
    case("bom", lines)

    # 5. A whole file in UTF-16 (Windows Notepad's "Unicode").
    text = (
        json.dumps(good(7, "utf16 "), ensure_ascii=False)
        + "\n"
        + json.dumps(good(8, "utf16 "))
        + "\n"
    )
    data = b"\xff\xfe" + text.encode("utf-16-le")
    out.append(Case("utf16_file", "raw", data, _every_line(data, "collect:")))

    # 6. Wrong types in every field.
    case(
        "wrong_types",
        _Lines()
        .add({"messages": "user: hi / assistant: hello"}, "collect:no_messages")
        .add({"messages": {"role": "user", "content": "hi"}}, "collect:no_messages")
        .add({"messages": ["hi", "hello"]}, "collect:bad_messages")
        .add(
            {
                "messages": [
                    {"role": "user", "content": 42},
                    {"role": "assistant", "content": "42입니다."},
                ]
            },
            "clean:bad_content",
        )
        .add(
            {"messages": [{"role": 1, "content": "hi"}, {"role": "assistant", "content": "hello"}]},
            "clean:invalid_role",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": ["part", "list"]},
                    {"role": "assistant", "content": "ok"},
                ]
            },
            "clean:bad_content",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": {"text": "hi"}},
                    {"role": "assistant", "content": "ok"},
                ]
            },
            "clean:bad_content",
        )
        .add(chat("Weather in Seoul?", "Let me check.", tools="get_weather"), "clean:bad_tools")
        .add(
            {
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": None, "tool_calls": 5},
                ],
                "tools": TOOLS,
            },
            "clean:bad_tool_call",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"function": "get_weather"}],
                    },
                    {"role": "tool", "content": "{}"},
                    {"role": "assistant", "content": "Sunny."},
                ],
                "tools": TOOLS,
            },
            "clean:bad_tool_call",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": None, "tool_calls": "get_weather(Seoul)"},
                ],
                "tools": TOOLS,
            },
            "clean:bad_tool_call",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": "hi", "tool_calls": True},
                    {"role": "assistant", "content": "hello there"},
                ]
            },
            "clean:bad_tool_call",
        ),
    )

    # 7. null where text should be.
    case(
        "null_content",
        _Lines()
        .add({"messages": None}, "collect:no_messages")
        .add(
            {
                "messages": [
                    {"role": "user", "content": None},
                    {"role": "assistant", "content": "ok"},
                ]
            },
            "clean:empty_content",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": None},
                ]
            },
            "clean:empty_content",
        )
        .add({"messages": [None, {"role": "assistant", "content": "ok"}]}, "collect:bad_messages")
        .add(
            {
                "messages": [
                    {"role": "user", "content": "   \n\t "},
                    {"role": "assistant", "content": "ok"},
                ]
            },
            "clean:empty_content",
        ),
    )

    # 8. Roles nobody defined.
    case(
        "unknown_role",
        _Lines()
        .add(
            {
                "messages": [
                    {"role": "bot", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            "clean:invalid_role",
        )
        .add(
            {
                "messages": [
                    {"role": "USER", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            "clean:invalid_role",
        )
        .add(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "model", "content": "hello"},
                ]
            },
            "clean:invalid_role",
        )
        .add(
            {
                "messages": [
                    {"role": "", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            "clean:invalid_role",
        ),
    )

    # 9. A message without a role.
    case(
        "role_missing",
        _Lines()
        .add(
            {"messages": [{"content": "hi"}, {"role": "assistant", "content": "hello"}]},
            "clean:invalid_role",
        )
        .add(
            {"messages": [{"role": "user", "content": "hi"}, {"content": "hello"}]},
            "clean:invalid_role",
        )
        .add({"messages": [{}, {}]}, "clean:invalid_role"),
    )

    # 10. Tool calls whose arguments do not parse, or that call what is not declared.
    def call(args: object, name: str = "get_weather", city: str = "서울") -> dict:
        return {
            "messages": [
                {"role": "user", "content": f"{city} 날씨 어때?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": name, "arguments": args},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "clear"}'},
                {"role": "assistant", "content": f"{city}은 맑아요."},
            ],
            "tools": TOOLS,
        }

    case(
        "broken_tool_arguments",
        _Lines()
        .add(call('{"city": "Seoul"'), "clean:bad_tool_call")
        .add(call("{city: Seoul}"), "clean:bad_tool_call")
        .add(call("[1, 2]"), "clean:bad_tool_call")
        .add(call('"Seoul"'), "clean:bad_tool_call")
        .add(call({"city": "Seoul"}, name="launch_rocket"), "clean:bad_tool_call")
        .add(call(""), "kept")  # empty arguments: a call without parameters
        .add(
            call({"city": "Busan"}, city="지금 부산 해운대 쪽"), "kept"
        )  # arguments as an object: accepted
        .add(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "x", "tool_calls": []},
                ]
            },
            "clean:bad_tool_call",
        ),
    )

    # 11. A tool result nobody asked for.
    case(
        "tool_result_without_call",
        _Lines()
        .add(
            {
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {"role": "tool", "content": '{"sky": "clear"}'},
                    {"role": "assistant", "content": "It is clear."},
                ],
                "tools": TOOLS,
            },
            "clean:orphan_tool_result",
        )
        .add(
            {
                "messages": [
                    {"role": "tool", "content": "{}"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            "clean:orphan_tool_result",
        ),
    )

    # 12. One 10 MB message (a pasted log); and one just under the line limit (too long to train on).
    case(
        "huge_message",
        _Lines()
        .add(
            chat("이 로그 좀 봐줘: " + "ERROR connection reset " * 450_000, "확인했어요."),
            "collect:too_large",
        )
        .add(chat("Say lorem a lot.", "lorem " * 150_000), "clean:quality_length")
        .add(good(9, "huge "), "kept"),
    )

    # 13. Deep nesting: beyond the parser (10k lists), beyond what can be written back (300), and
    # shallow enough to write but still the wrong shape (100).
    case(
        "deep_nesting",
        _Lines()
        .add('{"messages": ' + _nested(10_000) + "}", "collect:bad_json")
        .add(
            '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}], '
            '"tools": ' + _nested(300) + "}",
            "collect:too_deep",
        )
        .add(
            '{"id": ' + _nested(600) + ', "messages": [{"role": "user", "content": "hi"}]}',
            "collect:too_deep",
        )
        .add(
            '{"messages": [{"role": "user", "content": ' + _nested(100) + "}, "
            '{"role": "assistant", "content": "ok"}]}',
            "clean:bad_content",
        )
        .add(good(10, "deep "), "kept"),
    )

    # 14. Duplicate ids (the same id on different conversations), the same conversation twice, and
    # a duplicated key inside one object (the last value wins, as in every JSON parser we use).
    same = good(11, "dup ")
    case(
        "duplicate_ids",
        _Lines()
        .add({"id": "conv-1", **good(12, "dup ")}, "kept")
        .add({"id": "conv-1", **good(13, "dup ")}, "kept")
        .add({"id": "a", **same}, "kept")
        .add({"id": "b", **same}, "dedupe:exact_duplicate")
        .add(
            '{"messages": "not a list", "messages": '
            + json.dumps(good(14, "dup ")["messages"])
            + "}",
            "kept",
        ),
    )

    # 15. Empty files: zero bytes, and only blank lines. Nothing to read, nothing to count.
    out.append(Case("empty_file", "raw", b"", {}))
    out.append(Case("blank_lines_only", "raw", b"\n\n   \n\t\n\r\n", {}))

    # 16. Windows line ends; a lone CR between two objects (an old Mac export).
    crlf = _Lines(eol=b"\r\n").add(good(15, "crlf "), "kept").add(good(16, "crlf "), "kept")
    case("crlf", crlf)
    case(
        "lone_cr",
        _Lines()
        .add(json.dumps(good(17, "cr ")) + "\r" + json.dumps(good(18, "cr ")), "collect:bad_json")
        .add(good(19, "cr "), "kept"),
    )

    # 17. Several outside formats mixed in one raw file (bring them in with `javis import`).
    case(
        "mixed_formats",
        _Lines()
        .add(good(20, "mixed "), "kept")
        .add(
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "gpt", "value": "hello"},
                ]
            },
            "collect:no_messages",
        )
        .add(
            {"instruction": "Translate to Korean", "input": "thank you", "output": "감사합니다"},
            "collect:no_messages",
        )
        .add(
            {"prompt": "코드 리뷰해줘", "chosen": "좋아요, 봅시다.", "rejected": "싫어요."},
            "collect:no_messages",
        )
        .add(
            {
                "prompt": [{"role": "user", "content": "Is the meeting at 3?"}],
                "completion": [{"role": "assistant", "content": "Yes, at 3 pm in room B."}],
                "label": True,
            },
            "kept",
        )
        .add(
            {
                "prompt": [{"role": "user", "content": "Is lunch at noon?"}],
                "completion": [{"role": "assistant", "content": "Yes."}],
                "label": "yes",
            },
            "collect:bad_label",
        ),
    )

    # 18. NaN and infinities (Python's json writes them; they are not JSON).
    case(
        "nan_infinity",
        _Lines()
        .add('{"messages": [{"role": "user", "content": "hi"}], "score": NaN}', "collect:bad_json")
        .add(
            '{"messages": [{"role": "user", "content": "hi"}], "score": Infinity}',
            "collect:bad_json",
        )
        .add(
            '{"messages": [{"role": "user", "content": "hi"}], "score": -Infinity}',
            "collect:bad_json",
        )
        .add(
            '{"messages": [{"role": "user", "content": "hi"}], "score": 1e400}', "collect:bad_json"
        ),
    )

    # 19. Integers beyond 64 bits, where ids and scores go.
    case(
        "huge_integers",
        _Lines()
        .add({"id": 10**30, **good(21, "int ")}, "kept")
        .add({"id": -(10**25), **good(22, "int ")}, "kept")
        .add(
            {
                "messages": [
                    {"role": "user", "content": 2**70},
                    {"role": "assistant", "content": "big"},
                ]
            },
            "clean:bad_content",
        ),
    )

    # 20. JSON that is not an object.
    case(
        "non_object_json",
        _Lines()
        .add("[]", "collect:not_object")
        .add('"just a string"', "collect:not_object")
        .add("42", "collect:not_object")
        .add("null", "collect:not_object")
        .add("true", "collect:not_object")
        .add("[" + json.dumps(good(23, "arr ")) + "]", "collect:not_object"),
    )

    # 21. No messages at all; an empty list.
    case(
        "missing_messages",
        _Lines()
        .add({}, "collect:no_messages")
        .add({"id": "x", "text": "hello"}, "collect:no_messages")
        .add({"message": good(24)["messages"]}, "collect:no_messages"),
    )
    case(
        "empty_messages",
        _Lines()
        .add({"messages": []}, "collect:no_messages")
        .add({"messages": [], "tools": TOOLS}, "collect:no_messages"),
    )

    # 22. Turns in an impossible order.
    case(
        "bad_order",
        _Lines()
        .add(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "system", "content": "be nice"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
            "clean:bad_order",
        )
        .add(
            {
                "messages": [
                    {"role": "assistant", "content": "I speak first."},
                    {"role": "user", "content": "ok"},
                    {"role": "assistant", "content": "fine"},
                ]
            },
            "clean:bad_order",
        )
        .add({"messages": [{"role": "user", "content": "Hello? Anyone?"}]}, "clean:no_answer")
        .add(
            {
                "messages": [
                    {"role": "system", "content": "You are JAVIS."},
                    {"role": "assistant", "content": "hi"},
                ]
            },
            "clean:bad_order",
        ),
    )

    # 23. Surrogates: a lone one is not text (rejected); an escaped pair is an emoji (fine).
    case(
        "surrogates",
        _Lines()
        .add(
            '{"messages": [{"role": "user", "content": "\\ud800 broken"}, '
            '{"role": "assistant", "content": "ok"}]}',
            "collect:bad_json",
        )
        .add('{"messages": [{"role": "user", "content": "\\udc00"}]}', "collect:bad_json")
        .add(
            '{"messages": [{"role": "user", "content": "오늘 기분 \\ud83d\\ude00 좋아요, 산책 갈까?"}, '
            '{"role": "assistant", "content": "좋아요, 가볍게 30분 걸어 보세요."}]}',
            "kept",
        ),
    )

    # 24. Control characters: raw ones are invalid JSON; escaped ones are text.
    case(
        "control_chars",
        _Lines()
        .add(b'{"messages": [{"role": "user", "content": "tab\x01here"}]}', "collect:bad_json")
        .add(b'{"messages": [{"role": "user", "content": "nul\x00byte"}]}', "collect:bad_json")
        .add(
            chat("What does \u0000 mean in C strings?", "It marks the end of the string (NUL)."),
            "kept",
        ),
    )

    # 25. Feedback lines with every field wrong.
    fb = {
        "messages": [{"role": "user", "content": "부산 날씨는?"}],
        "response": "부산은 흐려요.",
        "rating": "good",
    }
    case(
        "feedback_malformed",
        _Lines()
        .add(fb, "kept")
        .add({**fb, "rating": "meh"}, "collect:bad_rating")
        .add({**fb, "rating": None, "score": 0}, "collect:bad_score")
        .add({**fb, "rating": None, "score": True}, "collect:bad_score")
        .add({**fb, "rating": None, "score": 4.5}, "collect:bad_score")
        .add({k: v for k, v in fb.items() if k != "response"}, "collect:no_response")
        .add({**fb, "response": "   "}, "collect:no_response")
        .add({**fb, "rating": "bad", "correction": ""}, "collect:bad_correction")
        .add({**fb, "rating": "bad", "correction": ["not", "text"]}, "collect:bad_correction")
        .add({k: v for k, v in fb.items() if k != "messages"}, "collect:no_messages")
        .add({**fb, "response": {"text": "x"}}, "collect:no_response"),
        folder="feedback",
    )

    # 26. The brief's feedback files, malformed: nothing rated in them.
    case(
        "brief_bad_responses",
        _Lines()
        .add({"messages": [{"role": "user", "content": "hi"}]}, "collect:no_answer")
        .add({"messages": []}, "collect:no_messages")
        .add(
            {
                "messages": [
                    {"role": "user", "content": "환율 알려줘"},
                    {"role": "assistant", "content": "1달러에 100원이에요."},
                ]
            },
            "kept",
        ),
        folder="feedback",
        filename="bad_responses.jsonl",
    )

    # 27. Preference and KTO records with broken parts.
    case(
        "preference_kto_malformed",
        _Lines()
        .add(
            {
                "prompt": [{"role": "user", "content": "hi"}],
                "chosen": [],
                "rejected": [{"role": "assistant", "content": "go away"}],
            },
            "collect:no_messages",
        )
        .add(
            {
                "prompt": [{"role": "user", "content": "Review my code"}],
                "chosen": [{"role": "user", "content": "wrong role"}],
                "rejected": [{"role": "assistant", "content": "no"}],
            },
            "clean:bad_role",
        )
        .add(
            {
                "prompt": [{"role": "user", "content": "Review my code"}],
                "completion": "looks good",
                "label": True,
            },
            "collect:no_messages",
        )
        .add(
            {
                "prompt": [{"role": "user", "content": "Is it raining?"}],
                "completion": [{"role": "assistant", "content": "No, it is sunny."}],
                "label": 1,
            },
            "collect:bad_label",
        ),
    )

    # 28. Text that is hard on regexes: long runs of fences, braces, capitals, "!" and anchors of
    # the redaction rules; each answer is long enough to fail the length rule, so it is rejected
    # there, after every scorer and redaction rule has seen it.
    patho = [
        "`" * 20_001,
        "{{" * 10_000,
        "A " * 10_000,
        "!" * 20_000,
        "@" * 20_000,
        "sk-" * 7_000,
        "eyJ" * 7_000,
        "0" * 20_000,
        "password is " * 2_000,
        "-----BEGIN RSA PRIVATE KEY-----" * 2_000,
    ]
    lines = _Lines()
    for i, text in enumerate(patho):
        lines.add(chat(f"Pathological input {i}", text), "clean:quality_length")
    case("pathological_text", lines)

    # 29. Unicode that is valid but unusual: right-to-left marks, zero-width joiners, jamo, full-width.
    case(
        "unusual_unicode",
        _Lines()
        .add(
            chat(
                "\u202eevil reversed text\u202c 읽을 수 있어?",
                "네, 방향 표시 문자가 섞여 있지만 읽을 수 있어요.",
            ),
            "kept",
        )
        .add(
            chat("ＦＵＬＬ　ＷＩＤＴＨ 글자는?", "전각 문자예요. 보통 NFKC로 바꿔서 비교해요."),
            "kept",
        )
        .add(chat("ᄒᆞᆫ글 옛 자모도 돼?", "네, 조합형 자모도 그대로 저장돼요."), "kept")
        .add(chat("👩‍👩‍👧‍👦 가족 이모지 하나야?", "네, 제로폭 결합자로 묶인 한 글자예요."), "kept"),
    )

    # 30. Random binary noise (a wrong file copied in), seeded.
    rng = random.Random(8)
    noise = bytes(rng.randrange(256) for _ in range(4096))
    out.append(Case("binary_noise", "raw", noise, _every_line(noise, "collect:")))

    # 31. Not JSONL: a pretty-printed JSON array and a text file. collect reads only .jsonl and
    # names the others in its metrics (bring them in with `javis import`).
    array = json.dumps(
        [good(25, "array "), {"messages": "broken"}, _nested_obj(300)], indent=2
    ).encode()
    out.append(Case("json_array", "raw", array, {}, filename="export.json", skipped=True))
    out.append(
        Case(
            "text_file",
            "raw",
            b"user: hi\nassistant: hello\n",
            {},
            filename="notes.txt",
            skipped=True,
        )
    )
    return out


def _every_line(data: bytes, fate: str) -> dict[int, str]:
    """The same fate for every non-blank line of `data`, numbered as the stages number lines."""
    return {n: fate for n, chunk in enumerate(data.split(b"\n"), 1) if chunk.strip()}


def _nested_obj(depth: int) -> object:
    """A record whose `tools` nest `depth` lists deep (parses, cannot be written back by orjson)."""
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return {**good(26, "array "), "tools": value}


def write(cases_: list[Case], root: Path) -> dict[str, Path]:
    """Write each case's file under `root/data/<folder>/`; returns name -> path."""
    paths = {}
    for c in cases_:
        path = root / "data" / c.folder / c.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(c.data)
        paths[c.name] = path
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "malformed-out")
    for name, path in write(cases(), target).items():
        print(f"{name:28s} {path} ({path.stat().st_size} bytes)")
